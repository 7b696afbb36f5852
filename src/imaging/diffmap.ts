/**
 * Differential-intensity maps of microscope frames (SPEC §2, §6) and the per-particle reductions the
 * analysis needs, as plain-TS float32 references: one pure function per operation. The GPU kernels in
 * src/kernels/ (diffMap.ts, labelReduce.ts) implement the same definitions and are tested against
 * these functions element-wise.
 *
 * Conventions (image coordinates as ImageJ: x = column to the right, y = row downward, pixel (row,
 * col) at index row·width + col):
 * - ΔI/I0 = (I_t − I_ref)/I_ref per pixel, stored as float32.
 * - NaN, never ±Inf, where the reference is not usable (0, subnormal — GPUs may flush those to zero —,
 *   ±Inf or NaN), where a frame sample used is not finite, where the result overflows float32, and
 *   where the drift-corrected sample position falls outside the frame.
 * - Drift: `shift = [dx, dy]` in pixels is the drift measured for the frame: the frame's content sits
 *   at reference position + (dx, dy). The corrected frame at (x, y) is therefore the frame sampled at
 *   (x + dx, y + dy), pixel centres at integer positions, bilinear interpolation between the four
 *   nearest pixels. Valid sample positions are 0 ≤ x + dx ≤ width − 1 and 0 ≤ y + dy ≤ height − 1
 *   (inside the hull of the pixel centres; no extrapolation). Sample positions are rounded to float32
 *   as the GPU kernel does, so both agree on which pixels are NaN.
 * - Smoothing (`smoothRadius` r > 0): NaN-aware box mean over the (2r+1)² window centred on each pixel,
 *   taken over the window's finite pixels inside the frame (the window is clipped at the borders).
 *   Pixels that are NaN before smoothing stay NaN (they have no valid reference or sample).
 */

/** A camera frame, row-major [height][width]: 8-bit, 16-bit or float32 intensities. */
export type FrameData = Uint8Array | Uint16Array | Float32Array;

export interface DiffMapOptions {
  /** measured drift [dx, dy] in pixels: content at reference position + (dx, dy); default [0, 0] */
  shift?: [number, number];
  /** box-mean radius r in pixels (window (2r+1)²); 0 or absent = no smoothing */
  smoothRadius?: number;
}

/** Smallest positive normal float32; references with |I_ref| below it count as zero. */
export const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/** Values per label in the `labelReduceCpu` result (and in `ProcessedFrame.labelStats`). */
export const LABEL_STATS_STRIDE = 8;
/** Index of each quantity within a label's 8 numbers (label k at offset (k − 1)·8). */
export const LabelStat = {
  pixelCount: 0,
  sumDiff: 1,
  finiteCount: 2,
  unreactedCount: 3,
  sumCol: 4,
  sumRow: 5,
  sumColUnreacted: 6,
  sumRowUnreacted: 7,
} as const;

export function checkImageSize(width: number, height: number, what = 'image'): void {
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new Error(`${what} size ${width}×${height} is not allowed: width and height must be positive integers`);
  }
}

function checkLength(name: string, length: number, width: number, height: number): void {
  if (length !== width * height) {
    throw new Error(`${name} has ${length} pixels but the frame is ${width}×${height} = ${width * height} pixels`);
  }
}

/** Checks a drift shift [dx, dy] and returns it rounded to float32 (as the GPU sees it). */
export function checkShift(shift: [number, number] | undefined, what = 'shift'): [number, number] {
  if (shift === undefined) return [0, 0];
  if (!Array.isArray(shift) || shift.length !== 2 || !Number.isFinite(shift[0]) || !Number.isFinite(shift[1])) {
    throw new Error(`${what} = ${JSON.stringify(shift)} is not allowed: it must be [dx, dy], two finite numbers of pixels`);
  }
  return [Math.fround(shift[0]), Math.fround(shift[1])];
}

