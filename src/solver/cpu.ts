/**
 * The TypeScript reference solver: the same discretisation as the WGSL kernels, step for step, on
 * the fixed-point state q = ξ·QUANTA (ξ = θ0 − θ; see quanta.ts for why fixed point). Φ̃ is float32
 * (as on the GPU); each flux is evaluated in float64 and truncated to whole quanta.
 *   Φ̃_i = Φ(θ_i)/D_scale                                      (table lookup, linear interpolation)
 *   q_i ← q_i − Σ_{inside nbrs j} trunc(r·QUANTA·(Φ̃_j − Φ̃_i))  (Kirchhoff face fluxes, r = Δt·D_scale/h²)
 *   q_w ← q_w + wallQuanta_w                                    (wall cells: boundary flux, quanta.ts)
 *   Φ̃(θs_w) = Φ̃(θ_w) − surfaceFactor·surfaceOffset_w          (true wall value, checked against the cut-off)
 * The bulk of a step runs as WebAssembly SIMD where the engine has it (cpuWasm.ts), else in JS
 * (cpuKernels.ts); every kernel gives the same int32 state, bit for bit (test/solver/cpuWasm.test.ts).
 */
import { phiOf, thetaOfPhi } from '../model/diffusivity';
import { fusedRows, phiRuns, rowTable, stencilRuns } from './cpuKernels';
import { WasmStepper, type WallStep } from './cpuWasm';
import type { CpuThreads, HandshakeTestHooks } from './cpuThreads';
import type { Problem, StepParams } from './problem';
import type { AdvanceResult, FieldStats, Solver } from './types';
import { forwardModel, type Camera } from '../optics/forward';
import { unreactedStats, type UnreactedStats } from '../observables/unreacted';
import { INV_QUANTA, OUTSIDE_Q, QUANTA, stateMismatch, thetaField, wallQuanta } from './quanta';

/**
 * Grids with at least this many particle cells use a second thread where one is available. Measured
 * with the wasm step on the quiet 2-core VM (`ionflux bench --only "cpu threads"`, docs/performance.md),
 * 2 threads / 1 thread: 1.67 at 5 k cells, 1.77 at 11 k (fig4c), 1.79 at 45 k and 181 k — since both threads spin ~0.2 ms
 * before sleeping (a futex wake cost ~40–70 µs per step, which had put the threshold at 32 k cells),
 * small grids take 2 chunks of rows instead of 16, and each thread does its own chunk's wall cells
 * (1.41–1.77 before that, 2026-12-02). While other processes keep both cores busy a
 * second thread gets no CPU of its own and costs 5–20 %.
 */
export const THREAD_MIN_CELLS = 1 << 12;

/**
 * The step arithmetic (all bit-identical): 'auto' = 'wasm' where WebAssembly SIMD exists, else 'js';
 * 'wasm' / 'wasm-scalar' the fused WebAssembly step (cpuWasm.ts), 'js' the same fused pass in JS
 * (cpuKernels.ts fusedRows), 'split' the Φ̃ array pass then the stencil pass (phiRuns, stencilRuns);
 * 'wasm-rect' = 'wasm' sweeping the particle's bounding box on every row (for the benchmark).
 */
export type CpuKernel = 'auto' | 'wasm' | 'wasm-scalar' | 'wasm-rect' | 'js' | 'split';

export class CpuSolver implements Solver {
  /** what steps, e.g. 'cpu (wasm SIMD, 2 threads)' (see `backend`) */
  private label = 'cpu (TypeScript reference)';
  readonly bytesPerCell: number;
  /** the two state buffers q = ξ·QUANTA (OUTSIDE_Q outside); cur is the current state */
  private readonly bufs: [Int32Array, Int32Array];
  private cur: 0 | 1 = 0;
  private threads: CpuThreads | null = null;
  /** Φ̃ per cell; NaN outside, so that fluxes to outside cells truncate to 0 */
  private readonly phi: Float32Array;
  /** [start, end) linear-index runs of inside cells, flattened */
  private readonly runs: Int32Array;
  private params: StepParams | null = null;
  private quanta: Int32Array<ArrayBuffer>;
  /** the fluxPerStep that `quanta` was made for (NaN: none yet) */
  private quantaFor = NaN;
  /** jsWalls' results: the range guard (1/0), min and max of Φ̃s − sf·offset */
  private readonly jsWallResult = new Float64Array(3);
  private stopped = false;
  /** the wasm step, whose memory holds bufs (null: the JS kernels) */
  private readonly wasm: WasmStepper | null = null;
  /** the fused JS pass's row table and scratch rows (kernel 'js') */
  private readonly fused: { rows: Int32Array; phiA: Float32Array; phiB: Float32Array; fv: Int32Array; spare: Int32Array } | null = null;
  private stopReason: 'cutoff' | 'range' = 'cutoff';
  /** when advance() last let the event loop run (performance.now(), ms) */
  private lastYield = performance.now();

