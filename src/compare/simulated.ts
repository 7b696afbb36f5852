/**
 * The simulated side of a comparison, as images: the ΔI/I0 that the optical forward model (SPEC §2)
 * makes of each θ snapshot, on a fine pixel grid of the simulation's own frame, with the particle's
 * mask. From θ fields in memory (a fit's best run), or from a synthetic (or any other) movie read
 * as an observed one. `loadSimulationFolder` (src/compare/simFolder.ts) reads a `simulate` folder.
 */
import type { SimulationConfig } from '../model/config';
import { createCamera, forwardModel } from '../optics/forward';
import type { Problem } from '../solver/problem';
import type { ObservedParticle } from './observed';

export interface SimulatedSide {
  kind: 'simulation' | 'movie';
  /** the folder, movie or run it came from */
  source: string;
  /** per snapshot (frame) */
  times_s: number[];
  /** the time the run (a movie: its reference frame) starts from, on the clock of times_s */
  startTime_s?: number;
  capacity_mAh_g: number[] | null;
  /** pixel size of the images below, µm (the simulation's own units) */
  pixel_um: number;
  width: number;
  height: number;
  /** 1 = particle (pixel centre inside the outline) */
  mask: Uint8Array;
  /** ΔI/I0 per snapshot, row-major; defined (not NaN) also just outside the mask where the PSF reaches */
  diff: Float32Array[];
  /** ΔI/I0 below which a pixel is unreacted */
  threshold: number;
  /** where the images' top-left corner lies in the side's own frame, physical µm (a movie's crop: [col0·pixel, −row0·pixel]); default [0, 0] */
  frameOffset_um?: [number, number];
  /** the simulation's resolved config and problem (kind 'simulation') */
  config?: SimulationConfig;
  problem?: Problem;
  /** the movie particle (kind 'movie') */
  particleId?: number;
}

export interface SimulatedSnapshot {
  time_s: number;
  capacity_mAh_g: number;
  /** θ on the grid, NaN outside */
  field: Float32Array;
}

/**
 * Renders θ snapshots of `problem` through the forward model with the config's κ and PSF, on pixels
 * of `pixel_um` (default: half the config's camera pixel, fine enough that resampling onto the
 * observed pixels adds little). `psfSigma_um` / `kappa` override the config's.
 */
export function simulatedFromFields(problem: Problem, snapshots: SimulatedSnapshot[], options: { pixel_um?: number; psfSigma_um?: number; kappa?: number; source?: string } = {}): SimulatedSide {
  const o = problem.config.optics;
  const pixel_um = options.pixel_um ?? o.pixel_um / 2;
  const camera = createCamera(problem.grid, { kappa: options.kappa ?? o.kappa, psfSigma_um: options.psfSigma_um ?? o.psfSigma_um, pixel_um });
  // the ratio blur(θ0 − θ)/blur(mask) everywhere the PSF reaches, so that a pixel of the observed
  // mask just outside the simulated outline still has a value after registration
  const open = { ...camera, mask: new Uint8Array(camera.mask.length).fill(1) };
  const diff = snapshots.map((s) => forwardModel(s.field, open, problem.theta0).diff);
  return {
    kind: 'simulation', source: options.source ?? 'simulation',
    times_s: snapshots.map((s) => s.time_s), capacity_mAh_g: snapshots.map((s) => s.capacity_mAh_g),
    pixel_um, width: camera.width, height: camera.height, mask: camera.mask, diff,
    threshold: o.unreactedThreshold, config: problem.config, problem,
  };
}

/** A movie's particle (e.g. a `synth` movie) as the simulated side. */
export function simulatedFromMovie(p: ObservedParticle): SimulatedSide {
  return {
    kind: 'movie', source: p.source, times_s: p.times_s, startTime_s: p.times_s[p.referenceFrame] ?? 0, capacity_mAh_g: p.capacity_mAh_g,
    pixel_um: p.pixel_um, width: p.crop.width, height: p.crop.height, mask: p.mask, diff: p.diff,
    threshold: p.threshold, particleId: p.id, frameOffset_um: [p.crop.col0 * p.pixel_um, -p.crop.row0 * p.pixel_um],
  };
}
