/**
 * The paper's asymmetry metric (SPEC §2): the distance d between a particle's centre of mass and the
 * centre of mass of its unreacted (Li-rich) region, the pixels of the particle whose differential
 * intensity ΔI/I0 is below a threshold (0.05 in Lun et al. 2025). Used on observed frames and, through
 * the optical forward model, on simulated fields, so that both are measured the same way.
 */

/**
 * Below this unreacted fraction the unreacted region is a remnant of a few pixels (cells) whose centre
 * of mass jumps with noise and pixelation, and even a symmetric particle's last unreacted spot ends
 * off-centre: COM offsets there say nothing about asymmetry (analyze's classification window starts
 * here, and a sweep's maxComOffset leaves those rows out).
 */
import { checkNumber } from '../checks';
import { UserError } from '../errors';
export const REMNANT_FRACTION = 0.2;

export interface UnreactedStats {
  /** particle pixels counted (R_eq is from these) */
  particlePixels: number;
  /** unreacted pixels counted (ΔI/I0 < threshold) */
  unreactedPixels: number;
  /**
   * unreactedPixels / the particle's finite pixels. NaN pixels (dead pixels, a drifted frame's
   * border) are not measured: they are neither unreacted nor reacted, and are left out of both
   * centres of mass, so that a hole in a uniform core moves neither (until 2026-12-04 they counted
   * as reacted, and in the particle's centre of mass).
   */
  unreactedFraction: number;
  /** centre of mass of the particle's finite pixels, µm, image coordinates (x right, y down; pixel centre at (col+0.5)·pixel_um) */
  particleCom_um: [number, number];
  /** unreacted-region centre of mass, µm; null when nothing is unreacted */
  unreactedCom_um: [number, number] | null;
  /** |particleCom − unreactedCom| in µm; null when nothing is unreacted */
  comOffset_um: number | null;
  /** comOffset_um / R_eq, R_eq = √(area/π); null when nothing is unreacted */
  comOffsetRel: number | null;
  /** mean ΔI/I0 over the particle (NaN pixels skipped) */
  meanDiff: number;
}

/**
 * The metrics from the 8 per-particle sums that the label reductions produce (labelReduceCpu and
 * the GPU kernel): [pixelCount, sumDiff, finiteCount, unreactedCount, sumCol, sumRow (both over the
 * finite pixels), sumColUnreacted, sumRowUnreacted]. One definition for every caller.
 */
export function statsFromSums(sums: ArrayLike<number>, pixel_um: number): UnreactedStats {
  const [n, sumDiff, nFinite, nu, sx, sy, ux, uy] = Array.from({ length: 8 }, (_, k) => sums[k]);
  const toUm = (p: number, count: number) => (p / count + 0.5) * pixel_um;
  const particleCom_um: [number, number] = nFinite ? [toUm(sx, nFinite), toUm(sy, nFinite)] : [NaN, NaN];
  const unreactedCom_um: [number, number] | null = nu ? [toUm(ux, nu), toUm(uy, nu)] : null;
  const rEq = Math.sqrt((n * pixel_um * pixel_um) / Math.PI);
  const comOffset_um = unreactedCom_um ? Math.hypot(unreactedCom_um[0] - particleCom_um[0], unreactedCom_um[1] - particleCom_um[1]) : null;
  return {
    particlePixels: n,
    unreactedPixels: nu,
    unreactedFraction: nFinite ? nu / nFinite : 0,
    particleCom_um,
    unreactedCom_um,
    comOffset_um,
    comOffsetRel: comOffset_um === null ? null : comOffset_um / rEq,
    meanDiff: nFinite ? sumDiff / nFinite : NaN,
  };
}

/**
 * @param diff  ΔI/I0 image, row-major [height][width]; NaN pixels are skipped
 * @param mask  particle mask of the same size, nonzero = particle
 * @param width image width in pixels
 * @param pixel_um pixel size in µm
 * @param threshold ΔI/I0 below which a particle pixel counts as unreacted
 */
export function unreactedStats(diff: ArrayLike<number>, mask: ArrayLike<number>, width: number, pixel_um: number, threshold = 0.05): UnreactedStats {
  checkNumber('unreactedStats: width', width, { integer: true, min: 1 });
  if (mask.length !== diff.length || mask.length % width !== 0) throw new UserError(`unreactedStats: diff has ${diff.length} values and mask ${mask.length}: both must be the same image, whole rows of width ${width}`);
  checkNumber('unreactedStats: pixel_um', pixel_um, { above: 0 });
  checkNumber('unreactedStats: threshold', threshold);
  let n = 0, sx = 0, sy = 0, nu = 0, ux = 0, uy = 0, sumDiff = 0, nDiff = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const col = i % width, row = (i - col) / width;
    n++;
    const v = diff[i];
    if (v - v !== 0) continue; // NaN (and ±Inf), as the label reductions
    sumDiff += v; nDiff++; sx += col; sy += row;
    if (v < threshold) { nu++; ux += col; uy += row; }
  }
  return statsFromSums([n, sumDiff, nDiff, nu, sx, sy, ux, uy], pixel_um);
}
