/**
 * The frame processor of `ionflux analyze`: ΔI/I0 maps of a movie's frames against a fixed reference
 * (with per-frame drift correction and optional smoothing) and, for each frame, the per-particle sums
 * behind the paper's asymmetry metric. Two implementations behind one interface: the CPU one calls
 * the float32 references of src/imaging/diffmap.ts, the GPU one runs shaders/diff_map.wgsl and
 * shaders/label_reduce.wgsl.
 *
 * CPU: the reference's reciprocal is computed once (prepareReference). The no-drift map of 16-bit
 * frames runs as a WebAssembly SIMD kernel (DIFF_U16_WASM, bit-identical to diffDirectU16) where wasm
 * SIMD and shared memory exist; reference, reciprocal, staging areas and output maps then live in its
 * shared memory, and this thread copies each of its frames in first. On Node, a batch of big frames
 * is split between this thread and helper threads (worker_threads), contiguous runs of frames per
 * thread; reference, reciprocal and label runs sit once in SharedArrayBuffers, a helper's frames are
 * copied into a reused shared staging area (or into transferred buffers), it writes its maps straight
 * into the processor's pool of output maps (SharedArrayBuffers) and sends back only the label sums. The
 * helpers run the same functions from their source text, so the result is bit-identical to one thread.
 * The output maps are allocated once (one per batch position) and reused by every later batch (a
 * fresh 2048² map costs ~3 ms of page faults per frame); the maps a call returns are valid until the
 * next call (see FrameProcessor.process).
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
  diffMapFast,
  diffShifted,
  labelReduceRuns,
  labelRuns,
  prepareReference,
  type FrameData,
  type PreparedReference,
  type WasmU16,
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
  /**
   * ΔI/I0, float32, width·height, NaN where undefined (see diffMapCpu). CPU processor: one of the
   * processor's reused output maps, valid only until the next process() call starts (copy what you
   * keep); GPU processor: a fresh array.
   */
  diff: Float32Array;
  /** 8 per label, as labelReduceCpu, computed on `diff` */
  labelStats: Float64Array;
}

export interface FrameProcessor {
  readonly backend: 'gpu' | 'cpu';
  /**
   * Maps and label sums of `frames` (any count; the GPU splits them into batches). `shifts[i]` is
   * frame i's measured drift [dx, dy] in pixels (content at reference + (dx, dy)); undefined = none.
   *
   * Contract on the maps: a processor may reuse its output arrays. The `diff` arrays returned by one
   * call are distinct from each other, but are valid only until the next process() call on the same
   * processor starts (calls are run one after another; a call issued before the previous one's
   * results were consumed overwrites them): consume them (write them out) or copy them
   * (`diff.slice()`) before that. The CPU processor reuses them; the GPU processor returns fresh
   * arrays. `labelStats` arrays are always fresh.
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
  /**
   * false: JS kernels only. Default: the no-drift 16-bit map runs as WebAssembly SIMD (bit-identical,
   * ~2.5× faster) wherever WebAssembly SIMD and shared memory are available.
   */
  wasm?: boolean;
}

/** Frames below this many pixels stay on one thread unless `threads` is given explicitly. */
const THREAD_MIN_PIXELS = 1 << 16;
const DEFAULT_MAX_THREADS = 4;

type FrameKind = 'u8' | 'u16' | 'f32';
const frameKind = (f: FrameData): FrameKind => (f instanceof Uint16Array ? 'u16' : f instanceof Uint8Array ? 'u8' : 'f32');

/**
 * A helper's job: its frame (`buffer` at `byteOffset`), the output map to write (`out` at `outAt`),
 * and `wasm`: both lie in the processor's wasm memory (then `byteOffset` and `outAt` are offsets in it).
 */
interface WorkerJob { kind: FrameKind; buffer: ArrayBufferLike; byteOffset: number; dx: number; dy: number; out: SharedArrayBuffer; outAt: number; wasm: boolean }
interface WorkerReply { id: number; error?: string; results?: { stats: ArrayBuffer }[] }

