/**
 * Differential-intensity maps of microscope frames (SPEC §2, §6) and the per-particle reductions the
 * analysis needs, as plain-TS float32 references: one pure function per operation. The GPU kernels in
 * src/kernels/ (diffMap.ts, labelReduce.ts) implement the same definitions and are tested against
 * these functions element-wise.
 *
 * Conventions (image coordinates as ImageJ: x = column to the right, y = row downward, pixel (row,
 * col) at index row·width + col):
 * - ΔI/I0 = (I_t − I_ref)/I_ref per pixel, stored as float32. Computed as (I_t − I_ref)·fround(1/I_ref)
 *   in float64, rounded once to float32: no division per pixel (the reciprocal is prepared once per
 *   reference, `prepareReference`), within 1 float32 ulp of the rounded quotient, exactly 0 where
 *   I_t = I_ref. The GPU divides in float32; both agree to the tolerances of test/kernels.
 * - NaN, never ±Inf, where the reference is not usable (0, subnormal — GPUs may flush those to zero —,
 *   ±Inf or NaN), where a frame sample used is not finite, where the result overflows float32, and
 *   where the drift-corrected sample position falls outside the frame. (Saturated samples of integer
 *   movies are made NaN before the map by the analysis: `maskSaturated`.)
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
import { statsFromSums, type UnreactedStats } from '../observables/unreacted';
import { checkPixels, checkSize, show } from '../checks';
import { UserError } from '../errors';
export type FrameData = Uint8Array | Uint16Array | Float32Array;

export interface DiffMapOptions {
  /** measured drift [dx, dy] in pixels: content at reference position + (dx, dy); default [0, 0] */
  shift?: [number, number];
  /** box-mean radius r in pixels (window (2r+1)²); 0 or absent = no smoothing */
  smoothRadius?: number;
}

/** The value an integer frame clips at (8-bit 255, 16-bit 65535); null for float32 frames, which have none. */
export function saturationLevel(frame: FrameData): number | null {
  return frame instanceof Uint8Array ? 255 : frame instanceof Uint16Array ? 65535 : null;
}

/**
 * `frame` with saturated samples (at the type's maximum, `saturationLevel`) made NaN, as float32 — or
 * `frame` itself when none is. A clipped sample only says the intensity is at least the top, so ΔI/I0
 * from it is a lower bound; as a NaN sample it gives NaN ΔI/I0 in every map kernel (JS, wasm, WGSL,
 * drift-corrected or not), which the reductions leave out of the fraction and the centres of mass.
 * `unknown(i)`, called for every saturated sample (few, usually), says whether to make it NaN (default:
 * all): the analysis keeps those whose lower bound already clears the unreacted threshold. The analysis
 * applies this to the reference and to every frame before the map (the definition above has no
 * notion of saturation).
 */
export function maskSaturated(frame: FrameData, unknown: (i: number) => boolean = () => true): FrameData {
  const top = saturationLevel(frame);
  if (top === null) return frame;
  let i = frame.indexOf(top); // native, ~1 ns per sample: the common case (none) costs one scan
  let out: Float32Array | null = null;
  for (; i >= 0; i = frame.indexOf(top, i + 1)) {
    if (!unknown(i)) continue;
    (out ??= new Float32Array(frame))[i] = NaN;
  }
  return out ?? frame;
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
  checkSize(width, height, what);
}

function checkLength(name: string, length: number, width: number, height: number): void {
  checkPixels(name, length, width, height);
}

/** Checks a drift shift [dx, dy] and returns it rounded to float32 (as the GPU sees it). */
export function checkShift(shift: [number, number] | undefined, what = 'shift'): [number, number] {
  if (shift === undefined) return [0, 0];
  if (!Array.isArray(shift) || shift.length !== 2 || !Number.isFinite(shift[0]) || !Number.isFinite(shift[1])) {
    throw new UserError(`${what} = ${show(shift)} is not allowed: it must be [dx, dy], two finite numbers of pixels`);
  }
  return [Math.fround(shift[0]), Math.fround(shift[1])];
}

