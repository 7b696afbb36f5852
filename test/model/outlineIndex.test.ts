/**
 * The fast geometry of grid and camera set-up gives exactly the answers of the brute-force routines
 * it replaced (every edge tried, every pixel tested against the polygon): same points, same edges,
 * same mask, bit for bit — so the wall weights, and with them every simulation, are unchanged.
 */
import { describe, expect, it } from 'vitest';
import { diskOutline, ellipseOutline, firstCrossing, insidePolygon, nearestOnOutline, OutlineIndex, polygonOutline, type Vec2 } from '../../src/model/geometry';
import { buildGrid } from '../../src/model/grid';
import { createCamera } from '../../src/optics/forward';
import { rng } from '../helpers/random';

const outlines = {
  disk: diskOutline(2.4),
  ellipse: ellipseOutline([2.4, 1.3], 30),
  polygon: polygonOutline([[0, 0], [2, 0.2], [2.3, 1.5], [1.1, 0.9], [0.2, 1.8]] as Vec2[]),
};

describe('OutlineIndex = brute force over all edges', () => {
  for (const [name, o] of Object.entries(outlines)) {
    it(`${name}: nearest point and first crossing for points near the outline`, () => {
      const h = 0.02;
      const index = new OutlineIndex(o.vertices, h);
      const rand = rng(7);
      const v = o.vertices;
      for (let k = 0; k < 3000; k++) {
        // a point within ~2h of a random spot on the outline, and a step of one cell from it
        const e = Math.floor(rand() * v.length), [x0, y0] = v[e], [x1, y1] = v[(e + 1) % v.length], t = rand();
        const p: Vec2 = [x0 + t * (x1 - x0) + (rand() - 0.5) * 3 * h, y0 + t * (y1 - y0) + (rand() - 0.5) * 3 * h];
        expect(index.nearest(p, 2 * h)).toEqual(nearestOnOutline(v, p));
        const dir = Math.floor(rand() * 4), d: Vec2 = [[h, 0], [-h, 0], [0, h], [0, -h]][dir] as Vec2;
        expect(index.crossing(p, [p[0] + d[0], p[1] + d[1]])).toEqual(firstCrossing(v, p, [p[0] + d[0], p[1] + d[1]]));
      }
      // far from the outline the index falls back to the full scan
      const far: Vec2 = [o.centroid[0], o.centroid[1]];
      expect(index.nearest(far, 2 * h)).toEqual(nearestOnOutline(v, far));
    });
  }
});

describe('camera mask by scanline = insidePolygon per pixel', () => {
  for (const [name, o] of Object.entries(outlines)) {
    it(name, () => {
      const grid = buildGrid(o, 0.03, [], 'total-current');
      const cam = createCamera(grid, { kappa: 1, psfSigma_um: 0.11, pixel_um: 0.05 });
      let inside = 0;
      for (let q = 0; q < cam.height; q++) {
        const y = cam.origin_um[1] - (q + 0.5) * cam.pixel_um;
        for (let p = 0; p < cam.width; p++) {
          const x = cam.origin_um[0] + (p + 0.5) * cam.pixel_um;
          const want = insidePolygon(o.vertices, x, y) ? 1 : 0;
          if (cam.mask[q * cam.width + p] !== want) throw new Error(`${name}: pixel (${q}, ${p}) is ${cam.mask[q * cam.width + p]}, insidePolygon says ${want}`);
          inside += want;
        }
      }
      expect(inside).toBeGreaterThan(100);
    });
  }
});
