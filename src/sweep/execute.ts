/**
 * Where a sweep's runs execute, three ways with one contract: each finished run is written into a
 * partial folder and handed to `done`, which commits it (folder.ts).
 *
 * - GPU: runs whose grids have the same shape are stepped together as the lanes of one batch
 *   (src/solver/gpu.ts GpuBatch: one set of dispatches for all, each lane with its own uniforms and
 *   stop flag); each lane is driven by its own runSimulation, so a run is the same computation as
 *   `simulate` of its config.
 * - CPU pool: worker threads over runs, each run on a one-thread CpuSolver (threads pay across
 *   runs, not inside a small one). The threads load the bundle this code runs from (dist/cli.js or
 *   dist/lib/index.js); from the TypeScript sources (tests) there is no bundle, and runs execute
 *   in process instead.
 * - In process, one after the other: `--jobs 1`, or no bundle to start threads from.
 */
import os from 'node:os';
import type { GpuContext } from '../gpu/device';
import { CpuSolver } from '../solver/cpu';
import { GpuBatch } from '../solver/gpu';
import type { Problem } from '../solver/problem';
import { newWorker } from '../solver/workerFlags';
import { UserError } from '../errors';
import { problemOf, simulatePlanned, writeRunFolder } from './simulateRun';
import type { PlannedRun, SweepSpec } from './spec';
import { threadBundle } from '../threadBundle';

export interface ExecuteContext {
  baseDir: string;
  outputs: SweepSpec['outputs'];
  /** a fresh folder to write run `id` into */
  partialDir(id: string): string;
  /** the run is complete in `partial` (called in completion order) */
  done(run: PlannedRun, partial: string): void;
  /** set when the sweep is being stopped: no new run starts */
  stopped(): boolean;
}

/** The runs one after the other in this thread (CpuSolver.create: two threads on large grids). */
export async function executeInProcess(runs: PlannedRun[], ctx: ExecuteContext): Promise<void> {
  for (const run of runs) {
    if (ctx.stopped()) return;
    const problem = await problemOf(run, ctx.baseDir);
    const solver = await CpuSolver.create(problem);
    const outcome = await simulatePlanned(problem, solver, ctx.outputs.snapshots);
    const partial = ctx.partialDir(run.id);
    await writeRunFolder(partial, problem, run, outcome, solver.backend, ctx.outputs);
    ctx.done(run, partial);
  }
}

/** The bundle a pool thread loads (src/threadBundle.ts), or null from the sources. */
function bundleUrl(): string | null {
  return threadBundle(import.meta.url);
}

/** Whether a CPU pool can start here (Node, running from a built bundle). */
export function poolAvailable(): boolean {
  return typeof process !== 'undefined' && Boolean(process.versions?.node) && bundleUrl() !== null;
}

export function defaultJobs(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

type PoolReply = { ok: true; backend: string } | { ok: false; name: string; message: string; stack?: string; user: boolean };

/** The runs on `jobs` worker threads, each taking the next run as it finishes one. */
export async function executeOnPool(runs: PlannedRun[], jobs: number, ctx: ExecuteContext): Promise<void> {
  const url = bundleUrl();
  if (!url) throw new Error('executeOnPool: the CPU pool runs from a built bundle (dist/); use executeInProcess');
  const { Worker } = await import('node:worker_threads');
  const queue = [...runs];
  const workers: InstanceType<typeof Worker>[] = [];
  let failure: Error | null = null;
  const one = async (): Promise<void> => {
    const worker = newWorker(Worker, `import(${JSON.stringify(url)}).then((m) => m.sweepWorkerMain())`, {
      // geotiff's `web-worker` dependency, loaded with the bundle, reads workerData.mod in any thread: give it an object
      workerData: {},
    });
    workers.push(worker);
    const exited = new Promise<never>((_, reject) => {
      worker.on('error', (e) => reject(e));
      worker.on('exit', (code) => reject(new Error(`a sweep worker thread exited (code ${code})`)));
    });
    try {
      while (queue.length && !failure && !ctx.stopped()) {
        const run = queue.shift() as PlannedRun;
        const partial = ctx.partialDir(run.id);
        const reply = await Promise.race([
          new Promise<PoolReply>((resolve) => { worker.once('message', resolve); worker.postMessage({ run, baseDir: ctx.baseDir, outputs: ctx.outputs, partial }); }),
          exited,
        ]);
        if (!reply.ok) {
          // the input's fault stays the input's fault across the thread boundary (exit 1, one line)
          const e = reply.user ? new UserError(reply.message) : new Error(reply.message);
          e.name = reply.name;
          if (reply.stack) e.stack = reply.stack;
          throw e;
        }
        ctx.done(run, partial);
      }
    } catch (e) {
      failure ??= e as Error;
      // the first failure stops the pool at once: no one waits hours for the other threads' runs
      for (const w of workers) void w.terminate();
    } finally {
      exited.catch(() => {});
      await worker.terminate();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, runs.length) }, one));
  if (failure) throw failure;
}