export function checkSmoothRadius(r: number | undefined): number {
  if (r === undefined) return 0;
  if (!Number.isInteger(r) || r < 0 || r > 1024) {
    throw new UserError(`smoothRadius = ${show(r)} is not allowed: use a whole number of pixels from 0 (no smoothing) to 1024`);
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
export function axisPlan(n: number, d: number) {
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

/**
 * A reference prepared for many frames: I_ref and its float32 reciprocal, computed once (see
 * `prepareReference`). diffMapCpu multiplies by `inv` instead of dividing by I_ref per pixel.
 */
export interface PreparedReference {
  /** I_ref, float32, width·height (the array given to prepareReference, not a copy) */
  readonly reference: Float32Array;
  /** fround(1/I_ref); NaN where I_ref is 0, subnormal, ±Inf or NaN, so NaN propagates without a branch */
  readonly inv: Float32Array;
  /**
   * true when no 8/16-bit sample (0…65535) can overflow float32: every finite |inv| < 2^100. Then the
   * 8/16-bit loops need no overflow test; otherwise (references below ~1e-30) they take the guarded loop.
   */
  readonly intSafe: boolean;
}

/** |1/I_ref| below which (v − I_ref)·(1/I_ref) cannot overflow float32 for 0 ≤ v ≤ 65535 (margin 2^12). */
const INT_SAFE_INV = 2 ** 100;

/**
 * Prepares `reference` for diffMapCpu: its float32 reciprocal, NaN where the reference is not usable
 * (0, subnormal, ±Inf, NaN). Compute it once per reference and pass the result instead of the array;
 * the reference must not change afterwards. `inv` may be given (e.g. a view on a SharedArrayBuffer).
 *
 * ΔI/I0 is then fround((I − I_ref)·inv): within 1 float32 ulp of the quotient (v − r)/r rounded once
 * (the reciprocal is rounded to float32 first), exactly 0 where I = I_ref, and NaN by the same rules.
 */
export function prepareReference(reference: Float32Array | PreparedReference, inv?: Float32Array): PreparedReference {
  if (!(reference instanceof Float32Array)) {
    if (reference && reference.reference instanceof Float32Array && reference.inv instanceof Float32Array) return reference;
    throw new Error('reference must be a Float32Array or the result of prepareReference');
  }
  const n = reference.length;
  const dst = inv ?? new Float32Array(n);
  if (dst.length !== n) throw new UserError(`prepareReference: inv has ${dst.length} values, but the reference has ${n}: give an array of the reference's length`);
  let intSafe = true;
  for (let i = 0; i < n; i++) {
    const r = reference[i];
    // usable: normal and finite (|r| ≥ FLOAT32_MIN_NORMAL excludes 0, subnormals and NaN; r − r
    // excludes ±Inf). Then q is finite (≤ 2^126); for |r| > 2^126 it is a float32 subnormal, a few
    // bits less precise, still far within the GPU tolerance.
    if ((r >= FLOAT32_MIN_NORMAL || r <= -FLOAT32_MIN_NORMAL) && r - r === 0) {
      const q = Math.fround(1 / r);
      dst[i] = q;
      if (q >= INT_SAFE_INV || q <= -INT_SAFE_INV) intSafe = false;
    } else {
      dst[i] = NaN;
    }
  }
  return { reference, inv: dst, intSafe };
}

// The unshifted map is the hot loop; one copy per element type keeps each loop monomorphic in V8.
// (v − r)·inv: a NaN inv (unusable reference) gives NaN without a branch, v = r gives exactly 0 (a
// multiply-by-reciprocal form v·inv − 1 would not). The store rounds to float32. 8/16-bit samples are
// finite and, with an intSafe reference, cannot overflow: no further test. Unrolled 8×: V8 does not
// vectorise, and the unrolled loop measured ~1.4× faster than the plain one.
// These functions, diffMapCore, diffMapFast, diffShifted, axisPlan, boxMeanCore and labelReduceRuns also run in the
// CPU processor's worker threads from their source text (src/imaging/processor.ts): they may use only
// each other and JS globals (no imports, no module constants).
export function diffDirectU16(frame: Uint16Array, ref: Float32Array, inv: Float32Array, out: Float32Array, n: number): void {
  let i = 0;
  for (const m = n - 7; i < m; i += 8) {
    out[i] = (frame[i] - ref[i]) * inv[i];
    out[i + 1] = (frame[i + 1] - ref[i + 1]) * inv[i + 1];
    out[i + 2] = (frame[i + 2] - ref[i + 2]) * inv[i + 2];
    out[i + 3] = (frame[i + 3] - ref[i + 3]) * inv[i + 3];
    out[i + 4] = (frame[i + 4] - ref[i + 4]) * inv[i + 4];
    out[i + 5] = (frame[i + 5] - ref[i + 5]) * inv[i + 5];
    out[i + 6] = (frame[i + 6] - ref[i + 6]) * inv[i + 6];
    out[i + 7] = (frame[i + 7] - ref[i + 7]) * inv[i + 7];
  }
  for (; i < n; i++) out[i] = (frame[i] - ref[i]) * inv[i];
}
export function diffDirectU8(frame: Uint8Array, ref: Float32Array, inv: Float32Array, out: Float32Array, n: number): void {
  let i = 0;
  for (const m = n - 7; i < m; i += 8) {
    out[i] = (frame[i] - ref[i]) * inv[i];
    out[i + 1] = (frame[i + 1] - ref[i + 1]) * inv[i + 1];
    out[i + 2] = (frame[i + 2] - ref[i + 2]) * inv[i + 2];
    out[i + 3] = (frame[i + 3] - ref[i + 3]) * inv[i + 3];
    out[i + 4] = (frame[i + 4] - ref[i + 4]) * inv[i + 4];
    out[i + 5] = (frame[i + 5] - ref[i + 5]) * inv[i + 5];
    out[i + 6] = (frame[i + 6] - ref[i + 6]) * inv[i + 6];
    out[i + 7] = (frame[i + 7] - ref[i + 7]) * inv[i + 7];
  }
  for (; i < n; i++) out[i] = (frame[i] - ref[i]) * inv[i];
}
// Float32 frames (a sample may be ±Inf or NaN) and references that are not intSafe: the product may
// be ±Inf after rounding to float32; d + (d − d) turns ±Inf into NaN without a branch (this form
// measured fastest in V8; a ternary costs 2×).
export function diffDirectF32(frame: Float32Array, ref: Float32Array, inv: Float32Array, out: Float32Array, n: number): void {
  let i = 0, d = 0;
  for (const m = n - 7; i < m; i += 8) {
    d = Math.fround((frame[i] - ref[i]) * inv[i]); out[i] = d + (d - d);
    d = Math.fround((frame[i + 1] - ref[i + 1]) * inv[i + 1]); out[i + 1] = d + (d - d);
    d = Math.fround((frame[i + 2] - ref[i + 2]) * inv[i + 2]); out[i + 2] = d + (d - d);
    d = Math.fround((frame[i + 3] - ref[i + 3]) * inv[i + 3]); out[i + 3] = d + (d - d);
    d = Math.fround((frame[i + 4] - ref[i + 4]) * inv[i + 4]); out[i + 4] = d + (d - d);
    d = Math.fround((frame[i + 5] - ref[i + 5]) * inv[i + 5]); out[i + 5] = d + (d - d);
    d = Math.fround((frame[i + 6] - ref[i + 6]) * inv[i + 6]); out[i + 6] = d + (d - d);
    d = Math.fround((frame[i + 7] - ref[i + 7]) * inv[i + 7]); out[i + 7] = d + (d - d);
  }
  for (; i < n; i++) { d = Math.fround((frame[i] - ref[i]) * inv[i]); out[i] = d + (d - d); }
}
// 8/16-bit frames over a reference that is not intSafe (below ~1e-30 somewhere): rare, not unrolled
export function diffDirectGuarded(frame: Uint8Array | Uint16Array, ref: Float32Array, inv: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const d = Math.fround((frame[i] - ref[i]) * inv[i]);
    out[i] = d + (d - d);
  }
}

/**
 * The drift-corrected map. Bilinear as (1 − fx)·V(x0) + fx·V(x1) with V(x) = (1 − fy)·I(x, y0) +
 * fy·I(x, y1) the vertically interpolated column, in float64 (the same value as the 2×2 weighted sum up
 * to float64 rounding, far below float32's). Columns fall into a few runs over which the plan's
 * source offset x0 − x and weight fx are constant (fx changes only where x + dx crosses a power of
 * two, through the float32 rounding); within a run V(x1) of one pixel is V(x0) of the next, so each
 * column is interpolated once. A zero weight (fx = 0, fy = 0) never reads the neighbour, so a
 * non-finite pixel beyond the sample cannot leak in. `guarded`: turn ±Inf into NaN (float32 frames,
 * references that are not intSafe); 8/16-bit samples over an intSafe reference cannot overflow.
 */
export function diffShifted(frame: Uint8Array | Uint16Array | Float32Array, ref: Float32Array, inv: Float32Array, out: Float32Array, width: number, height: number, dx: number, dy: number, guarded: boolean): void {
  const cols = axisPlan(width, dx), rows = axisPlan(height, dy);
  const xs = cols.start, xe = cols.end;
  // runs of columns [x0, x1) with constant (offset k = i0 − x, weight fx): 4 numbers each
  const runs: number[] = [];
  for (let x = xs; x < xe;) {
    const k = cols.i0[x] - x, f = cols.w[x];
    let e = x + 1;
    while (e < xe && cols.i0[e] - e === k && cols.w[e] === f) e++;
    runs.push(x, e, k, f);
    x = e;
  }
  for (let y = 0; y < height; y++) {
    const o = y * width;
    if (y < rows.start || y >= rows.end) { out.fill(NaN, o, o + width); continue; }
    out.fill(NaN, o, o + xs);
    out.fill(NaN, o + xe, o + width);
    const fy = rows.w[y], gy = 1 - fy;
    for (let s = 0; s < runs.length; s += 4) {
      const x0 = runs[s], x1 = runs[s + 1], fx = runs[s + 3], gx = 1 - fx;
      const a = rows.i0[y] * width + runs[s + 2], b = rows.i1[y] * width + runs[s + 2]; // b = a when fy = 0
      let x = x0;
      if (fx === 0) {
        if (guarded) {
          for (; x < x1; x++) {
            const i = o + x, d = Math.fround((gy * frame[a + x] + fy * frame[b + x] - ref[i]) * inv[i]);
            out[i] = d + (d - d);
          }
        } else {
          for (; x < x1; x++) { const i = o + x; out[i] = (gy * frame[a + x] + fy * frame[b + x] - ref[i]) * inv[i]; }
        }
        continue;
      }
      let v0 = gy * frame[a + x] + fy * frame[b + x];
      if (guarded) {
        for (; x < x1; x++) {
          const v1 = gy * frame[a + x + 1] + fy * frame[b + x + 1];
          const i = o + x, d = Math.fround((gx * v0 + fx * v1 - ref[i]) * inv[i]);
          out[i] = d + (d - d);
          v0 = v1;
        }
        continue;
      }
      for (; x + 3 < x1; x += 4) {
        const v1 = gy * frame[a + x + 1] + fy * frame[b + x + 1];
        const v2 = gy * frame[a + x + 2] + fy * frame[b + x + 2];
        const v3 = gy * frame[a + x + 3] + fy * frame[b + x + 3];
        const v4 = gy * frame[a + x + 4] + fy * frame[b + x + 4];
        const i = o + x;
        out[i] = (gx * v0 + fx * v1 - ref[i]) * inv[i];
        out[i + 1] = (gx * v1 + fx * v2 - ref[i + 1]) * inv[i + 1];
        out[i + 2] = (gx * v2 + fx * v3 - ref[i + 2]) * inv[i + 2];
        out[i + 3] = (gx * v3 + fx * v4 - ref[i + 3]) * inv[i + 3];
        v0 = v4;
      }
      for (; x < x1; x++) {
        const v1 = gy * frame[a + x + 1] + fy * frame[b + x + 1];
        const i = o + x;
        out[i] = (gx * v0 + fx * v1 - ref[i]) * inv[i];
        v0 = v1;
      }
    }
  }
}

/**
 * ΔI/I0 of `frame` into `out` without argument checks (diffMapCpu checks, then calls this): shift
 * (dx, dy) already rounded to float32, smoothing radius r ≥ 0.
 */
export function diffMapCore(frame: Uint8Array | Uint16Array | Float32Array, ref: Float32Array, inv: Float32Array, intSafe: boolean, out: Float32Array, width: number, height: number, dx: number, dy: number, r: number): void {
  const n = width * height;
  if (dx === 0 && dy === 0) {
    if (frame instanceof Float32Array) diffDirectF32(frame, ref, inv, out, n);
    else if (!intSafe) diffDirectGuarded(frame, ref, inv, out, n);
    else if (frame instanceof Uint16Array) diffDirectU16(frame, ref, inv, out, n);
    else diffDirectU8(frame, ref, inv, out, n);
  } else {
    diffShifted(frame, ref, inv, out, width, height, dx, dy, !intSafe || frame instanceof Float32Array);
  }
  if (r > 0) boxMeanCore(out, width, height, r, out);
}

/**
 * A WebAssembly SIMD diffDirectU16 (src/imaging/processor.ts, DIFF_U16_WASM): `groups` × 4 pixels at byte
 * offsets frame (uint16) and ref, inv, out (float32) of its memory.
 */
export type WasmU16 = (frame: number, ref: number, inv: number, out: number, groups: number) => void;

/**
 * diffMapCore, through the wasm kernel `u16` where it applies: a 16-bit frame without shift over an
 * intSafe reference, with frame and output in the kernel's memory (`frameAt`, `outAt` ≥ 0; ref and inv
 * at `refAt`, `invAt`). The n mod 4 last pixels as diffDirectU16. Bit-identical to diffMapCore.
 * The kernel and its memory belong to the CPU frame processor (src/imaging/processor.ts, DIFF_U16_WASM).
 */
export function diffMapFast(u16: WasmU16 | null, frameAt: number, refAt: number, invAt: number, outAt: number, frame: Uint8Array | Uint16Array | Float32Array, ref: Float32Array, inv: Float32Array, intSafe: boolean, out: Float32Array, width: number, height: number, dx: number, dy: number, r: number): void {
  if (u16 !== null && frameAt >= 0 && outAt >= 0 && refAt >= 0 && intSafe && dx === 0 && dy === 0 && frame instanceof Uint16Array) {
    const n = width * height, groups = n >>> 2;
    u16(frameAt, refAt, invAt, outAt, groups);
    for (let i = groups * 4; i < n; i++) out[i] = (frame[i] - ref[i]) * inv[i];
    if (r > 0) boxMeanCore(out, width, height, r, out);
  } else {
    diffMapCore(frame, ref, inv, intSafe, out, width, height, dx, dy, r);
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
  boxMeanCore(src, width, height, r, dst);
  return dst;
}

/** boxMeanNanAware without argument checks (also run by the CPU processor's worker threads). */
export function boxMeanCore(src: Float32Array, width: number, height: number, r: number, dst: Float32Array): void {
  if (r === 0) { if (dst !== src) dst.set(src); return; }
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
}

/**
 * Differential-intensity map ΔI/I0 = (I_t − I_ref)/I_ref of one frame (SPEC §2), float32.
 *
 * @param frame     the frame I_t, row-major [height][width], 8/16-bit or float32
 * @param reference the reference I_ref (e.g. the first frame) as float32, same size; or
 *                  `prepareReference(I_ref)` — prepare once when mapping many frames against one
 *                  reference (a bare array is prepared on every call: one extra pass)
 * @param width     frame width in pixels (columns)
 * @param height    frame height in pixels (rows)
 * @param opts      `shift` = measured drift [dx, dy] in pixels (content at reference + (dx, dy); the
 *                  frame is sampled at (x + dx, y + dy), bilinear); `smoothRadius` = box-mean radius
 * @param out       optional output array (width·height) to reuse
 * @returns `out` (or a new array): ΔI/I0 computed as fround((I_t − I_ref)·fround(1/I_ref)) (within
 *          1 ulp of the rounded quotient; exactly 0 where I_t = I_ref), NaN where the reference is
 *          0/subnormal/not finite, where a used sample is not finite, where the result overflows
 *          float32, or where the shifted sample lies outside the frame
 */
export function diffMapCpu(frame: FrameData, reference: Float32Array | PreparedReference, width: number, height: number, opts: DiffMapOptions = {}, out?: Float32Array): Float32Array {
  checkImageSize(width, height, 'frame');
  const n = width * height;
  checkLength('frame', frame.length, width, height);
  if (!(frame instanceof Uint16Array || frame instanceof Uint8Array || frame instanceof Float32Array)) {
    throw new Error('frame must be a Uint8Array, Uint16Array or Float32Array');
  }
  const ref = reference instanceof Float32Array ? reference : reference?.reference;
  if (!(ref instanceof Float32Array)) throw new Error('reference must be a Float32Array or the result of prepareReference');
  checkLength('reference', ref.length, width, height);
  if (out) checkLength('out', out.length, width, height);
  const [dx, dy] = checkShift(opts.shift);
  const r = checkSmoothRadius(opts.smoothRadius);
  const prepared = prepareReference(reference);
  checkLength('reference.inv', prepared.inv.length, width, height);
  const dst = out ?? new Float32Array(n);
  diffMapCore(frame, prepared.reference, prepared.inv, prepared.intSafe, dst, width, height, dx, dy, r);
  return dst;
}

/**
 * Per-label reductions of a ΔI/I0 map: the sums behind the paper's asymmetry metric, with the same
 * pixel definitions as src/observables/unreacted.ts (particle pixels counted whatever their ΔI/I0;
 * ΔI/I0 sums and the unreacted region over the pixels whose ΔI/I0 is finite — NaN pixels skipped).
 *
 * @param diff      ΔI/I0 map, row-major [height][width] (height = diff.length / width)
 * @param labels    0 = background, 1..nLabels = particle ids, same size as `diff`
 * @param nLabels   number of particles
 * @param width     image width in pixels
 * @param threshold ΔI/I0 below which a finite particle pixel counts as unreacted (0.05 in the paper)
 * @returns 8 numbers per label, label k at index (k − 1)·8: [pixelCount, sumDiff, finiteCount,
 *          unreactedCount, sumCol, sumRow, sumColUnreacted, sumRowUnreacted] (col/row = pixel indices;
 *          sumCol, sumRow over the finite pixels, whose centre of mass the core's is measured against)
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
      const v = diff[i];
      if (v - v !== 0) continue; // NaN (and ±Inf, which diff maps never contain)
      s[o + 1] += v;
      s[o + 2]++;
      s[o + 4] += col;
      s[o + 5] += row;
      if (v < threshold) {
        s[o + 3]++;
        s[o + 6] += col;
        s[o + 7] += row;
      }
    }
  }
  return s;
}

/**
 * labelReduceCpu prepared for many maps over fixed labels: the runs of equal non-zero labels along
 * rows, in row-major order, as [start, end, label, row] (pixel indices, end exclusive), and the sums
 * that do not depend on the map (pixelCount, and sumCol, sumRow as if every pixel were finite: the
 * NaN pixels' coordinates are taken off per map).
 */
export interface LabelRuns {
  runs: Int32Array;
  base: Float64Array;
  nLabels: number;
  width: number;
}

export function labelRuns(labels: Int32Array, nLabels: number, width: number): LabelRuns {
  const base = labelReduceCpu(new Float32Array(labels.length), labels, nLabels, width, 0); // checks labels; every pixel finite
  for (let o = 0; o < base.length; o += LABEL_STATS_STRIDE) base[o + 1] = base[o + 2] = base[o + 3] = base[o + 6] = base[o + 7] = 0;
  const runs: number[] = [];
  for (let i = 0, row = 0; i < labels.length; row++) {
    const rowEnd = i + width;
    while (i < rowEnd) {
      const l = labels[i];
      let e = i + 1;
      while (e < rowEnd && labels[e] === l) e++;
      if (l !== 0) runs.push(i, e, l, row);
      i = e;
    }
  }
  return { runs: Int32Array.from(runs), base, nLabels, width };
}

/**
 * labelReduceCpu(diff, labels, …) from `labelRuns(labels, …)`: the same numbers bit for bit (each
 * label's finite values are added in the same row-major order; counts and coordinate sums are exact
 * integers), but only particle pixels are visited. Writes the 8 sums per label into `s`. Runs in the
 * CPU processor's worker threads too (see diffDirectU16).
 */
export function labelReduceRuns(diff: Float32Array, runs: Int32Array, base: Float64Array, width: number, threshold: number, s: Float64Array): void {
  s.set(base);
  for (let k = 0; k < runs.length; k += 4) {
    const start = runs[k], end = runs[k + 1], o = (runs[k + 2] - 1) * 8, row = runs[k + 3];
    const rowStart = row * width;
    let sum = s[o + 1], finite = s[o + 2], unreacted = s[o + 3], sumCol = s[o + 6], sumRow = s[o + 7], nanCol = 0, nanCount = 0;
    for (let i = start; i < end; i++) {
      const v = diff[i];
      if (v - v !== 0) { nanCol += i - rowStart; nanCount++; continue; } // NaN: out of the finite pixels' coordinate sums
      sum += v;
      finite++;
      if (v < threshold) {
        unreacted++;
        sumCol += i - rowStart;
        sumRow += row;
      }
    }
    s[o + 1] = sum; s[o + 2] = finite; s[o + 3] = unreacted; s[o + 6] = sumCol; s[o + 7] = sumRow;
    if (nanCount) { s[o + 4] -= nanCol; s[o + 5] -= nanCount * row; }
  }
}

/** The asymmetry metric of one label from its 8 reduced numbers (src/observables/unreacted.ts). */
export type LabelMetrics = UnreactedStats;

/**
 * Turns label `label`'s 8 numbers of a `labelReduceCpu` / `ProcessedFrame.labelStats` array into
 * the paper's metric, with the same formulas as `unreactedStats` in src/observables/unreacted.ts.
 */
export function labelMetrics(labelStats: Float64Array, label: number, pixel_um: number): LabelMetrics {
  const o = (label - 1) * LABEL_STATS_STRIDE;
  if (!Number.isInteger(label) || label < 1 || o + LABEL_STATS_STRIDE > labelStats.length) {
    throw new Error(`label = ${label} is outside 1..${labelStats.length / LABEL_STATS_STRIDE}`);
  }
  return statsFromSums(labelStats.subarray(o, o + LABEL_STATS_STRIDE), pixel_um);
}
