/**
 * The simulation library in one import: build a problem from a config, create a solver on the chosen
 * backend, run the protocol.
 */
import type { Backend } from '../gpu/backend';
import { checkNumber } from '../checks';
import { MAX_STEPS_PER_DISPATCH } from '../kernels/diffusionBlock';
import { CpuSolver } from './cpu';
import { GpuBatch, GpuSolver } from './gpu';
import type { Problem } from './problem';
import type { Solver } from './types';

export { buildProblem, type Problem, type StepParams } from './problem';
export { runSimulation, measureField, SimulationLimitError, type RunResult, type Snapshot, type Measurement, type ConservationCheck } from './run';
export type { Solver, FieldStats } from './types';
export { CpuSolver, GpuBatch, GpuSolver };

/**
 * The solver for `backend` (selectBackend): a GpuSolver on its device, else a CpuSolver (two threads on
 * large grids in Node). `stepsPerDispatch` (1 … 8, GPU only; the CPU reference takes one step at a time).
 */
export async function createSolver(problem: Problem, backend: Backend, options: { stepsPerDispatch?: number } = {}): Promise<Solver> {
  if (options.stepsPerDispatch !== undefined) checkNumber('createSolver: stepsPerDispatch', options.stepsPerDispatch, { integer: true, min: 1, max: MAX_STEPS_PER_DISPATCH });
  if (backend.kind === 'gpu' && backend.gpu) return GpuSolver.create(backend.gpu, problem, options);
  return CpuSolver.create(problem);
}
