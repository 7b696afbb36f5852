/**
 * The files of `ionflux simulate` (SPEC §5): summary.json, trace.csv, and per snapshot a float32
 * .npy field (NaN outside the particle) and a PNG (diverging map, white = θ0, colour bar, scale bar).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeNpy } from './npy';
import { renderField } from '../render/figure';
import { encodePng } from '../render/png';
import type { Problem } from '../solver/problem';
import type { RunResult } from '../solver/run';

const num = (v: number | null) => (v === null || !Number.isFinite(v) ? '' : String(Number(v.toPrecision(9))));

export function traceCsv(result: RunResult): string {
  const rows = ['time_s,capacity_mAh_g,meanTheta,minSurfaceTheta,comOffset_um,unreactedFraction'];
  for (const m of result.trace) {
    rows.push([m.time_s, m.capacity_mAh_g, m.meanTheta, m.minSurfaceTheta, m.comOffset_um, m.unreactedFraction].map(num).join(','));
  }
  return rows.join('\n') + '\n';
}

/** summary.json as SPEC §5 lays it out, plus a few extra keys a scientist will want. */
export function summaryJson(problem: Problem, result: RunResult, backend: string): Record<string, unknown> {
  const g = problem.grid;
  const round = (v: number | null) => (v === null ? null : Number(v.toPrecision(9)));
  return {
    stopReason: result.stopReason,
    time_s: round(result.time_s),
    extractedCapacity_mAh_g: round(result.extractedCapacity_mAh_g),
    extractedTheta: round(result.extractedTheta),
    backend,
    grid: { nx: g.nx, ny: g.ny, spacing_um: g.spacing_um, cells: g.cells },
    steps: result.steps,
    wallTime_s: round(result.wallTime_s),
    snapshots: result.snapshots.map((s) => ({
      time_s: round(s.time_s),
      meanTheta: round(s.meanTheta),
      minSurfaceTheta: round(s.minSurfaceTheta),
      comOffset_um: round(s.comOffset_um),
      comOffsetRel: round(s.comOffsetRel),
      unreactedFraction: round(s.unreactedFraction),
      comOffsetVector_um: s.comOffsetVector_um?.map((v) => round(v)) ?? null,
      final: s.final,
      field: `${s.name}.npy`,
      image: `${s.name}.png`,
    })),
    appliedCapacity_mAh_g: round(result.appliedCapacity_mAh_g),
    // extracted (from the state) against applied (current × time): a failed check never gets here (run.ts throws)
    conservation: {
      extracted_mAh_g: round(result.conservation.extracted_mAh_g),
      applied_mAh_g: round(result.conservation.applied_mAh_g),
      relativeError: Number(result.conservation.relativeError.toPrecision(3)),
      ok: result.conservation.ok,
    },
    protocol: result.protocol,
    timeStep_s: result.dt_s,
    particle: { area_um2: round(g.area_um2), perimeter_um: round(g.perimeter_um), wallCells: g.walls.index.length, surfaceMeanActivity: round(g.sBar) },
    warnings: result.warnings,
    config: problem.config,
  };
}

export async function writeSimulationOutputs(dir: string, problem: Problem, result: RunResult, backend: string): Promise<void> {
  const g = problem.grid;
  await writeFile(path.join(dir, 'summary.json'), JSON.stringify(summaryJson(problem, result, backend), null, 2) + '\n');
  await writeFile(path.join(dir, 'trace.csv'), traceCsv(result));
  // one colour scale for all snapshots, so that they compare: from θ0 down to the lowest θ reached
  let lowest = problem.theta0;
  for (const s of result.snapshots) for (const v of s.field) if (v < lowest) lowest = v;
  const vmin = Math.max(0, Math.min(problem.theta0 - 0.05, Math.floor(lowest * 20) / 20));
  for (const s of result.snapshots) {
    await writeFile(path.join(dir, `${s.name}.npy`), encodeNpy(s.field, [g.ny, g.nx]));
    const fig = renderField(s.field, g.nx, g.ny, {
      colormap: 'diverging',
      vmin,
      vmax: Math.max(1, problem.theta0),
      center: problem.theta0,
      reversed: true, // red = Li removed (θ below θ0), as the paper's differential images
      title: `θ at ${(s.time_s / 60).toFixed(1)} min${s.final ? ' (end)' : ''}`,
      colorbarLabel: 'θ',
      pixel_um: g.spacing_um,
    });
    await writeFile(path.join(dir, `${s.name}.png`), encodePng(fig));
  }
}