export function checkSmoothRadius(r: number | undefined): number {
  if (r === undefined) return 0;
  if (!Number.isInteger(r) || r < 0 || r > 1024) {
    throw new Error(`smoothRadius = ${r} is not allowed: use an integer number of pixels from 0 (no smoothing) to 1024`);
  }
  return r;
}

/**
 * Bilinear sampling plan along one axis for a shift `d` (float32): for each output index i, the lower
 * source index i0, the upper one i1 (= i0 where the weight of i1 is 0, so that a non-finite neighbour
 * with zero weight cannot leak in) and the weight w of i1. Output indices [start, end) sample inside
 * [0, n − 1]; the others are NaN. The position i + d is rounded to float32 as the GPU computes it, so
 * w (exact: s − floor(s) is representable) and the valid range match the kernel bit for bit.
 */
function axisPlan(n: number, d: number) {
  const i0 = new Int32Array(n), i1 = new Int32Array(n), w = new Float64Array(n);
  let start = n, end = 0;
  for (let i = 0; i < n; i++) {
    const s = Math.fround(i + d);
    if (!(s >= 0 && s <= n - 1)) continue;
    const lo = Math.floor(s);
    const f = s - lo;
    if (i < start) start = i;
    end = i + 1;
    i0[i] = lo;
    i1[i] = f === 0 ? lo : Math.min(lo + 1, n - 1);
    w[i] = f;
  }
  return { i0, i1, w, start: Math.min(start, end), end };
}

// The unshifted map is the hot loop; one copy per element type keeps each loop monomorphic in V8.
function diffDirectU16(frame: Uint16Array, ref: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = ref[i];
    let d = Math.fround((frame[i] - r) / r);
    if (r < FLOAT32_MIN_NORMAL && r > -FLOAT32_MIN_NORMAL) d = NaN; // zero or subnormal reference
    // d + (d − d) turns ±Inf (a non-finite reference or sample, or a float32 overflow) into NaN
    // without a branch; this form measured fastest in V8 (a ternary here costs 2×)
    out[i] = d + (d - d);
  }
}
function diffDirectU8(frame: Uint8Array, ref: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = ref[i];
    let d = Math.fround((frame[i] - r) / r);
    if (r < FLOAT32_MIN_NORMAL && r > -FLOAT32_MIN_NORMAL) d = NaN;
    out[i] = d + (d - d);
  }
}
function diffDirectF32(frame: Float32Array, ref: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = ref[i];
    let d = Math.fround((frame[i] - r) / r);
    if (r < FLOAT32_MIN_NORMAL && r > -FLOAT32_MIN_NORMAL) d = NaN;
    out[i] = d + (d - d);
  }
}

function diffShifted(frame: FrameData, ref: Float32Array, out: Float32Array, width: number, height: number, dx: number, dy: number): void {
  const cols = axisPlan(width, dx), rows = axisPlan(height, dy);
  const c0 = cols.i0, c1 = cols.i1, cw = cols.w, xs = cols.start, xe = cols.end;
  for (let y = 0; y < height; y++) {
    const o = y * width;
    if (y < rows.start || y >= rows.end) { out.fill(NaN, o, o + width); continue; }
    out.fill(NaN, o, o + xs);
    out.fill(NaN, o + xe, o + width);
    const r0 = rows.i0[y] * width, r1 = rows.i1[y] * width, fy = rows.w[y], gy = 1 - fy;
    for (let x = xs; x < xe; x++) {
      const a = c0[x], b = c1[x], fx = cw[x], gx = 1 - fx;
      const v = gy * (gx * frame[r0 + a] + fx * frame[r0 + b]) + fy * (gx * frame[r1 + a] + fx * frame[r1 + b]);
      const r = ref[o + x];
      let d = Math.fround((v - r) / r);
      if (r < FLOAT32_MIN_NORMAL && r > -FLOAT32_MIN_NORMAL) d = NaN;
      out[o + x] = d + (d - d);
    }
  }
}

