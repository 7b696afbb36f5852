/**
 * The time loop: walks the protocol (charge / discharge / rest), splits it at every output time
 * (trace rows, snapshots, step ends), picks the explicit Δt itself, lets the solver take the steps,
 * and measures the outputs. It drives the CPU and the GPU solver alike.
 */
import { createCamera, forwardModel, type Camera, type CameraImage } from '../optics/forward';
import { unreactedStats, type UnreactedStats } from '../imaging/unreacted';
import { maxStableDt, reachableRange, stepParams, stepSign, type Problem } from './problem';
import type { FieldStats, Solver } from './types';

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
  endReason: 'duration' | 'cutoff';
}

export interface RunResult {
  stopReason: 'cutoff' | 'protocol-end';
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

/** unreacted COM − particle COM in physical axes (x right, y up; image rows grow downward) */
function comVector(s: UnreactedStats): [number, number] | null {
  return s.unreactedCom_um ? [s.unreactedCom_um[0] - s.particleCom_um[0], -(s.unreactedCom_um[1] - s.particleCom_um[1])] : null;
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
  let t = 0, steps = 0, applied = 0;
  let stopReason: RunResult['stopReason'] = 'protocol-end';

  const camera = createCamera(problem.grid, cfg.optics);
  const measure = async (time: number, stats: FieldStats): Promise<Measurement> => {
    // on the GPU solver this runs on the GPU and reads back a few dozen bytes, not the field
    const o = await solver.optics(camera, cfg.optics.unreactedThreshold);
    return {
      time_s: time,
      capacity_mAh_g: (problem.theta0 - stats.meanTheta) * Q,
      meanTheta: stats.meanTheta,
      minSurfaceTheta: stats.minSurfaceTheta,
      maxSurfaceTheta: stats.maxSurfaceTheta,
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
    if (stats.minTheta < range[0] || stats.maxTheta > range[1]) {
      // θ left the range Δt was chosen for: widen it (SPEC §1) so the next steps stay stable
      range = [Math.max(0, Math.min(range[0], stats.minTheta - 0.05)), 1];
      dtMax = maxStableDt(problem, range);
      warnings.push(`θ reached ${stats.minTheta.toFixed(3)} at t = ${t.toFixed(1)} s: time step re-chosen (${dtMax.toExponential(3)} s)`);
    }
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

  // state at t = 0 (snapshot at 0 if requested); the first step's flux sign sets θs
  solver.setStep(stepParams(problem, cfg.protocol[0], dtMax));
  await output(true);

  for (const step of cfg.protocol) {
    const start = t;
    const end = t + step.duration_min * 60;
    let reason: StepRecord['endReason'] = 'duration';
    solver.setStep(stepParams(problem, step, dtMax));
    while (t < end - EPS_T * Math.max(1, end)) {
      if (options.signal?.aborted) throw new Error('simulation stopped');
      const tNext = Math.min(end, nextTrace, nextSnap < snapTimes.length ? snapTimes[nextSnap] : Infinity);
      const span = tNext - t;
      const n = Math.max(1, Math.ceil(span / dtMax - 1e-9));
      const dt = span / n;
      dts.add(Number(dt.toPrecision(6)));
      solver.setStep(stepParams(problem, step, dt));
      const res = await solver.advance(n);
      steps += res.steps;
      const sEff = problem.grid.sBarEffective;
      if (res.stopped) {
        t += res.steps * dt;
        applied += (stepSign(step.step) * (step.current_mA_g ?? 0) * sEff * res.steps * dt) / 3600;
        reason = 'cutoff';
        await output(true);
        break;
      }
      applied += (stepSign(step.step) * (step.current_mA_g ?? 0) * sEff * span) / 3600;
      t = tNext;
      await output(false);
      options.onProgress?.(Math.min(1, t / total_s), `t = ${(t / 60).toFixed(1)} min`);
    }
    protocolLog.push({ step: step.step, current_mA_g: step.current_mA_g ?? 0, start_s: start, end_s: t, endReason: reason });
    stopReason = reason === 'cutoff' ? 'cutoff' : 'protocol-end';
  }
  // the final state, as a trace row and a snapshot, unless they were just recorded
  const tol = 1e-6 * Math.max(1, t);
  const needTrace = !trace.length || Math.abs(trace[trace.length - 1].time_s - t) > tol;
  const needSnap = !snapshots.length || Math.abs(snapshots[snapshots.length - 1].time_s - t) > tol;
  if (needTrace || needSnap) await output(needTrace, needSnap);
  // the end state is flagged even when it falls on a requested snapshot time
  for (const s of snapshots) if (Math.abs(s.time_s - t) <= tol) s.final = true;
  for (const s of snapTimes.slice(nextSnap)) warnings.push(`snapshot at ${s / 60} min not taken: the run ended at ${(t / 60).toFixed(2)} min`);

  const finalMean = trace[trace.length - 1].meanTheta;
  return {
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
  };
}
