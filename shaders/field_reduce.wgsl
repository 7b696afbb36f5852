// Per-workgroup partial reductions of the state ξ over the particle's cells: compensated (Kahan)
// sum, count, min and max. Each invocation strides over the array; the workgroup combines in shared
// memory; the host adds the partials in float64 (a few KB, read back only when an output is due).
// Outside cells (ξ ≥ 1e30) are skipped.
// Bindings (group 0): 0 { n }, 1 ξ, 2 partials (one Partial per workgroup).

struct ReduceUniforms {
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

struct Partial {
  sum: f32,
  count: f32,
  minV: f32,
  maxV: f32,
}

@group(0) @binding(0) var<uniform> R: ReduceUniforms;
@group(0) @binding(1) var<storage, read> xi: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<Partial>;

override WG: u32 = 256;
var<workgroup> sSum: array<f32, WG>;
var<workgroup> sCount: array<f32, WG>;
var<workgroup> sMin: array<f32, WG>;
var<workgroup> sMax: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var sum = 0.0;
  var comp = 0.0;
  var count = 0.0;
  var mn = 3.0e38;
  var mx = -3.0e38;
  let stride = nwg.x * WG;
  for (var i = wg.x * WG + l; i < R.n; i += stride) {
    let v = xi[i];
    if (v < 1e30) {
      let y = v - comp;
      let t = sum + y;
      comp = (t - sum) - y;
      sum = t;
      count += 1.0;
      mn = min(mn, v);
      mx = max(mx, v);
    }
  }
  sSum[l] = sum;
  sCount[l] = count;
  sMin[l] = mn;
  sMax[l] = mx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (l < s) {
      sSum[l] += sSum[l + s];
      sCount[l] += sCount[l + s];
      sMin[l] = min(sMin[l], sMin[l + s]);
      sMax[l] = max(sMax[l], sMax[l + s]);
    }
    workgroupBarrier();
  }
  if (l == 0u) {
    partials[wg.x] = Partial(sSum[0], sCount[0], sMin[0], sMax[0]);
  }
}
