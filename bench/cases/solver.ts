/**
 * Solver benchmarks: cell-updates per second of one explicit step (knee D, a 2.4 µm disk, charging)
 * on the GPU solver, the CPU reference and a vectorised NumPy version of the same step, at several
 * grid sizes; time to run the fig4c preset to 20 min; GPU memory per cell.
 * A "cell-update" is one particle cell advanced by one step (cells outside the disk not counted).
 */
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem, maxStableDt, reachableRange, stepParams, type Problem } from '../../src/solver/problem';
import { CpuSolver } from '../../src/solver/cpu';
import { GpuSolver } from '../../src/solver/gpu';
import { runSimulation } from '../../src/solver/run';
import type { Solver } from '../../src/solver/types';
import { spreadOf, timeIt, type BenchCase, type BenchContext, type BenchRow } from '../harness';

async function diskProblem(n: number): Promise<Problem> {
  // an n×n grid: 2.4 µm disk plus the one-cell margin on each side
  const raw = presetConfig('fig4c');
  (raw.grid as { spacing_um: number }).spacing_um = 2.4 / (n - 2);
  return buildProblem(resolveConfig(raw));
}

/** Steps/s of `solver` on `problem`: `steps` per timed sample, each ending in the run-state readback. */
async function stepRate(problem: Problem, solver: Solver, steps: number, samples: number) {
  const dt = maxStableDt(problem, reachableRange(problem));
  solver.setStep(stepParams(problem, problem.config.protocol[0], dt));
  const t = await timeIt(() => solver.advance(steps), { warmup: 1, samples });
  return { t, rate: (problem.grid.cells * steps) / t.median_s };
}

/** The same step, vectorised in NumPy float32 as a careful NumPy user would (in-place, np.take). */
const numpyStep = (n: number, steps: number) => `
import json, time, numpy as np
n, steps, N = ${n}, ${steps}, 4096
yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) + 0.5
mask = ((xx - n/2)**2 + (yy - n/2)**2) < ((n-2)/2)**2
table = np.cumsum(np.concatenate([[0], np.full(N, 1.0/N)])).astype(np.float32)
slope = np.diff(table).astype(np.float32)
m = mask.astype(np.float32)
nin = np.zeros((n, n), np.float32)
nin[1:-1,1:-1] = m[:-2,1:-1] + m[2:,1:-1] + m[1:-1,:-2] + m[1:-1,2:]
xi = (np.float32(0.1) + 0.05 * np.sin(xx * 0.01)).astype(np.float32) * m
rm = (np.float32(0.2) * m).astype(np.float32)
def step(xi):
    x = np.float32(1) - xi; x *= np.float32(N)
    j = x.astype(np.int32); np.minimum(j, N - 1, out=j)
    x -= j
    phi = np.take(slope, j); phi *= x; phi += np.take(table, j); phi *= m
    lap = phi[:-2,1:-1] + phi[2:,1:-1]; lap += phi[1:-1,:-2]; lap += phi[1:-1,2:]
    lap -= nin[1:-1,1:-1] * phi[1:-1,1:-1]; lap *= rm[1:-1,1:-1]
    out = xi.copy(); out[1:-1,1:-1] -= lap
    return out
xi = step(xi)
times = []
for s in range(3):
    t0 = time.perf_counter()
    for k in range(steps): xi = step(xi)
    times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps({"median_s": times[1], "min_s": times[0], "max_s": times[2], "cells": int(mask.sum()), "version": np.__version__}))
`;

