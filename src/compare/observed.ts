/**
 * One particle of an operando movie, measured as `ionflux analyze` measures it (SPEC §2, §6): the
 * calibration (flags over metadata), the particles of the reference frame (Otsu segmentation,
 * analyze's ids), stage drift by phase correlation on the particles' silhouettes, and ΔI/I0 of each
 * frame against the reference (diffMapCpu, the frame processor's CPU reference). What `compare` and
 * `fit` need is kept in memory: the particle's crop of every ΔI/I0 map (a few kB per frame), its
 * mask and its per-frame metrics.
 */
import { UserError } from '../errors';
import type { MovieSource } from '../io/movie';
import { resolveCalibration } from '../io/calibration';
import { capacityAtFrames, type CapacityRecord } from '../io/capacity';
import { diffMapCpu, prepareReference } from '../imaging/diffmap';
import { DriftEstimator, driftClipLevel, driftRegion } from '../imaging/drift';
import { segmentParticles, type Particle } from '../imaging/segment';
import { unreactedStats, type UnreactedStats } from '../imaging/unreacted';

export interface ObservedParticle {
  /** the movie, as named by the caller */
  source: string;
  /** analyze's id (raster order of the first mask pixel) */
  id: number;
  /** the particle in the whole frame (centroid, area, bbox), analyze's table row */
  particle: Particle;
  /** every id of the movie's reference frame */
  ids: number[];
  pixel_um: number;
  frame_s: number;
  /** frame times, s (frame i at timeOffset + i·frame_s) */
  times_s: number[];
  /** charge passed at each frame (mAh/g), null without a capacity record; NaN outside the record */
  capacity_mAh_g: number[] | null;
  capacitySource: string | null;
  referenceFrame: number;
  /** the crop of the frame kept for the particle (its bounding box plus a margin), pixels */
  crop: { col0: number; row0: number; width: number; height: number };
  /** the particle's mask on the crop (1 = particle) */
  mask: Uint8Array;
  /** ΔI/I0 on the crop, per frame (NaN where undefined) */
  diff: Float32Array[];
  /** analyze's metrics of the particle per frame (image coordinates of the crop) */
  stats: UnreactedStats[];
  /** [dx, dy] px per frame (analyze's convention) */
  drift_px: [number, number][];
  threshold: number;
  warnings: string[];
}

export interface ObservedOptions {
  /** analyze's particle id; default: the only particle (an error when there are several) */
  particle?: number | null;
  reference?: number;
  pixel_um?: number;
  frame_s?: number;
  timeOffset_s?: number;
  capacity?: CapacityRecord | null;
  /** where `capacity` came from, for the summary (default its path) */
  capacitySource?: string;
  /** drift correction as analyze does it; default true */
  drift?: boolean;
  threshold?: number;
  minArea_px?: number;
  segSigma_px?: number;
  /** pixels kept around the particle's bounding box; default 6 */
  margin_px?: number;
  /** names the input in messages, e.g. `--observed` */
  flag?: string;
  warn?: (message: string) => void;
}

