/**
 * The frame processor of `ionflux analyze`: ΔI/I0 maps of a movie's frames against a fixed reference
 * (with per-frame drift correction and optional smoothing) and, for each frame, the per-particle sums
 * behind the paper's asymmetry metric. Two implementations behind one interface: the CPU one calls
 * the float32 references of src/imaging/diffmap.ts, the GPU one runs shaders/diff_map.wgsl and
 * shaders/label_reduce.wgsl.
 *
 * CPU: the reference's reciprocal is computed once (prepareReference). On Node, a batch of big frames
 * is split between this thread and helper threads (worker_threads), contiguous runs of frames per
 * thread; reference, reciprocal and label runs sit once in SharedArrayBuffers, a helper's frames are
 * copied into a reused shared staging area (or into transferred buffers), its maps and sums come back
 * as transferred buffers. The helpers run the same functions from their source text, so the result is
 * bit-identical to one thread.
 *
 * GPU: frames go in batches of at most `maxBatch`; each batch is one upload, one submit (maps,
 * smoothing, label sums) and one mapAsync readback of all its maps and label partials. All buffers
 * are allocated once when the processor is created (the frame upload buffer grows once if float32
 * frames arrive after 16-bit sizing) and reused for every batch.
 */
import { withErrorScope, type GpuContext } from '../gpu/device';
import { DiffMapKernel, checkDiffGrid } from '../kernels/diffMap';
import { LabelReduceKernel } from '../kernels/labelReduce';
import {
  LABEL_STATS_STRIDE,
  axisPlan,
  boxMeanCore,
  checkImageSize,
  checkShift,
  checkSmoothRadius,
  diffDirectF32,
  diffDirectGuarded,
  diffDirectU16,
  diffDirectU8,
  diffMapCore,
  diffShifted,
  labelReduceRuns,
  labelRuns,
  prepareReference,
  type FrameData,
  type PreparedReference,
} from './diffmap';

export interface FrameProcessorOptions {
  width: number;
  height: number;
  /** I_ref (e.g. the first frame), float32, width·height */
  reference: Float32Array;
  /** 0 = background, 1..nLabels = particles, width·height */
  labels: Int32Array;
  nLabels: number;
  /** ΔI/I0 below which a particle pixel counts as unreacted (0.05 in the paper) */
  threshold: number;
  /** NaN-aware box-mean radius in pixels applied to each map (0 or absent = none) */
  smoothRadius?: number;
  /** frames per GPU batch; default: as many as fit in ~64 MiB of maps (1 to 64), within device limits */
  maxBatch?: number;
}

export interface ProcessedFrame {
  /** ΔI/I0, float32, width·height, NaN where undefined (see diffMapCpu) */
  diff: Float32Array;
  /** 8 per label, as labelReduceCpu, computed on `diff` */
  labelStats: Float64Array;
}

export interface FrameProcessor {
  readonly backend: 'gpu' | 'cpu';
  /**
   * Maps and label sums of `frames` (any count; the GPU splits them into batches). `shifts[i]` is
   * frame i's measured drift [dx, dy] in pixels (content at reference + (dx, dy)); undefined = none.
   */
  process(frames: FrameData[], shifts?: ([number, number] | undefined)[]): Promise<ProcessedFrame[]>;
  destroy(): void;
}

function checkOptions(opts: FrameProcessorOptions): void {
  const { width, height } = opts;
  checkImageSize(width, height, 'frame');
  const n = width * height;
  if (!(opts.reference instanceof Float32Array) || opts.reference.length !== n) {
    throw new Error(`reference must be a Float32Array of ${width}×${height} = ${n} pixels (got ${opts.reference?.length})`);
  }
  if (!(opts.labels instanceof Int32Array) || opts.labels.length !== n) {
    throw new Error(`labels must be an Int32Array of ${width}×${height} = ${n} pixels (got ${opts.labels?.length})`);
  }
  if (!Number.isInteger(opts.nLabels) || opts.nLabels < 0) throw new Error(`nLabels = ${opts.nLabels} is not allowed: use a non-negative integer`);
  if (typeof opts.threshold !== 'number' || Number.isNaN(opts.threshold)) throw new Error(`threshold = ${opts.threshold} is not allowed: use a number (0.05 in the paper)`);
  checkSmoothRadius(opts.smoothRadius);
  if (opts.maxBatch !== undefined && (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1)) {
    throw new Error(`maxBatch = ${opts.maxBatch} is not allowed: use a positive integer`);
  }
  for (let i = 0; i < n; i++) {
    const l = opts.labels[i];
    if (l < 0 || l > opts.nLabels) throw new Error(`labels[${i}] = ${l} is outside 0..${opts.nLabels} (0 = background, 1..nLabels = particles)`);
  }
}

