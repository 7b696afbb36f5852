/** Geometry, surface segments, diffusivity presets and the grid's wall data: known answers. */
import { describe, expect, test } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { diskOutline, ellipseOutline, polygonOutline } from '../../src/model/geometry';
import { buildGrid } from '../../src/model/grid';
import { onSegment, segmentOverlapDeg, surfaceActivity } from '../../src/model/surface';
import { diffusivityFunction, kirchhoffTable, phiOf, thetaOfPhi } from '../../src/model/diffusivity';
import { outlineFromMaskFile } from '../../src/model/maskOutline';

describe('surface segments', () => {
  test('wrap through 0°, and s(φ)', () => {
    const seg = { fromDeg: -45, toDeg: 45, eta: 0.3 };
    expect(onSegment(seg, 0)).toBe(true);
    expect(onSegment(seg, 359)).toBe(true);
    expect(onSegment(seg, 46)).toBe(false);
    expect(surfaceActivity([seg], 180)).toBe(1);
    expect(surfaceActivity([seg], 10)).toBe(0.3);
  });
  test('overlap in degrees, across 0°', () => {
    expect(segmentOverlapDeg({ fromDeg: 350, toDeg: 20, eta: 1 }, { fromDeg: 10, toDeg: 40, eta: 1 })).toBeCloseTo(10, 9);
    expect(segmentOverlapDeg({ fromDeg: 0, toDeg: 90, eta: 1 }, { fromDeg: 90, toDeg: 180, eta: 1 })).toBe(0);
  });
});

describe('grid', () => {
  test('disk: discrete area and the |n·e_f|-weighted perimeter approach πR² and 2πR', () => {
    const g = buildGrid(diskOutline(2.4), 0.01, [], 'total-current');
    expect(g.area_um2 / (Math.PI * 1.44)).toBeCloseTo(1, 3);
    expect(g.perimeter_um / (Math.PI * 2.4)).toBeCloseTo(1, 3);
    // every wall cell lies within one cell of the true boundary: 0 < δ ≤ h
    for (let w = 0; w < g.walls.index.length; w++) expect(g.walls.surfaceOffset_m[w] * 1e6).toBeLessThanOrEqual(0.01 + 1e-9);
  });
  test('a square aligned with the grid: δ = h/2 and face weight 1 on every side', () => {
    const g = buildGrid(polygonOutline([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]), 0.1, [], 'total-current');
    expect(g.cells).toBe(100);
    expect(g.perimeter_um).toBeCloseTo(4, 9);
    for (let w = 0; w < g.walls.index.length; w++) expect(g.walls.surfaceOffset_m[w] * 1e6).toBeCloseTo(0.05, 7);
  });
  test('ellipse area; total-current normalises s to a perimeter mean of 1', () => {
    const g = buildGrid(ellipseOutline([2, 1], 30), 0.01, [{ fromDeg: 90, toDeg: 270, eta: 0.2 }], 'total-current');
    expect(g.area_um2 / (Math.PI * 0.5)).toBeCloseTo(1, 2);
    expect(g.sBar).toBeGreaterThan(0.2); expect(g.sBar).toBeLessThan(1);
    let sum = 0;
    for (let w = 0; w < g.walls.index.length; w++) sum += g.walls.fluxWeight[w];
    expect(sum * g.spacing_um).toBeCloseTo(g.perimeter_um, 6); // Σ s_norm·w·h = P: exactly the applied current
  });
});

