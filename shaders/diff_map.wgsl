// diff_map.wgsl — differential-intensity maps ΔI/I0 = (I_t − I_ref)/I_ref of a batch of camera
// frames, with per-frame drift correction and an optional NaN-aware box smoothing (SPEC §2, §6).
// Reference: diffMapCpu in src/imaging/diffmap.ts; owner: src/kernels/diffMap.ts.
//
// Entry points, dispatched (ceil(width/WG_X), ceil(height/WG_Y), nFrames) — diffMain
// (ceil(width/(WG_X·PIXELS_PER_INVOCATION)), …) —; invocations outside the frame or the batch return
// at once:
//   diffMain    frames → diff. Frame f is sampled at (x + dx_f, y + dy_f) (the drift (dx, dy) means
//               the frame's content sits at reference position + (dx, dy)), bilinear between the four
//               nearest pixel centres. Positions outside [0, width−1] × [0, height−1] give NaN (no
//               extrapolation, no clamping). NaN also where the reference is 0, subnormal or not
//               finite, where a sample with non-zero weight is not finite, and where the result is
//               not finite. NaN is written as the bit pattern 0x7fc00000 and every finiteness test is
//               done on bits: WGSL has no NaN literal and compilers may fold NaN comparisons.
//   smoothRows  diff → rowSum, rowCount: sums and counts of the finite values over [x − r, x + r],
//               clipped at the frame's left and right edges.
//   smoothCols  rowSum, rowCount → diff: over rows [y − r, y + r] (clipped), mean = Σsum / Σcount;
//               pixels that are NaN before smoothing stay NaN. In place: each invocation reads and
//               writes only its own diff element, the sums come from the other buffers.
//
// Bindings (group 0; all three entry points share one explicit layout):
//   0 params     uniform Params
//   1 frames     storage, read:  the batch's frames packed into u32 words (u8: 4 pixels a word,
//                u16: 2, little-endian, pixel i of a frame in bits (i mod k)·(32/k); f32: bit
//                patterns); frame f starts at word frameInfo[f].wordOffset
//   2 frameInfo  storage, read:  array<FrameInfo>, one per frame of the batch
//   3 reference  storage, read:  I_ref, float32, width·height
//   4 diff       storage, read_write: ΔI/I0, nFrames × width·height float32, frame-major
//   5 rowSum     storage, read_write: smoothing scratch, same size as diff (unused when r = 0)
//   6 rowCount   storage, read_write: smoothing scratch, same size as diff (unused when r = 0)

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
// diffMain only: consecutive pixels of a row per invocation (amortises the per-invocation work;
// halves the time on CPU drivers such as lavapipe); its grid is ceil(width/(WG_X·this)) wide
override PIXELS_PER_INVOCATION: u32 = 4u;

struct Params {
  width: u32,
  height: u32,
  nFrames: u32,
  smoothRadius: u32,
}

const FORMAT_U8: u32 = 0u;
const FORMAT_U16: u32 = 1u;
// FORMAT_F32 = 2u: anything else reads bit patterns

