/**
 * The files of `ionflux compare` (SPEC §7): comparison.csv, summary.json, montage.png (observed |
 * simulated | difference per matched frame), traces.png (d and mean ΔI/I0 of both against charge
 * passed, or time), kymograph.png/.csv (both sides along the same line through the particle).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { csvNumber } from '../imaging/analyze';
import { lineThroughParticle, linePositions_um, offsetDirectionDeg, sampleLine, type LineCut } from '../imaging/kymograph';
import type { Particle } from '../imaging/segment';
import { renderField, renderMontage, type FigureImage } from '../render/figure';
import { renderPlotGrid, SERIES_COLOURS, type PlotImage } from '../render/plot';
import { encodePng, type RgbaImage } from '../render/png';
import { stackImages } from '../render/stack';
import { writeIndexHtml } from '../render/htmlIndex';
import { VERSION } from '../version';
import type { ComparisonResult } from './compare';

export const COMPARISON_COLUMNS = ['frame', 'time_s', 'capacity_mAh_g', 'pearsonR', 'rmse', 'unreactedAreaDiff_um2', 'comOffsetObs_um', 'comOffsetSim_um', 'comOffsetError_um', 'directionError_deg'] as const;

export function comparisonCsv(r: ComparisonResult): string {
  const rows = [COMPARISON_COLUMNS.join(',')];
  for (const f of r.frames) {
    rows.push([f.frame, csvNumber(f.time_s), csvNumber(f.capacity_mAh_g), csvNumber(f.pearsonR), csvNumber(f.rmse), csvNumber(f.unreactedAreaDiff_um2),
      csvNumber(f.comOffsetObs_um), csvNumber(f.comOffsetSim_um), csvNumber(f.comOffsetError_um), csvNumber(f.directionError_deg)].join(','));
  }
  return rows.join('\n') + '\n';
}

const r6 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toPrecision(6)));

/** summary.json: the registration, the alignment, medians of each metric, and what was compared. */
export function comparisonSummary(r: ComparisonResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const g = r.registration, o = r.observed, s = r.simulated;
  return {
    observed: { movie: o.source, particle: o.id, pixel_um: o.pixel_um, frame_s: o.frame_s, frames: o.times_s.length, capacity: o.capacitySource, referenceFrame: o.referenceFrame, area_um2: r6(o.particle.area_um2), eqRadius_um: r6(o.particle.eqRadius_um), centroid_um: o.particle.centroid_um.map(r6) },
    simulated: { kind: s.kind, source: s.source, snapshots: s.times_s.length, pixel_um: r6(s.pixel_um), ...(s.particleId !== undefined ? { particle: s.particleId } : {}) },
    registration: {
      shift_um: g.shift_um.map(r6), shift_px: g.shift_px.map(r6), rotationDeg: r6(g.rotationDeg), scale: r6(g.scale), iou: r6(g.iou), method: g.method,
      matrix: Array.from(g.matrix as ArrayLike<number>, (v) => r6(v)),
      convention: 'p_obs = c_obs + scale·R(rotation)·(p_sim − c_sim), µm with y up from each image\'s top-left corner; rotation CCW (SPEC §3); shift = c_obs − c_sim between the whole frames (a movie\'s frame, a simulation\'s camera image); shift_px in observed pixels, image axes (y down); matrix = gl-matrix mat2d [a, b, c, d, tx, ty]',
    },
    alignment: {
      mode: r.alignment.mode, reason: r.alignment.reason, tolerance: r6(r.alignment.tolerance), unit: r.alignment.mode === 'charge' ? 'mAh/g' : 's',
      unmatchedFrames: r.alignment.unmatchedFrames,
      matched: r.frames.map((f) => ({ frame: f.frame, snapshot: f.simIndex, time_s: r6(f.time_s), simTime_s: r6(f.simTime_s), capacity_mAh_g: r6(f.capacity_mAh_g), simCapacity_mAh_g: r6(f.simCapacity_mAh_g) })),
    },
    medians: Object.fromEntries(Object.entries(r.medians).map(([k, v]) => [k, r6(v)])),
    frames: r.frames.length,
    threshold: r.threshold,
    method: 'both sides measured on the observed particle\'s mask: the simulated ΔI/I0 (forward model, SPEC §2) resampled onto the observed pixels through the registration (bilinear); Pearson r and RMSE over the mask pixels; unreacted = ΔI/I0 < threshold; COM offsets as analyze computes them; comOffsetError = |offset vector observed − simulated|; directionError = angle between the two offset vectors',
    warnings: r.warnings,
    ...extra,
    version: VERSION,
  };
}

