/**
 * The paper's single-particle analysis of an operando movie, as one streaming pipeline (SPEC §2, §6):
 *
 *   reference frame → particles (Otsu segmentation or a user mask)
 *   pass 1, frames in batches: read → drift by phase correlation → frame processor (ΔI/I0 map with
 *          the drift applied, per-particle sums; GPU or CPU) → diff.tif page, per-particle trace row
 *   classify each particle (symmetric / asymmetric) from its trace
 *   pass 2 (only when the kymograph direction had to wait for the traces): re-read diff.tif page by
 *          page and sample each particle's line cut
 *   figures and tables
 *
 * Memory is bounded by the batch (a few frames), the montage's few frames, and per-particle traces and
 * line samples (numbers per frame, not images), so a movie larger than memory is analysed frame by
 * frame. The kymograph's default line follows the direction of the largest centre-of-mass offset,
 * which is only known once all frames are seen: rather than keeping every particle's crop of every
 * frame (unbounded for long movies), the pipeline reads back the diff.tif it has just written, one
 * page at a time. With `lineAngleDeg` given, the lines are known up front and sampled in pass 1.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors';
import type { Progress } from '../cli/progress';
import type { FrameData, MovieSource } from '../io/movie';
import { resolveCalibration } from '../io/calibration';
import { capacityAtFrames, type CapacityRecord } from '../io/capacity';
import { encodePng } from '../render/png';
import { renderField, renderMontage } from '../render/figure';
import { drawLabelOutlines, drawParticleMarks } from '../render/annotate';
import { montageLegend, renderAnalyzeTraces, writeAnalyzeIndex } from '../render/analyzeFigures';
import { labelMetrics } from './diffmap';
import type { FrameProcessor, FrameProcessorOptions } from './processor';
import { segmentFromMask, segmentParticles, type Connectivity, type Particle, type Segmentation } from './segment';
import { driftBinning, driftClipLevel, driftRegion, type DriftEstimate, type DriftOptions } from './drift';
import { createDriftService, type DriftService } from './driftService';
import { createDiffStack, type DiffStackMode } from './diffStack';
import { classifyParticle, asymmetricFraction, DEFAULT_ASYM_THRESHOLD, DEFAULT_FRACTION_WINDOW, type Classification } from './classify';
import { lineThroughParticle, linePositions_um, offsetDirectionDeg, resampleRows, sampleLine, type LineCut } from './kymograph';

export interface AnalyzeOptions {
  /**
   * 'full' (default, SPEC §6): diff.tif holds every whole frame; 'particles': particle_<id>/diff.tif
   * holds each particle's crop only (large movies: the whole-frame float32 stack is 2× a 16-bit movie)
   */
  diffStack?: DiffStackMode;
  /** reference frame index, 0-based; default 0 */
  reference?: number;
  /** overrides the movie's metadata */
  pixel_um?: number;
  frame_s?: number;
  /** time of frame 0 on the capacity file's clock, s; default 0 */
  timeOffset_s?: number;
  capacity?: CapacityRecord | null;
  /** a user mask instead of segmentation (nonzero or label values), same size as the frames */
  mask?: { data: ArrayLike<number>; width: number; height: number; name: string } | null;
  /** ΔI/I0 below which a particle pixel is unreacted; default 0.05 (the paper) */
  threshold?: number;
  asymThreshold?: number;
  asymWindow?: [number, number];
  minArea_px?: number;
  connectivity?: Connectivity;
  keepBorder?: boolean;
  /** Gaussian σ (px) applied to the reference before Otsu; default 0 */
  segSigma_px?: number;
  /** a fixed intensity threshold instead of Otsu's */
  segThreshold?: number;
  /** drift correction; default true */
  drift?: boolean;
  maxDrift_px?: number;
  /** estimated drifts below this (|[dx, dy]|, px) are left uncorrected; default DEFAULT_MIN_DRIFT_PX (0.15) */
  minDrift_px?: number;
  /** drift threads: 0 = this thread; default: this thread for small movies (DRIFT_THREAD_MIN_WORK), else 2 on 2 or more cores */
  driftWorkers?: number;
  /** box-mean radius of the ΔI/I0 maps (processor smoothRadius); default 0 */
  smoothRadius?: number;
  /** kymograph line angle (degrees CCW from +x); default: direction of the largest offset */
  lineAngleDeg?: number | null;
  kymoAxis?: 'auto' | 'time' | 'capacity';
  /** frames shown in montage.png; default 6 evenly spaced */
  montageFrames?: number[] | null;
  /** colour range ±diffRange of the figures; default from the data (99th percentile of |ΔI/I0|) */
  diffRange?: number | null;
  /** frames per processor call; default 16 */
  batch?: number;
  backendLabel?: string;
  progress?: Progress;
  warn?: (message: string) => void;
}

