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
import type { Problem, StepParams } from './problem';
import type { AdvanceResult, FieldStats, Solver } from './types';

export class CpuSolver implements Solver {
  readonly backend = 'cpu (TypeScript float32 reference)';
  readonly bytesPerCell: number;
  /** ξ = θ0 − θ, NaN outside */
  private xi: Float32Array;
  private next: Float32Array;
  private readonly phi: Float32Array;
  /** number of inside 4-neighbours of each inside cell */
  private readonly nInside: Float32Array;
  /** [start, end) linear-index runs of inside cells, flattened */
  private readonly runs: Int32Array;
  private params: StepParams | null = null;
  private stopped = false;

  constructor(private readonly problem: Problem) {
    const { nx, ny, inside } = problem.grid;
    const n = nx * ny;
    this.xi = new Float32Array(n).fill(NaN);
    this.next = new Float32Array(n).fill(NaN);
    this.phi = new Float32Array(n); // 0 outside: an outside neighbour contributes nothing
    this.nInside = new Float32Array(n);
    const runs: number[] = [];
    for (let row = 0; row < ny; row++) {
      let start = -1;
      for (let col = 0; col <= nx; col++) {
        const i = row * nx + col;
        const ins = col < nx && inside[i] === 1;
        if (ins) {
          this.xi[i] = this.next[i] = 0;
          this.nInside[i] = inside[i - 1] + inside[i + 1] + inside[i - nx] + inside[i + nx];
          if (start < 0) start = i;
        } else if (start >= 0) {
          runs.push(start, i);
          start = -1;
        }
      }
    }
    this.runs = Int32Array.from(runs);
    this.bytesPerCell = 16;
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
      const xi = this.xi, out = this.next;
      for (let k = 0; k < runs.length; k += 2) {
        for (let i = runs[k], e = runs[k + 1]; i < e; i++) {
          const x = (theta0 - xi[i]) * N;
          let j = x | 0; // truncation; for x < 0 the clamp gives j = 0 and x − j extrapolates
          j = j < 0 ? 0 : j > N - 1 ? N - 1 : j;
          const a = table[j];
          phi[i] = a + (x - j) * (table[j + 1] - a);
        }
      }
      for (let k = 0; k < runs.length; k += 2) {
        for (let i = runs[k], e = runs[k + 1]; i < e; i++) {
          out[i] = xi[i] - r * (phi[i - 1] + phi[i + 1] + phi[i - nx] + phi[i + nx] - nIn[i] * phi[i]);
        }
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
      this.xi = out;
      this.next = xi;
      if (check && (minS <= stopBelowPhi || maxS >= stopAbovePhi)) {
        this.stopped = true;
        return { steps: s + 1, stopped: true };
      }
    }
    return { steps: n, stopped: false };
  }

  async stats(): Promise<FieldStats> {
    const xi = this.xi, theta0 = this.problem.theta0;
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
    return Float32Array.from(this.xi, (v) => theta0 - v); // NaN stays NaN outside
  }

  destroy(): void {}
}
