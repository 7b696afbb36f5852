/**
 * A second CPU thread for CpuSolver on large grids (Node only). The runs of inside cells are split
 * in two halves by cell count; each step, both threads compute Φ̃ for their half, meet at a barrier
 * (the stencil reads its neighbours' Φ̃), then update ξ for their half. State lives in
 * SharedArrayBuffers; the handshake is four generation counters with Atomics.wait/notify, a few µs
 * per step against milliseconds of work. The arithmetic is the same code (cpuKernels.ts), so the
 * result is bit-identical to one thread.
 *
 * Every wait sleeps on the very value it has just tested (`v = load; if (v ≠ want) wait(v)`): a store
 * and notify that lands between the test and the sleep makes the wait return at once instead of
 * sleeping on the value it was waiting for (issue 7's lost wakeup, which hung runs forever).
 * The main thread never blocks for long: it waits in slices of WAIT_SLICE_MS, and after
 * SYNC_WAIT_MS it goes on waiting asynchronously, giving the event loop a turn between slices, so
 * that Ctrl-C / SIGTERM handlers run and the helper's 'error' / 'exit' events arrive.
 */
import { phiRuns, stencilRuns } from './cpuKernels';
import { newWorker } from './workerFlags';

export interface SharedState {
  q: [Int32Array, Int32Array];
  phi: Float32Array;
  runs: Int32Array;
  table: Float32Array;
  nx: number;
  N: number;
  theta0: number;
  invQuanta: number;
}

/** Test-only knobs: widen the window between a thread's test of a control word and its wait on it. */
export interface HandshakeTestHooks {
  /** both threads spin this long between loading a control word and waiting on it */
  pauseInWait_us?: number;
  /** the main thread spins this long before publishing its Φ̃ (so the helper usually tests first) */
  delayPhiDone_us?: number;
  /** the helper spins this long before its Φ̃ of every step (a slow helper) */
  helperDelay_us?: number;
  /** the helper throws at this step (1-based) */
  helperFailAtStep?: number;
  /** wasm helper: it sleeps this long after it claims a chunk (a helper taken off the CPU mid-step) */
  helperOffCpu_us?: number;
  /** wasm helper: every step is offered to it, even while the two threads share a core (threadPacer.ts) */
  alwaysTwoThreads?: boolean;
  /** wasm helper: the pacer's probes on one thread every this many ms (0: none; default: every second above 2 cores) */
  probeEvery_ms?: number;
}

// control words: 0 step generation (main → helper), 1 helper Φ done, 2 main Φ done, 3 helper
// stencil done, 4 quit, 5 helper failed; params (float64): 0 r·QUANTA, 1 which state buffer is current
const CTRL = 8;
const FAILED = 5;
/** bytes of the shared buffer the helper writes its error message into */
const MESSAGE_BYTES = 1024;
/** one Atomics.wait of the main thread, ms */
const WAIT_SLICE_MS = 50;
/** the main thread waits synchronously this long, then asynchronously (event loop turns), ms */
const SYNC_WAIT_MS = 200;
/** no answer from the helper for this long is a failure, not a slow step (a step takes ms), ms */
export const STALL_LIMIT_MS = 120_000;