function checkBatch(frames: FrameData[], shifts: ([number, number] | undefined)[] | undefined, pixels: number): void {
  if (!Array.isArray(frames)) throw new Error('frames must be an array of frames');
  if (shifts !== undefined && shifts.length !== frames.length) throw new Error(`${shifts.length} shifts given for ${frames.length} frames`);
  frames.forEach((f, i) => {
    if (!(f instanceof Uint8Array || f instanceof Uint16Array || f instanceof Float32Array)) throw new Error(`frame ${i} must be a Uint8Array, Uint16Array or Float32Array`);
    if (f.length !== pixels) throw new Error(`frame ${i} has ${f.length} pixels, the processor expects ${pixels}`);
    checkShift(shifts?.[i], `shift of frame ${i}`);
  });
}

export interface CpuProcessorOptions {
  /**
   * Threads that share a batch's frames (this one + threads − 1 helpers). Default: min(available
   * cores, 4) for frames of at least 2^16 pixels, else 1. An explicit value ≥ 2 is used at any frame
   * size (Node only). 1 wherever worker_threads or SharedArrayBuffer are unavailable (a browser).
   */
  threads?: number;
  /**
   * How a helper gets its frames: 'shared' = copied into a staging SharedArrayBuffer kept for the next
   * batch (default, measured faster), 'transfer' = copied into fresh buffers that are transferred.
   */
  frameTransport?: 'shared' | 'transfer';
}

/** Frames below this many pixels stay on one thread unless `threads` is given explicitly. */
const THREAD_MIN_PIXELS = 1 << 16;
const DEFAULT_MAX_THREADS = 4;

type FrameKind = 'u8' | 'u16' | 'f32';
const frameKind = (f: FrameData): FrameKind => (f instanceof Uint16Array ? 'u16' : f instanceof Uint8Array ? 'u8' : 'f32');

interface WorkerJob { kind: FrameKind; buffer: ArrayBufferLike; byteOffset: number; dx: number; dy: number }
interface WorkerReply { id: number; error?: string; results?: { diff: ArrayBuffer; stats: ArrayBuffer }[] }

/**
 * A float32 map of n pixels for a result, every element of which the caller then writes. On Node an
 * uninitialised buffer (Buffer.allocUnsafeSlow: malloc, which reuses freed memory, instead of calloc's
 * fresh zeroed pages) saves ~1.5 ms of page faults per 2048² map; elsewhere a plain Float32Array.
 */
function freshMap(n: number): Float32Array {
  const B = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } }).Buffer;
  if (B && typeof B.allocUnsafeSlow === 'function') {
    const b = B.allocUnsafeSlow(n * 4);
    if (b.byteOffset === 0 && b.buffer.byteLength === n * 4) return new Float32Array(b.buffer, 0, n);
  }
  return new Float32Array(n);
}

/**
 * The helper thread's script: the kernels of src/imaging/diffmap.ts from their source text (so the
 * same code runs in vitest and in the bundled CLI, where a worker file path would not exist), and a
 * message loop: jobs in (one frame each, in a shared staging area or a transferred buffer), their maps
 * and label sums out as transferred buffers.
 */
