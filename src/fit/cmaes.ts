/**
 * CMA-ES (Hansen's (μ/μ_w, λ) evolution strategy with cumulative step-size adaptation and rank-one +
 * rank-μ covariance updates; N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772,
 * default parameters of its Table 1) as an ask/tell optimiser: `ask()` gives a generation of λ
 * candidates, the caller evaluates them as one batch (a GPU batch of simulations in `fit`), `tell()`
 * takes their costs. No npm optimiser takes an asynchronous, batched cost, hence this small one.
 * Deterministic for a given seed (the fit's resume replays it).
 */
import { createRandom, type Random } from '../optics/random';

export interface CmaesOptions {
  /** start point (the mean of the first generation) */
  x0: number[];
  /** initial step size (all coordinates alike: scale the coordinates so that 1 means the same) */
  sigma0: number;
  /** population λ; default 4 + ⌊3 ln n⌋ */
  population?: number;
  seed?: number;
}

export interface CmaesState {
  generation: number;
  mean: number[];
  sigma: number;
  /** σ·√C_ii per coordinate: the spread of the current search distribution */
  spread: number[];
  bestX: number[];
  bestCost: number;
  evaluations: number;
}

/** Symmetric eigen-decomposition by cyclic Jacobi rotations (n is small here). Returns B (columns = vectors) and eigenvalues. */
function eigenSym(A: number[][]): { B: number[][]; d: number[] } {
  const n = A.length;
  const a = A.map((r) => r.slice());
  const B: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i][j] * a[i][j];
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) {
      if (Math.abs(a[p][q]) < 1e-300) continue;
      const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1), s = t * c;
      for (let k = 0; k < n; k++) {
        const akp = a[k][p], akq = a[k][q];
        a[k][p] = c * akp - s * akq; a[k][q] = s * akp + c * akq;
      }
      for (let k = 0; k < n; k++) {
        const apk = a[p][k], aqk = a[q][k];
        a[p][k] = c * apk - s * aqk; a[q][k] = s * apk + c * aqk;
      }
      for (let k = 0; k < n; k++) {
        const bkp = B[k][p], bkq = B[k][q];
        B[k][p] = c * bkp - s * bkq; B[k][q] = s * bkp + c * bkq;
      }
    }
  }
  return { B, d: a.map((r, i) => Math.max(r[i], 1e-300)) };
}

export class Cmaes {
  readonly n: number;
  readonly lambda: number;
  private readonly mu: number;
  private readonly weights: number[];
  private readonly mueff: number;
  private readonly cc: number;
  private readonly cs: number;
  private readonly c1: number;
  private readonly cmu: number;
  private readonly damps: number;
  private readonly chiN: number;
  private readonly rng: Random;
  private mean: number[];
  private sigma: number;
  private C: number[][];
  private B: number[][];
  private D: number[];
  private pc: number[];
  private ps: number[];
  private generation = 0;
  private evaluations = 0;
  private pending: { x: number[]; z: number[] }[] | null = null;
  private best = { x: [] as number[], cost: Infinity };

  constructor(o: CmaesOptions) {
    const n = (this.n = o.x0.length);
    if (!n) throw new Error('Cmaes: x0 is empty');
    if (!(o.sigma0 > 0)) throw new Error(`Cmaes: sigma0 = ${o.sigma0} must be > 0`);
    this.lambda = Math.max(2, o.population ?? 4 + Math.floor(3 * Math.log(n)));
    this.mu = Math.floor(this.lambda / 2);
    const w = Array.from({ length: this.mu }, (_, i) => Math.log((this.lambda + 1) / 2) - Math.log(i + 1));
    const sw = w.reduce((a, b) => a + b, 0);
    this.weights = w.map((v) => v / sw);
    this.mueff = 1 / this.weights.reduce((a, v) => a + v * v, 0);
    const mueff = this.mueff;
    this.cc = (4 + mueff / n) / (n + 4 + (2 * mueff) / n);
    this.cs = (mueff + 2) / (n + mueff + 5);
    this.c1 = 2 / ((n + 1.3) ** 2 + mueff);
    this.cmu = Math.min(1 - this.c1, (2 * (mueff - 2 + 1 / mueff)) / ((n + 2) ** 2 + mueff));
    this.damps = 1 + 2 * Math.max(0, Math.sqrt((mueff - 1) / (n + 1)) - 1) + this.cs;
    this.chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
    this.rng = createRandom(o.seed ?? 1, 7);
    this.mean = o.x0.slice();
    this.sigma = o.sigma0;
    this.C = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
    this.B = this.C.map((r) => r.slice());
    this.D = new Array(n).fill(1);
    this.pc = new Array(n).fill(0);
    this.ps = new Array(n).fill(0);
  }

