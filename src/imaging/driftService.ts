/**
 * Drift estimation off the main thread, so that `analyze` keeps both cores busy: while this thread
 * (and the frame processor's helpers) compute the ΔI/I0 maps of one batch, a worker thread estimates
 * the drift of the next batch's frames (src/imaging/analyze.ts, pass 1).
 *
 * The worker loads the built bundle (dist/cli.js or dist/lib/index.js, whichever this code runs from)
 * and runs the same DriftEstimator as this thread would, on a copy of each frame: the estimates are
 * bit-identical to the in-thread ones (test/imaging/driftService.test.ts). From the TypeScript sources
 * (vitest) or in a browser there is no bundle to load and the estimator runs in this thread, behind
 * the same promise-returning interface.
 */
import type { FrameData } from '../io/movie';
import { newWorker } from '../solver/workerFlags';
import { DriftEstimator, type DriftEstimate, type DriftOptions } from './drift';
import { threadBundle } from '../threadBundle';

export interface DriftService {
  /** where the estimates are computed: 'worker thread', 'main thread', or how a worker's failure moved them */
  readonly where: string;
  /** the drift of `frame` against the reference; estimates are computed in the order asked */
  estimate(frame: FrameData): Promise<DriftEstimate>;
  /** stops the worker (pending estimates are rejected); idempotent */
  close(): void;
}

export interface DriftServiceOptions {
  /** false: always in this thread. Default: worker threads where the code runs from a built bundle in Node */
  worker?: boolean;
  /**
   * worker threads, taking frames in turn (1 to 8). Default: 2 on a machine with 2 or more cores,
   * else 1. Per 2048² frame the drift estimate is ~0.13 core-s (2×2 blocks) and everything else
   * ~0.08 (map and label sums on two threads, diff.tif page, reads, the copy to the drift thread), so
   * with one drift thread that thread is the pipeline's bottleneck and a core waits part of the time;
   * with two the work can be shared out evenly (docs/performance.md). Each holds its own estimator
   * (~60 MB at 1024² blocks).
   */
  workers?: number;
}

/** The bundle a worker thread loads (src/threadBundle.ts), or null from the sources. */
function bundleUrl(): string | null {
  return threadBundle(import.meta.url);
}

type Reply = { id: number; shift: [number, number]; peak: number } | { id: number; error: string };

