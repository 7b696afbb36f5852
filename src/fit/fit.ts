/**
 * `ionflux fit` as a library: where, and how strongly, is this particle's surface blocked?
 *
 * The observed particle's own outline (model.ts) is simulated under the movie's current (from the
 * charge record) with a parameterised surface activity (params.ts); each simulated θ snapshot at a
 * fitted frame's time is rendered onto the observed pixels by the forward model (κ = 1) and compared
 * with the observed ΔI/I0 inside the particle:
 *
 *   cost = MSR + w·s²·mean_k |Δv_k|²/R_eq²   (× the bins' smoothness penalty)
 *
 * MSR = mean squared residual (ΔI/I0_obs − κ·m)² over mask pixels and fitted frames, κ the
 * least-squares scale of that candidate (closed form) or `kappa`; Δv_k the error of the unreacted
 * core's COM offset vector in frame k; s² the variance of the observed ΔI/I0 (so that w = 1 makes a
 * COM error of 10 % of R_eq cost 1 % of the signal's variance). The optimiser is the ask/tell CMA-ES
 * of cmaes.ts, each generation's candidates run as one batch (batch.ts: lanes of a GpuBatch on a
 * GPU). Uncertainty: profile likelihood over each parameter approximated from the evaluated
 * candidates (see `intervals`). Evaluated candidates go to a journal as they are known, so that the
 * same fit resumes where it stopped. No files are written here except through `journal`.
 */
import { checkNumber } from '../checks';
import { ConfigError, UserError } from '../errors';
import { resolveConfig, type SimulationConfig } from '../model/config';
import { KNEE_DEFAULTS } from '../model/diffusivity';
import { buildProblem, estimatedSteps, type Problem } from '../solver/problem';
import type { Camera } from '../optics/forward';
import { unreactedStats } from '../observables/unreacted';
import type { ObservedParticle } from '../compare/observed';
import { Cmaes, type CmaesState } from './cmaes';
import type { BatchOutcome, BatchRunner } from './batch';
import { cropCamera, modelImage, observedOutline, type ObservedOutline } from './model';
import { parameterisation, parseFitModel, type FitModel, type Parameterisation } from './params';
import { effectiveSamples, profileIntervals, type EffectiveSamples } from './uncertainty';

export interface FitJournal {
  /** previously evaluated candidates of this fit, by key */
  load(): Map<string, JournalEntry>;
  append(entries: JournalEntry[]): void;
}

export interface JournalEntry { key: string; u: number[]; cost: number; kappa: number | null; reason?: string }

