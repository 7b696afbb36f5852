// The boundary flux and the cut-off, after each diffusion step, in two entry points.
//
// `main`, one invocation per wall cell (O(perimeter) cells, many workgroups so a large GPU runs them
// at once): adds the flux through the cell's wall faces in whole quanta,
//   q_w ← q_w + wallQuanta_w     (the host splits sign·Δt·q0/h·fluxWeight_w·QUANTA into integers
//                                 whose total per step is exact to ½ quantum: src/solver/quanta.ts),
// computes the true wall value Φ̃(θs) = Φ̃(θ_w) − surfaceFactor·surfaceOffset_w, reduces min and max
// in workgroup memory, and merges them into the lane's run state with one atomicMin/atomicMax per
// workgroup (floats mapped to order-preserving u32 keys: WGSL has no float atomics).
// `finalize`, one invocation per lane, after `main`: counts the step, raises the stop flag when min
// Φ̃(θs) reached the charge cut-off (max: the discharge one), keeps the step's min/max for reports and
// resets the accumulators. The step that crossed is kept and later ones are no-ops (diffusion_step
// copies, `main` returns), exactly like the CPU reference, with no readback per step.
// Batched (kirchhoff.wgsl): `main`'s y dimension and `finalize`'s x dimension walk activeLanes; each
// lane has its own wall cells, quanta, uniforms and run state; the x extent of `main` covers the
// largest wall list among the lanes and shorter ones return early.
// With applyFlux = 0, `main` only measures θs (for reports; the host resets and reads the keys).
// The θ-range guard (src/solver/problem.ts): after the flux, a wall cell whose q is above its lane's
// wallQuanta[nWalls] (charge) or below wallQuanta[nWalls + 1] (discharge) could leave [0, 1] in one
// more step; `main` raises state[6] and `finalize` stops the run (state[0] = 2) before that step.
// Bindings (group 0): 0 StepUniforms per lane, 1 Φ̃ tables, 2 active lanes, 3 q (read_write),
// 4 wall cells, 5 run states, 6 wall quanta per step, then the two guard limits, per lane.

struct Wall {
  index: u32,
  fluxWeight: f32,    // kept for reference; the flux itself comes from wallQuanta
  surfaceOffset: f32, // s_norm·δ [m]
  _pad: f32,
}

// a lane's run state, from state[lane·STATE_WORDS]: [0] stopped, [1] steps taken, [2] min key
// accumulator, [3] max key accumulator, [4] min key of the last step, [5] max key of the last step,
// [6] range guard raised this step
@group(0) @binding(3) var<storage, read_write> q: array<i32>;
@group(0) @binding(4) var<storage, read> walls: array<Wall>;
@group(0) @binding(5) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read> wallQuanta: array<i32>;

/** u32 key with the order of the float: atomicMin/atomicMax on keys are min/max on floats. */
fn orderedKey(f: f32) -> u32 {
  let b = bitcast<u32>(f);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn keyValue(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

override WG: u32 = 64;
var<workgroup> redMin: array<f32, WG>;
var<workgroup> redMax: array<f32, WG>;
var<workgroup> wasStopped: u32;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let lane = selectLane(wg.y);
  let s0 = lane * STATE_WORDS;
  if (l == 0u) { wasStopped = atomicLoad(&state[s0]); }
  if (workgroupUniformLoad(&wasStopped) != 0u) { return; }
  var mn = 3.0e38;
  var mx = -3.0e38;
  let k = g.x;
  if (k < U.nWalls) {
    let wall = walls[U.wallOffset + k];
    let cell = lane * U.nx * U.ny + wall.index;
    var v = q[cell];
    if (U.applyFlux != 0u) {
      let qk = U.quantaOffset;
      v = v + wallQuanta[qk + k];
      q[cell] = v;
      if (v > wallQuanta[qk + U.nWalls] || v < wallQuanta[qk + U.nWalls + 1u]) { atomicMax(&state[s0 + 6u], 1u); }
    }
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

@compute @workgroup_size(1)
fn finalize(@builtin(workgroup_id) wg: vec3u) {
  let s0 = selectLane(wg.x) * STATE_WORDS;
  if (U.applyFlux == 0u || atomicLoad(&state[s0]) != 0u) { return; }
  let minKey = atomicLoad(&state[s0 + 2u]);
  let maxKey = atomicLoad(&state[s0 + 3u]);
  atomicStore(&state[s0 + 4u], minKey);
  atomicStore(&state[s0 + 5u], maxKey);
  atomicStore(&state[s0 + 1u], atomicLoad(&state[s0 + 1u]) + 1u);
  let below = U.checkBelow != 0u && keyValue(minKey) <= U.stopBelowPhi;
  let above = U.checkAbove != 0u && keyValue(maxKey) >= U.stopAbovePhi;
  if (atomicLoad(&state[s0 + 6u]) != 0u) { atomicStore(&state[s0], 2u); }
  else if (below || above) { atomicStore(&state[s0], 1u); }
  atomicStore(&state[s0 + 2u], 0xffffffffu);
  atomicStore(&state[s0 + 3u], 0u);
}
