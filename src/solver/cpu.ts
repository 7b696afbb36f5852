/**
 * The float32 TypeScript reference solver. State and Φ are float32 arrays (as on the GPU); each cell
 * update is one expression evaluated in float64 and rounded on store.
 *
 * The state is ξ = θ0 − θ, the Li extracted, not θ: float32 resolves tiny changes of a small number
 * far better than of a number near 1, so the slowly changing Li-rich core (ξ ≈ 0) does not lose its
 * updates to rounding and the extracted charge stays equal to current × time to round-off.
 *
 * The same discretisation as the WGSL kernels, step for step (θ = θ0 − ξ):
 *   Φ̃_i = Φ(θ_i)/D_scale                                  (table lookup, linear interpolation)
 *   ξ_i ← ξ_i − r·Σ_{inside nbrs j}(Φ̃_j − Φ̃_i)            (Kirchhoff face fluxes, r = Δt·D_scale/h²)
 *   ξ_w ← ξ_w + fluxPerStep·fluxWeight_w                    (wall cells: boundary flux)
 *   Φ̃(θs_w) = Φ̃(θ_w) − surfaceFactor·surfaceOffset_w      (true wall value, checked against the cut-off)
 */
import { phiOf, thetaOfPhi } from '../model/diffusivity';
import { phiRuns, stencilRuns } from './cpuKernels';
import type { CpuThreads } from './cpuThreads';
import type { Problem, StepParams } from './problem';
import type { AdvanceResult, FieldStats, Solver } from './types';
import { forwardModel, type Camera } from '../optics/forward';
import { unreactedStats, type UnreactedStats } from '../imaging/unreacted';

/** Grids with at least this many particle cells use a second thread where one is available. */
export const THREAD_MIN_CELLS = 1 << 17;

export class CpuSolver implements Solver {
  backend = 'cpu (TypeScript float32 reference)';
  readonly bytesPerCell: number;
  /** the two ξ = θ0 − θ buffers (NaN outside); cur is the current state */
  private readonly bufs: [Float32Array, Float32Array];
  private cur: 0 | 1 = 0;
  private threads: CpuThreads | null = null;
  private readonly phi: Float32Array;
  /** number of inside 4-neighbours of each inside cell */
  private readonly nInside: Float32Array;
  /** [start, end) linear-index runs of inside cells, flattened */
  private readonly runs: Int32Array;
  private params: StepParams | null = null;
  private stopped = false;

  /**
   * A single-threaded solver. `CpuSolver.create` adds a second thread on large grids in Node.
   * `shared`: allocate the arrays on SharedArrayBuffers (needed for threads).
   */
  constructor(private readonly problem: Problem, shared = false) {
    const { nx, ny, inside } = problem.grid;
    const n = nx * ny;
    const f32 = (len: number) => (shared ? new Float32Array(new SharedArrayBuffer(4 * len)) : new Float32Array(len));
    this.bufs = [f32(n).fill(NaN), f32(n).fill(NaN)];
    this.phi = f32(n); // 0 outside: an outside neighbour contributes nothing
    this.nInside = f32(n);
    const runs: number[] = [];
    for (let row = 0; row < ny; row++) {
      let start = -1;
      for (let col = 0; col <= nx; col++) {
        const i = row * nx + col;
        const ins = col < nx && inside[i] === 1;
        if (ins) {
          this.bufs[0][i] = this.bufs[1][i] = 0;
          this.nInside[i] = inside[i - 1] + inside[i + 1] + inside[i - nx] + inside[i + nx];
          if (start < 0) start = i;
        } else if (start >= 0) {
          runs.push(start, i);
          start = -1;
        }
      }
    }
    this.runs = shared ? new Int32Array(new SharedArrayBuffer(4 * runs.length)) : new Int32Array(runs.length);
    this.runs.set(runs);
    this.bytesPerCell = 16;
  }