export interface ParticleResult {
  particle: Particle;
  classification: Classification;
  /** per frame */
  meanDiff: number[];
  comOffset_um: (number | null)[];
  comOffsetRel: (number | null)[];
  unreactedFraction: number[];
  line: LineCut | null;
}

export interface AnalyzeSummary {
  frames: number;
  width: number;
  height: number;
  pixel_um: number;
  frame_s: number;
  referenceFrame: number;
  particles: number;
  asymmetricFraction: number | null;
  drift_px: [number, number][];
  parameters: Record<string, unknown>;
  [key: string]: unknown;
}

export interface AnalyzeResult {
  summary: AnalyzeSummary;
  particles: ParticleResult[];
  segmentation: Segmentation;
  times_s: number[];
  capacity_mAh_g: number[] | null;
}

export type ProcessorFactory = (opts: FrameProcessorOptions) => Promise<FrameProcessor> | FrameProcessor;

/** CSV cell: up to 7 significant digits, empty for null / NaN */
export function csvNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(7)));
}

function toFloat32(frame: FrameData): Float32Array {
  return frame instanceof Float32Array ? frame.slice() : Float32Array.from(frame);
}

/** NaN-aware block mean by an integer factor (montage of large frames). */
function downsample(field: Float32Array, width: number, height: number, k: number): { field: Float32Array; width: number; height: number } {
  if (k <= 1) return { field, width, height };
  const w = Math.floor(width / k), h = Math.floor(height / k);
  const out = new Float32Array(w * h);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let s = 0, n = 0;
      for (let dr = 0; dr < k; dr++) for (let dc = 0; dc < k; dc++) {
        const v = field[(r * k + dr) * width + c * k + dc];
        if (Number.isFinite(v)) { s += v; n++; }
      }
      out[r * w + c] = n ? s / n : NaN;
    }
  }
  return { field: out, width: w, height: h };
}

/** 99th percentile of |v| over the finite values (a robust colour range), at least 0.01 */
function robustRange(values: Iterable<ArrayLike<number>>, mask?: (i: number) => boolean): number {
  const hist = new Float64Array(4096);
  let max = 0, n = 0;
  const all: ArrayLike<number>[] = [...values];
  for (const a of all) for (let i = 0; i < a.length; i++) {
    if (mask && !mask(i)) continue;
    const v = Math.abs(a[i]);
    if (Number.isFinite(v) && v > max) max = v;
  }
  if (!(max > 0)) return 0.1;
  for (const a of all) for (let i = 0; i < a.length; i++) {
    if (mask && !mask(i)) continue;
    const v = Math.abs(a[i]);
    if (!Number.isFinite(v)) continue;
    hist[Math.min(4095, Math.floor((v / max) * 4096))]++;
    n++;
  }
  let acc = 0;
  for (let k = 0; k < 4096; k++) {
    acc += hist[k];
    if (acc >= 0.99 * n) return Math.max(0.01, Number((((k + 1) / 4096) * max).toPrecision(2)));
  }
  return Math.max(0.01, max);
}

/** `count` frames evenly spaced over the movie, leaving out the reference (its map is zero) when possible */
function defaultMontageFrames(frames: number, reference: number, count = 6): number[] {
  const pool = frames > 1 ? Array.from({ length: frames }, (_, i) => i).filter((i) => i !== reference) : [0];
  if (pool.length <= count) return pool;
  const out = new Set<number>();
  for (let k = 0; k < count; k++) out.add(pool[Math.round((k * (pool.length - 1)) / (count - 1))]);
  return [...out];
}

function checkPositive(name: string, v: number | undefined, allowZero = false): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new UserError(`${name} = ${v} is not allowed: use a ${allowZero ? 'non-negative' : 'positive'} number`);
}

/** smaller frames cannot hold a particle away from the border (segmentation drops border particles) */
const MIN_FRAME_PX = 4;

/** correlation peaks below this (1 = a perfect match) are not trusted: the frame is left uncorrected */
const MIN_DRIFT_PEAK = 0.05;

/**
 * Estimated drifts smaller than this (pixels, |[dx, dy]|) are not corrected: the estimate's own error.
 * A reaction front that moves lopsidedly through a blurred particle shifts its silhouette's rim by a
 * fraction of a pixel, which phase correlation reads as 0.02–0.09 px of drift on synth movies of
 * fig4c with a stage that never moved (docs/analyze.md; 0.034 px at most on the stationary movies of
 * test/imaging/driftRobust.test.ts). Correcting that much moves rim pixels across the unreacted
 * threshold (unreacted fraction off by up to 0.04). A real drift below 0.15 px left as it is moves
 * the COM offsets by less than that; one above is corrected in full.
 */
