import { describe, expect, it } from 'vitest';
import { lineThroughParticle, linePositions_um, offsetDirectionDeg, resampleRows, sampleLine } from '../../src/imaging/kymograph';
import { segmentParticles } from '../../src/imaging/segment';

const W = 40, H = 30;
function disk(cx: number, cy: number, r: number): Float32Array {
  const img = new Float32Array(W * H).fill(1);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (Math.hypot(x + 0.5 - cx, y + 0.5 - cy) <= r) img[y * W + x] = 10;
  return img;
}

describe('line cut through a particle', () => {
  const seg = segmentParticles(disk(20, 15, 8), W, H, { pixel_um: 0.1 });
  const p = seg.particles[0];
  it('a horizontal line (0°) runs left to right through the centroid and crosses the particle plus the margin', () => {
    const line = lineThroughParticle(p, seg.labels, W, H, 0, 3);
    expect(line.start_px[1]).toBeCloseTo(15, 9);
    expect(line.end_px[1]).toBeCloseTo(15, 9);
    expect(line.start_px[0]).toBeLessThan(20 - 8 - 2);
    expect(line.end_px[0]).toBeGreaterThan(20 + 8 + 2);
    expect(line.step_px).toBeLessThanOrEqual(1);
    const pos = linePositions_um(line, 0.1);
    expect(pos[0]).toBe(0);
    expect(pos[pos.length - 1]).toBeCloseTo((line.end_px[0] - line.start_px[0]) * 0.1, 9);
  });
  it('90° points up the image (y decreasing), as SPEC §3 angles do', () => {
    const line = lineThroughParticle(p, seg.labels, W, H, 90, 3);
    expect(line.end_px[1]).toBeLessThan(line.start_px[1]);
    expect(line.start_px[0]).toBeCloseTo(20, 9);
  });
  it('is clipped to the frame', () => {
    const line = lineThroughParticle(p, seg.labels, W, H, 0, 100);
    expect(line.start_px[0]).toBeGreaterThanOrEqual(0.5 - 1e-6);
    expect(line.end_px[0]).toBeLessThanOrEqual(W - 0.5 + 1e-6);
  });
  it('samples a linear field exactly (bilinear) and propagates NaN', () => {
    const field = new Float32Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) field[y * W + x] = 2 * (x + 0.5) - (y + 0.5);
    const line = lineThroughParticle(p, seg.labels, W, H, 30, 2);
    const v = sampleLine(field, W, H, line);
    for (let k = 0; k < line.samples; k++) {
      const f = k / (line.samples - 1);
      const x = line.start_px[0] + f * (line.end_px[0] - line.start_px[0]), y = line.start_px[1] + f * (line.end_px[1] - line.start_px[1]);
      expect(v[k]).toBeCloseTo(2 * x - y, 4);
    }
    field[15 * W + 20] = NaN;
    const h = lineThroughParticle(p, seg.labels, W, H, 0, 2);
    expect(Array.from(sampleLine(field, W, H, h)).some((x) => Number.isNaN(x))).toBe(true);
  });
});

describe('direction of the largest offset', () => {
  it('points from the particle COM to the unreacted COM, y up', () => {
    const com: [number, number] = [20, 15];
    expect(offsetDirectionDeg(com, [[25, 15]], [0.3], [0])).toBeCloseTo(0, 9);
    expect(offsetDirectionDeg(com, [[20, 10]], [0.3], [0])).toBeCloseTo(90, 9);
    expect(offsetDirectionDeg(com, [[15, 15]], [0.3], [0])).toBeCloseTo(180, 9);
    expect(offsetDirectionDeg(com, [[20, 20]], [0.3], [0])).toBeCloseTo(270, 9);
    // the frame with the largest d/R_eq among those given decides
    expect(offsetDirectionDeg(com, [[25, 15], [20, 10], [15, 15]], [0.1, 0.4, 0.9], [0, 1])).toBeCloseTo(90, 9);
    expect(offsetDirectionDeg(com, [null], [null], [0])).toBe(0);
  });
});

describe('resampling rows onto a uniform capacity axis', () => {
  const rows = [0, 1, 2, 3].map((k) => Float32Array.of(k));
  it('picks the nearest frame for each axis value', () => {
    const r = resampleRows(rows, [0, 1, 5, 6], 7)!;
    expect([r.min, r.max]).toEqual([0, 6]);
    expect(r.rows.map((x) => x[0])).toEqual([0, 1, 1, 2, 2, 2, 3]);
  });
  it('refuses a decreasing axis (charge then discharge)', () => {
    expect(resampleRows(rows, [0, 2, 1, 3], 4)).toBeNull();
  });
});