const fmtTime = (t: number) => (t >= 120 ? `${Number((t / 60).toPrecision(3))} min` : `${Number(t.toPrecision(3))} s`);

/** at most `n` of `items`, evenly spaced, first and last included */
function spread<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  return Array.from({ length: n }, (_, k) => items[Math.round((k * (items.length - 1)) / (n - 1))]);
}

function robust(values: Iterable<number>): number {
  const v = [...values].filter(Number.isFinite).map(Math.abs).sort((a, b) => a - b);
  if (!v.length) return 0.1;
  return Math.max(0.01, Number(v[Math.min(v.length - 1, Math.floor(0.99 * v.length))].toPrecision(2)));
}

/** montage.png: per compared frame (up to 8), observed | simulated on one colour bar, then their difference on its own */
export function renderComparisonMontage(r: ComparisonResult, maxRows = 8): RgbaImage {
  const o = r.observed, W = o.crop.width, H = o.crop.height;
  const idx = spread(r.frames.map((_, i) => i), maxRows);
  const masked = (a: Float32Array) => Float32Array.from(a, (v, i) => (o.mask[i] ? v : NaN));
  const obsImgs = idx.map((i) => masked(o.diff[r.frames[i].frame]));
  const simImgs = idx.map((i) => masked(r.simulatedOnObserved[i]));
  const diffImgs = idx.map((_, j) => Float32Array.from(obsImgs[j], (v, p) => v - simImgs[j][p]));
  const range = robust((function* () { for (const a of [...obsImgs, ...simImgs]) yield* a; })());
  const dRange = robust((function* () { for (const a of diffImgs) yield* a; })());
  const scale = Math.max(2, Math.round(220 / Math.max(W, H)));
  const rows = idx.map((i, j) => {
    const f = r.frames[i];
    const cap = f.capacity_mAh_g !== null && Number.isFinite(f.capacity_mAh_g) ? `, ${Number(f.capacity_mAh_g.toPrecision(3))} mAh/g` : '';
    const when = `frame ${f.frame}, ${fmtTime(f.time_s)}${cap}`;
    const left = renderMontage([{ field: obsImgs[j], title: 'observed' }, { field: simImgs[j], title: `simulated, ${fmtTime(f.simTime_s)}` }], W, H, {
      colormap: 'diverging', vmin: -range, vmax: range, center: 0, colorbarLabel: 'ΔI/I0', pixel_um: o.pixel_um, scale, title: when,
    });
    const right = renderField(diffImgs[j], W, H, {
      colormap: 'diverging', vmin: -dRange, vmax: dRange, center: 0, colorbarLabel: 'obs − sim', scale,
      title: `obs − sim, r = ${f.pearsonR === null ? '—' : f.pearsonR.toFixed(3)}`,
    });
    return stackImages([left, right], 'row', 12);
  });
  return stackImages(rows, 'column', 10);
}

/** traces.png: core COM offset d and mean ΔI/I0, observed and simulated, against charge passed (or time) */
export function renderComparisonTraces(r: ComparisonResult): PlotImage {
  const byCharge = r.frames.length > 0 && r.frames.every((f) => f.capacity_mAh_g !== null && Number.isFinite(f.capacity_mAh_g));
  const minutes = r.frames.length > 0 && r.frames[r.frames.length - 1].time_s >= 120;
  const x = r.frames.map((f) => (byCharge ? f.capacity_mAh_g! : minutes ? f.time_s / 60 : f.time_s));
  const xLabel = byCharge ? 'charge passed (mAh/g)' : minutes ? 'time (min)' : 'time (s)';
  const [obs, sim] = [SERIES_COLOURS[0], SERIES_COLOURS[3]];
  const points = r.frames.length <= 40;
  return renderPlotGrid([
    { title: 'core COM offset d', xLabel, yLabel: 'd (µm)', series: [
      { x, y: r.frames.map((f) => f.comOffsetObs_um), rgb: obs, points }, { x, y: r.frames.map((f) => f.comOffsetSim_um), rgb: sim, points }] },
    { title: 'mean ΔI/I0', xLabel, yLabel: 'ΔI/I0', series: [
      { x, y: r.frames.map((f) => f.meanDiffObs), rgb: obs, points }, { x, y: r.frames.map((f) => f.meanDiffSim), rgb: sim, points }] },
  ], { columns: 2, title: `particle ${r.observed.id}: observed vs simulated`, legend: [{ label: 'observed', rgb: obs }, { label: 'simulated', rgb: sim }], plotWidth: 320, plotHeight: 170 });
}

/**
 * Both sides along one line through the observed particle's centroid, in the direction of the
 * observed core's largest offset (or `angleDeg`): rows per compared frame.
 */