/**
 * NaN-aware (2r+1)² box mean of `src` into `dst` (may be the same array), window clipped at the
 * borders; NaN pixels of `src` stay NaN. Separable running sums in float64, O(1) per pixel for any r:
 * row sums go into a ring of 2r + 2 rows, a running column sum over that ring gives each output row.
 * Rows without a NaN (the common case) take a branch-free path whose counts come from the geometry.
 * In place is safe: output row y is written after the last read of source row y.
 */
export function boxMeanNanAware(src: Float32Array, width: number, height: number, r: number, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  checkImageSize(width, height);
  checkLength('src', src.length, width, height);
  checkLength('dst', dst.length, width, height);
  checkSmoothRadius(r);
  if (r === 0) { if (dst !== src) dst.set(src); return dst; }
  const ringRows = 2 * r + 2;
  const ringSum = new Float64Array(ringRows * width);
  // per-column finite counts of rows with holes only; a clean row's counts are colCount
  const ringCount = new Float64Array(ringRows * width);
  const ringHoley = new Uint8Array(ringRows);
  const colCount = new Float64Array(width);
  for (let x = 0; x < width; x++) colCount[x] = Math.min(x + r, width - 1) - Math.max(x - r, 0) + 1;
  const vSum = new Float64Array(width), vCountHoley = new Float64Array(width);
  let cleanRows = 0, holeyRows = 0;

  // Row y's windowed sums over [x − r, x + r] of the finite values, into ring slot y mod ringRows.
  const rowSums = (y: number) => {
    const src_o = y * width, slot = y % ringRows, o = slot * width;
    let finite = 0;
    for (let x = 0; x < width; x++) { const v = src[src_o + x]; finite += v - v; } // NaN if any is not finite
    let s = 0;
    if (finite === 0) {
      ringHoley[slot] = 0;
      // three stretches (window entering, sliding, leaving) so the sliding loop has no branch
      const e1 = Math.min(r + 1, width), e2 = Math.max(e1, width - r);
      for (let x = 0; x < Math.min(r, width); x++) s += src[src_o + x];
      for (let x = 0; x < e1; x++) {
        if (x + r < width) s += src[src_o + x + r];
        ringSum[o + x] = s;
      }
      for (let x = e1; x < e2; x++) {
        s += src[src_o + x + r] - src[src_o + x - r - 1];
        ringSum[o + x] = s;
      }
      for (let x = e2; x < width; x++) {
        if (x + r < width) s += src[src_o + x + r];
        s -= src[src_o + x - r - 1];
        ringSum[o + x] = s;
      }
      return;
    }
    ringHoley[slot] = 1;
    let c = 0;
    for (let x = 0; x < Math.min(r, width); x++) { const v = src[src_o + x]; if (v - v === 0) { s += v; c++; } }
    for (let x = 0; x < width; x++) {
      const add = x + r, drop = x - r - 1;
      if (add < width) { const v = src[src_o + add]; if (v - v === 0) { s += v; c++; } }
      if (drop >= 0) { const v = src[src_o + drop]; if (v - v === 0) { s -= v; c--; } }
      if (c === 0) s = 0; // exact reset: the running sum cannot drift across an all-NaN stretch
      ringSum[o + x] = s;
      ringCount[o + x] = c;
    }
  };
  const enter = (y: number) => {
    rowSums(y);
    const slot = y % ringRows, o = slot * width;
    if (ringHoley[slot]) { holeyRows++; for (let x = 0; x < width; x++) vCountHoley[x] += ringCount[o + x]; } else cleanRows++;
  };
  const leave = (y: number) => {
    const slot = y % ringRows, o = slot * width;
    if (ringHoley[slot]) { holeyRows--; for (let x = 0; x < width; x++) vCountHoley[x] -= ringCount[o + x]; } else cleanRows--;
  };

  for (let y = 0; y < Math.min(r, height); y++) {
    enter(y);
    const o = (y % ringRows) * width;
    for (let x = 0; x < width; x++) vSum[x] += ringSum[o + x];
  }
  for (let y = 0; y < height; y++) {
    const add = y + r, drop = y - r - 1;
    const oa = (add % ringRows) * width, od = (((drop % ringRows) + ringRows) % ringRows) * width;
    if (add < height) enter(add);
    if (drop >= 0) leave(drop);
    const o = y * width;
    if (holeyRows === 0 && add < height && drop >= 0) {
      // interior row of a clean stretch: one fused pass (update the column sums, write the means)
      const rows = cleanRows;
      for (let x = 0; x < width; x++) {
        const sum = vSum[x] + ringSum[oa + x] - ringSum[od + x];
        vSum[x] = sum;
        dst[o + x] = sum / (rows * colCount[x]);
      }
      continue;
    }
    if (add < height) for (let x = 0; x < width; x++) vSum[x] += ringSum[oa + x];
    if (drop >= 0) for (let x = 0; x < width; x++) vSum[x] -= ringSum[od + x];
    const rows = cleanRows;
    for (let x = 0; x < width; x++) {
      const v = src[o + x];
      // + (v − v): NaN keeps a hole a hole, without a branch
      dst[o + x] = vSum[x] / (rows * colCount[x] + vCountHoley[x]) + (v - v);
    }
  }
  return dst;
}