export const solverCases: BenchCase[] = [
  {
    name: 'diffusion step',
    async run(ctx: BenchContext): Promise<BenchRow[]> {
      const rows: BenchRow[] = [];
      const sizes = ctx.quick ? [256, 512] : [256, 1024, 4096];
      for (const n of sizes) {
        ctx.log(`diffusion step ${n}²`);
        const problem = await diskProblem(n);
        const size = `${problem.grid.nx}²`;
        const id = (b: string) => `step-${n}-${b}`;
        // CPU reference: a few steps per sample at the big sizes (each is ~0.1 s at 4096²)
        const cpuSteps = Math.max(2, Math.round(2e7 / problem.grid.cells));
        const cpuSolver = await CpuSolver.create(problem);
        const cpu = await stepRate(problem, cpuSolver, cpuSteps, ctx.quick ? 3 : 5);
        cpuSolver.destroy();
        rows.push({ id: id('cpu'), case: 'cell-updates/s', backend: 'cpu-ref', size, value: cpu.rate, unit: 'cells/s', better: 'higher', spread: spreadOf(cpu.t), ratioTo: [id('numpy')], note: cpuSolver.backend.includes('2 threads') ? '2 threads' : '1 thread' });
        if (n <= 1024 || !ctx.quick) {
          const np = ctx.numpy(numpyStep(n, Math.max(2, Math.round(1e7 / problem.grid.cells)))) as { median_s: number; min_s: number; max_s: number; cells: number; version: string } | null;
          if (np) {
            const steps = Math.max(2, Math.round(1e7 / problem.grid.cells));
            rows.push({ id: id('numpy'), case: 'cell-updates/s', backend: 'numpy', size, value: (np.cells * steps) / np.median_s, unit: 'cells/s', better: 'higher', spread: `${((100 * (np.max_s - np.min_s)) / np.median_s).toFixed(0)}%`, note: `NumPy ${np.version}, float32, same step` });
          }
        }
        if (ctx.gpu) {
          let solver: GpuSolver | null = null;
          try {
            solver = await GpuSolver.create(ctx.gpu, problem);
            const steps = Math.max(50, Math.min(2000, Math.round(2e9 / problem.grid.cells / 20)));
            const g = await stepRate(problem, solver, steps, ctx.quick ? 3 : 5);
            rows.push({ id: id('gpu'), case: 'cell-updates/s', backend: 'gpu', size, value: g.rate, unit: 'cells/s', better: 'higher', spread: spreadOf(g.t), ratioTo: [id('cpu'), id('numpy')], note: `${steps} steps per submit` });
            const perStep = g.t.median_s / steps;
            rows.push({ id: id('gpu-step'), case: 'time per step', backend: 'gpu', size, value: perStep * 1e6, unit: 'µs', better: 'lower' });
            // 8 bytes per cell-update (read ξ, write ξ) over the whole grid the kernel sweeps
            const gbs = (8 * problem.grid.nx * problem.grid.ny) / perStep / 1e9;
            rows.push({ id: id('gpu-bw'), case: 'effective bandwidth', backend: 'gpu', size, value: gbs, unit: 'GB/s', better: 'higher', note: '8 B per grid cell per step' });
            rows.push({ id: id('gpu-mem'), case: 'GPU memory per cell', backend: 'gpu', size, value: solver.bytesPerCell, unit: 'B', better: 'lower' });
          } catch (e) {
            rows.push({ id: id('gpu'), case: 'cell-updates/s', backend: 'gpu', size, value: NaN, unit: 'cells/s', better: 'higher', note: `skipped: ${(e as Error).message.slice(0, 80)}` });
          } finally {
            solver?.destroy();
          }
        }
      }
      return rows;
    },
  },
  {
    name: 'fig4c to 20 min',
    async run(ctx: BenchContext): Promise<BenchRow[]> {
      ctx.log('fig4c preset, 20 min of charge');
      const rows: BenchRow[] = [];
      const problem = await buildProblem(resolveConfig(presetConfig('fig4c')));
      const size = `${problem.grid.nx}²`;
      // a fresh solver per sample: runSimulation starts from θ0 each time
      const cpuT = await timeIt(async () => { const s = new CpuSolver(problem); await runSimulation(problem, s); }, { warmup: 0, samples: ctx.quick ? 1 : 3 });
      rows.push({ id: 'fig4c-cpu', case: 'fig4c, 20 min (12k steps)', backend: 'cpu-ref', size, value: cpuT.median_s, unit: 's', better: 'lower', spread: spreadOf(cpuT) });
      if (ctx.gpu) {
        const gpu = ctx.gpu;
        const t = await timeIt(async () => { const s = await GpuSolver.create(gpu, problem); try { await runSimulation(problem, s); } finally { s.destroy(); } }, { warmup: 0, samples: ctx.quick ? 1 : 3 });
        rows.push({ id: 'fig4c-gpu', case: 'fig4c, 20 min (12k steps)', backend: 'gpu', size, value: t.median_s, unit: 's', better: 'lower', spread: spreadOf(t), ratioTo: ['fig4c-cpu'], note: '120 trace outputs read back' });
      }
      return rows;
    },
  },
];
