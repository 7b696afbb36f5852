/**
 * Line-cut kymographs (the paper's Fig. 5c): ΔI/I0 sampled along a straight line through a particle's
 * centroid, one row per frame, plotted against time or charge passed.
 *
 * Angles follow SPEC §3: degrees counter-clockwise from +x (image right) with y pointing up, so in image
 * coordinates (y down) a line at angle θ runs along (cos θ, −sin θ). 0° is the paper's horizontal
 * line; positions along the line are measured from its start, on the side at angle θ + 180°, towards
 * angle θ, in µm (0°: from left to right).
 */
import type { Particle } from './segment';

export interface LineCut {
  angleDeg: number;
  /** start and end points, pixel coordinates (x = col + 0.5 at a pixel centre, y likewise) */
  start_px: [number, number];
  end_px: [number, number];
  /** number of samples, one per pixel of length */
  samples: number;
  /** sample spacing in pixels (≤ 1) */
  step_px: number;
}

/**
 * The line through the particle's centroid at `angleDeg`, long enough to cross the whole particle plus
 * `margin_px` on each side, clipped to the frame, sampled about once per pixel.
 */
export function lineThroughParticle(particle: Particle, labels: Int32Array, width: number, height: number, angleDeg: number, margin_px = 3): LineCut {
  const t = (angleDeg * Math.PI) / 180;
  const ux = Math.cos(t), uy = -Math.sin(t);
  const [cx, cy] = particle.centroid_px;
  // extent of the particle along the line: projections of its pixels lying within half a pixel of it
  let sMin = 0, sMax = 0;
  const { col0, row0, col1, row1 } = particle.bbox;
  for (let r = row0; r < row1; r++) {
    for (let c = col0; c < col1; c++) {
      if (labels[r * width + c] !== particle.label) continue;
      const px = c + 0.5 - cx, py = r + 0.5 - cy;
      const along = px * ux + py * uy;
      const across = -px * uy + py * ux;
      if (Math.abs(across) > 0.75) continue;
      if (along < sMin) sMin = along;
      if (along > sMax) sMax = along;
    }
  }
  sMin -= 0.5 + margin_px;
  sMax += 0.5 + margin_px;
  // clip to the frame (pixel-centre coordinates run from 0.5 to width − 0.5)
  const clip = (s: number, dir: 1 | -1) => {
    let lo = 0, hi = Math.abs(s);
    const inside = (d: number) => {
      const x = cx + dir * d * ux, y = cy + dir * d * uy;
      return x >= 0.5 && x <= width - 0.5 && y >= 0.5 && y <= height - 0.5;
    };
    if (inside(hi)) return s;
    for (let k = 0; k < 40; k++) { const mid = (lo + hi) / 2; if (inside(mid)) lo = mid; else hi = mid; }
    return dir * lo;
  };
  sMin = clip(sMin, -1);
  sMax = clip(sMax, 1);
  const length = sMax - sMin;
  const samples = Math.max(2, Math.ceil(length) + 1);
  return {
    angleDeg,
    start_px: [cx + sMin * ux, cy + sMin * uy],
    end_px: [cx + sMax * ux, cy + sMax * uy],
    samples,
    step_px: length / (samples - 1),
  };
}

/**
 * Bilinear samples of `field` (row-major, pixel centres at (col + 0.5, row + 0.5)) along `line`.
 * A sample with a NaN neighbour is NaN.
 */
export function sampleLine(field: ArrayLike<number>, width: number, height: number, line: LineCut, out = new Float32Array(line.samples)): Float32Array {
  const [x0, y0] = line.start_px, [x1, y1] = line.end_px;
  for (let k = 0; k < line.samples; k++) {
    const f = line.samples > 1 ? k / (line.samples - 1) : 0;
    const x = x0 + f * (x1 - x0) - 0.5, y = y0 + f * (y1 - y0) - 0.5;
    const c = Math.max(0, Math.min(width - 1, Math.floor(x))), r = Math.max(0, Math.min(height - 1, Math.floor(y)));
    const c1 = Math.min(width - 1, c + 1), r1 = Math.min(height - 1, r + 1);
    const fx = Math.max(0, Math.min(1, x - c)), fy = Math.max(0, Math.min(1, y - r));
    const v00 = field[r * width + c], v10 = field[r * width + c1], v01 = field[r1 * width + c], v11 = field[r1 * width + c1];
    out[k] = (1 - fy) * ((1 - fx) * v00 + fx * v10) + fy * ((1 - fx) * v01 + fx * v11);
  }
  return out;
}

/** positions of the samples along the line, µm from its start */
export function linePositions_um(line: LineCut, pixel_um: number): Float64Array {
  const p = new Float64Array(line.samples);
  for (let k = 0; k < line.samples; k++) p[k] = k * line.step_px * pixel_um;
  return p;
}

/**
 * Direction of the largest asymmetry: the angle (SPEC convention, degrees) of the vector from the
 * particle's centre of mass to its unreacted region's centre of mass at the frame where d/R_eq is
 * largest among `frames` (indices); 0° (horizontal, as in the paper) when there is no offset.
 */
export function offsetDirectionDeg(
  particleCom_px: [number, number],
  unreactedCom_px: ([number, number] | null)[],
  comOffsetRel: (number | null)[],
  frames: number[],
): number {
  let best = -1, bestFrame = -1;
  for (const f of frames) {
    const v = comOffsetRel[f];
    if (v !== null && Number.isFinite(v) && v > best && unreactedCom_px[f]) { best = v; bestFrame = f; }
  }
  if (bestFrame < 0 || best <= 0) return 0;
  const [ux, uy] = unreactedCom_px[bestFrame]!;
  const dx = ux - particleCom_px[0], dy = uy - particleCom_px[1];
  if (Math.hypot(dx, dy) < 1e-9) return 0;
  const deg = (Math.atan2(-dy, dx) * 180) / Math.PI; // y down in the image, up in the SPEC angle
  return Math.round(((deg % 360) + 360) % 360 * 10) / 10;
}

/**
 * Resamples kymograph rows (one per frame, values `rows[f]`) onto a uniform grid of `axis` values
 * (time or charge passed), nearest frame, so an image's vertical axis is linear in that quantity.
 * Needs `axis` non-decreasing over the frames used; returns null otherwise.
 */
export function resampleRows(rows: Float32Array[], axis: number[], nOut: number): { rows: Float32Array[]; min: number; max: number } | null {
  const idx: number[] = [];
  for (let f = 0; f < axis.length; f++) if (Number.isFinite(axis[f])) idx.push(f);
  if (idx.length < 2) return null;
  for (let k = 1; k < idx.length; k++) if (axis[idx[k]] < axis[idx[k - 1]]) return null;
  const min = axis[idx[0]], max = axis[idx[idx.length - 1]];
  if (!(max > min)) return null;
  const out: Float32Array[] = [];
  let j = 0;
  for (let k = 0; k < nOut; k++) {
    const a = min + ((max - min) * k) / (nOut - 1);
    while (j + 1 < idx.length && Math.abs(axis[idx[j + 1]] - a) <= Math.abs(axis[idx[j]] - a)) j++;
    out.push(rows[idx[j]]);
  }
  return { rows: out, min, max };
}
