/**
 * Owner of shaders/field_reduce.wgsl: per-workgroup partials (Kahan sum, count, min, max) of ξ over
 * the particle, combined on the host in float64.
 */
import source from '../../shaders/field_reduce.wgsl?raw';

export const PARTIAL_BYTES = 16;

export class FieldReduceKernel {
  static readonly WG = 256;
  readonly workgroups: number;
  readonly partials: GPUBuffer;
  private readonly pipeline: GPUComputePipeline;
  private readonly bindGroups: [GPUBindGroup, GPUBindGroup];

  constructor(device: GPUDevice, n: number, xi: [GPUBuffer, GPUBuffer]) {
    // enough workgroups to fill a large GPU, few enough that the partials stay a few KB
    this.workgroups = Math.max(1, Math.min(1024, Math.ceil(n / FieldReduceKernel.WG / 8)));
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
    const make = (k: 0 | 1) => device.createBindGroup({
      label: `FieldReduce.bindGroup${k}`,
      layout,
      entries: [
        { binding: 0, resource: { buffer: uniforms } },
        { binding: 1, resource: { buffer: xi[k] } },
        { binding: 2, resource: { buffer: this.partials } },
      ],
    });
    this.bindGroups = [make(0), make(1)];
  }

  encode(pass: GPUComputePassEncoder, k: 0 | 1): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroups[k]);
    pass.dispatchWorkgroups(this.workgroups);
  }

  /** Combines read-back partials: sum, count, min, max of ξ over the particle. */
  static combine(data: Float32Array): { sum: number; count: number; min: number; max: number } {
    let sum = 0, count = 0, min = Infinity, max = -Infinity;
    for (let k = 0; k < data.length; k += 4) {
      sum += data[k];
      count += data[k + 1];
      if (data[k + 1] > 0) {
        min = Math.min(min, data[k + 2]);
        max = Math.max(max, data[k + 3]);
      }
    }
    return { sum, count, min, max };
  }
}