const workerSource = (kernels: string[]) => `
'use strict';
const { parentPort, workerData: w } = require('node:worker_threads');
${kernels.join('\n')}
const ref = new Float32Array(w.ref), inv = new Float32Array(w.inv), runs = new Int32Array(w.runs), base = new Float64Array(w.base);
const n = w.width * w.height;
const Kinds = { u8: Uint8Array, u16: Uint16Array, f32: Float32Array };
parentPort.on('message', (m) => {
  try {
    const results = [], transfer = [];
    for (const job of m.jobs) {
      const frame = new Kinds[job.kind](job.buffer, job.byteOffset, n);
      const diff = freshMap(n);
      diffMapCore(frame, ref, inv, w.intSafe, diff, w.width, w.height, job.dx, job.dy, w.smoothRadius);
      const stats = new Float64Array(base.length);
      labelReduceRuns(diff, runs, base, w.width, w.threshold, stats);
      results.push({ diff: diff.buffer, stats: stats.buffer });
      transfer.push(diff.buffer, stats.buffer);
    }
    parentPort.postMessage({ id: m.id, results }, transfer);
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.stack || e) });
  }
});
`;

/** Everything the helper runs; each uses only the others and JS globals (see src/imaging/diffmap.ts). */
const workerKernels = () => [freshMap, axisPlan, diffDirectU16, diffDirectU8, diffDirectF32, diffDirectGuarded, diffShifted, boxMeanCore, diffMapCore, labelReduceRuns].map((f) => f.toString());

interface NodeWorker {
  postMessage(value: unknown, transfer?: readonly ArrayBuffer[]): void;
  on(event: 'message', cb: (m: WorkerReply) => void): unknown;
  on(event: 'error', cb: (e: Error) => void): unknown;
  on(event: 'exit', cb: (code: number) => void): unknown;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

/** One helper thread: jobs out, results back by id; ref'd only while it owes a reply. */
class Helper {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: NonNullable<WorkerReply['results']>) => void; reject: (e: Error) => void }>();
  private staging: SharedArrayBuffer | null = null;
  dead: Error | null = null;

  constructor(private readonly worker: NodeWorker, private readonly transport: 'shared' | 'transfer', private readonly pixels: number) {
    worker.unref(); // an idle helper never keeps the process alive
    const fail = (e: Error) => {
      this.dead ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      worker.unref();
    };
    worker.on('message', (m) => {
      if (m.error !== undefined || !m.results) {
        // a failed job (a bug): drop this helper, so that no later batch shares its staging area
        fail(new Error(`CPU frame processor helper thread: ${m.error}`));
        void worker.terminate();
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      p.resolve(m.results);
    });
    worker.on('error', (e) => fail(e));
    worker.on('exit', (code) => fail(new Error(`CPU frame processor helper thread exited (code ${code})`)));
  }

  /** Copies `frames` out (staging area or fresh buffers) and sends them; resolves with their results. */
  run(frames: FrameData[], shifts: [number, number][]): Promise<ProcessedFrame[]> {
    if (this.dead) return Promise.reject(this.dead);
    const slot = (f: FrameData) => Math.ceil(f.byteLength / 8) * 8;
    if (this.transport === 'shared') {
      const bytes = frames.reduce((a, f) => a + slot(f), 0);
      if (!this.staging || this.staging.byteLength < bytes) this.staging = new SharedArrayBuffer(bytes);
    }
    this.worker.ref(); // replies are owed: keep the process alive until they arrive
    // one message per frame, sent as soon as it is copied: the helper starts on the first at once
    let at = 0;
    return Promise.all(frames.map((f, i) => {
      let job: WorkerJob;
      const transfer: ArrayBuffer[] = [];
      if (this.transport === 'shared') {
        const view = new (f.constructor as new (b: ArrayBufferLike, o: number, l: number) => FrameData)(this.staging!, at, f.length);
        view.set(f);
        job = { kind: frameKind(f), buffer: this.staging!, byteOffset: at, dx: shifts[i][0], dy: shifts[i][1] };
        at += slot(f);
      } else {
        const copy = f.slice();
        job = { kind: frameKind(f), buffer: copy.buffer, byteOffset: 0, dx: shifts[i][0], dy: shifts[i][1] };
        transfer.push(copy.buffer as ArrayBuffer);
      }
      const id = this.nextId++;
      const done = new Promise<NonNullable<WorkerReply['results']>>((resolve, reject) => this.pending.set(id, { resolve, reject }));
      this.worker.postMessage({ id, jobs: [job] }, transfer);
      return done.then(([r]) => ({ diff: new Float32Array(r.diff, 0, this.pixels), labelStats: new Float64Array(r.stats) }));
    }));
  }

  terminate(): void {
    this.dead ??= new Error('this frame processor was destroyed');
    void this.worker.terminate();
  }
}

