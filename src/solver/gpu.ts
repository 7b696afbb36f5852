/**
 * The WGSL solver: the same discretisation as CpuSolver (see there), on any WebGPU adapter.
 * Per step three dispatches: diffusion_step (all cells, ping-pong ξ buffers), wall_flux `main` (one
 * invocation per wall cell: boundary flux, θs, min/max) and `finalize` (one invocation: step count,
 * cut-off flag); many steps are recorded into one command buffer and the only readback per
 * `advance` is the 32-byte run state. Fields and reductions are read back only
 * when an output is due.
 */
import { readBuffer, withErrorScope, type GpuContext } from '../gpu/device';
import { thetaOfPhi } from '../model/diffusivity';
import { DiffusionStepKernel } from '../kernels/diffusionStep';
import { FieldReduceKernel, PARTIAL_BYTES } from '../kernels/fieldReduce';
import { packStepUniforms, STEP_UNIFORMS_BYTES } from '../kernels/stepUniforms';
import { EMPTY_ACCUMULATORS, keyValue, packWalls, RUN_STATE_BYTES, WallFluxKernel, WALL_STRIDE } from '../kernels/wallFlux';
import type { Problem, StepParams } from './problem';
import { INV_QUANTA, OUTSIDE_Q, thetaField, wallQuanta } from './quanta';
import type { AdvanceResult, FieldStats, Solver } from './types';
import { ForwardModelKernel } from '../kernels/forwardModel';
import { statsFromSums, type UnreactedStats } from '../imaging/unreacted';
import type { Camera } from '../optics/forward';

/** steps recorded per compute pass, and per submit (one small readback of the run state each) */
const STEPS_PER_PASS = 256;
const STEPS_PER_SUBMIT = 4096;

export class GpuSolver implements Solver {
  readonly backend: string;
  readonly bytesPerCell: number;
  private readonly device: GPUDevice;
  private readonly xi: [GPUBuffer, GPUBuffer];
  private readonly uniforms: GPUBuffer;
  private readonly wallQuanta: GPUBuffer;
  private quantaStaging: Int32Array<ArrayBuffer>;
  private readonly measureUniforms: GPUBuffer;
  private readonly state: GPUBuffer;
  private readonly measureState: GPUBuffer;
  private readonly owned: GPUBuffer[] = [];
  private readonly diffusion: DiffusionStepKernel;
  private readonly wall: WallFluxKernel;
  private readonly reduce: FieldReduceKernel;
  private readonly uniformStaging = new DataView(new ArrayBuffer(STEP_UNIFORMS_BYTES));
  private current: 0 | 1 = 0;
  private readonly gpu: GpuContext;
  /** built on the first optics() call for a camera, reused after */
  private forward: { camera: Camera; kernel: ForwardModelKernel } | null = null;
  private params: StepParams | null = null;
  private stepsReported = 0;

  private constructor(gpu: GpuContext, private readonly problem: Problem) {
    this.gpu = gpu;
    const device = (this.device = gpu.device);
    const { nx, ny, inside, walls } = problem.grid;
    const n = nx * ny;
    const buffer = (label: string, size: number, usage: number) => {
      const b = device.createBuffer({ label: `GpuSolver.${label}`, size: Math.max(16, Math.ceil(size / 4) * 4), usage });
      this.owned.push(b);
      return b;
    };
    const S = GPUBufferUsage;
    this.xi = [buffer('xi0', 4 * n, S.STORAGE | S.COPY_SRC | S.COPY_DST), buffer('xi1', 4 * n, S.STORAGE | S.COPY_SRC | S.COPY_DST)];
    const init = new Int32Array(n);
    for (let i = 0; i < n; i++) init[i] = inside[i] ? 0 : OUTSIDE_Q;
    device.queue.writeBuffer(this.xi[0], 0, init);
    device.queue.writeBuffer(this.xi[1], 0, init);
    this.uniforms = buffer('uniforms', STEP_UNIFORMS_BYTES, S.UNIFORM | S.COPY_DST);
    this.measureUniforms = buffer('measureUniforms', STEP_UNIFORMS_BYTES, S.UNIFORM | S.COPY_DST);
    const phiTable = buffer('phiTable', problem.table.phi.byteLength, S.STORAGE | S.COPY_DST);
    device.queue.writeBuffer(phiTable, 0, problem.table.phi as Float32Array<ArrayBuffer>);
    const wallBuf = buffer('walls', Math.max(1, walls.index.length) * WALL_STRIDE, S.STORAGE | S.COPY_DST);
    device.queue.writeBuffer(wallBuf, 0, packWalls(walls.index, walls.fluxWeight, walls.surfaceOffset_m));
    // the quanta per wall cell, then the two limits of the θ-range guard (wall_flux.wgsl)
    this.wallQuanta = buffer('wallQuanta', 4 * (walls.index.length + 2), S.STORAGE | S.COPY_DST);
    this.quantaStaging = new Int32Array(walls.index.length + 2);
    this.state = buffer('state', RUN_STATE_BYTES, S.STORAGE | S.COPY_SRC | S.COPY_DST);
    this.measureState = buffer('measureState', RUN_STATE_BYTES, S.STORAGE | S.COPY_SRC | S.COPY_DST);
    this.diffusion = new DiffusionStepKernel(device, nx, ny, { uniforms: this.uniforms, phiTable, xi: this.xi, state: this.state });
    this.wall = new WallFluxKernel(device, {
      uniforms: this.uniforms, measureUniforms: this.measureUniforms, phiTable, xi: this.xi, walls: wallBuf, wallQuanta: this.wallQuanta,
      state: this.state, measureState: this.measureState,
    }, walls.index.length);
    this.reduce = new FieldReduceKernel(device, n, this.xi);
    this.owned.push(this.reduce.partials);
    const bytes = this.owned.reduce((a, b) => a + b.size, 0);
    this.bytesPerCell = bytes / n;
    this.backend = `gpu (${gpu.report.name}${gpu.report.software ? ', software adapter' : ''})`;
  }