struct FrameInfo {
  shift: vec2<f32>,   // (dx, dy), pixels
  format: u32,        // FORMAT_U8, FORMAT_U16 or 2 (f32)
  wordOffset: u32,    // first word of this frame in `frames`
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> frames: array<u32>;
@group(0) @binding(2) var<storage, read> frameInfo: array<FrameInfo>;
@group(0) @binding(3) var<storage, read> reference: array<f32>;
@group(0) @binding(4) var<storage, read_write> diff: array<f32>;
@group(0) @binding(5) var<storage, read_write> rowSum: array<f32>;
@group(0) @binding(6) var<storage, read_write> rowCount: array<f32>;

const NAN_BITS: u32 = 0x7fc00000u;
const EXP_MASK: u32 = 0x7f800000u;

// a runtime value: bitcast of the constant itself is a const-expression, and a NaN there is a
// shader-creation error
fn nanF32() -> f32 {
  var bits = NAN_BITS;
  return bitcast<f32>(bits);
}
// exponent all ones: ±Inf or NaN
fn isFiniteF32(v: f32) -> bool { return (bitcast<u32>(v) & EXP_MASK) != EXP_MASK; }
// neither zero/subnormal (exponent 0) nor ±Inf/NaN (exponent all ones)
fn isUsableReference(v: f32) -> bool {
  let e = bitcast<u32>(v) & EXP_MASK;
  return e != 0u && e != EXP_MASK;
}

fn loadPixel(format: u32, base: u32, idx: u32) -> f32 {
  if (format == FORMAT_U16) {
    let w = frames[base + (idx >> 1u)];
    return f32((w >> ((idx & 1u) * 16u)) & 0xffffu);
  }
  if (format == FORMAT_U8) {
    let w = frames[base + (idx >> 2u)];
    return f32((w >> ((idx & 3u) * 8u)) & 0xffu);
  }
  return bitcast<f32>(frames[base + idx]);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn diffMain(@builtin(global_invocation_id) gid: vec3<u32>) {
  let w = params.width;
  let h = params.height;
  let xStart = gid.x * PIXELS_PER_INVOCATION;
  if (xStart >= w || gid.y >= h || gid.z >= params.nFrames) { return; }
  let info = frameInfo[gid.z];
  let base = info.wordOffset;
  let sy = f32(gid.y) + info.shift.y;
  // the row's part of the sample: shared by the invocation's pixels
  let rowInside = sy >= 0.0 && sy <= f32(h - 1u);
  let fyl = floor(sy);
  let fy = sy - fyl; // exact in float32
  let y0 = u32(max(fyl, 0.0));
  // a zero-weight neighbour is the pixel itself, so a non-finite pixel beyond the sample cannot leak in
  let y1 = select(min(y0 + 1u, h - 1u), y0, fy == 0.0);
  let gy = 1.0 - fy;
  let xEnd = min(xStart + PIXELS_PER_INVOCATION, w);
  for (var x = xStart; x < xEnd; x++) {
    let pix = gid.y * w + x;
    let outIdx = gid.z * w * h + pix;
    let sx = f32(x) + info.shift.x;
    // written as a positive test so that a NaN position (never passed in) would also give NaN
    let inside = rowInside && sx >= 0.0 && sx <= f32(w - 1u);
    let r = reference[pix];
    if (!inside || !isUsableReference(r)) { diff[outIdx] = nanF32(); continue; }
    let fxl = floor(sx);
    let fx = sx - fxl;
    let x0 = u32(fxl);
    let x1 = select(min(x0 + 1u, w - 1u), x0, fx == 0.0);
    let a = loadPixel(info.format, base, y0 * w + x0);
    let b = loadPixel(info.format, base, y0 * w + x1);
    let c = loadPixel(info.format, base, y1 * w + x0);
    let d = loadPixel(info.format, base, y1 * w + x1);
    if (!(isFiniteF32(a) && isFiniteF32(b) && isFiniteF32(c) && isFiniteF32(d))) { diff[outIdx] = nanF32(); continue; }
    let gx = 1.0 - fx;
    let v = gy * (gx * a + fx * b) + fy * (gx * c + fx * d);
    let q = (v - r) / r;
    diff[outIdx] = select(nanF32(), q, isFiniteF32(q));
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn smoothRows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let w = params.width;
  let h = params.height;
  if (gid.x >= w || gid.y >= h || gid.z >= params.nFrames) { return; }
  let rowStart = gid.z * w * h + gid.y * w;
  let r = i32(params.smoothRadius);
  let lo = u32(max(i32(gid.x) - r, 0));
  let hi = u32(min(i32(gid.x) + r, i32(w) - 1));
  var s = 0.0;
  var n = 0.0;
  for (var x = lo; x <= hi; x++) {
    let v = diff[rowStart + x];
    if (isFiniteF32(v)) { s += v; n += 1.0; }
  }
  rowSum[rowStart + gid.x] = s;
  rowCount[rowStart + gid.x] = n;
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn smoothCols(@builtin(global_invocation_id) gid: vec3<u32>) {
  let w = params.width;
  let h = params.height;
  if (gid.x >= w || gid.y >= h || gid.z >= params.nFrames) { return; }
  let frameStart = gid.z * w * h;
  let idx = frameStart + gid.y * w + gid.x;
  if (!isFiniteF32(diff[idx])) { return; } // stays NaN
  let r = i32(params.smoothRadius);
  let lo = u32(max(i32(gid.y) - r, 0));
  let hi = u32(min(i32(gid.y) + r, i32(h) - 1));
  var s = 0.0;
  var n = 0.0;
  for (var y = lo; y <= hi; y++) {
    let j = frameStart + y * w + gid.x;
    s += rowSum[j];
    n += rowCount[j];
  }
  diff[idx] = s / n; // n ≥ 1: this pixel itself is finite
}
