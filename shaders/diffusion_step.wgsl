// One explicit Euler step of ∂θ/∂t = ∇·(D(θ)∇θ) inside the particle, on the extracted-Li state
// ξ = θ0 − θ: ξ_i ← ξ_i − r·Σ_{inside 4-neighbours j} (Φ̃(θ_j) − Φ̃(θ_i)) (Kirchhoff face fluxes).
// Faces to outside cells carry no diffusive flux here; the boundary flux is wall_flux.wgsl's job.
// The grid has a margin of outside cells on every side, so inside cells never index past the array.
// Once the run has hit its cut-off (state[0] ≠ 0) every cell is copied through unchanged, so the
// remaining steps of a batch are no-ops and the ping-pong buffers stay consistent.
// Bindings (group 0): 0 StepUniforms, 1 Φ̃ table, 2 ξ in, 3 ξ out, 4 run state (read).

@group(0) @binding(2) var<storage, read> xiIn: array<f32>;
@group(0) @binding(3) var<storage, read_write> xiOut: array<f32>;
@group(0) @binding(4) var<storage, read> state: array<u32, 8>;

override WG_X: u32 = 16;
override WG_Y: u32 = 16;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x >= U.nx || g.y >= U.ny) { return; }
  let i = g.y * U.nx + g.x;
  let c = xiIn[i];
  if (c >= OUTSIDE_MIN) { return; }
  if (state[0] != 0u) {
    xiOut[i] = c;
    return;
  }
  let pc = phiOfTheta(U.theta0 - c);
  var acc = 0.0;
  let w = xiIn[i - 1u];
  if (w < OUTSIDE_MIN) { acc += phiOfTheta(U.theta0 - w) - pc; }
  let e = xiIn[i + 1u];
  if (e < OUTSIDE_MIN) { acc += phiOfTheta(U.theta0 - e) - pc; }
  let n = xiIn[i - U.nx];
  if (n < OUTSIDE_MIN) { acc += phiOfTheta(U.theta0 - n) - pc; }
  let s = xiIn[i + U.nx];
  if (s < OUTSIDE_MIN) { acc += phiOfTheta(U.theta0 - s) - pc; }
  xiOut[i] = c - U.r * acc;
}
