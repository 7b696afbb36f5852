/**
 * Owner of shaders/diff_map.wgsl: ΔI/I0 maps of a batch of frames on the GPU, with per-frame drift
 * shift (bilinear) and optional NaN-aware box smoothing — the same definitions as diffMapCpu
 * (src/imaging/diffmap.ts). Pipelines, bind group and buffers are built once in the constructor;
 * `upload` writes a batch's frames and per-frame data, `encode` records the passes.
 *
 * Frames travel packed in u32 words in their own format (8-bit: 4 pixels a word, 16-bit: 2, float32:
 * 1), so a 16-bit movie uploads half the bytes of a float32 one; the shader unpacks. Each frame starts
 * on a word boundary. Frames of different formats may share a batch.
 */
import shaderSource from '../../shaders/diff_map.wgsl?raw';
import type { GpuContext } from '../gpu/device';
import { checkImageSize, checkShift, checkSmoothRadius, type FrameData } from '../imaging/diffmap';

/** Byte layout of the WGSL `Params` uniform (tested against the shader in test/kernels). */
export const DIFF_PARAMS_LAYOUT = {
  size: 16,
  fields: { width: [0, 'u32'], height: [4, 'u32'], nFrames: [8, 'u32'], smoothRadius: [12, 'u32'] },
} as const;

/** Byte layout of one WGSL `FrameInfo` in the frameInfo storage array (stride = size). */
export const FRAME_INFO_LAYOUT = {
  size: 16,
  fields: { shiftX: [0, 'f32'], shiftY: [4, 'f32'], format: [8, 'u32'], wordOffset: [12, 'u32'] },
} as const;

export interface DiffParams { width: number; height: number; nFrames: number; smoothRadius: number }

export function writeDiffParams(view: DataView, p: DiffParams): void {
  const f = DIFF_PARAMS_LAYOUT.fields;
  view.setUint32(f.width[0], p.width, true);
  view.setUint32(f.height[0], p.height, true);
  view.setUint32(f.nFrames[0], p.nFrames, true);
  view.setUint32(f.smoothRadius[0], p.smoothRadius, true);
}

export interface FrameInfo { shiftX: number; shiftY: number; format: FrameFormat; wordOffset: number }

export function writeFrameInfo(view: DataView, index: number, info: FrameInfo): void {
  const o = index * FRAME_INFO_LAYOUT.size, f = FRAME_INFO_LAYOUT.fields;
  view.setFloat32(o + f.shiftX[0], info.shiftX, true);
  view.setFloat32(o + f.shiftY[0], info.shiftY, true);
  view.setUint32(o + f.format[0], info.format, true);
  view.setUint32(o + f.wordOffset[0], info.wordOffset, true);
}

/** Frame formats as the shader numbers them. */
export const FrameFormat = { u8: 0, u16: 1, f32: 2 } as const;
export type FrameFormat = (typeof FrameFormat)[keyof typeof FrameFormat];

export function frameFormatOf(frame: FrameData): FrameFormat {
  if (frame instanceof Uint16Array) return FrameFormat.u16;
  if (frame instanceof Uint8Array) return FrameFormat.u8;
  if (frame instanceof Float32Array) return FrameFormat.f32;
  throw new Error(`a frame must be a Uint8Array, Uint16Array or Float32Array, not ${Object.prototype.toString.call(frame)}`);
}

const BYTES_PER_PIXEL: Record<FrameFormat, number> = { 0: 1, 1: 2, 2: 4 };

/** u32 words one packed frame of `pixels` pixels takes (rounded up to whole words). */
export function frameWords(format: FrameFormat, pixels: number): number {
  return Math.ceil((pixels * BYTES_PER_PIXEL[format]) / 4);
}

export interface DiffMapKernelOptions {
  width: number;
  height: number;
  /** I_ref, float32, width·height */
  reference: Float32Array;
  /** box-mean radius in pixels, 0 = none */
  smoothRadius?: number;
  /** frames per batch (sizes the buffers) */
  maxBatch: number;
  /** workgroup size [x, y] (WGSL overrides WG_X, WG_Y); default [16, 16] */
  workgroup?: [number, number];
  /** consecutive pixels per invocation of the map pass (WGSL override); default 4 */
  pixelsPerInvocation?: number;
}

