import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fillHoles, labelComponents, otsuThreshold, particleTable, segmentFromMask, segmentParticles } from '../../src/imaging/segment';
import { openMovie } from '../../src/io/movie';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

interface SkParticle { area_px: number; centroid_row: number; centroid_col: number; equivalent_diameter_px: number }
interface SkResult { threshold: number; particles: SkParticle[] }
const sk = JSON.parse(readFileSync(path.join(FIXTURES, 'skimage_segment.json'), 'utf8')) as {
  tool: string; version: string; width: number; height: number; min_area_px: number;
  frames: Record<'u16' | 'f32', { file: string; connectivity8: SkResult; connectivity4: SkResult }>;
};

describe('Otsu threshold', () => {
  it('splits a two-level image between the levels, and returns a constant image\'s value', () => {
    const img = new Uint8Array(100);
    img.fill(10, 0, 60); img.fill(200, 60);
    const t = otsuThreshold(img);
    expect(t).toBeGreaterThanOrEqual(10);
    expect(t).toBeLessThan(200);
    expect(otsuThreshold(new Float32Array(9).fill(3.5))).toBe(3.5);
  });
  it('ignores NaN and masked-out pixels', () => {
    const img = Float32Array.from([0, 0, 0, 1, 1, 1, NaN, 50, 50]);
    const t = otsuThreshold(img, { mask: [1, 1, 1, 1, 1, 1, 1, 0, 0] });
    expect(t).toBeGreaterThan(0);
    expect(t).toBeLessThan(1);
  });
});

describe('connected components', () => {
  // two pixels touching at a corner, and a separate run
  const mask = Uint8Array.from([
    1, 0, 0, 1,
    0, 1, 0, 1,
    0, 0, 0, 0,
  ]);
  it('8-connectivity joins diagonal neighbours, 4-connectivity does not; labels in raster order', () => {
    const l8 = labelComponents(mask, 4, 3, 8);
    expect(l8.count).toBe(2);
    expect(Array.from(l8.labels)).toEqual([1, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 0]);
    const l4 = labelComponents(mask, 4, 3, 4);
    expect(l4.count).toBe(3);
    expect(Array.from(l4.labels)).toEqual([1, 0, 0, 2, 0, 3, 0, 2, 0, 0, 0, 0]);
  });
  it('merges U-shaped components seen as two in the first pass', () => {
    const u = Uint8Array.from([
      1, 0, 1,
      1, 0, 1,
      1, 1, 1,
    ]);
    const l = labelComponents(u, 3, 3, 4);
    expect(l.count).toBe(1);
  });
  it('fills enclosed holes but not bays open to the border', () => {
    const labels = Int32Array.from([
      0, 0, 0, 0, 0, 0,
      0, 1, 1, 1, 1, 0,
      0, 1, 0, 0, 1, 0,
      0, 1, 1, 1, 1, 0,
      0, 0, 0, 0, 0, 0,
    ]);
    expect(fillHoles(labels, 6, 5)).toBe(2);
    expect(labels[2 * 6 + 2]).toBe(1);
    const bay = Int32Array.from([
      1, 1, 1,
      1, 0, 0,
      1, 1, 1,
    ]);
    expect(fillHoles(bay, 3, 3)).toBe(0);
  });
  it('particle table: area, R_eq = √(area/π), pixel-centre centroid in µm', () => {
    const labels = new Int32Array(5 * 4);
    for (const [r, c] of [[1, 1], [1, 2], [2, 1], [2, 2]]) labels[r * 5 + c] = 1;
    const [p] = particleTable(labels, 5, 4, 1, 0.1);
    expect(p.area_px).toBe(4);
    expect(p.area_um2).toBeCloseTo(0.04, 12);
    expect(p.eqRadius_um).toBeCloseTo(Math.sqrt(0.04 / Math.PI), 12);
    expect(p.centroid_um[0]).toBeCloseTo(0.2, 12); // cols 1, 2 → centres 1.5, 2.5 px → mean 2 px
    expect(p.centroid_um[1]).toBeCloseTo(0.2, 12);
    expect(p.bbox).toEqual({ col0: 1, row0: 1, col1: 3, row1: 3 });
  });
});

describe(`segmentation agrees with ${sk.tool} ${sk.version} (test/fixtures/skimage_segment.json)`, () => {
  // Tolerances: Otsu threshold — exact for the uint16 frame (one bin per integer value, as skimage),
  // within 1e-6 relative for the float32 frame (skimage's 256 bin edges are float32, ours float64);
  // areas exact (same pixel sets); centroids within 1e-9 px, as they are means of the same indices.
  for (const kind of ['u16', 'f32'] as const) {
    for (const conn of [8, 4] as const) {
      it(`${kind} frame, ${conn}-connected: threshold, areas, centroids`, async () => {
        const ref = sk.frames[kind][conn === 8 ? 'connectivity8' : 'connectivity4'];
        const movie = await openMovie(path.join(FIXTURES, sk.frames[kind].file));
        expect([movie.width, movie.height]).toEqual([sk.width, sk.height]);
        const frame = await movie.readFrame(0);
        await movie.close();
        expect(frame).toBeInstanceOf(kind === 'u16' ? Uint16Array : Float32Array);
        const seg = segmentParticles(frame, movie.width, movie.height, { pixel_um: 1, connectivity: conn, minArea_px: sk.min_area_px });
        if (kind === 'u16') expect(seg.threshold).toBe(ref.threshold);
        else expect(Math.abs(seg.threshold - ref.threshold)).toBeLessThan(1e-6 * ref.threshold);
        expect(seg.particles.length).toBe(ref.particles.length);
        expect(seg.dropped).toEqual({ small: 1, border: 1 });
        for (const want of ref.particles) {
          // match by centroid (both number in raster order, but skimage orders clear_border's output likewise)
          const got = seg.particles.find((p) => Math.hypot(p.centroid_px[0] - 0.5 - want.centroid_col, p.centroid_px[1] - 0.5 - want.centroid_row) < 1);
          expect(got, `particle at (${want.centroid_col}, ${want.centroid_row})`).toBeDefined();
          expect(got!.area_px).toBe(want.area_px);
          expect(Math.abs(got!.centroid_px[0] - 0.5 - want.centroid_col)).toBeLessThan(1e-9);
          expect(Math.abs(got!.centroid_px[1] - 0.5 - want.centroid_row)).toBeLessThan(1e-9);
          expect(2 * got!.eqRadius_um).toBeCloseTo(want.equivalent_diameter_px, 9);
        }
      });
    }
  }
});

describe('segmentation options', () => {
  it('keeps border particles on request and turns a label mask into particles with its ids', () => {
    const w = 10, h = 6;
    const img = new Float32Array(w * h).fill(1);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) img[r * w + c] = 10; // touches the border
    expect(segmentParticles(img, w, h, { pixel_um: 1, minArea_px: 1 }).particles.length).toBe(0);
    expect(segmentParticles(img, w, h, { pixel_um: 1, minArea_px: 1, dropBorder: false }).particles.length).toBe(1);
    const mask = new Uint8Array(w * h);
    mask[12] = 7; mask[13] = 7; mask[40] = 3;
    const seg = segmentFromMask(mask, w, h, { pixel_um: 0.5 });
    expect(seg.particles.map((p) => [p.id, p.label, p.area_px])).toEqual([[3, 1, 1], [7, 2, 2]]);
    const binary = segmentFromMask(Uint8Array.from(mask, (v) => (v ? 255 : 0)), w, h, { pixel_um: 0.5 });
    expect(binary.particles.map((p) => p.id)).toEqual([1, 2]);
  });
});
