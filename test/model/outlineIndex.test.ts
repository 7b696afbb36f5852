/**
 * The fast geometry of grid and camera set-up gives exactly the answers of the brute-force routines
 * it replaced (every edge tried, every pixel tested against the polygon): same points, same edges,
 * same mask, bit for bit — so the wall weights, and with them every simulation, are unchanged.
 */
import { describe, expect, it } from 'vitest';
import { diskOutline, ellipseOutline, firstCrossing, insidePolygon, nearestOnOutline, OutlineIndex, polygonOutline, scanlineCrossings, scanlineRows, type Vec2 } from '../../src/model/geometry';
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

describe('scanlineRows = scanlineCrossings row by row', () => {
  const same = (name: string, v: Vec2[], top: number, step: number, n: number) => {
    const rows = scanlineRows(v, top, step, n);
    expect(rows.length).toBe(n);
    let crossings = 0;
    for (let k = 0; k < n; k++) {
      const want = scanlineCrossings(v, top - (k + 0.5) * step);
      // the same numbers in the same order (Object.is: even a −0 stays where it was)
      if (rows[k].length !== want.length || rows[k].some((x, m) => !Object.is(x, want[m]))) {
        throw new Error(`${name}: row ${k} has [${rows[k].join(', ')}], scanlineCrossings says [${want.join(', ')}]`);
      }
      crossings += want.length;
    }
    return crossings;
  };
  for (const [name, o] of Object.entries(outlines)) {
    it(`${name}, grid rows and camera rows`, () => {
      const grid = buildGrid(o, 0.02, [], 'total-current');
      expect(same(name, o.vertices, grid.yTop_um, 0.02, grid.ny)).toBeGreaterThan(2 * (grid.ny - 4));
      expect(same(name, o.vertices, grid.yTop_um + 0.37, 0.05, 80)).toBeGreaterThan(0);
    });
  }
  it('vertices on the rows, horizontal edges, rows above and below the outline', () => {
    // a staircase whose every vertex lies exactly on a row line y_k = 1 − (k + ½)·0.25
    const y = (k: number) => 1 - (k + 0.5) * 0.25;
    const stairs: Vec2[] = [[0, y(7)], [3, y(7)], [3, y(1)], [2, y(1)], [2, y(3)], [1, y(3)], [1, y(0)], [0, y(0)]];
    expect(same('stairs', stairs, 1, 0.25, 10)).toBeGreaterThan(0);
    // rows at steps that are not binary fractions, vertices exactly on rows (as the function computes
    // them): the edge's row bounds from (top − y)/step fall on either side of the exact row
    const r2 = rng(5);
    for (const step of [0.02, 0.037, 0.1, 0.013]) {
      const top = 1.3 + r2();
      const yk = (k: number) => top - (k + 0.5) * step;
      for (let t = 0; t < 400; t++) {
        const v: Vec2[] = Array.from({ length: 3 + Math.floor(r2() * 10) }, () => [r2() * 4 - 1, yk(Math.floor(r2() * 60))] as Vec2);
        same(`step ${step}, polygon ${t}`, v, top, step, 64);
      }
    }
    // random polygons with vertices snapped to the rows half the time
    const rand = rng(11);
    for (let t = 0; t < 200; t++) {
      const v: Vec2[] = Array.from({ length: 3 + Math.floor(rand() * 12) }, () => [rand() * 4 - 1, rand() < 0.5 ? y(Math.floor(rand() * 9)) : rand() * 3 - 1.5] as Vec2);
      same(`random ${t}`, v, 1, 0.25, 12);
    }
  });
});
