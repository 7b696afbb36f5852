/**
 * A fit generation on a pool of worker threads (Node, running from a built bundle): each candidate
 * is simulated on a one-thread CpuSolver in the next free thread, so that a generation of 7 takes
 * ~7/jobs of the time it takes one after the other (the threads pay across candidates, not inside a
 * 42×42 grid). The threads load the bundle this code runs from (dist/cli.js or dist/lib/index.js) and
 * stay for the whole fit; they are unref'd between generations, so an idle pool never keeps the
 * process alive, and `close()` ends them.
 */
import type { SimulationConfig } from '../model/config';
import { buildProblem } from '../solver/problem';
import { CpuSolver } from '../solver/cpu';
import { runSimulation, SimulationLimitError, type RunResult } from '../solver/run';
import { newWorker } from '../solver/workerFlags';
import { defaultJobs } from '../sweep/execute';
import type { BatchOutcome, BatchRunner } from './batch';
import { threadBundle } from '../threadBundle';

type Reply = { kind: 'ok'; result: RunResult } | { kind: 'limit'; reason: string } | { kind: 'error'; name: string; message: string; stack?: string };

/** The bundle a pool thread loads (src/threadBundle.ts), or null from the sources. */
function bundleUrl(): string | null {
  return threadBundle(import.meta.url);
}

/** Whether a fit's CPU pool can start here (Node, from a built bundle). */
export function fitPoolAvailable(): boolean {
  return typeof process !== 'undefined' && Boolean(process.versions?.node) && bundleUrl() !== null;
}

export interface PoolBatchRunner extends BatchRunner {
  close(): Promise<void>;
}

export function cpuPoolBatchRunner(jobs = defaultJobs()): PoolBatchRunner {
  const url = bundleUrl();
  if (!url) throw new Error('cpuPoolBatchRunner: the CPU pool runs from a built bundle (dist/); use cpuBatchRunner');
  type W = import('node:worker_threads').Worker;
  let workers: W[] | null = null;
  const ask = (w: W, config: SimulationConfig): Promise<BatchOutcome> => new Promise((resolve, reject) => {
    const onMessage = (m: Reply) => {
      off();
      if (m.kind === 'ok') resolve({ ok: true, result: m.result });
      else if (m.kind === 'limit') resolve({ ok: false, reason: m.reason });
      else { const e = new Error(m.message); e.name = m.name; if (m.stack) e.stack = m.stack; reject(e); }
    };
    const onError = (e: Error) => { off(); reject(e); };
    const onExit = (code: number) => { off(); reject(new Error(`a fit worker thread exited (code ${code})`)); };
    const off = () => { w.off('message', onMessage); w.off('error', onError); w.off('exit', onExit); };
    w.on('message', onMessage); w.on('error', onError); w.on('exit', onExit);
    w.postMessage({ config });
  });
  return {
    label: `cpu pool (${jobs} worker threads, candidates of a generation in parallel)`,
    async run(problems, signal) {
      if (!workers) {
        const { Worker } = await import('node:worker_threads');
        // geotiff's `web-worker` dependency, loaded with the bundle, reads workerData.mod in any thread: give it an object
        workers = Array.from({ length: Math.max(1, jobs) }, () => newWorker(Worker, `import(${JSON.stringify(url)}).then((m) => m.fitWorkerMain())`, { workerData: {} }));
      }
      const pool = workers;
      for (const w of pool) w.ref();
      try {
        const out = new Array<BatchOutcome>(problems.length);
        let next = 0;
        await Promise.all(pool.map(async (w) => {
          while (next < problems.length) {
            if (signal?.aborted) throw new Error('fit stopped');
            const i = next++;
            out[i] = await ask(w, problems[i].config);
          }
        }));
        return out;
      } finally {
        for (const w of pool) w.unref();
      }
    },
    async close() {
      const pool = workers;
      workers = null;
      if (pool) await Promise.all(pool.map((w) => w.terminate()));
    },
  };
}

/** The pool thread's side: one candidate config per message, simulated on a one-thread CPU solver. */
export async function fitWorkerMain(): Promise<void> {
  const { parentPort } = await import('node:worker_threads');
  if (!parentPort) throw new Error('fitWorkerMain: not in a worker thread');
  const port = parentPort;
  port.on('message', async (m: { config: SimulationConfig }) => {
    let solver: CpuSolver | null = null;
    try {
      const problem = await buildProblem(m.config);
      solver = new CpuSolver(problem);
      const result = await runSimulation(problem, solver);
      port.postMessage({ kind: 'ok', result } satisfies Reply);
    } catch (e) {
      if (e instanceof SimulationLimitError) port.postMessage({ kind: 'limit', reason: e.message } satisfies Reply);
      else { const err = e as Error; port.postMessage({ kind: 'error', name: err?.name ?? 'Error', message: err?.message ?? String(e), stack: err?.stack } satisfies Reply); }
    } finally {
      solver?.destroy();
    }
  });
}
