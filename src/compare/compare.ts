/**
 * Simulated against observed, frame by frame (SPEC §7 `compare`): the simulated particle registered
 * onto the observed one (register.ts), the simulation's snapshots matched to the movie's frames by
 * charge passed or by time, the simulated ΔI/I0 resampled onto the observed pixels, and per matched
 * frame the metrics of comparison.csv. Both sides are measured alike: on the observed particle's
 * mask, with the same unreacted threshold and the same centre-of-mass definitions as analyze.
 * No files here (src/compare/output.ts writes them), so it runs in a browser too.
 */
import { checkOneOf } from '../checks';
import { UserError } from '../errors';
import { unreactedStats, type UnreactedStats } from '../observables/unreacted';
import type { ObservedParticle } from './observed';
import { registerParticles, warpToObserved, type RegisterOptions, type Registration } from './register';
import type { SimulatedSide } from './simulated';

export type AlignMode = 'auto' | 'charge' | 'time';

export interface CompareOptions {
  /** 'auto' (default): by charge when both sides have capacities, else by time */
  align?: AlignMode;
  /** observed frames to compare (each must have a snapshot); default every frame that has one */
  frames?: number[] | null;
  registration?: RegisterOptions;
  /** a registration found elsewhere (a fit simulates on the observed outline itself) */
  fixedRegistration?: Registration | null;
  /** ΔI/I0 below which a pixel is unreacted; default the observed side's */
  threshold?: number;
  /** names the simulated input in messages; default `--sim` */
  simFlag?: string;
}

export interface FrameComparison {
  frame: number;
  /** the simulated snapshot (or frame) matched to it */
  simIndex: number;
  time_s: number;
  simTime_s: number;
  capacity_mAh_g: number | null;
  simCapacity_mAh_g: number | null;
  pearsonR: number | null;
  rmse: number;
  /** simulated − observed unreacted area, µm² (on the observed mask) */
  unreactedAreaDiff_um2: number;
  comOffsetObs_um: number | null;
  comOffsetSim_um: number | null;
  /** |offset vector observed − offset vector simulated|, µm */
  comOffsetError_um: number | null;
  /** angle between the two offset vectors, degrees in [0, 180] */
  directionError_deg: number | null;
  meanDiffObs: number;
  meanDiffSim: number;
  /** offset vectors (unreacted COM − particle COM), µm, physical axes (x right, y up) */
  offsetObs_um: [number, number] | null;
  offsetSim_um: [number, number] | null;
}

export interface Alignment {
  mode: 'charge' | 'time';
  /** why this mode (auto) */
  reason: string;
  /** the largest mismatch accepted between a frame and its snapshot (s or mAh/g) */
  tolerance: number;
  /** observed frames with no snapshot within the tolerance */
  unmatchedFrames: number;
}

export interface ComparisonResult {
  observed: ObservedParticle;
  simulated: SimulatedSide;
  registration: Registration;
  alignment: Alignment;
  frames: FrameComparison[];
  /** the simulated ΔI/I0 on the observed crop, per compared frame */
  simulatedOnObserved: Float32Array[];
  medians: Record<'pearsonR' | 'rmse' | 'unreactedAreaDiff_um2' | 'comOffsetObs_um' | 'comOffsetSim_um' | 'comOffsetError_um' | 'directionError_deg', number | null>;
  threshold: number;
  warnings: string[];
}

/** Pearson r and RMSE of a against b over the pixels where mask is set and both are finite. */
export function pixelAgreement(a: ArrayLike<number>, b: ArrayLike<number>, mask: ArrayLike<number>): { pearsonR: number | null; rmse: number; n: number } {
  let n = 0, sa = 0, sb = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] && a[i] === a[i] && b[i] === b[i]) { n++; sa += a[i]; sb += b[i]; }
  if (!n) return { pearsonR: null, rmse: NaN, n };
  const ma = sa / n, mb = sb / n;
  let cab = 0, caa = 0, cbb = 0, se = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!(mask[i] && a[i] === a[i] && b[i] === b[i])) continue;
    const da = a[i] - ma, db = b[i] - mb;
    cab += da * db; caa += da * da; cbb += db * db; se += (a[i] - b[i]) ** 2;
  }
  return { pearsonR: caa > 0 && cbb > 0 ? cab / Math.sqrt(caa * cbb) : null, rmse: Math.sqrt(se / n), n };
}

