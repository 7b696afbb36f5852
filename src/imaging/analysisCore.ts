/**
 * The analysis of an operando movie without the files (SPEC §2, §6): what `ionflux analyze`
 * (src/imaging/analyze.ts, which writes the tables and figures) and the demo page (demo/observed/,
 * the movie dropped on the page, kept in memory) both run, so that the page's numbers are the CLI's.
 *
 *   reference frame → particles (Otsu segmentation or a user mask)
 *   pass 1, frames in batches: read → drift by phase correlation → frame processor (ΔI/I0 map with
 *          the drift applied, per-particle sums; GPU or CPU) → the sink's page, per-particle trace row
 *   classify each particle (symmetric / asymmetric) from its trace
 *   pass 2 (only when the kymograph direction had to wait for the traces): the sink's pages again,
 *          one at a time, to sample each particle's line cut
 *
 * The sink keeps the ΔI/I0 pages (analyze: diff.tif on disk; the page: arrays in memory). No Node
 * modules here.
 */
import { checkNumber, checkOneOf, show } from '../checks';
import { UserError } from '../errors';

/** What reports progress (the CLI's bar, src/cli/progress.ts, fits it; declared here so that this module needs no Node typings). */
export interface Progress {
  /** fraction in [0, 1] and a short status text */
  update(fraction: number, status?: string): void;
  done(status?: string): void;
}
import type { FrameData, MovieSource } from '../io/tiffMovie';
import { resolveCalibration, type ResolvedCalibration } from '../io/calibration';
import { capacityAtFrames, type CapacityRecord } from '../io/capacityCsv';
import { LABEL_STATS_STRIDE, LabelStat, labelMetrics, maskSaturated, saturationLevel } from './diffmap';
import type { FrameProcessor, FrameProcessorOptions } from './processor';
import { segmentFromMask, segmentParticles, type Connectivity, type Particle, type Segmentation } from './segment';
import { particleLobes, type Lobes } from './shape';
import { DriftEstimator, driftBinning, driftClipLevel, driftRegion, type DriftEstimate, type DriftOptions } from './drift';
import type { DriftService } from './driftService';
import type { DiffStackMode } from './diffStack';
import { classifyParticle, DEFAULT_ASYM_THRESHOLD, DEFAULT_FRACTION_WINDOW, type Classification } from './classify';
import { lineThroughParticle, offsetDirectionDeg, sampleLine, type LineCut } from './kymograph';

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
  /** drift threads: 0 = this thread; default: this thread for small movies, else 2 on 2 or more cores (analyze's DriftFactory) */
  driftWorkers?: number;
  /**
   * where the drift estimates are computed (analyze: worker threads, src/imaging/driftService.ts);
   * default: a DriftEstimator in this thread (the demo page)
   */
  createDrift?: DriftFactory;
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

export type ProcessorFactory = (opts: FrameProcessorOptions) => Promise<FrameProcessor> | FrameProcessor;

/** CSV cell: up to 7 significant digits, empty for null / NaN */
export function csvNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(7)));
}

/**
 * Makes the drift service of a movie: `options` as DriftEstimator takes them, `frames` to be estimated
 * and the driftWorkers option (a factory may ignore it).
 */
export type DriftFactory = (reference: Float32Array, width: number, height: number, options: DriftOptions, frames: number, workers?: number) => Promise<DriftService>;

/** The drift estimator in this thread, behind DriftService's promise-returning interface. */
function driftInThread(reference: Float32Array, width: number, height: number, options: DriftOptions): Promise<DriftService> {
  const estimator = new DriftEstimator(reference, width, height, options);
  return Promise.resolve({
    where: 'main thread',
    estimate: async (frame: FrameData) => estimator.estimate(frame),
    close() {},
  });
}

/** Where the ΔI/I0 pages go (and come back from for the kymograph lines). */
export interface DiffSink {
  /** once the particles are known, before the first page */
  begin(info: { width: number; height: number; frames: number; pixel_um: number; frame_s: number; particles: Particle[]; labels: Int32Array }): Promise<void>;
  /** frame `index`'s ΔI/I0 map (the processor's array: copy it to keep it) */
  page(index: number, diff: Float32Array): Promise<void>;
  /** after the last page */
  end(): Promise<void>;
  /** on a failure during pass 1 */
  abort(): Promise<void>;
  /** the pages again, in any order, one at a time */
  reread(): Promise<{ readFrame(index: number): Promise<Float32Array>; close(): Promise<void> }>;
}

