// label_reduce.wgsl — per-particle sums of a batch of ΔI/I0 maps: for every label (particle) the
// 8 numbers of labelReduceCpu (src/imaging/diffmap.ts): pixelCount, sumDiff, finiteCount,
// unreactedCount (finite ΔI/I0 < threshold), sumCol, sumRow, sumColUnreacted, sumRowUnreacted.
// Owner: src/kernels/labelReduce.ts.
//
// Scheme: the labels are fixed for a movie, so the owner sorts the particle pixels by label once
// (pixelIndex) and cuts each label's run into chunks of at most chunkPixels pixels (chunks). One
// workgroup per (chunk, frame) — dispatch (nChunks, nFrames) — sums its chunk: each invocation a
// strided part, then a tree reduction in workgroup memory. The workgroup writes 8 partial sums; the
// CPU adds the partials of each label in float64. Why partials on the CPU rather than a final GPU
// pass: WGSL has no float atomics, and counts and coordinate sums over a 2048² particle reach ~10^10,
// beyond u32 and beyond float32's exact integers; a chunk's counts and coordinate sums (chunkPixels ×
// 65535 < 2^32) are exact in u32, its ΔI/I0 sum is a float32 tree sum over few values, and the CPU
// sum of a few hundred partials per frame in float64 is exact for the integers and costs nothing.
// Only particle pixels are read, and every workgroup has the same amount of work whatever the sizes
// of the particles. No boundary treatment: pixels are addressed by index; col = p mod width,
// row = p div width.
//
// Bindings (group 0):
//   0 params      uniform Params
//   1 diff        storage, read: ΔI/I0, nFrames × pixelsPerFrame float32, frame-major (NaN skipped)
//   2 pixelIndex  storage, read: the particle pixels' indices, grouped by label
//   3 chunks      storage, read: vec4<u32>(label, start, end, 0) per chunk, [start, end) in pixelIndex
//   4 partials    storage, read_write: 8 u32 per (frame, chunk), at (frame·nChunks + chunk)·8:
//                 pixelCount, bitcast<u32>(sumDiff: f32), finiteCount, unreactedCount, sumCol,
//                 sumRow, sumColUnreacted, sumRowUnreacted
//
// WG must be a power of two (the tree reduction halves it); the owner checks.

override WG: u32 = 256u;

struct Params {
  width: u32,
  pixelsPerFrame: u32,
  nChunks: u32,
  nFrames: u32,
  // the smallest float32 ≥ the threshold, so that `v < threshold` here matches the float64 test
  threshold: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> diff: array<f32>;
@group(0) @binding(2) var<storage, read> pixelIndex: array<u32>;
@group(0) @binding(3) var<storage, read> chunks: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> partials: array<u32>;

// (pixelCount, finiteCount, unreactedCount, sumCol), (sumRow, sumColUnreacted, sumRowUnreacted, -)
var<workgroup> countsA: array<vec4<u32>, WG>;
var<workgroup> countsB: array<vec4<u32>, WG>;
var<workgroup> sums: array<f32, WG>;

const EXP_MASK: u32 = 0x7f800000u;
fn isFiniteF32(v: f32) -> bool { return (bitcast<u32>(v) & EXP_MASK) != EXP_MASK; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunkId = wid.x;
  let frame = wid.y;
  // workgroup-uniform: the whole workgroup leaves together, before any barrier
  if (chunkId >= params.nChunks || frame >= params.nFrames) { return; }
  let chunk = chunks[chunkId];
  let frameStart = frame * params.pixelsPerFrame;
  let w = params.width;
  let thr = params.threshold;

  var a = vec4<u32>(0u);
  var b = vec4<u32>(0u);
  var s = 0.0;
  for (var i = chunk.y + lid; i < chunk.z; i += WG) {
    let p = pixelIndex[i];
    let col = p % w;
    let row = p / w;
    a.x += 1u;
    let v = diff[frameStart + p];
    if (isFiniteF32(v)) {
      s += v;
      a.y += 1u;
      a.w += col;
      b.x += row;
      if (v < thr) {
        a.z += 1u;
        b.y += col;
        b.z += row;
      }
    }
  }
  countsA[lid] = a;
  countsB[lid] = b;
  sums[lid] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) {
      countsA[lid] += countsA[lid + half];
      countsB[lid] += countsB[lid + half];
      sums[lid] += sums[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let o = (frame * params.nChunks + chunkId) * 8u;
    let ta = countsA[0];
    let tb = countsB[0];
    partials[o + 0u] = ta.x;
    partials[o + 1u] = bitcast<u32>(sums[0]);
    partials[o + 2u] = ta.y;
    partials[o + 3u] = ta.z;
    partials[o + 4u] = ta.w;
    partials[o + 5u] = tb.x;
    partials[o + 6u] = tb.y;
    partials[o + 7u] = tb.z;
  }
}
