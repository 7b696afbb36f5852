/**
 * The live time loop: the protocol of src/solver/run.ts (runSimulation), cut into slices of at most
 * `budget` steps so that a page can take a few steps per animation frame. The time splitting is
 * runSimulation's own — a segment ends at every trace time (output.traceInterval_s) and step end,
 * n = ⌈span/Δt_max⌉ steps of Δt = span/n, the range guard's Δt fixed per protocol step, θ-range
 * widening after each output, a step cut short by the cut-off followed at once by the next — so
 * that a run left alone gives the trace `ionflux simulate` gives on the exported config
 * (test/demo/demo.gpu.test.ts checks it). It drives any Solver (GpuSolver in the page, CpuSolver
 * in the fallback's worker).
 *
 * Copied from runSimulation's check before a charge / discharge step: a state already at that
 * step's cut-off ends it at once. Not copied: its other half (a current more than diffusion can carry
 * is an error in the CLI; here the range guard stops the step and the run goes on) and snapshots
 * (the page draws the field live). test/demo/liveRun.test.ts holds the two loops together.
 */
import { createCamera, type Camera, type FieldStats, type Problem, type Solver, type UnreactedStats } from '../../src/browser';
import { maxStableDt, reachableRange, stepParams, stepSign } from '../../src/solver/problem';
import { surfaceAtCutoff, widenRange, type Measurement } from '../../src/solver/run';

/** A trace row of the page: the CLI's Measurement (src/solver/run.ts) plus what the plots need. */
export interface TraceRow extends Measurement {
  /** charge the applied current passed, mAh/g (= capacity on charge, by conservation) */
  chargePassed_mAh_g: number;
  /** mean ΔI/I0 over the particle (forward model) */
  meanDiff: number;
}

const EPS_T = 1e-9;

/**
 * Everything a LiveRun needs to go on from where it was: the solver's exact state (Solver.readState)
 * and the loop's own position in the protocol. Plain data (it crosses postMessage to the CPU worker).
 */
export interface LiveCheckpoint {
  /** the fixed-point state q (src/solver/quanta.ts) */
  q: Int32Array;
  /** simulated time reached, s (inside a segment included) */
  time_s: number;
  chargePassed_mAh_g: number;
  t: number;
  steps: number;
  trace: TraceRow[];
  done: boolean;
  stopReason: LiveRun['stopReason'];
  stepIndex: number;
  applied: number;
  range: [number, number];
  dtMax: number;
  nextTrace: number;
  guardDt: number;
  stepBegin: number | null;
  seg: { start: number; end: number; dt: number; left: number; taken: number } | null;
}

export class LiveRun {
  camera: Camera;
  t = 0;
  steps = 0;
  trace: TraceRow[] = [];
  done = false;
  stopReason: 'cutoff' | 'protocol-end' | null = null;
  /** the protocol step running now (index into config.protocol) */
  stepIndex = 0;
  private applied = 0;
  private range: [number, number];
  private dtMax: number;
  private nextTrace = 0;
  private guardDt = 0;
  /** the time the running protocol step began, s (null before it begins) */
  private stepBegin: number | null = null;
  /** the segment being stepped: start time, end time, its Δt, steps taken and left */
  private seg: { start: number; end: number; dt: number; left: number; taken: number } | null = null;

  constructor(public problem: Problem, public solver: Solver, camera?: Camera) {
    this.camera = camera ?? createCamera(problem.grid, problem.config.optics);
    this.range = reachableRange(problem);
    this.dtMax = maxStableDt(problem, this.range);
  }

  /** Measures the state at t = 0 (the first trace row). */
  async start(): Promise<void> {
    this.solver.setStep(stepParams(this.problem, this.problem.config.protocol[0], this.dtMax));
    await this.output(true);
  }

  /** Δt of the steps being taken, s (the largest stable one between segments). */
  get dt_s(): number {
    return this.seg?.dt ?? this.dtMax;
  }

  /** Simulated time reached, s, with the steps of a segment in progress. */
  get timeNow_s(): number {
    return this.seg ? this.seg.start + this.seg.taken * this.seg.dt : this.t;
  }

  /** Charge the applied current has passed so far, mAh/g. */
  get chargePassed_mAh_g(): number {
    const step = this.problem.config.protocol[this.stepIndex];
    const partial = this.seg && step ? this.passed(step, this.seg.taken * this.seg.dt) : 0;
    return this.applied + partial;
  }

