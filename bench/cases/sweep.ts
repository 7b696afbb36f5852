/**
 * `sweep-throughput`: particle simulations per second for a `fig4c`-sized particle (122², 20 min at
 * 100 mA/g; --quick: 2 min) as an N-run sweep (the runs differ in the blocked arc's η), four ways, each
 * a child process from start to its last file:
 *   - a shell loop over `ionflux simulate --backend cpu` (what a scientist writes without sweeps),
 *   - `ionflux sweep --backend cpu` (the thread pool over runs, one thread per core),
 *   - `ionflux sweep --backend gpu --jobs 1` (one run per batch: one run's dispatches at a time),
 *   - `ionflux sweep --backend gpu` (the runs as lanes of one batch, one set of dispatches for all).
 * N = 64 (the issue's size) for the CPU rows; on a software adapter, which runs the WGSL on the CPU at
 * a few tens of Mcell/s, the GPU rows take 8 runs (the note says so) and their ratio measures what
 * batching saves per dispatch, not what a GPU would do.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchCase, BenchContext, BenchRow } from '../harness';
import { measureChildPeakRss } from './imaging';

function specFor(runs: number, minutes: number): Record<string, unknown> {
  const etas = Array.from({ length: runs }, (_, k) => Number((0.2 + (0.75 * k) / Math.max(1, runs - 1)).toFixed(4)));
  return {
    name: 'bench',
    base: { preset: 'fig4c' },
    runs: etas.map((eta) => ({ 'surface.segments': [{ fromDeg: 135, toDeg: 225, eta }], 'protocol.0.duration_min': minutes, snapshots_min: [] })),
  };
}

async function sweepRows(ctx: BenchContext): Promise<BenchRow[]> {
  const minutes = ctx.quick ? 2 : 20;
  const cpuRuns = ctx.quick ? 4 : 64;
  const software = !ctx.gpu || ctx.gpu.report.software;
  const gpuRuns = ctx.quick ? 4 : software ? 8 : 64;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ionflux-bench-sweep-'));
  const rows: BenchRow[] = [];
  const size = (n: number) => `${n} × fig4c 122², ${minutes} min`;
  const row = (id: string, backend: string, n: number, r: { status: number | null; wall_s: number; stderr: string }, note: string, ratioTo?: string[]): BenchRow => ({
    id, case: 'sweep-throughput', backend, size: size(n), value: r.status === 0 ? n / r.wall_s : NaN, unit: 'sims/s', better: 'higher',
    note: r.status === 0 ? note : `FAILED: ${r.stderr.trim().split('\n').pop()}`, ...(ratioTo ? { ratioTo } : {}),
  });
  try {
    const cpuSpec = path.join(dir, 'cpu.json');
    writeFileSync(cpuSpec, JSON.stringify(specFor(cpuRuns, minutes)));
    // the shell loop: one process per run, as `for eta in …; do ionflux simulate --set …; done`
    ctx.log(`sweep-throughput: shell loop over ${cpuRuns} × ionflux simulate`);
    const t0 = performance.now();
    let failed: { status: number | null; wall_s: number; stderr: string } | null = null;
    for (const [k, r] of (specFor(cpuRuns, minutes).runs as Record<string, unknown>[]).entries()) {
      const sets = Object.entries(r).flatMap(([key, v]) => ['--set', `${key}=${JSON.stringify(v)}`]);
      const res = measureChildPeakRss(['simulate', '--preset', 'fig4c', ...sets, '--backend', 'cpu', '--quiet', '--out', path.join(dir, `loop-${k}`)]);
      if (res.status !== 0) { failed = res; break; }
    }
    rows.push(row('sweep.shell', 'shell loop', cpuRuns, failed ?? { status: 0, wall_s: (performance.now() - t0) / 1000, stderr: '' }, 'ionflux simulate --backend cpu per run (process start, table and grid built, all pictures, each time)'));
    ctx.log(`sweep-throughput: ionflux sweep --backend cpu (${cpuRuns} runs)`);
    const pool = measureChildPeakRss(['sweep', '--spec', cpuSpec, '--backend', 'cpu', '--quiet', '--out', path.join(dir, 'pool')]);
    rows.push(row('sweep.cpu', 'cpu pool', cpuRuns, pool, `worker threads over runs (${os.availableParallelism()} cores), one-thread wasm step each`, ['sweep.shell']));
    const gpuSpec = path.join(dir, 'gpu.json');
    writeFileSync(gpuSpec, JSON.stringify(specFor(gpuRuns, minutes)));
    ctx.log(`sweep-throughput: ionflux sweep --backend gpu --jobs 1 (${gpuRuns} runs)`);
    const single = measureChildPeakRss(['sweep', '--spec', gpuSpec, '--backend', 'gpu', '--jobs', '1', '--quiet', '--out', path.join(dir, 'gpu-1')]);
    const adapter = ctx.gpu ? ctx.gpu.report.name : 'the adapter the child finds';
    rows.push(row('sweep.gpu.single', 'gpu, 1 lane', gpuRuns, single, `one run per batch on ${adapter}${software && !ctx.quick ? `; ${gpuRuns} runs (software adapter)` : ''}`, ['sweep.cpu']));
    ctx.log(`sweep-throughput: ionflux sweep --backend gpu (${gpuRuns} lanes)`);
    const batched = measureChildPeakRss(['sweep', '--spec', gpuSpec, '--backend', 'gpu', '--quiet', '--out', path.join(dir, 'gpu-n')]);
    rows.push(row('sweep.gpu.batched', `gpu, ${gpuRuns} lanes`, gpuRuns, batched, `all runs as lanes of one batch${software ? '; a software adapter is compute-bound: the gain is per-dispatch overhead only' : ''}`, ['sweep.gpu.single', 'sweep.cpu']));
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const sweepCases: BenchCase[] = [{ name: 'sweep-throughput', run: sweepRows }];
