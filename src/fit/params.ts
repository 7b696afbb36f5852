/**
 * Parameterisations of the surface blocking that `fit` infers, each mapping the optimiser's
 * unconstrained coordinates u to physical values and to the config's surface.segments:
 *
 *   arc      one blocked arc: centre angle (wrapped; u0 = centre/60°), span (logit onto 5…355°),
 *            η (logit onto 0…1)
 *   bins:N   η in N equal angular bins (logit each), centres at (k + ½)·360/N; a smoothness
 *            penalty on neighbouring bins (circular)
 *
 * plus, with `fitDiffusivity`, a scale of the diffusivity, u = log10(scale)/0.5 (knee preset: both
 * of its log10 D levels move by log10(scale)).
 */
import type { SurfaceSegment } from '../model/surface';

export type FitModel = { kind: 'arc' } | { kind: 'bins'; bins: number };

export interface Parameterisation {
  model: FitModel;
  /** 'arc' or 'bins:N' (fit.json) */
  name: string;
  dim: number;
  /** names of the physical values (cost.csv columns, interval keys) */
  names: string[];
  /** physical values of u, in `names` order */
  values(u: number[]): number[];
  segments(u: number[]): SurfaceSegment[];
  /** log10 of the diffusivity scale (0 without --fit-diffusivity) */
  log10DScale(u: number[]): number;
  /** multiplies the cost: 1 + smoothness·Σ(Δη)² over neighbouring bins (1 for arcs) */
  penalty(u: number[]): number;
  /** η(φ) at degrees φ */
  etaAt(u: number[], phiDeg: number): number;
  /** u of the start point */
  start: number[];
  sigma0: number;
  /** which values are angles (compared modulo 360°) */
  circular: boolean[];
  /** fit.json's best / intervals layout from the physical values */
  report(values: number[]): Record<string, unknown>;
}

const logistic = (u: number) => 1 / (1 + Math.exp(-u));
const logit = (p: number) => Math.log(p / (1 - p));
const wrap = (d: number) => ((((d + 180) % 360) + 360) % 360) - 180;
const SPAN_MIN = 5, SPAN_MAX = 355;

/** `arc`, `bins:N` → the model; throws with the allowed forms */
export function parseFitModel(text: string): FitModel {
  if (text === 'arc') return { kind: 'arc' };
  const m = /^bins:(\d+)$/.exec(text);
  if (m && Number(m[1]) >= 2 && Number(m[1]) <= 72) return { kind: 'bins', bins: Number(m[1]) };
  throw new Error(`--model ${text} is not allowed: use arc, or bins:N with N in 2 … 72`);
}

export interface ParamOptions {
  fitDiffusivity?: boolean;
  /** the arc's starting centre, degrees (default 180) */
  startCenterDeg?: number;
  /** weight of the bins' smoothness penalty (default 1) */
  smoothness?: number;
}

export function parameterisation(model: FitModel, o: ParamOptions = {}): Parameterisation {
  const fd = !!o.fitDiffusivity;
  const dScale = (u: number[], k: number) => (fd ? 0.5 * u[k] : 0);
  if (model.kind === 'arc') {
    const names = ['centerDeg', 'spanDeg', 'eta', ...(fd ? ['log10DScale'] : [])];
    const values = (u: number[]) => [wrap(60 * u[0]), SPAN_MIN + (SPAN_MAX - SPAN_MIN) * logistic(u[1]), logistic(u[2]), ...(fd ? [dScale(u, 3)] : [])];
    const segments = (u: number[]): SurfaceSegment[] => {
      const [c, s, eta] = values(u);
      return [{ fromDeg: Number((c - s / 2).toFixed(6)), toDeg: Number((c + s / 2).toFixed(6)), eta: Number(eta.toFixed(8)) }];
    };
    return {
      model, name: 'arc', dim: names.length, names, values, segments,
      log10DScale: (u) => dScale(u, 3), penalty: () => 1,
      etaAt: (u, phi) => { const [c, s, eta] = values(u); return Math.abs(wrap(phi - c)) < s / 2 ? eta : 1; },
      start: [(o.startCenterDeg ?? 180) / 60, logit((90 - SPAN_MIN) / (SPAN_MAX - SPAN_MIN)), 0, ...(fd ? [0] : [])],
      sigma0: 0.6,
      circular: names.map((n) => n === 'centerDeg'),
      report: (v) => ({ centerDeg: v[0], spanDeg: v[1], eta: v[2], ...(fd ? { log10DScale: v[3] } : {}) }),
    };
  }
  const N = model.bins, w = 360 / N;
  const centres = Array.from({ length: N }, (_, k) => (k + 0.5) * w);
  const names = [...centres.map((c) => `eta@${Number(c.toFixed(2))}`), ...(fd ? ['log10DScale'] : [])];
  const etas = (u: number[]) => u.slice(0, N).map(logistic);
  const lambda = o.smoothness ?? 1;
  return {
    model, name: `bins:${N}`, dim: names.length, names,
    values: (u) => [...etas(u), ...(fd ? [dScale(u, N)] : [])],
    segments: (u) => etas(u).flatMap((eta, k) => (eta < 0.9995 ? [{ fromDeg: Number((k * w).toFixed(6)), toDeg: Number(((k + 1) * w).toFixed(6)), eta: Number(eta.toFixed(8)) }] : [])),
    log10DScale: (u) => dScale(u, N),
    penalty: (u) => { const e = etas(u); let s = 0; for (let k = 0; k < N; k++) s += (e[k] - e[(k + 1) % N]) ** 2; return 1 + lambda * s; },
    etaAt: (u, phi) => etas(u)[Math.min(N - 1, Math.floor((((phi % 360) + 360) % 360) / w))],
    start: [...new Array(N).fill(logit(0.7)), ...(fd ? [0] : [])],
    sigma0: 1,
    circular: names.map(() => false),
    report: (v) => ({ binCentersDeg: centres, eta: v.slice(0, N), ...(fd ? { log10DScale: v[N] } : {}) }),
  };
}
