/**
 * Touching particles taken as one component (src/imaging/shape.ts): the distance transform against
 * brute force, and the lobes of known shapes — one for round and convex-ish particles, two for pairs.
 */
import { describe, expect, it } from 'vitest';
import { distanceTransform, particleLobes } from '../../src/imaging/shape';
import { rng } from '../helpers/random';

/** the lobes of the shape `inside(x, y)` (pixel centres at +0.5) drawn on a W×H image */
function lobesOf(inside: (x: number, y: number) => boolean, W: number, H: number) {
  const labels = new Int32Array(W * H);
  let col0 = W, row0 = H, col1 = 0, row1 = 0;
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) if (inside(c + 0.5, r + 0.5)) {
    labels[r * W + c] = 1;
    col0 = Math.min(col0, c); row0 = Math.min(row0, r); col1 = Math.max(col1, c + 1); row1 = Math.max(row1, r + 1);
  }
  return particleLobes(labels, W, { label: 1, bbox: { col0, row0, col1, row1 } });
}

describe('distanceTransform', () => {
  it('equals the brute-force distance to the nearest outside pixel (the crop edge outside), random shapes', () => {
    const r = rng(5);
    for (const [w, h, p] of [[23, 17, 0.8], [40, 9, 0.95], [1, 12, 1], [15, 15, 0.5]] as const) {
      const inside = Uint8Array.from({ length: w * h }, () => (r() < p ? 1 : 0));
      const d = distanceTransform(inside, w, h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        let best = inside[y * w + x] ? Infinity : 0;
        if (best) for (let yy = -1; yy <= h; yy++) for (let xx = -1; xx <= w; xx++) {
          if (xx < 0 || yy < 0 || xx >= w || yy >= h || !inside[yy * w + xx]) best = Math.min(best, Math.hypot(xx - x, yy - y));
        }
        expect(d[y * w + x], `${w}×${h} (${x}, ${y})`).toBeCloseTo(best, 12);
      }
    }
  });
});

describe('particleLobes', () => {
  for (const R of [8, 16, 30]) {
    const W = 6 * R + 10, H = 4 * R + 10, cx = W / 2, cy = H / 2;
    it(`one lobe: a disk, ellipses (3:1, 2:1 at 45°), a square, a bumpy outline (±15 %) — R ${R} px`, () => {
      const one = [
        (x: number, y: number) => Math.hypot(x - cx, y - cy) <= R,
        (x: number, y: number) => ((x - cx) / (1.5 * R)) ** 2 + ((y - cy) / (R / 2)) ** 2 <= 1,
        (x: number, y: number) => { const u = (x - cx + y - cy) / Math.SQRT2, v = (x - cx - (y - cy)) / Math.SQRT2; return (u / R) ** 2 + (v / (R / 2)) ** 2 <= 1; },
        (x: number, y: number) => Math.abs(x - cx) <= R && Math.abs(y - cy) <= R,
        (x: number, y: number) => Math.hypot(x - cx, y - cy) <= R * (1 + 0.15 * Math.sin(5 * Math.atan2(y - cy, x - cx))),
      ];
      one.forEach((f, k) => expect(lobesOf(f, W, H).radii_px, `shape ${k}`).toHaveLength(1));
      expect(Math.abs(lobesOf(one[0], W, H).radii_px[0] - R)).toBeLessThan(1); // the disk's radius
    });
    it(`two lobes: touching disks; from R 16 px also a disk with a half-size one beside it, and disks overlapping by a quarter — R ${R} px`, () => {
      const tangent = lobesOf((x, y) => Math.hypot(x - (cx - R), y - cy) <= R || Math.hypot(x - (cx + R), y - cy) <= R, W, H);
      expect(tangent.radii_px).toHaveLength(2);
      expect(tangent.necks_px[0]).toBeLessThan(0.25 * R + 2); // the pixels where they touch
      // (smaller lobes, and pairs merged further, stand out less than the pixelated edge's bumps)
      if (R < 16) return;
      const beside = lobesOf((x, y) => Math.hypot(x - (cx - R / 2), y - cy) <= R || Math.hypot(x - (cx + R), y - cy) <= R / 2, W, H);
      expect(beside.radii_px).toHaveLength(2);
      expect(Math.abs(beside.radii_px[1] - R / 2)).toBeLessThan(1);
      expect(lobesOf((x, y) => Math.hypot(x - (cx - 0.75 * R), y - cy) <= R || Math.hypot(x - (cx + 0.75 * R), y - cy) <= R, W, H).radii_px).toHaveLength(2);
    });
  }
});