/** Everything the analysis measured, before any file is written. */
export interface AnalysisCore {
  particles: ParticleResult[];
  segmentation: Segmentation;
  times_s: number[];
  /** capacity and voltage at the frame times (null without a capacity record) */
  capacityAtFrames: { capacity_mAh_g: number[]; voltage_V: number[] | null } | null;
  capacity: CapacityRecord | null;
  calibration: ResolvedCalibration;
  pixel_um: number;
  frame_s: number;
  pixelSource: 'option' | 'default' | 'metadata';
  frameSource: 'option' | 'default' | 'metadata';
  referenceFrame: number;
  threshold: number;
  asymThreshold: number;
  asymWindow: [number, number];
  batch: number;
  drift: boolean;
  /** the drift applied to each frame, and the estimate (which may be below minDrift_px) */
  drift_px: [number, number][];
  driftEst_px: [number, number][];
  driftPeak: number[];
  /** what the estimate ran on (region, 2×2 blocks or not), null without drift correction */
  driftOptions: DriftOptions | null;
  minDrift_px: number;
  /** where the estimates were computed (DriftService.where), null without drift correction */
  driftThread: string | null;
  /** per particle, per frame: the unreacted region's COM, px (null where there is none) */
  unreactedCom_px: ([number, number] | null)[][];
  /** per particle, per frame: ΔI/I0 sampled along the particle's line */
  kymoRows: Float32Array[][];
  /** whether the line angle was given (else: the direction of the largest COM offset) */
  anglesKnown: boolean;
  timeOffset_s: number;
  warnings: string[];
}

function toFloat32(frame: FrameData): Float32Array {
  return frame instanceof Float32Array ? frame.slice() : Float32Array.from(frame);
}

/** the frames a montage shows by default; exported for analyze.ts */
/** `count` frames evenly spaced over the movie, leaving out the reference (its map is zero) when possible */
export function defaultMontageFrames(frames: number, reference: number, count = 6): number[] {
  const pool = frames > 1 ? Array.from({ length: frames }, (_, i) => i).filter((i) => i !== reference) : [0];
  if (pool.length <= count) return pool;
  const out = new Set<number>();
  for (let k = 0; k < count; k++) out.add(pool[Math.round((k * (pool.length - 1)) / (count - 1))]);
  return [...out];
}

function checkPositive(name: string, v: number | undefined, allowZero = false): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new UserError(`${name} = ${show(v)} is not allowed: use a ${allowZero ? 'non-negative' : 'positive'} number`);
}

/** smaller frames cannot hold a particle away from the border (segmentation drops border particles) */
const MIN_FRAME_PX = 4;

/** correlation peaks below this (1 = a perfect match) are not trusted: the frame is left uncorrected */
export const MIN_DRIFT_PEAK = 0.05;

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
 * means where that box is larger than 1024 px (driftBinning).
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
 * Runs the analysis of `movie` (see the module comment); the ΔI/I0 pages go to `sink`. Throws
 * UserError on bad input or options.
 */
