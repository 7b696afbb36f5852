/**
 * The fit's GPU batch runner: a generation of candidates (one particle's outline, different surface
 * blockings) run as the lanes of one GpuBatch gives the CPU reference's runs (θ within
 * gpuVsCpu.test.ts's tolerance).
 */
import { describe, expect, test } from 'vitest';
import { compareArrays, useGpu } from '../helpers/gpu';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem } from '../../src/solver/problem';
import { cpuBatchRunner, gpuBatchRunner } from '../../src/fit/batch';

const gpu = useGpu();

describe('gpuBatchRunner', () => {
  test('seven candidates as one GpuBatch agree with the CPU reference', async () => {
    const problems = await Promise.all([0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1].map((eta, k) => buildProblem(resolveConfig({
      ...presetConfig('fig4c'), grid: { spacing_um: 0.06 },
      protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 4 }], snapshots_min: [2, 4],
      surface: { segments: eta < 1 ? [{ fromDeg: 40 * k, toDeg: 40 * k + 90, eta }] : [] },
    }))));
    const [g, c] = [await gpuBatchRunner(gpu()).run(problems), await cpuBatchRunner().run(problems)];
    g.forEach((out, i) => {
      const ref = c[i];
      expect(out.ok && ref.ok).toBe(true);
      if (!out.ok || !ref.ok) return;
      expect(out.result.snapshots.length).toBe(ref.result.snapshots.length);
      out.result.snapshots.forEach((s, k) => expect(compareArrays(s.field, ref.result.snapshots[k].field).maxAbs).toBeLessThan(2e-6));
    });
  }, 120_000);
});
