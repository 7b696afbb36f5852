// The boundary flux and the cut-off, after each diffusion step. One workgroup walks the list of wall
// cells (O(perimeter), small): adds the flux through the cell's wall faces,
//   ξ_w ← ξ_w + fluxPerStep·fluxWeight_w        (fluxWeight = Σ_faces s_norm·|n·e_f|, SPEC §1),
// computes the true wall value Φ̃(θs) = Φ̃(θ_w) − surfaceFactor·surfaceOffset_w, reduces min and max
// in workgroup memory, and thread 0 counts the step and raises the stop flag when min Φ̃(θs) reaches
// the charge cut-off (or max the discharge one): the step that crossed is kept, later ones are
// no-ops, exactly like the CPU reference, with no readback per step.
// With applyFlux = 0 it only measures θs (for reports).
// Bindings (group 0): 0 StepUniforms, 1 Φ̃ table, 2 ξ (read_write), 3 wall cells, 4 run state.

struct Wall {
  index: u32,
  fluxWeight: f32,
  surfaceOffset: f32, // s_norm·δ [m]
  _pad: f32,
}

struct RunState {
  stopped: u32,
  steps: u32,
  minPhiS: f32,
  maxPhiS: f32,
}

@group(0) @binding(2) var<storage, read_write> xi: array<f32>;
@group(0) @binding(3) var<storage, read> walls: array<Wall>;
@group(0) @binding(4) var<storage, read_write> state: RunState;

override WG: u32 = 256;
var<workgroup> redMin: array<f32, WG>;
var<workgroup> redMax: array<f32, WG>;
var<workgroup> wasStopped: u32;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) l: u32) {
  if (l == 0u) { wasStopped = state.stopped; }
  if (workgroupUniformLoad(&wasStopped) != 0u) { return; }
  var mn = 3.0e38;
  var mx = -3.0e38;
  for (var k = l; k < U.nWalls; k += WG) {
    let wall = walls[k];
    var v = xi[wall.index];
    if (U.applyFlux != 0u) {
      v = v + U.fluxPerStep * wall.fluxWeight;
      xi[wall.index] = v;
    }
    let ps = phiOfTheta(U.theta0 - v) - U.surfaceFactor * wall.surfaceOffset;
    mn = min(mn, ps);
    mx = max(mx, ps);
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
    state.minPhiS = redMin[0];
    state.maxPhiS = redMax[0];
    if (U.applyFlux != 0u) {
      state.steps = state.steps + 1u;
      let below = U.checkBelow != 0u && redMin[0] <= U.stopBelowPhi;
      let above = U.checkAbove != 0u && redMax[0] >= U.stopAbovePhi;
      if (below || above) { state.stopped = 1u; }
    }
  }
}
