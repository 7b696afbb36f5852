// One explicit Euler step of ∂θ/∂t = ∇·(D(θ)∇θ) inside the particle, on the fixed-point state
// q = (θ0 − θ)·QUANTA: q_i ← q_i − Σ_{inside 4-neighbours j} trunc(r·QUANTA·(Φ̃(θ_j) − Φ̃(θ_i)))
// (Kirchhoff face fluxes; truncation is odd, so cell j computes exactly the negative integer).
// Each workgroup first evaluates Φ̃ once for its tile plus a one-cell halo into workgroup memory
// (one table lookup per cell instead of five), then applies the stencil from the tile.
// Faces to outside cells carry no diffusive flux here; the boundary flux is wall_flux.wgsl's job.
// The grid has a margin of outside cells on every side, so inside cells never index past the lane.
// Batched: the dispatch's z dimension walks activeLanes; each lane steps its own region of q with its
// own uniforms and Φ̃ table (kirchhoff.wgsl). Once a lane has hit its cut-off (its state[0] ≠ 0)
// every cell of it is copied through unchanged, without filling the tile (no table lookups), so the
// remaining steps of a submit are cheap no-ops for it and the ping-pong buffers stay consistent.
// Bindings (group 0): 0 StepUniforms per lane, 1 Φ̃ tables, 2 active lanes, 3 q in, 4 q out,
// 5 run states (read).

@group(0) @binding(3) var<storage, read> qIn: array<i32>;
@group(0) @binding(4) var<storage, read_write> qOut: array<i32>;
@group(0) @binding(5) var<storage, read> state: array<u32>;

override WG_X: u32 = 16;
override WG_Y: u32 = 16;
// Φ̃ of outside cells in the tile: far above any table value, tested with > OUTSIDE_PHI / 2
const OUTSIDE_PHI: f32 = 1e30;
var<workgroup> tile: array<f32, (WG_X + 2) * (WG_Y + 2)>;
var<workgroup> laneStopped: u32;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let lane = selectLane(wg.z);
  let base = lane * U.nx * U.ny;
  // the whole workgroup belongs to one lane: one load of its stop flag, uniform for the branch
  if (lid.x == 0u && lid.y == 0u) { laneStopped = state[lane * STATE_WORDS]; }
  if (workgroupUniformLoad(&laneStopped) != 0u) {
    if (g.x < U.nx && g.y < U.ny) {
      let i = base + g.y * U.nx + g.x;
      let c = qIn[i];
      if (c != OUTSIDE_Q) { qOut[i] = c; }
    }
    return;
  }
  let tw = WG_X + 2u;
  let x0 = i32(wg.x * WG_X) - 1;
  let y0 = i32(wg.y * WG_Y) - 1;
  for (var t = lid.y * WG_X + lid.x; t < tw * (WG_Y + 2u); t += WG_X * WG_Y) {
    let tx = x0 + i32(t % tw);
    let ty = y0 + i32(t / tw);
    var p = OUTSIDE_PHI;
    if (tx >= 0 && ty >= 0 && u32(tx) < U.nx && u32(ty) < U.ny) {
      let v = qIn[base + u32(ty) * U.nx + u32(tx)];
      if (v != OUTSIDE_Q) { p = phiOfTheta(thetaOfQ(v)); }
    }
    tile[t] = p;
  }
  workgroupBarrier();
  if (g.x >= U.nx || g.y >= U.ny) { return; }
  let i = base + g.y * U.nx + g.x;
  let c = qIn[i];
  if (c == OUTSIDE_Q) { return; }
  let t = (lid.y + 1u) * tw + lid.x + 1u;
  let pc = tile[t];
  let rq = U.r * QUANTA;
  var acc = 0;
  let w = tile[t - 1u];
  if (w < OUTSIDE_PHI * 0.5) { acc += i32(rq * (w - pc)); }
  let e = tile[t + 1u];
  if (e < OUTSIDE_PHI * 0.5) { acc += i32(rq * (e - pc)); }
  let n = tile[t - tw];
  if (n < OUTSIDE_PHI * 0.5) { acc += i32(rq * (n - pc)); }
  let s = tile[t + tw];
  if (s < OUTSIDE_PHI * 0.5) { acc += i32(rq * (s - pc)); }
  qOut[i] = c - acc;
}
