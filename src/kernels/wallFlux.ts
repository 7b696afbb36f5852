/**
 * Owner of shaders/wall_flux.wgsl: boundary flux, true wall θs and the cut-off flag, one workgroup
 * over the wall-cell list. Two bind groups per ξ buffer: stepping (the run's uniforms and state) and
 * measuring (separate uniforms with applyFlux = 0 and a separate state, so a report never touches the
 * run's stop flag or step count).
 */
import kirchhoff from '../../shaders/kirchhoff.wgsl?raw';
import source from '../../shaders/wall_flux.wgsl?raw';

export interface WallBuffers {
  uniforms: GPUBuffer;
  measureUniforms: GPUBuffer;
  phiTable: GPUBuffer;
  xi: [GPUBuffer, GPUBuffer];
  walls: GPUBuffer;
  state: GPUBuffer;
  measureState: GPUBuffer;
}

/** Bytes of one Wall struct in the WGSL (index u32, fluxWeight f32, surfaceOffset f32, pad). */
export const WALL_STRIDE = 16;

export function packWalls(index: Uint32Array, fluxWeight: Float32Array, surfaceOffset: Float32Array): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(1, index.length) * WALL_STRIDE);
  const u = new Uint32Array(buf), f = new Float32Array(buf);
  for (let k = 0; k < index.length; k++) {
    u[4 * k] = index[k];
    f[4 * k + 1] = fluxWeight[k];
    f[4 * k + 2] = surfaceOffset[k];
  }
  return buf;
}

export class WallFluxKernel {
  static readonly WG = 256;
  private readonly pipeline: GPUComputePipeline;
  private readonly step: [GPUBindGroup, GPUBindGroup];
  private readonly measure: [GPUBindGroup, GPUBindGroup];

  constructor(device: GPUDevice, b: WallBuffers) {
    const module = device.createShaderModule({ label: 'WallFlux.module', code: kirchhoff + source });
    this.pipeline = device.createComputePipeline({
      label: 'WallFlux.pipeline',
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: { WG: WallFluxKernel.WG } },
    });
    const layout = this.pipeline.getBindGroupLayout(0);
    const make = (k: 0 | 1, uniforms: GPUBuffer, state: GPUBuffer, what: string) => device.createBindGroup({
      label: `WallFlux.${what}${k}`,
      layout,
      entries: [
        { binding: 0, resource: { buffer: uniforms } },
        { binding: 1, resource: { buffer: b.phiTable } },
        { binding: 2, resource: { buffer: b.xi[k] } },
        { binding: 3, resource: { buffer: b.walls } },
        { binding: 4, resource: { buffer: state } },
      ],
    });
    this.step = [make(0, b.uniforms, b.state, 'step'), make(1, b.uniforms, b.state, 'step')];
    this.measure = [make(0, b.measureUniforms, b.measureState, 'measure'), make(1, b.measureUniforms, b.measureState, 'measure')];
  }

  /** Records the boundary flux on xi[k] (the buffer the diffusion step just wrote). */
  encodeStep(pass: GPUComputePassEncoder, k: 0 | 1): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.step[k]);
    pass.dispatchWorkgroups(1);
  }

  /** Records a θs measurement of xi[k] into the measuring state. */
  encodeMeasure(pass: GPUComputePassEncoder, k: 0 | 1): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.measure[k]);
    pass.dispatchWorkgroups(1);
  }
}
