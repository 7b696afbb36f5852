// A θs measurement for reports: min and max of the true wall value Φ̃(θs) = Φ̃(θ_w) − surfaceFactor·
// surfaceOffset_w over one lane's wall cells, on its current state, without changing anything (the
// step itself computes θs as it applies the boundary flux: diffusion_step.wgsl).
// One invocation per wall cell; min and max are reduced in workgroup memory and merged into the
// measuring run state's words 2 and 3 with one atomicMin/atomicMax per workgroup (floats mapped to
// order-preserving u32 keys: WGSL has no float atomics). The host resets the keys and reads them.
// The dispatch's y dimension walks the lane list (kirchhoff.wgsl): the one measured lane.
// Bindings (group 0): 0 StepUniforms per lane (the measuring copy), 1 Φ̃ tables, 2 the measured lane,
// 3 q (read), 4 wall cells, 5 measuring run states.

@group(0) @binding(3) var<storage, read> q: array<i32>;
@group(0) @binding(4) var<storage, read> walls: array<Wall>;
@group(0) @binding(5) var<storage, read_write> state: array<atomic<u32>>;

override WG: u32 = 64;
var<workgroup> redMin: array<f32, WG>;
var<workgroup> redMax: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let lane = selectLane(wg.y);
  let s0 = lane * STATE_WORDS;
  var mn = 3.0e38;
  var mx = -3.0e38;
  let k = g.x;
  if (k < U.nWalls) {
    let wall = walls[U.wallOffset + k];
    let v = q[lane * U.nx * U.ny + wall.index];
    let ps = phiOfTheta(thetaOfQ(v)) - U.surfaceFactor * wall.surfaceOffset;
    mn = ps;
    mx = ps;
  }
  redMin[l] = mn;
  redMax[l] = mx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (l < s) {
      redMin[l] = min(redMin[l], redMin[l + s]);
      redMax[l] = max(redMax[l], redMax[l + s]);
    }
    workgroupBarrier();
  }
  if (l == 0u) {
    atomicMin(&state[s0 + 2u], orderedKey(redMin[0]));
    atomicMax(&state[s0 + 3u], orderedKey(redMax[0]));
  }
}
