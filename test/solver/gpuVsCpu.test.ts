/**
 * The WGSL solver against the float32 TypeScript reference, element-wise, on the software adapter in
 * CI (any adapter elsewhere). Stated tolerance: |θ_gpu − θ_cpu| ≤ 2e-6 everywhere (both store float32;
 * they differ only in float32 vs float64 evaluation of each update; measured ≤ ~3e-7 here), the same
 * NaN mask, and the same step on which a cut-off stops the run.
 */
import { describe, expect, test } from 'vitest';
import { compareArrays, useGpu } from '../helpers/gpu';
import { simulate } from '../helpers/sim';
import { presetConfig } from '../../src/model/config';

const gpu = useGpu();
const TOL = 2e-6;

const cases: Record<string, Record<string, unknown>> = {
  'fig4c (knee D, quarter blocked η = 0.3), 6 min': { ...presetConfig('fig4c'), protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 6 }], snapshots_min: [2, 6] },
  'ellipse, O\'Regan D, clean-flux, charge/rest/discharge': {
    particle: { shape: 'ellipse', axes_um: [1.6, 1.0], angleDeg: 30 },
    grid: { spacing_um: 0.025 },
    material: { diffusivity: { preset: 'oregan2022-nmc811' } },
    initialTheta: 0.9,
    surface: { normalize: 'clean-flux', segments: [{ fromDeg: -60, toDeg: 60, eta: 0.1 }] },
    protocol: [{ step: 'charge', current_mA_g: 200, duration_min: 2 }, { step: 'rest', duration_min: 0.5 }, { step: 'discharge', current_mA_g: 100, duration_min: 1 }],
    snapshots_min: [1, 2.5, 3.5],
  },
  'polygon, Colclasure D, charge to the cut-off': {
    particle: { shape: 'polygon', vertices_um: [[-0.5, -0.5], [0.6, -0.4], [0.4, 0.5], [-0.4, 0.6]] },
    grid: { spacing_um: 0.04 },
    material: { diffusivity: { preset: 'colclasure-nmc532' } },
    protocol: [{ step: 'charge', current_mA_g: 2000, duration_min: 60 }],
    cutoff: { surfaceTheta: 0.5 },
    snapshots_min: [1],
  },
};

describe('GPU solver = CPU reference', () => {
  for (const [name, raw] of Object.entries(cases)) {
    test(name, async () => {
      const cpu = await simulate(raw, 'cpu');
      const gpuRun = await simulate(raw, gpu());
      expect(gpuRun.result.stopReason).toBe(cpu.result.stopReason);
      expect(gpuRun.result.steps).toBe(cpu.result.steps);
      expect(gpuRun.result.snapshots.length).toBe(cpu.result.snapshots.length);
      expect(cpu.result.snapshots.length).toBeGreaterThanOrEqual(2);
      for (let i = 0; i < cpu.result.snapshots.length; i++) {
        const a = gpuRun.result.snapshots[i], b = cpu.result.snapshots[i];
        expect(a.time_s).toBeCloseTo(b.time_s, 9);
        const d = compareArrays(a.field, b.field);
        expect(d.nanMismatch).toBe(0);
        expect(d.maxAbs).toBeLessThanOrEqual(TOL);
        expect(Math.abs(a.minSurfaceTheta - b.minSurfaceTheta)).toBeLessThanOrEqual(10 * TOL);
        expect(Math.abs(a.meanTheta - b.meanTheta)).toBeLessThanOrEqual(TOL);
        // optical metrics: the GPU forward model + label reduction against the CPU forward model
        expect(Math.abs(a.unreactedFraction - b.unreactedFraction)).toBeLessThanOrEqual(0.002);
        if (b.comOffset_um !== null) expect(Math.abs((a.comOffset_um as number) - b.comOffset_um)).toBeLessThanOrEqual(1e-4);
      }
      // every trace row too (these never read the field back on the GPU)
      expect(gpuRun.result.trace.length).toBe(cpu.result.trace.length);
      for (let i = 0; i < cpu.result.trace.length; i++) {
        expect(Math.abs(gpuRun.result.trace[i].unreactedFraction - cpu.result.trace[i].unreactedFraction)).toBeLessThanOrEqual(0.002);
      }
      if (name.startsWith('fig4c')) expect(cpu.result.trace.some((r) => r.unreactedFraction > 0.05 && r.unreactedFraction < 0.95)).toBe(true);
      // the fields really changed (a kernel that does nothing would otherwise pass)
      const last = cpu.result.snapshots[cpu.result.snapshots.length - 1];
      expect(cpu.problem.theta0 - last.meanTheta).not.toBeCloseTo(0, 3);
    });
  }
});