  /** Checks the grid against the adapter's limits, then builds buffers and pipelines. */
  static async create(gpu: GpuContext, problem: Problem): Promise<GpuSolver> {
    const { nx, ny, spacing_um } = problem.grid;
    const lim = gpu.device.limits;
    const bytes = nx * ny * 4;
    const maxBytes = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    if (bytes > maxBytes) {
      throw new Error(`grid.spacing_um = ${spacing_um} gives a ${nx}×${ny} grid (${(bytes / 2 ** 20).toFixed(0)} MiB per state buffer): the adapter (${gpu.report.name}) allows at most ${(maxBytes / 2 ** 20).toFixed(0)} MiB per storage buffer; use a larger spacing or --backend cpu`);
    }
    const wgs = Math.max(Math.ceil(nx / DiffusionStepKernel.WG), Math.ceil(ny / DiffusionStepKernel.WG));
    if (wgs > lim.maxComputeWorkgroupsPerDimension) {
      throw new Error(`grid.spacing_um = ${spacing_um} gives a ${nx}×${ny} grid: more workgroups per dimension (${wgs}) than the adapter allows (${lim.maxComputeWorkgroupsPerDimension}); use a larger spacing`);
    }
    return withErrorScope(gpu.device, 'creating the GPU solver', () => new GpuSolver(gpu, problem));
  }

  private writeUniforms(target: GPUBuffer, params: StepParams, applyFlux: boolean): void {
    const { nx, ny, walls } = this.problem.grid;
    packStepUniforms(this.uniformStaging, { nx, ny, tableN: this.problem.table.N, nWalls: walls.index.length, theta0: this.problem.theta0, params, applyFlux });
    this.device.queue.writeBuffer(target, 0, this.uniformStaging.buffer);
  }

  setStep(params: StepParams): void {
    this.params = params;
    this.writeUniforms(this.uniforms, params, true);
    const n = this.problem.grid.walls.index.length;
    wallQuanta(this.problem.grid.walls.fluxWeight, params.fluxPerStep, this.quantaStaging.subarray(0, n));
    this.quantaStaging[n] = params.guardAboveQ ?? 0x7fffffff;
    this.quantaStaging[n + 1] = params.guardBelowQ ?? -0x80000000;
    this.device.queue.writeBuffer(this.wallQuanta, 0, this.quantaStaging);
    this.device.queue.writeBuffer(this.state, 0, new Uint32Array([0, 0, ...EMPTY_ACCUMULATORS, 0, 0, 0, 0]));
    this.stepsReported = 0;
  }

