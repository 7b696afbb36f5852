/**
 * Solver benchmarks: cell-updates per second of one explicit step (knee D, a 2.4 µm disk, charging)
 * on the GPU solver, the CPU reference and a vectorised NumPy version of the same step, at several
 * grid sizes; time to run the fig4c preset to 20 min; GPU memory per cell.
 * A "cell-update" is one particle cell advanced by one step (cells outside the disk not counted).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem, maxStableDt, reachableRange, stepParams, type Problem } from '../../src/solver/problem';
import { CpuSolver, type CpuKernel } from '../../src/solver/cpu';
import { GpuBatch, GpuSolver } from '../../src/solver/gpu';
import { CELL_COUNTS, tileSide, type CellCount } from '../../src/kernels/diffusionStep';
import { UserError } from '../../src/errors';
import { runSimulation } from '../../src/solver/run';
import { createCamera, forwardModel } from '../../src/optics/forward';
import type { Solver } from '../../src/solver/types';
import { findNumpyPython, spreadOf, timeInterleaved, timeIt, type BenchCase, type BenchContext, type BenchRow, type Timing } from '../harness';

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

/** The peers' problem in Python (n, N defined before): the disk mask, the Φ table, a varied field. */
const PEER_PROBLEM = `yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) + 0.5
mask = ((xx - n/2)**2 + (yy - n/2)**2) < ((n-2)/2)**2
table = np.cumsum(np.concatenate([[0], np.full(N, 1.0/N)])).astype(np.float32)
slope = np.diff(table).astype(np.float32)
m = mask.astype(np.float32)
nin = np.zeros((n, n), np.float32)
nin[1:-1,1:-1] = m[:-2,1:-1] + m[2:,1:-1] + m[1:-1,:-2] + m[1:-1,2:]
xi = (np.float32(0.1) + 0.05 * np.sin(xx * 0.01)).astype(np.float32) * m
rm = (np.float32(0.2) * m).astype(np.float32)`;

/** The same step, vectorised in NumPy float32 as a careful NumPy user would (in-place, np.take). */
const numpyStep = (n: number, steps: number) => `
import json, time, numpy as np
n, steps, N = ${n}, ${steps}, 4096
${PEER_PROBLEM}
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

/**
 * The Numba peer of the CPU step (issue 7): the same float32 step as numpyStep, written as a careful
 * Numba user would: @njit, one fused pass per step with a rolling 3-row Φ̃ buffer, branch-free (mask
 * multiplies, so LLVM vectorises it), ONE thread. argv: n, steps, samples. Prints {"skipped": why}
 * when numba cannot be imported (Debian: apt-get install python3-numba).
 */
const NUMBA_STEP = `
import json, sys, time
import numpy as np
try:
    import numba
except Exception as e:
    print(json.dumps({"skipped": "numba not importable (%s); Debian: apt-get install python3-numba" % str(e).split(chr(10))[0][:60]}))
    sys.exit(0)
numba.set_num_threads(1)
n, steps, samples, N = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), 4096
${PEER_PROBLEM}

@numba.njit(cache=True)
def phirow(xi, m, table, slope, N, y, dst):
    for x in range(xi.shape[1]):
        t = (np.float32(1) - xi[y, x]) * np.float32(N)
        j = min(int(t), N - 1)
        dst[x] = (table[j] + (t - np.float32(j)) * slope[j]) * m[y, x]

@numba.njit(cache=True)
def step(xi, out, m, nin, rm, table, slope, N, buf):
    n0, n1 = xi.shape
    phirow(xi, m, table, slope, N, 0, buf[0])
    phirow(xi, m, table, slope, N, 1, buf[1])
    for y in range(1, n0 - 1):
        phirow(xi, m, table, slope, N, y + 1, buf[(y + 1) % 3])
        u = buf[(y - 1) % 3]; c = buf[y % 3]; d = buf[(y + 1) % 3]
        for x in range(1, n1 - 1):
            lap = (u[x] + d[x] + c[x - 1] + c[x + 1]) - nin[y, x] * c[x]
            out[y, x] = xi[y, x] - rm[y, x] * lap

a, b, buf = xi, xi.copy(), np.zeros((3, n), np.float32)
for k in range(steps): step(a, b, m, nin, rm, table, slope, N, buf); a, b = b, a  # compile (or load the cache), warm up
times = []
for s in range(samples):
    t0 = time.perf_counter()
    for k in range(steps): step(a, b, m, nin, rm, table, slope, N, buf); a, b = b, a
    times.append(time.perf_counter() - t0)