  private passed(step: Problem['config']['protocol'][number], dt_s: number): number {
    return (stepSign(step.step) * (step.current_mA_g ?? 0) * this.problem.grid.sBarEffective * dt_s) / 3600;
  }

  /**
   * A checkpoint of the run as it stands (call between advances: the page's solver queue does).
   * The loop's numbers are taken before the state is read back, so both describe the same moment.
   */
  async checkpoint(): Promise<LiveCheckpoint> {
    const cp = {
      time_s: this.timeNow_s, chargePassed_mAh_g: this.chargePassed_mAh_g,
      t: this.t, steps: this.steps, trace: this.trace.slice(), done: this.done, stopReason: this.stopReason,
      stepIndex: this.stepIndex, applied: this.applied, range: [...this.range] as [number, number], dtMax: this.dtMax,
      nextTrace: this.nextTrace, guardDt: this.guardDt, stepBegin: this.stepBegin, seg: this.seg ? { ...this.seg } : null,
    };
    return { ...cp, q: await this.solver.readState() };
  }

  /**
   * The run of `checkpoint` going on with `solver` (a fresh one of the same problem, on any device
   * or the CPU): its state is written into the solver, and a segment in progress goes on with the
   * same Δt, so that the run continues step for step as the one checkpointed would have.
   */
  static resume(problem: Problem, solver: Solver, cp: LiveCheckpoint, camera?: Camera): LiveRun {
    const run = new LiveRun(problem, solver, camera);
    solver.writeState(cp.q);
    run.t = cp.t;
    run.steps = cp.steps;
    run.trace = cp.trace.slice();
    run.done = cp.done;
    run.stopReason = cp.stopReason;
    run.stepIndex = cp.stepIndex;
    run.applied = cp.applied;
    run.range = [...cp.range];
    run.dtMax = cp.dtMax;
    run.nextTrace = cp.nextTrace;
    run.guardDt = cp.guardDt;
    run.stepBegin = cp.stepBegin;
    run.seg = cp.seg ? { ...cp.seg } : null;
    const step = problem.config.protocol[run.stepIndex];
    if (run.seg && step) solver.setStep(stepParams(problem, step, run.seg.dt, run.guardDt));
    return run;
  }

  /**
   * Swaps in a new problem and solver that hold the same state (the caller copied it: new wall
   * weights after painting, a new diffusivity, protocol or cut-off). The segment in progress ends
   * where it got to and the next one is planned with the new constants.
   */
  replace(problem: Problem, solver: Solver, camera?: Camera): void {
    if (this.seg) {
      const step = this.problem.config.protocol[this.stepIndex];
      if (step) this.applied += this.passed(step, this.seg.taken * this.seg.dt);
      this.t = this.seg.start + this.seg.taken * this.seg.dt;
      this.seg = null;
    }
    this.problem = problem;
    this.solver = solver;
    this.camera = camera ?? createCamera(problem.grid, problem.config.optics);
    this.range = reachableRange(problem);
    this.dtMax = maxStableDt(problem, this.range);
    this.guardDt = this.dtMax;
    // a longer protocol than the one that ended: go on
    if (this.done) {
      this.done = false;
      this.stepIndex = 0;
      this.stepBegin = 0;
      // walk the new protocol's steps to the one running at t
      while (this.stepIndex < problem.config.protocol.length && this.t >= (this.stepBegin as number) + problem.config.protocol[this.stepIndex].duration_min * 60 - EPS_T * Math.max(1, this.t)) {
        this.stepBegin = (this.stepBegin as number) + problem.config.protocol[this.stepIndex].duration_min * 60;
        this.stepIndex++;
      }
      if (this.stepIndex >= problem.config.protocol.length) this.done = true;
    }
  }

