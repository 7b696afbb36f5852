/**
 * The one interface both solvers implement: the float32 TypeScript reference (CpuSolver) and the
 * WGSL one (GpuSolver). The time loop (run.ts) drives either without knowing which.
 */
import type { Camera } from '../optics/forward';
import type { UnreactedStats } from '../observables/unreacted';
import type { StepParams } from './problem';

export interface FieldStats {
  /** mean θ over the particle's cells */
  meanTheta: number;
  minTheta: number;
  maxTheta: number;
  /** min / max over the wall cells of the true wall value θs (SPEC §1), for the current step's flux */
  minSurfaceTheta: number;
  maxSurfaceTheta: number;
}

export interface AdvanceResult {
  /** steps actually taken (fewer than asked when the cut-off was reached) */
  steps: number;
  /** true if a cut-off stopped the run during this call; the step that crossed it is included */
  stopped: boolean;
  /**
   * why it stopped: 'cutoff' (θs crossed the cut-off; that step included) or 'range' (the θ-range
   * guard: one more step could take a wall cell out of [0, 1]; the steps taken keep θ in range)
   */
  reason?: 'cutoff' | 'range';
}

export interface Solver {
  /** e.g. "cpu (TypeScript float32 reference)" or "gpu (nvidia / hopper / …)" */
  readonly backend: string;
  /** a line for the user on how the run went on this machine (the CPU solver: steps on one thread while a core was busy), or null */
  readonly threadNote?: string | null;
  /** bytes of memory the solver holds per grid cell (GPU buffers for the GPU solver) */
  readonly bytesPerCell: number;
  /** sets the constants of the following steps (Δt, current, cut-off) and clears the stop flag */
  setStep(params: StepParams): void;
  /** takes up to n explicit steps, stopping after the first one whose wall θs crosses the cut-off */
  advance(n: number): Promise<AdvanceResult>;
  stats(): Promise<FieldStats>;
  /** θ on the grid, row-major [ny][nx], NaN outside the particle */
  field(): Promise<Float32Array>;
  /**
   * The current state seen through the optical forward model by `camera` (SPEC §2): unreacted
   * fraction and centre-of-mass offsets (threshold: ΔI/I0 below which a pixel is unreacted).
   */
  optics(camera: Camera, threshold: number): Promise<UnreactedStats>;
  /**
   * A copy of the exact state: int32 fixed point q = (θ0 − θ)·2²⁸ per cell, row-major [ny][nx],
   * OUTSIDE_Q outside the particle (src/solver/quanta.ts). With writeState it checkpoints a run:
   * a solver of the same problem given this state continues bit for bit as the original would.
   */
  readState(): Promise<Int32Array>;
  /**
   * Replaces the state by `q` (as readState gives it: nx·ny cells, OUTSIDE_Q exactly on the cells
   * outside this problem's particle); throws naming what does not match. Between advances only; a stop of the
   * state before is cleared, so a rewound run steps again (the step parameters are kept).
   */
  writeState(q: Int32Array): void;
  destroy(): void;
}
