// Shared chunk (prepended to diffusion_step.wgsl and wall_flux.wgsl): the per-step uniforms, the
// fixed-point state, and the Kirchhoff potential lookup Φ̃(θ) = Φ(θ)/D_scale, linear between the N+1 table nodes θ = i/N and
// linear extrapolation outside [0, 1], exactly as src/model/diffusivity.ts phiOf().
// Bindings: @group(0) @binding(0) StepUniforms, @binding(1) the Φ̃ table.

struct StepUniforms {
  nx: u32,
  ny: u32,
  tableN: u32,
  nWalls: u32,
  theta0: f32,        // the state is ξ = θ0 − θ
  r: f32,             // Δt·D_scale/h²
  fluxPerStep: f32,   // host side only (wall quanta come per cell, wall_flux.wgsl): sign·Δt·q0/h
  surfaceFactor: f32, // sign·q0/D_scale [1/m]: Φ̃(θs) = Φ̃(θcell) − surfaceFactor·surfaceOffset
  stopBelowPhi: f32,  // charge cut-off, Φ̃(cutoff.surfaceTheta)
  stopAbovePhi: f32,  // discharge cut-off, Φ̃(cutoff.surfaceThetaMax)
  checkBelow: u32,
  checkAbove: u32,
  applyFlux: u32,     // 0: only measure θs (no flux, no step counted)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> U: StepUniforms;
@group(0) @binding(1) var<storage, read> phiTable: array<f32>;

// The state is fixed point, q = ξ·QUANTA in i32 (src/solver/quanta.ts): fluxes are whole quanta,
// taken from one cell and given to the other, so the particle's Li changes only through its wall.
const QUANTA: f32 = 268435456.0; // 2^28
const INV_QUANTA: f32 = 3.7252902984619140625e-9; // 2^-28
const OUTSIDE_Q: i32 = 2147483647; // q of cells outside the particle

fn thetaOfQ(q: i32) -> f32 {
  return U.theta0 - f32(q) * INV_QUANTA;
}

fn phiOfTheta(theta: f32) -> f32 {
  let x = theta * f32(U.tableN);
  let j = clamp(floor(x), 0.0, f32(U.tableN - 1u));
  let k = u32(j);
  let a = phiTable[k];
  return a + (x - j) * (phiTable[k + 1u] - a);
}