export function median(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((x, y) => x - y);
  if (!v.length) return null;
  const k = v.length >> 1;
  return v.length % 2 ? v[k] : (v[k - 1] + v[k]) / 2;
}

/** unreacted COM − particle COM in physical axes (y up), µm */
function offsetVector(s: UnreactedStats): [number, number] | null {
  return s.unreactedCom_um ? [s.unreactedCom_um[0] - s.particleCom_um[0], -(s.unreactedCom_um[1] - s.particleCom_um[1])] : null;
}

const hasCapacity = (c: (number | null)[] | null) => !!c && c.some((v) => v !== null && Number.isFinite(v));

/**
 * Matches simulated snapshots to observed frames: each snapshot goes to the observed frame nearest in
 * charge (or time) within half the typical spacing of the observed frames; the reference frame is
 * left out (its ΔI/I0 is zero on both sides). By charge, frames within a quarter of the tolerance of
 * the nearest are a tie, broken by time since each side's start (the observed reference frame, the
 * run's t = 0): during a rest the charge stands still, so every snapshot of the
 * rest is as near in charge to every frame of it, and the nearest in time is the one it shows
 * (before, they all went to the rest's first frame and all but one were dropped). Returns
 * [frame, snapshot] pairs in frame order.
 */
function align(obs: ObservedParticle, sim: SimulatedSide, mode: AlignMode, simFlag: string): { pairs: [number, number][]; alignment: Alignment } {
  const both = hasCapacity(obs.capacity_mAh_g) && hasCapacity(sim.capacity_mAh_g);
  if (mode === 'charge' && !both) {
    const missing = !hasCapacity(obs.capacity_mAh_g) ? `the observed movie ${obs.source} has none (give --capacity FILE)` : `the simulated side ${sim.source} has none`;
    throw new UserError(`--align charge needs the charge passed on both sides, but ${missing}: use --align time`);
  }
  const byCharge = mode === 'charge' || (mode === 'auto' && both);
  const xo = byCharge ? obs.capacity_mAh_g!.map((v) => (v === null ? NaN : v)) : obs.times_s;
  const xs = byCharge ? sim.capacity_mAh_g!.map((v) => (v === null ? NaN : v)) : sim.times_s;
  const steps: number[] = [];
  for (let i = 1; i < xo.length; i++) { const d = Math.abs(xo[i] - xo[i - 1]); if (Number.isFinite(d) && d > 0) steps.push(d); }
  const tolerance = 0.5 * (median(steps) ?? (byCharge ? 1 : obs.frame_s));
  const best = new Map<number, { k: number; err: number; dt: number }>();
  const tie = byCharge ? 0.25 * tolerance : 0;
  // times from each side's start (the observed reference frame; the run's t = 0), for the ties
  const obsStart = obs.times_s[obs.referenceFrame] ?? 0, simStart = sim.startTime_s ?? 0;
  xs.forEach((x, k) => {
    if (!Number.isFinite(x)) return;
    let err = Infinity;
    xo.forEach((v, i) => { if (i !== obs.referenceFrame && Number.isFinite(v)) err = Math.min(err, Math.abs(v - x)); });
    if (err > tolerance * (1 + 1e-9)) return;
    let f = -1, dt = Infinity;
    xo.forEach((v, i) => {
      if (i === obs.referenceFrame || !Number.isFinite(v) || Math.abs(v - x) > err + tie) return;
      const d = Math.abs(obs.times_s[i] - obsStart - (sim.times_s[k] - simStart));
      if (f < 0 || d < dt) { f = i; dt = d; }
    });
    // one snapshot per frame: the nearer in charge (or time), then in time
    const own = Math.abs(xo[f] - x);
    const prev = best.get(f);
    if (!prev || own < prev.err - tie || (own <= prev.err + tie && dt < prev.dt)) best.set(f, { k, err: own, dt });
  });
  const pairs = [...best.entries()].sort((a, b) => a[0] - b[0]).map(([f, v]) => [f, v.k] as [number, number]);
  const unit = byCharge ? 'mAh/g' : 's';
  if (!pairs.length) {
    const range = (v: number[]) => { const f = v.filter(Number.isFinite); return f.length ? `${fmt(Math.min(...f))} … ${fmt(Math.max(...f))} ${unit}` : 'none'; };
    throw new UserError(`${simFlag} ${sim.source} has no snapshot within ±${fmt(tolerance)} ${unit} of an observed frame (${byCharge ? 'charge' : 'time'} of the observed frames ${range(xo)}, of the snapshots ${range(xs)}): take snapshots at the frame ${byCharge ? 'charges or times' : 'times'} (snapshots_min)${byCharge ? '' : ' or align by charge'}`);
  }
  const reason = mode === 'auto' ? (both ? 'auto: both sides have the charge passed' : `auto: ${hasCapacity(obs.capacity_mAh_g) ? 'the simulated side' : 'the observed movie'} has no charge record over its frames (none given, or none that overlaps them), so by time`) : `--align ${mode}`;
  return { pairs, alignment: { mode: byCharge ? 'charge' : 'time', reason, tolerance, unmatchedFrames: obs.times_s.length - 1 - pairs.length } };
}

