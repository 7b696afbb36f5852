/**
 * The WGSL solver: the same discretisation as CpuSolver (see there), on any WebGPU adapter, batch
 * first. A GpuBatch holds several problems of the same nx×ny grid ("lanes") side by side in one set
 * of buffers, and one run is a batch of one, so simulate, sweeps, fits and the demo step through the
 * same kernels: per step ONE dispatch for all stepping lanes together — diffusion_step `main` (the
 * tiles that hold particle cells of some lane, z = lane, ping-pong ξ buffers): diffusion, the
 * boundary flux of the tile's wall cells, their θs min/max and the stop decision from the step
 * before (three rotating step slots in the run state; see the WGSL) — and once per submit its
 * `finalize` (one invocation per lane: the stop flag the readback reports). Each lane keeps its own
 * uniforms, Φ̃ table (identical ones shared), walls (sorted by tile), wall quanta and 64-byte run
 * state, so lanes may differ in mask, surface, D(θ), θ0, current, Δt and cut-off; a lane that stops
 * is copied through unchanged while the others go on. Reports measure θs with surface_theta.wgsl.
 * With `stepsPerDispatch` K > 1 a dispatch is K steps instead (temporal blocking: diffusion_block.wgsl,
 * the same integers; the state rotates through three ξ buffers so that a block that overshot a stop
 * can be redone from its input by the next dispatch), and a submit ends with a resolving block.
 *
 * Each lane is a `Solver` (GpuSolver), driven by its own runSimulation coroutine. lane.advance(n)
 * posts a request; once every live lane has one pending (or the lanes without one have been idle for
 * an event-loop turn: done, or waiting on something else), the batch runs a *round*: k = the
 * smallest remaining count, k steps of those lanes in the same dispatches (the list of lanes is a
 * small buffer written once per round, so lanes outside a round cost nothing), then each lane whose
 * request is complete or stopped gets its result and the others keep their remainder. A round is cut
 * into submits of bounded work (a browser's GPU watchdog kills long command buffers), and the next
 * submit is queued before the previous one's state readback is awaited, so the GPU is never idle
 * waiting for the host; steps queued after every lane stopped are no-ops, and a lane's step count
 * says how many it took. Reads (stats, field, optics) are served per lane at once, between its own
 * advances, while other lanes wait; fields and reductions are read back only when an output is due.
 *
 * Callers: destroy() every lane when done with it (also after its coroutine threw); the buffers are
 * freed with the last lane. A lane that is neither stepping nor reading does not hold up the others
 * beyond one event-loop turn, but each round it misses costs the others a round of their own.
 * Why a batch: a particle of a few hundred cells across is a few dozen workgroups, a sliver of a GPU,
 * and a step costs a dispatch whatever its size; 64 such lanes fill it for the same one.
 * Host cost: a step is one encoder call where the kernel counts which step of the submit it is
 * (small dispatches), else two (setBindGroup, dispatchWorkgroups); hostCost counts it.
 */
import { UserError } from '../errors';
import { show } from '../checks';
import { submitWithReadback, withErrorScope, type BufferRegion, type GpuContext } from '../gpu/device';
import { thetaOfPhi } from '../model/diffusivity';
import { CELL_COUNTS, DiffusionStepKernel, resolveCellsPerInvocation, stepTiling, tileWallTable, type CellCount, type CellsPerInvocation, type StepCounter, type StepDataLayout } from '../kernels/diffusionStep';
import { DiffusionBlockKernel, MAX_STEPS_PER_DISPATCH, runStateBufferBytes } from '../kernels/diffusionBlock';
import { FieldReduceKernel, PARTIAL_BYTES } from '../kernels/fieldReduce';
import { packStepUniforms, STEP_UNIFORMS_BYTES } from '../kernels/stepUniforms';
import { CLEAR_STATE, keyValue, packWalls, RUN_STATE_BYTES, SurfaceThetaKernel, WALL_STRIDE } from '../kernels/surfaceTheta';
import type { Problem, StepParams } from './problem';
import { INV_QUANTA, OUTSIDE_Q, stateMismatch, thetaField, wallQuanta } from './quanta';
import type { AdvanceResult, FieldStats, Solver } from './types';
import { ForwardModelKernel } from '../kernels/forwardModel';
import { statsFromSums, type UnreactedStats } from '../observables/unreacted';
import type { Camera } from '../optics/forward';

/** steps recorded per compute pass (one dispatch each) */
const STEPS_PER_PASS = 256;
/** steps per submit at most, and cell-updates per submit at most (all lanes of the round together) */
const STEPS_PER_SUBMIT = 4096;
const CELL_STEPS_PER_SUBMIT = 2 ** 30;
/** submits of a round queued ahead of the readback being awaited */
const SUBMITS_IN_FLIGHT = 2;
const STATE_WORDS = RUN_STATE_BYTES / 4;

interface AdvanceRequest {
  remaining: number;
  resolve(result: AdvanceResult): void;
  reject(error: Error): void;
}

/** One lane's host-side state. */
interface Lane {
  readonly index: number;
  readonly problem: Problem;
  /** first entries of this lane in the shared Φ̃ table, wall and wall-quanta buffers */
  readonly tableOffset: number;
  readonly wallOffset: number;
  readonly quantaOffset: number;
  readonly uniformStaging: DataView<ArrayBuffer>;
  /** the quanta per wall cell, then the two limits of the θ-range guard (diffusion_step.wgsl) */
  readonly quantaStaging: Int32Array<ArrayBuffer>;
  params: StepParams | null;
  stepsReported: number;
  /** which ξ buffer holds the lane's state (0 or 1; 0–2 with temporal blocking) */
  current: number;
  request: AdvanceRequest | null;
  inRound: boolean;
  /** stats / field / optics calls in flight */
  reads: number;
  released: boolean;
}

