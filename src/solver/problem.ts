/**
 * A discretised problem: the grid, the Kirchhoff table and the per-step constants, built once from a
 * resolved config and shared by both solvers (so that they differ only in where the arithmetic runs).
 */
import { ConfigError } from '../errors';
import type { SimulationConfig, ProtocolStep } from '../model/config';
import { diffusivityFunction, kirchhoffTable, maxDiffusivity, phiOf, type KirchhoffTable } from '../model/diffusivity';
import { diskOutline, ellipseOutline, polygonOutline, selfIntersection, type Outline, type Vec2 } from '../model/geometry';
import { applySurface, gridGeometry, type GridGeometry, type ParticleGrid } from '../model/grid';
import { QUANTA } from './quanta';

/**
 * Above this the grid is refused before anything is allocated: 8192² cells, ~1.3 GB of CPU arrays
 * and 256 MiB per GPU state buffer (larger than most adapters bind anyway).
 */
export const MAX_CELLS = 1 << 26;

export interface Problem {
  config: SimulationConfig;
  grid: ParticleGrid;
  table: KirchhoffTable;
  theta0: number;
  /** warnings collected while building (clamped tables, …) */
  warnings: string[];
}

/** The constants of one explicit step (both solvers read exactly these). */
export interface StepParams {
  /** Δt, s */
  dt_s: number;
  /** Δt·D_scale/h² */
  r: number;
  /** θ removed from a wall cell per step per unit fluxWeight: sign·Δt·q0/h */
  fluxPerStep: number;
  /** sign·q0/D_scale (1/m): Φ̃(θs) = Φ̃(θcell) − surfaceFactor·surfaceOffset_m */
  surfaceFactor: number;
  /** stop when min Φ̃(θs) ≤ this (charge); −Infinity disables */
  stopBelowPhi: number;
  /** stop when max Φ̃(θs) ≥ this (discharge); +Infinity disables */
  stopAbovePhi: number;
  /**
   * θ-range guard, in quanta (quanta.ts), checked on every wall cell after each step: when q_w
   * exceeds guardAboveQ (charge) the next step's flux could take that cell below θ = 0; below
   * guardBelowQ (discharge), above θ = 1. The run stops first, so θ stays in [0, 1] and the int32
   * state never saturates. Absent: no guard (int32 extremes).
   */
  guardAboveQ?: number;
  guardBelowQ?: number;
}

const INT32_MAX = 2 ** 31 - 1, INT32_MIN = -(2 ** 31);

/**
 * Whole quanta a wall cell can gain or lose in one step of Δt ≤ guardDt_s at this step's current
 * (the largest share of the rounded split in quanta.ts, plus one for the rounding).
 */
export function maxWallQuantaPerStep(problem: Problem, step: ProtocolStep, guardDt_s: number): number {
  if (step.step === 'rest') return 0;
  const { grid, config } = problem;
  const q0 = rateConstant(step.current_mA_g as number, config.material.capacity_mAh_g) * (grid.area_um2 / grid.perimeter_um) * 1e-6;
  let wMax = 0;
  for (const w of grid.walls.fluxWeight) if (w > wMax) wMax = w;
  return Math.ceil(((guardDt_s * q0) / (grid.spacing_um * 1e-6)) * wMax * QUANTA) + 1;
}

export async function outlineFromConfig(p: SimulationConfig['particle'], baseDir = '.', warn: (msg: string) => void = () => {}): Promise<Outline> {
  switch (p.shape) {
    case 'disk': return diskOutline(p.diameter_um);
    case 'ellipse': return ellipseOutline(p.axes_um as [number, number], p.angleDeg);
    case 'polygon': {
      const crossing = p.vertices_um.length <= 5000 ? selfIntersection(p.vertices_um as Vec2[]) : null;
      if (crossing) throw new ConfigError(`particle.vertices_um is self-intersecting (edges ${crossing[0]}–${crossing[0] + 1} and ${crossing[1]}–${(crossing[1] + 1) % p.vertices_um.length} cross): give the outline once around, without crossings`);
      const o = polygonOutline(p.vertices_um as Vec2[]);
      if (!(o.area_um2 > 0)) throw new ConfigError(`particle.vertices_um encloses no area (${o.area_um2} µm²): give at least 3 distinct, non-collinear vertices`);
      return o;
    }
    case 'mask': {
      // loaded on demand: it reads files (Node only), the rest of the library also runs in a browser
      const { outlineFromMaskFile } = await import('../model/maskOutline');
      return outlineFromMaskFile(p.file, p.pixel_um, baseDir, warn);
    }
  }
}

