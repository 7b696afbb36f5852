/**
 * The time loop: walks the protocol (charge / discharge / rest), splits it at every output time
 * (trace rows, snapshots, step ends), picks the explicit Δt itself, lets the solver take the steps,
 * and measures the outputs. It drives the CPU and the GPU solver alike.
 */
import { createCamera, forwardModel, type Camera, type CameraImage } from '../optics/forward';
import { unreactedStats, type UnreactedStats } from '../observables/unreacted';
import { maxStableDt, maxWallQuantaPerStep, reachableRange, stepParams, stepSign, type Problem } from './problem';
import { INV_QUANTA } from './quanta';
import { phiOf } from '../model/diffusivity';
import type { AdvanceResult, FieldStats, Solver } from './types';
import type { SimulationConfig } from '../model/config';

export interface Measurement {
  time_s: number;
  capacity_mAh_g: number;
  meanTheta: number;
  minSurfaceTheta: number;
  maxSurfaceTheta: number;
  comOffset_um: number | null;
  comOffsetRel: number | null;
  /** unreacted COM − particle COM, µm, physical axes (x right, y up); null when nothing is unreacted */
  comOffsetVector_um: [number, number] | null;
  unreactedFraction: number;
}

export interface Snapshot extends Measurement {
  /** file stem, e.g. "theta_0300s" */
  name: string;
  /** θ on the grid, NaN outside */
  field: Float32Array;
  /** the state at the end of the run (added when the end is not a requested time) */
  final: boolean;
}

export interface StepRecord {
  step: 'charge' | 'discharge' | 'rest';
  current_mA_g: number;
  start_s: number;
  end_s: number;
  endReason: 'duration' | 'cutoff' | 'surface-depleted' | 'surface-saturated';
}

/**
 * The extracted capacity (from the state) against what the applied current passed: they agree to
 * float32 round-off of the wall weights (~1e-7), so a difference above CONSERVATION_TOLERANCE of the
 * charge passed means the run is wrong (docs/physics.md, "Limits the solver enforces") — unless it
 * is within `resolution_mAh_g`: the wall flux is whole quanta, its total per step the exact flux
 * rounded (quanta.ts), so each step may pass up to ½ quantum more or less than the current asks, the
 * same way every step at a constant current. That bound matters only at very low currents (fig4c's
 * grid at 0.1 mA/g: 1.5e-5 of the charge).
 */
export interface ConservationCheck {
  extracted_mAh_g: number;
  applied_mAh_g: number;
  /** |extracted − applied| / (charge passed in and out, Σ|applied| over the steps) */
  relativeError: number;
  /** the most the wall flux's rounding to whole quanta can account for: steps · ½ quantum over the particle, in mAh/g */
  resolution_mAh_g: number;
  ok: boolean;
}

export const CONSERVATION_TOLERANCE = 1e-5;

/**
 * A run that cannot go on: the current asks the surface for more Li than diffusion can bring to it
 * (charge: the wall reaches θ = 0, 'surface-depleted'), or more than it can take (discharge: θ = 1,
 * 'surface-saturated'). The user's input asks for the impossible; `result` holds the run up to the
 * stop (θ still in [0, 1]).
 */
export class SimulationLimitError extends Error {
  constructor(message: string, readonly stopReason: 'surface-depleted' | 'surface-saturated', readonly result: RunResult) {
    super(message);
    this.name = 'SimulationLimitError';
  }
}

export interface RunResult {
  stopReason: 'cutoff' | 'protocol-end' | 'surface-depleted' | 'surface-saturated';
  time_s: number;
  extractedCapacity_mAh_g: number;
  extractedTheta: number;
  /** Σ sign·i·s̄_eff·t/3600 over the steps: what the applied current passed (conservation check) */
  appliedCapacity_mAh_g: number;
  steps: number;
  wallTime_s: number;
  trace: Measurement[];
  snapshots: Snapshot[];
  protocol: StepRecord[];
  dt_s: number[];
  warnings: string[];
  conservation: ConservationCheck;
  /** the one-line reason when stopReason is 'surface-depleted' / 'surface-saturated' */
  stopMessage?: string;
}