/**
 * The CPU processor: diffMapCpu + labelReduceCpu per frame (their kernels, with the reference's
 * reciprocal computed once). Batches of at least two big frames are shared among `threads` threads
 * (see CpuProcessorOptions); the helpers start with the first such batch and `threads` tells how many
 * threads are in use (1 until then, and wherever helpers are unavailable). Bit-identical to 1 thread.
 */
export function createCpuProcessor(opts: FrameProcessorOptions, cpu: CpuProcessorOptions = {}): FrameProcessor & { readonly threads: number } {
  checkOptions(opts);
  if (cpu.threads !== undefined && (!Number.isInteger(cpu.threads) || cpu.threads < 1 || cpu.threads > 64)) {
    throw new Error(`threads = ${cpu.threads} is not allowed: use an integer from 1 to 64`);
  }
  if (cpu.frameTransport !== undefined && cpu.frameTransport !== 'shared' && cpu.frameTransport !== 'transfer') {
    throw new Error(`frameTransport = ${JSON.stringify(cpu.frameTransport)} is not allowed: use 'shared' or 'transfer'`);
  }
  const { width, height, nLabels, threshold } = opts;
  const pixels = width * height;
  const smoothRadius = opts.smoothRadius ?? 0;
  const mayThread = (cpu.threads ?? 2) > 1 && (cpu.threads !== undefined || pixels >= THREAD_MIN_PIXELS) && typeof SharedArrayBuffer === 'function';
  // reference, reciprocal and label runs once (labelRuns: the label sums visit particle pixels only),
  // shared with the helpers when there may be any
  const shared = <T extends Float32Array | Int32Array>(a: T, make: (b: SharedArrayBuffer) => T): T => {
    if (!mayThread) return a;
    const c = make(new SharedArrayBuffer(a.byteLength));
    c.set(a);
    return c;
  };
  const reference = shared(opts.reference, (b) => new Float32Array(b));
  const lr = labelRuns(opts.labels, nLabels, width);
  const runs = shared(lr.runs, (b) => new Int32Array(b));
  const base = mayThread ? new Float64Array(new SharedArrayBuffer(lr.base.byteLength)) : lr.base;
  if (base !== lr.base) base.set(lr.base);
  const prepared: PreparedReference = prepareReference(reference, mayThread ? new Float32Array(new SharedArrayBuffer(pixels * 4)) : undefined);

  const one = (frame: FrameData, shift: [number, number]): ProcessedFrame => {
    const diff = freshMap(pixels); // diffMapCore writes every pixel
    diffMapCore(frame, prepared.reference, prepared.inv, prepared.intSafe, diff, width, height, shift[0], shift[1], smoothRadius);
    const labelStats = new Float64Array(nLabels * LABEL_STATS_STRIDE);
    labelReduceRuns(diff, runs, base, width, threshold, labelStats);
    return { diff, labelStats };
  };

  let helpers: Helper[] | null = null;
  let starting: Promise<Helper[]> | null = null;
  let destroyed = false;
  let tail: Promise<unknown> = Promise.resolve();

  const startHelpers = async (): Promise<Helper[]> => {
    try {
      const { Worker } = await import('node:worker_threads');
      let n = cpu.threads;
      if (n === undefined) {
        const os = await import('node:os');
        n = Math.min(DEFAULT_MAX_THREADS, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
      }
      if (destroyed || n < 2) return [];
      const source = workerSource(workerKernels());
      const workerData = {
        ref: prepared.reference.buffer, inv: prepared.inv.buffer, runs: runs.buffer, base: base.buffer, intSafe: prepared.intSafe,
        width, height, threshold, smoothRadius,
      };
      return Array.from({ length: n - 1 }, () => new Helper(new Worker(source, { eval: true, workerData }) as unknown as NodeWorker, cpu.frameTransport ?? 'shared', pixels));
    } catch {
      return []; // no worker_threads (a browser): one thread
    }
  };

  const run = async (frames: FrameData[], shifts: [number, number][]): Promise<ProcessedFrame[]> => {
    if (mayThread && !destroyed && frames.length >= 2 && !helpers) helpers = await (starting ??= startHelpers());
    const live = destroyed ? [] : (helpers ?? []).filter((h) => !h.dead);
    if (live.length === 0) return frames.map((f, i) => one(f, shifts[i]));
    // contiguous runs of frames: this thread takes the first (and the larger ones when uneven)
    const t = Math.min(live.length + 1, frames.length);
    const counts = Array.from({ length: t }, (_, k) => Math.floor(frames.length / t) + (k < frames.length % t ? 1 : 0));
    const starts = counts.map((_, k) => counts.slice(0, k).reduce((a, c) => a + c, 0));
    const part = <T>(a: T[], k: number) => a.slice(starts[k], starts[k] + counts[k]);
    // a helper that fails (it is then dropped) leaves its frames to this thread: same code, same result
    const theirs = live.slice(0, t - 1).map((h, k) => h.run(part(frames, k + 1), part(shifts, k + 1)).catch(() => null));
    const mine = part(frames, 0).map((f, i) => one(f, shifts[i]));
    const done = await Promise.all(theirs);
    return mine.concat(...done.map((r, k) => r ?? part(frames, k + 1).map((f, i) => one(f, shifts[starts[k + 1] + i]))));
  };

  return {
    backend: 'cpu',
    get threads() {
      return 1 + (destroyed ? 0 : (helpers ?? []).filter((h) => !h.dead).length);
    },
    async process(frames, shifts) {
      checkBatch(frames, shifts, pixels);
      const fixed = frames.map((_, i) => checkShift(shifts?.[i]));
      // one batch at a time: a helper's staging area is reused
      const result = tail.then(() => run(frames, fixed));
      tail = result.catch(() => undefined);
      return result;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      helpers?.forEach((h) => h.terminate());
      void starting?.then((hs) => hs.forEach((h) => h.terminate()));
    },
  };
}

const DEFAULT_BATCH_BYTES = 64 * 1024 * 1024;

/** The batch size used for `opts` on a device with `limits`. */
export function gpuBatchSize(limits: GPUSupportedLimits, opts: Pick<FrameProcessorOptions, 'width' | 'height' | 'maxBatch'>): number {
  const frameBytes = opts.width * opts.height * 4;
  const fit = Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / frameBytes);
  const wanted = opts.maxBatch ?? Math.min(64, Math.max(1, Math.floor(DEFAULT_BATCH_BYTES / frameBytes)));
  return Math.max(1, Math.min(wanted, fit, limits.maxComputeWorkgroupsPerDimension));
}

