/**
 * Owner of shaders/diffusion_step.wgsl: one whole step per dispatch (diffusion, boundary flux, θs
 * min/max, stop decision), and `finalize` once per submit. Builds both pipelines and the two bind
 * groups (which ξ buffer a submit starts from) once; the encode methods only record. Which step of
 * the submit a dispatch is comes from one of two places (`StepCounter`): counted on the GPU, one
 * atomic ticket per workgroup (a step is then one dispatchWorkgroups, the bind group set once per
 * pass), or phased by the host (a step is setBindGroup of one of six 8-byte blocks + the dispatch).
 * Also the batch's tiling: which tiles (16×16 or 32×32 cells, CellsPerInvocation) a step dispatches (those holding an inside cell of any
 * lane, or all of them) and, per lane, its wall cells sorted by tile, all in one "step data" buffer
 * that starts with the lanes' wall quanta (rewritten by each setStep).
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
  walls: GPUBuffer;
  /** u32 words laid out by StepDataLayout */
  stepData: GPUBuffer;
}

/** Where the tables of the step data buffer start, in u32 words. */
export interface StepDataLayout {
  /** the wall quanta and two guard limits of every lane come first, from word 0 (quantaOffset per lane) */
  tileListAt: number;
  /** per lane: tilesX·tilesY + 1 starts into its tile-sorted wall list */
  tileStartAt: number;
  /** per lane, at its wallOffset: its wall indices sorted by tile */
  tileWallsAt: number;
  words: number;
}

/** The tiles of a batch's grid and those a step dispatches. */
export interface StepTiling {
  /** cells per tile side: tileSide(perInvocation) */
  tile: number;
  /** cells per invocation of the step kernel along each axis (CellsPerInvocation) */
  perInvocation: CellCount;
  tilesX: number;
  tilesY: number;
  /** dispatched tile ids (ty·tilesX + tx), ascending */
  tiles: Uint32Array;
}

export const TILE = 16;

/**
 * 'gpu': the kernel counts its steps (one host call per step; every workgroup takes a ticket, an
 * atomicAdd on one word). 'host': a bind group per step says which step it is (two host calls).
 * 'auto' (resolveStepCounter): 'gpu' up to GPU_COUNT_MAX_WORKGROUPS workgroups per dispatch, where
 * the host's encode cost is what bounds a step, else 'host', where tens of thousands of same-word
 * atomics per step would contend in the GPU's L2 (~1 per clock) for longer than a bandwidth-bound
 * step takes. The crossover is an estimate: `bench/gpu-check.sh` measures both on a GPU. On a
 * software adapter (lavapipe) 'auto' is always 'host': there the device's work per step is
 * 0.1–40 ms and the host's µs do not count, and counting costs the device more (one more barrier
 * per workgroup, and the parity read from workgroup memory, so both ξ loads of loadQ run: a CPU
 * implementation runs both sides of a divergent branch). Measured on lavapipe: counting gave 0.90–0.99×
 * the steps/s of host phasing from 128² to 1024²; below, the runs' spread (20–99 %) hides either
 * (docs/performance.md).
 */
export type StepCounter = 'gpu' | 'host' | 'auto';
export const GPU_COUNT_MAX_WORKGROUPS = 1024;

/** Who counts the steps of a dispatch of `workgroups` workgroups (see StepCounter). */
export function resolveStepCounter(counter: StepCounter, workgroups: number, software: boolean): 'gpu' | 'host' {
  if (counter !== 'auto') return counter;
  return !software && workgroups <= GPU_COUNT_MAX_WORKGROUPS ? 'gpu' : 'host';
}

