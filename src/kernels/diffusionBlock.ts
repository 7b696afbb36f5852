/**
 * Owner of shaders/diffusion_block.wgsl: up to K steps per dispatch (temporal blocking), bit for bit
 * the same as K dispatches of diffusion_step.wgsl. The state rotates through three ξ buffers (a
 * block that overshot a stop is redone from its intact input by the next one; see the WGSL), the
 * lanes' slot sets follow their run states in the run-state buffer, and which block a dispatch is (its phase b mod 3 and
 * its sub-step count) comes from a dynamic offset into a small uniform buffer of every such pair, so
 * a block costs the host two calls (setBindGroup with the offset, dispatchWorkgroups).
 * A submit of m steps records ⌈m/K⌉ blocks, one resolving block and `finalize`; encodeSubmit returns
 * the buffer that then holds the state.
 */
import kirchhoff from '../../shaders/kirchhoff.wgsl?raw';
import source from '../../shaders/diffusion_block.wgsl?raw';
import { RUN_STATE_BYTES } from './surfaceTheta';
import { TILE, tileDispatchGrid, type StepDataLayout, type StepTiling } from './diffusionStep';

/**
 * Steps per dispatch this kernel allows. Its halo must lie within the neighbouring tiles (K ≤ 16)
 * and its workgroup memory, 12·(16 + 2K)² + 12K + 16 bytes, within WebGPU's guaranteed 16 KiB
 * (K ≤ 10; 12.4 KB at 8). 8 leaves room and already moves ~2.5 B per cell-update.
 */
export const MAX_STEPS_PER_DISPATCH = 8;

export interface DiffusionBlockBuffers {
  laneUniforms: GPUBuffer;
  phiTable: GPUBuffer;
  activeLanes: GPUBuffer;
  xi: readonly [GPUBuffer, GPUBuffer, GPUBuffer];
  /** the lanes' run states (RUN_STATE_BYTES each), then their slot sets (4·blockSlotWords(k) bytes each) */
  state: GPUBuffer;
  walls: GPUBuffer;
  stepData: GPUBuffer;
}

/** u32 words of one lane's three slot sets (diffusion_block.wgsl setWords) */
export function blockSlotWords(k: number): number {
  return 3 * (2 + k);
}

/** Bytes of the run-state buffer for `lanes` lanes: their run states, then (K > 1) their slot sets. */
export function runStateBufferBytes(lanes: number, k: number): number {
  return RUN_STATE_BYTES * lanes + (k > 1 ? 4 * blockSlotWords(k) * lanes : 0);
}

/** One lane's slot sets as setStep, writeState and finalize leave them: nothing run, no stop carried, no sub-step's reason (all words 0). */
export function clearBlockSlots(k: number): Uint32Array<ArrayBuffer> {
  return new Uint32Array(blockSlotWords(k));
}

export class DiffusionBlockKernel {
  private readonly main: GPUComputePipeline;
  private readonly finalizePipeline: GPUComputePipeline;
  /** groups[r]: a block reading xi[r], writing xi[r + 1], redoing from xi[r + 2] (mod 3) */
  private readonly groups: GPUBindGroup[];
  private readonly blockInfo: GPUBuffer;
  private readonly stride: number;
  /** one lane's slot sets cleared (clearBlockSlots), for setStep and writeState */
  readonly clearSlots: Uint32Array<ArrayBuffer>;
  private readonly slotsX: number;
  private readonly slotsY: number;