  async advance(n: number): Promise<AdvanceResult> {
    if (!this.params) throw new Error('GpuSolver.advance: setStep() first');
    if (n <= 0) return { steps: 0, stopped: false };
    let stopped = false;
    let st = new Uint32Array(2);
    // submits of at most STEPS_PER_SUBMIT steps: bounded command buffers (a browser's GPU watchdog
    // kills long ones) and an early exit once the cut-off has been reached
    for (let done = 0; done < n && !stopped; ) {
      const m = Math.min(STEPS_PER_SUBMIT, n - done);
      const enc = this.device.createCommandEncoder({ label: 'GpuSolver.advance' });
      for (let k = 0; k < m; ) {
        const pass = enc.beginComputePass({ label: 'GpuSolver.steps' });
        const p = Math.min(STEPS_PER_PASS, m - k);
        for (let s = 0; s < p; s++) {
          this.diffusion.encode(pass, this.current);
          this.current = (1 - this.current) as 0 | 1;
          this.wall.encodeStep(pass, this.current);
        }
        pass.end();
        k += p;
      }
      this.device.queue.submit([enc.finish()]);
      done += m;
      st = new Uint32Array(await readBuffer(this.device, this.state, 8));
      stopped = st[0] !== 0;
    }
    const steps = st[1] - this.stepsReported;
    this.stepsReported = st[1];
    return { steps, stopped: st[0] !== 0, reason: st[0] === 2 ? 'range' : st[0] !== 0 ? 'cutoff' : undefined };
  }

  async stats(): Promise<FieldStats> {
    const params = this.params ?? { dt_s: 0, r: 0, fluxPerStep: 0, surfaceFactor: 0, stopBelowPhi: -Infinity, stopAbovePhi: Infinity };
    this.writeUniforms(this.measureUniforms, params, false);
    this.device.queue.writeBuffer(this.measureState, 0, new Uint32Array([0, 0, ...EMPTY_ACCUMULATORS, 0, 0, 0, 0]));
    const enc = this.device.createCommandEncoder({ label: 'GpuSolver.stats' });
    const pass = enc.beginComputePass({ label: 'GpuSolver.reduce' });
    this.reduce.encode(pass, this.current);
    this.wall.encodeMeasure(pass, this.current);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    const [partials, state] = await Promise.all([
      readBuffer(this.device, this.reduce.partials, this.reduce.workgroups * PARTIAL_BYTES),
      readBuffer(this.device, this.measureState, RUN_STATE_BYTES),
    ]);
    const r = FieldReduceKernel.combine(partials);
    const s = new Uint32Array(state);
    const theta0 = this.problem.theta0;
    return {
      meanTheta: theta0 - (r.sum / r.count) * INV_QUANTA,
      minTheta: theta0 - r.max * INV_QUANTA,
      maxTheta: theta0 - r.min * INV_QUANTA,
      minSurfaceTheta: thetaOfPhi(this.problem.table, keyValue(s[2])),
      maxSurfaceTheta: thetaOfPhi(this.problem.table, keyValue(s[3])),
    };
  }

  async field(): Promise<Float32Array> {
    const n = this.problem.grid.nx * this.problem.grid.ny;
    const q = new Int32Array(await readBuffer(this.device, this.xi[this.current], 4 * n));
    const theta0 = this.problem.theta0;
    return thetaField(q, theta0);
  }

  async optics(camera: Camera, threshold: number): Promise<UnreactedStats> {
    if (this.forward?.camera !== camera) {
      this.forward?.kernel.destroy();
      const kernel = await withErrorScope(this.device, 'building the GPU forward model', () => new ForwardModelKernel(this.gpu, camera, this.xi));
      this.forward = { camera, kernel };
    }
    const k = this.forward.kernel;
    const enc = this.device.createCommandEncoder({ label: 'GpuSolver.optics' });
    const pass = enc.beginComputePass({ label: 'GpuSolver.forwardModel' });
    k.encode(pass, this.current, threshold);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    const words = new Uint32Array(await readBuffer(this.device, k.reduce.partials, k.reduce.partialBytesPerFrame));
    return statsFromSums(k.reduce.reduceFrame(words), camera.pixel_um);
  }

  /**
   * The buffer holding the current state, for a caller that draws or copies it on the GPU without a
   * readback (the live demo's render pass, demo/render/gpuField.ts): `size` bytes from `offset`, int32
   * fixed point q = (θ0 − θ)·2²⁸ per cell (src/solver/quanta.ts), row-major [ny][nx], OUTSIDE_Q outside
   * the particle. Which buffer it is changes with every step (ping-pong), so ask again after advance();
   * a copy written into it with COPY_DST (same layout) becomes this solver's state. Read it in the
   * same device's later submits only; the solver owns it.
   */
  stateBinding(): { buffer: GPUBuffer; offset: number; size: number } {
    return { buffer: this.xi[this.current], offset: 0, size: 4 * this.problem.grid.nx * this.problem.grid.ny };
  }

  destroy(): void {
    this.forward?.kernel.destroy();
    for (const b of this.owned) b.destroy();
  }
}
