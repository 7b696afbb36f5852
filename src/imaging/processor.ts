/**
 * The frame processor of `ionflux analyze`: ΔI/I0 maps of a movie's frames against a fixed reference
 * (with per-frame drift correction and optional smoothing) and, for each frame, the per-particle sums
 * behind the paper's asymmetry metric. Two implementations behind one interface: the CPU one calls
 * the float32 references of src/imaging/diffmap.ts, the GPU one runs shaders/diff_map.wgsl and
 * shaders/label_reduce.wgsl.
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
  checkImageSize,
  checkShift,
  checkSmoothRadius,
  diffMapCpu,
  labelReduceCpu,
  type FrameData,
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

/** The CPU processor: diffMapCpu + labelReduceCpu per frame. */
export function createCpuProcessor(opts: FrameProcessorOptions): FrameProcessor {
  checkOptions(opts);
  const { width, height, reference, labels, nLabels, threshold } = opts;
  const smoothRadius = opts.smoothRadius ?? 0;
  return {
    backend: 'cpu',
    async process(frames, shifts) {
      checkBatch(frames, shifts, width * height);
      return frames.map((frame, i) => {
        const diff = diffMapCpu(frame, reference, width, height, { shift: shifts?.[i], smoothRadius });
        return { diff, labelStats: labelReduceCpu(diff, labels, nLabels, width, threshold) };
      });
    },
    destroy() {},
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