export interface RunOptions {
  onProgress?: (fraction: number, status: string) => void;
  signal?: AbortSignal;
  /** measure only (no snapshot fields / camera images kept), for sweeps and benchmarks */
  keepSnapshots?: boolean;
}

const EPS_T = 1e-9;

/** ΔI/I0 metrics of a θ field through the forward model (so simulated and observed are measured alike). */
export function measureField(problem: Problem, field: Float32Array, camera: Camera = createCamera(problem.grid, problem.config.optics)): { camera: CameraImage; comOffset_um: number | null; comOffsetRel: number | null; comOffsetVector_um: [number, number] | null; unreactedFraction: number } {
  const optics = problem.config.optics;
  const image = forwardModel(field, camera, problem.theta0);
  const s = unreactedStats(image.diff, image.mask, image.width, image.pixel_um, optics.unreactedThreshold);
  return { camera: image, comOffset_um: s.comOffset_um, comOffsetRel: s.comOffsetRel, comOffsetVector_um: comVector(s), unreactedFraction: s.unreactedFraction };
}

/**
 * The problem's camera, made once per particle geometry and optics: the problems of a sweep or a fit
 * over the surface of one particle share their grid geometry (problem.ts), and so their camera.
 */
const CAMERAS = new WeakMap<Uint8Array, Map<string, Camera>>();
function cameraOf(problem: Problem): Camera {
  const key = JSON.stringify(problem.config.optics);
  let byOptics = CAMERAS.get(problem.grid.inside);
  if (!byOptics) CAMERAS.set(problem.grid.inside, (byOptics = new Map()));
  let camera = byOptics.get(key);
  if (!camera) byOptics.set(key, (camera = createCamera(problem.grid, problem.config.optics)));
  return camera;
}

/** unreacted COM − particle COM in physical axes (x right, y up; image rows grow downward) */
function comVector(s: UnreactedStats): [number, number] | null {
  return s.unreactedCom_um ? [s.unreactedCom_um[0] - s.particleCom_um[0], -(s.unreactedCom_um[1] - s.particleCom_um[1])] : null;
}

/** The error a stopped run rejects with (name 'AbortError', as fetch and the streams use). */
function stopped(): Error {
  const e = new Error('simulation stopped');
  e.name = 'AbortError';
  return e;
}

/** cell-updates per call of advance() at first: ~0.1 s of the CPU reference, so that a stop is seen soon */
const CHUNK_CELL_UPDATES = 2e7;

/**
 * solver.advance(n) in pieces: between trace rows a run may take millions of steps (a fine grid, a
 * diffusivity typed in the wrong unit), and a signal or a progress report would wait for all of them.
 * The pieces start at ~0.1 s of work and double while a piece takes under 0.1 s (a GPU soon takes
 * whole intervals again); the steps are the same steps, so the state is the same bit for bit.
 */
async function advanceInChunks(solver: Solver, n: number, cells: number, signal: AbortSignal | undefined, progress: (done: number) => void): Promise<AdvanceResult> {
  let cap = Math.max(1, Math.floor(CHUNK_CELL_UPDATES / Math.max(1, cells)));
  if (n <= cap) return solver.advance(n);
  let done = 0;
  for (;;) {
    if (signal?.aborted) throw stopped();
    const m = Math.min(n - done, cap);
    const t0 = performance.now();
    const res = await solver.advance(m);
    done += res.steps;
    if (res.stopped || done >= n) return { ...res, steps: done };
    if (performance.now() - t0 < 100) cap *= 2;
    progress(done);
  }
}