  /**
   * A single-threaded solver. `CpuSolver.create` adds a second thread on large grids in Node.
   * `shared`: allocate the arrays on SharedArrayBuffers (needed for threads). `kernel`: see CpuKernel.
   */
  constructor(private readonly problem: Problem, shared = false, kernel: CpuKernel = 'auto') {
    const { nx, ny, inside } = problem.grid;
    const n = nx * ny;
    const sab = (len: number) => (shared ? new SharedArrayBuffer(4 * len) : new ArrayBuffer(4 * len));
    if (kernel === 'auto' || kernel === 'wasm' || kernel === 'wasm-scalar' || kernel === 'wasm-rect') {
      this.wasm = WasmStepper.create(problem.grid, problem.table.phi, problem.table.N, problem.theta0, INV_QUANTA, { flavour: kernel === 'wasm-scalar' ? 'scalar' : 'simd', mode: kernel === 'wasm-rect' ? 'rect' : 'runs', shared });
      if (!this.wasm && kernel !== 'auto') throw new Error(`CpuSolver: kernel '${kernel}' needs WebAssembly${kernel !== 'wasm-scalar' ? ' SIMD' : ''}${shared ? ' with shared memory' : ''}, which this engine lacks`);
      if (this.wasm) this.label = kernel === 'wasm-scalar' ? 'cpu (wasm)' : 'cpu (wasm SIMD)';
      else kernel = shared ? 'split' : 'js'; // a shared solver is for threads: the split kernels have them
    }
    if (kernel === 'js') {
      this.fused = { rows: rowTable(inside, nx, ny, 'runs'), phiA: new Float32Array(nx + 8).fill(NaN), phiB: new Float32Array(nx + 8).fill(NaN), fv: new Int32Array(nx), spare: new Int32Array(nx) };
    }
    this.bufs = this.wasm ? this.wasm.q : [new Int32Array(sab(n)), new Int32Array(sab(n))];
    this.bufs[0].fill(OUTSIDE_Q);
    this.bufs[1].fill(OUTSIDE_Q);
    this.phi = new Float32Array(sab(this.wasm || this.fused ? 0 : n)).fill(NaN); // the fused passes keep rolling rows instead
    this.quanta = new Int32Array(problem.grid.walls.index.length);
    const runs: number[] = [];
    for (let row = 0; row < ny; row++) {
      let start = -1;
      for (let col = 0; col <= nx; col++) {
        const i = row * nx + col;
        const ins = col < nx && inside[i] === 1;
        if (ins) {
          this.bufs[0][i] = this.bufs[1][i] = 0;
          if (start < 0) start = i;
        } else if (start >= 0) {
          runs.push(start, i);
          start = -1;
        }
      }
    }
    this.runs = shared ? new Int32Array(new SharedArrayBuffer(4 * runs.length)) : new Int32Array(runs.length);
    this.runs.set(runs);
    this.bytesPerCell = this.phi.length ? 12 : 8;
  }

  /**
   * A solver with a second thread when the grid is large and worker threads exist (Node).
   * `threads` and `kernel` force the choices; `handshakeTestHooks` are for the stress tests of the
   * two-thread handshakes (cpuThreads.ts; of the wasm helper: helperDelay_us, helperOffCpu_us, alwaysTwoThreads).
   */
  static async create(problem: Problem, options: { threads?: boolean; kernel?: CpuKernel; handshakeTestHooks?: HandshakeTestHooks } = {}): Promise<CpuSolver> {
    const want = options.threads ?? problem.grid.cells >= THREAD_MIN_CELLS;
    const canThread = typeof SharedArrayBuffer !== 'undefined' && typeof process !== 'undefined' && Boolean(process.versions?.node);
    if (!want || !canThread) return new CpuSolver(problem, false, options.kernel);
    const solver = new CpuSolver(problem, true, options.kernel === 'js' ? 'split' : options.kernel);
    if (solver.wasm) {
      const hooks = options.handshakeTestHooks;
      await solver.wasm.startHelper({ helperDelay_us: hooks?.helperDelay_us, helperOffCpu_us: hooks?.helperOffCpu_us, alwaysTwoThreads: hooks?.alwaysTwoThreads, probeEvery_ms: hooks?.probeEvery_ms });
      solver.label = solver.label.replace(')', ', 2 threads)');
      return solver;
    }
    const { CpuThreads } = await import('./cpuThreads');
    const table = new Float32Array(new SharedArrayBuffer(problem.table.phi.byteLength));
    table.set(problem.table.phi);
    solver.threads = await CpuThreads.start({
      q: solver.bufs, phi: solver.phi, runs: solver.runs, table,
      nx: problem.grid.nx, N: problem.table.N, theta0: problem.theta0, invQuanta: INV_QUANTA,
    }, options.handshakeTestHooks);
    solver.label = 'cpu (TypeScript reference, 2 threads)';
    return solver;
  }

