/**
 * The summary pictures of `ionflux analyze` beyond the montage and kymographs: traces.png (each
 * particle's mean ΔI/I0, core COM offset and unreacted fraction against time, and against charge
 * passed when a capacity file was given), the montage's legend, and the folder's index.html.
 */
import path from 'node:path';
import type { AnalyzeSummary, ParticleResult } from '../imaging/analyze';
import { BLACK, drawLine, drawMarker } from './draw';
import { OUTLINE_RGB } from './annotate';
import type { LegendEntry } from './figure';
import { writeIndexHtml } from './htmlIndex';
import { renderPlotGrid, SERIES_COLOURS, type PlotImage, type PlotPanel } from './plot';

/** Legend of the montage's overlays. */
export function montageLegend(): LegendEntry[] {
  return [
    { label: 'particle outline, id', draw: (img, b) => drawLine(img, b.x, b.y + b.height / 2 - 1, b.x + b.width, b.y + b.height / 2 - 1, OUTLINE_RGB, 2) },
    { label: 'particle COM', draw: (img, b) => drawMarker(img, b.x + b.width / 2, b.y + b.height / 2 - 1, 'plus', 5, BLACK) },
    { label: 'unreacted core COM', draw: (img, b) => drawMarker(img, b.x + b.width / 2, b.y + b.height / 2 - 1, 'circle', 4, BLACK) },
  ];
}

/**
 * traces.png: one row per quantity (mean ΔI/I0, core COM offset in µm, unreacted fraction), against
 * time (min when the movie is 2 min or longer, else s) and, with `capacity_mAh_g`, against charge
 * passed; one colour per particle (legend above, the first 10 particles named).
 */
export function renderAnalyzeTraces(particles: ParticleResult[], times_s: number[], capacity_mAh_g: number[] | null): PlotImage {
  const minutes = times_s.length > 0 && times_s[times_s.length - 1] - times_s[0] >= 120;
  const t = times_s.map((v) => (minutes ? v / 60 : v));
  const tLabel = minutes ? 'time (min)' : 'time (s)';
  const colour = (i: number) => SERIES_COLOURS[i % SERIES_COLOURS.length];
  const rows: { title: string; unit: string; y: (r: ParticleResult) => (number | null)[] }[] = [
    { title: 'mean ΔI/I0', unit: 'ΔI/I0', y: (r) => r.meanDiff },
    { title: 'core COM offset', unit: 'µm', y: (r) => r.comOffset_um },
    { title: 'unreacted fraction', unit: 'fraction', y: (r) => r.unreactedFraction },
  ];
  const hasCap = !!capacity_mAh_g && capacity_mAh_g.some((v) => Number.isFinite(v));
  const points = times_s.length <= 40;
  const panels: PlotPanel[] = [];
  for (const row of rows) {
    panels.push({ title: `${row.title} vs time`, xLabel: tLabel, yLabel: row.unit, series: particles.map((r, i) => ({ x: t, y: row.y(r), rgb: colour(i), points })) });
    if (hasCap) {
      panels.push({ title: `${row.title} vs charge`, xLabel: 'charge passed (mAh/g)', yLabel: row.unit, series: particles.map((r, i) => ({ x: capacity_mAh_g!, y: row.y(r), rgb: colour(i), points })) });
    }
  }
  const legend = particles.slice(0, 10).map((r, i) => ({ label: `particle ${r.particle.id}${r.classification.asymmetric === true ? ' (asym.)' : r.classification.asymmetric === false ? ' (sym.)' : ''}`, rgb: colour(i) }));
  if (particles.length > 10) legend.push({ label: `… ${particles.length - 10} more (colours repeat)`, rgb: [255, 255, 255] });
  return renderPlotGrid(panels, { columns: hasCap ? 2 : 1, title: `traces of ${particles.length} particle(s)`, legend, plotWidth: 320, plotHeight: 150 });
}

/**
 * Where a calibration came from, when it was not the movie's: a default of 1 µm or 1 s reads as a
 * measurement otherwise. `key` is summary.parameters' source field, `what` and `flag` name it.
 */
function sourceNote(summary: AnalyzeSummary, key: 'pixelSizeSource' | 'frameIntervalSource', what: string, flag: string): string {
  const src = (summary.parameters as Record<string, unknown> | undefined)?.[key];
  return src === 'default' ? ` (a default: the movie holds no ${what}; ${flag} sets it)` : src === 'option' ? ` (${flag})` : '';
}

