/**
 * The picture of a sweep's table (spec `plot`): one swept key on x, a result column on y, one line
 * per value of another swept key — e.g. fig5b.png, capacity to the cut-off against the rate, one
 * line per blocking case, as in the paper's Fig. 5b.
 */
import type { Rgb } from './draw';
import { renderPlotGrid, type PlotImage, type Series } from './plot';
import type { RunRecord } from '../sweep/folder';
import type { SweepSpec } from '../sweep/spec';

const PALETTE: Rgb[] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127]];

const Y_LABELS: Record<string, string> = {
  extractedCapacity_mAh_g: 'Li extracted (mAh/g)',
  time_s: 'time to the end (s)',
  maxComOffset_um: 'max core COM offset (µm)',
  maxComOffsetRel: 'max core COM offset / R_eq',
  coreVanish_s: 'core vanishes at (s)',
  wallTime_s: 'wall time (s)',
};

/** A swept value in words: blocked arcs as "quarter blocked, η = 0.3", others as key = value. */
export function describeValue(key: string, v: unknown): string {
  if (key.endsWith('surface.segments') || key === 'surface.segments') {
    const segs = v as { fromDeg: number; toDeg: number; eta: number }[];
    if (!Array.isArray(segs) || !segs.length) return 'no blocking';
    return segs.map((s) => `${Number((s.toDeg - s.fromDeg).toFixed(1))}° blocked, η = ${s.eta}`).join(' + ');
  }
  const short = key.split('.').filter((p) => !/^\d+$/.test(p)).pop() ?? key;
  return `${short} = ${typeof v === 'string' ? v : JSON.stringify(v)}`;
}

function axisLabel(key: string): string {
  if (/current_mA_g$/.test(key)) return 'current (mA/g)';
  return key;
}

export function renderSweepPlot(spec: SweepSpec, records: RunRecord[]): PlotImage {
  const plot = spec.plot;
  if (!plot) throw new Error('renderSweepPlot: the spec has no plot');
  const groups = new Map<string, { label: string; points: [number, number][] }>();
  for (const r of records) {
    const x = Number(r.values[plot.x]);
    const y = r[plot.y] as number | null;
    if (!Number.isFinite(x) || y === null || !Number.isFinite(y)) continue;
    const key = plot.series ? JSON.stringify(r.values[plot.series]) : '';
    const g = groups.get(key) ?? { label: plot.series ? describeValue(plot.series, r.values[plot.series]) : '', points: [] };
    g.points.push([x, y]);
    groups.set(key, g);
  }
  const series: Series[] = [];
  const legend: { label: string; rgb: Rgb }[] = [];
  [...groups.values()].forEach((g, k) => {
    g.points.sort((a, b) => a[0] - b[0]);
    const rgb = PALETTE[k % PALETTE.length];
    series.push({ x: g.points.map((p) => p[0]), y: g.points.map((p) => p[1]), rgb, points: true });
    if (g.label) legend.push({ label: g.label, rgb });
  });
  if (!series.length) series.push({ x: [0], y: [null], rgb: PALETTE[0] });
  return renderPlotGrid(
    [{ title: `${Y_LABELS[plot.y] ?? plot.y} vs ${axisLabel(plot.x)}`, xLabel: axisLabel(plot.x), yLabel: Y_LABELS[plot.y] ?? plot.y, series }],
    { columns: 1, title: `${spec.name ?? 'sweep'}: ${records.length} runs`, legend, plotWidth: 520, plotHeight: 320 },
  );
}
