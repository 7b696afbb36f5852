/**
 * The forward problem of a fit: the observed particle's own outline (its segmented mask traced and
 * smoothed into a polygon at the movie's pixel size, centred on the mask's centre of mass), a
 * simulation config on it, and the camera that renders a simulated θ field onto the observed crop's
 * own pixels (no registration: the outline is the observed one, in the observed pixel frame).
 */
import { UserError } from '../errors';
import { traceBoundary, smoothLoop } from '../model/maskOutline';
import type { Vec2 } from '../model/geometry';
import { createCamera, forwardModel, type Camera } from '../optics/forward';
import type { ParticleGrid } from '../model/grid';
import type { ObservedParticle } from '../compare/observed';

/** the smallest observed particle a fit takes: below this the outline and the core are a few pixels */
export const MIN_FIT_PIXELS = 80;

export interface ObservedOutline {
  /** polygon vertices, µm, physical axes (y up), about the mask's centre of mass */
  vertices_um: Vec2[];
  /** the mask's centre of mass on the crop, pixel-edge units (x = col, y = −row) */
  centre_px: [number, number];
  area_um2: number;
  eqRadius_um: number;
}

/** The observed particle's outline as a polygon (module comment). Throws UserError when it is too small. */
export function observedOutline(obs: ObservedParticle, flag = '--observed', psfSigma_um = 0): ObservedOutline {
  const { mask, crop, pixel_um: p } = obs;
  let n = 0, sx = 0, sy = 0;
  for (let r = 0; r < crop.height; r++) for (let c = 0; c < crop.width; c++) if (mask[r * crop.width + c]) { n++; sx += c + 0.5; sy += -(r + 0.5); }
  if (n < MIN_FIT_PIXELS) {
    throw new UserError(`${flag} particle ${obs.id} covers ${n} pixels (R_eq = ${Math.sqrt(n / Math.PI).toFixed(1)} px at ${p} µm/pixel): too small to fit its surface (the outline and the core would be a few pixels); a fit needs at least ${MIN_FIT_PIXELS} pixels — use a movie at a finer pixel size`);
  }
  const rEq = Math.sqrt((n * p * p) / Math.PI);
  if (rEq < 3 * psfSigma_um) {
    throw new UserError(`${flag} particle ${obs.id} has R_eq = ${rEq.toFixed(2)} µm, less than 3 PSF σ (${psfSigma_um} µm): the blur hides where the core sits, so its surface cannot be fitted sensibly (a fit needs R_eq ≥ ${(3 * psfSigma_um).toFixed(2)} µm; check --psf-um)`);
  }
  const cx = sx / n, cy = sy / n;
  const loop = smoothLoop(traceBoundary(mask, crop.width, crop.height));
  const vertices_um = loop.map(([x, y]) => [Number(((x - cx) * p).toFixed(6)), Number(((y - cy) * p).toFixed(6))] as Vec2);
  const area = n * p * p;
  return { vertices_um, centre_px: [cx, cy], area_um2: area, eqRadius_um: Math.sqrt(area / Math.PI) };
}

/**
 * The camera of the simulated grid on the observed crop's pixels, κ = 1, the mask open (ΔI/I0 where
 * the PSF reaches, so that every observed mask pixel gets a model value).
 */
export function cropCamera(grid: ParticleGrid, outline: ObservedOutline, obs: ObservedParticle, psfSigma_um: number): Camera {
  const p = obs.pixel_um;
  // the crop's top-left corner (pixel-edge coordinates (0, 0)) in the outline's frame
  const origin: [number, number] = [-outline.centre_px[0] * p, -outline.centre_px[1] * p];
  const cam = createCamera(grid, { kappa: 1, psfSigma_um, pixel_um: p }, { origin_um: origin, width: obs.crop.width, height: obs.crop.height });
  return { ...cam, mask: new Uint8Array(cam.mask.length).fill(1) };
}

/** ΔI/I0 of θ at κ = 1 on the crop */
export function modelImage(field: Float32Array, camera: Camera, theta0: number): Float32Array {
  return forwardModel(field, camera, theta0).diff;
}
