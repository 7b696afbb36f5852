/**
 * A whole charge to the θs = 0.2 cut-off (~20 000 steps) and a discharge back up, on both solvers:
 * conservation stays exact over long runs (fixed-point state), and GPU and CPU stop on the same step.
 */
import { describe, expect, test } from 'vitest';
import { compareArrays, useGpu } from '../helpers/gpu';
import { simulate } from '../helpers/sim';
import { presetConfig } from '../../src/model/config';

const gpu = useGpu();

const fresh = { ...presetConfig('fresh'), grid: { spacing_um: 0.04 }, snapshots_min: [60] };
const discharge = {
  ...presetConfig('fig4c'), grid: { spacing_um: 0.05 }, initialTheta: 0.4,
  protocol: [{ step: 'discharge', current_mA_g: 400, duration_min: 120 }], cutoff: { surfaceTheta: 0.2, surfaceThetaMax: 0.98 },
  snapshots_min: [10],
};

describe('long runs', () => {
  test('fresh to the cut-off: charge = current × time exactly, same stop step on GPU and CPU', async () => {
    const cpu = await simulate(fresh, 'cpu');
    const g = await simulate(fresh, gpu());
    for (const r of [cpu.result, g.result]) {
      expect(r.stopReason).toBe('cutoff');
      expect(r.steps).toBeGreaterThan(15_000);
      // the applied charge up to the stop, against the Li the particle lost: float64 round-off only
      expect(Math.abs(r.extractedCapacity_mAh_g - r.appliedCapacity_mAh_g) / r.appliedCapacity_mAh_g).toBeLessThan(1e-7);
      expect(r.extractedCapacity_mAh_g).toBeGreaterThan(200); // ~215 mAh/g at 100 mA/g (docs/physics.md)
    }
    expect(g.result.steps).toBe(cpu.result.steps);
    const d = compareArrays(g.result.snapshots[0].field, cpu.result.snapshots[0].field);
    expect(d.maxAbs).toBeLessThan(2e-6);
  });

  test('discharge to the upper cut-off: Li inserted = current × time exactly', async () => {
    const cpu = await simulate(discharge, 'cpu');
    const g = await simulate(discharge, gpu());
    for (const r of [cpu.result, g.result]) {
      expect(r.stopReason).toBe('cutoff');
      expect(r.appliedCapacity_mAh_g).toBeLessThan(-10);
      expect(Math.abs(r.extractedCapacity_mAh_g - r.appliedCapacity_mAh_g) / Math.abs(r.appliedCapacity_mAh_g)).toBeLessThan(1e-7);
      expect(r.trace[r.trace.length - 1].maxSurfaceTheta).toBeGreaterThanOrEqual(0.98);
    }
    expect(g.result.steps).toBe(cpu.result.steps);
  });
});

describe('orientation (y up, angles counter-clockwise about the centre of mass)', () => {
  test('a blocked top arc (45°…135°) pushes the core up; a blocked bottom-right arc pushes it that way', async () => {
    const base = { ...presetConfig('fig4c'), grid: { spacing_um: 0.04 }, protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 10 }], snapshots_min: [10] };
    const top = (await simulate({ ...base, surface: { segments: [{ fromDeg: 45, toDeg: 135, eta: 0.2 }] } })).result.snapshots[0].comOffsetVector_um as [number, number];
    expect(top[1]).toBeGreaterThan(0.05);
    expect(Math.abs(top[0])).toBeLessThan(0.01);
    const br = (await simulate({ ...base, surface: { segments: [{ fromDeg: 270, toDeg: 360, eta: 0.2 }] } })).result.snapshots[0].comOffsetVector_um as [number, number];
    expect(br[0]).toBeGreaterThan(0.03);
    expect(br[1]).toBeLessThan(-0.03);
  });

  test('angles are measured about the centre of mass of an off-centre polygon', async () => {
    // a square whose vertices are far from the origin: a segment facing +x must block the +x side
    const square = { shape: 'polygon', vertices_um: [[5, 5], [7, 5], [7, 7], [5, 7]] };
    const base = { particle: square, grid: { spacing_um: 0.04 }, protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 10 }], snapshots_min: [10] };
    const v = (await simulate({ ...base, surface: { segments: [{ fromDeg: -45, toDeg: 45, eta: 0.1 }] } })).result.snapshots[0].comOffsetVector_um as [number, number];
    expect(v[0]).toBeGreaterThan(0.05);
    expect(Math.abs(v[1])).toBeLessThan(0.01);
  });
});