export interface FitOptions {
  model?: string | FitModel;
  fitDiffusivity?: boolean;
  /** κ of the forward model; default: the least-squares κ of each candidate */
  kappa?: number | null;
  /** PSF σ of the microscope, µm; default SPEC §2's 0.11 */
  psfSigma_um?: number;
  theta0?: number;
  /** the applied current; default the slope of the observed charge record */
  current_mA_g?: number | null;
  /** simulation grid spacing; default R_eq/20 (rounded to 5 nm) */
  grid_um?: number | null;
  /** frames fitted (evenly spaced after the reference); default 6 */
  fitFrames?: number;
  /** explicit frames instead */
  frames?: number[] | null;
  comWeight?: number;
  smoothness?: number;
  generations?: number;
  population?: number;
  seed?: number;
  /** material keys merged into every candidate's config (diffusivity preset, capacity) */
  material?: Record<string, unknown>;
  runner: BatchRunner;
  journal?: FitJournal | null;
  onProgress?: (fraction: number, status: string) => void;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

export interface FitEvaluation { u: number[]; values: number[]; cost: number; kappa: number | null; reason?: string; generation: number | 'profile' | 'final'; /** 0: the start point */ }

export interface FitResult {
  particle: number;
  model: string;
  parameterisation: Parameterisation;
  names: string[];
  best: { u: number[]; values: number[]; cost: number; kappa: number };
  /** 95 % intervals per physical value, [lo, hi] (angles: may pass ±180°), and whether they reached the sampled edge */
  intervals: { [name: string]: { lo: number; hi: number; open: boolean; method: 'quadratic' | 'slice' | 'candidates' } };
  intervalMethod: string;
  /** best cost after each generation and the best's physical values */
  history: { generation: number; evaluations: number; bestCost: number; values: number[] }[];
  evaluations: FitEvaluation[];
  /** every simulation of the fit, and those run in this call (the rest came from the journal) */
  simulations: number;
  simulationsRun: number;
  wallTime_s: number;
  converged: boolean;
  improved: boolean;
  /** the best candidate's full config (snapshots at every observed frame after the reference) */
  config: SimulationConfig;
  /** fit frames, observed indices */
  frames: number[];
  current_mA_g: number;
  currentSource: string;
  grid_um: number;
  psfSigma_um: number;
  nEff: number;
  /** how N_eff came from the best fit's residuals (uncertainty.ts effectiveSamples) */
  residualCorrelation: EffectiveSamples;
  pixels: number;
  outline: ObservedOutline;
  backend: string;
  warnings: string[];
}

/** cell-updates of a whole fit above which it is warned (about an hour of the CPU reference on 2 cores) */
export const FIT_WORK_WARNING = 1e12;

/** '1.4 hours', '3 days', '15 years': the order of a long wait */
export function roughDuration(s: number): string {
  const [v, unit] = s < 5400 ? [s / 60, 'minutes'] : s < 2 * 86400 ? [s / 3600, 'hours'] : s < 2 * 365 * 86400 ? [s / 86400, 'days'] : [s / (365 * 86400), 'years'];
  return `about ${Number(v.toPrecision(2))} ${unit}`;
}

const keyOf = (u: number[]) => u.map((v) => v.toPrecision(12)).join(',');

function evenFrames(first: number, last: number, n: number): number[] {
  const all = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  if (all.length <= n) return all;
  return [...new Set(Array.from({ length: n }, (_, k) => all[Math.round(((k + 1) * (all.length - 1)) / n)]))];
}

/** least-squares slope of capacity against time over the finite points, mAh/g per s */
function slope(t: number[], c: (number | null)[]): number | null {
  const pts = t.map((x, i) => [x, c[i]] as [number, number | null]).filter((p): p is [number, number] => p[1] !== null && Number.isFinite(p[1]));
  return pts.length < 2 ? null : lineFit(pts).k;
}

/** least-squares line c = mc + k·(t − mt) through (t, c) points (k null when all t are equal) */
function lineFit(pts: [number, number][]): { k: number | null; mt: number; mc: number } {
  const mt = pts.reduce((a, p) => a + p[0], 0) / pts.length, mc = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  let num = 0, den = 0;
  for (const [x, y] of pts) { num += (x - mt) * (y - mc); den += (x - mt) ** 2; }
  return { k: den > 0 ? num / den : null, mt, mc };
}

export type Step = { step: 'charge' | 'rest' | 'discharge'; current_mA_g?: number; duration_min: number };

/**
 * The protocol of a charge record from frame `ref` to frame `last`, or null when it is one charge
 * (the caller then takes its least-squares slope, as always) or has fewer than two points. Each
 * interval between frames is a charge, a rest (its rate below 5 % of the record's typical rate, the
 * 90th percentile of |rate|) or a discharge; runs of one kind shorter than 3 intervals are merged
 * into their longer neighbour, repeatedly (a noisy or rounded record alternates at random between
 * kinds from one interval to the next; a real rest or discharge lasts), each boundary is moved to
 * where two straight lines fit the points on either side best, and each run that is left is one
 * step at its own average current; a charge or discharge whose current changes by more than 15 %
 * (clear of the noise) is split where it changes, each part at its own current (until 2026-12-04
 * it was one step at the average).
 * A movie of a charge and then a rest (fig2e) was fitted as one charge at the average rate over
 * both until 2026-12-03.
 */
export function protocolOfRecord(times: number[], cap: (number | null)[], ref: number, last: number): Step[] | null {
  const pts: [number, number][] = [];
  for (let i = ref; i <= last; i++) { const c = cap[i]; if (c !== null && Number.isFinite(c)) pts.push([times[i], c]); }
  if (pts.length < 2) return null;
  const rate = (a: number, b: number) => ((pts[b][1] - pts[a][1]) / (pts[b][0] - pts[a][0])) * 3600;
  const rates = pts.slice(1).map((_, k) => rate(k, k + 1));
  const sorted = rates.map(Math.abs).sort((a, b) => a - b);
  const typical = sorted[Math.min(sorted.length - 1, Math.floor(0.9 * sorted.length))];
  if (!(typical > 0)) return null;
  type Kind = Step['step'];
  // a rest: a rate under 5 % of the typical one, or within the noise of a rate over `span_s` (3σ of
  // a difference, σ below)
  const kindOf = (r: number, span_s = Infinity): Kind => (Math.abs(r) < Math.max(0.05 * typical, (3 * Math.SQRT2 * sigma * 3600) / span_s) ? 'rest' : r > 0 ? 'charge' : 'discharge');
  // the record's noise σ (mAh/g) from its second differences (on a straight stretch they are noise
  // alone: c_i minus the line through its neighbours has variance σ²(1 + w² + (1 − w)²)), robustly
  const d2: number[] = [];
  for (let i = 1; i + 1 < pts.length; i++) {
    const w = (pts[i + 1][0] - pts[i][0]) / (pts[i + 1][0] - pts[i - 1][0]);
    d2.push(Math.abs(pts[i][1] - (w * pts[i - 1][1] + (1 - w) * pts[i + 1][1])) / Math.sqrt(1 + w * w + (1 - w) ** 2));
  }
  const sigma = d2.length ? 1.4826 * d2.sort((a, b) => a - b)[Math.floor(d2.length / 2)] : 0;
  // whether run r passes the charge its neighbour's rate would over its time, within the noise (4σ
  // of a difference): then the record cannot tell them apart
  const consistent = (r: { from: number; to: number }, nbr: { from: number; to: number }) =>
    Math.abs(pts[r.to][1] - pts[r.from][1] - (rate(nbr.from, nbr.to) * (pts[r.to][0] - pts[r.from][0])) / 3600) < 4 * Math.SQRT2 * sigma;
  // runs of intervals [from, to) (point indices from → to) of one kind
  let runs: { kind: Kind; from: number; to: number }[] = [];
  rates.forEach((r, k) => {
    const kind = kindOf(r, pts[k + 1][0] - pts[k][0]), cur = runs[runs.length - 1];
    if (cur && cur.kind === kind) cur.to = k + 1;
    else runs.push({ kind, from: k, to: k + 1 });
  });
  const join = () => {
    const out: typeof runs = [];
    for (const r of runs) {
      const prev = out[out.length - 1];
      if (prev && prev.kind === r.kind) prev.to = r.to;
      else out.push({ ...r });
    }
    runs = out;
  };
  const MIN_INTERVALS = 3;
  for (;;) {
    let shortest = -1;
    runs.forEach((r, i) => { if (r.to - r.from < MIN_INTERVALS && (shortest < 0 || r.to - r.from < runs[shortest].to - runs[shortest].from)) shortest = i; });
    if (shortest < 0 || runs.length === 1) break;
    const left = runs[shortest - 1], right = runs[shortest + 1];
    const into = !left ? right : !right ? left : right.to - right.from > left.to - left.from ? right : left;
    runs[shortest].kind = into.kind;
    join();
  }
  // squared residuals of the least-squares line through points a … b, in O(1) from prefix sums
  // (times from the first point's, so that the sums stay small)
  const P = { n: [0], t: [0], c: [0], tt: [0], tc: [0], cc: [0] };
  for (const [t0, c] of pts) {
    const t = t0 - pts[0][0], k = P.n.length - 1;
    P.n.push(k + 1); P.t.push(P.t[k] + t); P.c.push(P.c[k] + c); P.tt.push(P.tt[k] + t * t); P.tc.push(P.tc[k] + t * c); P.cc.push(P.cc[k] + c * c);
  }
  const sse = (a: number, b: number) => {
    const n = b - a + 1, St = P.t[b + 1] - P.t[a], Sc = P.c[b + 1] - P.c[a];
    const vtt = P.tt[b + 1] - P.tt[a] - (St * St) / n, vtc = P.tc[b + 1] - P.tc[a] - (St * Sc) / n, vcc = P.cc[b + 1] - P.cc[a] - (Sc * Sc) / n;
    return Math.max(0, vtt > 0 ? vcc - (vtc * vtc) / vtt : vcc);
  };
  // the least-squares slope of points a … b (mAh/g per s), from the same sums
  const slopeOf = (a: number, b: number) => {
    const n = b - a + 1, St = P.t[b + 1] - P.t[a], Sc = P.c[b + 1] - P.c[a];
    const vtt = P.tt[b + 1] - P.tt[a] - (St * St) / n;
    return vtt > 0 ? (P.tc[b + 1] - P.tc[a] - (St * Sc) / n) / vtt : 0;
  };
  // each boundary where two straight lines fit the points near it best (noise moves the
  // interval-by-interval boundary into the rest by a few intervals): within half the shorter
  // neighbour of where it is, the lines fitted over twice that, so that a change of rate further
  // inside a neighbour does not pull the boundary
  const placeBoundaries = () => {
    for (let j = 0; j + 1 < runs.length; j++) {
      const A = runs[j], B = runs[j + 1];
      const w = Math.max(MIN_INTERVALS, Math.floor(Math.min(A.to - A.from, B.to - B.from) / 2));
      const lo = Math.max(A.from, A.to - 2 * w), hi = Math.min(B.to, B.from + 2 * w);
      let best = A.to, bestE = Infinity;
      for (let split = Math.max(A.from + MIN_INTERVALS, A.to - w); split <= Math.min(B.to - MIN_INTERVALS, A.to + w); split++) {
        const e = sse(lo, split) + sse(split, hi);
        if (e < bestE) { bestE = e; best = split; }
      }
      A.to = best;
      B.from = best;
    }
  };
  // neighbours of one kind are one step unless both pass current and their rates differ by more
  // than RATE_CHANGE
  const RATE_CHANGE = 0.15, FMIN = 50;
  const differ = (k1: number, k2: number) => Math.abs(k1 - k2) > RATE_CHANGE * Math.max(Math.abs(k1), Math.abs(k2));
  // each run's kind from its own average rate; then, shortest first, a run the record cannot tell
  // from its longer neighbour (a noisy stretch of a rest, or of a slow charge) takes that one's kind
  const settleKinds = (join: () => void) => {
    runs.forEach((r) => { r.kind = kindOf(rate(r.from, r.to), pts[r.to][0] - pts[r.from][0]); });
    for (;;) {
      let pick = -1, into: (typeof runs)[number] | null = null;
      runs.forEach((r, i) => {
        const a = runs[i - 1], b = runs[i + 1];
        const nbr = !a ? b : !b ? a : b.to - b.from > a.to - a.from ? b : a;
        if (!nbr || nbr.kind === r.kind || !consistent(r, nbr)) return;
        if (pick < 0 || r.to - r.from < runs[pick].to - runs[pick].from) { pick = i; into = nbr; }
      });
      if (pick < 0 || !into) break;
      runs[pick].kind = (into as (typeof runs)[number]).kind;
      join();
    }
    join();
  };
  const mergeSimilar = () => {
    const out: typeof runs = [];
    for (const r of runs) {
      const prev = out[out.length - 1];
      if (prev && prev.kind === r.kind && (r.kind === 'rest' || !differ(rate(prev.from, prev.to), rate(r.from, r.to)))) prev.to = r.to;
      else out.push({ ...r });
    }
    runs = out;
  };
  const joinSimilar = () => settleKinds(mergeSimilar);
  placeBoundaries();
  // each run one step, its kind from its own average rate (or its neighbour's: settleKinds)
  settleKinds(join);
  // a charge (or discharge) whose current changes: split where two lines fit best, while the two
  // slopes differ by more than RATE_CHANGE and the split explains far more than the noise (an F
  // ratio of the two fits' squared residuals over FMIN), each part at least MIN_INTERVALS long
  const splitByRate = (r: (typeof runs)[number]): typeof runs => {
    if (r.kind === 'rest' || r.to - r.from < 2 * MIN_INTERVALS) return [r];
    // the best of the splits that pass both tests (the best split of all can fall where the two
    // halves' slopes are alike: a dip 100 → 50 → 100 mA/g split in its middle)
    const one = sse(r.from, r.to), n = r.to - r.from + 1;
    let best = -1, bestE = Infinity;
    for (let split = r.from + MIN_INTERVALS; split <= r.to - MIN_INTERVALS; split++) {
      const e = sse(r.from, split) + sse(split, r.to);
      if (!(e < bestE)) continue;
      const f = e > 0 ? ((one - e) / 2) / (e / Math.max(1, n - 4)) : one > 0 ? Infinity : 0;
      if (f > FMIN && differ(slopeOf(r.from, split), slopeOf(split, r.to))) { bestE = e; best = split; }
    }
    if (best < 0) {
      // a change that comes back (a dip 100 → 50 → 100 mA/g) fits no two lines well: three lines,
      // the middle one's slope unlike both others'
      let b1 = -1, b2 = -1, e3 = Infinity;
      for (let s1 = r.from + MIN_INTERVALS; s1 <= r.to - 2 * MIN_INTERVALS; s1++) {
        for (let s2 = s1 + MIN_INTERVALS; s2 <= r.to - MIN_INTERVALS; s2++) {
          const e = sse(r.from, s1) + sse(s1, s2) + sse(s2, r.to);
          if (e < e3) { e3 = e; b1 = s1; b2 = s2; }
        }
      }
      if (b1 < 0) return [r];
      const f3 = e3 > 0 ? ((one - e3) / 4) / (e3 / Math.max(1, n - 6)) : one > 0 ? Infinity : 0;
      const mid = slopeOf(b1, b2);
      if (!(f3 > FMIN) || !differ(mid, slopeOf(r.from, b1)) || !differ(mid, slopeOf(b2, r.to))) return [r];
      return [...splitByRate({ kind: r.kind, from: r.from, to: b1 }), { kind: r.kind, from: b1, to: b2 }, ...splitByRate({ kind: r.kind, from: b2, to: r.to })];
    }
    return [...splitByRate({ kind: r.kind, from: r.from, to: best }), ...splitByRate({ kind: r.kind, from: best, to: r.to })];
  };
  const before = runs.length;
  runs = runs.flatMap(splitByRate);
  if (runs.length > before) {
    placeBoundaries(); // a split of a split is placed against its neighbours again
    joinSimilar();
  }
  if (runs.length === 1 && runs[0].kind === 'charge') return null;
  return runs.map(({ kind, from, to }) => {
    const duration_min = (pts[to][0] - pts[from][0]) / 60;
    // the current of a step: the least-squares slope of its points (its end points alone carry their noise)
    return kind === 'rest' ? { step: kind, duration_min } : { step: kind, current_mA_g: Number(Math.abs(slopeOf(from, to) * 3600).toPrecision(8)), duration_min };
  });
}

/**
 * protocolOfRecord over frames ref … last, on the charge record's own samples between them where it
 * has them (a rest or discharge shorter than three frame intervals is then still found; at most
 * 2 000 samples, evenly thinned), else on the record at the frames.
 */
export function protocolOfSamples(obs: Pick<ObservedParticle, "times_s" | "capacity_mAh_g" | "capacityRecord">, ref: number, last: number): Step[] | null {
  const atFrames = obs.capacity_mAh_g!;
  const r = obs.capacityRecord;
  if (!r) return protocolOfRecord(obs.times_s, atFrames, ref, last);
  const t0 = obs.times_s[ref], t1 = obs.times_s[last];
  const inside: number[] = [];
  for (let k = 0; k < r.time_s.length; k++) if (r.time_s[k] > t0 && r.time_s[k] < t1 && Number.isFinite(r.capacity_mAh_g[k])) inside.push(k);
  const MAX = 2000, keep = inside.length <= MAX ? inside : Array.from({ length: MAX }, (_, j) => inside[Math.round((j * (inside.length - 1)) / (MAX - 1))]);
  const times = [t0, ...keep.map((k) => r.time_s[k]), t1], cap = [atFrames[ref], ...keep.map((k) => r.capacity_mAh_g[k]), atFrames[last]];
  return protocolOfRecord(times, cap, 0, times.length - 1);
}

/** The first `end_min` minutes of `protocol` (its last step cut short, or the last one extended to reach it). */
function protocolUpTo(protocol: Step[], end_min: number): Step[] {
  const out: Step[] = [];
  let t = 0;
  for (const st of protocol) {
    if (t >= end_min - 1e-9) break;
    out.push({ ...st, duration_min: Math.min(st.duration_min, end_min - t) });
    t += st.duration_min;
  }
  if (t < end_min - 1e-9) out[out.length - 1].duration_min += end_min - t;
  return out;
}

/** Everything of the fit's forward problem that does not depend on the candidate. */
interface Setup {
  obs: ObservedParticle;
  par: Parameterisation;
  outline: ObservedOutline;
  base: Record<string, unknown>;
  frames: number[];
  /** fitted frames' times after the reference, s */
  t_s: number[];
  camera: Camera | null;
  signalVar: number;
  pixels: number;
  current_mA_g: number;
  currentSource: string;
  grid_um: number;
  psf: number;
  kappa: number | null;
  comWeight: number;
  material: Record<string, unknown>;
}

function candidateConfig(s: Setup, u: number[], snapshots_s: number[]): SimulationConfig {
  const material = structuredClone(s.material) as { diffusivity?: Record<string, unknown> };
  const ls = s.par.log10DScale(u);
  if (ls !== 0) {
    const d = (material.diffusivity ?? { preset: 'knee' }) as Record<string, unknown>;
    if (d.preset !== 'knee') throw new UserError('--fit-diffusivity scales the knee diffusivity (material.diffusivity.preset "knee"); other presets have no scale to fit');
    material.diffusivity = { ...d, log10DHigh: (d.log10DHigh as number ?? KNEE_DEFAULTS.log10DHigh) + ls, log10DLow: (d.log10DLow as number ?? KNEE_DEFAULTS.log10DLow) + ls };
  }
  const protocol = protocolUpTo(s.base.protocol as Step[], Math.max(...snapshots_s) / 60);
  return resolveConfig({ ...s.base, protocol, material, surface: { normalize: 'total-current', segments: s.par.segments(u) }, snapshots_min: snapshots_s.map((t) => t / 60) }, 'fit candidate');
}

/** cost of one finished run (module comment) */
function costOf(s: Setup, problem: Problem, outcome: BatchOutcome): { cost: number; kappa: number | null; reason?: string; residuals?: Float32Array[] } {
  if (!outcome.ok) return { cost: Infinity, kappa: null, reason: outcome.reason };
  const r = outcome.result;
  const snaps = s.t_s.map((t) => r.snapshots.find((x) => Math.abs(x.time_s - t) <= 1e-6 * Math.max(1, t)) ?? null);
  if (snaps.some((x) => x === null)) return { cost: Infinity, kappa: null, reason: `stopped (${r.stopReason}) at ${r.time_s.toFixed(0)} s, before the last fitted frame` };
  const cam = (s.camera ??= cropCamera(problem.grid, s.outline, s.obs, s.psf));
  const models = snaps.map((x) => modelImage(x!.field, cam, problem.theta0));
  const mask = s.obs.mask;
  let so = 0, mm = 0;
  s.frames.forEach((f, k) => {
    const o = s.obs.diff[f], m = models[k];
    for (let i = 0; i < mask.length; i++) if (mask[i] && o[i] === o[i] && m[i] === m[i]) { so += o[i] * m[i]; mm += m[i] * m[i]; }
  });
  const kappa = s.kappa ?? (mm > 0 ? Math.max(1e-3, so / mm) : 1);
  let se = 0, n = 0, com = 0;
  const W = s.obs.crop.width, p = s.obs.pixel_um;
  const residuals: Float32Array[] = [];
  s.frames.forEach((f, k) => {
    const o = s.obs.diff[f], m = models[k];
    const res = new Float32Array(mask.length).fill(NaN);
    const scaled = new Float32Array(mask.length);
    for (let i = 0; i < mask.length; i++) {
      scaled[i] = kappa * m[i];
      if (mask[i] && o[i] === o[i] && m[i] === m[i]) { const d = o[i] - scaled[i]; se += d * d; n++; res[i] = d; }
    }
    residuals.push(res);
    const so_ = s.obs.stats[f], ss = unreactedStats(scaled, mask, W, p, s.obs.threshold);
    const vo = so_.unreactedCom_um ? [so_.unreactedCom_um[0] - so_.particleCom_um[0], so_.unreactedCom_um[1] - so_.particleCom_um[1]] : null;
    const vs = ss.unreactedCom_um ? [ss.unreactedCom_um[0] - ss.particleCom_um[0], ss.unreactedCom_um[1] - ss.particleCom_um[1]] : null;
    // a core on one side only: the other's whole offset counts as the error
    const dv = vo && vs ? Math.hypot(vo[0] - vs[0], vo[1] - vs[1]) : vo ? Math.hypot(vo[0], vo[1]) : vs ? Math.hypot(vs[0], vs[1]) : 0;
    com += dv * dv;
  });
  if (!n) return { cost: Infinity, kappa, reason: 'no pixel to compare' };
  const R = s.outline.eqRadius_um;
  const cost = se / n + s.comWeight * s.signalVar * (com / s.frames.length) / (R * R);
  return { cost, kappa, residuals };
}

/** Generations, and log-likelihood gain over them, below which the best has settled (see settled). */
export const SETTLE_GENERATIONS = 5, SETTLE_LOGLIK = 0.1;
/**
 * The optimiser's search spread (σ·√C_ii, its coordinates) below which it is narrow: 0.05 is 3° on an
 * arc's centre (60° per unit). A search still wider has not converged, whatever the cost does.
 */
export const WIDE_SEARCH = 0.05;

/**
 * Whether the optimiser's best has settled on the scale its intervals are judged on: over the last
 * SETTLE_GENERATIONS generations the best cost improved by less than SETTLE_LOGLIK in ℓ =
 * (N_eff/2)·ln(cost/cost_min), a twentieth of the 1.92 that bounds the 95 % interval — more
 * generations would move the best by a small part of its interval. Converged: the search collapsed
 * (spread < 2e-3 in the optimiser's coordinates) or the best settled; the optimiser also stops after
 * 8 generations without a relative gain of 1e-4, which at N_eff ≈ 1000 can still be 0.25 in ℓ over
 * 5 generations, so that stop alone is not convergence.
 */
export function settled(history: { bestCost: number }[], nEff: number): boolean {
  if (history.length <= SETTLE_GENERATIONS) return false;
  const last = history[history.length - 1].bestCost, back = history[history.length - 1 - SETTLE_GENERATIONS].bestCost;
  if (!(last > 0) || !Number.isFinite(back)) return false;
  return (nEff / 2) * Math.log(back / last) < SETTLE_LOGLIK;
}

/**
 * Whether a finished fit converged, and what to warn about it: converged when the search collapsed,
 * or the best settled (`settled`) with the search narrow (WIDE_SEARCH); else a warning saying which
 * (still improving, or stuck while wide — only when it improved at all: otherwise the start-point
 * warning says it); open intervals; a fitted κ far from 1 (a charge record in the wrong units).
 */
export function fitVerdict(f: { collapsed: boolean; history: { bestCost: number }[]; nEff: number; wide: number; improved: boolean; intervals: FitResult['intervals']; names: string[]; kappa: number; kappaFitted: boolean }): { converged: boolean; warnings: string[] } {
  const warnings: string[] = [];
  const open = f.names.filter((name) => f.intervals[name]?.open);
  if (open.length) {
    const iv = f.intervals, many = open.length > 1;
    const zero = open.filter((name) => iv[name].hi - iv[name].lo <= 1e-9 * Math.max(1, Math.abs(iv[name].hi)));
    warnings.push(`the 95 % interval${many ? 's' : ''} of ${open.join(', ')} ${many ? 'are' : 'is'} open: the cost has no clear minimum along ${many ? 'them' : 'it'}, so ${many ? 'they are' : 'it is'} only the spread of the candidates near the best, not a confidence interval${zero.length ? ` (${zero.join(', ')}: zero-wide, no candidate differed there)` : ''}; more --generations, or fewer parameters (--model arc, fewer bins), give ${many ? 'them' : 'it'} a shape`);
  }
  if (f.kappaFitted && (f.kappa > 3 || f.kappa < 1 / 3)) warnings.push(`the fitted contrast scale κ = ${f.kappa.toPrecision(3)} is far from 1: the simulated ΔI/I0 had to be scaled by that much to match the movie; check the charge record's units (mAh/g: a record in mAh or A·s scales the protocol), --frame-s and the optics`);
  const isSettled = settled(f.history, f.nEff);
  const converged = f.collapsed || (isSettled && f.wide < WIDE_SEARCH);
  if (!converged && f.improved && isSettled) {
    warnings.push(`the optimiser's best stopped improving while its search was still wide (spread ${f.wide.toFixed(2)} in its coordinates, against ${WIDE_SEARCH}: e.g. ±${(60 * f.wide).toFixed(0)}° on the arc's centre): the best may be one of several minima; run it again with another --seed or a larger --population and compare the costs`);
  } else if (!converged && f.improved) {
    const h = f.history, n = Math.min(SETTLE_GENERATIONS, h.length - 1);
    const last = h[h.length - 1], back = h[h.length - 1 - n];
    const gain = n > 0 && Number.isFinite(back.bestCost) ? `its best cost still fell by ${((f.nEff / 2) * Math.log(back.bestCost / last.bestCost)).toFixed(2)} in log-likelihood over the last ${n === 1 ? 'one' : n}` : 'too few to judge';
    warnings.push(`the optimiser had not settled after ${h.length} generation${h.length === 1 ? '' : 's'} (${gain}; settled: under ${SETTLE_LOGLIK} over ${SETTLE_GENERATIONS}, where the 95 % interval is 1.92): run it again with more --generations (the journal keeps what was evaluated)`);
  }
  return { converged, warnings };
}

/**
 * The intervals of the physical values (FitResult.intervals) from the evaluated candidates at N_eff
 * (profileIntervals; `chi2` 3.84: 95 %). Exported for the coverage study (scripts/fit-coverage.mjs),
 * which recomputes them at other N_eff and levels from a fit's evaluations.
 */
export function physicalIntervals(par: Parameterisation, evaluations: { u: number[]; cost: number }[], best: { u: number[]; cost: number }, nEff: number, chi2 = 3.84): FitResult['intervals'] {
  const finite = evaluations.filter((e) => Number.isFinite(e.cost));
  const bv = par.values(best.u);
  const coord = profileIntervals(finite.map((e) => ({ u: e.u, cost: e.cost })), { u: best.u, cost: best.cost }, nEff, chi2);
  const intervals: FitResult['intervals'] = {};
  par.names.forEach((name, i) => {
    const at = (ui: number) => { const u = best.u.slice(); u[i] = ui; return par.values(u)[i]; };
    let lo = at(coord[i].lo), hi = at(coord[i].hi);
    // an angle: continuous about the best value (the interval may pass ±180°)
    if (par.circular[i]) { lo = bv[i] - 60 * (best.u[i] - coord[i].lo); hi = bv[i] + 60 * (coord[i].hi - best.u[i]); }
    intervals[name] = { lo: Math.min(lo, hi), hi: Math.max(lo, hi), open: coord[i].method !== 'quadratic', method: coord[i].method };
  });
  return intervals;
}

/** Fits the surface blocking of `obs` (module comment). Throws UserError for input it cannot fit. */
export async function fitSurface(obs: ObservedParticle, o: FitOptions): Promise<FitResult> {
  if (!o?.runner || typeof o.runner.run !== 'function') throw new UserError('fitSurface: options.runner is missing: give cpuBatchRunner() (the CPU reference, a thread pool) or gpuBatchRunner(gpu) (lanes of one GPU batch)');
  if (o.generations !== undefined) checkNumber('fitSurface: options.generations (--generations)', o.generations, { integer: true, min: 1 });
  if (o.population !== undefined) checkNumber('fitSurface: options.population (--population)', o.population, { integer: true, min: 2 });
  const started = Date.now();
  const warnings: string[] = [];
  const warn = (m: string) => { warnings.push(m); o.warn?.(m); };
  let model: FitModel;
  try { model = typeof o.model === 'object' ? o.model : parseFitModel(o.model ?? 'arc'); } catch (e) { throw new UserError((e as Error).message); }
  const psf = o.psfSigma_um ?? 0.11;
  const outline = observedOutline(obs, '--observed', psf);
  const ref = obs.referenceFrame, F = obs.times_s.length;
  // the fitted frames: after the reference, inside the charge record
  let last = F - 1;
  if (obs.capacity_mAh_g) while (last > ref && !Number.isFinite(obs.capacity_mAh_g[last] as number)) last--;
  if (last <= ref) throw new UserError(`${obs.source}: no frame after the reference frame ${ref} to fit${obs.capacity_mAh_g ? ' inside the charge record' : ''}`);
  const frames = o.frames?.length ? [...o.frames].sort((a, b) => a - b) : evenFrames(ref + 1, last, o.fitFrames ?? 6);
  for (const f of frames) if (!Number.isInteger(f) || f <= ref || f >= F) throw new UserError(`--frames: frame ${f} is not allowed: fit frames after the reference frame ${ref}, up to ${F - 1}`);
  const t_s = frames.map((f) => obs.times_s[f] - obs.times_s[ref]);

  // the current: --current-mA-g, or the charge record — its own steps when it has rests or
  // discharges, else its least-squares slope (one charge)
  let current = o.current_mA_g ?? null, currentSource = '--current-mA-g';
  const fittedLast = frames[frames.length - 1];
  // (the whole record: the candidates run to the last fitted frame, the best one to the last frame)
  const recordSteps = current === null && obs.capacity_mAh_g ? protocolOfSamples(obs, ref, last) : null;
  if (recordSteps) {
    const first = recordSteps.find((st) => st.step === 'charge');
    if (!first) throw new UserError(`the charge record ${obs.capacitySource} has no charge over frames ${ref} … ${last}: fit models a charge (and what follows it); give --current-mA-g X for one constant charge`);
    current = first.current_mA_g as number;
    currentSource = `${obs.capacitySource} over frames ${ref} … ${last}: ${recordSteps.map((st) => `${st.step}${st.current_mA_g ? ` ${st.current_mA_g.toPrecision(3)} mA/g` : ''} ${st.duration_min.toPrecision(3)} min`).join(', ')}`;
  } else if (current === null) {
    if (!obs.capacity_mAh_g) throw new UserError(`fit needs the applied current: give --capacity FILE (time_s,capacity_mAh_g of ${obs.source}) or --current-mA-g X`);
    const k = slope(obs.times_s.slice(ref, fittedLast + 1), obs.capacity_mAh_g.slice(ref, fittedLast + 1));
    if (k === null || !(k > 0)) throw new UserError(`the charge record ${obs.capacitySource} does not rise over frames ${ref} … ${fittedLast} (slope ${k === null ? 'undefined' : (k * 3600).toPrecision(3) + ' mA/g'}): fit models a charge at constant current; give --current-mA-g X`);
    current = k * 3600;
    currentSource = `slope of ${obs.capacitySource} over frames ${ref} … ${fittedLast}`;
  }
  if (!(current > 0)) throw new UserError(`--current-mA-g = ${current} is not allowed: use a positive current (charge)`);

  const defaultGrid_um = Math.max(0.005, Math.round(outline.eqRadius_um / 20 / 0.005) * 0.005);
  const grid_um = o.grid_um ?? defaultGrid_um;
  // the arc starts on the side the observed core leans to (a blocked side keeps its Li longest)
  let startCenter = 180, bestRel = -1;
  for (const f of frames) {
    const s = obs.stats[f];
    if (s.comOffsetRel !== null && s.unreactedCom_um && s.comOffsetRel > bestRel && s.unreactedFraction > 0.05) {
      bestRel = s.comOffsetRel;
      startCenter = (Math.atan2(-(s.unreactedCom_um[1] - s.particleCom_um[1]), s.unreactedCom_um[0] - s.particleCom_um[0]) * 180) / Math.PI;
    }
  }
  const par = parameterisation(model, { fitDiffusivity: o.fitDiffusivity, startCenterDeg: startCenter, smoothness: o.smoothness });
  let sum = 0, sum2 = 0, cnt = 0;
  for (const f of frames) { const d = obs.diff[f]; for (let i = 0; i < d.length; i++) if (obs.mask[i] && d[i] === d[i]) { sum += d[i]; sum2 += d[i] * d[i]; cnt++; } }
  const signalVar = cnt ? Math.max(1e-12, sum2 / cnt - (sum / cnt) ** 2) : 1;
  const duration_min = t_s[t_s.length - 1] / 60;
  const material = { capacity_mAh_g: 275.0, diffusivity: { preset: 'knee' }, ...o.material };
  const base: Record<string, unknown> = {
    particle: { shape: 'polygon', vertices_um: outline.vertices_um },
    grid: { spacing_um: grid_um },
    initialTheta: o.theta0 ?? 1,
    protocol: recordSteps ?? [{ step: 'charge', current_mA_g: Number(current.toPrecision(8)), duration_min }],
    // the movie went on: a cut-off lower than the paper's 0.2 so that no plausible candidate stops early
    cutoff: { surfaceTheta: 0.05 },
    optics: { kappa: o.kappa ?? 1, psfSigma_um: psf, pixel_um: obs.pixel_um, unreactedThreshold: obs.threshold },
  };
  const setup: Setup = { obs, par, outline, base, frames, t_s, camera: null, signalVar, pixels: cnt / frames.length, current_mA_g: current, currentSource, grid_um, psf, kappa: o.kappa ?? null, comWeight: o.comWeight ?? 1, material };
  // check the forward problem once, before any batch (a grid too coarse, a diffusivity refused)
  let perSimulation = 0;
  try {
    const p = await buildProblem(candidateConfig(setup, par.start, t_s));
    if (p.grid.cells < 200) warn(`the simulation grid has only ${p.grid.cells} cells at ${grid_um} µm: consider a finer --grid-um`);
    perSimulation = estimatedSteps(p) * p.grid.cells;
  } catch (e) {
    if (e instanceof UserError && !(e instanceof ConfigError)) throw e;
    throw new UserError(`fit: the simulation of particle ${obs.id}'s outline is refused: ${(e as Error).message.split('\n')[0]}`);
  }

  const cache = o.journal?.load() ?? new Map<string, JournalEntry>();
  const resumed = cache.size;
  const evaluations: FitEvaluation[] = [];
  let simulationsRun = 0;
  let bestResiduals: Float32Array[] | null = null, bestCost = Infinity;
  const evaluate = async (us: number[][], generation: FitEvaluation['generation']): Promise<number[]> => {
    const todo = us.map((u, i) => ({ u, i, key: keyOf(u) })).filter((x) => !cache.has(x.key));
    const costs = new Array<number>(us.length);
    if (todo.length) {
      const problems = await Promise.all(todo.map((x) => buildProblem(candidateConfig(setup, x.u, t_s))));
      const outcomes = await o.runner.run(problems, o.signal);
      simulationsRun += todo.length;
      const entries: JournalEntry[] = [];
      todo.forEach((x, k) => {
        // the penalty depends on the candidate: applied here (costOf leaves it at 1)
        const c = costOf(setup, problems[k], outcomes[k]);
        const cost = c.cost * par.penalty(x.u);
        if (cost < bestCost && c.residuals) { bestCost = cost; bestResiduals = c.residuals; }
        const e: JournalEntry = { key: x.key, u: x.u, cost, kappa: c.kappa, ...(c.reason ? { reason: c.reason } : {}) };
        cache.set(x.key, e);
        entries.push(e);
      });
      o.journal?.append(entries);
    }
    us.forEach((u, i) => {
      const e = cache.get(keyOf(u))!;
      costs[i] = e.cost;
      evaluations.push({ u, values: par.values(u), cost: e.cost, kappa: e.kappa, reason: e.reason, generation });
    });
    return costs;
  };

  const maxGen = o.generations ?? 40; // the optimiser stops earlier once its best has stopped improving (8 generations)
  const es = new Cmaes({ x0: par.start, sigma0: par.sigma0, population: o.population, seed: o.seed ?? 1 });
  // a grid far finer than the default (a --grid-um typo) makes every simulation hours long: say so up front
  const upTo = 1 + maxGen * es.lambda;
  if (perSimulation * upTo > FIT_WORK_WARNING) {
    warn(`each simulation at --grid-um ${grid_um} needs about ${perSimulation.toExponential(1)} cell-updates, and the fit runs up to ${upTo} of them (${maxGen} generations of ${es.lambda}): about ${(perSimulation * upTo).toExponential(1)} cell-updates, ${roughDuration((perSimulation * upTo) / 2e8)} at 2·10⁸ per second (the CPU reference on 2 cores); the default grid for this particle is ${Number(defaultGrid_um.toPrecision(6))} µm (R_eq/20; Ctrl-C stops it, the journal keeps what was evaluated)`);
  }
  const history: FitResult['history'] = [];
  // the start point itself, the yardstick of "improved"
  const [startCost] = await evaluate([par.start], 0);
  let state: CmaesState = es.state(), converged = false, stagnant = 0;
  for (let g = 0; g < maxGen; g++) {
    if (o.signal?.aborted) throw new Error('fit stopped');
    const xs = es.ask();
    const costs = await evaluate(xs, g + 1);
    const before = state.bestCost;
    es.tell(costs);
    state = es.state();
    history.push({ generation: g + 1, evaluations: evaluations.length, bestCost: state.bestCost, values: par.values(state.bestX) });
    o.onProgress?.(((g + 1) / maxGen) * 0.85, `generation ${g + 1}/${maxGen}, best cost ${state.bestCost.toPrecision(4)}, ${evaluations.length} simulations${resumed ? ` (${resumed} from the journal)` : ''}`);
    stagnant = before - state.bestCost <= 1e-4 * Math.abs(state.bestCost) ? stagnant + 1 : 0;
    // the search has collapsed (converged), or stopped improving (judged by `settled` below)
    if (Math.max(...state.spread) < 2e-3) { converged = true; break; }
    // no gain for 8 generations stops it only once the search is narrow: a wide one may be stuck
    // on one of several minima, and goes on to --generations
    if (stagnant >= 8 && Math.max(...state.spread) < WIDE_SEARCH) break;
  }
  const wide = Math.max(...state.spread);
  if (!Number.isFinite(state.bestCost)) throw new UserError(`fit: no candidate could be simulated to the last fitted frame (t = ${t_s[t_s.length - 1]} s): ${evaluations.find((e) => e.reason)?.reason ?? 'unknown'}; check the current (${current.toPrecision(4)} mA/g) and the frames`);
  const improved = state.bestCost < startCost * (1 - 1e-4);
  if (!improved) warn(`the optimiser did not improve on its start point (cost ${startCost.toPrecision(4)}, best ${state.bestCost.toPrecision(4)} after ${history.length} generations): the movie carries no information the model can use on the blocking (no reaction, noise, or a model that does not fit it) — the result is not a fit`);

  // a final batch of one-parameter steps from the best, so that each profile is sampled on both sides
  const bestU = state.bestX;
  const steps: number[][] = [];
  for (let i = 0; i < par.dim; i++) {
    const d = Math.max(0.05, 2 * state.spread[i]);
    for (const k of [-2, -1, 1, 2]) { const u = bestU.slice(); u[i] += k * d; steps.push(u); }
  }
  await evaluate(steps, 'profile');
  o.onProgress?.(0.95, 'profile steps done');

  // best of everything evaluated
  const finite = evaluations.filter((e) => Number.isFinite(e.cost));
  const best = finite.reduce((a, e) => (e.cost < a.cost ? e : a), finite[0]);
  if (!bestResiduals) {
    // everything came from the journal: one run of the best for the residual statistics
    const p = await buildProblem(candidateConfig(setup, best.u, t_s));
    const [out] = await o.runner.run([p], o.signal);
    simulationsRun++;
    bestResiduals = costOf(setup, p, out).residuals ?? [];
  }
  const correlation = effectiveSamples(bestResiduals, obs.crop.width);
  const { nEff, n } = correlation;
  const bv = best.values;
  const intervals = physicalIntervals(par, finite, best, nEff);
  const verdict = fitVerdict({ collapsed: converged, history, nEff, wide, improved, intervals, names: par.names, kappa: best.kappa ?? o.kappa ?? 1, kappaFitted: (o.kappa ?? null) === null });
  converged = verdict.converged;
  verdict.warnings.forEach(warn);
  const config = candidateConfig(setup, best.u, obs.times_s.slice(ref + 1).map((t) => t - obs.times_s[ref]));
  o.onProgress?.(1, 'done');
  return {
    particle: obs.id, model: par.name, parameterisation: par, names: par.names,
    best: { u: best.u, values: bv, cost: best.cost, kappa: best.kappa ?? o.kappa ?? 1 },
    intervals,
    intervalMethod: `profile likelihood in the quadratic (Hessian) approximation with the noise level and the number of independent samples both taken from the best fit's residuals: ℓ = (N_eff/2)·ln(cost/cost_min), a quadratic in the optimiser's coordinates fitted by least squares to the evaluated candidates of smallest ℓ (the last CMA-ES generations plus a final batch of one-parameter steps from the best), interval u*_i ± √(3.84·Σ_ii) with Σ = H⁻¹ (95 %, χ²₁), widened to every candidate with ℓ ≤ 1.92; N_eff = ${Math.round(nEff)} of ${n} residual pixels × frames: the residuals are correlated over ${correlation.area_px.toFixed(1)} pixels within a frame (their autocorrelation summed out to its first zero, ${correlation.radius_px} px) and are worth ${correlation.framesEff.toFixed(2)} independent frames of ${correlation.frames} (their frame-to-frame correlation). "open": the Hessian was not positive definite: the interval is then the slice through the best along that parameter (ℓ ≈ a·x² fitted to the one-parameter steps, others fixed: narrower than the profile) or, failing that, the range of the candidates with ℓ ≤ 1.92`,
    history, evaluations,
    simulations: evaluations.length, simulationsRun,
    wallTime_s: (Date.now() - started) / 1000,
    converged, improved, config, frames, current_mA_g: current, currentSource, grid_um, psfSigma_um: psf, nEff, residualCorrelation: correlation, pixels: setup.pixels,
    outline, backend: o.runner.label, warnings,
  };
}