const workerSource = (phiSrc: string, stencilSrc: string) => `
const { workerData } = require('node:worker_threads');
const phiRuns = ${phiSrc};
const stencilRuns = ${stencilSrc};
const w = workerData;
const ctrl = new Int32Array(w.ctrl), params = new Float64Array(w.params);
const q = [new Int32Array(w.q0), new Int32Array(w.q1)];
const phi = new Float32Array(w.phi), runs = new Int32Array(w.runs), table = new Float32Array(w.table);
const spin = (us) => { if (us > 0) { const until = performance.now() + us / 1000; while (performance.now() < until); } };
// sleep only on the value just tested: a notify between test and sleep cannot be lost
const QUIT = {};
const waitUntilEqual = (i, want) => {
  for (;;) {
    const v = Atomics.load(ctrl, i);
    if (v === want) return;
    if (Atomics.load(ctrl, 4)) throw QUIT; // stopped mid-step (the main thread gave up on an error)
    spin(w.pauseInWait_us);
    Atomics.wait(ctrl, i, v);
  }
};
const waitForChange = (i, old) => {
  for (;;) {
    const v = Atomics.load(ctrl, i);
    if (v !== old) return v;
    spin(w.pauseInWait_us);
    Atomics.wait(ctrl, i, v);
  }
};
let gen = 0;
try {
  for (;;) {
    gen = waitForChange(0, gen);
    if (Atomics.load(ctrl, 4)) break;
    const cur = params[1] | 0;
    if (gen === w.helperFailAtStep) throw new Error('test failure at step ' + gen);
    spin(w.helperDelay_us);
    phiRuns(q[cur], phi, runs, w.k0, w.k1, table, w.N, w.theta0, w.invQuanta);
    Atomics.store(ctrl, 1, gen); Atomics.notify(ctrl, 1);
    waitUntilEqual(2, gen);
    stencilRuns(q[cur], q[1 - cur], phi, runs, w.k0, w.k1, params[0], w.nx);
    Atomics.store(ctrl, 3, gen); Atomics.notify(ctrl, 3);
  }
} catch (e) {
  if (e !== QUIT) {
    // the main thread may be inside Atomics.wait, where no message reaches it: leave the reason in
    // shared memory and wake it
    const text = new TextEncoder().encode(String(e && e.stack || e)).slice(0, ${MESSAGE_BYTES});
    new Uint8Array(w.message).set(text);
    Atomics.store(ctrl, ${FAILED}, text.length || 1);
    Atomics.notify(ctrl, 1); Atomics.notify(ctrl, 3);
  }
}
`;

type WorkerLike = { terminate(): unknown; unref(): void; on(event: string, listener: (arg: unknown) => void): unknown };