/**
 * The no-drift 16-bit map in WebAssembly SIMD (V8 does not vectorise the JS loop; this one measured
 * ~2.5× faster than diffDirectU16 on a 2048² frame). Exports u16(frame, ref, inv, out, groups): for
 * 4·groups pixels at byte offsets `frame` (uint16) and `ref`, `inv`, `out` (float32) of the imported
 * shared memory e.m (limits 0..65536 pages), out[i] = f32((f64(frame[i]) − f64(ref[i]))·f64(inv[i])):
 * the same float64 subtraction and multiplication and the same single rounding to float32 as
 * diffDirectU16, so the result is bit-identical (NaN included; test/imaging/diffmap.test.ts checks).
 * Per 4 pixels: v128.load16x4_u, v128.load ×2, f64x2.convert_low_i32x4_u / f64x2.promote_low_f32x4
 * on lanes 0–1 and (after an i8x16.shuffle) 2–3, f64x2.sub, f64x2.mul, f32x4.demote_f64x2_zero, one
 * i8x16.shuffle joining the halves, v128.store.
 */
const DIFF_U16_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x09, 0x01, 0x60, 0x05, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00, 0x02, 0x0b, 0x01, 0x01, 0x65,
  0x01, 0x6d, 0x02, 0x03, 0x00, 0x80, 0x80, 0x04, 0x03, 0x02, 0x01, 0x00, 0x07, 0x07, 0x01, 0x03, 0x75, 0x31, 0x36, 0x00, 0x00, 0x0a, 0xcd, 0x01,
  0x01, 0xca, 0x01, 0x01, 0x03, 0x7b, 0x02, 0x40, 0x20, 0x04, 0x45, 0x0d, 0x00, 0x03, 0x40, 0x20, 0x03, 0x20, 0x00, 0xfd, 0x04, 0x01, 0x00, 0x21,
  0x05, 0x20, 0x01, 0xfd, 0x00, 0x02, 0x00, 0x21, 0x06, 0x20, 0x02, 0xfd, 0x00, 0x02, 0x00, 0x21, 0x07, 0x20, 0x05, 0xfd, 0xff, 0x01, 0x20, 0x06,
  0xfd, 0x5f, 0xfd, 0xf1, 0x01, 0x20, 0x07, 0xfd, 0x5f, 0xfd, 0xf2, 0x01, 0xfd, 0x5e, 0x20, 0x05, 0x20, 0x05, 0xfd, 0x0d, 0x08, 0x09, 0x0a, 0x0b,
  0x0c, 0x0d, 0x0e, 0x0f, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xfd, 0xff, 0x01, 0x20, 0x06, 0x20, 0x06, 0xfd, 0x0d, 0x08, 0x09, 0x0a,
  0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xfd, 0x5f, 0xfd, 0xf1, 0x01, 0x20, 0x07, 0x20, 0x07, 0xfd, 0x0d,
  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xfd, 0x5f, 0xfd, 0xf2, 0x01, 0xfd, 0x5e, 0xfd,
  0x0d, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0xfd, 0x0b, 0x02, 0x00, 0x20, 0x00, 0x41,
  0x08, 0x6a, 0x21, 0x00, 0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, 0x20, 0x02, 0x41, 0x10, 0x6a, 0x21, 0x02, 0x20, 0x03, 0x41, 0x10, 0x6a, 0x21,
  0x03, 0x20, 0x04, 0x41, 0x01, 0x6b, 0x22, 0x04, 0x0d, 0x00, 0x0b, 0x0b, 0x0b,
]);

/** The processor's wasm memory: reference, reciprocal, frame staging and output maps, bump-allocated. */
interface Arena { memory: WebAssembly.Memory; u16: WasmU16; alloc(bytes: number): number }

/**
 * A shared wasm memory with the kernel instantiated on it, or null where WebAssembly SIMD or shared
 * memory are unavailable (then everything runs the JS kernels). alloc returns a 16-byte aligned byte
 * offset, or −1 when the memory cannot grow (4 GiB): the caller then uses a plain buffer.
 */
function createArena(): Arena | null {
  try {
    if (typeof SharedArrayBuffer !== 'function' || typeof WebAssembly !== 'object' || !WebAssembly.validate(DIFF_U16_WASM)) return null;
    const memory = new WebAssembly.Memory({ initial: 0, maximum: 65536, shared: true });
    const u16 = new WebAssembly.Instance(new WebAssembly.Module(DIFF_U16_WASM), { e: { m: memory } }).exports.u16 as WasmU16;
    let top = 0;
    const alloc = (bytes: number): number => {
      const end = top + Math.ceil(bytes / 16) * 16;
      if (end > 2 ** 32) return -1;
      const have = memory.buffer.byteLength / 65536, need = Math.ceil(end / 65536);
      if (need > have) {
        try {
          memory.grow(need - have);
        } catch {
          return -1;
        }
      }
      const at = top;
      top = end;
      return at;
    };
    return { memory, u16, alloc };
  } catch {
    return null;
  }
}