const fmt = (v: number) => String(Number(v.toPrecision(4)));

/** Registers, aligns and measures (module comment). Throws UserError when nothing can be matched. */
export function compareParticles(obs: ObservedParticle, sim: SimulatedSide, options: CompareOptions = {}): ComparisonResult {
  const what = (v: unknown) => (v === null || v === undefined ? String(v) : 'an object without a mask');
  if (!obs || !obs.mask) throw new UserError(`compareParticles: the observed side is ${what(obs)}: give readObservedParticle(movie)'s result`);
  if (!sim || !sim.mask) throw new UserError(`compareParticles: the simulated side is ${what(sim)}: give simulatedFromFields(problem, snapshots)'s or simulatedFromMovie(observed)'s result`);
  if (options.align !== undefined) checkOneOf('compareParticles: options.align', options.align, ['auto', 'charge', 'time'] as const);
  const warnings: string[] = [];
  const simFlag = options.simFlag ?? '--sim';
  const threshold = options.threshold ?? obs.threshold;
  const obsImage = { mask: obs.mask, width: obs.crop.width, height: obs.crop.height, pixel_um: obs.pixel_um };
  const found = options.fixedRegistration ?? registerParticles({ mask: sim.mask, width: sim.width, height: sim.height, pixel_um: sim.pixel_um }, obsImage, options.registration);
  // the shift between the two whole frames (a movie's crop sits somewhere in its frame)
  const so = [obs.crop.col0 * obs.pixel_um, -obs.crop.row0 * obs.pixel_um], ss = sim.frameOffset_um ?? [0, 0];
  const shift_um: [number, number] = [found.centroidObs_um[0] + so[0] - (found.centroidSim_um[0] + ss[0]), found.centroidObs_um[1] + so[1] - (found.centroidSim_um[1] + ss[1])];
  const registration: Registration = { ...found, shift_um, shift_px: [shift_um[0] / obs.pixel_um, -shift_um[1] / obs.pixel_um] };
  if (registration.iou < 0.7) warnings.push(`the registered outlines overlap poorly (IoU ${registration.iou.toFixed(2)}): the simulated particle's shape differs from the observed one`);
  const { pairs: allPairs, alignment } = align(obs, sim, options.align ?? 'auto', simFlag);
  let pairs = allPairs;
  if (options.frames && options.frames.length) {
    const want = options.frames;
    for (const f of want) {
      if (!Number.isInteger(f) || f < 0 || f >= obs.times_s.length) throw new UserError(`--frames: frame ${f} is not allowed: ${obs.source} has frames 0 … ${obs.times_s.length - 1}`);
      if (!allPairs.some(([g]) => g === f)) {
        const x = alignment.mode === 'charge' ? `${fmt(obs.capacity_mAh_g![f])} mAh/g` : `${fmt(obs.times_s[f])} s`;
        throw new UserError(`${simFlag} ${sim.source} has no snapshot at observed frame ${f} (${x}, within ±${fmt(alignment.tolerance)} ${alignment.mode === 'charge' ? 'mAh/g' : 's'}): take a snapshot there (snapshots_min) or leave the frame out of --frames`);
      }
    }
    pairs = allPairs.filter(([f]) => want.includes(f));
  }
  if (alignment.unmatchedFrames > 0 && !options.frames) warnings.push(`${alignment.unmatchedFrames} observed frame(s) are not compared: each simulated snapshot is compared with the one frame nearest it in ${alignment.mode === 'charge' ? 'charge passed (±' + fmt(alignment.tolerance) + ' mAh/g; ties, as in a rest, by time)' : 'time (±' + fmt(alignment.tolerance) + ' s)'}, and these frames have none of their own (snapshots_min sets which are taken)`);

  const W = obs.crop.width, p = obs.pixel_um;
  const frames: FrameComparison[] = [];
  const simulatedOnObserved: Float32Array[] = [];
  for (const [f, k] of pairs) {
    const simImg = warpToObserved({ data: sim.diff[k], width: sim.width, height: sim.height, pixel_um: sim.pixel_um }, { width: W, height: obs.crop.height, pixel_um: p }, registration.matrix);
    simulatedOnObserved.push(simImg);
    const o = obs.diff[f];
    const agree = pixelAgreement(o, simImg, obs.mask);
    const so = unreactedStats(o, obs.mask, W, p, threshold), ss = unreactedStats(simImg, obs.mask, W, p, threshold);
    const vo = offsetVector(so), vs = offsetVector(ss);
    let dirErr: number | null = null;
    if (vo && vs && Math.hypot(...vo) > 0 && Math.hypot(...vs) > 0) {
      const c = (vo[0] * vs[0] + vo[1] * vs[1]) / (Math.hypot(...vo) * Math.hypot(...vs));
      dirErr = (Math.acos(Math.max(-1, Math.min(1, c))) * 180) / Math.PI;
    }
    frames.push({
      frame: f, simIndex: k, time_s: obs.times_s[f], simTime_s: sim.times_s[k],
      capacity_mAh_g: obs.capacity_mAh_g?.[f] ?? null, simCapacity_mAh_g: sim.capacity_mAh_g?.[k] ?? null,
      pearsonR: agree.pearsonR, rmse: agree.rmse,
      unreactedAreaDiff_um2: (ss.unreactedPixels - so.unreactedPixels) * p * p,
      comOffsetObs_um: so.comOffset_um, comOffsetSim_um: ss.comOffset_um,
      comOffsetError_um: vo && vs ? Math.hypot(vo[0] - vs[0], vo[1] - vs[1]) : null,
      directionError_deg: dirErr,
      meanDiffObs: so.meanDiff, meanDiffSim: ss.meanDiff, offsetObs_um: vo, offsetSim_um: vs,
    });
  }
  const medians = {
    pearsonR: median(frames.map((r) => r.pearsonR)),
    rmse: median(frames.map((r) => r.rmse)),
    unreactedAreaDiff_um2: median(frames.map((r) => r.unreactedAreaDiff_um2)),
    comOffsetObs_um: median(frames.map((r) => r.comOffsetObs_um)),
    comOffsetSim_um: median(frames.map((r) => r.comOffsetSim_um)),
    comOffsetError_um: median(frames.map((r) => r.comOffsetError_um)),
    directionError_deg: median(frames.map((r) => r.directionError_deg)),
  };
  return { observed: obs, simulated: sim, registration, alignment, frames, simulatedOnObserved, medians, threshold, warnings };
}
