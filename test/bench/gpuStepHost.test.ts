/**
 * The `gpu step host` bench case on the software adapter at one tiny grid: it reports the rows the
 * issue asks for (GPU and CPU steps/s with their ratio, host µs per step, steps per dispatch) and the
 * fused step's figures are what they must be — one dispatch per step plus one finalize per submit —
 * and the step counted on the GPU is compared with the host-phased one; temporal blocking (4 steps
 * per dispatch) has its rows, with ⌈m/4⌉ + 2 dispatches per submit of m steps, and the other tile
 * size (cells per invocation) its steps/s.
 */
import { afterEach, expect, test } from 'vitest';
import { useGpu } from '../helpers/gpu';
import { solverCases } from '../../bench/cases/solver';
import { resolveCellsPerInvocation, resolveStepCounter } from '../../src/kernels/diffusionStep';

const gpu = useGpu();
afterEach(() => { delete process.env.IONFLUX_BENCH_SIZES; delete process.env.IONFLUX_BENCH_CELLS; delete process.env.IONFLUX_BENCH_STEPS_PER_DISPATCH; });

test('gpu step host: rows at 32², steps per dispatch ≈ 1, host cost measured', async () => {
  process.env.IONFLUX_BENCH_SIZES = '32';
  const c = solverCases.find((k) => k.name === 'gpu step host');
  if (!c) throw new Error('no bench case "gpu step host"');
  const rows = await c.run({ gpu: gpu(), quick: true, log: () => {}, numpy: () => null });
  const byId = new Map(rows.map((r) => [r.id, r]));
  expect([...byId.keys()].sort()).toEqual(['gpuhost-32-cpu', 'gpuhost-32-gpu', 'gpuhost-32-gpu-all', 'gpuhost-32-gpu-blocked', 'gpuhost-32-gpu-cells', 'gpuhost-32-gpu-other', 'gpuhost-32-host', 'gpuhost-32-host-blocked', 'gpuhost-32-host-other', 'gpuhost-32-spd', 'gpuhost-32-spd-blocked']);
  for (const r of rows) expect(Number.isFinite(r.value) && r.value > 0, r.id).toBe(true);
  expect(byId.get('gpuhost-32-gpu')?.ratioTo).toContain('gpuhost-32-cpu');
  // one submit per sample of ≥ 16 steps: dispatches = steps + 1 per submit
  const spd = byId.get('gpuhost-32-spd') as { value: number };
  expect(spd.value).toBeGreaterThan(0.94);
  expect(spd.value).toBeLessThan(1);
  expect(byId.get('gpuhost-32-host')?.unit).toBe('µs');
  // 4 steps per dispatch: ⌈m/4⌉ blocks + a resolving block + finalize per submit of m ≥ 16 steps
  const blocked = byId.get('gpuhost-32-spd-blocked') as { value: number };
  expect(blocked.value).toBeGreaterThan(16 / 6);
  expect(blocked.value).toBeLessThan(4);
  expect(byId.get('gpuhost-32-gpu-blocked')?.backend).toBe('gpu-4-per-dispatch');
  // 32² is a 4-workgroup dispatch: 'auto' counts its steps on a GPU and phases them from the host on
  // a software adapter (resolveStepCounter); the comparison row takes the other counter
  const counted = resolveStepCounter('auto', 4, gpu().report.software) === 'gpu';
  expect(byId.get('gpuhost-32-gpu')?.note).toMatch(counted ? /steps counted on the GPU/ : /steps phased by the host/);
  expect(byId.get('gpuhost-32-gpu-other')?.backend).toBe(counted ? 'gpu-host-phased' : 'gpu-self-counted');
  // the other tile size: 1 cell per invocation where 'auto' takes more (a software adapter), else 2
  const other = resolveCellsPerInvocation('auto', 1, gpu().report.software) === 1 ? 2 : 1;
  expect(byId.get('gpuhost-32-gpu-cells')?.backend).toBe(other === 1 ? 'gpu-1-cell' : 'gpu-2-cells');
  expect(byId.get('gpuhost-32-gpu-cells')?.ratioTo).toEqual(['gpuhost-32-gpu']);
}, 120000);

test('gpu step host: IONFLUX_BENCH_CELLS picks the other tile size row; a bad value is refused by name', async () => {
  Object.assign(process.env, { IONFLUX_BENCH_SIZES: '32', IONFLUX_BENCH_STEPS_PER_DISPATCH: '1', IONFLUX_BENCH_CELLS: '8' });
  const c = solverCases.find((k) => k.name === 'gpu step host');
  if (!c) throw new Error('no bench case "gpu step host"');
  const ctx = { gpu: gpu(), quick: true, log: () => {}, numpy: () => null };
  const row = (await c.run(ctx)).find((r) => r.id === 'gpuhost-32-gpu-cells');
  expect(row?.backend).toBe('gpu-8-cells');
  expect(row?.note).toMatch(/^8 cells per invocation along each axis \(32×32-cell tiles, 4×4 workgroups\)/);
  process.env.IONFLUX_BENCH_CELLS = '3';
  await expect(c.run(ctx)).rejects.toThrow(/IONFLUX_BENCH_CELLS = '3': allowed are 1, 2, 4, 8/);
}, 120000);