/**
 * Refuses a start at or past the first current step's cut-off: the run would take one step and stop,
 * which reads like a result but is an input error.
 */
export function checkStartAgainstCutoff(config: SimulationConfig): void {
  const k = config.protocol.findIndex((s) => s.step !== 'rest');
  if (k < 0) return;
  const first = config.protocol[k], th = config.initialTheta, c = config.cutoff;
  if (first.step === 'charge' && th <= c.surfaceTheta) {
    throw new ConfigError(`initialTheta = ${th} is at or below cutoff.surfaceTheta = ${c.surfaceTheta}: the first charge step (protocol[${k}]) would stop at once; start above the charge cut-off or lower cutoff.surfaceTheta`);
  }
  if (first.step === 'discharge' && th >= c.surfaceThetaMax) {
    throw new ConfigError(`initialTheta = ${th} is at or above cutoff.surfaceThetaMax = ${c.surfaceThetaMax}: the first discharge step (protocol[${k}]) would stop at once; start below the discharge cut-off or raise cutoff.surfaceThetaMax`);
  }
}

/**
 * Everything a solver needs from a resolved config: the particle outline on the Cartesian grid (cells,
 * wall cells with their flux weights), the Kirchhoff table of D(θ), θ0 and the warnings raised on the
 * way. `baseDir` resolves a particle mask file (Node only); `maxCells` caps the grid (default 2^26).
 * Throws on a grid or camera too large or too coarse for the particle.
 */
export async function buildProblem(config: SimulationConfig, options: { baseDir?: string; maxCells?: number } = {}): Promise<Problem> {
  checkStartAgainstCutoff(config);
  const warnings: string[] = [];
  const h = config.grid.spacing_um;
  // the geometry of a particle on its grid is built once per process: a sweep, a fit or the demo
  // changes the surface or the protocol of the same particle many times (mask files are re-read)
  const key = config.particle.shape === 'mask' || options.maxCells !== undefined ? null : JSON.stringify([config.particle, h]);
  const cached = key ? GEOMETRY.get(key) : undefined;
  if (cached) return finishProblem(config, applySurface(cached, config.surface.segments, config.surface.normalize), warnings);
  const outline = await outlineFromConfig(config.particle, options.baseDir, (m) => warnings.push(m));
  // refuse absurd grids before allocating them
  const xs = outline.vertices.map((v) => v[0]), ys = outline.vertices.map((v) => v[1]);
  const estimate = (Math.ceil((Math.max(...xs) - Math.min(...xs)) / h) + 2) * (Math.ceil((Math.max(...ys) - Math.min(...ys)) / h) + 2);
  const maxCells = options.maxCells ?? MAX_CELLS;
  if (estimate > maxCells) {
    throw new ConfigError(`grid.spacing_um = ${h} gives a ${estimate.toExponential(2)}-cell grid for this particle: at most ${maxCells.toExponential(2)} cells are allowed (use a larger spacing)`);
  }
  const geometry = gridGeometry(outline, h);
  // small grids only (what sweeps and fits repeat); a paper-size grid is built once anyway
  if (key && geometry.nx * geometry.ny <= GEOMETRY_CACHE_MAX_CELLS) {
    if (GEOMETRY.size >= GEOMETRY_CACHE_SIZE) GEOMETRY.delete(GEOMETRY.keys().next().value as string);
    GEOMETRY.set(key, geometry);
  }
  return finishProblem(config, applySurface(geometry, config.surface.segments, config.surface.normalize), warnings);
}

const GEOMETRY_CACHE_SIZE = 16;
const GEOMETRY_CACHE_MAX_CELLS = 1 << 22;
const GEOMETRY = new Map<string, GridGeometry>();
/** Kirchhoff tables by diffusivity, θ0 and cut-off (read-only once built, like the geometry) */
const TABLES = new Map<string, { table: KirchhoffTable; warnings: string[] }>();