export const DEFAULT_MIN_DRIFT_PX = 0.15;

/**
 * Drift is measured on what the reaction does not change: the particles' silhouettes and the
 * background (intensities clipped between the two, src/imaging/drift.ts), inside the particles'
 * bounding box plus the largest drift searched (the FFTs cost that box, not the frame), on 2×2 block
 * means where that box is larger than 1024 px (driftBinning), in a worker thread where one can start.
 */
function driftOptions(reference: Float32Array, width: number, height: number, labels: Int32Array, maxDrift_px?: number): DriftOptions {
  const margin = maxDrift_px ?? Math.max(16, Math.floor(Math.min(width, height) / 8));
  const region = driftRegion(labels, width, height, 2 * margin);
  return {
    maxShift_px: maxDrift_px ?? margin,
    clipAbove: driftClipLevel(reference, width, height, labels),
    region,
    bin: driftBinning(region.width, region.height),
  };
}

/**
 * Below this much drift work (the padded FFT area in pixels × the frames) the estimate stays in this
 * thread: a drift thread loads the bundle first (~0.25 s of CPU each), which costs more than it saves
 * on a small movie (512² × 20: 2.6 against 2.05 CPU-s with two threads). 2^24 is e.g. 64 frames of a
 * 512² region, or 16 of a 2048² frame on 2×2 blocks.
 */
const DRIFT_THREAD_MIN_WORK = 2 ** 24;

function driftWork(o: DriftOptions, frames: number): number {
  const pow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(2, n)));
  const b = o.bin ?? 1;
  return pow2(Math.floor(o.region!.width / b)) * pow2(Math.floor(o.region!.height / b)) * frames;
}

/**
 * Runs the whole analysis of `movie` and writes SPEC §6's files into `outDir` (an existing, empty
 * folder: the CLI hands in the staging folder of writeOutputDir, so nothing half-written is left).
 */