export async function runAnalysis(movie: MovieSource, createProcessor: ProcessorFactory, options: AnalyzeOptions, sink: DiffSink): Promise<AnalysisCore> {
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
  if (options.pixel_um !== undefined && (options.pixel_um > 10 || options.pixel_um < 0.01)) {
    warn(`--pixel-um = ${options.pixel_um} µm is far from an optical microscope's pixel (0.01 … 10 µm): lengths and areas follow it (is it in µm?)`);
  }
  checkPositive('--frame-s', options.frame_s);
  const threshold = options.threshold ?? 0.05;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) throw new UserError(`--threshold = ${show(threshold)} is not allowed: use a number (ΔI/I0, the paper uses 0.05)`);
  if (options.lineAngleDeg !== undefined && options.lineAngleDeg !== null) checkNumber('--line-angle (lineAngleDeg)', options.lineAngleDeg);
  if (options.kymoAxis !== undefined) checkOneOf('--kymo-axis (kymoAxis)', options.kymoAxis, ['auto', 'time', 'capacity'] as const);
  const asymThreshold = options.asymThreshold ?? DEFAULT_ASYM_THRESHOLD;
  checkPositive('--asym-threshold', asymThreshold, true);
  const asymWindow = options.asymWindow ?? DEFAULT_FRACTION_WINDOW;
  const batch = options.batch ?? 16;
  if (!Number.isInteger(batch) || batch < 1) throw new UserError(`--batch = ${show(batch)} is not allowed: use an integer ≥ 1`);

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
  if (nonFinite) warn(`reference frame ${ref} of ${movie.path} has ${nonFinite} NaN or infinite pixel(s) (${((100 * nonFinite) / reference.length).toFixed(2)} %): ΔI/I0 is NaN there in every frame; segmentation takes them as background (a hole inside a particle is filled), and inside a particle they are left out of its unreacted fraction and of both centres of mass`);
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
      : `no particle found in reference frame ${ref} of ${movie.path} (threshold ${csvNumber(seg.threshold)}; dropped ${seg.dropped.border} touching the border and ${seg.dropped.small} smaller than ${options.minArea_px ?? 25} px): tables left empty; --seg-threshold sets the intensity threshold by hand, --keep-border keeps particles cut by the frame`);
  }
  // saturated pixels read the same however bright they are: no ΔI/I0 there. The maps take a reference
  // with NaN at them (segmentation and drift keep the frame as it is)
  let refSaturated = 0, refSaturatedInside = 0;
  const masked = maskSaturated(referenceFrame, (i) => { refSaturated++; if (seg.labels[i]) refSaturatedInside++; return true; });
  const mapReference = masked === referenceFrame ? reference : (masked as Float32Array);
  if (refSaturated) warn(`reference frame ${ref} has ${refSaturated} saturated pixel(s) (at ${saturationLevel(referenceFrame)}, ${refSaturatedInside} inside particles): a saturated pixel reads the same however bright it is, so ΔI/I0 is NaN there in every frame${refSaturatedInside ? ', left out of the unreacted fraction and both centres of mass; lower the exposure' : ''}`);
  if (seg.outliers) warn(`the ${seg.outliers} brightest pixel(s) of reference frame ${ref} (hot or saturated, far above the particles) were left out of the Otsu threshold, which is ${csvNumber(seg.threshold)} instead; --seg-threshold sets it by hand`);
  if (seg.dropped.hot) warn(`${seg.dropped.hot} bright speck(s) of reference frame ${ref} were not taken as particles: most of their intensity is in saturated pixels (hot pixels, blurred by --seg-sigma-px)`);

  // particles that touch are one component of the threshold: its COM lies between them (shape.ts)
  const joined = new Map<number, Lobes>();
  if (seg.method !== 'mask') for (const p of particles) {
    const lobes = particleLobes(seg.labels, width, p);
    if (lobes.radii_px.length > 1) joined.set(p.label, lobes);
  }
  if (joined.size) {
    const list = particles.filter((p) => joined.has(p.label)).map((p) => {
      const l = joined.get(p.label)!, r = (v: number) => csvNumber(Number(v.toPrecision(3)));
      return `particle ${p.id} (${l.radii_px.length} lobes of ${l.radii_px.map(r).join(', ')} px radius, neck${l.necks_px.length > 1 ? 's' : ''} ${l.necks_px.map(r).join(', ')} px)`;
    });
    warn(`${list.join('; ')}: ${joined.size > 1 ? 'these look' : 'this looks'} like touching particles taken as one by the threshold — the centre of mass lies between them, so ${joined.size > 1 ? 'they are' : 'it is'} left unclassified (asymmetric empty in particles.csv, out of asymmetricFraction); the traces are written. A --mask with one label per particle separates them (its particles are not checked)`);
  }

  // a unit slip (nm typed for µm, or the other way) makes cathode particles kilometres or atoms wide
  if (nLabels > 0) {
    const d = particles.map((p) => 2 * p.eqRadius_um).sort((x, y) => x - y)[nLabels >> 1];
    const from = pixelSource === 'option' ? `--pixel-um ${pixel_um}` : pixelSource === 'metadata' ? `the movie's pixel size (${pixel_um} µm)` : `the default pixel size (${pixel_um} µm)`;
    if (d > 200 || d < 0.1) warn(`with ${from} the particles are ${csvNumber(Number(d.toPrecision(3)))} µm across (median): cathode particles are ~1–20 µm; is the pixel size in µm?`);
  }

  // ---- pass 1: drift, ΔI/I0, per-particle sums, diff.tif
  const smooth = options.smoothRadius ?? 0;
  if (2 * smooth + 1 > Math.min(width, height)) throw new UserError(`--smooth-px = ${smooth} makes a ${2 * smooth + 1} px box, larger than the ${width}×${height} frames: use at most ${Math.floor((Math.min(width, height) - 1) / 2)} (a few pixels smooths noise; the paper's maps are not smoothed)`);
  const minDrift = options.minDrift_px ?? DEFAULT_MIN_DRIFT_PX;
  checkPositive('--min-drift-px', minDrift, true);
  const driftOpts = (options.drift ?? true) && frames > 1 ? driftOptions(reference, width, height, seg.labels, options.maxDrift_px) : null;
  // the drift applied to each frame, and the estimate (which may be below --min-drift-px)
  const drift_px: [number, number][] = Array.from({ length: frames }, () => [0, 0] as [number, number]);
  const driftEst_px: [number, number][] = Array.from({ length: frames }, () => [0, 0] as [number, number]);
  const driftPeak: number[] = new Array(frames).fill(1);
  const atLimit: number[] = [];
  let driftStarted = false;
  for (const f of options.montageFrames ?? []) {
    if (!Number.isInteger(f) || f < 0 || f >= frames) throw new UserError(`--montage-frames: frame ${f} is not allowed: ${movie.path} has frames 0 … ${frames - 1}`);
  }
  // particle pixels whose ΔI/I0 is NaN: the reference's, per particle, and the frames with more
  const unmeasured = { reference: new Int32Array(nLabels), frames: new Set<number>(), worst: 0, worstOf: 0, worstFrame: 0 };
  if (nonFinite || refSaturatedInside) for (let i = 0; i < mapReference.length; i++) if (seg.labels[i] > 0 && !Number.isFinite(mapReference[i])) unmeasured.reference[seg.labels[i] - 1]++;
  // particle pixels saturated in a frame but not in the reference (those are NaN in every frame already):
  // ΔI/I0 ≥ (top − I0)/I0 there. Where that bound clears the threshold the pixel has reacted whatever
  // its true value (kept: only its ΔI/I0, and the mean, read low); where it does not, nobody can say
  // (NaN, not measured)
  const clipped = { byFrame: new Map<number, Int32Array>(), worst: 0, worstFrame: 0, kept: 0, keptFrames: new Set<number>() };
  const refTop = saturationLevel(referenceFrame);
  const boundClears = (i: number) => refTop !== null && (refTop - reference[i]) >= threshold * reference[i];
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

  await sink.begin({ width, height, frames, pixel_um, frame_s, particles, labels: seg.labels });
  let processor: FrameProcessor | null = null;
  let drift: DriftService | null = null;
  try {
    processor = await createProcessor({ width, height, reference: mapReference, labels: seg.labels, nLabels, threshold, smoothRadius: options.smoothRadius ?? 0, maxBatch: batch });
    if (driftOpts) drift = await (options.createDrift ?? driftInThread)(reference, width, height, driftOpts, frames, options.driftWorkers);
    // Pass 1 as a pipeline of three stages, so that both cores stay busy:
    //   read: the frames of batch k + 1 are read (and each handed to the drift service as soon as it
    //         is read) while batch k is mapped;
    //   drift: the service (worker threads in analyze) estimates frame after frame, one batch ahead;
    //   maps:  batch k's ΔI/I0 maps and label sums (this thread + the processor's helpers, or the
    //          GPU), then its sink pages and trace rows, in frame order.
    // The results are those of the stages run one after another: every stage sees the same inputs.
    type Batch = { frames: FrameData[]; drifts: (Promise<DriftEstimate> | null)[] };
    const readBatch = async (start: number): Promise<Batch> => {
      const b: Batch = { frames: [], drifts: [] };
      for (let i = start; i < Math.min(frames, start + batch); i++) {
        const f = await movie.readFrame(i);
        let inside = 0, perParticle: Int32Array | null = null;
        b.frames.push(maskSaturated(f, (j) => {
          if (referenceFrame[j] === refTop) return true; // NaN through the reference already
          if (boundClears(j)) {
            if (seg.labels[j]) { clipped.kept++; clipped.keptFrames.add(i); }
            return false;
          }
          if (seg.labels[j]) { inside++; (perParticle ??= new Int32Array(nLabels))[seg.labels[j] - 1]++; }
          return true;
        }));
        if (perParticle) {
          clipped.byFrame.set(i, perParticle);
          if (inside > clipped.worst) Object.assign(clipped, { worst: inside, worstFrame: i });
        }
        const d = drift && i !== ref ? drift.estimate(f) : null;
        d?.catch(() => {}); // surfaced when awaited
        b.drifts.push(d);
      }
      return b;
    };
    const shiftOf = (i: number, est: DriftEstimate | null): [number, number] | undefined => {
      if (!est) return undefined;
      driftPeak[i] = est.peak;
      // an estimate at the edge of the search: the stage may have moved further than was searched
      // (the peak is searched at whole shifts up to ceil(max/bin) bins and refined by ±½ bin: one at the
      // last whole shift is where the search ends)
      const bin = driftOpts!.bin ?? 1, edge = (Math.ceil(driftOpts!.maxShift_px! / bin) - 0.5) * bin;
      if (Math.max(Math.abs(est.shift[0]), Math.abs(est.shift[1])) >= edge) atLimit.push(i);
      // a weak correlation peak is no measurement: such a frame is left as it is (and reported)
      if (est.peak < MIN_DRIFT_PEAK) return undefined;
      driftEst_px[i] = [Number(est.shift[0].toFixed(4)), Number(est.shift[1].toFixed(4))];
      // a shift within the estimate's own error is no measurement either (DEFAULT_MIN_DRIFT_PX) —
      // until one is not: from the first frame whose estimate reaches it every later frame is
      // corrected, so that an estimate hovering at the threshold does not resample one frame and
      // leave the next (frames are estimated in order)
      if (Math.hypot(est.shift[0], est.shift[1]) >= minDrift) driftStarted = true;
      if (!driftStarted) return undefined;
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
        await sink.page(i, diff);
        for (let p = 0; p < nLabels; p++) {
          const m = labelMetrics(labelStats, p + 1, pixel_um);
          // NaN ΔI/I0 inside the particle beyond the reference's own (those are in every frame, warned above)
          // (saturated pixels are warned apart)
          const extra = m.particlePixels - labelStats[p * LABEL_STATS_STRIDE + LabelStat.finiteCount] - unmeasured.reference[p] - (clipped.byFrame.get(i)?.[p] ?? 0);
          if (extra > 0) {
            unmeasured.frames.add(i);
            if (extra > unmeasured.worst) Object.assign(unmeasured, { worst: extra, worstOf: p, worstFrame: i });
          }
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
    await sink.end();
  } catch (e) {
    await sink.abort();
    throw e;
  } finally {
    processor?.destroy();
    drift?.close();
  }
  const clippedFrames = [...clipped.byFrame.keys()];
  if (clippedFrames.length) warn(`${clippedFrames.length} frame(s) (first ${clippedFrames[0]}) have saturated pixels inside particles where I0 is within ${csvNumber(100 * threshold)} % of the top (at most ${clipped.worst} in one frame, frame ${clipped.worstFrame}): a clipped pixel only says the intensity is at least ${refTop}, which there cannot tell reacted from unreacted, so ΔI/I0 is NaN, left out of the unreacted fraction and both centres of mass; lower the exposure`);
  if (clipped.kept) warn(`${clipped.keptFrames.size} frame(s) (first ${Math.min(...clipped.keptFrames)}) have saturated pixels inside particles (${clipped.kept} in all) whose ΔI/I0, though clipped, clears the ${csvNumber(threshold)} threshold: they count as reacted, as they are, but their ΔI/I0 and the particles' mean ΔI/I0 read low; lower the exposure to measure them`);
  if (unmeasured.frames.size) {
    const f = [...unmeasured.frames].sort((a, b) => a - b);
    const p = particles[unmeasured.worstOf];
    warn(`${f.length} frame(s) (first ${f[0]}) have NaN ΔI/I0 pixels inside particles beyond the reference frame's (NaN pixels in the frame, or a drift-corrected frame's border): at most ${unmeasured.worst} of particle ${p.id}'s ${p.area_px} pixels (frame ${unmeasured.worstFrame}); they are left out of the unreacted fraction and the centres of mass of those frames`);
  }
  const weak = driftPeak.map((p, i) => [p, i]).filter(([p]) => p < MIN_DRIFT_PEAK).map(([, i]) => i);
  const searched = driftOpts?.maxShift_px ?? 0;
  if (atLimit.length) warn(`the drift estimate reached the edge of the search (${searched} px, --max-drift-px) in ${atLimit.length} frame(s), first ${atLimit[0]}: the stage may have moved further, and those frames are then corrected wrongly; run again with --max-drift-px ${Math.ceil(2 * searched)}`);
  if (driftOpts && weak.length) warn(`drift estimate unreliable (correlation peak below ${MIN_DRIFT_PEAK}) for ${weak.length} frame(s), first ${weak[0]}: those frames were left uncorrected; check them for jumps or focus changes${atLimit.length ? `, or a drift beyond the ${searched} px searched (--max-drift-px ${Math.ceil(2 * searched)})` : ''}, or run with --no-drift`);

  // ---- classification and kymograph lines
  for (let p = 0; p < nLabels; p++) {
    const r = results[p];
    r.classification = classifyParticle(r.comOffsetRel, r.unreactedFraction, { threshold: asymThreshold, fractionWindow: asymWindow });
    // a particle cut by the frame (--keep-border): its COM is the visible part's, not the particle's
    if (r.particle.touchesBorder && seg.method !== 'mask') r.classification = { ...r.classification, asymmetric: null };
    // touching particles taken as one (warned above): the COM offset is the pair's
    if (joined.has(r.particle.label)) r.classification = { ...r.classification, asymmetric: null };
    if (!anglesKnown) {
      const window = r.classification.frames.length ? r.classification.frames : Array.from({ length: frames }, (_, i) => i);
      const angle = offsetDirectionDeg(r.particle.centroid_px, unreactedCom_px[p], r.comOffsetRel, window);
      r.line = lineThroughParticle(r.particle, seg.labels, width, height, angle);
    }
  }
  // (a --mask's particles are the user's: kept and classified wherever they lie)
  const cut = seg.method === 'mask' ? [] : results.filter((r) => r.particle.touchesBorder).map((r) => r.particle.id);
  if (cut.length) warn(`particle${cut.length > 1 ? 's' : ''} ${cut.join(', ')} touch${cut.length > 1 ? '' : 'es'} the frame border (kept by --keep-border): cut by the frame, ${cut.length > 1 ? 'their' : 'its'} centre of mass is the visible part's, so ${cut.length > 1 ? 'they are' : 'it is'} left unclassified (asymmetric empty in particles.csv, out of asymmetricFraction); the traces are written`);
  if (!anglesKnown && nLabels > 0) {
    // pass 2: read back the ΔI/I0 stack(s) one page at a time
    const back = await sink.reread();
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

  return {
    particles: results, segmentation: seg, times_s, capacityAtFrames: cap, capacity, calibration, pixel_um, frame_s,
    pixelSource, frameSource, referenceFrame: ref, threshold, asymThreshold, asymWindow, batch,
    drift: driftOpts !== null, drift_px, driftEst_px, driftPeak, driftOptions: driftOpts, minDrift_px: minDrift, driftThread: drift?.where ?? null, unreactedCom_px, kymoRows, anglesKnown, timeOffset_s: timeOffset, warnings,
  };
}