/** What a lane can ask of its batch (closures over the batch's private state). */
interface LaneOps {
  setStep(params: StepParams): void;
  advance(n: number): Promise<AdvanceResult>;
  stats(): Promise<FieldStats>;
  field(): Promise<Float32Array>;
  optics(camera: Camera, threshold: number): Promise<UnreactedStats>;
  stateBinding(): { buffer: GPUBuffer; offset: number; size: number };
  readState(): Promise<Int32Array>;
  writeState(q: Int32Array): void;
  release(): void;
}

/**
 * One lane of a GpuBatch: a `Solver` for one problem. `GpuSolver.create(gpu, problem)` makes a batch
 * of one and returns its lane.
 */
export class GpuSolver implements Solver {
  /** @param bytesPerCell GPU memory of the batch per lane and grid cell */
  constructor(private readonly ops: LaneOps, readonly backend: string, readonly bytesPerCell: number) {}

  /** A batch of one: checks the grid against the adapter's limits, then builds buffers and pipelines (options: GpuBatch.create's). */
  static async create(gpu: GpuContext, problem: Problem, options: { stepsPerDispatch?: number; cellsPerInvocation?: CellsPerInvocation } = {}): Promise<GpuSolver> {
    return (await GpuBatch.create(gpu, [problem], options)).lanes[0];
  }

  setStep(params: StepParams): void { this.ops.setStep(params); }
  advance(n: number): Promise<AdvanceResult> { return this.ops.advance(n); }
  stats(): Promise<FieldStats> { return this.ops.stats(); }
  field(): Promise<Float32Array> { return this.ops.field(); }
  optics(camera: Camera, threshold: number): Promise<UnreactedStats> { return this.ops.optics(camera, threshold); }
  /**
   * The GPU memory holding this lane's current state, for a caller that draws or copies it on the GPU
   * without a readback (the live demo's render pass, demo/render/gpuField.ts): `size` bytes from
   * `offset`, int32 fixed point q = (θ0 − θ)·2²⁸ per cell (src/solver/quanta.ts), row-major
   * [ny][nx], OUTSIDE_Q outside the particle. Which buffer it is changes with the steps (ping-pong),
   * so ask again after advance(); a copy written into it (same layout) becomes this lane's state.
   * Use it between advances only, in the same device's later submits; the batch owns the buffer.
   */
  stateBinding(): { buffer: GPUBuffer; offset: number; size: number } { return this.ops.stateBinding(); }
  readState(): Promise<Int32Array> { return this.ops.readState(); }
  writeState(q: Int32Array): void { this.ops.writeState(q); }
  /** Releases the lane: it no longer holds up the others' rounds; the last lane frees the buffers. */
  destroy(): void { this.ops.release(); }
}

/**
 * What stepping has cost the host so far (for `ionflux bench`): the time spent encoding and submitting
 * steps (createCommandEncoder to queue.submit returning, readbacks not included), the steps and
 * dispatches recorded and the submits made.
 */
export interface HostCost {
  encode_ms: number;
  steps: number;
  dispatches: number;
  submits: number;
}

export class GpuBatch {
  /** one Solver per problem, in the order given */
  readonly lanes: GpuSolver[];
  /** the host's share of stepping, accumulated over every round (reset it by assigning zeros) */
  readonly hostCost: HostCost = { encode_ms: 0, steps: 0, dispatches: 0, submits: 0 };
  private readonly device: GPUDevice;
  private readonly cells: number;
  private readonly laneState: Lane[];
  /** the ξ buffers the state ping-pongs between: two, or three with temporal blocking (diffusion_block.wgsl) */
  private readonly xi: GPUBuffer[];
  private readonly laneUniforms: GPUBuffer;
  private readonly measureUniforms: GPUBuffer;
  private readonly activeLanes: GPUBuffer;
  private readonly measureLane: GPUBuffer;
  /** the lanes' wall quanta (rewritten by setStep), then the tiling tables (DiffusionStepKernel) */
  private readonly stepData: GPUBuffer;
  private readonly state: GPUBuffer;
  private readonly measureState: GPUBuffer;
  /**
   * the input of the single-field kernels (reduction, forward model): in a batch of one ξ itself,
   * else a scratch buffer that one lane's ξ is copied into (fieldInput)
   */
  private readonly scratch: GPUBuffer | null;
  private readonly fieldBuffers: GPUBuffer[];
  private readonly owned: GPUBuffer[] = [];
  /** one step per dispatch (stepsPerDispatch 1), or several (temporal blocking) */
  private readonly diffusion: DiffusionStepKernel | null;
  private readonly blocked: DiffusionBlockKernel | null;
  private readonly surface: SurfaceThetaKernel;
  private readonly reduce: FieldReduceKernel;
  private roundRunning = false;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private freed = false;
  /** the forward-model kernels, one per camera, built on the first optics() call with it */
  private readonly forwardKernels = new Map<Camera, Promise<ForwardModelKernel>>();