  /** What steps, e.g. 'cpu (wasm SIMD, 2 threads)' (steps that ran on one thread while a core was busy: `pacing`). */
  get backend(): string {
    return this.label;
  }

  /**
   * A line for the user when steps ran on one thread because the two did not have a core each
   * (threadPacer.ts), e.g. '9226 of the steps ran on one thread: another process held a core';
   * null when none did.
   */
  get threadNote(): string | null {
    const solo = this.wasm?.pacing?.soloSteps ?? 0;
    return solo > 0 ? `${solo} of the steps ran on one thread: another process held a core, or two threads were not faster (docs/performance.md)` : null;
  }

  /** The helper thread's pacing (WasmStepper.pacing; null on one thread, with the JS kernels, or with alwaysTwoThreads). */
  get pacing(): WasmStepper['pacing'] {
    return this.wasm?.pacing ?? null;
  }

  setStep(params: StepParams): void {
    this.params = params;
    // a run sets the same Δt segment after segment (one per trace row): the same quanta
    if (params.fluxPerStep !== this.quantaFor) {
      this.quanta = wallQuanta(this.problem.grid.walls.fluxWeight, params.fluxPerStep, this.quanta);
      this.wasm?.setQuanta(this.quanta);
      this.quantaFor = params.fluxPerStep;
    }
    this.stopped = false;
  }

  async advance(n: number): Promise<AdvanceResult> {
    const p = this.params;
    if (!p) throw new Error('CpuSolver.advance: setStep() first');
    if (this.stopped) return { steps: 0, stopped: true, reason: this.stopReason };
    const { surfaceFactor, stopBelowPhi, stopAbovePhi } = p;
    const rQ = p.r * QUANTA;
    const check = stopBelowPhi > -Infinity || stopAbovePhi < Infinity;
    const wallStep: WallStep = { surfaceFactor, guardAboveQ: p.guardAboveQ ?? 0x7fffffff, guardBelowQ: p.guardBelowQ ?? -0x80000000, check };
    // the wasm stepper does the wall flux and stop test in its memory too (the same arithmetic)
    const wasmWalls = this.wasm?.hasWalls ? this.wasm : null;
    const js = this.jsWallResult;
    for (let s = 0; s < n; s++) {
      // the event loop gets a turn every ~100 ms of stepping, counted across calls (a run's many short
      // advance() calls between trace rows would otherwise never give one): Ctrl-C, timers keep working
      if ((s & 15) === 15 && performance.now() - this.lastYield > 100) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        this.lastYield = performance.now();
      }
      const pending = this.wasm ? this.wasm.step(this.cur, rQ, wasmWalls ? wallStep : undefined) : this.jsStep(rQ);
      if (pending) { await pending; this.lastYield = performance.now(); }
      let guard: boolean, minS: number, maxS: number;
      if (wasmWalls) {
        // done with the step (by each chunk's thread for its rows)
        guard = wasmWalls.guard;
        minS = wasmWalls.wallRange[0];
        maxS = wasmWalls.wallRange[1];
      } else {
        this.jsWalls(wallStep);
        guard = js[0] !== 0;
        minS = js[1];
        maxS = js[2];
      }
      this.cur = (1 - this.cur) as 0 | 1;
      // the same order of tests as diffusion_step.wgsl: the range guard first
      if (guard || (check && (minS <= stopBelowPhi || maxS >= stopAbovePhi))) {
        this.stopped = true;
        this.stopReason = guard ? 'range' : 'cutoff';
        return { steps: s + 1, stopped: true, reason: this.stopReason };
      }
    }
    return { steps: n, stopped: false };
  }

  /** One step from bufs[cur] into the other by the JS kernels (fused, two threads, or split). */
  private jsStep(rQ: number): Promise<void> | undefined {
    const q = this.bufs[this.cur], out = this.bufs[1 - this.cur];
    const { nx, ny } = this.problem.grid;
    const table = this.problem.table.phi, N = this.problem.table.N, theta0 = this.problem.theta0;
    if (this.fused) {
      const f = this.fused;
      fusedRows(q, out, f.rows, 1, ny - 1, false, table, N, theta0, INV_QUANTA, rQ, nx, f.phiA, f.phiB, f.fv, f.spare);
    } else if (this.threads) {
      return this.threads.step(this.cur, rQ);
    } else {
      phiRuns(q, this.phi, this.runs, 0, this.runs.length, table, N, theta0, INV_QUANTA);
      stencilRuns(q, out, this.phi, this.runs, 0, this.runs.length, rQ, nx);
    }
    return undefined;
  }

  /** The wall step after jsStep (wasm: WasmStepper.walls, the same operations): [guard 1/0, min, max of Φ̃s − sf·offset] into jsWallResult. */
  private jsWalls(w: WallStep): void {
    const out = this.bufs[1 - this.cur], quanta = this.quanta;
    const { index, surfaceOffset_m } = this.problem.grid.walls;
    const table = this.problem.table.phi, N = this.problem.table.N, theta0 = this.problem.theta0;
    let minS = Infinity, maxS = -Infinity, guard = false;
    for (let k = 0; k < index.length; k++) {
      const i = index[k];
      out[i] = out[i] + quanta[k];
      if (out[i] > w.guardAboveQ || out[i] < w.guardBelowQ) guard = true;
      if (w.check) {
        const x = (theta0 - out[i] * INV_QUANTA) * N;
        let j = x | 0;
        j = j < 0 ? 0 : j > N - 1 ? N - 1 : j;
        const a = table[j];
        const ps = Math.fround(a + (x - j) * (table[j + 1] - a)) - w.surfaceFactor * surfaceOffset_m[k];
        if (ps < minS) minS = ps;
        if (ps > maxS) maxS = ps;
      }
    }
    const r = this.jsWallResult;
    r[0] = guard ? 1 : 0;
    r[1] = minS;
    r[2] = maxS;
  }

  async stats(): Promise<FieldStats> {
    const q = this.bufs[this.cur], theta0 = this.problem.theta0;
    const s = stateSums(q, this.runs);
    const w = this.problem.grid.walls;
    const [minS, maxS] = surfaceThetaRange(q, w.index, w.surfaceOffset_m, this.params?.surfaceFactor ?? 0, this.problem.table, theta0);
    return { meanTheta: theta0 - (s.sum / s.count) * INV_QUANTA, minTheta: theta0 - s.max * INV_QUANTA, maxTheta: theta0 - s.min * INV_QUANTA, minSurfaceTheta: minS, maxSurfaceTheta: maxS };
  }

  async field(): Promise<Float32Array> {
    const theta0 = this.problem.theta0;
    return thetaField(this.bufs[this.cur], theta0);
  }

  async optics(camera: Camera, threshold: number): Promise<UnreactedStats> {
    const image = forwardModel(await this.field(), camera, this.problem.theta0);
    return unreactedStats(image.diff, image.mask, image.width, image.pixel_um, threshold);
  }

  async readState(): Promise<Int32Array> {
    return this.bufs[this.cur].slice();
  }

  writeState(q: Int32Array): void {
    const why = stateMismatch(q, this.problem.grid.inside);
    if (why) throw new Error(`CpuSolver.writeState: ${why}`);
    this.bufs[this.cur].set(q);
    this.stopped = false; // a stop belonged to the state before (as setStep clears it)
  }

  destroy(): void {
    this.threads?.stop();
    this.threads = null;
    this.wasm?.stop();
  }
}