/**
 * Runs the config's protocol on `solver` (a CpuSolver or GpuSolver made for `problem`): the trace every
 * 10 s of simulated time, the snapshots at `snapshots_min` (θ fields, measured through the optical
 * forward model like the trace), the stop reason (protocol end or the surface cut-off).
 * `onProgress(fraction, status)` reports along the way; `signal` aborts. The solver stays usable,
 * and the caller owns it (destroy() it).
 */
export async function runSimulation(problem: Problem, solver: Solver, options: RunOptions = {}): Promise<RunResult> {
  const t0 = performance.now();
  const cfg = problem.config;
  const Q = cfg.material.capacity_mAh_g;
  const warnings = [...problem.warnings];
  const trace: Measurement[] = [];
  const snapshots: Snapshot[] = [];
  const protocolLog: StepRecord[] = [];
  const dts = new Set<number>();
  let range = reachableRange(problem);
  let dtMax = maxStableDt(problem, range);
  const total_s = cfg.protocol.reduce((a, s) => a + s.duration_min * 60, 0);
  const traceEvery = cfg.output.traceInterval_s;
  const snapTimes = [...new Set(cfg.snapshots_min.map((m) => m * 60))].sort((a, b) => a - b);
  let nextSnap = 0;
  let nextTrace = 0;
  let t = 0, steps = 0, applied = 0, throughput = 0;
  let overshootWarned = false, lastDt = 0;
  type Limit = { reason: 'surface-depleted' | 'surface-saturated'; message: string };
  let limit = null as Limit | null; // set by checkStart
  let stopReason: RunResult['stopReason'] = 'protocol-end';

  const camera = cameraOf(problem);
  const measure = async (time: number, stats: FieldStats): Promise<Measurement> => {
    // on the GPU solver this runs on the GPU and reads back a few dozen bytes, not the field
    const o = await solver.optics(camera, cfg.optics.unreactedThreshold);
    // θs is extrapolated from the wall cell (SPEC §1): the one step that crosses a cut-off can carry
    // it past 0 or 1, which no concentration can be; report the bound and say so
    const outside = stats.minSurfaceTheta < 0 ? stats.minSurfaceTheta : stats.maxSurfaceTheta > 1 ? stats.maxSurfaceTheta : null;
    // (not before any step ran, nor when the run is being refused: the state is then measured under
    // a current refused for taking θs beyond [0, 1], and measured again once that is known)
    if (outside !== null && !overshootWarned && !limit && steps > 0) {
      overshootWarned = true;
      warnings.push(`the step that reached the cut-off at t = ${fmtTime(time)} took the surface to θs = ${outside.toFixed(3)}, reported as ${outside < 0 ? 0 : 1}: the cut-off time is resolved to one time step (${fmtTime(lastDt)}); a finer grid.spacing_um resolves it better`);
    }
    return {
      time_s: time,
      capacity_mAh_g: (problem.theta0 - stats.meanTheta) * Q,
      meanTheta: stats.meanTheta,
      minSurfaceTheta: Math.min(1, Math.max(0, stats.minSurfaceTheta)),
      maxSurfaceTheta: Math.min(1, Math.max(0, stats.maxSurfaceTheta)),
      comOffset_um: o.comOffset_um,
      comOffsetRel: o.comOffsetRel,
      comOffsetVector_um: comVector(o),
      unreactedFraction: o.unreactedFraction,
    };
  };

  /** Records what is due at time t: a trace row (due, or forced), a snapshot (requested, or the final one). */
  const output = async (forceTrace: boolean, finalSnap = false) => {
    const tol = 1e-6 * Math.max(1, t);
    const snapDue = nextSnap < snapTimes.length && Math.abs(snapTimes[nextSnap] - t) <= tol;
    const traceDue = forceTrace || t >= nextTrace - tol;
    if (!snapDue && !traceDue && !finalSnap) return;
    const stats = await solver.stats();
    const w = widenRange(problem, range, dtMax, stats, t);
    range = w.range;
    dtMax = w.dtMax;
    if (w.warning) warnings.push(w.warning);
    const meas = await measure(t, stats);
    if (traceDue) {
      trace.push(meas);
      while (nextTrace <= t + tol) nextTrace += traceEvery;
    }
    if ((snapDue || finalSnap) && options.keepSnapshots !== false) {
      snapshots.push({ ...meas, name: `theta_${String(Math.round(t)).padStart(4, '0')}s`, field: await solver.field(), final: !snapDue });
    }
    if (snapDue) nextSnap++;
  };

  /** Measures the state at t again (after a setStep) for the trace row and snapshot already taken at t. */
  const remeasure = async () => {
    const tol = 1e-6 * Math.max(1, t);
    const meas = await measure(t, await solver.stats());
    if (trace.length && Math.abs(trace[trace.length - 1].time_s - t) <= tol) trace[trace.length - 1] = meas;
    snapshots.forEach((s, i) => { if (Math.abs(s.time_s - t) <= tol) snapshots[i] = { ...s, ...meas }; });
  };

  // state at t = 0 (snapshot at 0 if requested); the first step's flux sign sets θs
  solver.setStep(stepParams(problem, cfg.protocol[0], dtMax));
  await output(true);

  /** The lowest (charge) or highest (discharge) θ of the wall cells, the cells the flux goes through. */
  const wallExtreme = (field: Float32Array, charge: boolean): number => {
    let v = charge ? Infinity : -Infinity;
    for (const i of problem.grid.walls.index) v = charge ? Math.min(v, field[i]) : Math.max(v, field[i]);
    return v;
  };

  /**
   * Before the first step of a charge / discharge: a current whose surface value θs is already
   * beyond [0, 1], or one step of which could take a wall cell out of [0, 1], is more than diffusion
   * can supply: a SimulationLimitError (with the largest current this state could take). A step that
   * begins at its cut-off ends at once ('cutoff'): wall cells already at it (an earlier step of the
   * same direction stopped there, or by the range guard just before it), whatever the current, and
   * a current too large for a wall the last current step of the same direction left at its cut-off;
   * else the surface under this current at it. All of it is about the wall: after a charge the core is
   * still at θ0 (1 in a fresh particle), which says nothing about a discharge.
   */
  const checkStart = async (step: SimulationConfig['protocol'][number], k: number, guardDt_s: number): Promise<'ok' | 'cutoff'> => {
    // θs for this step's flux (setStep came first), as the solver's stop test sees it
    const stats = await solver.stats();
    const charge = step.step === 'charge';
    const cut = charge ? cfg.cutoff.surfaceTheta : cfg.cutoff.surfaceThetaMax;
    const past = (v: number) => (charge ? v <= cut : v >= cut);
    const dTheta = maxWallQuantaPerStep(problem, step, guardDt_s) * INV_QUANTA;
    const stepBeyond = (wall: number) => (charge ? wall - dTheta < 0 : wall + dTheta > 1);
    // the field's extreme bounds the wall cells' (and is at hand): the wall cells are read only when that bound fails
    let field: Float32Array | null = null, wall = charge ? stats.minTheta : stats.maxTheta;
    const readWall = async (): Promise<Float32Array> => {
      if (!field) {
        field = await solver.field();
        wall = wallExtreme(field, charge);
      }
      return field;
    };
    if (past(wall) || stepBeyond(wall)) await readWall();
    if (past(wall)) return 'cutoff';
    const atCutoff = surfaceAtCutoff(stats, step.step, cfg.cutoff);
    const surfaceBeyond = charge ? stats.minSurfaceTheta <= 0 : stats.maxSurfaceTheta >= 1;
    // a current beyond what diffusion supplies is an error even though its surface is past the cut-off too
    if (!surfaceBeyond && !stepBeyond(wall)) return atCutoff ? 'cutoff' : 'ok';
    // … unless the last current step went the same way and ended at its cut-off (or by the range
    // guard, within a step of θ = 0 or 1): the wall is spent, which is that cut-off again
    const prev = [...protocolLog].reverse().find((p) => p.step !== 'rest');
    if (prev && prev.step === step.step && prev.endReason === 'cutoff') return 'cutoff';
    const f = await readWall();
    // the largest current this state takes: θs and one step's change are both proportional to i
    const i = step.current_mA_g as number;
    const { index, surfaceOffset_m } = problem.grid.walls;
    const sf = Math.abs(stepParams(problem, step, guardDt_s).surfaceFactor);
    let ratio = charge ? wall / dTheta : (1 - wall) / dTheta;
    for (let w = 0; w < index.length; w++) {
      const room = charge ? phiOf(problem.table, f[index[w]]) - phiOf(problem.table, 0) : phiOf(problem.table, 1) - phiOf(problem.table, f[index[w]]);
      if (surfaceOffset_m[w] > 0) ratio = Math.min(ratio, room / (sf * surfaceOffset_m[w]));
    }
    const where = charge ? 'below 0' : 'above 1';
    const what = surfaceBeyond
      ? `the ${step.step} step would take the surface to θ = ${fmtTheta(charge ? stats.minSurfaceTheta : stats.maxSurfaceTheta)} (${where})`
      : `one time step of the ${step.step} would take a wall cell to θ = ${fmtTheta(charge ? wall - dTheta : wall + dTheta)} (${where})`;
    const message = `protocol[${k}].current_mA_g = ${i} is more than diffusion can ${charge ? 'bring to' : 'carry away from'} the particle surface: ${what} at t = ${fmtTime(t)}; at most about ${floorSignificant(i * ratio, 2)} mA/g on this grid (a finer grid.spacing_um resolves the surface better)`;
    limit = { reason: charge ? 'surface-depleted' : 'surface-saturated', message };
    return 'ok';
  };

  for (const [k, step] of cfg.protocol.entries()) {
    const start = t;
    const end = t + step.duration_min * 60;
    let reason: StepRecord['endReason'] = 'duration';
    // the range guard holds for every Δt ≤ this one (dtMax only shrinks)
    const guardDt = dtMax;
    solver.setStep(stepParams(problem, step, dtMax, guardDt));
    if (step.step !== 'rest') {
      // before the first step: could one step take a wall cell out of [0, 1], or does this current
      // already put the surface beyond it? (later steps: the solver's guard, problem.ts)
      const verdict = await checkStart(step, k, guardDt);
      if (limit) {
        // the state as it was left is measured under the current that left it (none before the
        // first step), not under the refused one: its θs would be beyond [0, 1]
        solver.setStep(stepParams(problem, k > 0 ? cfg.protocol[k - 1] : { step: 'rest', duration_min: 0 }, dtMax, guardDt));
        await remeasure();
        protocolLog.push({ step: step.step, current_mA_g: step.current_mA_g ?? 0, start_s: start, end_s: t, endReason: limit.reason });
        break;
      }
      if (verdict === 'cutoff') {
        warnings.push(`the ${step.step} step (protocol[${k}]) ended at once, at t = ${fmtTime(t)}: the surface is at its cut-off when it begins`);
        protocolLog.push({ step: step.step, current_mA_g: step.current_mA_g ?? 0, start_s: start, end_s: t, endReason: 'cutoff' });
        stopReason = 'cutoff';
        continue;
      }
    }
    while (t < end - EPS_T * Math.max(1, end)) {
      if (options.signal?.aborted) throw stopped();
      const tNext = Math.min(end, nextTrace, nextSnap < snapTimes.length ? snapTimes[nextSnap] : Infinity);
      const span = tNext - t;
      const n = Math.max(1, Math.ceil(span / dtMax - 1e-9));
      const dt = span / n;
      dts.add(Number(dt.toPrecision(6)));
      lastDt = dt;
      solver.setStep(stepParams(problem, step, dt, guardDt));
      const res = await advanceInChunks(solver, n, problem.grid.cells, options.signal, (done) => options.onProgress?.(Math.min(1, (t + done * dt) / total_s), `t = ${((t + done * dt) / 60).toFixed(1)} min`));
      steps += res.steps;
      const sEff = problem.grid.sBarEffective;
      if (res.stopped) {
        if (t === start && res.steps <= 1) warnings.push(`the ${step.step} step (protocol[${k}]) reached its cut-off on its first time step (${fmtTime(dt)}): at ${step.current_mA_g} mA/g the surface meets it at once; a lower current runs longer`);
        t += res.steps * dt;
        const passed = ((step.current_mA_g ?? 0) * sEff * res.steps * dt) / 3600;
        applied += stepSign(step.step) * passed;
        throughput += passed;
        reason = 'cutoff';
        await output(true);
        if (res.reason === 'range') {
          // the wall is within one step of empty (full) before θs reached the cut-off: that is the
          // cut-off's meaning, so the step ends as there
          const charge = step.step === 'charge';
          const wall = wallExtreme(await solver.field(), charge);
          warnings.push(`the ${step.step} step (protocol[${k}]) stopped at t = ${fmtTime(t)}: the wall cells came within one time step of θ = ${charge ? 0 : 1} (wall θ ${charge ? 'min' : 'max'} = ${wall.toFixed(4)}) before the surface reached ${charge ? `cutoff.surfaceTheta = ${cfg.cutoff.surfaceTheta}` : `cutoff.surfaceThetaMax = ${cfg.cutoff.surfaceThetaMax}`}`);
        }
        break;
      }
      const passed = ((step.current_mA_g ?? 0) * sEff * span) / 3600;
      applied += stepSign(step.step) * passed;
      throughput += passed;
      t = tNext;
      await output(false);
      options.onProgress?.(Math.min(1, t / total_s), `t = ${(t / 60).toFixed(1)} min`);
    }
    protocolLog.push({ step: step.step, current_mA_g: step.current_mA_g ?? 0, start_s: start, end_s: t, endReason: reason });
    stopReason = reason === 'cutoff' ? 'cutoff' : 'protocol-end';
    if (limit) break;
  }
  if (limit) stopReason = limit.reason;
  // the final state, as a trace row and a snapshot, unless they were just recorded
  const tol = 1e-6 * Math.max(1, t);
  const needTrace = !trace.length || Math.abs(trace[trace.length - 1].time_s - t) > tol;
  const needSnap = !snapshots.length || Math.abs(snapshots[snapshots.length - 1].time_s - t) > tol;
  if (needTrace || needSnap) await output(needTrace, needSnap);
  // the end state is flagged even when it falls on a requested snapshot time
  for (const s of snapshots) if (Math.abs(s.time_s - t) <= tol) s.final = true;
  // one line for all the missed snapshots (a run that stops early can miss dozens)
  const missed = snapTimes.slice(nextSnap).map((s) => s / 60);
  if (missed.length) warnings.push(`${missed.length === 1 ? 'snapshot' : 'snapshots'} at ${missed.join(', ')} min not taken: the run ended at ${(t / 60).toFixed(2)} min`);

  const finalMean = trace[trace.length - 1].meanTheta;
  const extracted = (problem.theta0 - finalMean) * Q;
  const relativeError = Math.abs(extracted - applied) / Math.max(throughput, 1e-12 * Q);
  const resolution = ((steps * 0.5 * INV_QUANTA) / problem.grid.cells) * Q;
  const conservation: ConservationCheck = {
    extracted_mAh_g: extracted,
    applied_mAh_g: applied,
    relativeError,
    resolution_mAh_g: resolution,
    // within the tolerance of the charge passed plus what the whole-quanta wall flux can account
    // for; a run with (almost) no charge passed: absolutely, at the state's resolution
    ok: Math.abs(extracted - applied) <= Math.max(1e-9 * Q, CONSERVATION_TOLERANCE * Math.max(throughput, 1e-12 * Q) + resolution),
  };
  const result: RunResult = {
    stopReason,
    time_s: t,
    extractedCapacity_mAh_g: (problem.theta0 - finalMean) * Q,
    extractedTheta: problem.theta0 - finalMean,
    appliedCapacity_mAh_g: applied,
    steps,
    wallTime_s: (performance.now() - t0) / 1000,
    trace,
    snapshots,
    protocol: protocolLog,
    dt_s: [...dts].sort((a, b) => a - b),
    warnings,
    conservation,
    ...(limit ? { stopMessage: limit.message } : {}),
  };
  if (!conservation.ok) {
    throw new Error(`conservation check failed: the state holds ${extracted.toPrecision(7)} mAh/g extracted, the applied current passed ${applied.toPrecision(7)} mAh/g (relative error ${relativeError.toExponential(2)} > ${CONSERVATION_TOLERANCE}, beyond the ${resolution.toExponential(2)} mAh/g the whole-quanta wall flux can account for); this result is wrong, please report it with the config`);
  }
  if (limit) throw new SimulationLimitError(limit.message, limit.reason, result);
  return result;
}

