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
 * 95 % intervals of each coordinate of u (module comment; `chi2` the χ²₁ quantile: 3.84 for 95 %,
 * 1 for 68 %). `points`: every evaluated (u, cost) with
 * a finite cost; `best`: the lowest. Returns per coordinate [lo, hi] in u.
 */
export function profileIntervals(points: { u: number[]; cost: number }[], best: { u: number[]; cost: number }, nEff: number, chi2 = 3.84): CoordinateInterval[] {
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
    for (const p of sorted) if (p.l <= chi2 / 2) { lo = Math.min(lo, p.du[i]); hi = Math.max(hi, p.du[i]); }
    let method: CoordinateInterval['method'] = 'candidates';
    if (q?.cov && q.shift && q.cov[i][i] > 0) {
      const w = Math.sqrt(chi2 * q.cov[i][i]);
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
        return a > 0 ? Math.sqrt(chi2 / 2 / a) : null;
      };
      const wl = side(-1), wh = side(1);
      if (wl !== null && wh !== null) { lo = Math.min(lo, -wl); hi = Math.max(hi, wh); method = 'slice'; }
    }
    return { lo: best.u[i] + lo, hi: best.u[i] + hi, method };
  });
}

export interface EffectiveSamples {
  /** independent samples the residuals are worth: n / (A · F/F_eff) */
  nEff: number;
  /** residual samples (mask pixels × fitted frames) */
  n: number;
  frames: number;
  /** correlation area of one frame's residuals, pixels: Σ ρ(dx, dy) over the lags inside the first zero of its radial mean */
  area_px: number;
  /** radius of that first zero, pixels */
  radius_px: number;
  /** effectively independent frames: F² / Σ_kl ρ_kl (1 … F) */
  framesEff: number;
  /** the lag-1 estimate used before (rows × columns, white-noise AR(1) reading) */
  lag1: number;
}

/**
 * How many independent samples the best fit's residual images are worth (module comment of the fit's
 * intervals, docs/compare.md). The residuals of a fit to a real (or synthetic) movie are not white:
 * the PSF and the model's own errors (outline, grid, a blocking pattern the parameterisation cannot
 * follow exactly) leave smooth patches many pixels across that repeat from frame to frame. Read as
 * white noise, ~10⁴ residual pixels pin the parameters far more tightly than such patches allow. So:
 *
 *   space  ρ(dx, dy), the residuals' autocorrelation within a frame (mean over frames), for lags up
 *          to `maxLag`; A = Σ ρ over the lags nearer than the first radius where its ring mean
 *          drops to ≤ 0 (the initial positive sequence, as for an MCMC chain's effective size);
 *   time   ρ_kl, the correlation of frame k's and frame l's residual images pixel by pixel;
 *          F_eff = F² / Σ_kl ρ_kl (clipped to 1 … F): F when they are unrelated, 1 when identical;
 *
 * and N_eff = (n / F) / A · F_eff. `residuals`: one image per fitted frame (NaN outside the mask).
 */
export function effectiveSamples(residuals: Float32Array[], width: number, maxLag = 30): EffectiveSamples {
  const F = residuals.length;
  let n = 0, sum = 0;
  for (const r of residuals) for (let i = 0; i < r.length; i++) if (r[i] === r[i]) { n++; sum += r[i]; }
  const empty = { nEff: Math.max(1, n), n, frames: F, area_px: 1, radius_px: 0, framesEff: F, lag1: Math.max(1, n) };
  if (n < 2 || !F) return empty;
  const mean = sum / n;
  const centred = residuals.map((r) => r.map((v) => (v === v ? v - mean : NaN)));
  let v0 = 0;
  for (const r of centred) for (let i = 0; i < r.length; i++) if (r[i] === r[i]) v0 += r[i] * r[i];
  v0 /= n;
  if (!(v0 > 0)) return empty;
  const height = Math.round(residuals[0].length / width);
  const L = Math.max(1, Math.min(maxLag, Math.floor(Math.min(width, height) / 2)));
  // ρ(dx, dy) for dy ≥ 0 (ρ(−d) = ρ(d)); pairs inside the mask of the same frame
  const side = 2 * L + 1;
  const rho = new Float64Array(side * (L + 1)).fill(NaN);
  for (let dy = 0; dy <= L; dy++) for (let dx = -L; dx <= L; dx++) {
    if (dy === 0 && dx < 0) continue;
    let s = 0, c = 0;
    for (const r of centred) {
      for (let y = 0; y + dy < height; y++) for (let x = Math.max(0, -dx); x < width && x + dx < width; x++) {
        const a = r[y * width + x];
        if (a !== a) continue;
        const b = r[(y + dy) * width + x + dx];
        if (b !== b) continue;
        s += a * b; c++;
      }
    }
    if (c >= 20) rho[dy * side + dx + L] = s / c / v0;
  }
  const at = (dx: number, dy: number) => (dy < 0 || (dy === 0 && dx < 0) ? rho[-dy * side - dx + L] : rho[dy * side + dx + L]);
  // the first ring (integer radius) whose mean correlation is ≤ 0
  let radius = L + 1;
  for (let k = 1; k <= L; k++) {
    let s = 0, c = 0;
    for (let dy = -L; dy <= L; dy++) for (let dx = -L; dx <= L; dx++) {
      if (Math.round(Math.hypot(dx, dy)) !== k) continue;
      const v = at(dx, dy);
      if (v === v) { s += v; c++; }
    }
    if (!c || s / c <= 0) { radius = k; break; }
  }
  let area = 0;
  for (let dy = -L; dy <= L; dy++) for (let dx = -L; dx <= L; dx++) {
    if (Math.round(Math.hypot(dx, dy)) >= radius) continue;
    const v = at(dx, dy);
    if (v === v) area += v;
  }
  area = Math.max(1, area);
  // space and time together: Σ over frame pairs k ≠ l and the same lags of ρ_kl(dx, dy) — a pattern
  // that moves with the front from frame to frame is caught at the lag it moved by
  let cross = 0;
  for (let k = 0; k < F; k++) for (let l = k + 1; l < F; l++) {
    const a = centred[k], b = centred[l];
    for (let dy = -L; dy <= L; dy++) for (let dx = -L; dx <= L; dx++) {
      if (Math.round(Math.hypot(dx, dy)) >= radius) continue;
      let s = 0, c = 0;
      for (let y = Math.max(0, -dy); y < height && y + dy < height; y++) for (let x = Math.max(0, -dx); x < width && x + dx < width; x++) {
        const va = a[y * width + x];
        if (va !== va) continue;
        const vb = b[(y + dy) * width + x + dx];
        if (vb !== vb) continue;
        s += va * vb; c++;
      }
      if (c >= 20) cross += s / c / v0;
    }
  }
  // N_eff = n / (Σ over all pairs of samples of ρ / n): per frame A, plus 2·cross/F from the other frames
  const perSample = Math.max(1, area + (2 * cross) / F);
  const framesEff = Math.max(1, Math.min(F, (F * area) / perSample));
  const r1 = (v: number) => Math.max(0, Math.min(0.95, v === v ? v : 0));
  const rx = r1(at(1, 0)), ry = r1(at(0, 1));
  const lag1 = Math.max(1, n * ((1 - rx) / (1 + rx)) * ((1 - ry) / (1 + ry)));
  return { nEff: Math.max(1, n / perSample), n, frames: F, area_px: area, radius_px: radius, framesEff, lag1 };
}