function finishProblem(config: SimulationConfig, grid: ParticleGrid, warnings: string[]): Problem {
  const h = config.grid.spacing_um;
  const o = config.optics;
  const camW = (grid.nx * h + 6 * o.psfSigma_um) / o.pixel_um, camH = (grid.ny * h + 6 * o.psfSigma_um) / o.pixel_um;
  const span = fmtUm(Math.max(grid.nx, grid.ny) * h);
  if (camW * camH > 2 ** 24) {
    throw new ConfigError(`optics.pixel_um = ${o.pixel_um} gives a ${Math.ceil(camW)}×${Math.ceil(camH)}-pixel camera image of this particle, which spans ${span} µm: at most 16.8 M pixels are allowed (lengths are in µm: the paper's particles are ~2–5 µm across, its camera pixel about 0.05 µm)`);
  }
  if (grid.cells < 9) throw new ConfigError(`grid.spacing_um = ${h} leaves only ${grid.cells} cells inside the particle: use a spacing well below the particle size`);
  // accepted, but a tired unit slip (nm for µm) makes them: say so rather than return empty offsets
  const acrossPx = Math.max(grid.nx, grid.ny) * h / o.pixel_um;
  if (acrossPx < 8) warnings.push(`optics.pixel_um = ${o.pixel_um} µm sees the particle (${span} µm across) in ${acrossPx < 1 ? 'less than one pixel' : `about ${Math.round(acrossPx)} pixels`}: too few for the camera-side outputs (comOffset_um and unreactedFraction are unreliable or empty); the paper's camera pixel is about 0.05 µm`);
  if (grid.cells < 200) warnings.push(`grid.spacing_um = ${h} leaves only ${grid.cells} cells inside the particle: a coarse result (the presets use 0.02 µm, about 11 000 cells for 2.4 µm)`);
  const theta0 = config.initialTheta;
  const tableKey = JSON.stringify([config.material.diffusivity, theta0, config.cutoff.surfaceTheta]);
  let entry = TABLES.get(tableKey);
  if (!entry) {
    const tableWarnings: string[] = [];
    const D = diffusivityFunction(config.material.diffusivity, (m) => tableWarnings.push(m));
    entry = { table: kirchhoffTable(D, { thetaRef: theta0, scaleRange: reachable(theta0, config.cutoff.surfaceTheta) }), warnings: tableWarnings };
    if (TABLES.size >= GEOMETRY_CACHE_SIZE) TABLES.delete(TABLES.keys().next().value as string);
    TABLES.set(tableKey, entry);
  }
  warnings.push(...entry.warnings);
  const table = entry.table;
  const problem: Problem = { config, grid, table, theta0, warnings };
  checkRunLength(problem);
  return problem;
}

/** k = i_m/(3600·Q_th), 1/s: the fraction of the capacity passed per second. */
export function rateConstant(current_mA_g: number, capacity_mAh_g: number): number {
  return current_mA_g / (3600 * capacity_mAh_g);
}

export function stepSign(step: ProtocolStep['step']): number {
  return step === 'charge' ? 1 : step === 'discharge' ? -1 : 0;
}

/** The largest stable explicit step, h²/(4·D_max), with D_max over the θ range the run can reach. */
export function maxStableDt(problem: Problem, thetaRange: [number, number]): number {
  const h_m = problem.grid.spacing_um * 1e-6;
  const dmax = maxDiffusivity(problem.table.D, Math.max(0, thetaRange[0]), Math.min(1, thetaRange[1]));
  return (h_m * h_m) / (4 * dmax);
}

/** More explicit steps than this is never a run anyone can wait for (hours even at 1 µs per step). */
export const MAX_STEPS = 1e10;

/** Explicit steps the protocol needs at the largest stable Δt over the reachable θ range. */
export function estimatedSteps(problem: Problem): number {
  const total_s = problem.config.protocol.reduce((a, st) => a + st.duration_min * 60, 0);
  return Math.ceil(total_s / maxStableDt(problem, reachableRange(problem)));
}