/** Reads and measures one particle of `movie` (module comment). Throws UserError for bad input. */
export async function readObservedParticle(movie: MovieSource, options: ObservedOptions = {}): Promise<ObservedParticle> {
  const flag = options.flag ?? '--observed';
  const warnings: string[] = [];
  const warn = (m: string) => { warnings.push(m); options.warn?.(m); };
  const { width, height, frames } = movie;
  if (frames < 2) throw new UserError(`${flag} ${movie.path} has ${frames} frame: a comparison needs the reference and at least one more frame`);
  const ref = options.reference ?? 0;
  if (!Number.isInteger(ref) || ref < 0 || ref >= frames) throw new UserError(`--reference = ${ref} is not allowed for ${movie.path}: it has ${frames} frames, use 0 … ${frames - 1}`);
  const resolved = resolveCalibration(movie.path, movie.calibration, { pixel_um: options.pixel_um, frame_s: options.frame_s });
  for (const w of resolved.warnings) warn(w);
  const pixel_um = resolved.calibration.pixel_um.value, frame_s = resolved.calibration.frame_s.value;
  const capacity = options.capacity ?? null;
  if (capacity && resolved.calibration.frame_s.source === 'default') {
    throw new UserError(`capacity file ${capacity.path} needs frame times but ${movie.path} has no frame interval in its metadata: give --frame-s`);
  }
  const offset = options.timeOffset_s ?? 0;
  const times_s = Array.from({ length: frames }, (_, i) => offset + i * frame_s);
  const cap = capacity ? capacityAtFrames(capacity, times_s).capacity_mAh_g : null;

  const reference = Float32Array.from(await movie.readFrame(ref) as ArrayLike<number>);
  const seg = segmentParticles(reference, width, height, { pixel_um, minArea_px: options.minArea_px, sigma_px: options.segSigma_px });
  const ids = seg.particles.map((p) => p.id);
  if (!ids.length) throw new UserError(`${flag} ${movie.path}: no particle found in reference frame ${ref} (Otsu threshold ${Number(seg.threshold.toPrecision(4))}; ${seg.dropped.border} dropped touching the border, ${seg.dropped.small} smaller than ${options.minArea_px ?? 25} px)`);
  let particle: Particle;
  if (options.particle === undefined || options.particle === null) {
    if (ids.length > 1) throw new UserError(`${flag} ${movie.path} holds ${ids.length} particles (ids ${listIds(ids)}): choose one with --particle ID`);
    particle = seg.particles[0];
  } else {
    const found = seg.particles.find((p) => p.id === options.particle);
    if (!found) throw new UserError(`--particle ${options.particle} is not in ${movie.path}: its reference frame holds particle${ids.length > 1 ? 's' : ''} ${listIds(ids)} (ids as analyze numbers them)`);
    particle = found;
  }

  const m = options.margin_px ?? 6;
  const col0 = Math.max(0, particle.bbox.col0 - m), row0 = Math.max(0, particle.bbox.row0 - m);
  const col1 = Math.min(width, particle.bbox.col1 + m), row1 = Math.min(height, particle.bbox.row1 + m);
  const crop = { col0, row0, width: col1 - col0, height: row1 - row0 };
  const mask = new Uint8Array(crop.width * crop.height);
  for (let r = 0; r < crop.height; r++) for (let c = 0; c < crop.width; c++) mask[r * crop.width + c] = seg.labels[(row0 + r) * width + col0 + c] === particle.label ? 1 : 0;

  const useDrift = options.drift ?? true;
  let estimator: DriftEstimator | null = null;
  if (useDrift) {
    const margin = Math.max(16, Math.floor(Math.min(width, height) / 8));
    estimator = new DriftEstimator(reference, width, height, {
      maxShift_px: margin, clipAbove: driftClipLevel(reference, width, height, seg.labels), region: driftRegion(seg.labels, width, height, 2 * margin),
    });
  }
  const prepared = prepareReference(reference);
  const threshold = options.threshold ?? 0.05;
  const diff: Float32Array[] = [], stats: UnreactedStats[] = [], drift_px: [number, number][] = [];
  const full = new Float32Array(width * height);
  let weak = 0;
  for (let i = 0; i < frames; i++) {
    const frame = await movie.readFrame(i);
    let shift: [number, number] = [0, 0];
    if (estimator && i !== ref) {
      const est = estimator.estimate(frame);
      if (est.peak >= 0.05) shift = [est.shift[0], est.shift[1]]; else weak++;
    }
    drift_px.push(shift);
    diffMapCpu(frame, prepared, width, height, { shift }, full);
    const d = new Float32Array(crop.width * crop.height);
    for (let r = 0; r < crop.height; r++) d.set(full.subarray((row0 + r) * width + col0, (row0 + r) * width + col1), r * crop.width);
    diff.push(d);
    stats.push(unreactedStats(d, mask, crop.width, pixel_um, threshold));
  }
  if (weak) warn(`drift estimate unreliable (correlation peak below 0.05) for ${weak} frame(s) of ${movie.path}: left uncorrected`);
  return {
    source: movie.path, id: particle.id, particle, ids, pixel_um, frame_s, times_s,
    capacity_mAh_g: cap, capacitySource: capacity ? options.capacitySource ?? capacity.path : null,
    referenceFrame: ref, crop, mask, diff, stats, drift_px, threshold, warnings,
  };
}

function listIds(ids: number[]): string {
  return ids.length <= 12 ? ids.join(', ') : `${ids.slice(0, 10).join(', ')}, … ${ids[ids.length - 1]}`;
}
