/**
 * Finding particles in the reference frame: Otsu threshold, connected components, hole filling,
 * particle table. Conventions follow scikit-image so that results can be checked against it
 * (test/fixtures/skimage_segment.json): foreground is `image > threshold`, components are 8-connected
 * by default (skimage.measure.label's default for 2D, connectivity=2), labels are numbered in raster
 * order of each component's first pixel, particles touching the border are dropped as
 * skimage.segmentation.clear_border does.
 *
 * Coordinates are ImageJ's (SPEC §6): x = column to the right, y = row downward, pixel (row, col) has its
 * centre at ((col + 0.5)·pixel_um, (row + 0.5)·pixel_um). scikit-image reports centroids as mean
 * (row, col) indices, i.e. without the + 0.5.
 */

import { checkNumber, checkPixels, checkSize } from '../checks';
export type Connectivity = 4 | 8;

export interface OtsuOptions {
  /** bins for non-integer images (skimage default 256); integer images get one bin per value */
  nbins?: number;
  /**
   * histogram rule: 'auto' (default) = one bin per integer value for integer typed arrays
   * (Uint8Array, Uint16Array, Int…Array), as skimage does for integer dtypes; `nbins` equal bins
   * over [min, max] otherwise (np.histogram)
   */
  histogram?: 'auto' | 'integer' | 'bins';
  /** only pixels where mask is nonzero are counted */
  mask?: ArrayLike<number>;
}

const INTEGER_ARRAYS = [Uint8Array, Uint8ClampedArray, Uint16Array, Uint32Array, Int8Array, Int16Array, Int32Array];

/**
 * Otsu's threshold, defined exactly as skimage.filters.threshold_otsu (0.19–0.25): the histogram is
 * one bin per integer value for integer images and `nbins` equal bins over [min, max] for float
 * images; the threshold is the centre of the bin that maximises the between-class variance
 * w1·w2·(μ1 − μ2)², with the bin itself in the lower class (so foreground = image > threshold).
 * A constant image returns its value. NaN pixels are ignored.
 */