/**
 * Refuses a run of more than MAX_STEPS explicit steps before anything is allocated for it: a
 * diffusivity far above a solid's (a unit mistake, say cm²/s for m²/s) forces Δt ≤ h²/(4 D_max)
 * down to picoseconds, and the run would never end.
 */
function checkRunLength(problem: Problem): void {
  const steps = estimatedSteps(problem);
  if (steps <= MAX_STEPS) return;
  const dt = maxStableDt(problem, reachableRange(problem));
  const [lo, hi] = reachableRange(problem);
  const dmax = maxDiffusivity(problem.table.D, lo, hi);
  const r_m = Math.sqrt(problem.grid.area_um2 / Math.PI) * 1e-6;
  throw new ConfigError(`material.diffusivity reaches D = ${dmax.toExponential(2)} m²/s: with grid.spacing_um = ${problem.grid.spacing_um} the stable time step is ${dt.toExponential(2)} s and the protocol needs ${steps.toExponential(2)} steps (at most ${MAX_STEPS.toExponential(0)}); such a particle evens out in ~R²/D = ${((r_m * r_m) / dmax).toExponential(1)} s — check the diffusivity's unit (m²/s; solids are ~1e-18 … 1e-13), or use a larger grid.spacing_um`);
}

/** The θ range a run can reach: [min(θ0, cut-off) − 0.05, 1] (SPEC §1). */
export function reachableRange(problem: Problem): [number, number] {
  return reachable(problem.theta0, problem.config.cutoff.surfaceTheta);
}

function reachable(theta0: number, cutoff: number): [number, number] {
  return [Math.max(0, Math.min(theta0, cutoff) - 0.05), 1];
}

/**
 * The constants of the steps of `step` at Δt = dt_s. guardDt_s: the largest Δt this protocol step
 * will use (the range guard must hold for every Δt the time loop picks; default dt_s).
 */
export function stepParams(problem: Problem, step: ProtocolStep, dt_s: number, guardDt_s = dt_s): StepParams {
  const { grid, table, config } = problem;
  const sign = stepSign(step.step);
  const k = step.step === 'rest' ? 0 : rateConstant(step.current_mA_g as number, config.material.capacity_mAh_g);
  const h_m = grid.spacing_um * 1e-6;
  const q0 = (k * (grid.area_um2 / grid.perimeter_um)) * 1e-6; // m/s
  return {
    dt_s,
    r: (dt_s * table.D_scale) / (h_m * h_m),
    fluxPerStep: (sign * dt_s * q0) / h_m,
    surfaceFactor: (sign * q0) / table.D_scale,
    stopBelowPhi: step.step === 'charge' ? phiOf(table, config.cutoff.surfaceTheta) : -Infinity,
    stopAbovePhi: step.step === 'discharge' ? phiOf(table, config.cutoff.surfaceThetaMax) : Infinity,
    ...rangeGuard(problem, step, guardDt_s),
  };
}

/** q_w limits of the θ-range guard (see StepParams), clamped to int32. */
function rangeGuard(problem: Problem, step: ProtocolStep, guardDt_s: number): { guardAboveQ: number; guardBelowQ: number } {
  const m = maxWallQuantaPerStep(problem, step, guardDt_s);
  const clamp = (v: number) => Math.min(INT32_MAX, Math.max(INT32_MIN, v));
  const theta0 = problem.theta0;
  return {
    // charge: θ_w − m·2⁻²⁸ ≥ 0 ⇔ q_w ≤ θ0·2²⁸ − m
    guardAboveQ: step.step === 'charge' ? clamp(Math.floor(theta0 * QUANTA) - m) : INT32_MAX,
    // discharge: θ_w + m·2⁻²⁸ ≤ 1 ⇔ q_w ≥ (θ0 − 1)·2²⁸ + m
    guardBelowQ: step.step === 'discharge' ? clamp(Math.ceil((theta0 - 1) * QUANTA) + m) : INT32_MIN,
  };
}

/** a length in µm for messages: 2.4, 0.05, 2400 */
function fmtUm(v: number): string {
  return Number(v.toPrecision(3)).toString();
}
