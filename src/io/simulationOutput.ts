/**
 * The files of `ionflux simulate` (SPEC §5): summary.json, trace.csv, and per snapshot a float32
 * .npy field (NaN outside the particle) and a PNG (diverging map, white = θ0, colour bar, scale bar,
 * blocked arcs and COM markers: src/render/thetaFigure.ts), trace.png and index.html.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeNpy } from './npy';
import type { Rgb } from '../render/draw';
import { writeIndexHtml } from '../render/htmlIndex';
import { renderPlotGrid, type PlotImage, type PlotPanel } from '../render/plot';
import { defaultThetaRange, renderThetaSnapshot } from '../render/thetaFigure';
import { encodePng } from '../render/png';
import type { Problem } from '../solver/problem';
import type { RunResult } from '../solver/run';

const num = (v: number | null) => (v === null || !Number.isFinite(v) ? '' : String(Number(v.toPrecision(9))));

export function traceCsv(result: RunResult): string {
  // SPEC §5's columns, then maxSurfaceTheta (a discharge's cut-off is on the highest surface θ)
  const rows = ['time_s,capacity_mAh_g,meanTheta,minSurfaceTheta,comOffset_um,unreactedFraction,maxSurfaceTheta'];
  for (const m of result.trace) {
    rows.push([m.time_s, m.capacity_mAh_g, m.meanTheta, m.minSurfaceTheta, m.comOffset_um, m.unreactedFraction, m.maxSurfaceTheta].map(num).join(','));
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
      maxSurfaceTheta: round(s.maxSurfaceTheta),
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
      resolution_mAh_g: Number(result.conservation.resolution_mAh_g.toPrecision(3)),
      ok: result.conservation.ok,
    },
    protocol: result.protocol,
    timeStep_s: result.dt_s,
    particle: { area_um2: round(g.area_um2), perimeter_um: round(g.perimeter_um), wallCells: g.walls.index.length, surfaceMeanActivity: round(g.sBar) },
    warnings: result.warnings,
    config: problem.config,
  };
}

/** Options of the pictures (all optional). */
export interface SimulationPictureOptions {
  /** preset name or config file stem, shown in titles and index.html */
  runName?: string;
  /** θ colour range [lo, hi] of the snapshot PNGs (default: defaultThetaRange, the same for one protocol) */
  thetaRange?: [number, number];
}

export async function writeSimulationOutputs(dir: string, problem: Problem, result: RunResult, backend: string, pictures: SimulationPictureOptions = {}): Promise<void> {
  const g = problem.grid;
  await writeFile(path.join(dir, 'summary.json'), JSON.stringify(summaryJson(problem, result, backend), null, 2) + '\n');
  await writeFile(path.join(dir, 'trace.csv'), traceCsv(result));
  // one colour scale for all snapshots and for every run of the same protocol, so that they compare
  const range = pictures.thetaRange ?? defaultThetaRange(problem);
  for (const s of result.snapshots) {
    await writeFile(path.join(dir, `${s.name}.npy`), encodeNpy(s.field, [g.ny, g.nx]));
    const fig = renderThetaSnapshot(problem, s, { range, runName: pictures.runName, protocol: result.protocol });
    await writeFile(path.join(dir, `${s.name}.png`), encodePng(fig));
  }
  await writeFile(path.join(dir, 'trace.png'), encodePng(renderSimulationTrace(problem, result, pictures.runName)));
  await writeSimulationIndex(dir, problem, result, backend, range, pictures.runName);
}

/** protocol in words: 'charge 100 mA/g 20 min, rest 10 min' */
function protocolText(problem: Problem): string {
  return problem.config.protocol.map((s) => `${s.step}${s.step === 'rest' ? '' : ` ${s.current_mA_g} mA/g`} ${Number(s.duration_min.toPrecision(4))} min`).join(', ');
}

/**
 * trace.png: the trace columns against time (left column) and against charge passed (right column);
 * the cut-off as a dashed line on the surface-θ panels.
 */