function inThread(estimator: DriftEstimator): DriftService {
  let closed = false;
  return {
    where: 'main thread',
    estimate(frame) {
      if (closed) return Promise.reject(new Error('drift estimation was stopped'));
      try {
        return Promise.resolve(estimator.estimate(frame));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    close() { closed = true; },
  };
}

/**
 * A drift estimator for frames against `reference` (width × height, DriftOptions as DriftEstimator),
 * in a worker thread where one can start (see the top of this file), else in this thread.
 */
export async function createDriftService(reference: Float32Array, width: number, height: number, options: DriftOptions, service: DriftServiceOptions = {}): Promise<DriftService> {
  const url = bundleUrl();
  const node = typeof process !== 'undefined' && Boolean(process.versions?.node);
  if (service.worker === false || !url || !node) return inThread(new DriftEstimator(reference, width, height, options));
  let Worker: typeof import('node:worker_threads').Worker;
  try {
    ({ Worker } = await import('node:worker_threads'));
  } catch {
    return inThread(new DriftEstimator(reference, width, height, options));
  }
  let n = service.workers;
  if (n === undefined) {
    const os = await import('node:os');
    n = (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length) >= 2 ? 2 : 1;
  }
  if (!(Number.isInteger(n) && n >= 1 && n <= 8)) throw new Error(`drift workers = ${service.workers} is not allowed: use an integer from 1 to 8`);
  // a worker that cannot load the bundle or dies (this code bundled into someone else's bundle, a
  // crash) hands its frames to an estimator in this thread: the same estimates, only not overlapped
  let local: DriftEstimator | null = null;
  let failure: string | null = null;
  const fallback = (why: Error) => {
    failure ??= why.message.split('\n')[0];
    return (local ??= new DriftEstimator(reference, width, height, options));
  };
  const workers = Array.from({ length: n }, () => startWorker(Worker, url, reference, width, height, options, fallback));
  let turn = 0;
  return {
    get where() {
      return failure ? `main thread (a drift worker thread failed: ${failure})` : 'worker thread';
    },
    estimate(frame) {
      // frames in turn: each worker answers its own in order, and every estimate is its own promise
      const w = workers[turn];
      turn = (turn + 1) % workers.length;
      return w.estimate(frame);
    },
    close() {
      for (const w of workers) w.close();
    },
  };
}

/** One worker thread with its own DriftEstimator of the reference. */
function startWorker(Worker: typeof import('node:worker_threads').Worker, url: string, reference: Float32Array, width: number, height: number, options: DriftOptions, fallback: (why: Error) => DriftEstimator) {
  const worker = newWorker(Worker, `import(${JSON.stringify(url)}).then((m) => m.driftWorkerMain())`, {
    // geotiff's `web-worker` dependency, loaded with the bundle, reads workerData.mod in any thread: give it an object
    workerData: {},
  });
  const pending = new Map<number, { frame: FrameData; resolve: (e: DriftEstimate) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let dead: Error | null = null;
  let closed = false;
  const onThisThread = (frame: FrameData, why: Error): Promise<DriftEstimate> => {
    try {
      return Promise.resolve(fallback(why).estimate(frame));
    } catch (e) {
      return Promise.reject(e);
    }
  };
  const fail = (e: Error) => {
    dead ??= e;
    const owed = [...pending.values()];
    pending.clear();
    worker.unref();
    for (const p of owed) {
      if (closed) p.reject(dead);
      else onThisThread(p.frame, dead).then(p.resolve, p.reject);
    }
  };
  worker.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) worker.unref(); // an idle worker never keeps the process alive
    if ('error' in m) p.reject(new Error(`drift worker thread: ${m.error}`));
    else p.resolve({ shift: m.shift, peak: m.peak });
  });
  worker.on('error', (e) => fail(e));
  worker.on('exit', (code) => fail(new Error(`drift worker thread exited (code ${code})`)));
  worker.unref();
  // the reference's spectrum is computed there once
  worker.postMessage({ init: { reference, width, height, options } });
  return {
    estimate(frame: FrameData): Promise<DriftEstimate> {
      if (closed) return Promise.reject(new Error('drift estimation was stopped'));
      if (dead) return onThisThread(frame, dead);
      const id = nextId++;
      const done = new Promise<DriftEstimate>((resolve, reject) => pending.set(id, { frame, resolve, reject }));
      worker.ref(); // a reply is owed
      worker.postMessage({ id, frame }); // structured clone: the worker gets its own copy
      return done;
    },
    close() {
      if (closed) return;
      closed = true;
      fail(new Error('drift estimation was stopped'));
      void worker.terminate();
    },
  };
}

/** The worker thread's side (run after loading the bundle): an init message, then one frame per message. */
export async function driftWorkerMain(): Promise<void> {
  const { parentPort } = await import('node:worker_threads');
  if (!parentPort) throw new Error('driftWorkerMain: not in a worker thread');
  const port = parentPort;
  let estimator: DriftEstimator | null = null;
  let initError: string | null = null;
  port.on('message', (m: { init?: { reference: Float32Array; width: number; height: number; options: DriftOptions }; id?: number; frame?: FrameData }) => {
    if (m.init) {
      try {
        estimator = new DriftEstimator(m.init.reference, m.init.width, m.init.height, m.init.options);
      } catch (e) {
        initError = String((e as Error)?.stack ?? e);
      }
      return;
    }
    try {
      if (!estimator) throw new Error(initError ?? 'no reference');
      const e = estimator.estimate(m.frame!);
      port.postMessage({ id: m.id, shift: e.shift, peak: e.peak });
    } catch (e) {
      port.postMessage({ id: m.id, error: String((e as Error)?.stack ?? e) });
    }
  });
}