export class CpuThreads {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(4 * CTRL));
  private readonly params = new Float64Array(new SharedArrayBuffer(16));
  private readonly message = new Uint8Array(new SharedArrayBuffer(MESSAGE_BYTES));
  private gen = 0;
  private stopping = false;
  /** set from the helper's 'error' / 'exit' events (seen while the main thread waits asynchronously) */
  private failure: string | null = null;
  private worker: WorkerLike | null = null;

  /** split: the main thread's share is runs [0, split) */
  private constructor(private readonly s: SharedState, private readonly split: number, private readonly hooks: HandshakeTestHooks) {}

  static async start(s: SharedState, hooks: HandshakeTestHooks = {}): Promise<CpuThreads> {
    const { Worker } = await import('node:worker_threads');
    // split so that both halves hold about the same number of cells
    let total = 0;
    for (let k = 0; k < s.runs.length; k += 2) total += s.runs[k + 1] - s.runs[k];
    let acc = 0, split = 0;
    while (split < s.runs.length && acc < total / 2) { acc += s.runs[split + 1] - s.runs[split]; split += 2; }
    const self = new CpuThreads(s, split, hooks);
    // CommonJS source: newWorker keeps a parent's --input-type=module from reaching it
    const worker = newWorker(Worker, workerSource(phiRuns.toString(), stencilRuns.toString()), {
      workerData: {
        ctrl: self.ctrl.buffer, params: self.params.buffer, message: self.message.buffer, q0: s.q[0].buffer, q1: s.q[1].buffer,
        phi: s.phi.buffer, runs: s.runs.buffer, table: s.table.buffer,
        k0: split, k1: s.runs.length, nx: s.nx, N: s.N, theta0: s.theta0, invQuanta: s.invQuanta,
        pauseInWait_us: hooks.pauseInWait_us ?? 0, helperDelay_us: hooks.helperDelay_us ?? 0, helperFailAtStep: hooks.helperFailAtStep ?? -1,
      },
    });
    worker.unref(); // never keeps the process alive
    worker.on('error', (e) => { self.failure ??= `the CPU solver's helper thread failed: ${(e as Error).message}`; });
    worker.on('exit', (code) => { if (!self.stopping) self.failure ??= `the CPU solver's helper thread exited (code ${code as number}) in the middle of a run`; });
    self.worker = worker;
    return self;
  }

  /** Throws when the helper has reported a failure (shared flag, or a worker event already seen). */
  private checkHelper(): void {
    const n = Atomics.load(this.ctrl, FAILED);
    if (n > 0) {
      const text = new TextDecoder().decode(this.message.slice(0, Math.min(n, MESSAGE_BYTES))).split('\n')[0];
      throw new Error(`the CPU solver's helper thread failed: ${text}`);
    }
    if (this.failure) throw new Error(this.failure);
  }

  /**
   * Waits (synchronously, in WAIT_SLICE_MS slices) until control word `index` holds `gen`, for at
   * most `budget_ms`; false when it is not there yet.
   */
  private waitFor(index: number, gen: number, budget_ms: number): boolean {
    const c = this.ctrl, until = performance.now() + budget_ms;
    for (;;) {
      const v = Atomics.load(c, index);
      if (v === gen) return true;
      this.checkHelper();
      const left = until - performance.now();
      if (left <= 0) return false;
      spin(this.hooks.pauseInWait_us);
      Atomics.wait(c, index, v, Math.min(WAIT_SLICE_MS, left)); // on v, the value just tested
    }
  }

  /** Goes on waiting for control word `index` = `gen` with event-loop turns in between. */
  private async settle(index: number, gen: number): Promise<void> {
    const start = performance.now();
    while (!this.waitFor(index, gen, WAIT_SLICE_MS)) {
      await new Promise((resolve) => setImmediate(resolve)); // signal handlers and worker events run here
      this.checkHelper();
      if (performance.now() - start > STALL_LIMIT_MS) {
        throw new Error(`the CPU solver's helper thread has not answered for ${STALL_LIMIT_MS / 1000} s (step ${gen}); run again, or with --backend gpu`);
      }
    }
  }

  /**
   * One diffusion step (no boundary flux) from s.q[cur] into s.q[1 − cur]; rQ = r·QUANTA. Returns
   * undefined when the step is complete, or a promise to await when the helper was slow to answer
   * (the step is complete once it resolves).
   */
  step(cur: 0 | 1, rQ: number): Promise<void> | undefined {
    const s = this.s, c = this.ctrl;
    this.checkHelper();
    this.params[0] = rQ;
    this.params[1] = cur;
    const gen = ++this.gen;
    Atomics.store(c, 0, gen);
    Atomics.notify(c, 0);
    phiRuns(s.q[cur], s.phi, s.runs, 0, this.split, s.table, s.N, s.theta0, s.invQuanta);
    spin(this.hooks.delayPhiDone_us);
    Atomics.store(c, 2, gen);
    Atomics.notify(c, 2);
    const stencil = () => stencilRuns(s.q[cur], s.q[1 - cur], s.phi, s.runs, 0, this.split, rQ, s.nx);
    if (!this.waitFor(1, gen, SYNC_WAIT_MS)) {
      return this.settle(1, gen).then(() => { stencil(); return this.waitFor(3, gen, SYNC_WAIT_MS) ? undefined : this.settle(3, gen); });
    }
    stencil();
    return this.waitFor(3, gen, SYNC_WAIT_MS) ? undefined : this.settle(3, gen);
  }

  stop(): void {
    this.stopping = true;
    Atomics.store(this.ctrl, 4, 1);
    Atomics.store(this.ctrl, 0, ++this.gen);
    Atomics.notify(this.ctrl, 0);
    Atomics.notify(this.ctrl, 2); // a helper waiting mid-step sees the quit flag
    this.worker?.terminate();
  }
}

function spin(us: number | undefined): void {
  if (!us) return;
  const until = performance.now() + us / 1000;
  while (performance.now() < until);
}