/** the kymograph of a comparison: the line, positions along it (µm), and a row per compared frame of each side */
export interface ComparisonKymograph { line: LineCut; positions_um: Float64Array; obsRows: Float32Array[]; simRows: Float32Array[] }

export function comparisonKymograph(r: ComparisonResult, angleDeg?: number | null): ComparisonKymograph {
  const o = r.observed, W = o.crop.width, H = o.crop.height;
  const labels = Int32Array.from(o.mask);
  const pc = o.particle;
  const particle: Particle = {
    ...pc, label: 1,
    centroid_px: [pc.centroid_px[0] - o.crop.col0, pc.centroid_px[1] - o.crop.row0],
    bbox: { col0: pc.bbox.col0 - o.crop.col0, row0: pc.bbox.row0 - o.crop.row0, col1: pc.bbox.col1 - o.crop.col0, row1: pc.bbox.row1 - o.crop.row0 },
  };
  let angle = angleDeg ?? null;
  if (angle === null) {
    const frames = r.frames.map((f) => f.frame);
    const comPx = o.stats.map((s) => (s.unreactedCom_um ? [s.unreactedCom_um[0] / o.pixel_um, s.unreactedCom_um[1] / o.pixel_um] as [number, number] : null));
    angle = offsetDirectionDeg(particle.centroid_px, comPx, o.stats.map((s) => s.comOffsetRel), frames);
  }
  const line = lineThroughParticle(particle, labels, W, H, angle);
  const obsRows = r.frames.map((f) => sampleLine(o.diff[f.frame], W, H, line));
  const simRows = r.simulatedOnObserved.map((img) => sampleLine(img, W, H, line));
  return { line, positions_um: linePositions_um(line, o.pixel_um), obsRows, simRows };
}

export function renderComparisonKymograph(r: ComparisonResult, k: ComparisonKymograph): FigureImage {
  const n = k.line.samples, rows = k.obsRows.length;
  const pack = (list: Float32Array[]) => { const f = new Float32Array(n * rows); list.forEach((row, i) => f.set(row, i * n)); return f; };
  const obs = pack(k.obsRows), sim = pack(k.simRows);
  const range = robust((function* () { yield* obs; yield* sim; })());
  const byCharge = r.frames.every((f) => f.capacity_mAh_g !== null && Number.isFinite(f.capacity_mAh_g));
  const y0 = byCharge ? r.frames[0].capacity_mAh_g! : r.frames[0].time_s / 60, y1 = byCharge ? r.frames[rows - 1].capacity_mAh_g! : r.frames[rows - 1].time_s / 60;
  return renderMontage([{ field: obs, title: 'observed' }, { field: sim, title: 'simulated' }], n, rows, {
    colormap: 'diverging', vmin: -range, vmax: range, center: 0, colorbarLabel: 'ΔI/I0',
    title: `line at ${k.line.angleDeg}° through particle ${r.observed.id} (rows: compared frames)`,
    xAxis: { label: 'position along line (µm)', min: 0, max: k.positions_um[k.positions_um.length - 1] },
    yAxis: { label: byCharge ? 'charge passed (mAh/g)' : 'time (min)', min: y0, max: rows > 1 ? y1 : y0 + 1 },
  });
}

/** Writes every compare file into `dir` (an existing folder). Returns the file names. */
export async function writeComparisonOutputs(dir: string, r: ComparisonResult, options: { lineAngleDeg?: number | null; summaryExtra?: Record<string, unknown>; title?: string } = {}): Promise<string[]> {
  const files: string[] = [];
  const put = async (name: string, data: string | Uint8Array) => { await writeFile(path.join(dir, name), data); files.push(name); };
  await put('comparison.csv', comparisonCsv(r));
  const kymo = r.frames.length ? comparisonKymograph(r, options.lineAngleDeg) : null;
  await put('summary.json', JSON.stringify(comparisonSummary(r, {
    ...(kymo ? { kymograph: { angleDeg: kymo.line.angleDeg, samples: kymo.line.samples, start_px: kymo.line.start_px.map((v) => r6(v + 0)), end_px: kymo.line.end_px.map((v) => r6(v)), crop_px: r.observed.crop } } : {}),
    ...options.summaryExtra,
  }), null, 2) + '\n');
  if (!r.frames.length) {
    await writeComparisonIndex(dir, r, null, options.title);
    return [...files, 'index.html'];
  }
  await put('montage.png', encodePng(renderComparisonMontage(r)));
  await put('traces.png', encodePng(renderComparisonTraces(r)));
  await put('kymograph.png', encodePng(renderComparisonKymograph(r, kymo!)));
  const header = ['side', 'frame', 'time_s', 'capacity_mAh_g', ...Array.from(kymo!.positions_um, (v) => csvNumber(v))].join(',');
  const lines = [header];
  for (const [side, rows] of [['observed', kymo!.obsRows], ['simulated', kymo!.simRows]] as const) {
    rows.forEach((row, i) => { const f = r.frames[i]; lines.push([side, f.frame, csvNumber(f.time_s), csvNumber(f.capacity_mAh_g), ...Array.from(row, (v) => csvNumber(v))].join(',')); });
  }
  await put('kymograph.csv', lines.join('\n') + '\n');
  await writeComparisonIndex(dir, r, kymo, options.title);
  return [...files, 'index.html'];
}

