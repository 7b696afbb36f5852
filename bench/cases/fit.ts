/**
 * `fit`: simulations per fit and wall time per fit, batched against one at a time — the same fit
 * (same synth movie, same seed, so the same candidates) run four ways in this process:
 *   - CPU, candidates one after the other (cpuBatchRunner: the in-process CPU reference),
 *   - CPU pool, a generation's candidates over worker threads (cpuPoolBatchRunner, one per core),
 *   - GPU, one candidate per GpuBatch (gpuBatchRunner with maxLanes 1),
 *   - GPU, each generation one GpuBatch (its candidates the lanes of one set of dispatches).
 * The movie: fig4c (2.4 µm disk, a quarter blocked at η 0.3) through the default camera with noise,
 * 20 min at 100 mA/g, a frame a minute (test/fit/fit.test.ts's); the fit: --model arc, 6 frames, its
 * default grid (R_eq/20: 42×42). --quick: 3 generations. On a software adapter (lavapipe) the GPU rows
 * take 6 generations and measure what batching saves per dispatch there, not what a GPU would do.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchCase, BenchContext, BenchRow } from '../harness';
import { applySet, presetConfig } from '../../src/model/config';
import { synthesizeMovie } from '../../src/synth/movie';
import { writeSynthOutputs } from '../../src/io/synthOutput';
import { openMovie } from '../../src/io/movie';
import { readCapacityFile } from '../../src/io/capacity';
import { readObservedParticle, type ObservedParticle } from '../../src/compare/observed';
import { fitSurface, type FitResult } from '../../src/fit/fit';
import { cpuBatchRunner, gpuBatchRunner, type BatchRunner } from '../../src/fit/batch';
import { cpuPoolBatchRunner, fitPoolAvailable } from '../../src/fit/pool';
import { defaultJobs } from '../../src/sweep/execute';

async function movieObserved(dir: string): Promise<ObservedParticle> {
  const raw = presetConfig('fig4c');
  for (const s of ['grid.spacing_um=0.04', 'synth.frame_s=60']) applySet(raw, s);
  await writeSynthOutputs(dir, await synthesizeMovie(raw));
  const movie = await openMovie(path.join(dir, 'movie.tif'));
  try {
    return await readObservedParticle(movie, { capacity: await readCapacityFile(path.join(dir, 'capacity.csv')), drift: false });
  } finally {
    await movie.close();
  }
}

async function fitRows(ctx: BenchContext): Promise<BenchRow[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ionflux-bench-fit-'));
  const rows: BenchRow[] = [];
  try {
    const obs = await movieObserved(dir);
    const software = !ctx.gpu || ctx.gpu.report.software;
    const cpuGen = ctx.quick ? 3 : undefined;
    const gpuGen = ctx.quick ? 3 : software ? 6 : undefined;
    const one = async (runner: BatchRunner, generations: number | undefined): Promise<FitResult> =>
      fitSurface(obs, { model: 'arc', runner, seed: 1, ...(generations ? { generations } : {}) });
    const row = (id: string, backend: string, r: FitResult, note: string, ratioTo?: string[]): BenchRow => ({
      id, case: 'fit', backend, size: `fig4c movie, arc, ${r.history.length} generations, ${r.simulations} simulations`,
      value: r.wallTime_s, unit: 's/fit', better: 'lower',
      note: `${note}; ${(r.simulations / r.wallTime_s).toFixed(1)} sims/s; best ${r.best.values.slice(0, 3).map((v, i) => v.toFixed(i === 2 ? 3 : 1)).join(' / ')}`,
      ...(ratioTo ? { ratioTo } : {}),
    });
    ctx.log('fit: CPU, candidates one after the other');
    rows.push(row('fit.cpu.single', 'cpu, one at a time', await one(cpuBatchRunner(), cpuGen), 'CPU reference in process, candidates one after the other'));
    if (fitPoolAvailable() && defaultJobs() > 1) {
      ctx.log(`fit: CPU pool (${defaultJobs()} threads)`);
      const pool = cpuPoolBatchRunner();
      try {
        rows.push(row('fit.cpu.pool', `cpu pool ×${defaultJobs()}`, await one(pool, cpuGen), `a generation over ${defaultJobs()} worker threads`, ['fit.cpu.single']));
      } finally {
        await pool.close();
      }
    }
    if (ctx.gpu) {
      const name = `${ctx.gpu.report.name}${software ? ' (software adapter)' : ''}`;
      ctx.log('fit: GPU, one candidate per batch');
      const single = await one(gpuBatchRunner(ctx.gpu, 2 ** 30, 1), gpuGen);
      // against the CPU rows only when both ran the same fit (a software adapter's rows stop after 6 generations)
      const same = gpuGen === cpuGen;
      rows.push(row('fit.gpu.single', 'gpu, 1 lane', single, `one candidate per GpuBatch on ${name}`, same ? ['fit.cpu.single'] : undefined));
      ctx.log('fit: GPU, each generation one batch');
      const batched = await one(gpuBatchRunner(ctx.gpu), gpuGen);
      rows.push(row('fit.gpu.batched', 'gpu, generation = batch', batched, `each generation one GpuBatch on ${name}`, same ? ['fit.gpu.single', 'fit.cpu.single'] : ['fit.gpu.single']));
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const fitCases: BenchCase[] = [{ name: 'fit', run: fitRows }];