/**
 * Differential-intensity map ΔI/I0 = (I_t − I_ref)/I_ref of one frame (SPEC §2), float32.
 *
 * @param frame     the frame I_t, row-major [height][width], 8/16-bit or float32
 * @param reference the reference I_ref (e.g. the first frame) as float32, same size
 * @param width     frame width in pixels (columns)
 * @param height    frame height in pixels (rows)
 * @param opts      `shift` = measured drift [dx, dy] in pixels (content at reference + (dx, dy); the
 *                  frame is sampled at (x + dx, y + dy), bilinear); `smoothRadius` = box-mean radius
 * @param out       optional output array (width·height) to reuse
 * @returns `out` (or a new array): ΔI/I0, NaN where the reference is 0/subnormal/not finite, where a
 *          used sample is not finite, or where the shifted sample lies outside the frame
 */
export function diffMapCpu(frame: FrameData, reference: Float32Array, width: number, height: number, opts: DiffMapOptions = {}, out?: Float32Array): Float32Array {
  checkImageSize(width, height, 'frame');
  const n = width * height;
  checkLength('frame', frame.length, width, height);
  checkLength('reference', reference.length, width, height);
  if (out) checkLength('out', out.length, width, height);
  const dst = out ?? new Float32Array(n);
  const [dx, dy] = checkShift(opts.shift);
  const r = checkSmoothRadius(opts.smoothRadius);
  if (dx === 0 && dy === 0) {
    if (frame instanceof Uint16Array) diffDirectU16(frame, reference, dst, n);
    else if (frame instanceof Uint8Array) diffDirectU8(frame, reference, dst, n);
    else if (frame instanceof Float32Array) diffDirectF32(frame, reference, dst, n);
    else throw new Error('frame must be a Uint8Array, Uint16Array or Float32Array');
  } else {
    diffShifted(frame, reference, dst, width, height, dx, dy);
  }
  if (r > 0) boxMeanNanAware(dst, width, height, r, dst);
  return dst;
}

/**
 * Per-label reductions of a ΔI/I0 map: the sums behind the paper's asymmetry metric, with the same
 * pixel definitions as src/imaging/unreacted.ts (particle pixels counted whatever their ΔI/I0;
 * ΔI/I0 sums and the unreacted region over the pixels whose ΔI/I0 is finite — NaN pixels skipped).
 *
 * @param diff      ΔI/I0 map, row-major [height][width] (height = diff.length / width)
 * @param labels    0 = background, 1..nLabels = particle ids, same size as `diff`
 * @param nLabels   number of particles
 * @param width     image width in pixels
 * @param threshold ΔI/I0 below which a finite particle pixel counts as unreacted (0.05 in the paper)
 * @returns 8 numbers per label, label k at index (k − 1)·8: [pixelCount, sumDiff, finiteCount,
 *          unreactedCount, sumCol, sumRow, sumColUnreacted, sumRowUnreacted] (col/row = pixel indices)
 */
