/** Runs a raw config on the CPU reference or on a GPU context; returns the problem and the result. */
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem, maxStableDt, reachableRange, stepParams, type Problem, type StepParams } from '../../src/solver/problem';
import { CpuSolver } from '../../src/solver/cpu';
import { GpuSolver } from '../../src/solver/gpu';
import { runSimulation, type RunResult } from '../../src/solver/run';
import type { GpuContext } from '../../src/gpu/device';

export async function simulate(raw: Record<string, unknown>, on: 'cpu' | GpuContext = 'cpu'): Promise<{ problem: Problem; result: RunResult }> {
  const problem = await buildProblem(resolveConfig(raw));
  const solver = on === 'cpu' ? new CpuSolver(problem) : await GpuSolver.create(on, problem);
  try {
    return { problem, result: await runSimulation(problem, solver) };
  } finally {
    solver.destroy();
  }
}

/** A disk charged at constant D with uniform flux: the setting of SPEC §1's exact solution. */
export function constantDDisk(opts: { R_um: number; D: number; spacing_um: number; current_mA_g: number; times_s: number[]; normalize?: string }) {
  return {
    particle: { shape: 'disk', diameter_um: 2 * opts.R_um },
    grid: { spacing_um: opts.spacing_um },
    material: { capacity_mAh_g: 275, diffusivity: { preset: 'constant', D_m2_s: opts.D } },
    protocol: [{ step: 'charge', current_mA_g: opts.current_mA_g, duration_min: Math.max(...opts.times_s) / 60 }],
    cutoff: { surfaceTheta: 0 },
    snapshots_min: opts.times_s.map((t) => t / 60),
    output: { traceInterval_s: Math.max(...opts.times_s) },
  };
}

/** fig4c's particle on a coarse grid (42² at 0.06 µm), `over` on top: the GPU step tests' problem. */
export async function fig4cProblem(over: Record<string, unknown> = {}, spacing_um = 0.06): Promise<Problem> {
  return buildProblem(resolveConfig({ ...presetConfig('fig4c'), grid: { spacing_um }, ...over }));
}

/** The step parameters of the problem's first protocol step at its largest stable Δt, `over` on top. */
export function firstStepParams(p: Problem, over: Partial<StepParams> = {}): StepParams {
  return { ...stepParams(p, p.config.protocol[0], maxStableDt(p, reachableRange(p))), ...over };
}