/** −0 as a value, not as an operation on 0 (a unary minus in the loop's function would need feedback of its own) */
const NEG_ZERO = -0;

/**
 * Σ q, the cell count, min and max of q over the runs of inside cells. The sum is an exact integer in
 * float64 (< 2⁵³). It starts at −0, a float64 to V8, so that the optimised loop adds in float64 from
 * the first trace row: started at 0 (an int32 to V8) it overflowed int32 on the first large state,
 * threw away its compiled code and was compiled again, in the middle of a run.
 */
function stateSums(q: Int32Array, runs: Int32Array): { sum: number; count: number; min: number; max: number } {
  let sum = NEG_ZERO, count = 0, mn = Infinity, mx = -Infinity;
  for (let k = 0; k < runs.length; k += 2) {
    const end = runs[k + 1];
    count += end - runs[k];
    for (let i = runs[k]; i < end; i++) {
      const v = q[i];
      sum += v;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
  }
  return { sum: sum + 0, count, min: mn, max: mx };
}

/** [min, max] of θs at the wall cells (θ of Φ̃s = Φ̃(θ) − sf·offset), as the stop test measures it. */
function surfaceThetaRange(q: Int32Array, index: Uint32Array, offset: Float32Array, sf: number, table: Problem['table'], theta0: number): [number, number] {
  let minS = Infinity, maxS = -Infinity;
  for (let w = 0; w < index.length; w++) {
    const ts = thetaOfPhi(table, phiOf(table, theta0 - q[index[w]] * INV_QUANTA) - sf * offset[w]);
    if (ts < minS) minS = ts;
    if (ts > maxS) maxS = ts;
  }
  return [minS, maxS];
}