/**
 * θ left the range Δt was chosen for: widen it (SPEC §1) so that the next steps stay stable. A
 * warning only when Δt changes (D_max over the wider range may be the same), from what to what.
 */
export function widenRange(problem: Problem, range: [number, number], dtMax: number, stats: FieldStats, t_s: number): { range: [number, number]; dtMax: number; warning?: string } {
  if (stats.minTheta >= range[0] && stats.maxTheta <= range[1]) return { range, dtMax };
  const wider: [number, number] = [Math.max(0, Math.min(range[0], stats.minTheta - 0.05)), 1];
  const dt = maxStableDt(problem, wider);
  if (dt === dtMax) return { range: wider, dtMax };
  return { range: wider, dtMax: dt, warning: `θ reached ${stats.minTheta.toFixed(3)} at t = ${t_s.toFixed(1)} s: time step re-chosen from ${dtMax.toExponential(3)} s to ${dt.toExponential(3)} s` };
}

/** θ for messages: "-0.35", "-1.2e+7" */
function fmtTheta(theta: number): string {
  if (theta !== 0 && Math.abs(theta) < 0.01) return theta.toPrecision(2); // "-0.0031", not "-0.00"
  return Math.abs(theta) < 100 ? theta.toFixed(2) : theta.toExponential(1);
}