export function otsuThreshold(image: ArrayLike<number>, options: OtsuOptions = {}): number {
  const nbins = options.nbins ?? 256;
  const mask = options.mask;
  let min = Infinity, max = -Infinity, n = 0;
  for (let i = 0; i < image.length; i++) {
    if (mask && !mask[i]) continue;
    const v = image[i];
    if (Number.isNaN(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    n++;
  }
  if (n === 0) return NaN;
  if (min === max) return min;
  const integer = options.histogram === 'integer' ||
    ((options.histogram ?? 'auto') === 'auto' && INTEGER_ARRAYS.some((T) => image instanceof T));
  let counts: Float64Array, centres: Float64Array;
  if (integer) {
    const lo = Math.floor(min), hi = Math.floor(max);
    const size = hi - lo + 1;
    if (size > 1 << 24) throw new Error(`otsuThreshold: integer range ${lo}…${hi} too wide for one bin per value; use histogram 'bins'`);
    counts = new Float64Array(size);
    centres = new Float64Array(size);
    for (let k = 0; k < size; k++) centres[k] = lo + k;
    for (let i = 0; i < image.length; i++) {
      if (mask && !mask[i]) continue;
      const v = image[i];
      if (!Number.isNaN(v)) counts[Math.floor(v) - lo]++;
    }
  } else {
    // np.histogram(image, bins=nbins, range=(min, max)): equal bins, the last one closed.
    counts = new Float64Array(nbins);
    centres = new Float64Array(nbins);
    const step = (max - min) / nbins;
    const edge = (k: number) => (k === nbins ? max : min + k * step);
    for (let k = 0; k < nbins; k++) centres[k] = (edge(k) + edge(k + 1)) / 2;
    const scale = nbins / (max - min);
    for (let i = 0; i < image.length; i++) {
      if (mask && !mask[i]) continue;
      const v = image[i];
      if (Number.isNaN(v)) continue;
      let k = Math.floor((v - min) * scale);
      if (k >= nbins) k = nbins - 1;
      // the same correction numpy applies where rounding put a value on the wrong side of an edge
      if (k > 0 && v < edge(k)) k--;
      else if (k < nbins - 1 && v >= edge(k + 1)) k++;
      counts[k]++;
    }
  }
  const m = counts.length;
  let total = 0, totalMoment = 0;
  for (let k = 0; k < m; k++) { total += counts[k]; totalMoment += counts[k] * centres[k]; }
  let w1 = 0, m1 = 0, best = -1, bestK = 0;
  for (let k = 0; k < m - 1; k++) {
    w1 += counts[k];
    m1 += counts[k] * centres[k];
    const w2 = total - w1;
    if (w1 === 0 || w2 === 0) continue;
    const mu1 = m1 / w1, mu2 = (totalMoment - m1) / w2;
    const v = w1 * w2 * (mu1 - mu2) * (mu1 - mu2);
    if (v > best) { best = v; bestK = k; }
  }
  return centres[bestK];
}

/**
 * Connected components of the nonzero pixels of `mask` (row-major, width × height).
 * Returns labels 1…count in raster order of each component's first pixel, 0 for background.
 */
export function labelComponents(mask: ArrayLike<number>, width: number, height: number, connectivity: Connectivity = 8): { labels: Int32Array; count: number } {
  const n = width * height;
  const provisional = new Int32Array(n);
  const parent: number[] = [0];
  const find = (a: number) => {
    while (parent[a] !== a) { parent[a] = parent[parent[a]]; a = parent[a]; }
    return a;
  };
  const union = (a: number, b: number) => {
    const ra = find(a), rb = find(b);
    if (ra === rb) return ra;
    // keep the smaller (earlier) root so that final numbering follows first pixels
    if (ra < rb) { parent[rb] = ra; return ra; }
    parent[ra] = rb;
    return rb;
  };
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const i = row * width + col;
      if (!mask[i]) continue;
      let lab = 0;
      const consider = (j: number) => {
        const l = provisional[j];
        if (!l) return;
        lab = lab ? union(lab, l) : find(l);
      };
      if (col > 0) consider(i - 1);
      if (row > 0) {
        consider(i - width);
        if (connectivity === 8) {
          if (col > 0) consider(i - width - 1);
          if (col < width - 1) consider(i - width + 1);
        }
      }
      if (!lab) { lab = parent.length; parent.push(lab); }
      provisional[i] = lab;
    }
  }
  const final = new Int32Array(parent.length);
  let count = 0;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const p = provisional[i];
    if (!p) continue;
    const r = find(p);
    if (!final[r]) final[r] = ++count;
    labels[i] = final[r];
  }
  return { labels, count };
}

/**
 * Fills holes: background regions (4-connected, the complement of 8-connected foreground) that do not
 * reach the image border and touch exactly one label take that label. Modifies `labels` in place.
 */
export function fillHoles(labels: Int32Array, width: number, height: number): number {
  const bg = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) bg[i] = labels[i] === 0 ? 1 : 0;
  const holes = labelComponents(bg, width, height, 4);
  const neighbour = new Int32Array(holes.count + 1); // 0 none yet, −1 several or border
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const i = row * width + col;
      const h = holes.labels[i];
      if (!h || neighbour[h] === -1) continue;
      if (row === 0 || col === 0 || row === height - 1 || col === width - 1) { neighbour[h] = -1; continue; }
      for (const j of [i - 1, i + 1, i - width, i + width]) {
        const l = labels[j];
        if (!l) continue;
        if (neighbour[h] === 0) neighbour[h] = l;
        else if (neighbour[h] !== l) { neighbour[h] = -1; break; }
      }
    }
  }
  let filled = 0;
  for (let i = 0; i < labels.length; i++) {
    const h = holes.labels[i];
    if (h && neighbour[h] > 0) { labels[i] = neighbour[h]; filled++; }
  }
  return filled;
}

export interface Particle {
  /** the particle's id in the outputs (1…n for segmentation; the mask's own value for a label mask) */
  id: number;
  /** its label 1…n in the label image handed to the frame processor */
  label: number;
  area_px: number;
  area_um2: number;
  /** R_eq = √(area/π), µm */
  eqRadius_um: number;
  /** centre of mass of the mask, µm, ImageJ coordinates (pixel centre at (col + 0.5)·pixel_um) */
  centroid_um: [number, number];
  /** the same in pixel units (col + 0.5, row + 0.5 averaged) */
  centroid_px: [number, number];
  /** bounding box, pixel indices, end exclusive */
  bbox: { col0: number; row0: number; col1: number; row1: number };
  touchesBorder: boolean;
}