export async function analyzeMovie(movie: MovieSource, outDir: string, createProcessor: ProcessorFactory, options: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  const started = Date.now();
  const warnings: string[] = [];
  const warn = (m: string) => { warnings.push(m); options.warn?.(m); };
  const { width, height, frames } = movie;
  if (!(width >= MIN_FRAME_PX && height >= MIN_FRAME_PX)) {
    throw new UserError(`${movie.path} has frames of ${width}×${height} pixels: a movie to analyse needs frames of at least ${MIN_FRAME_PX}×${MIN_FRAME_PX} pixels holding whole particles`);
  }
  if (frames < 2) warn(`${movie.path} has only ${frames} frame: ΔI/I0 of the reference against itself is 0 everywhere, so there is no reaction to follow (give the whole movie)`);
  const ref = options.reference ?? 0;
  if (!Number.isInteger(ref) || ref < 0 || ref >= frames) {
    throw new UserError(`--reference = ${ref} is not allowed for ${movie.path}: it has ${frames} frames, use 0 … ${frames - 1}`);
  }
  checkPositive('--pixel-um', options.pixel_um);
  if (options.pixel_um !== undefined && (options.pixel_um > 50 || options.pixel_um < 0.001)) {
    warn(`--pixel-um = ${options.pixel_um} µm is far from an optical microscope's pixel (0.01 … 10 µm): lengths and areas follow it (is it in µm?)`);
  }
  checkPositive('--frame-s', options.frame_s);
  const threshold = options.threshold ?? 0.05;
  if (!Number.isFinite(threshold)) throw new UserError(`--threshold = ${threshold} is not allowed: use a number (ΔI/I0, the paper uses 0.05)`);
  const asymThreshold = options.asymThreshold ?? DEFAULT_ASYM_THRESHOLD;
  checkPositive('--asym-threshold', asymThreshold, true);
  const asymWindow = options.asymWindow ?? DEFAULT_FRACTION_WINDOW;
  const batch = options.batch ?? 16;
  if (!Number.isInteger(batch) || batch < 1) throw new UserError(`--batch = ${batch} is not allowed: use an integer ≥ 1`);

  // calibration: flag, else metadata, else 1 (with a warning); errors (non-square pixels, a capacity
  // file without frame times) before any warning
  const resolved = resolveCalibration(movie.path, movie.calibration, { pixel_um: options.pixel_um, frame_s: options.frame_s });
  const calibration = resolved.calibration;
  const pixel_um = calibration.pixel_um.value;
  const frame_s = calibration.frame_s.value;
  const pixelSource = calibration.pixel_um.source === 'flag' ? 'option' : calibration.pixel_um.source === 'default' ? 'default' : 'metadata';
  const frameSource = calibration.frame_s.source === 'flag' ? 'option' : calibration.frame_s.source === 'default' ? 'default' : 'metadata';
  const capacity = options.capacity ?? null;
  if (capacity && frameSource === 'default') {
    throw new UserError(`--capacity ${capacity.path} needs frame times but ${movie.path} has no frame interval in its metadata (OME TimeIncrement, ImageJ finterval, HDF5 frame_interval_s): give --frame-s`);
  }
  for (const w of resolved.warnings) warn(w);
  const timeOffset = options.timeOffset_s ?? 0;
  const times_s = Array.from({ length: frames }, (_, i) => timeOffset + i * frame_s);
  const cap = capacity ? capacityAtFrames(capacity, times_s) : null;
  if (cap && cap.capacity_mAh_g.some((v) => Number.isNaN(v))) {
    const outside = cap.capacity_mAh_g.filter((v) => Number.isNaN(v)).length;
    warn(`capacity file ${capacity!.path} covers ${capacity!.time_s[0]}…${capacity!.time_s[capacity!.time_s.length - 1]} s; ${outside} of ${frames} frames fall outside it (capacity left empty)`);
  }

  // ---- reference and particles
  const progress = options.progress;
  const referenceFrame = await movie.readFrame(ref);
  const reference = toFloat32(referenceFrame);
  let nonFinite = 0;
  for (let i = 0; i < reference.length; i++) if (!Number.isFinite(reference[i])) nonFinite++;
  if (nonFinite) warn(`reference frame ${ref} of ${movie.path} has ${nonFinite} NaN or infinite pixel(s) (${((100 * nonFinite) / reference.length).toFixed(2)} %): ΔI/I0 is NaN there and they count as background`);
  let seg: Segmentation;
  if (options.mask) {
    const m = options.mask;
    if (m.width !== width || m.height !== height) {
      throw new UserError(`mask ${m.name} is ${m.width}×${m.height} pixels but the movie's frames are ${width}×${height}: the mask must match the frames`);
    }
    seg = segmentFromMask(m.data, width, height, { pixel_um, connectivity: options.connectivity });
  } else {
    // Otsu on the frame as stored: integer movies get one histogram bin per value, as skimage does
    seg = segmentParticles(referenceFrame, width, height, {
      pixel_um, minArea_px: options.minArea_px, connectivity: options.connectivity, dropBorder: !options.keepBorder,
      sigma_px: options.segSigma_px, threshold: options.segThreshold,
    });
  }
  const particles = seg.particles;
  const nLabels = particles.length;
  if (nLabels === 0) {
    warn(options.mask
      ? `mask ${options.mask.name} has no nonzero pixels: no particle to analyse (tables left empty)`
      : `no particle found in reference frame ${ref} of ${movie.path} (threshold ${csvNumber(seg.threshold)}; dropped ${seg.dropped.border} touching the border and ${seg.dropped.small} smaller than ${options.minArea_px ?? 25} px): tables left empty`);
  }

  // ---- pass 1: drift, ΔI/I0, per-particle sums, diff.tif
  const minDrift = options.minDrift_px ?? DEFAULT_MIN_DRIFT_PX;
  checkPositive('--min-drift-px', minDrift, true);
  const driftOpts = (options.drift ?? true) && frames > 1 ? driftOptions(reference, width, height, seg.labels, options.maxDrift_px) : null;
  // the drift applied to each frame, and the estimate (which may be below --min-drift-px)
  const drift_px: [number, number][] = Array.from({ length: frames }, () => [0, 0] as [number, number]);
  const driftEst_px: [number, number][] = Array.from({ length: frames }, () => [0, 0] as [number, number]);
  const driftPeak: number[] = new Array(frames).fill(1);
  const montageFrames = (options.montageFrames ?? defaultMontageFrames(frames, ref)).filter((f) => f >= 0 && f < frames);
  for (const f of options.montageFrames ?? []) {
    if (!Number.isInteger(f) || f < 0 || f >= frames) throw new UserError(`--montage-frames: frame ${f} is not allowed: ${movie.path} has frames 0 … ${frames - 1}`);
  }
  const montage = new Map<number, Float32Array>();
  const results: ParticleResult[] = particles.map((p) => ({
    particle: p,
    classification: { asymmetric: null, maxComOffsetRel: null, maxFrame: null, frames: [] },
    meanDiff: new Array(frames).fill(NaN),
    comOffset_um: new Array(frames).fill(null),
    comOffsetRel: new Array(frames).fill(null),
    unreactedFraction: new Array(frames).fill(NaN),
    line: null,
  }));
  const unreactedCom_px: ([number, number] | null)[][] = particles.map(() => new Array(frames).fill(null));
  const kymoRows: Float32Array[][] = particles.map(() => []);
  const anglesKnown = options.lineAngleDeg !== undefined && options.lineAngleDeg !== null;
  if (anglesKnown) {
    results.forEach((r) => { r.line = lineThroughParticle(r.particle, seg.labels, width, height, options.lineAngleDeg!); });
  }

  // colour ranges come from particle pixels away from the particle's edge: at the edge (and in the
  // background beside it) I0 is small or mixed, and resampling of drifted frames makes |ΔI/I0| large
  const interior = (i: number, label: number) => {
    const c = i % width, r = (i - c) / width;
    const l = seg.labels;
    return l[i] === label && label !== 0 && c > 0 && r > 0 && c < width - 1 && r < height - 1 &&
      l[i - 1] === label && l[i + 1] === label && l[i - width] === label && l[i + width] === label;
  };
  const particleMask = (i: number) => interior(i, seg.labels[i]);
  let colourRange = 0.1;
  const diffMode = options.diffStack ?? 'full';
  // a crop reaches past the particle by the largest drift searched, the smoothing radius and a few
  // pixels for the kymograph line's ends
  const cropMargin = (options.maxDrift_px ?? 16) + (options.smoothRadius ?? 0) + 4;
  const writer = await createDiffStack(outDir, diffMode, { width, height, frames, pixel_um, frame_s, particles, margin_px: cropMargin });
  let processor: FrameProcessor | null = null;
  let drift: DriftService | null = null;
  try {
    processor = await createProcessor({ width, height, reference, labels: seg.labels, nLabels, threshold, smoothRadius: options.smoothRadius ?? 0, maxBatch: batch });
    if (driftOpts) {
      const threads = options.driftWorkers ?? (driftWork(driftOpts, frames) < DRIFT_THREAD_MIN_WORK ? 0 : undefined);
      drift = await createDriftService(reference, width, height, driftOpts, threads === 0 ? { worker: false } : { workers: threads });
    }
    // Pass 1 as a pipeline of three stages, so that both cores stay busy:
    //   read: the frames of batch k + 1 are read (and each handed to the drift worker as soon as it is
    //         read) while batch k is mapped;
    //   drift: the worker estimates frame after frame, queued one batch ahead of the maps;
    //   maps:  batch k's ΔI/I0 maps and label sums (this thread + the processor's helpers, or the
    //          GPU), then its diff.tif pages and trace rows, in frame order.
    // The results are those of the stages run one after another: every stage sees the same inputs.
    type Batch = { start: number; frames: FrameData[]; drifts: (Promise<DriftEstimate> | null)[] };
    const readBatch = async (start: number): Promise<Batch> => {
      const b: Batch = { start, frames: [], drifts: [] };
      for (let i = start; i < Math.min(frames, start + batch); i++) {
        const f = await movie.readFrame(i);
        b.frames.push(f);
        const d = drift && i !== ref ? drift.estimate(f) : null;
        d?.catch(() => {}); // surfaced when awaited
        b.drifts.push(d);
      }
      return b;
    };
    const shiftOf = (i: number, est: DriftEstimate | null): [number, number] | undefined => {
      if (!est) return undefined;
      driftPeak[i] = est.peak;
      // a weak correlation peak is no measurement: such a frame is left as it is (and reported)
      if (est.peak < MIN_DRIFT_PEAK) return undefined;
      driftEst_px[i] = [Number(est.shift[0].toFixed(4)), Number(est.shift[1].toFixed(4))];
      // a shift within the estimate's own error is no measurement either (DEFAULT_MIN_DRIFT_PX)
      if (Math.hypot(est.shift[0], est.shift[1]) < minDrift) return undefined;
      drift_px[i] = driftEst_px[i];
      return est.shift[0] === 0 && est.shift[1] === 0 ? undefined : est.shift;
    };
    let next: Promise<Batch> | null = readBatch(0);
    for (let start = 0; start < frames; start += batch) {
      const cur: Batch = await next!;
      next = start + batch < frames ? readBatch(start + batch) : null;
      next?.catch(() => {}); // surfaced when awaited
      const estimates = await Promise.all(cur.drifts);
      const shifts = estimates.map((e, k) => shiftOf(start + k, e));
      const processed = await processor.process(cur.frames, shifts);
      for (let k = 0; k < processed.length; k++) {
        const i = start + k;
        const { diff, labelStats } = processed[k];
        await writer.writePage(diff);
        if (montageFrames.includes(i)) montage.set(i, diff.slice());
        for (let p = 0; p < nLabels; p++) {
          const m = labelMetrics(labelStats, p + 1, pixel_um);
          const r = results[p];
          r.meanDiff[i] = m.meanDiff;
          r.comOffset_um[i] = m.comOffset_um;
          r.comOffsetRel[i] = m.comOffsetRel;
          r.unreactedFraction[i] = m.unreactedFraction;
          unreactedCom_px[p][i] = m.unreactedCom_um ? [m.unreactedCom_um[0] / pixel_um, m.unreactedCom_um[1] / pixel_um] : null;
          if (anglesKnown) kymoRows[p].push(sampleLine(diff, width, height, r.line!));
        }
      }
      progress?.update((anglesKnown ? 1 : 0.8) * Math.min(1, (start + batch) / frames), `frame ${Math.min(frames, start + batch)}/${frames}`);
    }
    // diff.tif's ImageJ display range: the figures' colour range (below), symmetric about 0
    colourRange = options.diffRange ?? robustRange(montage.values(), nLabels ? particleMask : undefined);
    await writer.close([-colourRange, colourRange]);
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    processor?.destroy();
    drift?.close();
  }
  const weak = driftPeak.map((p, i) => [p, i]).filter(([p]) => p < MIN_DRIFT_PEAK).map(([, i]) => i);
  if (driftOpts && weak.length) warn(`drift estimate unreliable (correlation peak below ${MIN_DRIFT_PEAK}) for ${weak.length} frame(s), first ${weak[0]}: those frames were left uncorrected; check them for jumps or focus changes, or run with --no-drift`);

  // ---- classification and kymograph lines
  for (let p = 0; p < nLabels; p++) {
    const r = results[p];
    r.classification = classifyParticle(r.comOffsetRel, r.unreactedFraction, { threshold: asymThreshold, fractionWindow: asymWindow });
    if (!anglesKnown) {
      const window = r.classification.frames.length ? r.classification.frames : Array.from({ length: frames }, (_, i) => i);
      const angle = offsetDirectionDeg(r.particle.centroid_px, unreactedCom_px[p], r.comOffsetRel, window);
      r.line = lineThroughParticle(r.particle, seg.labels, width, height, angle);
    }
  }
  if (!anglesKnown && nLabels > 0) {
    // pass 2: read back the ΔI/I0 stack(s) one page at a time
    const back = await writer.openReader();
    try {
      for (let i = 0; i < frames; i++) {
        const diff = await back.readFrame(i);
        for (let p = 0; p < nLabels; p++) kymoRows[p].push(sampleLine(diff, width, height, results[p].line!));
        if (i % 16 === 0) progress?.update(0.8 + 0.2 * (i / frames), `kymographs ${i}/${frames}`);
      }
    } finally {
      await back.close();
    }
  }

  // ---- figures and tables
  const fmtTime = (t: number) => (t >= 120 ? `${Number((t / 60).toPrecision(3))} min` : `${Number(t.toPrecision(3))} s`);
  const capValues = cap?.capacity_mAh_g ?? null;
  const range = colourRange;
  if (montage.size) {
    const k = Math.max(1, Math.ceil(Math.max(width, height) / 512));
    const panels = montageFrames.filter((f) => montage.has(f)).map((f) => {
      const d = downsample(montage.get(f)!, width, height, k);
      const c = capValues?.[f];
      const title = c !== undefined && Number.isFinite(c) ? `${fmtTime(times_s[f])}, ${Number(c.toPrecision(3))} mAh/g` : `frame ${f}, ${fmtTime(times_s[f])}`;
      return { field: d.field, title, w: d.width, h: d.height };
    });
    const img = renderMontage(panels.map((p) => ({ field: p.field, title: p.title })), panels[0].w, panels[0].h, {
      colormap: 'diverging', vmin: -range, vmax: range, center: 0, colorbarLabel: 'ΔI/I0', pixel_um: pixel_um * k,
      title: `ΔI/I0 relative to frame ${ref}`,
      legend: nLabels ? montageLegend() : undefined,
    });
    // outlines, ids and COM markers of the particles on every frame
    const shown = montageFrames.filter((f) => montage.has(f));
    img.layout.panels.forEach((rect, j) => {
      const toFigure = (x: number, y: number): [number, number] => [rect.x + (x / k) * img.layout.scaleX, rect.y + (y / k) * img.layout.scaleY];
      drawLabelOutlines(img, seg.labels, width, height, toFigure, rect);
      drawParticleMarks(img, particles.map((p, i) => ({
        id: p.id, label: p.label, com_px: p.centroid_px, coreCom_px: unreactedCom_px[i][shown[j]], bbox: p.bbox,
      })), toFigure, rect);
    });
    await writeFile(path.join(outDir, 'montage.png'), encodePng(img));
  }

  const kymoAxisReq = options.kymoAxis ?? 'auto';
  if (kymoAxisReq === 'capacity' && !capValues) throw new UserError('--kymo-axis capacity needs --capacity FILE');
  const kymographs: Record<string, unknown>[] = [];
  for (let p = 0; p < nLabels; p++) {
    const r = results[p];
    const line = r.line!;
    const rows = kymoRows[p];
    const dir = path.join(outDir, `particle_${r.particle.id}`);
    await mkdir(dir, { recursive: true });
    const pos = linePositions_um(line, pixel_um);
    const lines = [['frame', 'time_s', 'capacity_mAh_g', ...Array.from(pos, (v) => csvNumber(v))].join(',')];
    rows.forEach((row, i) => lines.push([i, csvNumber(times_s[i]), csvNumber(capValues?.[i]), ...Array.from(row, (v) => csvNumber(v))].join(',')));
    await writeFile(path.join(dir, 'kymograph.csv'), lines.join('\n') + '\n');

    let axis: 'time' | 'capacity' = 'time';
    // a one-frame movie still needs an axis of non-zero length: the frame's interval around its time
    let image = frames > 1 ? { rows, min: times_s[0], max: times_s[frames - 1] } : { rows, min: times_s[0] - frame_s / 2, max: times_s[0] + frame_s / 2 };
    if (kymoAxisReq !== 'time' && capValues) {
      const rs = resampleRows(rows, capValues, Math.max(2, rows.length));
      if (rs) { image = rs; axis = 'capacity'; }
      else if (kymoAxisReq === 'capacity') throw new UserError(`--kymo-axis capacity: the capacity at the frame times is not increasing (charge and discharge in one movie?): use --kymo-axis time`);
    }
    const nRows = image.rows.length;
    const field = new Float32Array(nRows * line.samples);
    image.rows.forEach((row, k) => field.set(row, k * line.samples));
    // colour range from the samples inside the particle (see `interior`)
    const inside = new Uint8Array(line.samples);
    for (let k = 0; k < line.samples; k++) {
      const f = line.samples > 1 ? k / (line.samples - 1) : 0;
      const c = Math.floor(line.start_px[0] + f * (line.end_px[0] - line.start_px[0]));
      const rr = Math.floor(line.start_px[1] + f * (line.end_px[1] - line.start_px[1]));
      inside[k] = c >= 0 && c < width && rr >= 0 && rr < height && interior(rr * width + c, r.particle.label) ? 1 : 0;
    }
    const kRange = options.diffRange ?? robustRange([field], (i) => inside[i % line.samples] === 1);
    const tUnitMin = axis === 'time' && image.max >= 120;
    const img = renderField(field, line.samples, nRows, {
      colormap: 'diverging', vmin: -kRange, vmax: kRange, center: 0, colorbarLabel: 'ΔI/I0',
      title: `particle ${r.particle.id}: line at ${line.angleDeg}°`,
      xAxis: { label: 'position along line (µm)', min: 0, max: pos[pos.length - 1] },
      yAxis: axis === 'capacity'
        ? { label: 'charge passed (mAh/g)', min: image.min, max: image.max }
        : { label: tUnitMin ? 'time (min)' : 'time (s)', min: tUnitMin ? image.min / 60 : image.min, max: tUnitMin ? image.max / 60 : image.max },
    });
    await writeFile(path.join(dir, 'kymograph.png'), encodePng(img));
    kymographs.push({
      id: r.particle.id, angleDeg: line.angleDeg, axis,
      start_um: [line.start_px[0] * pixel_um, line.start_px[1] * pixel_um].map((v) => Number(v.toFixed(4))),
      end_um: [line.end_px[0] * pixel_um, line.end_px[1] * pixel_um].map((v) => Number(v.toFixed(4))),
      samples: line.samples, step_um: Number((line.step_px * pixel_um).toPrecision(6)),
    });
  }

  const pLines = ['id,area_um2,eqRadius_um,centroidX_um,centroidY_um,asymmetric,maxComOffsetRel'];
  for (const r of results) {
    const p = r.particle, c = r.classification;
    pLines.push([p.id, csvNumber(p.area_um2), csvNumber(p.eqRadius_um), csvNumber(p.centroid_um[0]), csvNumber(p.centroid_um[1]),
      c.asymmetric === null ? '' : String(c.asymmetric), csvNumber(c.maxComOffsetRel)].join(','));
  }
  await writeFile(path.join(outDir, 'particles.csv'), pLines.join('\n') + '\n');

  const tLines = ['particle,frame,time_s,capacity_mAh_g,meanDiff,comOffset_um,comOffsetRel,unreactedFraction'];
  for (const r of results) {
    for (let i = 0; i < frames; i++) {
      tLines.push([r.particle.id, i, csvNumber(times_s[i]), csvNumber(capValues?.[i]), csvNumber(r.meanDiff[i]),
        csvNumber(r.comOffset_um[i]), csvNumber(r.comOffsetRel[i]), csvNumber(r.unreactedFraction[i])].join(','));
    }
  }
  await writeFile(path.join(outDir, 'traces.csv'), tLines.join('\n') + '\n');

  const fLines = ['frame,time_s,capacity_mAh_g,voltage_V,driftX_px,driftY_px,driftPeak,driftEstX_px,driftEstY_px'];
  for (let i = 0; i < frames; i++) {
    fLines.push([i, csvNumber(times_s[i]), csvNumber(capValues?.[i]), csvNumber(cap?.voltage_V?.[i]), csvNumber(drift_px[i][0]), csvNumber(drift_px[i][1]), csvNumber(driftPeak[i]), csvNumber(driftEst_px[i][0]), csvNumber(driftEst_px[i][1])].join(','));
  }
  await writeFile(path.join(outDir, 'frames.csv'), fLines.join('\n') + '\n');

  const summary: AnalyzeSummary = {
    frames, width, height, pixel_um, frame_s,
    calibration,
    referenceFrame: ref,
    particles: nLabels,
    asymmetricFraction: asymmetricFraction(results.map((r) => r.classification.asymmetric)),
    drift_px,
    parameters: {
      threshold,
      asymThreshold,
      asymWindow,
      asymRule: `asymmetric if max d/R_eq over the first-charge frames with unreacted fraction in [${asymWindow[0]}, ${asymWindow[1]}] > ${asymThreshold}`,
      segmentation: seg.method,
      segmentationThreshold: Number.isFinite(seg.threshold) ? seg.threshold : null,
      connectivity: options.connectivity ?? 8,
      minArea_px: options.mask ? null : options.minArea_px ?? 25,
      dropBorder: options.mask ? false : !options.keepBorder,
      segSigma_px: options.segSigma_px ?? 0,
      diffStack: diffMode === 'full' ? { mode: 'full', file: 'diff.tif' } : { mode: 'particles', files: writer.files, crops_px: writer.crops },
      drift: driftOpts !== null,
      driftMethod: driftOpts ? `phase correlation on the particles' bounding box (+ margin)${driftOpts.bin! > 1 ? ` in ${driftOpts.bin}×${driftOpts.bin} block means` : ''}, intensities clipped a quarter of the way from background to particle (silhouettes: the reaction does not pull it), Hann window, Gaussian-weighted (σ 1 ${driftOpts.bin! > 1 ? 'block' : 'px'}), 3-point Gaussian peak fit; frames with a correlation peak below ${MIN_DRIFT_PEAK} or an estimate below ${minDrift} px left uncorrected` : null,
      driftThread: drift?.where ?? null,
      minDrift_px: driftOpts ? minDrift : null,
      smoothRadius: options.smoothRadius ?? 0,
      lineAngleDeg: anglesKnown ? options.lineAngleDeg : 'direction of largest COM offset',
      kymoAxis: kymoAxisReq,
      diffRange: options.diffRange ?? null,
      timeOffset_s: timeOffset,
      pixelSizeSource: pixelSource,
      frameIntervalSource: frameSource,
      capacityFile: capacity?.path ?? null,
      mask: options.mask?.name ?? null,
      batch,
    },
    asymmetricParticles: results.filter((r) => r.classification.asymmetric === true).length,
    classifiedParticles: results.filter((r) => r.classification.asymmetric !== null).length,
    movie: { path: movie.path, kind: movie.kind, sampleType: movie.sampleType, metadata: movie.notes },
    backend: options.backendLabel ?? null,
    segmentation: { method: seg.method, threshold: Number.isFinite(seg.threshold) ? seg.threshold : null, dropped: seg.dropped },
    montageFrames: [...montage.keys()],
    colourRange: range,
    kymographs,
    warnings,
    wallTime_s: Number(((Date.now() - started) / 1000).toFixed(3)),
  };
  await writeFile(path.join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  if (nLabels) await writeFile(path.join(outDir, 'traces.png'), encodePng(renderAnalyzeTraces(results, times_s, capValues)));
  await writeAnalyzeIndex(outDir, summary, results);
  progress?.done(`${nLabels} particle(s), ${frames} frames`);
  return { summary, particles: results, segmentation: seg, times_s, capacity_mAh_g: capValues };
}
