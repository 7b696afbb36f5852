/**
 * Owner of shaders/wall_flux.wgsl: boundary flux, true wall θs and the cut-off flag. `main` runs one
 * invocation per wall cell (many workgroups) for each lane of the dispatch, `finalize` one invocation
 * per lane that decides its stop. Two bind groups per ξ buffer: stepping (the lanes' uniforms and run
 * states, the round's active lanes) and measuring (separate uniforms with applyFlux = 0, a separate
 * state and a one-entry lane list, so a report measures one lane and never touches a stop flag or a
 * count).
 */
import kirchhoff from '../../shaders/kirchhoff.wgsl?raw';
import source from '../../shaders/wall_flux.wgsl?raw';

export interface WallBuffers {
  /** StepUniforms per lane, for stepping and for measuring */
  laneUniforms: GPUBuffer;
  measureUniforms: GPUBuffer;
  phiTable: GPUBuffer;
  /** u32 lane indices of a stepping dispatch, and the one lane of a measurement */
  activeLanes: GPUBuffer;
  measureLane: GPUBuffer;
  xi: [GPUBuffer, GPUBuffer];
  walls: GPUBuffer;
  /** i32 per wall cell: the quanta it gains per step (written by the host at each setStep), per lane */
  wallQuanta: GPUBuffer;
  state: GPUBuffer;
  measureState: GPUBuffer;
}

/** Bytes of one Wall struct in the WGSL (index u32, fluxWeight f32, surfaceOffset f32, pad). */
export const WALL_STRIDE = 16;
/** Bytes of one lane's run state: 8 u32 (see the WGSL). */
export const RUN_STATE_BYTES = 32;
/** state words 2 and 3 before a step or a measurement: the min and max key accumulators, empty */
export const EMPTY_ACCUMULATORS = [0xffffffff, 0] as const;

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

/** The float behind an order-preserving u32 key (inverse of the WGSL orderedKey). */
export function keyValue(key: number): number {
  const u = new Uint32Array(1);
  u[0] = key & 0x80000000 ? key & 0x7fffffff : ~key >>> 0;
  return new Float32Array(u.buffer)[0];
}

export class WallFluxKernel {
  static readonly WG = 64;
  private readonly main: GPUComputePipeline;
  private readonly finalize: GPUComputePipeline;
  private readonly step: [GPUBindGroup, GPUBindGroup];
  private readonly measure: [GPUBindGroup, GPUBindGroup];
  private readonly finalizeGroup: GPUBindGroup;

  constructor(device: GPUDevice, b: WallBuffers) {
    const module = device.createShaderModule({ label: 'WallFlux.module', code: kirchhoff + source });
    const layout = device.createBindGroupLayout({
      label: 'WallFlux.layout',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 3, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
        { binding: 4, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
        { binding: 5, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
        { binding: 6, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      ],
    });
    const pipelineLayout = device.createPipelineLayout({ label: 'WallFlux.pipelineLayout', bindGroupLayouts: [layout] });
    this.main = device.createComputePipeline({ label: 'WallFlux.main', layout: pipelineLayout, compute: { module, entryPoint: 'main', constants: { WG: WallFluxKernel.WG } } });
    this.finalize = device.createComputePipeline({ label: 'WallFlux.finalize', layout: pipelineLayout, compute: { module, entryPoint: 'finalize', constants: { WG: WallFluxKernel.WG } } });
    const make = (k: 0 | 1, uniforms: GPUBuffer, lanes: GPUBuffer, state: GPUBuffer, what: string) => device.createBindGroup({
      label: `WallFlux.${what}${k}`,
      layout,
      entries: [
        { binding: 0, resource: { buffer: uniforms } },
        { binding: 1, resource: { buffer: b.phiTable } },
        { binding: 2, resource: { buffer: lanes } },
        { binding: 3, resource: { buffer: b.xi[k] } },
        { binding: 4, resource: { buffer: b.walls } },
        { binding: 5, resource: { buffer: state } },
        { binding: 6, resource: { buffer: b.wallQuanta } },
      ],
    });
    this.step = [make(0, b.laneUniforms, b.activeLanes, b.state, 'step'), make(1, b.laneUniforms, b.activeLanes, b.state, 'step')];
    this.measure = [make(0, b.measureUniforms, b.measureLane, b.measureState, 'measure'), make(1, b.measureUniforms, b.measureLane, b.measureState, 'measure')];
    this.finalizeGroup = this.step[0]; // finalize touches only uniforms, lanes and state
  }

  /**
   * Records the boundary flux on xi[k] (the buffer the diffusion step just wrote) and the stop check
   * of the first `lanes` active lanes; `maxWalls`: the longest wall list among them.
   */
  encodeStep(pass: GPUComputePassEncoder, k: 0 | 1, lanes: number, maxWalls: number): void {
    pass.setPipeline(this.main);
    pass.setBindGroup(0, this.step[k]);
    pass.dispatchWorkgroups(WallFluxKernel.workgroups(maxWalls), lanes);
    pass.setPipeline(this.finalize);
    pass.setBindGroup(0, this.finalizeGroup);
    pass.dispatchWorkgroups(lanes);
  }

  /** Records a θs measurement of the measured lane (nWalls wall cells) on xi[k] into the measuring state. */
  encodeMeasure(pass: GPUComputePassEncoder, k: 0 | 1, nWalls: number): void {
    pass.setPipeline(this.main);
    pass.setBindGroup(0, this.measure[k]);
    pass.dispatchWorkgroups(WallFluxKernel.workgroups(nWalls));
  }

  static workgroups(nWalls: number): number {
    return Math.max(1, Math.ceil(nWalls / WallFluxKernel.WG));
  }
}