export class DiffMapKernel {
  readonly width: number;
  readonly height: number;
  readonly maxBatch: number;
  readonly smoothRadius: number;
  readonly workgroup: [number, number];
  readonly pixelsPerInvocation: number;
  /** ΔI/I0 of the last batch: maxBatch × width·height float32, frame-major */
  readonly diff: GPUBuffer;

  private readonly device: GPUDevice;
  private readonly params: GPUBuffer;
  private readonly paramsData = new ArrayBuffer(DIFF_PARAMS_LAYOUT.size);
  private readonly paramsView = new DataView(this.paramsData);
  private readonly frameInfo: GPUBuffer;
  private readonly frameInfoData: ArrayBuffer;
  private readonly frameInfoView: DataView;
  private readonly reference: GPUBuffer;
  private readonly rowSum: GPUBuffer;
  private readonly rowCount: GPUBuffer;
  private frames: GPUBuffer;
  private readonly layout: GPUBindGroupLayout;
  private bindGroup: GPUBindGroup;
  private readonly diffPipeline: GPUComputePipeline;
  private readonly rowsPipeline: GPUComputePipeline;
  private readonly colsPipeline: GPUComputePipeline;
  /** a padded copy for frames whose byte length is not a multiple of 4 (writeBuffer needs that) */
  private readonly padScratch: Uint8Array<ArrayBuffer>;
  private nFrames = 0;

  constructor(gpu: GpuContext, opts: DiffMapKernelOptions) {
    const { width, height, reference } = opts;
    checkImageSize(width, height, 'frame');
    if (reference.length !== width * height) throw new Error(`reference has ${reference.length} pixels but the frame is ${width}×${height}`);
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) throw new Error(`maxBatch = ${opts.maxBatch} is not allowed: use a positive integer`);
    const device = gpu.device;
    const lim = device.limits;
    const [wgx, wgy] = opts.workgroup ?? [16, 16];
    if (wgx * wgy > lim.maxComputeInvocationsPerWorkgroup || wgx > lim.maxComputeWorkgroupSizeX || wgy > lim.maxComputeWorkgroupSizeY) {
      throw new Error(`workgroup ${wgx}×${wgy} exceeds this device's limits (${lim.maxComputeInvocationsPerWorkgroup} invocations, ${lim.maxComputeWorkgroupSizeX}×${lim.maxComputeWorkgroupSizeY})`);
    }
    const ppi = opts.pixelsPerInvocation ?? 4;
    if (!Number.isInteger(ppi) || ppi < 1 || ppi > 64) throw new Error(`pixelsPerInvocation = ${ppi} is not allowed: use an integer from 1 to 64`);
    checkDiffGrid(lim, width, height, opts.maxBatch, [wgx, wgy]);
    this.device = device;
    this.width = width;
    this.height = height;
    this.maxBatch = opts.maxBatch;
    this.smoothRadius = checkSmoothRadius(opts.smoothRadius);
    this.workgroup = [wgx, wgy];
    this.pixelsPerInvocation = ppi;
    const pixels = width * height;
    const S = GPUBufferUsage.STORAGE;