/** The pool thread's side: one run per message, on a one-thread CPU solver. */
export async function sweepWorkerMain(): Promise<void> {
  const { parentPort } = await import('node:worker_threads');
  if (!parentPort) throw new Error('sweepWorkerMain: not in a worker thread');
  const port = parentPort;
  port.on('message', async (m: { run: PlannedRun; baseDir: string; outputs: SweepSpec['outputs']; partial: string }) => {
    try {
      const problem = await problemOf(m.run, m.baseDir);
      const solver = new CpuSolver(problem);
      const outcome = await simulatePlanned(problem, solver, m.outputs.snapshots);
      await writeRunFolder(m.partial, problem, m.run, outcome, solver.backend, m.outputs);
      port.postMessage({ ok: true, backend: solver.backend } satisfies PoolReply);
    } catch (e) {
      const err = e as Error;
      port.postMessage({ ok: false, name: err?.name ?? 'Error', message: err?.message ?? String(e), stack: err?.stack, user: e instanceof UserError } satisfies PoolReply);
    }
  });
}

/**
 * The runs on the GPU in batches: consecutive runs of the same grid shape, up to `maxLanes` (and
 * what the adapter's memory holds) at a time, each batch stepped by one set of dispatches.
 */
export async function executeOnGpu(runs: PlannedRun[], gpu: GpuContext, maxLanes: number, ctx: ExecuteContext, stepsPerDispatch = 1): Promise<void> {
  const groups = new Map<string, { run: PlannedRun; problem: Problem }[]>();
  const flush = async (key: string) => {
    const group = groups.get(key);
    groups.delete(key);
    if (group?.length) await runBatch(group, gpu, ctx, stepsPerDispatch);
  };
  for (const run of runs) {
    if (ctx.stopped()) return;
    const problem = await problemOf(run, ctx.baseDir);
    const key = `${problem.grid.nx}x${problem.grid.ny}`;
    const group = groups.get(key) ?? [];
    group.push({ run, problem });
    groups.set(key, group);
    const cap = Math.max(1, Math.min(maxLanes, GpuBatch.maxLanes(gpu, problem, GPU_MEMORY_BUDGET, stepsPerDispatch)));
    if (group.length >= cap) await flush(key);
  }
  for (const key of [...groups.keys()]) { if (ctx.stopped()) return; await flush(key); }
}

/**
 * GPU memory a batch may take. WebGPU does not report the device's memory, so the batch is sized to
 * a budget that every GPU a sweep would run on has (a 256-lane batch of 122² grids needs ~33 MB;
 * the adapter's per-buffer limits are checked by GpuBatch.maxLanes as well).
 */
const GPU_MEMORY_BUDGET = 2 ** 30;

async function runBatch(group: { run: PlannedRun; problem: Problem }[], gpu: GpuContext, ctx: ExecuteContext, stepsPerDispatch: number): Promise<void> {
  const batch = await GpuBatch.create(gpu, group.map((g) => g.problem), { stepsPerDispatch });
  // every lane's coroutine runs to its end (a lane left waiting would hold up the others)
  const settled = await Promise.allSettled(group.map(async ({ run, problem }, k) => {
    const lane = batch.lanes[k];
    const outcome = await simulatePlanned(problem, lane, ctx.outputs.snapshots);
    const partial = ctx.partialDir(run.id);
    await writeRunFolder(partial, problem, run, outcome, lane.backend, ctx.outputs);
    ctx.done(run, partial);
  }));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