  constructor(device: GPUDevice, readonly k: number, tiling: StepTiling, layout: StepDataLayout, b: DiffusionBlockBuffers, lanes: number) {
    if (!Number.isInteger(k) || k < 2 || k > MAX_STEPS_PER_DISPATCH) {
      throw new Error(`DiffusionBlockKernel: k = ${k} steps per dispatch: allowed are whole numbers from 2 to ${MAX_STEPS_PER_DISPATCH}`);
    }
    if (tiling.tile !== TILE) throw new Error(`DiffusionBlockKernel: the tiling has ${tiling.tile}-cell tiles; temporal blocking takes ${TILE}-cell tiles (one cell per invocation)`);
    const T = tiling.tiles.length;
    ({ slotsX: this.slotsX, slotsY: this.slotsY } = tileDispatchGrid(device, T));
    const module = device.createShaderModule({ label: 'DiffusionBlock.module', code: kirchhoff + source });
    const ro = { type: 'read-only-storage' } as const, rw = { type: 'storage' } as const;
    const types: GPUBufferBindingLayout[] = [ro, ro, ro, ro, rw, ro, rw, ro, ro, { type: 'uniform', hasDynamicOffset: true, minBindingSize: 8 }];
    const bgl = device.createBindGroupLayout({
      label: 'DiffusionBlock.layout',
      entries: types.map((buffer, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer })),
    });
    const pipelineLayout = device.createPipelineLayout({ label: 'DiffusionBlock.pipelineLayout', bindGroupLayouts: [bgl] });
    const constants = {
      K: k, WG: TILE, TILES_X: tiling.tilesX, TILES_Y: tiling.tilesY, TILE_COUNT: T, SLOTS_X: this.slotsX,
      TILE_LIST_AT: layout.tileListAt, TILE_START_AT: layout.tileStartAt, TILE_WALLS_AT: layout.tileWallsAt,
      SLOTS_AT: (RUN_STATE_BYTES / 4) * lanes,
    };
    this.main = device.createComputePipeline({ label: 'DiffusionBlock.main', layout: pipelineLayout, compute: { module, entryPoint: 'main', constants } });
    this.finalizePipeline = device.createComputePipeline({ label: 'DiffusionBlock.finalize', layout: pipelineLayout, compute: { module, entryPoint: 'finalize', constants } });
    // every (phase, sub-steps) pair a block can be, one per aligned entry
    this.stride = device.limits.minUniformBufferOffsetAlignment;
    const entries = 3 * (k + 1);
    this.blockInfo = device.createBuffer({ label: 'DiffusionBlock.blockInfo', size: entries * this.stride, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const info = new Uint32Array((entries * this.stride) / 4);
    for (let phase = 0; phase < 3; phase++) {
      for (let n = 0; n <= k; n++) info.set([phase, n], (this.entry(phase, n) * this.stride) / 4);
    }
    device.queue.writeBuffer(this.blockInfo, 0, info);
    if (b.state.size < runStateBufferBytes(lanes, k)) throw new Error(`DiffusionBlockKernel: the run-state buffer has ${b.state.size} bytes, ${runStateBufferBytes(lanes, k)} needed`);
    const clear = (this.clearSlots = clearBlockSlots(k)), all = new Uint32Array(blockSlotWords(k) * lanes);
    for (let l = 0; l < lanes; l++) all.set(clear, l * clear.length);
    device.queue.writeBuffer(b.state, RUN_STATE_BYTES * lanes, all);
    this.groups = [0, 1, 2].map((r) => device.createBindGroup({
      label: `DiffusionBlock.bindGroup${r}`,
      layout: bgl,
      entries: [
        { binding: 0, resource: { buffer: b.laneUniforms } },
        { binding: 1, resource: { buffer: b.phiTable } },
        { binding: 2, resource: { buffer: b.activeLanes } },
        { binding: 3, resource: { buffer: b.xi[r] } },
        { binding: 4, resource: { buffer: b.xi[(r + 1) % 3] } },
        { binding: 5, resource: { buffer: b.xi[(r + 2) % 3] } },
        { binding: 6, resource: { buffer: b.state } },
        { binding: 7, resource: { buffer: b.walls } },
        { binding: 8, resource: { buffer: b.stepData } },
        { binding: 9, resource: { buffer: this.blockInfo, size: 8 } },
      ],
    }));
  }

  private entry(phase: number, n: number): number {
    return phase * (this.k + 1) + n;
  }

  /** The dispatches of one submit of `steps` steps (≥ 1) from xi[from] for the first `lanes` active lanes: returns the buffer holding the state after it. */
  encodeSubmit(enc: GPUCommandEncoder, steps: number, from: number, lanes: number, blocksPerPass: number): { to: number; dispatches: number } {
    const blocks = Math.ceil(steps / this.k);
    // blocks 0 … blocks − 1 step, block `blocks` resolves the last of them
    for (let b = 0; b <= blocks; ) {
      const pass = enc.beginComputePass({ label: 'GpuBatch.blocks' });
      pass.setPipeline(this.main);
      const end = Math.min(blocks + 1, b + blocksPerPass);
      for (; b < end; b++) {
        const n = b < blocks ? Math.min(this.k, steps - b * this.k) : 0;
        pass.setBindGroup(0, this.groups[(from + b) % 3], [this.entry(b % 3, n) * this.stride]);
        pass.dispatchWorkgroups(this.slotsX, this.slotsY, lanes);
      }
      if (b > blocks) {
        pass.setPipeline(this.finalizePipeline);
        pass.setBindGroup(0, this.groups[0], [this.entry(blocks % 3, 0) * this.stride]);
        pass.dispatchWorkgroups(lanes);
      }
      pass.end();
    }
    return { to: (from + blocks + 1) % 3, dispatches: blocks + 2 };
  }

  destroy(): void {
    this.blockInfo.destroy();
  }
}