    this.params = device.createBuffer({ label: 'DiffMap.params', size: DIFF_PARAMS_LAYOUT.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.frameInfoData = new ArrayBuffer(this.maxBatch * FRAME_INFO_LAYOUT.size);
    this.frameInfoView = new DataView(this.frameInfoData);
    this.frameInfo = device.createBuffer({ label: 'DiffMap.frameInfo', size: this.frameInfoData.byteLength, usage: S | GPUBufferUsage.COPY_DST });
    this.reference = device.createBuffer({ label: 'DiffMap.reference', size: pixels * 4, usage: S | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(this.reference, 0, reference as Float32Array<ArrayBuffer>);
    this.diff = device.createBuffer({ label: 'DiffMap.diff', size: this.maxBatch * pixels * 4, usage: S | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    // the smoothing scratch only exists when smoothing is on (a 4-byte stand-in keeps the layout)
    const scratch = this.smoothRadius > 0 ? this.maxBatch * pixels * 4 : 4;
    this.rowSum = device.createBuffer({ label: 'DiffMap.rowSum', size: scratch, usage: S });
    this.rowCount = device.createBuffer({ label: 'DiffMap.rowCount', size: scratch, usage: S });
    // sized for 16-bit frames, the common case; grows once if a batch needs more (float32 frames)
    this.frames = this.createFramesBuffer(this.maxBatch * frameWords(FrameFormat.u16, pixels) * 4);
    this.padScratch = new Uint8Array(frameWords(FrameFormat.u16, pixels) * 4);

    const module = device.createShaderModule({ label: 'DiffMap.shader', code: shaderSource });
    const storage = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    this.layout = device.createBindGroupLayout({
      label: 'DiffMap.bindGroupLayout',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        storage(1, 'read-only-storage'),
        storage(2, 'read-only-storage'),
        storage(3, 'read-only-storage'),
        storage(4, 'storage'),
        storage(5, 'storage'),
        storage(6, 'storage'),
      ],
    });
    const pipelineLayout = device.createPipelineLayout({ label: 'DiffMap.pipelineLayout', bindGroupLayouts: [this.layout] });
    const pipeline = (entryPoint: string) => {
      const constants: Record<string, number> = { WG_X: wgx, WG_Y: wgy };
      if (entryPoint === 'diffMain') constants.PIXELS_PER_INVOCATION = ppi; // only that entry point uses it
      return device.createComputePipeline({ label: `DiffMap.${entryPoint}`, layout: pipelineLayout, compute: { module, entryPoint, constants } });
    };
    this.diffPipeline = pipeline('diffMain');
    this.rowsPipeline = pipeline('smoothRows');
    this.colsPipeline = pipeline('smoothCols');
    this.bindGroup = this.createBindGroup();
  }

  private createFramesBuffer(size: number): GPUBuffer {
    return this.device.createBuffer({ label: 'DiffMap.frames', size: Math.max(4, size), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  }

  private createBindGroup(): GPUBindGroup {
    const buffers = [this.params, this.frames, this.frameInfo, this.reference, this.diff, this.rowSum, this.rowCount];
    return this.device.createBindGroup({
      label: 'DiffMap.bindGroup',
      layout: this.layout,
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /**
   * Writes a batch: the frames (packed, in their own format), each frame's drift shift [dx, dy]
   * (pixels; content at reference + (dx, dy); undefined = none) and the uniforms. Queue writes: they
   * take effect before the next submit.
   */
  upload(frames: readonly FrameData[], shifts?: readonly ([number, number] | undefined)[]): void {
    const n = frames.length;
    if (n < 1 || n > this.maxBatch) throw new Error(`a batch has ${n} frames; this kernel takes 1 to ${this.maxBatch}`);
    if (shifts && shifts.length !== n) throw new Error(`${shifts.length} shifts given for ${n} frames`);
    const pixels = this.width * this.height;
    let words = 0;
    const offsets: number[] = [];
    for (let f = 0; f < n; f++) {
      const frame = frames[f];
      const format = frameFormatOf(frame);
      if (frame.length !== pixels) throw new Error(`frame ${f} has ${frame.length} pixels but the movie is ${this.width}×${this.height} = ${pixels}`);
      const [dx, dy] = checkShift(shifts?.[f], `shift of frame ${f}`);
      offsets.push(words);
      writeFrameInfo(this.frameInfoView, f, { shiftX: dx, shiftY: dy, format, wordOffset: words });
      words += frameWords(format, pixels);
    }
    if (words * 4 > this.frames.size) {
      // float32 frames (or a mix) need more than the 16-bit sizing: grow once and rebind
      this.frames.destroy();
      this.frames = this.createFramesBuffer(Math.max(words * 4, this.maxBatch * frameWords(FrameFormat.f32, pixels) * 4));
      this.bindGroup = this.createBindGroup();
    }
    const queue = this.device.queue;
    for (let f = 0; f < n; f++) {
      const frame = frames[f];
      if (frame.byteLength % 4 === 0) {
        queue.writeBuffer(this.frames, offsets[f] * 4, frame as ArrayBufferView<ArrayBuffer>);
      } else {
        // odd pixel count of an 8/16-bit frame: pad to whole words
        const bytes = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
        const padded = frameWords(frameFormatOf(frame), pixels) * 4;
        this.padScratch.set(bytes);
        this.padScratch.fill(0, bytes.length, padded);
        queue.writeBuffer(this.frames, offsets[f] * 4, this.padScratch.subarray(0, padded));
      }
    }
    queue.writeBuffer(this.frameInfo, 0, this.frameInfoData, 0, n * FRAME_INFO_LAYOUT.size);
    writeDiffParams(this.paramsView, { width: this.width, height: this.height, nFrames: n, smoothRadius: this.smoothRadius });
    queue.writeBuffer(this.params, 0, this.paramsData);
    this.nFrames = n;
  }

  /** Records the map (and smoothing) passes for the frames of the last `upload` into `pass`. */
  encode(pass: GPUComputePassEncoder): void {
    if (this.nFrames === 0) throw new Error('DiffMapKernel.encode before upload');
    const gx = Math.ceil(this.width / this.workgroup[0]), gy = Math.ceil(this.height / this.workgroup[1]);
    pass.setBindGroup(0, this.bindGroup);
    pass.setPipeline(this.diffPipeline);
    pass.dispatchWorkgroups(Math.ceil(this.width / (this.workgroup[0] * this.pixelsPerInvocation)), gy, this.nFrames);
    if (this.smoothRadius > 0) {
      pass.setPipeline(this.rowsPipeline);
      pass.dispatchWorkgroups(gx, gy, this.nFrames);
      pass.setPipeline(this.colsPipeline);
      pass.dispatchWorkgroups(gx, gy, this.nFrames);
    }
  }

  /** frames in the last uploaded batch */
  get batchFrames(): number {
    return this.nFrames;
  }

  destroy(): void {
    for (const b of [this.params, this.frameInfo, this.reference, this.diff, this.rowSum, this.rowCount, this.frames]) b.destroy();
  }
}

/**
 * Throws a clear error when a width × height frame (batches of `maxBatch`) does not fit the device:
 * one float32 frame in a storage binding, the dispatch grid per dimension.
 */
export function checkDiffGrid(lim: GPUSupportedLimits, width: number, height: number, maxBatch: number, workgroup: [number, number] = [16, 16]): void {
  const frameBytes = width * height * 4;
  if (frameBytes > lim.maxStorageBufferBindingSize || frameBytes > lim.maxBufferSize) {
    throw new Error(`a ${width}×${height} frame needs ${frameBytes} bytes as float32, more than this device's maxStorageBufferBindingSize (${lim.maxStorageBufferBindingSize}) / maxBufferSize (${lim.maxBufferSize}); crop or bin the movie, or use --backend cpu`);
  }
  if (maxBatch * frameBytes > lim.maxStorageBufferBindingSize) {
    throw new Error(`a batch of ${maxBatch} ${width}×${height} frames needs ${maxBatch * frameBytes} bytes, more than this device's maxStorageBufferBindingSize (${lim.maxStorageBufferBindingSize}); use a smaller maxBatch`);
  }
  const gx = Math.ceil(width / workgroup[0]), gy = Math.ceil(height / workgroup[1]);
  const maxWg = lim.maxComputeWorkgroupsPerDimension;
  if (gx > maxWg || gy > maxWg || maxBatch > maxWg) {
    throw new Error(`a ${width}×${height} frame in batches of ${maxBatch} needs ${gx}×${gy}×${maxBatch} workgroups of ${workgroup[0]}×${workgroup[1]}, more than this device's maxComputeWorkgroupsPerDimension (${maxWg})`);
  }
}
