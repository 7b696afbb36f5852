/**
 * Colour maps for field pictures.
 * - diverging: white at a chosen centre value, red above it and blue below (ColorBrewer RdBu, with
 *   the middle made pure white), each side scaled on its own so the centre stays white for an
 *   asymmetric range. Red = Li removed / intensity up, as in Lun et al. 2025.
 * - sequential: viridis (matplotlib), sampled at 9 points and interpolated; lightness rises monotonically.
 */

export type ColormapName = 'diverging' | 'sequential';

export type Rgb = [number, number, number];

/** Colour of NaN pixels (outside the particle / no data): a light grey, distinct from the page white. */
export const NAN_RGB: Readonly<Rgb> = [224, 224, 224];

const hex = (s: string): Rgb => [parseInt(s.slice(1, 3), 16), parseInt(s.slice(3, 5), 16), parseInt(s.slice(5, 7), 16)];

// ColorBrewer RdBu, from the centre outwards (centre #f7f7f7 replaced by pure white)
const RED_SIDE = ['#ffffff', '#fddbc7', '#f4a582', '#d6604d', '#b2182b', '#67001f'].map(hex);
const BLUE_SIDE = ['#ffffff', '#d1e5f0', '#92c5de', '#4393c3', '#2166ac', '#053061'].map(hex);
// matplotlib viridis at 0, 1/8, …, 1
const VIRIDIS = ['#440154', '#472d7b', '#3b528b', '#2c728e', '#21918c', '#28ae80', '#5ec962', '#addc30', '#fde725'].map(hex);

/** Linear interpolation in a table of evenly spaced stops; t is clamped to [0, 1]. */
function sample(table: Rgb[], t: number): Rgb {
  const x = Math.min(1, Math.max(0, t)) * (table.length - 1);
  const i = Math.min(table.length - 2, Math.floor(x));
  const f = x - i;
  const a = table[i];
  const b = table[i + 1];
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

/**
 * RGB (0..255) for value v.
 * diverging: white at `center` (default (vmin+vmax)/2), red towards vmax, blue towards vmin,
 * saturating at and beyond vmin/vmax; `reversed` swaps red and blue.
 * sequential: viridis from vmin (dark purple) to vmax (yellow); `reversed` runs it the other way;
 * `center` is ignored. NaN gives NAN_RGB; ±Infinity saturates.
 */
export function colorOf(
  v: number,
  opts: { colormap: ColormapName; vmin: number; vmax: number; center?: number; reversed?: boolean },
): [number, number, number] {
  if (Number.isNaN(v)) return [NAN_RGB[0], NAN_RGB[1], NAN_RGB[2]];
  const { vmin, vmax, reversed = false } = opts;
  if (opts.colormap === 'sequential') {
    let t = vmax > vmin ? (v - vmin) / (vmax - vmin) : v > vmin ? 1 : v < vmin ? 0 : 0.5;
    if (reversed) t = 1 - t;
    return sample(VIRIDIS, t);
  }
  if (opts.colormap !== 'diverging') {
    throw new Error(`colormap must be 'diverging' or 'sequential' (got '${String(opts.colormap)}')`);
  }
  const center = opts.center ?? (vmin + vmax) / 2;
  if (v === center) return [255, 255, 255];
  const above = v > center;
  // distance from the centre as a fraction of that side's span; an empty side saturates at once
  const span = above ? vmax - center : center - vmin;
  const t = span > 0 ? Math.abs(v - center) / span : 1;
  return sample(above !== reversed ? RED_SIDE : BLUE_SIDE, t);
}
