/**
 * Inputs for the compare and fit tests: synth movies and simulate folders made on the spot (coarse
 * grids, few frames, so that each costs a second or less).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { applySet, presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem } from '../../src/solver/problem';
import { CpuSolver } from '../../src/solver/cpu';
import { runSimulation } from '../../src/solver/run';
import { writeSimulationOutputs } from '../../src/io/simulationOutput';
import { synthesizeMovie, type SynthMovie } from '../../src/synth/movie';
import { writeSynthOutputs } from '../../src/io/synthOutput';

/** a preset with the overrides `sets` (applySet strings) */
export function configOf(preset: string, sets: string[]): Record<string, unknown> {
  const raw = presetConfig(preset);
  for (const s of sets) applySet(raw, s);
  return raw;
}

/** writes a synth movie of `raw` into `dir` (movie.tif, capacity.csv, truth.json) */
export async function writeSynth(dir: string, raw: Record<string, unknown>): Promise<SynthMovie> {
  mkdirSync(dir, { recursive: true });
  const movie = await synthesizeMovie(raw);
  await writeSynthOutputs(dir, movie);
  return movie;
}

/** runs `raw` and writes what `ionflux simulate` writes into `dir` */
export async function writeSimulation(dir: string, raw: Record<string, unknown>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const config = resolveConfig(raw);
  const problem = await buildProblem(config);
  const solver = await CpuSolver.create(problem);
  try {
    const result = await runSimulation(problem, solver);
    await writeSimulationOutputs(dir, problem, result, solver.backend);
  } finally {
    solver.destroy();
  }
}

export const join = path.join;