  /**
   * Takes up to `budget` steps (fewer at the end of a segment, the cut-off or the protocol's end),
   * measuring a trace row at every trace time. Returns the steps taken.
   */
  async advance(budget: number): Promise<number> {
    let taken = 0;
    await this.settle();
    while (taken < budget && !this.done) {
      const step = this.problem.config.protocol[this.stepIndex];
      const end = (this.stepBegin as number) + step.duration_min * 60;
      if (!this.seg) {
        const tNext = Math.min(end, this.nextTrace);
        const span = tNext - this.t;
        const n = Math.max(1, Math.ceil(span / this.dtMax - 1e-9));
        const dt = span / n;
        this.solver.setStep(stepParams(this.problem, step, dt, this.guardDt));
        this.seg = { start: this.t, end: tNext, dt, left: n, taken: 0 };
      }
      const seg = this.seg;
      const res = await this.solver.advance(Math.min(budget - taken, seg.left));
      taken += res.steps;
      this.steps += res.steps;
      seg.taken += res.steps;
      seg.left -= res.steps;
      if (res.stopped) {
        this.t = seg.start + seg.taken * seg.dt;
        this.applied += this.passed(step, seg.taken * seg.dt);
        this.seg = null;
        await this.output(true);
        this.nextStep('cutoff');
      } else if (seg.left <= 0) {
        this.applied += this.passed(step, seg.end - seg.start);
        this.t = seg.end;
        this.seg = null;
        await this.output(false);
      }
      await this.settle();
    }
    return taken;
  }

  /**
   * Between segments: ends the protocol steps whose time is up, begins the next one (its range
   * guard's Δt), and finishes the run (the last trace row) when no step is left.
   */
  private async settle(): Promise<void> {
    if (this.seg || this.done) return;
    for (;;) {
      const step = this.problem.config.protocol[this.stepIndex];
      if (!step) { await this.finish(); return; }
      if (this.stepBegin === null) {
        this.stepBegin = this.t;
        this.guardDt = this.dtMax; // the range guard holds for every Δt ≤ this one
        if (step.step !== 'rest') {
          // as runSimulation's checkStart: a step whose cut-off the state is already at ends at once
          this.solver.setStep(stepParams(this.problem, step, this.dtMax, this.guardDt));
          const st = await this.solver.stats();
          const c = this.problem.config.cutoff;
          if (surfaceAtCutoff(st, step.step, c)) {
            this.nextStep('cutoff');
            continue;
          }
        }
      }
      const end = this.stepBegin + step.duration_min * 60;
      if (this.t < end - EPS_T * Math.max(1, end)) return;
      this.nextStep('protocol-end');
    }
  }

  private nextStep(reason: 'cutoff' | 'protocol-end'): void {
    this.stopReason = reason;
    this.stepIndex++;
    this.stepBegin = null;
  }

  private async finish(): Promise<void> {
    const tol = 1e-6 * Math.max(1, this.t);
    const last = this.trace[this.trace.length - 1];
    if (!last || Math.abs(last.time_s - this.t) > tol) await this.output(true);
    this.done = true;
  }

  private async output(force: boolean): Promise<void> {
    const tol = 1e-6 * Math.max(1, this.t);
    if (!force && this.t < this.nextTrace - tol) return;
    const stats = await this.solver.stats();
    const w = widenRange(this.problem, this.range, this.dtMax, stats, this.t);
    this.range = w.range;
    this.dtMax = w.dtMax;
    const o = await this.solver.optics(this.camera, this.problem.config.optics.unreactedThreshold);
    this.trace.push(traceRow(this.problem, this.t, stats, o, this.applied));
    while (this.nextTrace <= this.t + tol) this.nextTrace += this.problem.config.output.traceInterval_s;
  }
}

function traceRow(problem: Problem, t: number, stats: FieldStats, o: UnreactedStats, applied: number): TraceRow {
  const Q = problem.config.material.capacity_mAh_g;
  return {
    time_s: t,
    capacity_mAh_g: (problem.theta0 - stats.meanTheta) * Q,
    chargePassed_mAh_g: applied,
    meanTheta: stats.meanTheta,
    minSurfaceTheta: Math.min(1, Math.max(0, stats.minSurfaceTheta)),
    maxSurfaceTheta: Math.min(1, Math.max(0, stats.maxSurfaceTheta)),
    comOffset_um: o.comOffset_um,
    comOffsetRel: o.comOffsetRel,
    comOffsetVector_um: o.unreactedCom_um ? [o.unreactedCom_um[0] - o.particleCom_um[0], -(o.unreactedCom_um[1] - o.particleCom_um[1])] : null,
    unreactedFraction: o.unreactedFraction,
    meanDiff: o.meanDiff,
  };
}