/**
 * Cells each invocation of the single-step kernel updates along each axis, c: 1 — a 16×16
 * workgroup per 16×16-cell tile, the GPU layout — or 2, 4 or 8 — a (32/c)×(32/c) workgroup per
 * 32×32-cell tile (the halo 13 % of the tile instead of 27 %: 11 % fewer Φ̃ evaluations; each
 * invocation's fixed work, its lane's uniforms, tile and wall-list lookups, spread over c² cells).
 * 'auto' (resolveCellsPerInvocation): SOFTWARE_CELLS_PER_INVOCATION on a software adapter, 1 on a
 * GPU. A CPU implementation (lavapipe) runs a workgroup as 8-lane SIMD groups one after another,
 * so what it pays for is instructions per cell, not occupancy: on lavapipe c = 2, 4 and 8 gave
 * ~1.5–1.7×, ~1.8–2.1× and ~1.9–2.3× the steps/s of c = 1 at 256²–1024² (docs/performance.md;
 * SwiftShader in Chromium: ~1.4× the demo's steps/s with c = 4; WARP unmeasured). A GPU wants
 * many invocations in flight; `bench/gpu-check.sh` measures c = 2 beside 1 there. Temporal
 * blocking takes 1.
 */
export const CELL_COUNTS = [1, 2, 4, 8] as const;
export type CellCount = (typeof CELL_COUNTS)[number];
export type CellsPerInvocation = CellCount | 'auto';
export const SOFTWARE_CELLS_PER_INVOCATION = 4;

/** Cells per invocation along each axis for a batch with `stepsPerDispatch` steps per dispatch (see CellsPerInvocation). */
export function resolveCellsPerInvocation(per: CellsPerInvocation, stepsPerDispatch: number, software: boolean): CellCount {
  if (per !== 'auto') return per;
  return stepsPerDispatch === 1 && software ? SOFTWARE_CELLS_PER_INVOCATION : 1;
}

/** The side of a tile, in cells, for `per` cells per invocation along each axis (CellsPerInvocation). */
export function tileSide(per: CellCount): number {
  return per === 1 ? TILE : 2 * TILE;
}

/**
 * The tiles to dispatch for lanes with these inside masks (nx×ny each): those holding an inside
 * cell of at least one lane (`particle`), or every tile of the grid (`all`, for comparison).
 */
export function stepTiling(nx: number, ny: number, insides: Uint8Array[], which: 'particle' | 'all' = 'particle', perInvocation: CellCount = 1): StepTiling {
  const tile = tileSide(perInvocation);
  const tilesX = Math.ceil(nx / tile), tilesY = Math.ceil(ny / tile);
  const used = new Uint8Array(tilesX * tilesY);
  if (which === 'all') used.fill(1);
  else {
    for (const inside of insides) {
      for (let y = 0; y < ny; y++) {
        const row = y * nx, trow = ((y / tile) | 0) * tilesX;
        for (let x = 0; x < nx; x++) if (inside[row + x]) used[trow + ((x / tile) | 0)] = 1;
      }
    }
    if (!used.includes(1)) used[0] = 1; // a step still has a first workgroup to count it
  }
  const tiles: number[] = [];
  used.forEach((u, t) => { if (u) tiles.push(t); });
  return { tile, perInvocation, tilesX, tilesY, tiles: Uint32Array.from(tiles) };
}

/**
 * The dispatch grid that walks a tile list of `tiles` entries: one row, a second dimension only past
 * the adapter's per-dimension limit (both step kernels; the WGSL's SLOTS_X is the row width).
 */
export function tileDispatchGrid(device: GPUDevice, tiles: number): { slotsX: number; slotsY: number } {
  const slotsX = Math.min(tiles, device.limits.maxComputeWorkgroupsPerDimension);
  return { slotsX, slotsY: Math.ceil(tiles / slotsX) };
}

/**
 * One lane's walls grouped by tile: `start[t]`…`start[t + 1]` index `order`, which holds the wall
 * numbers k (into the lane's wall list, whose order the wall quanta follow) of tile t's wall cells.
 */
