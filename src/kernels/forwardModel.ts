/**
 * Owner of shaders/forward_model.wgsl, plus the per-particle sums of the camera image through the
 * imaging code's LabelReduceKernel (the particle mask as label 1): the simulation's optical metrics
 * (unreacted fraction, centre-of-mass offset) computed on the GPU, read back as a few dozen bytes.
 */
import source from '../../shaders/forward_model.wgsl?raw';
import type { GpuContext } from '../gpu/device';
import type { Camera } from '../optics/forward';
import { LabelReduceKernel } from './labelReduce';

/** Packs sparse gather weights as (start, count, offset, 0) per output and one value array. */
function packWeights(w: Camera['wx'], valueOffset: number): { index: Uint32Array<ArrayBuffer>; values: number[] } {
  const index = new Uint32Array(4 * w.starts.length);
  const values: number[] = [];
  for (let p = 0; p < w.starts.length; p++) {
    index.set([w.starts[p], w.weights[p].length, valueOffset + values.length, 0], 4 * p);
    values.push(...w.weights[p]);
  }
  return { index, values };
}

export class ForwardModelKernel {
  static readonly WG = 16;
  private readonly rowsPipeline: GPUComputePipeline;
  private readonly colsPipeline: GPUComputePipeline;
  private readonly bindGroups: GPUBindGroup[];
  private readonly owned: GPUBuffer[] = [];
  readonly diff: GPUBuffer;
  readonly reduce: LabelReduceKernel;

  constructor(gpu: GpuContext, private readonly camera: Camera, xi: readonly GPUBuffer[]) {
    const device = gpu.device;
    const { width, height } = camera;
    const { nx, ny } = camera.grid;
    const S = GPUBufferUsage;
    const buffer = (label: string, data: ArrayBufferView<ArrayBuffer> | null, size: number, usage: number) => {
      const b = device.createBuffer({ label: `ForwardModel.${label}`, size: Math.max(16, Math.ceil(size / 4) * 4), usage: usage | S.COPY_DST });
      if (data) device.queue.writeBuffer(b, 0, data);
      this.owned.push(b);
      return b;
    };
    const params = new ArrayBuffer(32);
    new Uint32Array(params, 0, 4).set([nx, ny, width, height]);
    new Float32Array(params, 16, 1)[0] = camera.kappa;
    const wx = packWeights(camera.wx, 0);
    const wy = packWeights(camera.wy, wx.values.length);
    const values = Float32Array.from([...wx.values, ...wy.values]);
    const paramsBuf = buffer('params', new Uint8Array(params), 32, S.UNIFORM);
    const tmp = buffer('tmp', null, 8 * ny * width, S.STORAGE);
    const wxBuf = buffer('wxIndex', wx.index, wx.index.byteLength, S.STORAGE);
    const wyBuf = buffer('wyIndex', wy.index, wy.index.byteLength, S.STORAGE);
    const valBuf = buffer('weights', values, values.byteLength, S.STORAGE);
    const maskBuf = buffer('mask', Uint32Array.from(camera.mask), 4 * width * height, S.STORAGE);
    this.diff = buffer('diff', null, 4 * width * height, S.STORAGE | S.COPY_SRC);
    const module = device.createShaderModule({ label: 'ForwardModel.module', code: source });
    const constants = { WG_X: ForwardModelKernel.WG, WG_Y: ForwardModelKernel.WG };
    this.rowsPipeline = device.createComputePipeline({ label: 'ForwardModel.rows', layout: 'auto', compute: { module, entryPoint: 'rows', constants } });
    this.colsPipeline = device.createComputePipeline({ label: 'ForwardModel.cols', layout: 'auto', compute: { module, entryPoint: 'cols', constants } });
    // one explicit layout would serve both entry points; 'auto' layouts differ per pipeline, so
    // each pass gets its own bind group built against its pipeline
    const make = (pipeline: GPUComputePipeline, k: number, label: string) => device.createBindGroup({
      label: `ForwardModel.${label}${k}`,
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: paramsBuf } },
        { binding: 1, resource: { buffer: xi[k] } },
        { binding: 2, resource: { buffer: tmp } },
        { binding: 3, resource: { buffer: wxBuf } },
        { binding: 4, resource: { buffer: wyBuf } },
        { binding: 5, resource: { buffer: valBuf } },
        { binding: 6, resource: { buffer: maskBuf } },
        { binding: 7, resource: { buffer: this.diff } },
      ].filter((e) => (label === 'rows' ? [0, 1, 2, 3, 5] : [0, 2, 4, 5, 6, 7]).includes(e.binding)),
    });
    this.bindGroups = xi.map((_, k) => make(this.rowsPipeline, k, 'rows'));
    this.colsGroup = make(this.colsPipeline, 0, 'cols');
    const labels = Int32Array.from(camera.mask);
    this.reduce = new LabelReduceKernel(gpu, { width, height, labels, nLabels: 1, maxBatch: 1, diff: this.diff });
  }

  private readonly colsGroup: GPUBindGroup;

  /** Records the camera image of xi[k] and its particle sums (threshold: unreacted ΔI/I0). */
  encode(pass: GPUComputePassEncoder, k: number, threshold: number): void {
    const { width, height } = this.camera;
    const WG = ForwardModelKernel.WG;
    pass.setPipeline(this.rowsPipeline);
    pass.setBindGroup(0, this.bindGroups[k]);
    pass.dispatchWorkgroups(Math.ceil(width / WG), Math.ceil(this.camera.grid.ny / WG));
    pass.setPipeline(this.colsPipeline);
    pass.setBindGroup(0, this.colsGroup);
    pass.dispatchWorkgroups(Math.ceil(width / WG), Math.ceil(height / WG));
    this.reduce.setBatch(1, threshold);
    this.reduce.encode(pass);
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.reduce.destroy();
  }
}