describe('diffusivity presets and the Kirchhoff table', () => {
  test('knee: D_high below θ*, D_low at θ = 1, log-linear between', () => {
    const D = diffusivityFunction({ preset: 'knee' });
    expect(D(0.5)).toBeCloseTo(1e-15, 25);
    expect(Math.log10(D(1))).toBeCloseTo(-16.5, 9);
    expect(Math.log10(D(0.925))).toBeCloseTo(-15.75, 9);
  });
  test('literature presets give NMC-like magnitudes', () => {
    const c = diffusivityFunction({ preset: 'colclasure-nmc532' });
    const o = diffusivityFunction({ preset: 'oregan2022-nmc811' });
    for (const t of [0.4, 0.6, 0.8]) {
      expect(Math.log10(c(t))).toBeGreaterThan(-17); expect(Math.log10(c(t))).toBeLessThan(-12);
      expect(Math.log10(o(t))).toBeGreaterThan(-17); expect(Math.log10(o(t))).toBeLessThan(-12);
    }
  });
  test('user table: log-linear interpolation, clamped with a warning outside its range', () => {
    const warnings: string[] = [];
    const D = diffusivityFunction({ table: { theta: [0.2, 0.6], D_m2_s: [1e-14, 1e-16] } }, (m) => warnings.push(m));
    expect(D(0.4)).toBeCloseTo(1e-15, 25);
    expect(D(0.9)).toBe(1e-16);
    expect(warnings[0]).toMatch(/covers θ ∈ \[0.2, 0.6\]/);
  });
  test('Φ is the integral of D; the inverse inverts it; origin at θref', () => {
    const t = kirchhoffTable(() => 2e-15, { thetaRef: 0.7 });
    expect(t.D_scale).toBe(2e-15);
    expect(phiOf(t, 0.7)).toBeCloseTo(0, 7);
    expect(phiOf(t, 0.2)).toBeCloseTo(-0.5, 6);
    for (const th of [0.05, 0.33, 0.9, 1.02]) expect(thetaOfPhi(t, phiOf(t, th))).toBeCloseTo(th, 6);
  });
});

describe('mask particles', () => {
  test('a disk drawn in a PNG becomes a smooth outline of the right area, centred on its centroid', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ionflux-mask-'));
    const png = new PNG({ width: 64, height: 64 });
    for (let r = 0; r < 64; r++) for (let c = 0; c < 64; c++) {
      const inside = (c + 0.5 - 30) ** 2 + (r + 0.5 - 34) ** 2 < 24 ** 2;
      const i = 4 * (r * 64 + c);
      png.data[i] = png.data[i + 1] = png.data[i + 2] = inside ? 255 : 0; png.data[i + 3] = 255;
    }
    // a stray speck: ignored (largest component wins)
    png.data[0] = png.data[1] = png.data[2] = 255;
    writeFileSync(path.join(dir, 'disk.png'), PNG.sync.write(png));
    const o = await outlineFromMaskFile('disk.png', 0.05, dir);
    expect(o.area_um2 / (Math.PI * (24 * 0.05) ** 2)).toBeGreaterThan(0.97);
    expect(o.area_um2 / (Math.PI * (24 * 0.05) ** 2)).toBeLessThan(1.03);
    expect(Math.hypot(...o.centroid)).toBeLessThan(1e-9);
    const g = buildGrid(o, 0.04, [], 'total-current');
    expect(g.perimeter_um / (2 * Math.PI * 1.2)).toBeGreaterThan(0.97);
    expect(g.perimeter_um / (2 * Math.PI * 1.2)).toBeLessThan(1.03);
  });
});

describe('mask particles from TIFF', () => {
  test('a 16-bit TIFF mask (an ellipse) gives the ellipse area', async () => {
    const { writeTiffStack } = await import('../../src/io/tiffWrite');
    const dir = mkdtempSync(path.join(tmpdir(), 'ionflux-mask-'));
    const w = 80, h = 60;
    const page = new Uint16Array(w * h);
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) page[r * w + c] = ((c + 0.5 - 40) / 30) ** 2 + ((r + 0.5 - 30) / 20) ** 2 < 1 ? 1000 : 0;
    await writeTiffStack(path.join(dir, 'mask.tif'), [page], { width: w, height: h, sampleType: 'uint16' });
    const o = await outlineFromMaskFile('mask.tif', 0.04, dir);
    expect(o.area_um2 / (Math.PI * 30 * 20 * 0.04 ** 2)).toBeGreaterThan(0.97);
    expect(o.area_um2 / (Math.PI * 30 * 20 * 0.04 ** 2)).toBeLessThan(1.03);
  });
});
