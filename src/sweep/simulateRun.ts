/**
 * One run of a sweep, the same everywhere it executes (in process, in a CPU pool thread, as a lane
 * of a GPU batch): the protocol through runSimulation, the sweep's metrics from the trace, and the
 * run's folder — summary.json (simulate's, plus the sweep's id, values and metrics) and trace.csv,
 * with the fields and pictures of `simulate` when the spec asks for snapshots.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { summaryJson, traceCsv, writeSimulationOutputs } from '../io/simulationOutput';
import { buildProblem, type Problem } from '../solver/problem';
import { runSimulation, SimulationLimitError, type RunResult } from '../solver/run';
import type { Solver } from '../solver/types';
import type { PlannedRun, SweepSpec } from './spec';
import { UserError } from '../errors';
import { REMNANT_FRACTION } from '../observables/unreacted';
import { VERSION } from '../version';

export interface RunMetrics {
  /**
   * largest centre-of-mass offset of the unreacted core over the trace rows with at least
   * REMNANT_FRACTION (0.2) of the particle unreacted, µm (null: no such row with a core); the last
   * few cells of a vanishing core are left out (their COM is no measure of asymmetry, and set the
   * maximum of every run whose core vanished until 2026-12-04)
   */
  maxComOffset_um: number | null;
  /** the same relative to the particle's equivalent radius */
  maxComOffsetRel: number | null;
  /** first trace time with no unreacted region left (null: the core outlived the run) */
  coreVanish_s: number | null;
}

export function runMetrics(result: RunResult): RunMetrics {
  let off: number | null = null, rel: number | null = null, vanish: number | null = null;
  for (const m of result.trace) {
    if (vanish === null && m.unreactedFraction <= 0) vanish = m.time_s;
    if (m.unreactedFraction < REMNANT_FRACTION) continue;
    if (m.comOffset_um !== null && (off === null || m.comOffset_um > off)) off = m.comOffset_um;
    if (m.comOffsetRel !== null && (rel === null || m.comOffsetRel > rel)) rel = m.comOffsetRel;
  }
  return { maxComOffset_um: off, maxComOffsetRel: rel, coreVanish_s: vanish };
}

/**
 * Runs `run` on the solver `makeSolver` gives. A current the particle cannot carry (a
 * SimulationLimitError) is an outcome of the sweep, not a failure: the run is kept with its stop
 * reason and message. The solver is destroyed here.
 */
export async function simulatePlanned(problem: Problem, solver: Solver, keepSnapshots: boolean): Promise<{ result: RunResult; stopMessage?: string }> {
  try {
    return { result: await runSimulation(problem, solver, { keepSnapshots }) };
  } catch (e) {
    if (e instanceof SimulationLimitError) return { result: e.result, stopMessage: e.message };
    throw e;
  } finally {
    solver.destroy();
  }
}

/** Writes the run's files into `dir` (a fresh partial folder the caller commits). */
export async function writeRunFolder(dir: string, problem: Problem, run: PlannedRun, outcome: { result: RunResult; stopMessage?: string }, backend: string, outputs: SweepSpec['outputs']): Promise<void> {
  const { result } = outcome;
  if (outputs.snapshots) await writeSimulationOutputs(dir, problem, result, backend, { runName: run.id });
  else if (outputs.trace) await writeFile(path.join(dir, 'trace.csv'), traceCsv(result));
  const summary = {
    ...summaryJson(problem, result, backend),
    ...(outcome.stopMessage ? { stopMessage: outcome.stopMessage } : {}),
    sweep: { id: run.id, index: run.index, values: run.values, metrics: runMetrics(result), ionflux: VERSION },
  };
  // summary.json last: a run folder with one is complete (folder.ts)
  await writeFile(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}

/**
 * Builds the run's problem (paths in the config are relative to `baseDir`). What only the build
 * finds (an unreadable mask file, a grid too large, a run too long) is the input's fault: a
 * UserError naming the run.
 */
export async function problemOf(run: PlannedRun, baseDir: string): Promise<Problem> {
  try {
    return await buildProblem(run.config, { baseDir });
  } catch (e) {
    const what = Object.entries(run.values).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ');
    throw new UserError(`run ${run.index} ${run.id} (${what}): ${(e as Error).message}`);
  }
}