  private constructor(private readonly gpu: GpuContext, problems: Problem[], tiles: 'particle' | 'all', counter: StepCounter, stepsPerDispatch: number, private readonly per: CellCount) {
    const device = (this.device = gpu.device);
    const { nx, ny } = problems[0].grid;
    const n = (this.cells = nx * ny);
    const L = problems.length;
    const buffer = (label: string, size: number, usage: number) => {
      const b = device.createBuffer({ label: `GpuBatch.${label}`, size: Math.max(16, Math.ceil(size / 4) * 4), usage });
      this.owned.push(b);
      return b;
    };
    const S = GPUBufferUsage;
    // lanes with the same Φ̃ table (a sweep of currents, say) share one copy of it
    const tables: { phi: Float32Array; offset: number }[] = [];
    let tableAt = 0, wallAt = 0, quantaAt = 0;
    this.laneState = problems.map((problem, index) => {
      const nWalls = problem.grid.walls.index.length;
      let table = tables.find((t) => sameValues(t.phi, problem.table.phi));
      if (!table) {
        table = { phi: problem.table.phi, offset: tableAt };
        tables.push(table);
        tableAt += problem.table.phi.length;
      }
      const lane: Lane = {
        index, problem, tableOffset: table.offset, wallOffset: wallAt, quantaOffset: quantaAt,
        uniformStaging: new DataView(new ArrayBuffer(STEP_UNIFORMS_BYTES)), quantaStaging: new Int32Array(nWalls + 2),
        params: null, stepsReported: 0, current: 0, request: null, inRound: false, reads: 0, released: false,
      };
      wallAt += nWalls;
      quantaAt += nWalls + 2;
      return lane;
    });
    this.xi = Array.from({ length: stepsPerDispatch > 1 ? 3 : 2 }, (_, k) => buffer(`xi${k}`, 4 * n * L, S.STORAGE | S.COPY_SRC | S.COPY_DST));
    const init = new Int32Array(n * L);
    const phi = new Float32Array(tableAt);
    const walls = new Uint8Array(Math.max(1, wallAt) * WALL_STRIDE);
    for (const lane of this.laneState) {
      const { inside, walls: w } = lane.problem.grid;
      const q = init.subarray(lane.index * n, (lane.index + 1) * n);
      for (let i = 0; i < n; i++) q[i] = inside[i] ? 0 : OUTSIDE_Q;
      if (w.index.length) walls.set(new Uint8Array(packWalls(w.index, w.fluxWeight, w.surfaceOffset_m)), lane.wallOffset * WALL_STRIDE);
    }
    for (const t of tables) phi.set(t.phi, t.offset);
    for (const xi of this.xi) device.queue.writeBuffer(xi, 0, init);
    const phiTable = buffer('phiTable', phi.byteLength, S.STORAGE | S.COPY_DST);
    device.queue.writeBuffer(phiTable, 0, phi);
    const wallBuf = buffer('walls', walls.byteLength, S.STORAGE | S.COPY_DST);
    device.queue.writeBuffer(wallBuf, 0, walls);
    // the step data: wall quanta (written at setStep), the dispatched tiles, per lane its walls by tile
    const tiling = stepTiling(nx, ny, problems.map((p) => p.grid.inside), tiles, per);
    const nTiles = tiling.tilesX * tiling.tilesY;
    const layout: StepDataLayout = {
      tileListAt: quantaAt,
      tileStartAt: quantaAt + tiling.tiles.length,
      tileWallsAt: quantaAt + tiling.tiles.length + L * (nTiles + 1),
      words: quantaAt + tiling.tiles.length + L * (nTiles + 1) + wallAt,
    };
    const data = new Uint32Array(layout.words);
    data.set(tiling.tiles, layout.tileListAt);
    for (const lane of this.laneState) {
      const t = tileWallTable(nx, tiling, lane.problem.grid.walls.index);
      data.set(t.start, layout.tileStartAt + lane.index * (nTiles + 1));
      data.set(t.order, layout.tileWallsAt + lane.wallOffset);
    }
    this.stepData = buffer('stepData', 4 * layout.words, S.STORAGE | S.COPY_DST);
    device.queue.writeBuffer(this.stepData, 0, data);
    this.laneUniforms = buffer('laneUniforms', STEP_UNIFORMS_BYTES * L, S.STORAGE | S.COPY_DST);
    this.measureUniforms = buffer('measureUniforms', STEP_UNIFORMS_BYTES * L, S.STORAGE | S.COPY_DST);
    this.activeLanes = buffer('activeLanes', 4 * L, S.STORAGE | S.COPY_DST);
    this.measureLane = buffer('measureLane', 4, S.STORAGE | S.COPY_DST);
    // the run states (read back after every submit), then with K > 1 the slot sets of diffusion_block.wgsl
    this.state = buffer('state', runStateBufferBytes(L, stepsPerDispatch), S.STORAGE | S.COPY_SRC | S.COPY_DST);
    this.measureState = buffer('measureState', RUN_STATE_BYTES * L, S.STORAGE | S.COPY_SRC | S.COPY_DST);
    this.scratch = L > 1 ? buffer('scratch', 4 * n, S.STORAGE | S.COPY_DST) : null;
    this.fieldBuffers = this.scratch ? [this.scratch, this.scratch] : this.xi;
    const stepBuffers = { laneUniforms: this.laneUniforms, phiTable, activeLanes: this.activeLanes, state: this.state, walls: wallBuf, stepData: this.stepData };
    this.diffusion = stepsPerDispatch > 1 ? null : new DiffusionStepKernel(device, tiling, layout, { ...stepBuffers, xi: [this.xi[0], this.xi[1]] }, L, counter, gpu.report.software);
    this.blocked = stepsPerDispatch > 1 ? new DiffusionBlockKernel(device, stepsPerDispatch, tiling, layout, { ...stepBuffers, xi: [this.xi[0], this.xi[1], this.xi[2]] }, L) : null;
    this.surface = new SurfaceThetaKernel(device, {
      measureUniforms: this.measureUniforms, phiTable, measureLane: this.measureLane, xi: this.xi, walls: wallBuf, measureState: this.measureState,
    });
    this.reduce = new FieldReduceKernel(device, n, this.fieldBuffers);
    this.owned.push(this.reduce.partials);
    const bytesPerCell = this.owned.reduce((a, b) => a + b.size, 0) / (n * L);
    const backend = `gpu (${gpu.report.name}${gpu.report.software ? ', software adapter' : ''}${stepsPerDispatch > 1 ? `, ${stepsPerDispatch} steps per dispatch` : ''})`;
    this.lanes = this.laneState.map((lane) => new GpuSolver(this.laneOps(lane), backend, bytesPerCell));
  }

