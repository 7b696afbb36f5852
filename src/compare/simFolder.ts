/**
 * Reads a `simulate` output folder (SPEC §5) as the simulated side of `compare`: summary.json (the
 * resolved config and the snapshot list) and each snapshot's θ field (theta_XXXXs.npy). The charge
 * passed at a snapshot is (θ0 − ⟨θ⟩)·Q_th, the definition of the extracted capacity.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors';
import { resolveConfig, type SimulationConfig } from '../model/config';
import { decodeNpy } from '../io/npy';
import { buildProblem, type Problem } from '../solver/problem';
import type { SimulatedSnapshot } from './simulated';

export interface SimulationFolder {
  dir: string;
  config: SimulationConfig;
  problem: Problem;
  snapshots: SimulatedSnapshot[];
}

/** Throws UserError (naming `flag` and the folder) when it is not a readable simulate folder with snapshots. */
export async function loadSimulationFolder(dir: string, flag = '--sim'): Promise<SimulationFolder> {
  const file = path.join(dir, 'summary.json');
  let summary: { config?: unknown; snapshots?: { time_s: number; meanTheta: number; field: string }[] };
  try {
    summary = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'has no summary.json' : `has an unreadable summary.json (${(e as Error).message})`;
    throw new UserError(`${flag} ${dir} ${why}: give a folder written by ionflux simulate, or a movie (TIFF/HDF5/PNG folder)`);
  }
  if (!summary.config || !Array.isArray(summary.snapshots)) throw new UserError(`${flag} ${dir}: summary.json has no config or snapshot list: give a folder written by ionflux simulate`);
  let config: SimulationConfig;
  try {
    config = resolveConfig(summary.config, `${flag} ${dir} summary.json config`);
  } catch (e) {
    throw new UserError((e as Error).message.split('\n')[0]);
  }
  if (!summary.snapshots.length) throw new UserError(`${flag} ${dir} has no snapshots (θ fields): run simulate with snapshots_min at the observed frame times`);
  let problem: Problem;
  try {
    problem = await buildProblem(config, { baseDir: dir });
  } catch (e) {
    throw new UserError(`${flag} ${dir}: ${(e as Error).message}`);
  }
  const { nx, ny } = problem.grid;
  const snapshots: SimulatedSnapshot[] = [];
  for (const s of summary.snapshots) {
    const f = path.join(dir, s.field);
    let bytes: Buffer;
    try {
      bytes = await readFile(f);
    } catch {
      throw new UserError(`${flag} ${dir}: the snapshot at t = ${s.time_s} s names ${s.field}, which is missing: the folder is incomplete`);
    }
    const npy = decodeNpy(bytes);
    if (npy.shape.length !== 2 || npy.shape[0] !== ny || npy.shape[1] !== nx) {
      throw new UserError(`${flag} ${dir}: ${s.field} has shape [${npy.shape.join(', ')}], the config's grid is [${ny}, ${nx}]: the folder's files do not belong together`);
    }
    snapshots.push({ time_s: s.time_s, capacity_mAh_g: (problem.theta0 - s.meanTheta) * config.material.capacity_mAh_g, field: npy.data });
  }
  return { dir, config, problem, snapshots };
}

/** Whether `p` is a folder holding summary.json (a simulate folder rather than a folder of frames). */
export async function isSimulationFolder(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory() && (await stat(path.join(p, 'summary.json'))).isFile();
  } catch {
    return false;
  }
}
