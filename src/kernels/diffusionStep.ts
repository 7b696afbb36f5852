/**
 * Owner of shaders/diffusion_step.wgsl: one pipeline (workgroup size as override constants) and the
 * two ping-pong bind groups, built once; `encode` only records a dispatch. The dispatch's z extent
 * is the number of lanes of the batch stepping in it (the first `lanes` entries of activeLanes).
 */
import kirchhoff from '../../shaders/kirchhoff.wgsl?raw';
import source from '../../shaders/diffusion_step.wgsl?raw';

export interface DiffusionBuffers {
  /** StepUniforms per lane (storage array) */
  laneUniforms: GPUBuffer;
  phiTable: GPUBuffer;
  /** u32 lane indices of the dispatch */
  activeLanes: GPUBuffer;
  xi: [GPUBuffer, GPUBuffer];
  state: GPUBuffer;
}

export class DiffusionStepKernel {
  static readonly WG = 16;
  private readonly pipeline: GPUComputePipeline;
  /** bindGroups[k] reads xi[k] and writes xi[1 − k] */
  private readonly bindGroups: [GPUBindGroup, GPUBindGroup];

  constructor(device: GPUDevice, private readonly nx: number, private readonly ny: number, b: DiffusionBuffers) {
    const module = device.createShaderModule({ label: 'DiffusionStep.module', code: kirchhoff + source });
    this.pipeline = device.createComputePipeline({
      label: 'DiffusionStep.pipeline',
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: { WG_X: DiffusionStepKernel.WG, WG_Y: DiffusionStepKernel.WG } },
    });
    const layout = this.pipeline.getBindGroupLayout(0);
    const make = (k: 0 | 1) => device.createBindGroup({
      label: `DiffusionStep.bindGroup${k}`,
      layout,
      entries: [
        { binding: 0, resource: { buffer: b.laneUniforms } },
        { binding: 1, resource: { buffer: b.phiTable } },
        { binding: 2, resource: { buffer: b.activeLanes } },
        { binding: 3, resource: { buffer: b.xi[k] } },
        { binding: 4, resource: { buffer: b.xi[1 - k] } },
        { binding: 5, resource: { buffer: b.state } },
      ],
    });
    this.bindGroups = [make(0), make(1)];
  }

  /** Records one step of the first `lanes` active lanes, reading xi[from]. */
  encode(pass: GPUComputePassEncoder, from: 0 | 1, lanes: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroups[from]);
    pass.dispatchWorkgroups(Math.ceil(this.nx / DiffusionStepKernel.WG), Math.ceil(this.ny / DiffusionStepKernel.WG), lanes);
  }
}