  /** A solver with a second thread when the grid is large and worker threads exist (Node). */
  static async create(problem: Problem, options: { threads?: boolean } = {}): Promise<CpuSolver> {
    const want = options.threads ?? problem.grid.cells >= THREAD_MIN_CELLS;
    const canThread = typeof SharedArrayBuffer !== 'undefined' && typeof process !== 'undefined' && Boolean(process.versions?.node);
    if (!want || !canThread) return new CpuSolver(problem);
    const solver = new CpuSolver(problem, true);
    const { CpuThreads } = await import('./cpuThreads');
    const table = new Float32Array(new SharedArrayBuffer(problem.table.phi.byteLength));
    table.set(problem.table.phi);
    solver.threads = await CpuThreads.start({
      xi: solver.bufs, phi: solver.phi, nIn: solver.nInside, runs: solver.runs, table,
      nx: problem.grid.nx, N: problem.table.N, theta0: problem.theta0,
    });
    solver.backend = 'cpu (TypeScript float32 reference, 2 threads)';
    return solver;
  }

  setStep(params: StepParams): void {
    this.params = params;
    this.stopped = false;
  }

  async advance(n: number): Promise<AdvanceResult> {
    const p = this.params;
    if (!p) throw new Error('CpuSolver.advance: setStep() first');
    if (this.stopped) return { steps: 0, stopped: true };
    const { nx } = this.problem.grid;
    const { index, fluxWeight, surfaceOffset_m } = this.problem.grid.walls;
    const table = this.problem.table.phi, N = this.problem.table.N;
    const runs = this.runs, phi = this.phi, nIn = this.nInside, theta0 = this.problem.theta0;
    const { r, fluxPerStep, surfaceFactor, stopBelowPhi, stopAbovePhi } = p;
    const check = stopBelowPhi > -Infinity || stopAbovePhi < Infinity;
    for (let s = 0; s < n; s++) {
      const xi = this.bufs[this.cur], out = this.bufs[1 - this.cur];
      if (this.threads) this.threads.step(this.cur, r);
      else {
        phiRuns(xi, phi, runs, 0, runs.length, table, N, theta0);
        stencilRuns(xi, out, phi, nIn, runs, 0, runs.length, r, nx);
      }
      let minS = Infinity, maxS = -Infinity;
      for (let w = 0; w < index.length; w++) {
        const i = index[w];
        out[i] = out[i] + fluxPerStep * fluxWeight[w];
        if (check) {
          const x = (theta0 - out[i]) * N;
          let j = x | 0;
          j = j < 0 ? 0 : j > N - 1 ? N - 1 : j;
          const a = table[j];
          const ps = Math.fround(a + (x - j) * (table[j + 1] - a)) - surfaceFactor * surfaceOffset_m[w];
          if (ps < minS) minS = ps;
          if (ps > maxS) maxS = ps;
        }
      }
      this.cur = (1 - this.cur) as 0 | 1;
      if (check && (minS <= stopBelowPhi || maxS >= stopAbovePhi)) {
        this.stopped = true;
        return { steps: s + 1, stopped: true };
      }
    }
    return { steps: n, stopped: false };
  }

  async stats(): Promise<FieldStats> {
    const xi = this.bufs[this.cur], theta0 = this.problem.theta0;
    let sum = 0, count = 0, mn = Infinity, mx = -Infinity;
    for (let k = 0; k < this.runs.length; k += 2) {
      for (let i = this.runs[k]; i < this.runs[k + 1]; i++) {
        const v = xi[i];
        sum += v; count++;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
    }
    const { index, surfaceOffset_m } = this.problem.grid.walls;
    const sf = this.params?.surfaceFactor ?? 0;
    let minS = Infinity, maxS = -Infinity;
    for (let w = 0; w < index.length; w++) {
      const ts = thetaOfPhi(this.problem.table, phiOf(this.problem.table, theta0 - xi[index[w]]) - sf * surfaceOffset_m[w]);
      if (ts < minS) minS = ts;
      if (ts > maxS) maxS = ts;
    }
    return { meanTheta: theta0 - sum / count, minTheta: theta0 - mx, maxTheta: theta0 - mn, minSurfaceTheta: minS, maxSurfaceTheta: maxS };
  }

  async field(): Promise<Float32Array> {
    const theta0 = this.problem.theta0;
    return Float32Array.from(this.bufs[this.cur], (v) => theta0 - v); // NaN stays NaN outside
  }

  async optics(camera: Camera, threshold: number): Promise<UnreactedStats> {
    const image = forwardModel(await this.field(), camera, this.problem.theta0);
    return unreactedStats(image.diff, image.mask, image.width, image.pixel_um, threshold);
  }

  destroy(): void {
    this.threads?.stop();
    this.threads = null;
  }
}