/** index.html of an analyze folder (call after every other file is written). */
export async function writeAnalyzeIndex(dir: string, summary: AnalyzeSummary, particles: ParticleResult[]): Promise<void> {
  const n = (v: unknown, digits = 4) => (typeof v === 'number' && Number.isFinite(v) ? String(Number(v.toPrecision(digits))) : v === null || v === undefined ? '—' : String(v));
  const range = summary.colourRange as number | undefined;
  const byId = new Map(particles.map((r) => [`particle_${r.particle.id}/kymograph.png`, r]));
  const movie = summary.movie as { path?: string } | undefined;
  await writeIndexHtml(dir, {
    title: `ionflux analyze: ${path.basename(movie?.path ?? '')}`,
    subtitle: `${movie?.path ?? ''}: ${summary.frames} frames of ${summary.width} × ${summary.height} pixels, reference frame ${summary.referenceFrame}.`,
    warnings: (summary.warnings as string[] | undefined) ?? [],
    table: [
      ['frames', String(summary.frames)],
      ['pixel size (µm)', `${n(summary.pixel_um)}${sourceNote(summary, 'pixelSizeSource', 'pixel size', '--pixel-um')}`],
      ['frame interval (s)', `${n(summary.frame_s)}${sourceNote(summary, 'frameIntervalSource', 'frame interval', '--frame-s')}`],
      ['particles', String(summary.particles)],
      ['asymmetric / classified', `${n(summary.asymmetricParticles)} / ${n(summary.classifiedParticles)}`],
      ['asymmetric fraction', n(summary.asymmetricFraction)],
      ['ΔI/I0 colour range of the montage', range === undefined ? '—' : `±${n(range)}`],
      ['backend', n(summary.backend)],
      ['wall time (s)', n(summary.wallTime_s, 3)],
    ],
    tables: particles.length ? [{
      title: 'Particles',
      header: ['id', 'area (µm²)', 'R_eq (µm)', 'centroid (µm)', 'label', 'max d/R_eq', 'final unreacted fraction'],
      rows: particles.map((r) => [
        String(r.particle.id), n(r.particle.area_um2), n(r.particle.eqRadius_um),
        `${n(r.particle.centroid_um[0])}, ${n(r.particle.centroid_um[1])}`,
        r.classification.asymmetric === null ? 'unclassified' : r.classification.asymmetric ? 'asymmetric' : 'symmetric',
        n(r.classification.maxComOffsetRel), n(r.unreactedFraction[r.unreactedFraction.length - 1]),
      ]),
    }] : [],
    order: ['montage.png', 'traces.png', ...particles.map((r) => `particle_${r.particle.id}/kymograph.png`)],
    caption: (rel) => {
      if (rel === 'montage.png') return `ΔI/I0 maps of frames ${((summary.montageFrames as number[]) ?? []).join(', ')} relative to the reference, one colour range (±${n(range)}); green outlines = particles with their ids, + particle COM, ○ unreacted core COM.`;
      if (rel === 'traces.png') return 'per particle, from traces.csv: mean ΔI/I0, core COM offset and unreacted fraction against time (and charge passed with --capacity).';
      const r = byId.get(rel);
      if (r) return `particle ${r.particle.id}: ΔI/I0 along the line at ${r.line?.angleDeg ?? '?'}° through its centroid, one row per frame (kymograph.csv).`;
      return '';
    },
    describe: (rel) => {
      const known: Record<string, string> = {
        'summary.json': 'counts, calibration, parameters, drift, kymograph lines, warnings',
        'diff.tif': 'ΔI/I0 of every frame, float32 stack (ImageJ, drift-corrected)',
        'particles.csv': 'id, area, equivalent radius, centroid, symmetric/asymmetric label',
        'traces.csv': 'per particle and frame: meanDiff, comOffset_um, comOffsetRel, unreactedFraction',
        'frames.csv': 'per frame: time, capacity, voltage, drift',
      };
      if (known[rel]) return known[rel];
      if (rel.endsWith('/kymograph.csv')) return 'kymograph: one row per frame, columns = positions along the line (µm)';
      return '';
    },
  });
}
