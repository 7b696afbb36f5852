/**
 * One particle of an operando movie, measured by `ionflux analyze`'s own analysis (runAnalysis,
 * src/imaging/analysisCore.ts; SPEC §2, §6): the calibration (flags over metadata), the particles of
 * the reference frame (Otsu segmentation, analyze's ids), stage drift by phase correlation on the
 * particles' silhouettes (estimates below analyze's --min-drift-px left uncorrected), and ΔI/I0 of
 * each frame against the reference (the CPU frame processor). What `compare` and
 * `fit` need is kept in memory: the particle's crop of every ΔI/I0 map (a few kB per frame), its
 * mask and its per-frame metrics.
 */
import { UserError } from '../errors';
import type { MovieSource } from '../io/movie';
import type { CapacityRecord } from '../io/capacity';
import { runAnalysis, type DiffSink } from '../imaging/analysisCore';
import { createCpuProcessor } from '../imaging/processor';
import type { Particle } from '../imaging/segment';
import { unreactedStats, type UnreactedStats } from '../observables/unreacted';

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
  /** the charge record's own samples (on the frames' clock), for steps shorter than a few frames */
  capacityRecord?: { time_s: number[]; capacity_mAh_g: number[] } | null;
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
  // the analysis's warnings are passed on once it is done: "no particle found …" becomes the error
  const held: string[] = [];
  const NO_PARTICLE = new Error('no particle');
  const { width, frames } = movie;
  if (frames < 2) throw new UserError(`${flag} ${movie.path} has ${frames} frame: a comparison needs the reference and at least one more frame`);
  const m = options.margin_px ?? 6;
  const threshold = options.threshold ?? 0.05;
  // analyze's own analysis (runAnalysis): the same segmentation, ids, drift estimate and ΔI/I0; the
  // sink picks the particle once the particles are known and keeps its crop of every map
  let picked: { particle: Particle; ids: number[]; crop: ObservedParticle['crop']; mask: Uint8Array } | null = null;
  const diff: Float32Array[] = [];
  const sink: DiffSink = {
    async begin(info) {
      const ids = info.particles.map((p) => p.id);
      if (!ids.length) throw NO_PARTICLE;
      let particle: Particle;
      if (options.particle === undefined || options.particle === null) {
        if (ids.length > 1) throw new UserError(`${flag} ${movie.path} holds ${ids.length} particles (ids ${listIds(ids)}): choose one with --particle ID`);
        particle = info.particles[0];
      } else {
        const found = info.particles.find((p) => p.id === options.particle);
        if (!found) throw new UserError(`--particle ${options.particle} is not in ${movie.path}: its reference frame holds particle${ids.length > 1 ? 's' : ''} ${listIds(ids)} (ids as analyze numbers them)`);
        particle = found;
      }
      const col0 = Math.max(0, particle.bbox.col0 - m), row0 = Math.max(0, particle.bbox.row0 - m);
      const col1 = Math.min(info.width, particle.bbox.col1 + m), row1 = Math.min(info.height, particle.bbox.row1 + m);
      const crop = { col0, row0, width: col1 - col0, height: row1 - row0 };
      const mask = new Uint8Array(crop.width * crop.height);
      for (let r = 0; r < crop.height; r++) for (let c = 0; c < crop.width; c++) mask[r * crop.width + c] = info.labels[(row0 + r) * info.width + col0 + c] === particle.label ? 1 : 0;
      picked = { particle, ids, crop, mask };
    },
    async page(_i, full) {
      const { crop } = picked!;
      const d = new Float32Array(crop.width * crop.height);
      for (let r = 0; r < crop.height; r++) d.set(full.subarray((crop.row0 + r) * width + crop.col0, (crop.row0 + r) * width + crop.col0 + crop.width), r * crop.width);
      diff.push(d);
    },
    async end() {},
    async abort() {},
    reread: () => { throw new Error('readObservedParticle: no second pass (the line angle is given)'); },
  };
  const analysis = runAnalysis(movie, (o) => createCpuProcessor(o), {
    reference: options.reference, pixel_um: options.pixel_um, frame_s: options.frame_s, timeOffset_s: options.timeOffset_s,
    capacity: options.capacity ?? null, drift: options.drift ?? true, threshold, minArea_px: options.minArea_px,
    segSigma_px: options.segSigma_px,
    lineAngleDeg: 0, // lines known up front: no second pass over the maps (compare draws its own)
    warn: (w) => held.push(w),
  }, sink);
  const core = await analysis.catch((e) => {
    const none = e === NO_PARTICLE ? held.find((w) => w.startsWith('no particle found')) : undefined;
    held.filter((w) => w !== none).forEach(warn);
    if (e !== NO_PARTICLE) throw e;
    throw new UserError(`${flag} ${(none ?? `no particle found in ${movie.path}`).replace(/: tables left empty.*$/, '')}: nothing to compare`);
  });
  held.forEach(warn);
  const { particle, ids, crop, mask } = picked!;
  const stats = diff.map((d) => unreactedStats(d, mask, crop.width, core.pixel_um, threshold));
  return {
    source: movie.path, id: particle.id, particle, ids, pixel_um: core.pixel_um, frame_s: core.frame_s, times_s: core.times_s,
    capacity_mAh_g: core.capacityAtFrames?.capacity_mAh_g ?? null, capacitySource: core.capacity ? options.capacitySource ?? core.capacity.path : null,
    capacityRecord: core.capacity ? { time_s: Array.from(core.capacity.time_s), capacity_mAh_g: Array.from(core.capacity.capacity_mAh_g) } : null,
    referenceFrame: core.referenceFrame, crop, mask, diff, stats, drift_px: core.drift_px, threshold, warnings,
  };
}

function listIds(ids: number[]): string {
  return ids.length <= 12 ? ids.join(', ') : `${ids.slice(0, 10).join(', ')}, … ${ids[ids.length - 1]}`;
}