/**
 * One row per label 1…count: area, equivalent radius, centroid, bounding box. `ids[label]` gives
 * the output id (default: the label).
 */
export function particleTable(labels: Int32Array, width: number, height: number, count: number, pixel_um: number, ids?: ArrayLike<number>): Particle[] {
  const area = new Float64Array(count + 1), sx = new Float64Array(count + 1), sy = new Float64Array(count + 1);
  const c0 = new Int32Array(count + 1).fill(width), r0 = new Int32Array(count + 1).fill(height);
  const c1 = new Int32Array(count + 1), r1 = new Int32Array(count + 1);
  const border = new Uint8Array(count + 1);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const l = labels[row * width + col];
      if (!l) continue;
      area[l]++; sx[l] += col; sy[l] += row;
      if (col < c0[l]) c0[l] = col;
      if (row < r0[l]) r0[l] = row;
      if (col + 1 > c1[l]) c1[l] = col + 1;
      if (row + 1 > r1[l]) r1[l] = row + 1;
      if (row === 0 || col === 0 || row === height - 1 || col === width - 1) border[l] = 1;
    }
  }
  const out: Particle[] = [];
  for (let l = 1; l <= count; l++) {
    if (!area[l]) continue;
    const cx = sx[l] / area[l] + 0.5, cy = sy[l] / area[l] + 0.5;
    const a = area[l] * pixel_um * pixel_um;
    out.push({
      id: ids ? ids[l] : l,
      label: l,
      area_px: area[l],
      area_um2: a,
      eqRadius_um: Math.sqrt(a / Math.PI),
      centroid_um: [cx * pixel_um, cy * pixel_um],
      centroid_px: [cx, cy],
      bbox: { col0: c0[l], row0: r0[l], col1: c1[l], row1: r1[l] },
      touchesBorder: border[l] === 1,
    });
  }
  return out;
}

/** Separable Gaussian blur (σ in pixels, reflect at the edges); NaN-free input expected. */
export function gaussianBlur(image: ArrayLike<number>, width: number, height: number, sigma_px: number): Float32Array {
  const out = Float32Array.from(image);
  if (!(sigma_px > 0)) return out;
  const r = Math.max(1, Math.ceil(3 * sigma_px));
  const k = new Float64Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) { k[i + r] = Math.exp(-(i * i) / (2 * sigma_px * sigma_px)); s += k[i + r]; }
  for (let i = 0; i < k.length; i++) k[i] /= s;
  const reflect = (i: number, n: number) => {
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return i;
  };
  const tmp = new Float32Array(out.length);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      let acc = 0;
      for (let d = -r; d <= r; d++) acc += k[d + r] * out[row * width + reflect(col + d, width)];
      tmp[row * width + col] = acc;
    }
  }
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      let acc = 0;
      for (let d = -r; d <= r; d++) acc += k[d + r] * tmp[reflect(row + d, height) * width + col];
      out[row * width + col] = acc;
    }
  }
  return out;
}

export interface SegmentOptions {
  pixel_um: number;
  /** components smaller than this many pixels are dropped (noise specks); default 25 */
  minArea_px?: number;
  /** default 8 (skimage's default for 2D) */
  connectivity?: Connectivity;
  /** drop particles touching the image border (their area and centre are unknown); default true */
  dropBorder?: boolean;
  /** fill enclosed holes (dark spots inside a particle); default true */
  fillHoles?: boolean;
  /** Gaussian σ in pixels applied before thresholding (noisy references); default 0 */
  sigma_px?: number;
  /** a fixed threshold instead of Otsu's */
  threshold?: number;
  /** Otsu histogram bins for float images (default 256, as skimage) */
  nbins?: number;
}

export interface Segmentation {
  /** label image, 0 = background, 1…particles.length */
  labels: Int32Array;
  particles: Particle[];
  /** the intensity threshold used (foreground = reference > threshold) */
  threshold: number;
  method: 'otsu' | 'fixed' | 'mask';
  /** components dropped, and why (hot: a hot or saturated pixel's blur, see hotComponents) */
  dropped: { small: number; border: number; hot?: number };
  /** pixels above Otsu's first threshold left out of it (hot or saturated pixels Otsu split from the rest); 0 or absent: none */
  outliers?: number;
}