class GpuFrameProcessor implements FrameProcessor {
  readonly backend = 'gpu' as const;
  readonly maxBatch: number;
  private readonly device: GPUDevice;
  private readonly diffMap: DiffMapKernel;
  private readonly labelReduce: LabelReduceKernel;
  private readonly readback: GPUBuffer;
  private readonly mapBytes: number;
  private readonly partialsOffset: number;
  private readonly threshold: number;
  private readonly nLabels: number;
  private tail: Promise<unknown> = Promise.resolve();
  private destroyed = false;

  constructor(gpu: GpuContext, opts: FrameProcessorOptions, maxBatch: number) {
    this.device = gpu.device;
    this.maxBatch = maxBatch;
    this.threshold = opts.threshold;
    this.nLabels = opts.nLabels;
    const pixels = opts.width * opts.height;
    this.diffMap = new DiffMapKernel(gpu, { width: opts.width, height: opts.height, reference: opts.reference, smoothRadius: opts.smoothRadius ?? 0, maxBatch });
    this.labelReduce = new LabelReduceKernel(gpu, { width: opts.width, height: opts.height, labels: opts.labels, nLabels: opts.nLabels, maxBatch, diff: this.diffMap.diff });
    this.mapBytes = pixels * 4;
    this.partialsOffset = maxBatch * this.mapBytes; // a multiple of 4 as copyBufferToBuffer needs
    this.readback = this.device.createBuffer({
      label: 'FrameProcessor.readback',
      size: this.partialsOffset + Math.max(4, maxBatch * this.labelReduce.partialBytesPerFrame),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  process(frames: FrameData[], shifts?: ([number, number] | undefined)[]): Promise<ProcessedFrame[]> {
    // one batch at a time: the readback buffer is shared
    const run = this.tail.then(() => this.processAll(frames, shifts));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async processAll(frames: FrameData[], shifts?: ([number, number] | undefined)[]): Promise<ProcessedFrame[]> {
    if (this.destroyed) throw new Error('this frame processor was destroyed');
    checkBatch(frames, shifts, this.diffMap.width * this.diffMap.height);
    const out: ProcessedFrame[] = [];
    for (let s = 0; s < frames.length; s += this.maxBatch) {
      const e = Math.min(frames.length, s + this.maxBatch);
      out.push(...(await this.processBatch(frames.slice(s, e), shifts?.slice(s, e))));
    }
    return out;
  }

  private async processBatch(frames: FrameData[], shifts?: ([number, number] | undefined)[]): Promise<ProcessedFrame[]> {
    const n = frames.length;
    const device = this.device;
    device.pushErrorScope('validation');
    let thrown: unknown;
    try {
      this.diffMap.upload(frames, shifts);
      this.labelReduce.setBatch(n, this.threshold);
      const enc = device.createCommandEncoder({ label: 'FrameProcessor.batch' });
      const pass = enc.beginComputePass({ label: 'FrameProcessor.pass' });
      this.diffMap.encode(pass);
      this.labelReduce.encode(pass);
      pass.end();
      enc.copyBufferToBuffer(this.diffMap.diff, 0, this.readback, 0, n * this.mapBytes);
      const partialBytes = n * this.labelReduce.partialBytesPerFrame;
      if (partialBytes > 0) enc.copyBufferToBuffer(this.labelReduce.partials, 0, this.readback, this.partialsOffset, partialBytes);
      device.queue.submit([enc.finish()]);
    } catch (e) {
      thrown = e;
    }
    const error = await device.popErrorScope(); // always popped, so a thrown batch leaves no scope behind
    if (thrown) throw thrown;
    if (error) throw new Error(`GPU frame processor: ${error.message}`);
    await this.readback.mapAsync(GPUMapMode.READ);
    try {
      const mapped = this.readback.getMappedRange();
      const result: ProcessedFrame[] = [];
      for (let f = 0; f < n; f++) {
        const diff = new Float32Array(mapped.slice(f * this.mapBytes, (f + 1) * this.mapBytes));
        const words = new Uint32Array(mapped, this.partialsOffset + f * this.labelReduce.partialBytesPerFrame, this.labelReduce.nChunks * 8);
        const labelStats = this.labelReduce.reduceFrame(words, new Float64Array(this.nLabels * LABEL_STATS_STRIDE));
        result.push({ diff, labelStats });
      }
      return result;
    } finally {
      this.readback.unmap();
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.diffMap.destroy();
    this.labelReduce.destroy();
    this.readback.destroy();
  }
}

/**
 * The GPU processor on `gpu`. Throws a clear error when a frame does not fit the device (one float32
 * frame must fit a storage binding, the grid must fit maxComputeWorkgroupsPerDimension). The returned
 * processor also exposes `maxBatch` (frames per submit).
 */
export async function createGpuProcessor(gpu: GpuContext, opts: FrameProcessorOptions): Promise<FrameProcessor & { readonly maxBatch: number }> {
  checkOptions(opts);
  const lim = gpu.device.limits;
  const maxBatch = gpuBatchSize(lim, opts);
  checkDiffGrid(lim, opts.width, opts.height, maxBatch);
  let processor: GpuFrameProcessor | undefined;
  try {
    return await withErrorScope(gpu.device, `GPU frame processor for ${opts.width}×${opts.height} frames`, () => (processor = new GpuFrameProcessor(gpu, opts, maxBatch)));
  } catch (e) {
    processor?.destroy(); // built but invalid (e.g. out of GPU memory): release what was allocated
    throw e;
  }
}