  /**
   * Lanes of `problem`'s grid that fit one batch on this adapter: its per-buffer limits
   * (maxStorageBufferBindingSize, maxBufferSize: the ξ buffers hold every lane, so do the wall
   * and step-data buffers; lanes with different Φ̃ tables need room for each) and its dispatch limit
   * (maxComputeWorkgroupsPerDimension: one workgroup layer per lane); 0 if not even one fits. WebGPU does not expose the device's memory: pass
   * `memory_bytes` (what the batch may use) to size the batch to it too (GpuBatch.bytes);
   * `stepsPerDispatch` and `cellsPerInvocation` as GpuBatch.create's (above 1, a third ξ buffer).
   */
  static maxLanes(gpu: GpuContext, problem: Problem, memory_bytes = Infinity, stepsPerDispatch = 1, cellsPerInvocation: CellsPerInvocation = 'auto'): number {
    if (GpuBatch.gridError(gpu, problem)) return 0;
    const per = resolveCellsPerInvocation(cellsPerInvocation, stepsPerDispatch, gpu.report.software);
    const lim = gpu.device.limits;
    const maxBytes = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    const { nx, ny, walls } = problem.grid;
    // tiles of the smallest side (16 cells): an upper bound on the tile tables of any cellsPerInvocation
    const nTiles = Math.ceil(nx / DiffusionStepKernel.WG) * Math.ceil(ny / DiffusionStepKernel.WG);
    let hi = Math.min(
      Math.floor(maxBytes / (4 * nx * ny)),
      Math.floor(maxBytes / (WALL_STRIDE * Math.max(1, walls.index.length))),
      Math.floor((maxBytes / 4 - nTiles) / (2 * walls.index.length + 2 + nTiles + 1)),
      Math.floor(maxBytes / STEP_UNIFORMS_BYTES),
      lim.maxComputeWorkgroupsPerDimension,
    );
    if (GpuBatch.bytes(problem, hi, stepsPerDispatch, per) <= memory_bytes) return hi;
    let lo = 0; // bytes(lo) ≤ memory_bytes < bytes(hi)
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (GpuBatch.bytes(problem, mid, stepsPerDispatch, per) <= memory_bytes) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  /**
   * GPU memory a batch of `lanes` lanes like `problem` (same grid, walls and Φ̃ table) allocates, in
   * bytes (a lane's bytesPerCell is this over lanes·nx·ny): two int32 ξ buffers per lane (three and
   * the slot sets of diffusion_block.wgsl with stepsPerDispatch > 1), its walls,
   * step data (wall quanta, walls by tile), uniforms and run states, and for the whole batch one Φ̃
   * table, the tile list, the reduction partials and (more than one lane) a scratch field. (Not
   * counted: the step kernel's step counter, 1–2 KiB, or the block kernel's table of blocks,
   * 3(K + 1) entries of 256 B.) `cellsPerInvocation`: the batch's (GpuBatch.cellsPerInvocation),
   * which sets the tiles' size and so the tile tables'; the default, 1, is the most (16-cell tiles
   * have the largest tables), so without it this is an upper bound on any adapter.
   */
  static bytes(problem: Problem, lanes: number, stepsPerDispatch = 1, cellsPerInvocation: CellCount = 1): number {
    if (lanes <= 0) return 0;
    const { nx, ny, walls } = problem.grid;
    const n = nx * ny, nWalls = walls.index.length;
    const size = (bytes: number) => Math.max(16, Math.ceil(bytes / 4) * 4); // as the constructor allocates
    const tiling = stepTiling(nx, ny, [problem.grid.inside], 'particle', cellsPerInvocation);
    const stepWords = (nWalls + 2) * lanes + tiling.tiles.length + lanes * (tiling.tilesX * tiling.tilesY + 1) + nWalls * lanes;
    const xiBuffers = stepsPerDispatch > 1 ? 3 : 2;
    return xiBuffers * size(4 * n * lanes) + size(4 * problem.table.phi.length) + size(WALL_STRIDE * Math.max(1, nWalls * lanes))
      + size(4 * stepWords) + 2 * size(STEP_UNIFORMS_BYTES * lanes) + size(4 * lanes) + size(4)
      + size(runStateBufferBytes(lanes, stepsPerDispatch)) + size(RUN_STATE_BYTES * lanes) + (lanes > 1 ? size(4 * n) : 0) + size(FieldReduceKernel.workgroupsFor(n) * PARTIAL_BYTES);
  }

  /**
   * Who counts the steps of a submit: 'gpu' (one host call per step) or 'host' (two); see StepCounter.
   * With several steps per dispatch, the host (two calls per block of steps).
   */
  get stepCounter(): 'gpu' | 'host' {
    return this.diffusion?.counter ?? 'host';
  }

  /** Cells each invocation of the step kernel updates along each axis: 1, 2, 4 or 8 (GpuBatch.create's cellsPerInvocation, resolved). */
  get cellsPerInvocation(): CellCount {
    return this.per;
  }

  /** Steps a dispatch takes: 1, or the block size of temporal blocking (GpuBatch.create's stepsPerDispatch). */
  get stepsPerDispatch(): number {
    return this.blocked?.k ?? 1;
  }

  /**
   * A batch of `problems`, one lane each (at least one; all with the same nx×ny grid), checked
   * against the adapter's limits. Throws when the shapes differ or the batch does not fit
   * (GpuBatch.maxLanes tells how many lanes do). Drive each lane from its own coroutine (e.g.
   * runSimulation) and destroy() it when that ends, also when it throws.
   * `options.tiles`: which tiles a step dispatches, those holding an inside cell of some lane
   * (the default) or every tile of the grid (the same results, for measuring what skipping saves).
   * `options.stepCounter`: who says which step of a submit a dispatch is (StepCounter in
   * src/kernels/diffusionStep.ts; the same results either way).
   * `options.stepsPerDispatch`: 1 (the default: diffusion_step.wgsl), or 2–8 steps per dispatch in
   * workgroup memory (temporal blocking, diffusion_block.wgsl: the same integers, a third ξ buffer,
   * less memory traffic and host work per step, more arithmetic; `ionflux bench` and
   * bench/gpu-check.sh measure which pays on an adapter).
   * `options.cellsPerInvocation`: cells each invocation of the single-step kernel updates along each
   * axis, 1 (16×16-cell tiles) or 2, 4, 8 (32×32), or 'auto' (CellsPerInvocation in
   * src/kernels/diffusionStep.ts: more on a software adapter; the same results either way;
   * temporal blocking takes 1).
   */
  static async create(gpu: GpuContext, problems: Problem[], options: { tiles?: 'particle' | 'all'; stepCounter?: StepCounter; stepsPerDispatch?: number; cellsPerInvocation?: CellsPerInvocation } = {}): Promise<GpuBatch> {
    if (!problems.length) throw new UserError('GpuBatch.create: problems is empty: give at least one problem');
    const k = options.stepsPerDispatch ?? 1;
    if (!Number.isInteger(k) || k < 1 || k > MAX_STEPS_PER_DISPATCH) {
      throw new UserError(`GpuBatch.create: stepsPerDispatch = ${show(k)}: allowed are whole numbers from 1 to ${MAX_STEPS_PER_DISPATCH}`);
    }
    if (k > 1 && options.stepCounter && options.stepCounter !== 'auto') {
      throw new UserError(`GpuBatch.create: stepCounter = '${options.stepCounter}' is for one step per dispatch; with stepsPerDispatch = ${k} the host says which block a dispatch is (leave stepCounter out)`);
    }
    const cells = options.cellsPerInvocation ?? 'auto';
    if (cells !== 'auto' && !CELL_COUNTS.includes(cells)) {
      throw new UserError(`GpuBatch.create: cellsPerInvocation = ${String(cells)}: allowed are ${CELL_COUNTS.join(', ')} and 'auto'`);
    }
    if (k > 1 && cells !== 'auto' && cells !== 1) {
      throw new UserError(`GpuBatch.create: cellsPerInvocation = ${cells} is for one step per dispatch; with stepsPerDispatch = ${k} each invocation takes one cell (leave cellsPerInvocation out)`);
    }
    const per = resolveCellsPerInvocation(cells, k, gpu.report.software);
    const { nx, ny } = problems[0].grid;
    problems.forEach((p, i) => {
      if (p.grid.nx !== nx || p.grid.ny !== ny) {
        throw new Error(`GpuBatch.create: problems[${i}] has a ${p.grid.nx}×${p.grid.ny} grid and problems[0] a ${nx}×${ny} one: all lanes of a batch share one grid shape (batch the problems by grid size)`);
      }
    });
    const gridError = GpuBatch.gridError(gpu, problems[0]);
    if (gridError) throw new Error(gridError);
    const fit = Math.min(...problems.map((p) => GpuBatch.maxLanes(gpu, p, Infinity, k, per)));
    if (problems.length > fit) {
      throw new Error(`GpuBatch.create: ${problems.length} lanes of a ${nx}×${ny} grid do not fit the adapter (${gpu.report.name}): at most ${fit} per batch (its storage-buffer and dispatch limits); split the problems into batches of at most ${fit}`);
    }
    return withErrorScope(gpu.device, 'creating the GPU solver', () => new GpuBatch(gpu, problems, options.tiles ?? 'particle', options.stepCounter ?? 'auto', k, per));
  }

  /** Why one lane of this grid does not fit the adapter, or null. */
  private static gridError(gpu: GpuContext, problem: Problem): string | null {
    const { nx, ny, spacing_um } = problem.grid;
    const lim = gpu.device.limits;
    const bytes = nx * ny * 4;
    const maxBytes = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    if (bytes > maxBytes) {
      return `grid.spacing_um = ${spacing_um} gives a ${nx}×${ny} grid (${(bytes / 2 ** 20).toFixed(0)} MiB per state buffer): the adapter (${gpu.report.name}) allows at most ${(maxBytes / 2 ** 20).toFixed(0)} MiB per storage buffer; use a larger spacing or --backend cpu`;
    }
    // a step's tiles are dispatched as rows of up to maxComputeWorkgroupsPerDimension workgroups (16-cell tiles, the most)
    const tiles = Math.ceil(nx / DiffusionStepKernel.WG) * Math.ceil(ny / DiffusionStepKernel.WG);
    const rows = Math.ceil(tiles / lim.maxComputeWorkgroupsPerDimension);
    if (rows > lim.maxComputeWorkgroupsPerDimension) {
      return `grid.spacing_um = ${spacing_um} gives a ${nx}×${ny} grid: more workgroup rows (${rows}) than the adapter allows per dimension (${lim.maxComputeWorkgroupsPerDimension}); use a larger spacing`;
    }
    return null;
  }

  private laneOps(lane: Lane): LaneOps {
    return {
      setStep: (params) => this.setStep(lane, params),
      advance: (n) => this.advance(lane, n),
      stats: () => this.read(lane, 'stats', () => this.stats(lane)),
      field: () => this.read(lane, 'field', () => this.field(lane)),
      optics: (camera, threshold) => this.read(lane, 'optics', () => this.optics(lane, camera, threshold)),
      stateBinding: () => ({ buffer: this.xi[lane.current], offset: 4 * this.cells * lane.index, size: 4 * this.cells }),
      readState: () => this.read(lane, 'readState', () => this.readState(lane)),
      writeState: (q) => this.writeState(lane, q),
      release: () => this.release(lane),
    };
  }

  private writeUniforms(lane: Lane, target: GPUBuffer, params: StepParams, applyFlux: boolean): void {
    const { problem: p } = lane;
    packStepUniforms(lane.uniformStaging, {
      nx: p.grid.nx, ny: p.grid.ny, tableN: p.table.N, nWalls: p.grid.walls.index.length, theta0: p.theta0, params, applyFlux,
      tableOffset: lane.tableOffset, wallOffset: lane.wallOffset, quantaOffset: lane.quantaOffset,
    });
    this.device.queue.writeBuffer(target, lane.index * STEP_UNIFORMS_BYTES, lane.uniformStaging.buffer);
  }

  private live(lane: Lane, what: string): void {
    if (lane.released) throw new Error(`GpuSolver.${what}: the lane was destroyed`);
  }

  // ---- stepping

  private setStep(lane: Lane, params: StepParams): void {
    this.live(lane, 'setStep');
    if (lane.request) throw new Error('GpuSolver.setStep: an advance() is still pending on this lane; await it first');
    lane.params = params;
    this.writeUniforms(lane, this.laneUniforms, params, true);
    const n = lane.problem.grid.walls.index.length;
    wallQuanta(lane.problem.grid.walls.fluxWeight, params.fluxPerStep, lane.quantaStaging.subarray(0, n));
    lane.quantaStaging[n] = params.guardAboveQ ?? 0x7fffffff;
    lane.quantaStaging[n + 1] = params.guardBelowQ ?? -0x80000000;
    this.device.queue.writeBuffer(this.stepData, 4 * lane.quantaOffset, lane.quantaStaging);
    this.clearRunState(lane);
  }

  /** The lane's run state and step slots as a new run starts them: no steps, no stop. */
  private clearRunState(lane: Lane): void {
    this.device.queue.writeBuffer(this.state, lane.index * RUN_STATE_BYTES, CLEAR_STATE);
    if (this.blocked) {
      const clear = this.blocked.clearSlots;
      this.device.queue.writeBuffer(this.state, RUN_STATE_BYTES * this.laneState.length + lane.index * clear.byteLength, clear);
    }
    lane.stepsReported = 0;
  }

  private advance(lane: Lane, n: number): Promise<AdvanceResult> {
    this.live(lane, 'advance');
    if (!lane.params) throw new Error('GpuSolver.advance: setStep() first');
    if (lane.request) throw new Error('GpuSolver.advance: an advance() is already pending on this lane');
    if (n <= 0) return Promise.resolve({ steps: 0, stopped: false });
    return new Promise((resolve, reject) => {
      lane.request = { remaining: n, resolve, reject };
      this.schedule();
    });
  }

  /**
   * Starts a round when every live lane has an advance pending; when some have none, once they have
   * had an event-loop turn without a read in flight (a lane's coroutine goes from one solver call to
   * the next within a turn, so such a lane is done or waiting on something else).
   */
  private schedule(idleTurnPassed = false): void {
    if (this.roundRunning || this.freed) return;
    const live = this.laneState.filter((l) => !l.released);
    const pending = live.filter((l) => l.request);
    if (!pending.length) return;
    if (pending.length < live.length) {
      if (live.some((l) => !l.request && l.reads > 0)) return; // its read's end calls schedule()
      if (!idleTurnPassed) {
        this.idleTimer ??= setTimeout(() => { this.idleTimer = undefined; this.schedule(true); }, 0);
        return;
      }
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    void this.runRound(pending);
  }

  /** k = the smallest remaining count of `members`; k steps of all of them, then their results. */
  private async runRound(members: Lane[]): Promise<void> {
    this.roundRunning = true;
    for (const l of members) l.inRound = true;
    const inFlight: Promise<ArrayBuffer[]>[] = [];
    try {
      const k = Math.min(...members.map((l) => (l.request as AdvanceRequest).remaining));
      const count = members.length;
      this.device.queue.writeBuffer(this.activeLanes, 0, Uint32Array.from(members, (l) => l.index));
      // all members step from one ξ buffer (the one most of them are in): lanes that sat out rounds copy their region across once
      const inBuffer = this.xi.map((_, b) => members.filter((l) => l.current === b).length);
      let from = inBuffer.indexOf(Math.max(...inBuffer));
      let rejoin = members.filter((l) => l.current !== from);
      const perSubmit = Math.max(1, Math.min(STEPS_PER_SUBMIT, Math.floor(CELL_STEPS_PER_SUBMIT / (count * this.cells))));
      let submitted = 0, allStopped = false;
      let words = new Uint32Array(0);
      for (;;) {
        // keep the queue fed: the next submit goes in before the previous one's readback is awaited
        while (!allStopped && submitted < k && inFlight.length < SUBMITS_IN_FLIGHT) {
          const m = Math.min(perSubmit, k - submitted);
          const t0 = performance.now();
          const enc = this.device.createCommandEncoder({ label: 'GpuBatch.round' });
          for (const l of rejoin) {
            const at = 4 * this.cells * l.index;
            enc.copyBufferToBuffer(this.xi[l.current], at, this.xi[from], at, 4 * this.cells);
          }
          rejoin = [];
          from = this.encodeSteps(enc, m, from, count);
          inFlight.push(submitWithReadback(this.device, enc, [{ buffer: this.state, size: RUN_STATE_BYTES * this.laneState.length }]));
          this.hostCost.encode_ms += performance.now() - t0;
          this.hostCost.steps += m;
          this.hostCost.submits++;
          submitted += m;
        }
        const next = inFlight.shift();
        if (!next) break;
        words = new Uint32Array((await next)[0]);
        allStopped = members.every((l) => words[l.index * STATE_WORDS] !== 0);
      }
      for (const l of members) l.current = from;
      this.settle(members, k, words);
    } catch (e) {
      for (const p of inFlight) p.catch(() => {}); // the first failure is the one reported
      for (const l of members) {
        l.request?.reject(e as Error);
        l.request = null;
      }
    } finally {
      for (const l of members) l.inRound = false;
      this.roundRunning = false;
      this.freeIfDone();
      this.schedule();
    }
  }

  /**
   * Records one submit's `steps` steps of the first `count` active lanes from xi[from], one dispatch
   * each (or one per block of steps), then the stop decision (finalize) that the submit's readback
   * reports; returns the buffer holding the state after.
   */
  private encodeSteps(enc: GPUCommandEncoder, steps: number, from: number, count: number): number {
    if (this.blocked) {
      const { to, dispatches } = this.blocked.encodeSubmit(enc, steps, from, count, STEPS_PER_PASS);
      this.hostCost.dispatches += dispatches;
      return to;
    }
    const diffusion = this.diffusion as DiffusionStepKernel;
    const start = from as 0 | 1;
    diffusion.beginSubmit(enc);
    for (let s = 0; s < steps; ) {
      const pass = enc.beginComputePass({ label: 'GpuBatch.steps' });
      const p = Math.min(STEPS_PER_PASS, steps - s);
      diffusion.begin(pass, start);
      for (let j = s; j < s + p; j++) diffusion.step(pass, start, j, count);
      s += p;
      if (s === steps) diffusion.finalize(pass, start, steps, count);
      pass.end();
    }
    this.hostCost.dispatches += steps + 1;
    return steps % 2 === 0 ? start : 1 - start;
  }

  /**
   * After a round of k steps, from the run states `words`: a lane whose request is complete or that
   * stopped gets its result; the others keep the rest of their count for the next round.
   */
  private settle(members: Lane[], k: number, words: Uint32Array): void {
    for (const l of members) {
      const req = l.request as AdvanceRequest;
      const flag = words[l.index * STATE_WORDS];
      req.remaining -= k;
      if (l.released) {
        l.request = null;
        req.reject(new Error('GpuSolver.advance: the lane was destroyed while stepping'));
      } else if (flag !== 0 || req.remaining <= 0) {
        l.request = null;
        const steps = words[l.index * STATE_WORDS + 1] - l.stepsReported;
        l.stepsReported += steps;
        req.resolve({ steps, stopped: flag !== 0, reason: flag === 2 ? 'range' : flag !== 0 ? 'cutoff' : undefined });
      }
    }
  }

  // ---- reads of one lane

  /** Counts the read as the lane's activity (schedule() waits for it), then lets rounds go on. */
  private async read<T>(lane: Lane, what: string, fn: () => Promise<T>): Promise<T> {
    this.live(lane, what);
    lane.reads++;
    try {
      return await fn();
    } finally {
      lane.reads--;
      this.schedule();
    }
  }

  /** Makes fieldBuffers hold the lane's ξ (a copy, unless a batch of one); returns which of them to read. */
  private fieldInput(enc: GPUCommandEncoder, lane: Lane): number {
    if (!this.scratch) return lane.current;
    enc.copyBufferToBuffer(this.xi[lane.current], 4 * this.cells * lane.index, this.scratch, 0, 4 * this.cells);
    return 0;
  }

  private async stats(lane: Lane): Promise<FieldStats> {
    const { problem } = lane;
    const params = lane.params ?? { dt_s: 0, r: 0, fluxPerStep: 0, surfaceFactor: 0, stopBelowPhi: -Infinity, stopAbovePhi: Infinity };
    this.writeUniforms(lane, this.measureUniforms, params, false);
    this.device.queue.writeBuffer(this.measureState, lane.index * RUN_STATE_BYTES, CLEAR_STATE);
    this.device.queue.writeBuffer(this.measureLane, 0, new Uint32Array([lane.index]));
    const enc = this.device.createCommandEncoder({ label: 'GpuBatch.stats' });
    const input = this.fieldInput(enc, lane);
    const pass = enc.beginComputePass({ label: 'GpuBatch.reduce' });
    this.reduce.encode(pass, input);
    this.surface.encode(pass, lane.current, problem.grid.walls.index.length);
    pass.end();
    const [partials, state] = await submitWithReadback(this.device, enc, [
      { buffer: this.reduce.partials, size: this.reduce.workgroups * PARTIAL_BYTES },
      { buffer: this.measureState, offset: lane.index * RUN_STATE_BYTES, size: RUN_STATE_BYTES },
    ]);
    const r = FieldReduceKernel.combine(partials);
    const s = new Uint32Array(state);
    const theta0 = problem.theta0;
    return {
      meanTheta: theta0 - (r.sum / r.count) * INV_QUANTA,
      minTheta: theta0 - r.max * INV_QUANTA,
      maxTheta: theta0 - r.min * INV_QUANTA,
      minSurfaceTheta: thetaOfPhi(problem.table, keyValue(s[2])),
      maxSurfaceTheta: thetaOfPhi(problem.table, keyValue(s[3])),
    };
  }

  private async field(lane: Lane): Promise<Float32Array> {
    const region: BufferRegion = { buffer: this.xi[lane.current], offset: 4 * this.cells * lane.index, size: 4 * this.cells };
    const [q] = await submitWithReadback(this.device, this.device.createCommandEncoder({ label: 'GpuBatch.field' }), [region]);
    return thetaField(new Int32Array(q), lane.problem.theta0);
  }

  private async readState(lane: Lane): Promise<Int32Array> {
    const region: BufferRegion = { buffer: this.xi[lane.current], offset: 4 * this.cells * lane.index, size: 4 * this.cells };
    const [q] = await submitWithReadback(this.device, this.device.createCommandEncoder({ label: 'GpuBatch.readState' }), [region]);
    return new Int32Array(q);
  }

  /** The lane's region of its current ξ buffer takes `q` (queued before any later submit). */
  private writeState(lane: Lane, q: Int32Array): void {
    this.live(lane, 'writeState');
    if (lane.request) throw new Error('GpuSolver.writeState: an advance() is still pending on this lane; await it first');
    const why = stateMismatch(q, lane.problem.grid.inside);
    if (why) throw new Error(`GpuSolver.writeState: ${why}`);
    this.device.queue.writeBuffer(this.xi[lane.current], 4 * this.cells * lane.index, q.buffer, q.byteOffset, q.byteLength);
    // the fused step decides a stop from the step before; a written state has none (as after setStep)
    this.clearRunState(lane);
  }

  private async optics(lane: Lane, camera: Camera, threshold: number): Promise<UnreactedStats> {
    // one kernel per camera for the whole batch: the lanes of a sweep or a fit share their particle's
    // camera (src/solver/run.ts), and every lane's field reaches it through the same fieldBuffers
    let made = this.forwardKernels.get(camera);
    if (!made) {
      made = withErrorScope(this.device, 'building the GPU forward model', () => new ForwardModelKernel(this.gpu, camera, this.fieldBuffers));
      this.forwardKernels.set(camera, made);
    }
    const k = await made;
    const enc = this.device.createCommandEncoder({ label: 'GpuBatch.optics' });
    const input = this.fieldInput(enc, lane);
    const pass = enc.beginComputePass({ label: 'GpuBatch.forwardModel' });
    k.encode(pass, input, threshold);
    pass.end();
    const [partials] = await submitWithReadback(this.device, enc, [{ buffer: k.reduce.partials, size: k.reduce.partialBytesPerFrame }]);
    return statsFromSums(k.reduce.reduceFrame(new Uint32Array(partials)), camera.pixel_um);
  }

  // ---- releasing

  private release(lane: Lane): void {
    if (lane.released) return;
    lane.released = true;
    if (lane.request && !lane.inRound) {
      lane.request.reject(new Error('GpuSolver.advance: the lane was destroyed'));
      lane.request = null;
    }
    this.freeIfDone();
    this.schedule();
  }

  /** Frees the buffers once every lane is released and no round is using them. */
  private freeIfDone(): void {
    if (this.freed || this.roundRunning || this.laneState.some((l) => !l.released)) return;
    this.freed = true;
    clearTimeout(this.idleTimer);
    for (const k of this.forwardKernels.values()) void k.then((kernel) => kernel.destroy(), () => {});
    this.forwardKernels.clear();
    this.diffusion?.destroy();
    this.blocked?.destroy();
    for (const b of this.owned) b.destroy();
  }
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