export function labelReduceCpu(diff: Float32Array, labels: Int32Array, nLabels: number, width: number, threshold: number): Float64Array {
  if (!Number.isInteger(nLabels) || nLabels < 0) throw new Error(`nLabels = ${nLabels} is not allowed: use a non-negative integer`);
  if (!Number.isInteger(width) || width < 1 || diff.length % width !== 0) {
    throw new Error(`width = ${width} does not divide the map's ${diff.length} pixels`);
  }
  if (labels.length !== diff.length) throw new Error(`labels has ${labels.length} pixels but the map has ${diff.length}`);
  const height = diff.length / width;
  const s = new Float64Array(nLabels * LABEL_STATS_STRIDE);
  for (let row = 0, i = 0; row < height; row++) {
    for (let col = 0; col < width; col++, i++) {
      const l = labels[i];
      if (l === 0) continue;
      if (l < 0 || l > nLabels) throw new Error(`labels[${i}] = ${l} is outside 0..${nLabels} (0 = background, 1..nLabels = particles)`);
      const o = (l - 1) * LABEL_STATS_STRIDE;
      s[o]++;
      s[o + 4] += col;
      s[o + 5] += row;
      const v = diff[i];
      if (v - v !== 0) continue; // NaN (and ±Inf, which diff maps never contain)
      s[o + 1] += v;
      s[o + 2]++;
      if (v < threshold) {
        s[o + 3]++;
        s[o + 6] += col;
        s[o + 7] += row;
      }
    }
  }
  return s;
}

/** The asymmetry metric of one label from its 8 reduced numbers (as src/imaging/unreacted.ts). */
export interface LabelMetrics {
  particlePixels: number;
  unreactedPixels: number;
  unreactedFraction: number;
  /** µm, image coordinates (pixel centre at (col + 0.5)·pixel_um) */
  particleCom_um: [number, number];
  unreactedCom_um: [number, number] | null;
  comOffset_um: number | null;
  /** comOffset_um / R_eq, R_eq = √(area/π) */
  comOffsetRel: number | null;
  /** mean ΔI/I0 over the particle's finite pixels */
  meanDiff: number;
}

/**
 * Turns label `label`'s 8 numbers of a `labelReduceCpu` / `ProcessedFrame.labelStats` array into
 * the paper's metric, with the same formulas as `unreactedStats` in src/imaging/unreacted.ts.
 */
export function labelMetrics(labelStats: Float64Array, label: number, pixel_um: number): LabelMetrics {
  const o = (label - 1) * LABEL_STATS_STRIDE;
  if (!Number.isInteger(label) || label < 1 || o + LABEL_STATS_STRIDE > labelStats.length) {
    throw new Error(`label = ${label} is outside 1..${labelStats.length / LABEL_STATS_STRIDE}`);
  }
  const [n, sumDiff, nFinite, nu, sx, sy, ux, uy] = labelStats.subarray(o, o + LABEL_STATS_STRIDE);
  const toUm = (p: number, count: number) => (p / count + 0.5) * pixel_um;
  const particleCom_um: [number, number] = n ? [toUm(sx, n), toUm(sy, n)] : [NaN, NaN];
  const unreactedCom_um: [number, number] | null = nu ? [toUm(ux, nu), toUm(uy, nu)] : null;
  const rEq = Math.sqrt((n * pixel_um * pixel_um) / Math.PI);
  const comOffset_um = unreactedCom_um ? Math.hypot(unreactedCom_um[0] - particleCom_um[0], unreactedCom_um[1] - particleCom_um[1]) : null;
  return {
    particlePixels: n,
    unreactedPixels: nu,
    unreactedFraction: n ? nu / n : 0,
    particleCom_um,
    unreactedCom_um,
    comOffset_um,
    comOffsetRel: comOffset_um === null ? null : comOffset_um / rEq,
    meanDiff: nFinite ? sumDiff / nFinite : NaN,
  };
}
