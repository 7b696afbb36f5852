/**
 * Registration of a simulated particle onto an observed one (`ionflux compare`): a 2D similarity
 * (shift, rotation, uniform scale) held as a gl-matrix `mat2d`, found from the two particle masks:
 *
 *   centroid      the masks' centres of mass
 *   scale         the ratio of the equivalent radii, R_eq = √(area/π)
 *   orientation   second moments (the major axes), the 180° ambiguity and near-circular outlines
 *                 resolved by outline matching: the rotation whose warped mask overlaps the observed
 *                 mask best (intersection over union), refined to 0.1°
 *
 * Coordinates: every image is placed in "physical" µm with y up, origin at the image's top-left
 * corner: pixel (row, col) has its centre at x = (col + 0.5)·pixel_um, y = −(row + 0.5)·pixel_um.
 * Angles are then counter-clockwise from +x as everywhere in ionflux (SPEC §3, §7). The registration
 * maps simulated to observed: p_obs = c_obs + s·R(φ)·(p_sim − c_sim).
 */
import { mat2d, vec2 } from 'gl-matrix';

/** A binary image with its pixel size (µm). */
export interface MaskImage {
  mask: ArrayLike<number>;
  width: number;
  height: number;
  pixel_um: number;
}

/** Centroid, area and second central moments of a mask, physical µm (y up). */
export interface MaskMoments {
  pixels: number;
  area_um2: number;
  eqRadius_um: number;
  centroid_um: [number, number];
  /** central second moments ⟨x²⟩, ⟨y²⟩, ⟨xy⟩ in µm² (pixels as points) */
  mxx: number;
  myy: number;
  mxy: number;
  /** direction of the major axis, degrees CCW from +x, in (−90, 90] */
  majorAxisDeg: number;
  /** (λ1 − λ2)/(λ1 + λ2) of the moment matrix: 0 for a disk, → 1 for a needle */
  anisotropy: number;
}

export function maskMoments(m: MaskImage): MaskMoments {
  const { mask, width, height, pixel_um: p } = m;
  let n = 0, sx = 0, sy = 0;
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) if (mask[r * width + c]) { n++; sx += c + 0.5; sy += r + 0.5; }
  if (!n) return { pixels: 0, area_um2: 0, eqRadius_um: 0, centroid_um: [NaN, NaN], mxx: NaN, myy: NaN, mxy: NaN, majorAxisDeg: NaN, anisotropy: NaN };
  const cx = sx / n, cy = sy / n;
  let xx = 0, yy = 0, xy = 0;
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) {
    if (!mask[r * width + c]) continue;
    const dx = c + 0.5 - cx, dy = -(r + 0.5 - cy);
    xx += dx * dx; yy += dy * dy; xy += dx * dy;
  }
  const mxx = (xx / n) * p * p, myy = (yy / n) * p * p, mxy = (xy / n) * p * p;
  const tr = mxx + myy, det = mxx * myy - mxy * mxy;
  const disc = Math.sqrt(Math.max(0, (tr * tr) / 4 - det));
  const l1 = tr / 2 + disc, l2 = tr / 2 - disc;
  let major = (0.5 * Math.atan2(2 * mxy, mxx - myy) * 180) / Math.PI;
  if (major <= -90) major += 180;
  const area = n * p * p;
  return {
    pixels: n, area_um2: area, eqRadius_um: Math.sqrt(area / Math.PI), centroid_um: [cx * p, -cy * p],
    mxx, myy, mxy, majorAxisDeg: major, anisotropy: tr > 0 ? (l1 - l2) / (l1 + l2) : 0,
  };
}

/** The similarity p_obs = c_obs + s·R(φ)·(p_sim − c_sim), and what it was found from. */
export interface Registration {
  /** simulated → observed, physical µm of the two images (gl-matrix column-major [a, b, c, d, tx, ty]) */
  matrix: mat2d;
  rotationDeg: number;
  scale: number;
  /** c_obs − c_sim, µm (physical: x right, y up) */
  shift_um: [number, number];
  /** the same in observed pixels, image axes (x right, y down) */
  shift_px: [number, number];
  centroidSim_um: [number, number];
  centroidObs_um: [number, number];
  /** intersection over union of the warped simulated mask and the observed mask */
  iou: number;
  /** how the rotation was chosen, in words */
  method: string;
}