export function tileWallTable(nx: number, tiling: StepTiling, wallIndex: Uint32Array): { start: Uint32Array; order: Uint32Array } {
  const { tile, tilesX, tilesY } = tiling;
  const tileOf = (cell: number) => Math.floor(Math.floor(cell / nx) / tile) * tilesX + Math.floor((cell % nx) / tile);
  const start = new Uint32Array(tilesX * tilesY + 1);
  // the kernel gives each wall cell of a tile its own workgroup slot (marked by one invocation): one entry per cell
  if (new Set(wallIndex).size !== wallIndex.length) throw new Error('tileWallTable: a wall cell is listed twice (one entry per cell)');
  for (const cell of wallIndex) start[tileOf(cell) + 1]++;
  for (let t = 0; t < tilesX * tilesY; t++) start[t + 1] += start[t];
  const fill = start.slice(0, -1);
  const order = new Uint32Array(wallIndex.length);
  wallIndex.forEach((cell, k) => { order[fill[tileOf(cell)]++] = k; });
  return { start, order };
}

/**
 * The kernel's source for host-phased steps: each step's bind group binds its input at binding 3,
 * read-only (a GPU may then load it through its read-only cache path), and its output at binding 4,
 * so loadQ/storeQ ignore the parity. Exact substitutions: a change of those lines fails here.
 */
function hostPhasedSource(src: string): string {
  const swaps: [string, string][] = [
    ['@group(0) @binding(3) var<storage, read_write> qEven: array<i32>;', '@group(0) @binding(3) var<storage, read> qEven: array<i32>;'],
    ['  if (odd) { return qOdd[j]; }\n  return qEven[j];', '  return qEven[j];'],
    ['  if (odd) { qEven[i] = v; } else { qOdd[i] = v; }', '  qOdd[i] = v;'],
  ];
  for (const [from, to] of swaps) {
    if (!src.includes(from)) throw new Error(`diffusion_step.wgsl: the host-phased variant expects the line '${from}'`);
    src = src.replace(from, to);
  }
  return src;
}

export class DiffusionStepKernel {
  static readonly WG = TILE;
  private readonly main: GPUComputePipeline;
  private readonly finalizePipeline: GPUComputePipeline;
  /** bindGroups[k]: a submit starting from xi[k] (its even steps read xi[k], its odd steps xi[1 − k]) */
  private readonly bindGroups: [GPUBindGroup, GPUBindGroup];
  /** the kernel's step counter (2 u32, cleared at the start of every submit), or six blocks of d mod 6 */
  private readonly ticket: GPUBuffer;
  /** host-phased: hostGroups[k][p] is bindGroups[k] with block p (steps ≡ p mod 6) */
  private readonly hostGroups: [GPUBindGroup[], GPUBindGroup[]] | null;
  readonly counter: 'gpu' | 'host';
  private readonly slotsX: number;
  private readonly slotsY: number;