print(json.dumps({"times": times, "cells": int(mask.sum()), "version": numba.__version__}))
`;

/** A Numba runner: the script in a temporary folder of its own (Numba's compile cache lives there too). */
function numbaRunner(): { run(n: number, steps: number, samples: number): { times?: number[]; cells?: number; version?: string; skipped?: string }; close(): void } {
  // the first python3 that imports numba (a pyenv python3 may have NumPy and no Numba; Debian's has both)
  const candidates = [process.env.IONFLUX_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean) as string[];
  const exe = candidates.find((e) => spawnSync(e, ['-c', 'import numba, numpy'], { encoding: 'utf8' }).status === 0) ?? findNumpyPython();
  if (!exe) return { run: () => ({ skipped: 'no python3 with NumPy' }), close() {} };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ionflux-bench-numba-'));
  const file = path.join(dir, 'numba_step.py');
  writeFileSync(file, NUMBA_STEP);
  return {
    run(n, steps, samples) {
      const r = spawnSync(exe, [file, String(n), String(steps), String(samples)], { encoding: 'utf8', env: { ...process.env, NUMBA_CACHE_DIR: dir, NUMBA_NUM_THREADS: '1' } });
      if (r.status !== 0) return { skipped: `Numba peer failed: ${r.stderr.trim().split('\n').pop()}` };
      return JSON.parse(r.stdout.trim().split('\n').pop() as string);
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function timingOf(times: number[]): Timing {
  const t = [...times].sort((a, b) => a - b);
  return { median_s: t[Math.floor(t.length / 2)], min_s: t[0], max_s: t[t.length - 1], samples: t.length };
}

/**
 * The CPU step kernels side by side (issue 7): the split JS passes (a Φ̃ array, then the stencil),
 * the fused JS pass, the fused WebAssembly SIMD pass on 1 and 2 threads, and the Numba peer, all
 * bit-identical except Numba (float32, same work). Samples are interleaved round by round (the
 * machine may be shared), medians reported.
 */
const cpuStepCase: BenchCase = {
  name: 'cpu step kernels',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    const sizes = ctx.quick ? [256, 512] : [256, 1024, 2048];
    const rounds = ctx.quick ? 3 : 7;
    const kinds: { key: string; backend: string; kernel: CpuKernel; threads: boolean; label: string }[] = [
      { key: 'split', backend: 'cpu-split', kernel: 'split', threads: false, label: 'split JS (Φ̃ array, then stencil), 1 thread' },
      { key: 'js', backend: 'cpu-js', kernel: 'js', threads: false, label: 'fused JS, 1 thread' },
      { key: 'wasm-scalar', backend: 'cpu-wasm-scalar', kernel: 'wasm-scalar', threads: false, label: 'fused wasm, no SIMD, 1 thread' },
      { key: 'wasm-rect', backend: 'cpu-wasm-rect', kernel: 'wasm-rect', threads: false, label: 'fused wasm SIMD over the bounding box, 1 thread' },
      { key: 'wasm', backend: 'cpu-wasm', kernel: 'wasm', threads: false, label: 'fused wasm SIMD, 1 thread' },
      { key: 'wasm2', backend: 'cpu-wasm-2t', kernel: 'wasm', threads: true, label: 'fused wasm SIMD, 2 threads' },
    ];
    const numba = numbaRunner();
    try {
      for (const n of sizes) {
        ctx.log(`cpu step kernels ${n}²`);
        const problem = await diskProblem(n);
        const size = `${problem.grid.nx}²`;
        const id = (b: string) => `cpustep-${n}-${b}`;
        const steps = Math.max(3, Math.round((ctx.quick ? 2e6 : 1e7) / problem.grid.cells));
        const dt = maxStableDt(problem, reachableRange(problem));
        // the charge step without its cut-off: a run that ended would time nothing
        const params = { ...stepParams(problem, problem.config.protocol[0], dt), stopBelowPhi: -Infinity, stopAbovePhi: Infinity };
        const solvers: CpuSolver[] = [];
        for (const k of kinds) {
          const s = await CpuSolver.create(problem, { kernel: k.kernel, threads: k.threads });
          s.setStep(params);
          await s.advance(steps); // warm-up
          solvers.push(s);
        }
        const times: number[][] = kinds.map(() => []);
        const numbaTimes: number[] = [];
        let numbaInfo: { cells?: number; version?: string; skipped?: string } = {};
        for (let round = 0; round < rounds; round++) {
          for (const [i, s] of solvers.entries()) {
            const t0 = performance.now();
            await s.advance(steps);
            times[i].push((performance.now() - t0) / 1000);
          }
          if (!numbaInfo.skipped) {
            const r = numba.run(n, steps, 1);
            numbaInfo = r;
            if (r.times) numbaTimes.push(...r.times);
            else ctx.log(`cpu step kernels: Numba peer skipped: ${r.skipped}`);
          }
        }
        for (const [i, k] of kinds.entries()) {
          const t = timingOf(times[i]);
          const peer = numbaTimes.length ? [id('numba')] : [];
          const ratios = k.key === 'split' ? peer : k.key === 'wasm2' || k.key === 'wasm-rect' ? [id('wasm'), id('split'), ...peer] : [id('split'), ...peer];
          rows.push({ id: id(k.key), case: 'CPU step, cell-updates/s', backend: k.backend, size, value: (problem.grid.cells * steps) / t.median_s, unit: 'cells/s', better: 'higher', spread: spreadOf(t), ratioTo: ratios, note: `${k.label}; ${solvers[i].backend}` });
          solvers[i].destroy();
        }
        if (numbaTimes.length && numbaInfo.cells) {
          const t = timingOf(numbaTimes);
          rows.push({ id: id('numba'), case: 'CPU step, cell-updates/s', backend: 'numba', size, value: (numbaInfo.cells * steps) / t.median_s, unit: 'cells/s', better: 'higher', spread: spreadOf(t), note: `Numba ${numbaInfo.version}, @njit float32, fused, rolling 3-row Φ̃ buffer, 1 thread` });
        } else {
          rows.push({ id: id('numba'), case: 'CPU step, cell-updates/s', backend: 'numba', size, value: NaN, unit: 'cells/s', better: 'higher', note: `skipped: ${numbaInfo.skipped ?? 'no samples'}` });
        }
      }
    } finally {
      numba.close();
    }
    return rows;
  },
};

/**
 * Where a second CPU thread pays (THREAD_MIN_CELLS in src/solver/cpu.ts): the fig4c particle at
 * grid spacings from 0.03 to 0.005 µm (5 k to 181 k cells; --quick: 0.03, 0.02, 0.01), one and two
 * threads of the default (wasm SIMD) step, charging without a cut-off, samples interleaved (7
 * rounds, 3 --quick) of ~3·10⁷ cell-updates each. Rows: µs per step of each, the ratio.
 * Then at 0.02 µm (fig4c's grid) with all cores but one kept busy by other processes (busy loops,
 * started for these samples and stopped after): one thread, two threads as they run (the helper
 * paced, src/solver/threadPacer.ts: they step alone while the two share a core) and two threads
 * offered every step (alwaysTwoThreads: what they did before the pacing), and — at 0.02 µm, quiet
 * and busy — two threads whose pacer also times one thread every second (its probes, on by default
 * above 2 cores, where the CPU test can miss a shared core).
 */
const cpuThreadsCase: BenchCase = {
  name: 'cpu threads',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    const spacings = ctx.quick ? [0.03, 0.02, 0.01] : [0.03, 0.025, 0.02, 0.015, 0.01, 0.005];
    const row = (id: string, backend: string, size: string, t: Timing, n: number, note: string, ratioTo?: string[]): BenchRow =>
      ({ id, case: 'CPU step, µs per step', backend, size, value: (1e6 * t.median_s) / n, unit: 'µs', better: 'lower', spread: spreadOf(t), ratioTo, note });
    for (const h of spacings) {
      ctx.log(`cpu threads ${h} µm`);
      const problem = await fig4cAt(h);
      const solvers = [await CpuSolver.create(problem, { threads: false }), await CpuSolver.create(problem, { threads: true })];
      // at fig4c's grid also two threads whose pacer probes one thread every second (the default above 2 cores)
      if (h === 0.02) solvers.push(await CpuSolver.create(problem, { threads: true, handshakeTestHooks: { probeEvery_ms: 1000 } }));
      try {
        const { n, times: [one, two, probed] } = await interleavedSteps(problem, solvers, ctx.quick);
        const size = `${h} µm (${problem.grid.nx}², ${problem.grid.cells} cells)`;
        const id = (k: string) => `cputhreads-${h}-${k}`;
        rows.push(row(id('1'), 'cpu-1t', size, one, n, solvers[0].backend));
        rows.push(row(id('2'), 'cpu-2t', size, two, n, `${solvers[1].backend}; advance(${n}) per sample`, [id('1')]));
        if (probed) rows.push(row(id('2probe'), 'cpu-2t-probed', size, probed, n, probeNote(solvers[2]), [id('1'), id('2')]));
      } finally {
        for (const sv of solvers) sv.destroy();
      }
    }
    const busy = Math.max(1, os.availableParallelism() - 1);
    ctx.log(`cpu threads 0.02 µm, ${busy} core(s) busy`);
    const problem = await fig4cAt(0.02);
    const solvers = [
      await CpuSolver.create(problem, { threads: false }),
      await CpuSolver.create(problem, { threads: true }),
      await CpuSolver.create(problem, { threads: true, handshakeTestHooks: { alwaysTwoThreads: true } }),
      await CpuSolver.create(problem, { threads: true, handshakeTestHooks: { probeEvery_ms: 1000 } }),
    ];
    const hogs = startBusyLoops(busy);
    try {
      await new Promise((resolve) => setTimeout(resolve, 100)); // the loops are running
      const { n, steps, times: [one, two, always, probed] } = await interleavedSteps(problem, solvers, ctx.quick);
      const size = `0.02 µm (${problem.grid.nx}², ${problem.grid.cells} cells), ${busy} of ${os.availableParallelism()} cores busy`;
      const id = (k: string) => `cputhreads-busy-${k}`;
      rows.push(row(id('1'), 'cpu-1t', size, one, n, solvers[0].backend));
      rows.push(row(id('2'), 'cpu-2t', size, two, n, `2 threads, paced: ${(100 * (solvers[1].pacing?.soloSteps ?? 0) / steps).toFixed(0)} % of its steps on one thread`, [id('1')]));
      rows.push(row(id('2always'), 'cpu-2t-every-step', size, always, n, 'two threads offered every step (alwaysTwoThreads), as before the pacing', [id('1')]));
      rows.push(row(id('2probe'), 'cpu-2t-probed', size, probed, n, probeNote(solvers[3]), [id('1')]));
    } finally {
      await stopBusyLoops(hogs);
      for (const sv of solvers) sv.destroy();
    }
    return rows;
  },
};

/** What a probing pacer did: its probes, its spells, the two step times it compared. */
function probeNote(sv: CpuSolver): string {
  const p = sv.pacing;
  if (!p) return 'no pacer';
  const us = (ms: number) => (Number.isFinite(ms) ? `${(1000 * ms).toFixed(1)} µs` : '—');
  return `2 threads, paced with a probe of one thread every 1 s (the default above 2 cores): ${p.probeSteps} probe steps, ${p.soloSteps} steps in ${p.spells} spells; last timed ${us(p.togetherStep_ms)} on two, ${us(p.soloStep_ms)} on one`;
}

/** The fig4c problem at grid spacing h µm. */
async function fig4cAt(h: number): Promise<Problem> {
  const raw = presetConfig('fig4c');
  raw.grid = { spacing_um: h };
  return buildProblem(resolveConfig(raw));
}

/**
 * Each solver charging `problem` without a cut-off: 200 steps of warm-up (code, the helper's start),
 * then samples of n steps (~3·10⁷ cell-updates, 10⁷ --quick), interleaved solver by solver.
 */
async function interleavedSteps(problem: Problem, solvers: CpuSolver[], quick: boolean): Promise<{ n: number; steps: number; times: Timing[] }> {
  const dt = maxStableDt(problem, reachableRange(problem));
  const params = { ...stepParams(problem, problem.config.protocol[0], dt), stopBelowPhi: -Infinity, stopAbovePhi: Infinity };
  const warm = 200, samples = quick ? 3 : 7;
  for (const sv of solvers) { sv.setStep(params); await sv.advance(warm); }
  const n = Math.max(50, Math.round((quick ? 1e7 : 3e7) / problem.grid.cells));
  const times = await timeInterleaved(solvers.map((sv) => () => sv.advance(n)), samples);
  // timeInterleaved calls each once untimed first: the steps each solver took in all
  return { n, steps: warm + n * (1 + samples), times };
}

/**
 * `count` processes that keep a core busy each: a busy loop that ends by itself after 5 minutes or
 * when its parent is gone (a bench killed with SIGKILL leaves no loop behind).
 */
function startBusyLoops(count: number): ChildProcess[] {
  const src = 'const p = process.ppid, end = Date.now() + 300000; for (let i = 0; ; i++) if ((i & 0xfffff) === 0 && (Date.now() > end || process.ppid !== p)) break;';
  return Array.from({ length: count }, () => spawn(process.execPath, ['-e', src], { stdio: 'ignore' }));
}

/** Stops the busy loops and waits until they have exited. */
async function stopBusyLoops(loops: ChildProcess[]): Promise<void> {
  await Promise.all(loops.map((k) => new Promise<void>((resolve) => {
    if (k.exitCode !== null || k.signalCode !== null) return resolve();
    k.once('exit', () => resolve());
    k.kill();
  })));
}

/**
 * The CPU forward model of one trace row (`CpuSolver.optics`, `measureField`): ms per frame of
 * `forwardModel` on fig4c's camera (62², 0.05 µm pixels) with a θ field on the particle, warm (20
 * untimed calls, then 101 timed; --quick 31). What the trace rows of a CPU run cost besides the steps.
 */
const forwardModelCase: BenchCase = {
  name: 'forward model',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const problem = await buildProblem(resolveConfig(presetConfig('fig4c')));
    const { grid } = problem;
    const camera = createCamera(grid, problem.config.optics);
    const theta = Float32Array.from(grid.inside, (v, i) => (v ? 0.9 + 0.05 * Math.sin(i) : NaN));
    const t = await timeIt(() => forwardModel(theta, camera, problem.theta0), { warmup: 20, samples: ctx.quick ? 31 : 101 });
    const mask = camera.mask.reduce((a, b) => a + b, 0);
    return [{
      id: 'forward-cpu', case: 'forward model, ms per frame (warm)', backend: 'cpu', size: `${grid.nx}² grid → ${camera.width}×${camera.height} px`,
      value: t.median_s * 1e3, unit: 'ms', better: 'lower', spread: spreadOf(t), note: `${mask} mask pixels; median of ${t.samples} calls`,
    }];
  },
};

/**
 * The GPU solver's host-boundness and batching (issue 8 item 4, issue 7 item 5), on the fig4c
 * problem (122² grid): time per step of one lane stepping alone (long advance: submits of 4096 steps,
 * each ending in a 32-byte readback), the whole fig4c run (12 000 steps, 121 outputs), and time per
 * step per lane of 64 lanes in one GpuBatch against 64 batches of one stepped one after another.
 */
const gpuBatchCase: BenchCase = {
  name: 'gpu batch',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    if (!ctx.gpu) return [];
    const gpu = ctx.gpu;
    const rows: BenchRow[] = [];
    const problem = await buildProblem(resolveConfig(presetConfig('fig4c')));
    const size = `${problem.grid.nx}²`;
    const dt = maxStableDt(problem, reachableRange(problem));
    // the charge step without its cut-off: a run that ended would time nothing
    const params = { ...stepParams(problem, problem.config.protocol[0], dt), stopBelowPhi: -Infinity, stopAbovePhi: Infinity };
    const samples = ctx.quick ? 2 : 5;
    ctx.log('gpu batch: one lane, long advance');
    const longSteps = ctx.quick ? 4096 : 16384;
    const single = await GpuSolver.create(gpu, problem);
    try {
      single.setStep(params);
      const t = await timeIt(() => single.advance(longSteps), { warmup: 1, samples });
      rows.push({ id: 'gpubatch-one-long', case: `one lane, advance(${longSteps}): time per step`, backend: 'gpu', size, value: (t.median_s / longSteps) * 1e6, unit: 'µs', better: 'lower', spread: spreadOf(t) });
    } finally {
      single.destroy();
    }
    ctx.log('gpu batch: fig4c run, one lane');
    const run = await timeIt(async () => { const s = await GpuSolver.create(gpu, problem); try { await runSimulation(problem, s); } finally { s.destroy(); } }, { warmup: 1, samples: ctx.quick ? 1 : 3 });
    rows.push({ id: 'gpubatch-one-run', case: 'one lane, fig4c run (12k steps): time per step', backend: 'gpu', size, value: (run.median_s / 12000) * 1e6, unit: 'µs', better: 'lower', spread: spreadOf(run), note: `whole run ${run.median_s.toFixed(2)} s` });
    const L = 64, steps = ctx.quick ? 64 : 256;
    ctx.log(`gpu batch: ${L} lanes × ${steps} steps, one batch and ${L} batches of one`);
    const batch = await GpuBatch.create(gpu, Array.from({ length: L }, () => problem));
    const ones = await Promise.all(Array.from({ length: L }, () => GpuSolver.create(gpu, problem)));
    try {
      for (const s of [...batch.lanes, ...ones]) s.setStep(params);
      const [batched, sequential] = await timeInterleaved([
        () => Promise.all(batch.lanes.map((lane) => lane.advance(steps))),
        async () => { for (const s of ones) await s.advance(steps); },
      ], samples);
      const perLaneStep = (t: Timing) => (t.median_s / (L * steps)) * 1e6;
      rows.push({ id: 'gpubatch-64-seq', case: `${L} lanes: time per step per lane`, backend: 'gpu', size, value: perLaneStep(sequential), unit: 'µs', better: 'lower', spread: spreadOf(sequential), note: `${L} batches of one, one after another, advance(${steps}) each` });
      rows.push({ id: 'gpubatch-64', case: `${L} lanes: time per step per lane`, backend: 'gpu', size, value: perLaneStep(batched), unit: 'µs', better: 'lower', spread: spreadOf(batched), ratioTo: ['gpubatch-64-seq'], note: `one GpuBatch of ${L}, advance(${steps}) on every lane at once; ${batch.lanes[0].bytesPerCell.toFixed(2)} B per cell per lane` });
    } finally {
      for (const s of [...batch.lanes, ...ones]) s.destroy();
    }
    // whole runs with their outputs (a trace row every 10 s: ~100 steps per advance): 8 lanes of
    // fig4c at 8 currents, 5 min of charge, concurrently in one batch vs one after another alone
    const R = 8;
    ctx.log(`gpu batch: ${R} fig4c runs (5 min, 8 currents), one batch and one after another`);
    const runs = await Promise.all(Array.from({ length: R }, (_, i) => {
      const raw = presetConfig('fig4c');
      raw.protocol = [{ step: 'charge', current_mA_g: 50 + 25 * i, duration_min: 5 }];
      raw.snapshots_min = [5];
      return buildProblem(resolveConfig(raw));
    }));
    let runSteps = 0;
    const [together, apart] = await timeInterleaved([
      async () => {
        const b = await GpuBatch.create(gpu, runs);
        const res = await Promise.all(b.lanes.map(async (lane, i) => { try { return await runSimulation(runs[i], lane); } finally { lane.destroy(); } }));
        runSteps = res.reduce((a, r) => a + r.steps, 0);
      },
      async () => { for (const p of runs) { const s = await GpuSolver.create(gpu, p); try { await runSimulation(p, s); } finally { s.destroy(); } } },
    ], ctx.quick ? 1 : 2);
    const perStep = (t: Timing) => (t.median_s / runSteps) * 1e6;
    rows.push({ id: 'gpubatch-runs-seq', case: `${R} fig4c runs: time per step per lane`, backend: 'gpu', size, value: perStep(apart), unit: 'µs', better: 'lower', spread: spreadOf(apart), note: `one after another, each a batch of one (${runSteps} steps in all)` });
    rows.push({ id: 'gpubatch-runs', case: `${R} fig4c runs: time per step per lane`, backend: 'gpu', size, value: perStep(together), unit: 'µs', better: 'lower', spread: spreadOf(together), ratioTo: ['gpubatch-runs-seq'], note: `one GpuBatch, ${R} runSimulation coroutines at once` });
    return rows;
  },
};

/**
 * The GPU step's host cost (issue 7 item 5): a batch of one lane on the disk problem at a few grid
 * sizes, stepping without a cut-off, against the CPU reference in the same run, samples interleaved
 * (GPU, GPU with every tile dispatched, CPU, GPU, …). Rows: steps/s of each; the host's encode +
 * submit time per step (GpuBatch.hostCost: createCommandEncoder to queue.submit returning, readbacks
 * not included; one submit per sample, encoded while the GPU is idle; median over the samples) and
 * the steps per dispatch the solver records; the same with the other step counter (StepCounter:
 * the GPU counts its steps, one host call per step, or the host phases them, two); the steps/s of
 * the other tile size (CellsPerInvocation: 1 cell per invocation on 16×16-cell tiles where the
 * default is more, else 2 on 32×32). The 32² grid (a 30-cell disk, 4 tiles) gives the GPU
 * almost nothing to do: its steps/s is the host-bound rate and its host µs per step the encode cost
 * with 4096 steps per submit (the per-submit costs spread thin). And temporal blocking (K steps per
 * dispatch, shaders/diffusion_block.wgsl; K: the first of IONFLUX_BENCH_STEPS_PER_DISPATCH, default 4): its
 * steps/s, host µs per step and steps per dispatch, in the same interleaved samples.
 */
const gpuStepHostCase: BenchCase = {
  name: 'gpu step host',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    if (!ctx.gpu) return [];
    const rows: BenchRow[] = [];
    const sizes = benchSizes() ?? (ctx.quick ? [32, 256] : [32, 128, 256, 1024]);
    const rounds = ctx.quick ? 3 : 5;
    for (const n of sizes) {
      ctx.log(`gpu step host ${n}²`);
      const problem = await diskProblem(n);
      const size = `${problem.grid.nx}²`;
      const id = (b: string) => `gpuhost-${n}-${b}`;
      const dt = maxStableDt(problem, reachableRange(problem));
      // the charge step at a thousandth of its current, without cut-off and θ-range guard: thousands of
      // samples' steps never fill the particle (a stopped lane's steps are copies, and would time nothing)
      const charge = stepParams(problem, problem.config.protocol[0], dt);
      const params = { ...charge, fluxPerStep: charge.fluxPerStep * 1e-3, stopBelowPhi: -Infinity, stopAbovePhi: Infinity, guardAboveQ: undefined, guardBelowQ: undefined };
      // steps per sample: from a first guess, rescaled after the warm-up to ~0.5 s (0.25 s --quick) of
      // GPU work, in one submit (at most 4096 steps and 2³⁰ cell-steps: GpuBatch's submit bounds)
      const guess = Math.max(16, Math.min(2048, Math.round(1e7 / problem.grid.cells)));
      const cpuSteps = Math.max(16, Math.round((ctx.quick ? 2e7 : 1e8) / problem.grid.cells));
      const batch = await GpuBatch.create(ctx.gpu, [problem]);
      // the same problem with every tile of the grid dispatched (the fused kernel's tile list off)
      const allTiles = await GpuBatch.create(ctx.gpu, [problem], { tiles: 'all' });
      // the other step counter (the default is 'auto': the GPU counts up to 1024 workgroups per dispatch)
      const other = await GpuBatch.create(ctx.gpu, [problem], { stepCounter: batch.stepCounter === 'gpu' ? 'host' : 'gpu' });
      // the other tile size (CellsPerInvocation: 1 cell per invocation where 'auto' takes more, as on a software adapter, else 2;
      // IONFLUX_BENCH_CELLS picks it), with the default's step counter ('auto' would decide by the workgroups, which the tile size changes 4×)
      const otherCells = await GpuBatch.create(ctx.gpu, [problem], { cellsPerInvocation: benchCells() ?? (batch.cellsPerInvocation === 1 ? 2 : 1), stepCounter: batch.stepCounter });
      // temporal blocking, unless IONFLUX_BENCH_STEPS_PER_DISPATCH=1
      const K = blockSizes()[0];
      const blocked = K ? await GpuBatch.create(ctx.gpu, [problem], { stepsPerDispatch: K }) : null;
      const cpu = await CpuSolver.create(problem);
      const gpus = blocked ? [batch, allTiles, other, otherCells, blocked] : [batch, allTiles, other, otherCells];
      try {
        for (const b of gpus) b.lanes[0].setStep(params);
        await batch.lanes[0].advance(guess); // warm-up (pipelines, first submits), then the rate
        const w0 = performance.now();
        await batch.lanes[0].advance(guess);
        const perStep_s = (performance.now() - w0) / 1000 / guess;
        const steps = Math.max(16, Math.min(4096, Math.floor(2 ** 30 / problem.grid.cells), Math.round((ctx.quick ? 0.25 : 0.5) / perStep_s)));
        await allTiles.lanes[0].advance(guess);
        await other.lanes[0].advance(guess);
        await otherCells.lanes[0].advance(guess);
        await blocked?.lanes[0].advance(guess);
        cpu.setStep(params);
        await cpu.advance(cpuSteps);
        const times: number[][] = [[], [], [], [], [], []]; // the GPU batches as in gpus (blocked at 4), then the CPU
        const host: number[] = [], hostOther: number[] = [], hostBlocked: number[] = [];
        let dispatches = 0, gpuSteps = 0, blockedDispatches = 0, blockedSteps = 0;
        for (let r = 0; r < rounds; r++) {
          for (const [k, b] of gpus.entries()) {
            Object.assign(b.hostCost, { encode_ms: 0, steps: 0, dispatches: 0, submits: 0 });
            const t0 = performance.now();
            await b.lanes[0].advance(steps);
            times[k].push((performance.now() - t0) / 1000);
            if (k === 0) {
              host.push((1000 * b.hostCost.encode_ms) / b.hostCost.steps);
              dispatches += b.hostCost.dispatches;
              gpuSteps += b.hostCost.steps;
            }
            if (k === 2) hostOther.push((1000 * b.hostCost.encode_ms) / b.hostCost.steps);
            if (k === 4) {
              hostBlocked.push((1000 * b.hostCost.encode_ms) / b.hostCost.steps);
              blockedDispatches += b.hostCost.dispatches;
              blockedSteps += b.hostCost.steps;
            }
          }
          const t0 = performance.now();
          await cpu.advance(cpuSteps);
          times[5].push((performance.now() - t0) / 1000);
        }
        const [g, a, o, oc, bl, c] = times.map(timingOf);
        const h = timingOf(host), ho = timingOf(hostOther), hb = timingOf(hostBlocked);
        const counted = (b: GpuBatch) => (b.stepCounter === 'gpu' ? 'steps counted on the GPU' : 'steps phased by the host');
        rows.push({ id: id('cpu'), case: 'steps/s, disk', backend: 'cpu-ref', size, value: cpuSteps / c.median_s, unit: 'steps/s', better: 'higher', spread: spreadOf(c), note: cpu.backend });
        rows.push({ id: id('gpu'), case: 'steps/s, disk', backend: 'gpu', size, value: steps / g.median_s, unit: 'steps/s', better: 'higher', spread: spreadOf(g), ratioTo: [id('cpu'), id('gpu-all')], note: `advance(${steps}) per sample, particle tiles only, ${counted(batch)}; ${batch.lanes[0].backend}` });
        rows.push({ id: id('gpu-all'), case: 'steps/s, disk', backend: 'gpu-all-tiles', size, value: steps / a.median_s, unit: 'steps/s', better: 'higher', spread: spreadOf(a), ratioTo: [id('cpu')], note: 'every tile of the grid dispatched' });
        rows.push({ id: id('gpu-other'), case: 'steps/s, disk', backend: other.stepCounter === 'host' ? 'gpu-host-phased' : 'gpu-self-counted', size, value: steps / o.median_s, unit: 'steps/s', better: 'higher', spread: spreadOf(o), ratioTo: [id('gpu')], note: counted(other) });
        const cellsNote = (b: GpuBatch) => { const c = b.cellsPerInvocation, t = tileSide(c); return `${c} cell${c > 1 ? 's' : ''} per invocation along each axis (${t}×${t}-cell tiles, ${t / c}×${t / c} workgroups)`; };
        rows.push({ id: id('gpu-cells'), case: 'steps/s, disk', backend: `gpu-${otherCells.cellsPerInvocation}-cell${otherCells.cellsPerInvocation > 1 ? 's' : ''}`, size, value: steps / oc.median_s, unit: 'steps/s', better: 'higher', spread: spreadOf(oc), ratioTo: [id('gpu')], note: `${cellsNote(otherCells)}; the default row: ${cellsNote(batch)}` });
        if (blocked) rows.push({ id: id('gpu-blocked'), case: 'steps/s, disk', backend: `gpu-${K}-per-dispatch`, size, value: steps / bl.median_s, unit: 'steps/s', better: 'higher', spread: spreadOf(bl), ratioTo: [id('gpu')], note: `temporal blocking: ${K} steps per dispatch in workgroup memory (diffusion_block.wgsl)` });
        rows.push({ id: id('host'), case: 'host µs per step (encode + submit)', backend: 'gpu', size, value: h.median_s, unit: 'µs', better: 'lower', spread: spreadOf(h), ratioTo: [id('host-other')], note: `min ${h.min_s.toFixed(1)} µs; one submit of ${steps} steps per sample; ${counted(batch)}` });
        rows.push({ id: id('host-other'), case: 'host µs per step (encode + submit)', backend: other.stepCounter === 'host' ? 'gpu-host-phased' : 'gpu-self-counted', size, value: ho.median_s, unit: 'µs', better: 'lower', spread: spreadOf(ho), note: `min ${ho.min_s.toFixed(1)} µs; ${counted(other)}` });
        if (blocked) rows.push({ id: id('host-blocked'), case: 'host µs per step (encode + submit)', backend: `gpu-${K}-per-dispatch`, size, value: hb.median_s, unit: 'µs', better: 'lower', spread: spreadOf(hb), ratioTo: [id('host')], note: `min ${hb.min_s.toFixed(1)} µs; a dynamic uniform offset per block` });
        rows.push({ id: id('spd'), case: 'steps per dispatch', backend: 'gpu', size, value: gpuSteps / dispatches, unit: 'steps', better: 'higher', note: `${dispatches} dispatches for ${gpuSteps} steps` });
        if (blocked) rows.push({ id: id('spd-blocked'), case: 'steps per dispatch', backend: `gpu-${K}-per-dispatch`, size, value: blockedSteps / blockedDispatches, unit: 'steps', better: 'higher', note: `${blockedDispatches} dispatches for ${blockedSteps} steps (⌈m/${K}⌉ blocks, a resolving block and finalize per submit of m)` });
      } finally {
        for (const b of gpus) b.lanes[0].destroy();
        cpu.destroy();
      }
    }
    return rows;
  },
};

/** IONFLUX_BENCH_SIZES=256,1024: the grids of the `gpu step host` and `diffusion step` cases (for A/B runs of one size), or null */
function benchSizes(): number[] | null {
  return process.env.IONFLUX_BENCH_SIZES?.split(',').map(Number).filter((v) => Number.isInteger(v) && v >= 8) ?? null;
}

/** The block sizes the GPU rows also measure: IONFLUX_BENCH_STEPS_PER_DISPATCH (a comma list, 1 for none), default 4 and 8. */
/** IONFLUX_BENCH_CELLS=8: the cells per invocation of the `gpu step host` case's other-tile-size row (1, 2, 4 or 8), or null for its default */
function benchCells(): CellCount | null {
  const v = process.env.IONFLUX_BENCH_CELLS;
  if (v === undefined) return null;
  const c = Number(v) as CellCount;
  if (!CELL_COUNTS.includes(c)) throw new UserError(`IONFLUX_BENCH_CELLS = '${v}': allowed are ${CELL_COUNTS.join(', ')}`);
  return c;
}

function blockSizes(): number[] {
  const v = process.env.IONFLUX_BENCH_STEPS_PER_DISPATCH?.split(',').map(Number) ?? [4, 8];
  return v.filter((k) => Number.isInteger(k) && k > 1);
}

/**
 * Memory traffic per cell-update of K steps per dispatch: each 16×16 tile reads its (16 + 2K)²
 * region once and writes its 256 cells once per K steps (the wall lists, a few words per tile, aside).
 */
function blockedBytes(K: number): number {
  return (4 * (16 + 2 * K) ** 2 + 4 * 256) / (256 * K);
}

export const solverCases: BenchCase[] = [
  {
    name: 'diffusion step',
    async run(ctx: BenchContext): Promise<BenchRow[]> {
      const rows: BenchRow[] = [];
      const sizes = benchSizes() ?? (ctx.quick ? [256, 512] : [256, 1024, 4096]);
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
        rows.push({ id: id('cpu'), case: 'cell-updates/s', backend: 'cpu-ref', size, value: cpu.rate, unit: 'cells/s', better: 'higher', spread: spreadOf(cpu.t), ratioTo: [id('numpy')], note: cpuSolver.backend });
        if (n <= 1024 || !ctx.quick) {
          const np = ctx.numpy(numpyStep(n, Math.max(2, Math.round(1e7 / problem.grid.cells)))) as { median_s: number; min_s: number; max_s: number; cells: number; version: string } | null;
          if (np) {
            const steps = Math.max(2, Math.round(1e7 / problem.grid.cells));
            rows.push({ id: id('numpy'), case: 'cell-updates/s', backend: 'numpy', size, value: (np.cells * steps) / np.median_s, unit: 'cells/s', better: 'higher', spread: `${((100 * (np.max_s - np.min_s)) / np.median_s).toFixed(0)}%`, note: `NumPy ${np.version}, float32, same step` });
          }
        }
        if (ctx.gpu) {
          // one step per dispatch, then temporal blocking (K steps per dispatch in workgroup memory)
          for (const K of [1, ...blockSizes()]) {
            const tag = K === 1 ? 'gpu' : `gpu-k${K}`;
            const backend = K === 1 ? 'gpu' : `gpu-${K}-per-dispatch`;
            let solver: GpuSolver | null = null;
            try {
              solver = await GpuSolver.create(ctx.gpu, problem, { stepsPerDispatch: K });
              const steps = Math.max(50, Math.min(2000, Math.round(2e9 / problem.grid.cells / 20)));
              const g = await stepRate(problem, solver, steps, ctx.quick ? 3 : 5);
              rows.push({ id: id(tag), case: 'cell-updates/s', backend, size, value: g.rate, unit: 'cells/s', better: 'higher', spread: spreadOf(g.t), ratioTo: K === 1 ? [id('cpu'), id('numpy')] : [id('gpu')], note: `${steps} steps per submit` });
              const perStep = g.t.median_s / steps;
              rows.push({ id: id(`${tag}-step`), case: 'time per step', backend, size, value: perStep * 1e6, unit: 'µs', better: 'lower' });
              // 8 bytes per cell-update (read ξ, write ξ) over the whole grid the kernel sweeps; a
              // blocked kernel moves less than that, so its figure is the single-step equivalent
              const gbs = (8 * problem.grid.nx * problem.grid.ny) / perStep / 1e9;
              rows.push({ id: id(`${tag}-bw`), case: 'effective bandwidth', backend, size, value: gbs, unit: 'GB/s', better: 'higher', note: K === 1 ? '8 B per grid cell per step' : `8 B per grid cell per step (what single steps move; ${K} per dispatch move ~${blockedBytes(K).toFixed(1)} B)` });
              if (K === 1) rows.push({ id: id('gpu-mem'), case: 'GPU memory per cell', backend, size, value: solver.bytesPerCell, unit: 'B', better: 'lower' });
            } catch (e) {
              rows.push({ id: id(tag), case: 'cell-updates/s', backend, size, value: NaN, unit: 'cells/s', better: 'higher', note: `skipped: ${(e as Error).message.slice(0, 80)}` });
            } finally {
              solver?.destroy();
            }
          }
        }
      }
      return rows;
    },
  },
  cpuStepCase,
  cpuThreadsCase,
  forwardModelCase,
  gpuBatchCase,
  gpuStepHostCase,
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