export function renderSimulationTrace(problem: Problem, result: RunResult, runName?: string): PlotImage {
  const t = result.trace.map((m) => m.time_s / 60);
  const q = result.trace.map((m) => m.capacity_mAh_g);
  const blue: Rgb = [31, 119, 180];
  const red: Rgb = [214, 39, 40];
  const cut = problem.config.cutoff;
  // the cut-off each kind of step stops at: θs falling to surfaceTheta (charge), rising to surfaceThetaMax (discharge)
  const steps0 = problem.config.protocol.map((s) => s.step);
  const cutLines: { y: number; rgb: Rgb; label: string }[] = [];
  if (steps0.includes('charge')) cutLines.push({ y: cut.surfaceTheta, rgb: red, label: `cut-off ${cut.surfaceTheta}` });
  if (steps0.includes('discharge')) cutLines.push({ y: cut.surfaceThetaMax, rgb: red, label: `cut-off ${cut.surfaceThetaMax}` });
  const orange: Rgb = [255, 127, 14];
  const dis = steps0.includes('discharge');
  const rows: { title: string; unit: string; y: (number | null)[]; y2?: number[]; hLines?: typeof cutLines }[] = [
    { title: 'charge passed', unit: 'mAh/g', y: q },
    { title: 'mean θ', unit: 'θ', y: result.trace.map((m) => m.meanTheta) },
    // with discharge steps the highest surface θ (orange) matters too: it meets surfaceThetaMax
    { title: dis ? 'surface θ min/max' : 'lowest surface θ', unit: 'θ', y: result.trace.map((m) => m.minSurfaceTheta), y2: dis ? result.trace.map((m) => m.maxSurfaceTheta) : undefined, hLines: cutLines },
    { title: 'core COM offset', unit: 'µm', y: result.trace.map((m) => m.comOffset_um) },
    { title: 'unreacted fraction', unit: 'fraction', y: result.trace.map((m) => m.unreactedFraction) },
  ];
  // protocol step boundaries on the time axis
  const steps = result.protocol.slice(0, -1).map((s) => s.end_s / 60);
  const panels: PlotPanel[] = [];
  for (const r of rows) {
    panels.push({ title: `${r.title} vs time`, xLabel: 'time (min)', yLabel: r.unit, series: [{ x: t, y: r.y, rgb: blue }, ...(r.y2 ? [{ x: t, y: r.y2, rgb: orange }] : [])], hLines: r.hLines, vLines: steps });
    panels.push(r.title === 'charge passed'
      ? { title: 'time vs charge passed', xLabel: 'charge passed (mAh/g)', yLabel: 'time (min)', series: [{ x: q, y: t, rgb: blue }] }
      : { title: `${r.title} vs charge`, xLabel: 'charge passed (mAh/g)', yLabel: r.unit, series: [{ x: q, y: r.y, rgb: blue }, ...(r.y2 ? [{ x: q, y: r.y2, rgb: orange }] : [])], hLines: r.hLines });
  }
  return renderPlotGrid(panels, { columns: 2, title: `${runName ? `${runName}: ` : ''}trace (${protocolText(problem)})`, plotWidth: 320, plotHeight: 140 });
}

async function writeSimulationIndex(dir: string, problem: Problem, result: RunResult, backend: string, range: [number, number], runName?: string): Promise<void> {
  const g = problem.grid;
  const last = result.trace[result.trace.length - 1];
  const n = (v: number | null | undefined, digits = 4) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : String(Number(v.toPrecision(digits))));
  const snapByFile = new Map(result.snapshots.map((s) => [`${s.name}.png`, s]));
  const segs = problem.config.surface.segments;
  await writeIndexHtml(dir, {
    title: `ionflux simulate${runName ? `: ${runName}` : ''}`,
    subtitle: `${protocolText(problem)}; ${segs.length ? `blocked arcs ${segs.map((s) => `${s.fromDeg}° to ${s.toDeg}° (η = ${s.eta})`).join(', ')}` : 'no blocked surface'}.`,
    warnings: result.warnings,
    table: [
      ['stop reason', result.stopReason],
      ['time (min)', n(result.time_s / 60)],
      ['extracted capacity (mAh/g)', n(result.extractedCapacity_mAh_g)],
      ['extracted θ', n(result.extractedTheta)],
      ['final mean θ', n(last?.meanTheta)],
      ['final min surface θ', n(last?.minSurfaceTheta)],
      ['final COM offset (µm)', n(last?.comOffset_um)],
      ['final unreacted fraction', n(last?.unreactedFraction)],
      ['θ colour range of the PNGs', `${range[0]} to ${range[1]}`],
      ['grid', `${g.nx} × ${g.ny}, ${g.spacing_um} µm, ${g.cells} cells`],
      ['backend', backend],
      ['steps', String(result.steps)],
      ['wall time (s)', n(result.wallTime_s, 3)],
    ],
    order: [...result.snapshots.map((s) => `${s.name}.png`), 'trace.png'],
    caption: (rel) => {
      const s = snapByFile.get(rel);
      if (s) return `θ at ${(s.time_s / 60).toFixed(1)} min (${s.capacity_mAh_g.toFixed(1)} mAh/g${s.final ? ', end of run' : ''}); colour range ${range[0]} to ${range[1]} (white = θ0, red = Li removed); ${segs.length ? 'grey band outside the rim = blocked arc (darker = lower η); ' : ''}+ particle COM, ○ Li-rich core COM.`;
      if (rel === 'trace.png') return 'trace.csv against time (left) and charge passed (right); dashed red = surface cut-off, dashed grey = protocol step boundaries.';
      return '';
    },
    describe: (rel) => {
      if (rel === 'summary.json') return 'stop reason, time, capacity, grid, snapshots, protocol record, warnings, the full resolved config';
      if (rel === 'trace.csv') return 'time_s, capacity_mAh_g, meanTheta, minSurfaceTheta, comOffset_um, unreactedFraction, maxSurfaceTheta';
      const s = rel.endsWith('.npy') ? result.snapshots.find((x) => `${x.name}.npy` === rel) : undefined;
      if (s) return `θ at ${(s.time_s / 60).toFixed(1)} min, float32 [${g.ny}, ${g.nx}], NaN outside (numpy.load)`;
      return '';
    },
  });
}
