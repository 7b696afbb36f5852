/**
 * Owner of shaders/surface_theta.wgsl: a θs measurement (min/max of the true wall value over one
 * lane's wall cells) for reports, on the lane's current ξ buffer. It has its own uniforms, a
 * one-entry lane list and its own run states, so a report never touches a stepping lane's stop flag,
 * count or step slots. Also the wall and run-state layouts the host shares with the WGSL.
 */
import kirchhoff from '../../shaders/kirchhoff.wgsl?raw';
import source from '../../shaders/surface_theta.wgsl?raw';

export interface SurfaceThetaBuffers {
  /** StepUniforms per lane, the measuring copy (applyFlux = 0) */
  measureUniforms: GPUBuffer;
  phiTable: GPUBuffer;
  /** u32: the one lane measured */
  measureLane: GPUBuffer;
  /** the ξ buffers a lane's state may be in (two, or three with temporal blocking) */
  xi: readonly GPUBuffer[];
  walls: GPUBuffer;
  measureState: GPUBuffer;
}

/** Bytes of one Wall struct in the WGSL (index u32, fluxWeight f32, surfaceOffset f32, pad). */
export const WALL_STRIDE = 16;
/** Bytes of one lane's run state: STATE_WORDS = 16 u32 (layout in shaders/kirchhoff.wgsl). */
export const RUN_STATE_BYTES = 64;
/** min and max keys with nothing accumulated yet */
export const EMPTY_MIN_KEY = 0xffffffff;
export const EMPTY_MAX_KEY = 0;
/**
 * A run state as setStep and a measurement start from: running, no steps, empty measurement keys,
 * three step slots without a stop reason.
 */
export const CLEAR_STATE = new Uint32Array([
  0, 0, EMPTY_MIN_KEY, EMPTY_MAX_KEY,
  0, 0, 0, 0,
  0, 0, 0, 0,
  0, 0, 0, 0,
]);

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

export class SurfaceThetaKernel {
  static readonly WG = 64;
  private readonly pipeline: GPUComputePipeline;
  /** bindGroups[k] measures on xi[k] */
  private readonly bindGroups: GPUBindGroup[];

  constructor(device: GPUDevice, b: SurfaceThetaBuffers) {
    const module = device.createShaderModule({ label: 'SurfaceTheta.module', code: kirchhoff + source });
    this.pipeline = device.createComputePipeline({
      label: 'SurfaceTheta.pipeline',
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: { WG: SurfaceThetaKernel.WG } },
    });
    const layout = this.pipeline.getBindGroupLayout(0);
    const make = (k: number) => device.createBindGroup({
      label: `SurfaceTheta.bindGroup${k}`,
      layout,
      entries: [
        { binding: 0, resource: { buffer: b.measureUniforms } },
        { binding: 1, resource: { buffer: b.phiTable } },
        { binding: 2, resource: { buffer: b.measureLane } },
        { binding: 3, resource: { buffer: b.xi[k] } },
        { binding: 4, resource: { buffer: b.walls } },
        { binding: 5, resource: { buffer: b.measureState } },
      ],
    });
    this.bindGroups = b.xi.map((_, k) => make(k));
  }

  /** Records a θs measurement of the measured lane (nWalls wall cells) on xi[k] into its measuring state. */
  encode(pass: GPUComputePassEncoder, k: number, nWalls: number): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroups[k]);
    pass.dispatchWorkgroups(Math.max(1, Math.ceil(nWalls / SurfaceThetaKernel.WG)));
  }
}
