/**
 * A second CPU thread for CpuSolver on large grids (Node only). The runs of inside cells are split
 * in two halves by cell count; each step, both threads compute Φ̃ for their half, meet at a barrier
 * (the stencil reads its neighbours' Φ̃), then update ξ for their half. State lives in
 * SharedArrayBuffers; the handshake is four generation counters with Atomics.wait/notify, a few µs
 * per step against milliseconds of work. The arithmetic is the same code (cpuKernels.ts), so the
 * result is bit-identical to one thread.
 */
import { phiRuns, stencilRuns } from './cpuKernels';

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

// control words: 0 step generation (main → helper), 1 helper Φ done, 2 main Φ done, 3 helper
// stencil done, 4 quit; params (float64): 0 r·QUANTA, 1 which state buffer is current
const CTRL = 8;

const workerSource = (phiSrc: string, stencilSrc: string) => `
const { workerData } = require('node:worker_threads');
const phiRuns = ${phiSrc};
const stencilRuns = ${stencilSrc};
const w = workerData;
const ctrl = new Int32Array(w.ctrl), params = new Float64Array(w.params);
const q = [new Int32Array(w.q0), new Int32Array(w.q1)];
const phi = new Float32Array(w.phi), runs = new Int32Array(w.runs), table = new Float32Array(w.table);
let gen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, gen);
  if (Atomics.load(ctrl, 4)) break;
  gen = Atomics.load(ctrl, 0);
  const cur = params[1] | 0;
  phiRuns(q[cur], phi, runs, w.k0, w.k1, table, w.N, w.theta0, w.invQuanta);
  Atomics.store(ctrl, 1, gen); Atomics.notify(ctrl, 1);
  while (Atomics.load(ctrl, 2) !== gen) Atomics.wait(ctrl, 2, Atomics.load(ctrl, 2));
  stencilRuns(q[cur], q[1 - cur], phi, runs, w.k0, w.k1, params[0], w.nx);
  Atomics.store(ctrl, 3, gen); Atomics.notify(ctrl, 3);
}
`;

export class CpuThreads {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(4 * CTRL));
  private readonly params = new Float64Array(new SharedArrayBuffer(16));
  private gen = 0;
  /** the main thread's share: runs [0, split) */
  private readonly split: number;

  private constructor(private readonly s: SharedState, private readonly worker: { terminate(): unknown; unref(): void }, split: number) {
    this.split = split;
  }

  static async start(s: SharedState): Promise<CpuThreads> {
    const { Worker } = await import('node:worker_threads');
    // split so that both halves hold about the same number of cells
    let total = 0;
    for (let k = 0; k < s.runs.length; k += 2) total += s.runs[k + 1] - s.runs[k];
    let acc = 0, split = 0;
    while (split < s.runs.length && acc < total / 2) { acc += s.runs[split + 1] - s.runs[split]; split += 2; }
    const self = new CpuThreads(s, { terminate() {}, unref() {} }, split);
    const worker = new Worker(workerSource(phiRuns.toString(), stencilRuns.toString()), {
      eval: true,
      workerData: {
        ctrl: self.ctrl.buffer, params: self.params.buffer, q0: s.q[0].buffer, q1: s.q[1].buffer,
        phi: s.phi.buffer, runs: s.runs.buffer, table: s.table.buffer,
        k0: split, k1: s.runs.length, nx: s.nx, N: s.N, theta0: s.theta0, invQuanta: s.invQuanta,
      },
    });
    worker.unref(); // never keeps the process alive
    (self as unknown as { worker: typeof worker }).worker = worker;
    return self;
  }

  private waitFor(index: number, gen: number): void {
    while (Atomics.load(this.ctrl, index) !== gen) Atomics.wait(this.ctrl, index, Atomics.load(this.ctrl, index), 1000);
  }

  /** One diffusion step (no boundary flux) from s.q[cur] into s.q[1 − cur]; rQ = r·QUANTA. */
  step(cur: 0 | 1, rQ: number): void {
    const s = this.s, c = this.ctrl;
    this.params[0] = rQ;
    this.params[1] = cur;
    const gen = ++this.gen;
    Atomics.store(c, 0, gen);
    Atomics.notify(c, 0);
    phiRuns(s.q[cur], s.phi, s.runs, 0, this.split, s.table, s.N, s.theta0, s.invQuanta);
    Atomics.store(c, 2, gen);
    Atomics.notify(c, 2);
    this.waitFor(1, gen);
    stencilRuns(s.q[cur], s.q[1 - cur], s.phi, s.runs, 0, this.split, rQ, s.nx);
    this.waitFor(3, gen);
  }

  stop(): void {
    Atomics.store(this.ctrl, 4, 1);
    Atomics.store(this.ctrl, 0, ++this.gen);
    Atomics.notify(this.ctrl, 0);
    this.worker.terminate();
  }
}
