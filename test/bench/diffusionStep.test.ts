/**
 * The `diffusion step` bench case at one tiny grid on the software adapter: every row it promises —
 * the CPU reference's cell-updates/s, the GPU's for one step per dispatch and for each temporal
 * block size, time per step, the effective bandwidth and the GPU memory per cell — with values
 * that agree with each other (bandwidth = 8 B per grid cell / time per step; cell-updates/s =
 * particle cells / time per step) and the ratio links the table prints.
 */
import { afterEach, expect, test } from 'vitest';
import { useGpu } from '../helpers/gpu';
import { solverCases } from '../../bench/cases/solver';

const gpu = useGpu();
afterEach(() => {
  delete process.env.IONFLUX_BENCH_SIZES;
  delete process.env.IONFLUX_BENCH_STEPS_PER_DISPATCH;
});

test('diffusion step: rows at 32², single steps and 4 per dispatch, consistent with each other', async () => {
  process.env.IONFLUX_BENCH_SIZES = '32';
  process.env.IONFLUX_BENCH_STEPS_PER_DISPATCH = '4';
  const c = solverCases.find((k) => k.name === 'diffusion step');
  if (!c) throw new Error('no bench case "diffusion step"');
  const rows = await c.run({ gpu: gpu(), quick: true, log: () => {}, numpy: () => null });
  const byId = new Map(rows.map((r) => [r.id, r]));
  expect([...byId.keys()].sort()).toEqual(['step-32-cpu', 'step-32-gpu', 'step-32-gpu-bw', 'step-32-gpu-k4', 'step-32-gpu-k4-bw', 'step-32-gpu-k4-step', 'step-32-gpu-mem', 'step-32-gpu-step']);
  for (const r of rows) expect(Number.isFinite(r.value) && r.value > 0, `${r.id}: ${r.note ?? ''}`).toBe(true);
  const get = (id: string) => byId.get(id) as { value: number; size: string; ratioTo?: string[]; backend: string; note?: string };
  const nx = Number(get('step-32-cpu').size.replace('²', ''));
  expect(nx).toBeGreaterThanOrEqual(32);
  expect(get('step-32-cpu').note).toMatch(/^cpu/);
  for (const tag of ['gpu', 'gpu-k4']) {
    const perStep_s = get(`step-32-${tag}-step`).value / 1e6;
    // 8 B per grid cell and step over the time per step
    expect(get(`step-32-${tag}-bw`).value).toBeCloseTo((8 * nx * nx) / perStep_s / 1e9, 6);
    // cell-updates/s and time per step describe the same samples: their product is the particle's cells (< the grid)
    const cells = get(`step-32-${tag}`).value * perStep_s;
    expect(cells).toBeGreaterThan(0.5 * nx * nx);
    expect(cells).toBeLessThan(nx * nx);
  }
  expect(get('step-32-gpu').ratioTo).toEqual(['step-32-cpu', 'step-32-numpy']);
  expect(get('step-32-gpu-k4').ratioTo).toEqual(['step-32-gpu']);
  expect(get('step-32-gpu-k4').backend).toBe('gpu-4-per-dispatch');
  expect(get('step-32-gpu-k4-bw').note).toMatch(/4 per dispatch move ~/);
  // two int32 state buffers, 8 B per cell, plus what does not grow with the grid (the Φ̃ table,
  // wall list, reductions: tens of kB, which at 32² add tens of B per cell; 0.5 B at 256²)
  expect(get('step-32-gpu-mem').value).toBeGreaterThanOrEqual(8);
  expect(get('step-32-gpu-mem').value).toBeLessThan(8 + 65536 / (nx * nx));
}, 180000);