/**
 * The helper thread's script: the kernels of src/imaging/diffmap.ts from their source text (so the
 * same code runs in vitest and in the bundled CLI, where a worker file path would not exist), and a
 * message loop: jobs in (one frame each, in a shared staging area or a transferred buffer, and the
 * shared output map to write), their label sums out as transferred buffers.
 */
const workerSource = (kernels: string[]) => `
'use strict';
const { parentPort, workerData: w } = require('node:worker_threads');
${kernels.join('\n')}
const n = w.width * w.height;
const ref = new Float32Array(w.ref, w.refAt, n), inv = new Float32Array(w.inv, w.invAt, n), runs = new Int32Array(w.runs), base = new Float64Array(w.base);
let u16 = null;
try {
  if (w.memory) u16 = new WebAssembly.Instance(new WebAssembly.Module(w.wasm), { e: { m: w.memory } }).exports.u16;
} catch (e) {
  u16 = null; // the JS kernels then (same bits)
}
const refAt = u16 && w.memory ? w.refAt : -1;
const Kinds = { u8: Uint8Array, u16: Uint16Array, f32: Float32Array };
parentPort.on('message', (m) => {
  try {
    const results = [], transfer = [];
    for (const job of m.jobs) {
      const frame = new Kinds[job.kind](job.buffer, job.byteOffset, n);
      const diff = new Float32Array(job.out, job.outAt, n);
      const fast = job.wasm && u16 !== null;
      diffMapFast(u16, fast ? job.byteOffset : -1, refAt, w.invAt, fast ? job.outAt : -1, frame, ref, inv, w.intSafe, diff, w.width, w.height, job.dx, job.dy, w.smoothRadius);
      const stats = new Float64Array(base.length);
      labelReduceRuns(diff, runs, base, w.width, w.threshold, stats);
      results.push({ stats: stats.buffer });
      transfer.push(stats.buffer);
    }
    parentPort.postMessage({ id: m.id, results }, transfer);
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.stack || e) });
  }
});
`;

/** Everything the helper runs; each uses only the others and JS globals (see src/imaging/diffmap.ts). */
const workerKernels = () => [axisPlan, diffDirectU16, diffDirectU8, diffDirectF32, diffDirectGuarded, diffShifted, boxMeanCore, diffMapCore, diffMapFast, labelReduceRuns].map((f) => f.toString());

