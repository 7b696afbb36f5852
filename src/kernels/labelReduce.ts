/**
 * Owner of shaders/label_reduce.wgsl: the per-label sums of labelReduceCpu (src/imaging/diffmap.ts)
 * over a batch of ΔI/I0 maps already on the GPU.
 *
 * Scheme (see the shader's header): particle pixels sorted by label once, cut into chunks; one
 * workgroup per (chunk, frame) writes 8 partial sums (u32 counts and coordinate sums, exact; a float32
 * ΔI/I0 sum of at most chunkPixels values); the CPU adds each label's partials in float64
 * (`reduceFrame`). Chosen over a second GPU pass because WGSL has no float atomics and a label's counts
 * and coordinate sums exceed u32 and float32's exact integers on large frames, while the partials are
 * few (particle pixels / chunkPixels per frame) and travel in the same readback as the maps.
 */
import shaderSource from '../../shaders/label_reduce.wgsl?raw';
import type { GpuContext } from '../gpu/device';
import { LABEL_STATS_STRIDE } from '../imaging/diffmap';

/** Byte layout of the WGSL `Params` uniform (tested against the shader in test/kernels). */
export const LABEL_PARAMS_LAYOUT = {
  size: 32,
  fields: { width: [0, 'u32'], pixelsPerFrame: [4, 'u32'], nChunks: [8, 'u32'], nFrames: [12, 'u32'], threshold: [16, 'f32'] },
} as const;

export interface LabelParams { width: number; pixelsPerFrame: number; nChunks: number; nFrames: number; threshold: number }

export function writeLabelParams(view: DataView, p: LabelParams): void {
  const f = LABEL_PARAMS_LAYOUT.fields;
  view.setUint32(f.width[0], p.width, true);
  view.setUint32(f.pixelsPerFrame[0], p.pixelsPerFrame, true);
  view.setUint32(f.nChunks[0], p.nChunks, true);
  view.setUint32(f.nFrames[0], p.nFrames, true);
  view.setFloat32(f.threshold[0], float32AtLeast(p.threshold), true);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * The smallest float32 ≥ t. For a float32 value v, `v < float32AtLeast(t)` (float32 compare on the
 * GPU) equals `v < t` (float64 compare in labelReduceCpu), so both count the same unreacted pixels.
 */
export function float32AtLeast(t: number): number {
  if (!Number.isFinite(t)) return t;
  const r = Math.fround(t);
  if (r >= t) return r;
  // rounded down: step to the next float32 up
  f32Scratch[0] = r;
  if (r === 0) u32Scratch[0] = 1; // −0 or +0 below a tiny positive t: the smallest subnormal
  else if (r > 0) u32Scratch[0] += 1;
  else u32Scratch[0] -= 1;
  return f32Scratch[0];
}

export interface LabelChunks {
  /** indices of the particle pixels, grouped by label (label 1 first), row-major within a label */
  pixelIndex: Uint32Array<ArrayBuffer>;
  /** 4 u32 per chunk: label, start, end ([start, end) in pixelIndex), 0 */
  chunks: Uint32Array<ArrayBuffer>;
  nChunks: number;
}

/**
 * Sorts the particle pixels by label (a counting sort) and cuts each label's run into chunks of at
 * most `chunkPixels` pixels. Throws on a label outside 0..nLabels.
 */
export function buildLabelChunks(labels: Int32Array, nLabels: number, chunkPixels: number): LabelChunks {
  if (!Number.isInteger(nLabels) || nLabels < 0) throw new Error(`nLabels = ${nLabels} is not allowed: use a non-negative integer`);
  const counts = new Uint32Array(nLabels + 1);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l < 0 || l > nLabels || !Number.isInteger(l)) throw new Error(`labels[${i}] = ${l} is outside 0..${nLabels} (0 = background, 1..nLabels = particles)`);
    counts[l]++;
  }
  const start = new Uint32Array(nLabels + 2);
  for (let l = 1; l <= nLabels; l++) start[l + 1] = start[l] + counts[l];
  const total = start[nLabels + 1];
  const pixelIndex = new Uint32Array(total);
  const next = start.slice();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l > 0) pixelIndex[next[l]++] = i;
  }
  let nChunks = 0;
  for (let l = 1; l <= nLabels; l++) nChunks += Math.ceil(counts[l] / chunkPixels);
  const chunks = new Uint32Array(nChunks * 4);
  let c = 0;
  for (let l = 1; l <= nLabels; l++) {
    for (let s = start[l]; s < start[l + 1]; s += chunkPixels, c++) {
      chunks[c * 4] = l;
      chunks[c * 4 + 1] = s;
      chunks[c * 4 + 2] = Math.min(s + chunkPixels, start[l + 1]);
    }
  }
  return { pixelIndex, chunks, nChunks };
}

