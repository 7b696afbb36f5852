// Shared chunk (prepended to diffusion_step.wgsl, diffusion_block.wgsl and surface_theta.wgsl): the
// per-lane step uniforms, the fixed-point state, the run-state layout, wall cells, order-preserving
// float keys, the lane of an invocation, the stencil's face-flux sum, and the Kirchhoff potential lookup Φ̃(θ) = Φ(θ)/D_scale,
// linear between the N+1 table nodes θ = i/N and linear extrapolation outside [0, 1], exactly as
// src/model/diffusivity.ts phiOf().
// A batch holds several problems ("lanes") of the same nx×ny grid side by side: lane l's cells are
// q[l·nx·ny …], its Φ̃ table, wall cells and wall quanta start at the offsets in its StepUniforms, its
// run state is state[l·STATE_WORDS …]. A dispatch covers only the lanes listed in activeLanes (one workgroup
// row or layer per entry), so lanes that are not stepping cost nothing.
// Bindings: @group(0) @binding(0) StepUniforms per lane, @binding(1) the Φ̃ tables, @binding(2) the
// active lanes of this dispatch.

struct StepUniforms {
  nx: u32,
  ny: u32,
  tableN: u32,
  nWalls: u32,
  theta0: f32,        // the state is ξ = θ0 − θ
  r: f32,             // Δt·D_scale/h²
  fluxPerStep: f32,   // host side only (wall quanta come per cell, diffusion_step.wgsl): sign·Δt·q0/h
  surfaceFactor: f32, // sign·q0/D_scale [1/m]: Φ̃(θs) = Φ̃(θcell) − surfaceFactor·surfaceOffset
  stopBelowPhi: f32,  // charge cut-off, Φ̃(cutoff.surfaceTheta)
  stopAbovePhi: f32,  // discharge cut-off, Φ̃(cutoff.surfaceThetaMax)
  checkBelow: u32,
  checkAbove: u32,
  applyFlux: u32,     // 1 in a stepping lane's uniforms, 0 in a measurement's (neither kernel reads it)
  tableOffset: u32,   // this lane's first entry in phiTable
  wallOffset: u32,    // this lane's first entry in walls
  quantaOffset: u32,  // this lane's first entry in wallQuanta (nWalls quanta, then the two guard limits)
}

@group(0) @binding(0) var<storage, read> laneUniforms: array<StepUniforms>;
@group(0) @binding(1) var<storage, read> phiTable: array<f32>;
@group(0) @binding(2) var<storage, read> activeLanes: array<u32>;

// The state is fixed point, q = ξ·QUANTA in i32 (src/solver/quanta.ts): fluxes are whole quanta,
// taken from one cell and given to the other, so the particle's Li changes only through its wall.
const QUANTA: f32 = 268435456.0; // 2^28
const INV_QUANTA: f32 = 3.7252902984619140625e-9; // 2^-28
const OUTSIDE_Q: i32 = 2147483647; // q of cells outside the particle
// A lane's run state, state[lane·STATE_WORDS …] (src/kernels/surfaceTheta.ts RUN_STATE_BYTES):
// [0] stop reason after the last submit (0 running, 1 cut-off, 2 θ-range guard), [1] steps taken,
// [2] min key and [3] max key of a θs measurement (surface_theta.wgsl), [4 … 6] three step slots of
// one word each (the stop reason raised in or carried into that step; diffusion_step.wgsl), [7 …]
// unused.
const STATE_WORDS: u32 = 16u;
const SLOT0_WORD: u32 = 4u;

struct Wall {
  index: u32,         // the wall cell, y·nx + x within the lane
  fluxWeight: f32,    // kept for reference; the flux itself comes from the wall quanta
  surfaceOffset: f32, // s_norm·δ [m]
  _pad: f32,
}

/** u32 key with the order of the float: atomicMin/atomicMax on keys are min/max on floats (surface_theta.wgsl; decoded by keyValue in src/kernels/surfaceTheta.ts). */
fn orderedKey(f: f32) -> u32 {
  let b = bitcast<u32>(f);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// the uniforms of the invocation's lane (set once at the top of each entry point by selectLane)
var<private> U: StepUniforms;

/** The lane of dispatch slot `slot` (a workgroup id, uniform across the workgroup); loads its uniforms. */
fn selectLane(slot: u32) -> u32 {
  let lane = activeLanes[slot];
  U = laneUniforms[lane];
  return lane;
}

// Φ̃ of an outside cell where a kernel keeps a tile of Φ̃: far above any table value, tested with < OUTSIDE_PHI / 2
const OUTSIDE_PHI: f32 = 1e30;

/**
 * Σ trunc(rq·(Φ̃_j − Φ̃_c)) over a cell's inside 4-neighbours j (west, east, north, south; OUTSIDE_PHI
 * for an outside one, whose face carries no flux), in quanta: the cell's new q is q − this. One
 * definition for the single-step and the blocked kernel, so both take the same integers.
 */
fn faceFluxSum(pc: f32, w: f32, e: f32, n: f32, s: f32, rq: f32) -> i32 {
  var acc = 0;
  if (w < OUTSIDE_PHI * 0.5) { acc += i32(rq * (w - pc)); }
  if (e < OUTSIDE_PHI * 0.5) { acc += i32(rq * (e - pc)); }
  if (n < OUTSIDE_PHI * 0.5) { acc += i32(rq * (n - pc)); }
  if (s < OUTSIDE_PHI * 0.5) { acc += i32(rq * (s - pc)); }
  return acc;
}

fn thetaOfQ(q: i32) -> f32 {
  return U.theta0 - f32(q) * INV_QUANTA;
}

fn phiOfTheta(theta: f32) -> f32 {
  let x = theta * f32(U.tableN);
  let j = clamp(floor(x), 0.0, f32(U.tableN - 1u));
  let k = U.tableOffset + u32(j);
  let a = phiTable[k];
  return a + (x - j) * (phiTable[k + 1u] - a);
}
