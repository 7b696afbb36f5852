// Shared chunk (prepended to diffusion_step.wgsl and wall_flux.wgsl): the per-step uniforms and the
// Kirchhoff potential lookup Φ̃(θ) = Φ(θ)/D_scale, linear between the N+1 table nodes θ = i/N and
// linear extrapolation outside [0, 1], exactly as src/model/diffusivity.ts phiOf().
// Bindings: @group(0) @binding(0) StepUniforms, @binding(1) the Φ̃ table.

struct StepUniforms {
  nx: u32,
  ny: u32,
  tableN: u32,
  nWalls: u32,
  theta0: f32,        // the state is ξ = θ0 − θ
  r: f32,             // Δt·D_scale/h²
  fluxPerStep: f32,   // ξ added to a wall cell per step per unit fluxWeight: sign·Δt·q0/h
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

// ξ of cells outside the particle; anything at or above OUTSIDE_MIN is outside.
const OUTSIDE_MIN: f32 = 1e30;

fn phiOfTheta(theta: f32) -> f32 {
  let x = theta * f32(U.tableN);
  let j = clamp(floor(x), 0.0, f32(U.tableN - 1u));
  let k = u32(j);
  let a = phiTable[k];
  return a + (x - j) * (phiTable[k + 1u] - a);
}