export interface RegisterOptions {
  /** a fixed rotation (degrees CCW); default: found from the outlines */
  rotationDeg?: number | null;
  /** a fixed scale; default: the ratio of the equivalent radii */
  scale?: number | null;
}

/** The similarity from its parts. */
export function similarity(cSim: [number, number], cObs: [number, number], rotationDeg: number, scale: number): mat2d {
  const m = mat2d.create();
  mat2d.translate(m, m, vec2.fromValues(cObs[0], cObs[1]));
  mat2d.rotate(m, m, (rotationDeg * Math.PI) / 180);
  mat2d.scale(m, m, vec2.fromValues(scale, scale));
  mat2d.translate(m, m, vec2.fromValues(-cSim[0], -cSim[1]));
  return m;
}

/**
 * Samples `img` (row-major, physical frame of its own) at physical point (x, y): bilinear over the
 * finite neighbours (weights renormalised where some are NaN or outside), NaN where none is.
 */
export function samplePhysical(img: ArrayLike<number>, width: number, height: number, pixel_um: number, x: number, y: number): number {
  const fc = x / pixel_um - 0.5, fr = -y / pixel_um - 0.5;
  const c0 = Math.floor(fc), r0 = Math.floor(fr);
  const tx = fc - c0, ty = fr - r0;
  let acc = 0, wsum = 0;
  for (let dr = 0; dr <= 1; dr++) {
    const r = r0 + dr;
    if (r < 0 || r >= height) continue;
    const wy = dr ? ty : 1 - ty;
    for (let dc = 0; dc <= 1; dc++) {
      const c = c0 + dc;
      if (c < 0 || c >= width) continue;
      const w = wy * (dc ? tx : 1 - tx);
      const v = img[r * width + c];
      if (w > 0 && v === v) { acc += w * v; wsum += w; }
    }
  }
  return wsum > 1e-9 ? acc / wsum : NaN;
}

/**
 * Resamples a simulated image onto the observed image's pixels: for each observed pixel centre,
 * the inverse of `matrix` gives the point of the simulated image, sampled bilinearly (NaN-aware).
 */
export function warpToObserved(sim: { data: ArrayLike<number>; width: number; height: number; pixel_um: number }, obs: { width: number; height: number; pixel_um: number }, matrix: mat2d, out = new Float32Array(obs.width * obs.height)): Float32Array {
  const inv = mat2d.invert(mat2d.create(), matrix);
  if (!inv) throw new Error('warpToObserved: the registration is singular');
  const [a, b, c, d, tx, ty] = inv as unknown as number[];
  const p = obs.pixel_um;
  for (let r = 0; r < obs.height; r++) {
    const y = -(r + 0.5) * p;
    for (let col = 0; col < obs.width; col++) {
      const x = (col + 0.5) * p;
      out[r * obs.width + col] = samplePhysical(sim.data, sim.width, sim.height, sim.pixel_um, a * x + c * y + tx, b * x + d * y + ty);
    }
  }
  return out;
}

/**
 * IoU of the simulated mask warped by `matrix` against the observed mask, with the warped mask
 * sampled bilinearly (a soft mask: Σ min / Σ max), so that the pixel staircase of the two outlines
 * adds little noise to the comparison of rotations.
 */
function overlap(sim: MaskImage, obs: MaskImage, matrix: mat2d): number {
  const inv = mat2d.invert(mat2d.create(), matrix)!;
  const [a, b, c, d, tx, ty] = inv as unknown as number[];
  const p = obs.pixel_um;
  let inter = 0, union = 0;
  for (let r = 0; r < obs.height; r++) {
    const y = -(r + 0.5) * p;
    for (let col = 0; col < obs.width; col++) {
      const x = (col + 0.5) * p;
      const v = samplePhysical(sim.mask, sim.width, sim.height, sim.pixel_um, a * x + c * y + tx, b * x + d * y + ty);
      const s = v === v ? v : 0;
      const o = obs.mask[r * obs.width + col] ? 1 : 0;
      inter += Math.min(s, o); union += Math.max(s, o);
    }
  }
  return union ? inter / union : 0;
}