  /** The next generation's λ candidates (call tell() with their costs before asking again). */
  ask(): number[][] {
    if (this.pending) return this.pending.map((p) => p.x.slice());
    const n = this.n;
    this.pending = Array.from({ length: this.lambda }, () => {
      const z = Array.from({ length: n }, () => this.rng.normal());
      const y = Array.from({ length: n }, (_, i) => { let s = 0; for (let j = 0; j < n; j++) s += this.B[i][j] * this.D[j] * z[j]; return s; });
      return { x: this.mean.map((m, i) => m + this.sigma * y[i]), z };
    });
    return this.pending.map((p) => p.x.slice());
  }

  /** Costs of the candidates of the last ask(), same order (Infinity or NaN: a failed candidate, ranked last). */
  tell(costs: number[]): void {
    const gen = this.pending;
    if (!gen) throw new Error('Cmaes.tell: ask() first');
    if (costs.length !== gen.length) throw new Error(`Cmaes.tell: ${costs.length} costs for ${gen.length} candidates`);
    const n = this.n;
    this.evaluations += gen.length;
    const clean = costs.map((c) => (Number.isFinite(c) ? c : Infinity));
    const order = clean.map((c, i) => [c, i] as [number, number]).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
    if (clean[order[0]] < this.best.cost) this.best = { x: gen[order[0]].x.slice(), cost: clean[order[0]] };
    const old = this.mean;
    const ys = order.slice(0, this.mu).map((i) => gen[i].x.map((v, k) => (v - old[k]) / this.sigma));
    const yw = new Array(n).fill(0);
    ys.forEach((y, k) => { for (let i = 0; i < n; i++) yw[i] += this.weights[k] * y[i]; });
    this.mean = old.map((m, i) => m + this.sigma * yw[i]);
    // C^(−1/2)·yw = B·D^(−1)·Bᵀ·yw
    const bty = Array.from({ length: n }, (_, j) => { let s = 0; for (let i = 0; i < n; i++) s += this.B[i][j] * yw[i]; return s / this.D[j]; });
    const invSqrt = Array.from({ length: n }, (_, i) => { let s = 0; for (let j = 0; j < n; j++) s += this.B[i][j] * bty[j]; return s; });
    const csf = Math.sqrt(this.cs * (2 - this.cs) * this.mueff);
    this.ps = this.ps.map((p, i) => (1 - this.cs) * p + csf * invSqrt[i]);
    const psNorm = Math.hypot(...this.ps);
    this.generation++;
    const hsig = psNorm / Math.sqrt(1 - (1 - this.cs) ** (2 * this.generation)) / this.chiN < 1.4 + 2 / (n + 1) ? 1 : 0;
    const ccf = Math.sqrt(this.cc * (2 - this.cc) * this.mueff);
    this.pc = this.pc.map((p, i) => (1 - this.cc) * p + hsig * ccf * yw[i]);
    const c1a = this.c1 * (1 - (1 - hsig * hsig) * this.cc * (2 - this.cc));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let rankMu = 0;
      ys.forEach((y, k) => { rankMu += this.weights[k] * y[i] * y[j]; });
      this.C[i][j] = (1 - c1a - this.cmu) * this.C[i][j] + this.c1 * this.pc[i] * this.pc[j] + this.cmu * rankMu;
    }
    this.sigma *= Math.exp((this.cs / this.damps) * (psNorm / this.chiN - 1));
    if (!Number.isFinite(this.sigma) || this.sigma > 1e6) this.sigma = 1e6;
    const { B, d } = eigenSym(this.C);
    this.B = B;
    this.D = d.map(Math.sqrt);
    this.pending = null;
  }

  state(): CmaesState {
    return {
      generation: this.generation, mean: this.mean.slice(), sigma: this.sigma,
      spread: this.C.map((r, i) => this.sigma * Math.sqrt(r[i])),
      bestX: this.best.x.slice(), bestCost: this.best.cost, evaluations: this.evaluations,
    };
  }
}

/**
 * Runs CMA-ES on a batched cost to a budget (generations) or until the search distribution has
 * shrunk below `tolX` in every coordinate. `evaluate` gets each generation as one batch.
 */
export async function minimizeCmaes(evaluate: (xs: number[][]) => Promise<number[]>, o: CmaesOptions & { maxGenerations?: number; tolX?: number; onGeneration?: (s: CmaesState) => void }): Promise<CmaesState & { converged: boolean }> {
  const es = new Cmaes(o);
  const maxGen = o.maxGenerations ?? 100;
  const tolX = o.tolX ?? 1e-6;
  for (let g = 0; g < maxGen; g++) {
    const xs = es.ask();
    es.tell(await evaluate(xs));
    const s = es.state();
    o.onGeneration?.(s);
    if (Math.max(...s.spread) < tolX) return { ...s, converged: true };
  }
  return { ...es.state(), converged: false };
}
