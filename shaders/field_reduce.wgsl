// Per-workgroup partial reductions of the fixed-point state q over the particle's cells, exact:
// each q is biased to u = q + 2^30 ≥ 0 and split into 16-bit halves whose sums fit in u32 (a
// workgroup sums at most 256·64·65535 < 2^32 per half: the host launches enough workgroups), plus
// the count, min and max of q. The host adds the partials in float64, exactly (< 2^53).
// Outside cells (q = OUTSIDE_Q) are skipped.
// Bindings (group 0): 0 { n }, 1 q, 2 partials (one Partial per workgroup).

struct ReduceUniforms {
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

struct Partial {
  sumLo: u32,
  sumHi: u32,
  count: u32,
  _pad: u32,
  minQ: i32,
  maxQ: i32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> R: ReduceUniforms;
@group(0) @binding(1) var<storage, read> q: array<i32>;
@group(0) @binding(2) var<storage, read_write> partials: array<Partial>;

const OUTSIDE_Q: i32 = 2147483647;
const BIAS: u32 = 1073741824u; // 2^30

override WG: u32 = 256;
var<workgroup> sLo: array<u32, WG>;
var<workgroup> sHi: array<u32, WG>;
var<workgroup> sCount: array<u32, WG>;
var<workgroup> sMin: array<i32, WG>;
var<workgroup> sMax: array<i32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var lo = 0u;
  var hi = 0u;
  var count = 0u;
  var mn = 2147483647;
  var mx = -2147483647;
  let stride = nwg.x * WG;
  for (var i = wg.x * WG + l; i < R.n; i += stride) {
    let v = q[i];
    if (v != OUTSIDE_Q) {
      let u = u32(v + i32(BIAS));
      lo += u & 0xffffu;
      hi += u >> 16u;
      count += 1u;
      mn = min(mn, v);
      mx = max(mx, v);
    }
  }
  sLo[l] = lo;
  sHi[l] = hi;
  sCount[l] = count;
  sMin[l] = mn;
  sMax[l] = mx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (l < s) {
      sLo[l] += sLo[l + s];
      sHi[l] += sHi[l + s];
      sCount[l] += sCount[l + s];
      sMin[l] = min(sMin[l], sMin[l + s]);
      sMax[l] = max(sMax[l], sMax[l + s]);
    }
    workgroupBarrier();
  }
  if (l == 0u) {
    partials[wg.x] = Partial(sLo[0], sHi[0], sCount[0], 0u, sMin[0], sMax[0], 0u, 0u);
  }
}