interface NodeWorker {
  postMessage(value: unknown, transfer?: readonly ArrayBuffer[]): void;
  on(event: 'message', cb: (m: WorkerReply) => void): unknown;
  on(event: 'error', cb: (e: Error) => void): unknown;
  on(event: 'exit', cb: (code: number) => void): unknown;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

/** A helper's staging area: `bytes` at `offset` of `buffer`; `wasm`: in the processor's wasm memory. */
interface Staging { buffer: SharedArrayBuffer; offset: number; bytes: number; wasm: boolean }
/** An output map; `at` = its byte offset in the wasm memory, −1 when it is a buffer of its own. */
interface MapSlot { view: Float32Array; at: number }
const outOf = (m: MapSlot) => ({ out: m.view.buffer as SharedArrayBuffer, outAt: m.view.byteOffset });

/** One helper thread: jobs out, results back by id; ref'd only while it owes a reply. */
class Helper {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: NonNullable<WorkerReply['results']>) => void; reject: (e: Error) => void }>();
  private staging: Staging | null = null;
  dead: Error | null = null;

  constructor(private readonly worker: NodeWorker, private readonly transport: 'shared' | 'transfer', private readonly allocStaging: (bytes: number) => Staging) {
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

  /**
   * Copies `frames` out (staging area or fresh buffers) and sends them with `outs` (maps on
   * SharedArrayBuffers, one per frame) to write; resolves with their results.
   */
  run(frames: FrameData[], shifts: [number, number][], outs: MapSlot[]): Promise<ProcessedFrame[]> {
    if (this.dead) return Promise.reject(this.dead);
    const slot = (f: FrameData) => Math.ceil(f.byteLength / 8) * 8;
    if (this.transport === 'shared') {
      const bytes = frames.reduce((a, f) => a + slot(f), 0);
      if (!this.staging || this.staging.bytes < bytes) this.staging = this.allocStaging(bytes);
    }
    this.worker.ref(); // replies are owed: keep the process alive until they arrive
    // one message per frame, sent as soon as it is copied: the helper starts on the first at once
    let at = 0;
    return Promise.all(frames.map((f, i) => {
      let job: WorkerJob;
      const transfer: ArrayBuffer[] = [];
      if (this.transport === 'shared') {
        const st = this.staging!;
        const view = new (f.constructor as new (b: ArrayBufferLike, o: number, l: number) => FrameData)(st.buffer, st.offset + at, f.length);
        view.set(f);
        job = { kind: frameKind(f), buffer: st.buffer, byteOffset: st.offset + at, dx: shifts[i][0], dy: shifts[i][1], ...outOf(outs[i]), wasm: st.wasm && outs[i].at >= 0 };
        at += slot(f);
      } else {
        const copy = f.slice();
        job = { kind: frameKind(f), buffer: copy.buffer, byteOffset: 0, dx: shifts[i][0], dy: shifts[i][1], ...outOf(outs[i]), wasm: false };
        transfer.push(copy.buffer as ArrayBuffer);
      }
      const id = this.nextId++;
      const done = new Promise<NonNullable<WorkerReply['results']>>((resolve, reject) => this.pending.set(id, { resolve, reject }));
      this.worker.postMessage({ id, jobs: [job] }, transfer);
      return done.then(([r]) => ({ diff: outs[i].view, labelStats: new Float64Array(r.stats) }));
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
 * The returned maps are reused: valid until the next process() call (see FrameProcessor.process).
 */
export function createCpuProcessor(opts: FrameProcessorOptions, cpu: CpuProcessorOptions = {}): FrameProcessor & { readonly threads: number; readonly wasm: boolean } {
  checkOptions(opts);
  if (cpu.threads !== undefined && (!Number.isInteger(cpu.threads) || cpu.threads < 1 || cpu.threads > 64)) {
    throw new Error(`threads = ${cpu.threads} is not allowed: use an integer from 1 to 64`);
  }
  if (cpu.frameTransport !== undefined && cpu.frameTransport !== 'shared' && cpu.frameTransport !== 'transfer') {
    throw new Error(`frameTransport = ${JSON.stringify(cpu.frameTransport)} is not allowed: use 'shared' or 'transfer'`);
  }
  if (cpu.wasm !== undefined && typeof cpu.wasm !== 'boolean') throw new Error(`wasm = ${JSON.stringify(cpu.wasm)} is not allowed: use true or false`);
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
  // the wasm memory (see DIFF_U16_WASM) holds reference and reciprocal, the frame staging areas and
  // the output maps, so that the SIMD kernel reaches them on every thread; without it (no wasm SIMD or
  // shared memory) they are SharedArrayBuffers (threads) or plain arrays, and only the JS kernels run
  let arena = cpu.wasm === false ? null : createArena();
  const refAt = arena ? arena.alloc(pixels * 4) : -1;
  const invAt = arena && refAt >= 0 ? arena.alloc(pixels * 4) : -1;
  if (invAt < 0) arena = null;
  const inArena = (at: number, n: number) => new Float32Array(arena!.memory.buffer, at, n);
  const reference = arena ? inArena(refAt, pixels) : shared(opts.reference, (b) => new Float32Array(b));
  if (arena) reference.set(opts.reference);
  const lr = labelRuns(opts.labels, nLabels, width);
  const runs = shared(lr.runs, (b) => new Int32Array(b));
  const base = mayThread ? new Float64Array(new SharedArrayBuffer(lr.base.byteLength)) : lr.base;
  if (base !== lr.base) base.set(lr.base);
  const prepared: PreparedReference = prepareReference(reference, arena ? inArena(invAt, pixels) : mayThread ? new Float32Array(new SharedArrayBuffer(pixels * 4)) : undefined);
  const u16 = arena?.u16 ?? null;

  // the output maps, one per batch position, reused by every batch (in the wasm memory, else shared
  // with the helpers when there may be any); every pixel is written, so a reused map needs no clearing
  const maps: MapSlot[] = [];
  const looseMap = (): MapSlot => ({ view: mayThread ? new Float32Array(new SharedArrayBuffer(pixels * 4)) : new Float32Array(pixels), at: -1 });
  const newMap = (): MapSlot => {
    const at = arena ? arena.alloc(pixels * 4) : -1;
    return at >= 0 ? { view: inArena(at, pixels), at } : looseMap();
  };
  const mapAt = (j: number) => (maps[j] ??= newMap());
  // staging areas in the wasm memory: this thread's (16-bit frames, allocated when first needed) and
  // the helpers' (their frames are copied anyway); elsewhere SharedArrayBuffers
  let stageAt = -2;
  let stage: Uint16Array | null = null;
  const myStage = (): Uint16Array | null => {
    if (stageAt === -2) {
      stageAt = arena ? arena.alloc(pixels * 2) : -1;
      stage = stageAt >= 0 ? new Uint16Array(arena!.memory.buffer, stageAt, pixels) : null;
    }
    return stage;
  };
  const allocStaging = (bytes: number): Staging => {
    const at = arena ? arena.alloc(bytes) : -1;
    return at >= 0 ? { buffer: arena!.memory.buffer as unknown as SharedArrayBuffer, offset: at, bytes, wasm: true } : { buffer: new SharedArrayBuffer(bytes), offset: 0, bytes, wasm: false };
  };

  const one = (frame: FrameData, shift: [number, number], slot: MapSlot): ProcessedFrame => {
    const diff = slot.view;
    // the SIMD kernel needs the frame in its memory: one copy of 2 bytes a pixel
    const fast = u16 !== null && slot.at >= 0 && frame instanceof Uint16Array && shift[0] === 0 && shift[1] === 0 && prepared.intSafe && myStage() !== null;
    if (fast) stage!.set(frame);
    diffMapFast(u16, fast ? stageAt : -1, refAt, invAt, fast ? slot.at : -1, fast ? stage! : frame, prepared.reference, prepared.inv, prepared.intSafe, diff, width, height, shift[0], shift[1], smoothRadius);
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
        ref: prepared.reference.buffer, refAt: prepared.reference.byteOffset, inv: prepared.inv.buffer, invAt: prepared.inv.byteOffset,
        runs: runs.buffer, base: base.buffer, intSafe: prepared.intSafe, width, height, threshold, smoothRadius,
        memory: arena?.memory ?? null, wasm: arena ? DIFF_U16_WASM : null,
      };
      return Array.from({ length: n - 1 }, () => new Helper(new Worker(source, { eval: true, workerData }) as unknown as NodeWorker, cpu.frameTransport ?? 'shared', allocStaging));
    } catch {
      return []; // no worker_threads (a browser): one thread
    }
  };

  const run = async (frames: FrameData[], shifts: [number, number][]): Promise<ProcessedFrame[]> => {
    if (mayThread && !destroyed && frames.length >= 2 && !helpers) helpers = await (starting ??= startHelpers());
    const live = destroyed ? [] : (helpers ?? []).filter((h) => !h.dead);
    const outs = frames.map((_, j) => mapAt(j));
    if (live.length === 0) return frames.map((f, i) => one(f, shifts[i], outs[i]));
    // contiguous runs of frames: this thread takes the first (and the larger ones when uneven)
    const t = Math.min(live.length + 1, frames.length);
    const counts = Array.from({ length: t }, (_, k) => Math.floor(frames.length / t) + (k < frames.length % t ? 1 : 0));
    const starts = counts.map((_, k) => counts.slice(0, k).reduce((a, c) => a + c, 0));
    const part = <T>(a: T[], k: number) => a.slice(starts[k], starts[k] + counts[k]);
    // a helper that fails (it is then dropped) leaves its frames to this thread: same code, same result
    const theirs = live.slice(0, t - 1).map((h, k) => h.run(part(frames, k + 1), part(shifts, k + 1), part(outs, k + 1)).catch(() => null));
    const mine = part(frames, 0).map((f, i) => one(f, shifts[i], outs[i]));
    const done = await Promise.all(theirs);
    // a failed helper's maps are replaced: the dying thread might still write into the old ones
    const redo = (k: number) => part(frames, k + 1).map((f, i) => one(f, shifts[starts[k + 1] + i], (maps[starts[k + 1] + i] = looseMap())));
    return mine.concat(...done.map((r, k) => r ?? redo(k)));
  };

  return {
    backend: 'cpu',
    wasm: arena !== null,
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
