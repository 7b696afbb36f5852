// The optical forward model on the GPU (SPEC §2; the CPU version is src/optics/forward.ts):
// ΔI/I0 = κ·blur(mask·ξ)/blur(mask) at the camera's pixel centres, ξ = θ0 − θ, with the Gaussian PSF
// applied separably as sparse gathers whose weights the host computed once (createCamera).
//   entry `rows`: one invocation per (grid row i, camera column p):
//       tmp[i·W + p] = (Σ_k wx[p][k]·ξ[i, j0+k] over inside cells, Σ_k wx[p][k] over inside cells)
//   entry `cols`: one invocation per camera pixel (q, p):
//       diff[q·W + p] = κ·Σ_k wy[q][k]·tmp.x / Σ_k wy[q][k]·tmp.y inside the particle mask, else NaN
// NaN is written as its bit pattern (WGSL has no NaN literal). Outside cells (q = i32 max) add nothing.
// Bindings (group 0): 0 params, 1 ξ, 2 tmp (vec2 per grid row × camera column), 3 x weights
// (start, count, offset per camera column), 4 y weights (same per camera row), 5 weight values,
// 6 camera mask (u32 per pixel), 7 diff (f32 per camera pixel).

struct Params {
  nx: u32,
  ny: u32,
  width: u32,
  height: u32,
  kappa: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<i32>; // fixed-point ξ·2^28, i32 max outside
@group(0) @binding(2) var<storage, read_write> tmp: array<vec2f>;
@group(0) @binding(3) var<storage, read> wxIndex: array<vec4u>;
@group(0) @binding(4) var<storage, read> wyIndex: array<vec4u>;
@group(0) @binding(5) var<storage, read> weights: array<f32>;
@group(0) @binding(6) var<storage, read> mask: array<u32>;
@group(0) @binding(7) var<storage, read_write> diff: array<f32>;

// A runtime value: bitcast of a constant NaN pattern is rejected by const-evaluation.
fn nanF32() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

override WG_X: u32 = 16;
override WG_Y: u32 = 16;

@compute @workgroup_size(WG_X, WG_Y)
fn rows(@builtin(global_invocation_id) g: vec3u) {
  let p = g.x;
  let i = g.y;
  if (p >= P.width || i >= P.ny) { return; }
  let w = wxIndex[p]; // (start column, count, offset into weights, 0)
  var num = 0.0;
  var den = 0.0;
  for (var k = 0u; k < w.y; k++) {
    let v = q[i * P.nx + w.x + k];
    if (v != 2147483647) {
      let c = weights[w.z + k];
      num += c * (f32(v) * 3.7252902984619140625e-9); // ξ = q·2^-28
      den += c;
    }
  }
  tmp[i * P.width + p] = vec2f(num, den);
}

@compute @workgroup_size(WG_X, WG_Y)
fn cols(@builtin(global_invocation_id) g: vec3u) {
  let p = g.x;
  let q = g.y;
  if (p >= P.width || q >= P.height) { return; }
  let w = wyIndex[q]; // (start row, count, offset into weights, 0)
  var acc = vec2f(0.0, 0.0);
  for (var k = 0u; k < w.y; k++) {
    acc += weights[w.z + k] * tmp[(w.x + k) * P.width + p];
  }
  let o = q * P.width + p;
  if (mask[o] != 0u && acc.y > 0.0) {
    diff[o] = P.kappa * acc.x / acc.y;
  } else {
    diff[o] = nanF32();
  }
}