export interface LabelReduceKernelOptions {
  width: number;
  height: number;
  /** 0 = background, 1..nLabels = particles; fixed for the kernel's life */
  labels: Int32Array;
  nLabels: number;
  /** frames per batch (sizes the partials buffer) */
  maxBatch: number;
  /** the ΔI/I0 maps to reduce: maxBatch × width·height float32, frame-major (e.g. DiffMapKernel.diff) */
  diff: GPUBuffer;
  /** pixels per workgroup chunk (default 4096) */
  chunkPixels?: number;
  /** invocations per workgroup, a power of two (WGSL override WG; default 256) */
  workgroupSize?: number;
}

export class LabelReduceKernel {
  readonly width: number;
  readonly height: number;
  readonly nLabels: number;
  readonly maxBatch: number;
  readonly nChunks: number;
  readonly chunkPixels: number;
  readonly workgroupSize: number;
  /** 8 u32 per (frame, chunk), frame-major: read back and give each frame's slice to reduceFrame */
  readonly partials: GPUBuffer;
  /** bytes of partials per frame (nChunks · 8 · 4) */
  readonly partialBytesPerFrame: number;

  private readonly device: GPUDevice;
  private readonly chunkLabel: Uint32Array;
  private readonly params: GPUBuffer;
  private readonly paramsData = new ArrayBuffer(LABEL_PARAMS_LAYOUT.size);
  private readonly paramsView = new DataView(this.paramsData);
  private readonly pixelIndex: GPUBuffer;
  private readonly chunks: GPUBuffer;
  private readonly pipeline: GPUComputePipeline;
  private readonly bindGroup: GPUBindGroup;
  private nFrames = 0;

  constructor(gpu: GpuContext, opts: LabelReduceKernelOptions) {
    const { width, height, labels, nLabels, diff } = opts;
    const device = gpu.device;
    const lim = device.limits;
    if (labels.length !== width * height) throw new Error(`labels has ${labels.length} pixels but the frame is ${width}×${height}`);
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) throw new Error(`maxBatch = ${opts.maxBatch} is not allowed: use a positive integer`);
    const wg = opts.workgroupSize ?? 256;
    if (!Number.isInteger(Math.log2(wg)) || wg > lim.maxComputeInvocationsPerWorkgroup || wg > lim.maxComputeWorkgroupSizeX) {
      throw new Error(`workgroupSize = ${wg} is not allowed: use a power of two up to ${Math.min(lim.maxComputeInvocationsPerWorkgroup, lim.maxComputeWorkgroupSizeX)}`);
    }
    const chunkPixels = opts.chunkPixels ?? 4096;
    // a chunk's coordinate sums must stay exact in u32
    const maxCoord = Math.max(width, height) - 1;
    if (!Number.isInteger(chunkPixels) || chunkPixels < 1 || chunkPixels * maxCoord >= 2 ** 32) {
      throw new Error(`chunkPixels = ${chunkPixels} is not allowed for a ${width}×${height} frame: use a positive integer below ${Math.floor(2 ** 32 / Math.max(1, maxCoord))}`);
    }
    const plan = buildLabelChunks(labels, nLabels, chunkPixels);
    if (plan.nChunks > lim.maxComputeWorkgroupsPerDimension || opts.maxBatch > lim.maxComputeWorkgroupsPerDimension) {
      throw new Error(`${plan.nChunks} chunks of ${chunkPixels} particle pixels in batches of ${opts.maxBatch} exceed this device's maxComputeWorkgroupsPerDimension (${lim.maxComputeWorkgroupsPerDimension}); use a larger chunkPixels`);
    }
    this.device = device;
    this.width = width;
    this.height = height;
    this.nLabels = nLabels;
    this.maxBatch = opts.maxBatch;
    this.nChunks = plan.nChunks;
    this.chunkPixels = chunkPixels;
    this.workgroupSize = wg;
    this.partialBytesPerFrame = plan.nChunks * 8 * 4;
    this.chunkLabel = new Uint32Array(plan.nChunks);
    for (let c = 0; c < plan.nChunks; c++) this.chunkLabel[c] = plan.chunks[c * 4];