/** boundary pixels / all pixels of a mask: the size of the IoU's pixel noise */
function edgeShare(m: MaskImage): number {
  let n = 0, edge = 0;
  const { mask, width: w, height: h } = m;
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    if (!mask[r * w + c]) continue;
    n++;
    if (r === 0 || c === 0 || r === h - 1 || c === w - 1 || !mask[(r - 1) * w + c] || !mask[(r + 1) * w + c] || !mask[r * w + c - 1] || !mask[r * w + c + 1]) edge++;
  }
  return n ? edge / n : 1;
}

const wrap180 = (d: number) => ((((d + 180) % 360) + 360) % 360) - 180;

/**
 * Registers the simulated particle's mask onto the observed one (module comment). The warped
 * simulated mask should be compared on the observed pixels; `iou` says how well the outlines agree
 * (1: identical; a disk on an ellipse of axis ratio 1.5 gives ~0.8).
 */
export function registerParticles(sim: MaskImage, obs: MaskImage, options: RegisterOptions = {}): Registration {
  const ms = maskMoments(sim), mo = maskMoments(obs);
  if (!ms.pixels) throw new Error('registerParticles: the simulated mask is empty');
  if (!mo.pixels) throw new Error('registerParticles: the observed mask is empty');
  const scale = options.scale ?? mo.eqRadius_um / ms.eqRadius_um;
  const at = (phi: number) => overlap(sim, obs, similarity(ms.centroid_um, mo.centroid_um, phi, scale));
  let rotation: number, method: string;
  if (options.rotationDeg !== undefined && options.rotationDeg !== null) {
    rotation = options.rotationDeg;
    method = 'given';
  } else {
    // candidates: the moments' two (major axis onto major axis) when both outlines are elongated,
    // else every 5° (outline matching alone)
    const elongated = ms.anisotropy > 0.03 && mo.anisotropy > 0.03;
    const base = wrap180(mo.majorAxisDeg - ms.majorAxisDeg);
    const candidates = elongated ? [base, wrap180(base + 180)] : Array.from({ length: 72 }, (_, k) => -180 + 5 * k);
    const scored = candidates.map((phi) => ({ phi, iou: at(phi) }));
    scored.sort((x, y) => y.iou - x.iou);
    let best = scored[0];
    // refine by golden-section search on ±(half the candidate step)
    const half = elongated ? 6 : 5;
    let lo = best.phi - half, hi = best.phi + half;
    const g = (Math.sqrt(5) - 1) / 2;
    let x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo), f1 = at(x1), f2 = at(x2);
    while (hi - lo > 0.1) {
      if (f1 >= f2) { hi = x2; x2 = x1; f2 = f1; x1 = hi - g * (hi - lo); f1 = at(x1); }
      else { lo = x1; x1 = x2; f1 = f2; x2 = lo + g * (hi - lo); f2 = at(x2); }
    }
    const refined = f1 >= f2 ? { phi: x1, iou: f1 } : { phi: x2, iou: f2 };
    if (refined.iou > best.iou) best = refined;
    // an outline that fits (nearly) as well unrotated has no orientation to find: a disk, or a
    // shape whose rotations look alike; keep the simulation's own orientation then
    const atZero = at(0);
    const noise = 0.1 * Math.max(edgeShare(obs), edgeShare(sim));
    if (best.iou - atZero < noise) {
      rotation = 0;
      method = `outline matching: no rotation fits better than none (IoU ${atZero.toFixed(3)} unrotated, ${best.iou.toFixed(3)} at best): orientation undetermined, kept at 0°`;
    } else {
      rotation = wrap180(best.phi);
      method = elongated
        ? `second moments (major axes ${mo.majorAxisDeg.toFixed(1)}° observed, ${ms.majorAxisDeg.toFixed(1)}° simulated), the 180° ambiguity and the angle refined by outline matching (IoU)`
        : 'outline matching (IoU over 360° in 5° steps, refined)';
    }
  }
  const matrix = similarity(ms.centroid_um, mo.centroid_um, rotation, scale);
  const shift_um: [number, number] = [mo.centroid_um[0] - ms.centroid_um[0], mo.centroid_um[1] - ms.centroid_um[1]];
  return {
    matrix, rotationDeg: rotation, scale,
    shift_um,
    shift_px: [shift_um[0] / obs.pixel_um, -shift_um[1] / obs.pixel_um],
    centroidSim_um: ms.centroid_um, centroidObs_um: mo.centroid_um,
    iou: overlap(sim, obs, matrix),
    method,
  };
}
