/**
 * Is a segmented particle one particle? Otsu's threshold joins particles that touch into one
 * component, whose centre of mass lies between them and whose "core offset" then means nothing.
 * A single cathode particle is round or at least convex-ish: the distance from its pixels to the
 * background (the Euclidean distance transform) has one maximum, its centre. Two touching particles
 * have two, one in each, joined by a neck where the distance dips. `particleLobes` finds the maxima
 * that stand out (their persistence — peak height minus the level of the neck where they join a higher
 * one — at least max(2 px, ¼ of their height)); pixelated edges and ellipses give ridges whose bumps
 * are a pixel deep, below that.
 */
import type { Particle } from './segment';

/** stands for ∞ inside the shape before the first pass: finite, so that the parabola intersections stay numbers */
const FAR = 1e20;

/**
 * Squared Euclidean distance transform along one line of f (n values, `stride` apart from `offset`), in
 * place: the lower envelope of parabolas (Felzenszwalb & Huttenlocher, Theory of Computing 8, 2012).
 */
function edt1d(f: Float64Array, n: number, stride: number, offset: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    const fq = f[offset + q * stride] + q * q;
    let s = (fq - (f[offset + v[k] * stride] + v[k] * v[k])) / (2 * (q - v[k]));
    while (s <= z[k]) {
      k--;
      s = (fq - (f[offset + v[k] * stride] + v[k] * v[k])) / (2 * (q - v[k]));
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    d[q] = (q - v[k]) * (q - v[k]) + f[offset + v[k] * stride];
  }
  for (let q = 0; q < n; q++) f[offset + q * stride] = d[q];
}

/** Euclidean distance (px) from each pixel of `inside` (w×h, 1 = inside) to the nearest outside pixel; the crop's border counts as outside. */
export function distanceTransform(inside: Uint8Array, w: number, h: number): Float64Array {
  // pad by one outside pixel all round, so that a shape touching the crop's edge has background there
  const W = w + 2, H = h + 2;
  const f = new Float64Array(W * H);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) f[(y + 1) * W + x + 1] = inside[y * w + x] ? FAR : 0;
  const n = Math.max(W, H), d = new Float64Array(n), v = new Int32Array(n), z = new Float64Array(n + 1);
  for (let x = 0; x < W; x++) edt1d(f, H, W, x, d, v, z);
  for (let y = 0; y < H; y++) edt1d(f, W, 1, y * W, d, v, z);
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = Math.sqrt(f[(y + 1) * W + x + 1]);
  return out;
}

export interface Lobes {
  /** the maxima that stand out, highest first: their distance to the background (≈ the lobe's radius, px) */
  radii_px: number[];
  /** the distance at the neck where each lobe after the first joins a higher one (px) */
  necks_px: number[];
}

/** The lobes of one particle of `labels` (its bbox crop): one for a single round or convex-ish particle, two or more for touching ones. */
export function particleLobes(labels: Int32Array, width: number, particle: Pick<Particle, 'label' | 'bbox'>): Lobes {
  const { col0, row0, col1, row1 } = particle.bbox;
  const w = col1 - col0, h = row1 - row0;
  const inside = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) inside[y * w + x] = labels[(row0 + y) * width + col0 + x] === particle.label ? 1 : 0;
  const dist = distanceTransform(inside, w, h);
  // pixels from the highest distance down, joined to their processed 8-neighbours (union-find): where two
  // regions meet, the one with the lower peak dies there — its persistence is its peak minus that level
  // (squared distances are whole numbers: a counting sort, linear in the pixels)
  const d2 = new Int32Array(w * h);
  let maxD2 = 0, count = 0;
  for (let i = 0; i < w * h; i++) if (inside[i]) { d2[i] = Math.round(dist[i] * dist[i]); maxD2 = Math.max(maxD2, d2[i]); count++; }
  const start = new Int32Array(maxD2 + 2);
  for (let i = 0; i < w * h; i++) if (inside[i]) start[maxD2 - d2[i] + 1]++;
  for (let k = 1; k < start.length; k++) start[k] += start[k - 1];
  const order = new Int32Array(count);
  for (let i = 0; i < w * h; i++) if (inside[i]) order[start[maxD2 - d2[i]]++] = i;
  const parent = new Int32Array(w * h).fill(-1), peak = new Float64Array(w * h);
  const find = (i: number): number => { while (parent[i] !== i) { parent[i] = parent[parent[i]]; i = parent[i]; } return i; };
  const died: { peak: number; level: number }[] = [];
  for (const i of order) {
    parent[i] = i;
    peak[i] = dist[i];
    const x = i % w, y = (i - x) / w;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      if (!dx && !dy) continue;
      const xx = x + dx, yy = y + dy;
      if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
      const j = yy * w + xx;
      if (parent[j] < 0) continue;
      const a = find(i), b = find(j);
      if (a === b) continue;
      const hi = peak[a] >= peak[b] ? a : b, lo = hi === a ? b : a;
      // (most joins are of the new pixel itself, persistence 0: only those that may stand out are kept)
      if (peak[lo] - dist[i] >= 2) died.push({ peak: peak[lo], level: dist[i] });
      parent[lo] = hi;
    }
  }
  const top = order.length ? dist[order[0]] : 0;
  const stand = died.filter((d) => d.peak - d.level >= Math.max(2, d.peak / 4)).sort((a, b) => b.peak - a.peak);
  return { radii_px: [top, ...stand.map((d) => d.peak)], necks_px: stand.map((d) => d.level) };
}