/** Keeps the labels for which keep(label) holds and renumbers them 1…n in order. */
function relabel(labels: Int32Array, count: number, keep: (l: number) => boolean): { labels: Int32Array; count: number; map: Int32Array } {
  const map = new Int32Array(count + 1);
  let n = 0;
  for (let l = 1; l <= count; l++) if (keep(l)) map[l] = ++n;
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = map[labels[i]];
  return { labels: out, count: n, map };
}

/**
 * Segments particles in a reference frame: (optional blur) → Otsu threshold → foreground = value >
 * threshold → connected components → hole filling → drop small and border-touching components.
 */
export function segmentParticles(reference: ArrayLike<number>, width: number, height: number, options: SegmentOptions): Segmentation {
  checkSize(width, height, 'segmentParticles: image');
  checkPixels('segmentParticles: reference', reference.length, width, height);
  checkNumber('segmentParticles: pixel_um', options?.pixel_um, { above: 0 });
  if (options.sigma_px !== undefined) checkNumber('segmentParticles: sigma_px', options.sigma_px, { min: 0 });
  if (options.minArea_px !== undefined) checkNumber('segmentParticles: minArea_px', options.minArea_px, { integer: true, min: 1 });
  const sigma = options.sigma_px ?? 0;
  const image = sigma > 0 ? gaussianBlur(reference, width, height, sigma) : reference;
  const minArea = options.minArea_px ?? 25;
  const dropBorder = options.dropBorder ?? true;
  const components = (threshold: number) => {
    const fg = new Uint8Array(width * height);
    for (let i = 0; i < fg.length; i++) fg[i] = image[i] > threshold ? 1 : 0;
    const cc = labelComponents(fg, width, height, options.connectivity ?? 8);
    if (options.fillHoles ?? true) fillHoles(cc.labels, width, height);
    const table = particleTable(cc.labels, width, height, cc.count, options.pixel_um);
    return { cc, table, hot: hotComponents(reference, cc.labels, cc.count, table, sigma, minArea) };
  };
  const isParticle = (p: Particle, hot: Uint8Array) => !(dropBorder && p.touchesBorder) && p.area_px >= minArea && !hot[p.label];
  let threshold = options.threshold ?? otsuThreshold(image, { nbins: options.nbins });
  let { cc, table, hot } = components(threshold);
  // Otsu splits a few hot or saturated pixels from everything else when they are far enough above
  // it (30 pixels at 65535 among particles at ~1000 do): no component above the threshold is then a
  // particle (specks, their blur). If they are few (under 5 % of the frame) and far above the rest
  // (twice the brightest of the others, or Otsu's threshold of the others under half of this one),
  // the threshold is that of the others instead, up to three times.
  let outliers = 0;
  for (let round = 0; options.threshold === undefined && round < 3 && cc.count > 0 && !table.some((p) => isParticle(p, hot)); round++) {
    const below = new Uint8Array(width * height);
    let n = 0;
    let maxBelow = -Infinity, minAbove = Infinity;
    for (let i = 0; i < below.length; i++) {
      const v = image[i];
      if (v <= threshold) { below[i] = 1; if (v > maxBelow) maxBelow = v; } else if (!Number.isNaN(v)) { n++; if (v < minAbove) minAbove = v; }
    }
    const t = otsuThreshold(image, { nbins: options.nbins, mask: below });
    // not a few outliers far above the rest — far above every other pixel (hot pixels), or Otsu's
    // threshold of the rest under half of this one (their blur) — but specks of noise: stop
    if (n > 0.05 * below.length || !(t < threshold) || !(minAbove > 2 * maxBelow || t < 0.5 * threshold)) break;
    outliers = n; // every pixel above the first threshold (each round's count holds the earlier rounds')
    threshold = t;
    ({ cc, table, hot } = components(threshold));
  }
  const keep = new Uint8Array(cc.count + 1);
  const dropped: Segmentation['dropped'] = { small: 0, border: 0 };
  let hotDropped = 0;
  for (const p of table) {
    if (dropBorder && p.touchesBorder) dropped.border++;
    else if (p.area_px < minArea) dropped.small++;
    else if (hot[p.label]) hotDropped++;
    else keep[p.label] = 1;
  }
  if (hotDropped) dropped.hot = hotDropped;
  const r = relabel(cc.labels, cc.count, (l) => keep[l] === 1);
  return {
    labels: r.labels,
    particles: particleTable(r.labels, width, height, r.count, options.pixel_um),
    threshold,
    method: options.threshold === undefined ? 'otsu' : 'fixed',
    dropped,
    ...(outliers ? { outliers } : {}),
  };
}