/** x rounded down to `digits` significant digits: a largest current named in a message is then one that runs */
function floorSignificant(x: number, digits: number): number {
  if (!(x > 0)) return x;
  const p = 10 ** (Math.floor(Math.log10(x)) - digits + 1);
  return Number((Math.floor(x / p * (1 + 1e-12)) * p).toPrecision(digits));
}

/**
 * Whether a charge / discharge step that begins in this state is at its cut-off already (and ends at
 * once): its surface value θs under the step's own current (`stats` taken after its setStep), as the
 * solvers' stop test sees it — not the field's extremes, which after a charge of a fresh particle
 * hold the core at θ0 = 1 and said every following discharge was done.
 */
export function surfaceAtCutoff(stats: FieldStats, step: SimulationConfig['protocol'][number]['step'], cutoff: SimulationConfig['cutoff']): boolean {
  if (step === 'rest') return false;
  return step === 'charge' ? stats.minSurfaceTheta <= cutoff.surfaceTheta : stats.maxSurfaceTheta >= cutoff.surfaceThetaMax;
}

/** "0.3 s", "2.5e-7 s", "12.0 min": a time for messages */
function fmtTime(t_s: number): string {
  if (t_s === 0) return '0 s';
  if (t_s < 0.01) return `${t_s.toExponential(1)} s`;
  if (t_s < 600) return `${Number(t_s.toPrecision(3))} s`;
  return `${(t_s / 60).toFixed(1)} min`;
}