const n4 = (v: number | null | undefined, digits = 4) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : String(Number(v.toPrecision(digits))));

/** index.html of a compare folder: the numbers a scientist reads first, the three figures, the data files (written last) */
export async function writeComparisonIndex(dir: string, r: ComparisonResult, kymo: ComparisonKymograph | null, title?: string): Promise<void> {
  const o = r.observed, s = r.simulated, g = r.registration, a = r.alignment, m = r.medians;
  const unit = a.mode === 'charge' ? 'mAh/g' : 's';
  await writeIndexHtml(dir, {
    title: title ?? `ionflux compare: particle ${o.id} of ${path.basename(o.source)}`,
    subtitle: `observed ${o.source} (particle ${o.id}) against simulated ${s.source} (${s.kind}): ${r.frames.length} frame(s) matched by ${a.mode === 'charge' ? 'charge passed' : 'time'}.`,
    warnings: r.warnings,
    table: [
      ['frames compared', `${r.frames.length}${a.unmatchedFrames ? ` (${a.unmatchedFrames} observed frame(s) without a snapshot of their own)` : ''}`],
      ['alignment', `by ${a.mode === 'charge' ? 'charge passed' : 'time'}, tolerance ${n4(a.tolerance)} ${unit}${a.reason ? ` (${a.reason})` : ''}`],
      ['registration', `shift ${n4(g.shift_um[0])}, ${n4(g.shift_um[1])} µm, rotation ${n4(g.rotationDeg)}°, scale ${n4(g.scale)}, outline IoU ${n4(g.iou)} (${g.method})`],
      ['median Pearson r', n4(m.pearsonR)],
      ['median RMSE of ΔI/I0', n4(m.rmse)],
      ['median core COM offset, observed / simulated (µm)', `${n4(m.comOffsetObs_um)} / ${n4(m.comOffsetSim_um)}`],
      ['median offset error (µm)', n4(m.comOffsetError_um)],
      ['median direction error (°)', n4(m.directionError_deg)],
      ['median unreacted area, simulated − observed (µm²)', n4(m.unreactedAreaDiff_um2)],
      ['unreacted threshold (ΔI/I0)', n4(r.threshold)],
    ],
    tables: [{
      title: 'Frames (comparison.csv)',
      header: ['frame', 'time (s)', 'charge (mAh/g)', 'simulated time (s)', 'Pearson r', 'RMSE', 'd observed (µm)', 'd simulated (µm)', 'offset error (µm)', 'direction error (°)'],
      rows: r.frames.map((f) => [String(f.frame), n4(f.time_s), n4(f.capacity_mAh_g), n4(f.simTime_s), n4(f.pearsonR, 3), n4(f.rmse, 3), n4(f.comOffsetObs_um, 3), n4(f.comOffsetSim_um, 3), n4(f.comOffsetError_um, 3), n4(f.directionError_deg, 3)]),
    }],
    order: ['montage.png', 'traces.png', 'kymograph.png'],
    caption: (rel) => ({
      'montage.png': 'per compared frame (up to 8): observed | simulated ΔI/I0 on one colour range, and their difference; the simulated side through the forward model, resampled onto the observed pixels.',
      'traces.png': `core COM offset d and mean ΔI/I0 of both sides against ${r.frames.every((f) => f.capacity_mAh_g !== null && Number.isFinite(f.capacity_mAh_g)) ? 'charge passed' : 'time'}.`,
      'kymograph.png': `both sides along the line at ${kymo?.line.angleDeg}° through the observed particle's centroid, one row per compared frame (kymograph.csv).`,
    } as Record<string, string>)[rel] ?? '',
    describe: (rel) => ({
      'comparison.csv': 'per compared frame: Pearson r, RMSE, unreacted area difference, both COM offsets, offset and direction errors',
      'summary.json': 'registration (shift, rotation, scale, matrix), alignment, medians, warnings',
      'kymograph.csv': 'one row per side and compared frame, columns = positions along the line (µm)',
    } as Record<string, string>)[rel] ?? '',
  });
}