/**
 * Components that are a hot or saturated pixel's blur rather than a particle (a blurred reference,
 * --seg-sigma-px σ, spreads one 65535 pixel over ~π(3σ + 1)² pixels): their saturated pixels alone
 * would be a speck (fewer than --min-area-px), the component is no larger than their blur, and more
 * than half of its intensity above the image's median is in them (pixels at the sample type's
 * largest value). Only integer references have one (255, 65535), and
 * only a blurred one makes such blurs (unblurred, a hot pixel is a speck under --min-area-px); an
 * overexposed particle is far larger than its saturated pixels' blur.
 */
function hotComponents(reference: ArrayLike<number>, labels: Int32Array, count: number, table: Particle[], sigma: number, minArea: number): Uint8Array {
  const hot = new Uint8Array(count + 1);
  const top = reference instanceof Uint8Array ? 255 : reference instanceof Uint16Array ? 65535 : null;
  if (top === null || count === 0 || !(sigma > 0)) return hot;
  let saturated = 0;
  for (let i = 0; i < reference.length; i++) if (reference[i] === top) saturated++;
  if (saturated === 0) return hot;
  const sample = Array.from({ length: Math.min(reference.length, 4096) }, (_, k) => reference[Math.floor((k * reference.length) / Math.min(reference.length, 4096))]).sort((a, b) => a - b);
  const median = sample[sample.length >> 1];
  const total = new Float64Array(count + 1), atTop = new Float64Array(count + 1), nTop = new Float64Array(count + 1);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!l) continue;
    const v = Math.max(0, reference[i] - median);
    total[l] += v;
    if (reference[i] === top) { atTop[l] += v; nTop[l]++; }
  }
  const blur = Math.PI * (3 * sigma + 1) ** 2;
  for (const p of table) {
    const n = nTop[p.label];
    if (n > 0 && n < minArea && p.area_px <= blur * n && atTop[p.label] > 0.5 * total[p.label]) hot[p.label] = 1;
  }
  return hot;
}

/**
 * Particles from a user mask. A binary mask — its only nonzero value is 1, 255 or 65535 — is split into
 * connected components (ids 1…n); otherwise it is a label image and each distinct nonzero value is one
 * particle whose id is that value (a label image holding a single particle labelled 7 gives id 7).
 * Border particles are kept: the user chose them.
 */
export function segmentFromMask(mask: ArrayLike<number>, width: number, height: number, options: { pixel_um: number; connectivity?: Connectivity }): Segmentation {
  const values = new Set<number>();
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i];
    if (v && !Number.isNaN(v)) { values.add(v); if (values.size > 65536) break; }
  }
  const only = values.size === 1 ? [...values][0] : NaN;
  if (values.size === 0 || only === 1 || only === 255 || only === 65535) {
    const fg = new Uint8Array(width * height);
    for (let i = 0; i < fg.length; i++) fg[i] = mask[i] && !Number.isNaN(mask[i]) ? 1 : 0;
    const cc = labelComponents(fg, width, height, options.connectivity ?? 8);
    return { labels: cc.labels, particles: particleTable(cc.labels, width, height, cc.count, options.pixel_um), threshold: NaN, method: 'mask', dropped: { small: 0, border: 0 } };
  }
  const sorted = [...values].sort((a, b) => a - b);
  const index = new Map(sorted.map((v, k) => [v, k + 1]));
  const labels = new Int32Array(width * height);
  for (let i = 0; i < labels.length; i++) {
    const v = mask[i];
    labels[i] = v && !Number.isNaN(v) ? index.get(v)! : 0;
  }
  const ids = [0, ...sorted];
  return { labels, particles: particleTable(labels, width, height, sorted.length, options.pixel_um, ids), threshold: NaN, method: 'mask', dropped: { small: 0, border: 0 } };
}
