/**
 * Owner of shaders/field_reduce.wgsl: per-workgroup partials (exact integer sum in two 16-bit
 * halves, count, min, max) of the fixed-point state over the particle, combined on the host.
 */
import source from '../../shaders/field_reduce.wgsl?raw';

export const PARTIAL_BYTES = 32;
/** cells per invocation at most, so that a workgroup's 16-bit half sums stay below 2^32 */
const CELLS_PER_INVOCATION = 64;

export class FieldReduceKernel {
  static readonly WG = 256;
  readonly workgroups: number;
  readonly partials: GPUBuffer;
  private readonly pipeline: GPUComputePipeline;
  private readonly bindGroups: GPUBindGroup[];

  /** enough workgroups for n cells that no invocation sums more than CELLS_PER_INVOCATION of them */
  static workgroupsFor(n: number): number {
    return Math.max(1, Math.ceil(n / FieldReduceKernel.WG / CELLS_PER_INVOCATION));
  }

  constructor(device: GPUDevice, n: number, xi: readonly GPUBuffer[]) {
    this.workgroups = FieldReduceKernel.workgroupsFor(n);
    const uniforms = device.createBuffer({ label: 'FieldReduce.uniforms', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(uniforms, 0, new Uint32Array([n, 0, 0, 0]));
    this.partials = device.createBuffer({ label: 'FieldReduce.partials', size: this.workgroups * PARTIAL_BYTES, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const module = device.createShaderModule({ label: 'FieldReduce.module', code: source });
    this.pipeline = device.createComputePipeline({
      label: 'FieldReduce.pipeline',
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: { WG: FieldReduceKernel.WG } },
    });
    const layout = this.pipeline.getBindGroupLayout(0);
    const make = (k: number) => device.createBindGroup({
      label: `FieldReduce.bindGroup${k}`,
      layout,
      entries: [
        { binding: 0, resource: { buffer: uniforms } },
        { binding: 1, resource: { buffer: xi[k] } },
        { binding: 2, resource: { buffer: this.partials } },
      ],
    });
    this.bindGroups = xi.map((_, k) => make(k));
  }

  encode(pass: GPUComputePassEncoder, k: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroups[k]);
    pass.dispatchWorkgroups(this.workgroups);
  }

  /** Combines read-back partials: the exact sum, count, min and max of q over the particle. */
  static combine(buffer: ArrayBuffer): { sum: number; count: number; min: number; max: number } {
    const u = new Uint32Array(buffer), i = new Int32Array(buffer);
    let biased = 0, count = 0, min = Infinity, max = -Infinity;
    for (let k = 0; k < u.length; k += 8) {
      biased += u[k] + u[k + 1] * 65536;
      count += u[k + 2];
      if (u[k + 2] > 0) {
        min = Math.min(min, i[k + 4]);
        max = Math.max(max, i[k + 5]);
      }
    }
    return { sum: biased - count * 2 ** 30, count, min, max };
  }
}