  constructor(device: GPUDevice, tiling: StepTiling, layout: StepDataLayout, b: DiffusionBuffers, maxLanes: number, counter: StepCounter = 'auto', software = false) {
    const T = tiling.tiles.length;
    ({ slotsX: this.slotsX, slotsY: this.slotsY } = tileDispatchGrid(device, T));
    this.counter = resolveStepCounter(counter, this.slotsX * this.slotsY * maxLanes, software);
    const host = this.counter === 'host';
    const per = tiling.perInvocation;
    const wg = tiling.tile / per;
    const module = device.createShaderModule({ label: 'DiffusionStep.module', code: kirchhoff + (host ? hostPhasedSource(source) : source) });
    const ro = { type: 'read-only-storage' } as const, rw = { type: 'storage' } as const;
    const types: GPUBufferBindingLayout[] = [ro, ro, ro, host ? ro : rw, rw, rw, ro, ro, rw];
    const bgl = device.createBindGroupLayout({
      label: 'DiffusionStep.layout',
      entries: types.map((buffer, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer })),
    });
    const pipelineLayout = device.createPipelineLayout({ label: 'DiffusionStep.pipelineLayout', bindGroupLayouts: [bgl] });
    const constants = {
      COUNT_STEPS: this.counter === 'gpu' ? 1 : 0,
      WG_X: wg, WG_Y: wg, PER: per, TILES_X: tiling.tilesX, TILES_Y: tiling.tilesY, TILE_COUNT: T, SLOTS_X: this.slotsX,
      TILE_LIST_AT: layout.tileListAt, TILE_START_AT: layout.tileStartAt, TILE_WALLS_AT: layout.tileWallsAt,
    };
    this.main = device.createComputePipeline({ label: 'DiffusionStep.main', layout: pipelineLayout, compute: { module, entryPoint: 'main', constants } });
    this.finalizePipeline = device.createComputePipeline({ label: 'DiffusionStep.finalize', layout: pipelineLayout, compute: { module, entryPoint: 'finalize', constants } });
    const stride = device.limits.minStorageBufferOffsetAlignment;
    this.ticket = device.createBuffer({ label: 'DiffusionStep.ticket', size: 5 * stride + 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    if (this.counter === 'host') {
      const words = new Uint32Array((5 * stride + 16) / 4);
      for (let p = 0; p < 6; p++) words[(p * stride) / 4] = p;
      device.queue.writeBuffer(this.ticket, 0, words);
    }
    const make = (k: 0 | 1, p: number) => device.createBindGroup({
      label: `DiffusionStep.bindGroup${k}.${p}`,
      layout: bgl,
      entries: [
        { binding: 0, resource: { buffer: b.laneUniforms } },
        { binding: 1, resource: { buffer: b.phiTable } },
        { binding: 2, resource: { buffer: b.activeLanes } },
        // counted on the GPU: xi[k] before even steps, the other before odd ones; host-phased: the
        // input of a step with block p (steps ≡ p mod 6, so parity p mod 2), then its output
        { binding: 3, resource: { buffer: b.xi[host ? k ^ (p & 1) : k] } },
        { binding: 4, resource: { buffer: b.xi[1 - (host ? k ^ (p & 1) : k)] } },
        { binding: 5, resource: { buffer: b.state } },
        { binding: 6, resource: { buffer: b.walls } },
        { binding: 7, resource: { buffer: b.stepData } },
        { binding: 8, resource: { buffer: this.ticket, offset: p * stride, size: 8 } },
      ],
    });
    this.bindGroups = [make(0, 0), make(1, 0)];
    this.hostGroups = this.counter === 'host' ? [[0, 1, 2, 3, 4, 5].map((p) => make(0, p)), [0, 1, 2, 3, 4, 5].map((p) => make(1, p))] : null;
  }

  /** Starts a submit's steps (before its first pass): step 0 is the next dispatch. */
  beginSubmit(enc: GPUCommandEncoder): void {
    if (this.counter === 'gpu') enc.clearBuffer(this.ticket, 0, 16);
  }

  /** Sets the step pipeline and the submit's bind group on a pass (once per pass, before step()). */
  begin(pass: GPUComputePassEncoder, submitFrom: 0 | 1): void {
    pass.setPipeline(this.main);
    pass.setBindGroup(0, this.bindGroups[submitFrom]);
  }

  /** Records step `j` of the submit (which started from xi[submitFrom]) for the first `lanes` active lanes. */
  step(pass: GPUComputePassEncoder, submitFrom: 0 | 1, j: number, lanes: number): void {
    if (this.hostGroups) pass.setBindGroup(0, this.hostGroups[submitFrom][j % 6]);
    pass.dispatchWorkgroups(this.slotsX, this.slotsY, lanes);
  }

  /** Records the stop decision after the submit's `steps` steps (on a pass begun with begin()). */
  finalize(pass: GPUComputePassEncoder, submitFrom: 0 | 1, steps: number, lanes: number): void {
    pass.setPipeline(this.finalizePipeline);
    if (this.hostGroups) pass.setBindGroup(0, this.hostGroups[submitFrom][steps % 6]);
    pass.dispatchWorkgroups(lanes);
  }

  destroy(): void {
    this.ticket.destroy();
  }
}
