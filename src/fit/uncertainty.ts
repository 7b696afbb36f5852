/**
 * Profile-likelihood intervals of a fit from the candidates it evaluated. The cost is read as a
 * Gaussian mean squared residual of N_eff independent samples, so the negative log-likelihood
 * relative to the best is ℓ = (N_eff/2)·ln(cost/cost_min). A quadratic in the optimiser's coordinates
 * u (10 coefficients for 3 parameters) is fitted by least squares to the candidates of smallest ℓ
 * (the CMA-ES's last generations and the one-parameter steps cluster there, spread along the
 * likelihood's own shape): its Hessian H gives the profile of each coordinate in the quadratic
 * approximation, ℓ_prof(u_i) = (u_i − u*_i)²/(2Σ_ii) with Σ = H⁻¹, so the 95 % interval is
 * u*_i ± √(3.84·Σ_ii). Each physical value depends on its own coordinate monotonically
 * (params.ts), so the interval maps across. The interval is widened to cover every evaluated
 * candidate with ℓ ≤ 1.92 (what the quadratic might miss where the likelihood is not quadratic).
 */

/** Solves A·x = b (A n×n) by Gaussian elimination with partial pivoting; null when singular. */
export function solveLinear(A: number[][], b: number[]): number[] | null {
  const n = b.length;
  const M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    if (!(Math.abs(M[p][c]) > 1e-300)) return null;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

export interface QuadraticFit {
  /** gradient and Hessian of ℓ at the centre */
  g: number[];
  H: number[][];
  /** Σ = H⁻¹, null when H is not positive definite */
  cov: number[][] | null;
  /** the quadratic's minimum, Δu from the centre */
  shift: number[] | null;
  points: number;
}

/** Least-squares quadratic ℓ(Δu) = c + gᵀΔu + ½ΔuᵀHΔu through the points (Δu, ℓ). */
export function fitQuadratic(du: number[][], l: number[]): QuadraticFit | null {
  const d = du[0]?.length ?? 0;
  const pairs: [number, number][] = [];
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) pairs.push([i, j]);
  const nc = 1 + d + pairs.length;
  if (du.length < nc + 2) return null;
  const feat = (x: number[]) => [1, ...x, ...pairs.map(([i, j]) => x[i] * x[j])];
  // column scaling keeps the normal equations conditioned
  const rows = du.map(feat);
  const scale = Array.from({ length: nc }, (_, k) => Math.max(1e-12, Math.sqrt(rows.reduce((a, r) => a + r[k] * r[k], 0) / rows.length)));
  const A = Array.from({ length: nc }, () => new Array(nc).fill(0)), b = new Array(nc).fill(0);
  rows.forEach((r, n) => {
    const s = r.map((v, k) => v / scale[k]);
    for (let i = 0; i < nc; i++) { b[i] += s[i] * l[n]; for (let j = 0; j < nc; j++) A[i][j] += s[i] * s[j]; }
  });
  for (let i = 0; i < nc; i++) A[i][i] += 1e-10 * A[i][i] + 1e-14;
  const c = solveLinear(A, b);
  if (!c) return null;
  const coef = c.map((v, k) => v / scale[k]);
  const g = coef.slice(1, 1 + d);
  const H = Array.from({ length: d }, () => new Array(d).fill(0));
  pairs.forEach(([i, j], k) => { const v = coef[1 + d + k]; if (i === j) H[i][i] = 2 * v; else { H[i][j] = v; H[j][i] = v; } });
  // positive definite? (Cholesky)
  const L = Array.from({ length: d }, () => new Array(d).fill(0));
  let pd = true;
  for (let i = 0; i < d && pd; i++) for (let j = 0; j <= i; j++) {
    let s = H[i][j];
    for (let k = 0; k < j; k++) s -= L[i][k] * L[j][k];
    if (i === j) { if (!(s > 0)) { pd = false; break; } L[i][i] = Math.sqrt(s); } else L[i][j] = s / L[j][j];
  }
  let cov: number[][] | null = null, shift: number[] | null = null;
  if (pd) {
    cov = Array.from({ length: d }, (_, j) => solveLinear(H, Array.from({ length: d }, (_, i) => (i === j ? 1 : 0)))!);
    cov = cov[0].map((_, i) => cov!.map((col) => col[i]));
    shift = solveLinear(H, g.map((v) => -v));
  }
  return { g, H, cov, shift, points: du.length };
}

export interface CoordinateInterval { lo: number; hi: number; method: 'quadratic' | 'slice' | 'candidates' }

/**
 * 95 % intervals of each coordinate of u (module comment). `points`: every evaluated (u, cost) with
 * a finite cost; `best`: the lowest. Returns per coordinate [lo, hi] in u.
 */
export function profileIntervals(points: { u: number[]; cost: number }[], best: { u: number[]; cost: number }, nEff: number): CoordinateInterval[] {
  const d = best.u.length;
  const ell = (c: number) => (nEff / 2) * Math.log(c / best.cost);
  const sorted = points.map((p) => ({ du: p.u.map((v, i) => v - best.u[i]), l: ell(p.cost) })).sort((a, b) => a.l - b.l);
  const nc = 1 + d + (d * (d + 1)) / 2;
  // the nearest candidates first; more of them when the quadratic through those is not positive definite
  let q: QuadraticFit | null = null;
  for (const k of [Math.max(3 * nc, 30), Math.max(6 * nc, 60), Math.max(12 * nc, 120)]) {
    const near = sorted.slice(0, Math.min(sorted.length, k));
    q = fitQuadratic(near.map((p) => p.du), near.map((p) => p.l));
    if (q?.cov || k >= sorted.length) break;
  }
  return Array.from({ length: d }, (_, i) => {
    let lo = 0, hi = 0;
    for (const p of sorted) if (p.l <= 1.92) { lo = Math.min(lo, p.du[i]); hi = Math.max(hi, p.du[i]); }
    let method: CoordinateInterval['method'] = 'candidates';
    if (q?.cov && q.shift && q.cov[i][i] > 0) {
      const w = Math.sqrt(3.84 * q.cov[i][i]);
      const centre = q.shift[i];
      lo = Math.min(lo, Math.min(0, centre) - w);
      hi = Math.max(hi, Math.max(0, centre) + w);
      method = 'quadratic';
    } else {
      // the slice through the best along coordinate i (the one-parameter steps): ℓ ≈ a·x² + b·x
      // fitted on each side, solved for ℓ = 1.92 — a conditional interval (narrower than the profile)
      const line = sorted.filter((p) => p.du.every((v, k) => k === i || Math.abs(v) < 1e-12) && p.du[i] !== 0);
      const side = (sign: number) => {
        const pts = line.filter((p) => Math.sign(p.du[i]) === sign);
        if (!pts.length) return null;
        let sxx = 0, sxy = 0;
        for (const p of pts) { const x2 = p.du[i] * p.du[i]; sxx += x2 * x2; sxy += x2 * Math.max(0, p.l); }
        const a = sxy / sxx;
        return a > 0 ? Math.sqrt(1.92 / a) : null;
      };
      const wl = side(-1), wh = side(1);
      if (wl !== null && wh !== null) { lo = Math.min(lo, -wl); hi = Math.max(hi, wh); method = 'slice'; }
    }
    return { lo: best.u[i] + lo, hi: best.u[i] + hi, method };
  });
}