    const S = GPUBufferUsage.STORAGE, D = GPUBufferUsage.COPY_DST;
    this.params = device.createBuffer({ label: 'LabelReduce.params', size: LABEL_PARAMS_LAYOUT.size, usage: GPUBufferUsage.UNIFORM | D });
    this.pixelIndex = device.createBuffer({ label: 'LabelReduce.pixelIndex', size: Math.max(4, plan.pixelIndex.byteLength), usage: S | D });
    device.queue.writeBuffer(this.pixelIndex, 0, plan.pixelIndex);
    this.chunks = device.createBuffer({ label: 'LabelReduce.chunks', size: Math.max(16, plan.chunks.byteLength), usage: S | D });
    device.queue.writeBuffer(this.chunks, 0, plan.chunks);
    this.partials = device.createBuffer({ label: 'LabelReduce.partials', size: Math.max(4, this.maxBatch * this.partialBytesPerFrame), usage: S | GPUBufferUsage.COPY_SRC });

    const module = device.createShaderModule({ label: 'LabelReduce.shader', code: shaderSource });
    const storage = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    const layout = device.createBindGroupLayout({
      label: 'LabelReduce.bindGroupLayout',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        storage(1, 'read-only-storage'),
        storage(2, 'read-only-storage'),
        storage(3, 'read-only-storage'),
        storage(4, 'storage'),
      ],
    });
    this.pipeline = device.createComputePipeline({
      label: 'LabelReduce.pipeline',
      layout: device.createPipelineLayout({ label: 'LabelReduce.pipelineLayout', bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main', constants: { WG: wg } },
    });
    const buffers = [this.params, diff, this.pixelIndex, this.chunks, this.partials];
    this.bindGroup = device.createBindGroup({
      label: 'LabelReduce.bindGroup',
      layout,
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /** Sets the batch size and the unreacted threshold (ΔI/I0) for the next `encode`; a queue write. */
  setBatch(nFrames: number, threshold: number): void {
    if (!Number.isInteger(nFrames) || nFrames < 1 || nFrames > this.maxBatch) throw new Error(`a batch has ${nFrames} frames; this kernel takes 1 to ${this.maxBatch}`);
    if (Number.isNaN(threshold)) throw new Error('threshold = NaN is not allowed: use a number (0.05 in the paper)');
    writeLabelParams(this.paramsView, { width: this.width, pixelsPerFrame: this.width * this.height, nChunks: this.nChunks, nFrames, threshold });
    this.device.queue.writeBuffer(this.params, 0, this.paramsData);
    this.nFrames = nFrames;
  }

  /** Records the reduction of the batch's maps into `pass` (nothing when no pixel is labelled). */
  encode(pass: GPUComputePassEncoder): void {
    if (this.nFrames === 0) throw new Error('LabelReduceKernel.encode before setBatch');
    if (this.nChunks === 0) return;
    pass.setBindGroup(0, this.bindGroup);
    pass.setPipeline(this.pipeline);
    pass.dispatchWorkgroups(this.nChunks, this.nFrames);
  }

  /**
   * Adds one frame's partials (nChunks · 8 u32, as read back) into 8 numbers per label, float64, in
   * labelReduceCpu's order: [pixelCount, sumDiff, finiteCount, unreactedCount, sumCol, sumRow,
   * sumColUnreacted, sumRowUnreacted] at (label − 1)·8.
   */
  reduceFrame(words: Uint32Array, out: Float64Array = new Float64Array(this.nLabels * LABEL_STATS_STRIDE)): Float64Array {
    if (words.length < this.nChunks * 8) throw new Error(`${words.length} partial words given, ${this.nChunks * 8} needed`);
    const sums = new Float32Array(words.buffer, words.byteOffset, words.length);
    out.fill(0);
    for (let c = 0; c < this.nChunks; c++) {
      const o = (this.chunkLabel[c] - 1) * LABEL_STATS_STRIDE, w = c * 8;
      out[o] += words[w];
      out[o + 1] += sums[w + 1];
      for (let k = 2; k < 8; k++) out[o + k] += words[w + k];
    }
    return out;
  }

  destroy(): void {
    for (const b of [this.params, this.pixelIndex, this.chunks, this.partials]) b.destroy();
  }
}
