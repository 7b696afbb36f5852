/**
 * Per-run set-up that sweeps, fits and analyze repeat: `problem-build` (buildProblem of fig4c the
 * first time for a grid, against a new surface of a particle whose geometry is already cached, as a
 * sweep over η or current builds it) and `drift-estimate` (one phase-correlation drift estimate of a
 * 1024² frame, or 256² with --quick).
 */
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem } from '../../src/solver/problem';
import { DriftEstimator } from '../../src/imaging/drift';
import { spreadOf, timeIt, type BenchCase, type BenchContext, type BenchRow } from '../harness';

async function problemRows(ctx: BenchContext): Promise<BenchRow[]> {
  const samples = ctx.quick ? 3 : 9;
  let k = 0;
  // a new spacing each time (by 1e-7 µm, the same 122² grid) defeats the geometry cache
  const fresh = await timeIt(async () => {
    const raw = presetConfig('fig4c');
    (raw.grid as { spacing_um: number }).spacing_um = 0.02 + 1e-7 * ++k;
    await buildProblem(resolveConfig(raw));
  }, { warmup: 1, samples });
  let eta = 0.1;
  const cached = await timeIt(async () => {
    const raw = presetConfig('fig4c');
    raw.surface = { normalize: 'total-current', segments: [{ fromDeg: 135, toDeg: 225, eta: (eta += 0.01) }] };
    await buildProblem(resolveConfig(raw));
  }, { warmup: 1, samples: samples * 5 });
  return [
    { id: 'setup.problem.fresh', case: 'problem-build', backend: 'cpu', size: 'fig4c 122²', value: fresh.median_s * 1000, unit: 'ms', better: 'lower', spread: spreadOf(fresh), note: 'buildProblem of a new grid: outline, inside cells, wall geometry, Kirchhoff table' },
    { id: 'setup.problem.cached', case: 'problem-build', backend: 'cpu', size: 'fig4c 122²', value: cached.median_s * 1000, unit: 'ms', better: 'lower', spread: spreadOf(cached), ratioTo: ['setup.problem.fresh'], note: 'another surface (η) of the same particle: cached geometry + applySurface' },
  ];
}

async function driftRows(ctx: BenchContext): Promise<BenchRow[]> {
  const n = ctx.quick ? 256 : 1024;
  const ref = new Float32Array(n * n), frame = new Float32Array(n * n);
  // particles (bright disks) on a dark background, the frame shifted by (3, 2) px plus noise
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const disks = Array.from({ length: 12 }, () => [n * (0.15 + 0.7 * rand()), n * (0.15 + 0.7 * rand()), n * (0.03 + 0.04 * rand())]);
  const inDisk = (x: number, y: number) => disks.some(([cx, cy, r]) => (x - cx) ** 2 + (y - cy) ** 2 < r * r);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    ref[y * n + x] = (inDisk(x, y) ? 3000 : 1000) + 20 * rand();
    frame[y * n + x] = (inDisk(x - 3, y - 2) ? 3000 : 1000) + 20 * rand();
  }
  const est = new DriftEstimator(ref, n, n);
  const t = await timeIt(() => est.estimate(frame), { warmup: 1, samples: ctx.quick ? 3 : 7 });
  const s = est.estimate(frame).shift;
  return [{ id: 'setup.drift', case: 'drift-estimate', backend: 'cpu', size: `${n}²`, value: t.median_s * 1000, unit: 'ms/frame', better: 'lower', spread: spreadOf(t), note: `phase correlation, real-input FFTs (found shift ${s.map((v) => v.toFixed(2)).join(', ')} px)` }];
}

export const setupCases: BenchCase[] = [
  { name: 'problem-build', run: problemRows },
  { name: 'drift-estimate', run: driftRows },
];
