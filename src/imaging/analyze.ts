/**
 * `ionflux analyze`'s files (SPEC §6) from the analysis in src/imaging/analysisCore.ts (which the demo
 * page runs too). The paper's single-particle analysis of an operando movie, as one streaming pipeline (SPEC §2, §6):
 *
 *   reference frame → particles (Otsu segmentation or a user mask)
 *   pass 1, frames in batches: read → drift by phase correlation → frame processor (ΔI/I0 map with
 *          the drift applied, per-particle sums; GPU or CPU) → diff.tif page, per-particle trace row
 *   classify each particle (symmetric / asymmetric) from its trace
 *   pass 2 (only when the kymograph direction had to wait for the traces): re-read diff.tif page by
 *          page and sample each particle's line cut
 *   figures and tables
 *
 * Memory is bounded by the batch (a few frames), the montage's few frames, and per-particle traces and
 * line samples (numbers per frame, not images), so a movie larger than memory is analysed frame by
 * frame. The kymograph's default line follows the direction of the largest centre-of-mass offset,
 * which is only known once all frames are seen: rather than keeping every particle's crop of every
 * frame (unbounded for long movies), the pipeline reads back the diff.tif it has just written, one
 * page at a time. With `lineAngleDeg` given, the lines are known up front and sampled in pass 1.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors';
import type { MovieSource } from '../io/movie';
import { encodePng } from '../render/png';
import { renderField, renderMontage } from '../render/figure';
import { drawLabelOutlines, drawParticleMarks } from '../render/annotate';
import { montageLegend, renderAnalyzeTraces, writeAnalyzeIndex } from '../render/analyzeFigures';
import type { Segmentation } from './segment';
import { createDiffStack, type DiffStackWriter } from './diffStack';
import { asymmetricFraction } from './classify';
import { linePositions_um, resampleRows } from './kymograph';
import {
  csvNumber, defaultMontageFrames, MIN_DRIFT_PEAK, runAnalysis,
  type AnalysisCore, type AnalyzeOptions, type DiffSink, type DriftFactory, type ParticleResult, type ProcessorFactory,
} from './analysisCore';
import { createDriftService } from './driftService';
import type { DriftOptions } from './drift';

export { csvNumber, type AnalyzeOptions, type ParticleResult, type ProcessorFactory } from './analysisCore';

export interface AnalyzeSummary {
  frames: number;
  width: number;
  height: number;
  pixel_um: number;
  frame_s: number;
  referenceFrame: number;
  particles: number;
  asymmetricFraction: number | null;
  drift_px: [number, number][];
  parameters: Record<string, unknown>;
  [key: string]: unknown;
}

export interface AnalyzeResult {
  summary: AnalyzeSummary;
  particles: ParticleResult[];
  segmentation: Segmentation;
  times_s: number[];
  capacity_mAh_g: number[] | null;
}

/** NaN-aware block mean by an integer factor (montage of large frames). */
function downsample(field: Float32Array, width: number, height: number, k: number): { field: Float32Array; width: number; height: number } {
  if (k <= 1) return { field, width, height };
  const w = Math.floor(width / k), h = Math.floor(height / k);
  const out = new Float32Array(w * h);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let s = 0, n = 0;
      for (let dr = 0; dr < k; dr++) for (let dc = 0; dc < k; dc++) {
        const v = field[(r * k + dr) * width + c * k + dc];
        if (Number.isFinite(v)) { s += v; n++; }
      }
      out[r * w + c] = n ? s / n : NaN;
    }
  }
  return { field: out, width: w, height: h };
}

/** 99th percentile of |v| over the finite values (a robust colour range), at least 0.01 */
function robustRange(values: Iterable<ArrayLike<number>>, mask?: (i: number) => boolean): number {
  const hist = new Float64Array(4096);
  let max = 0, n = 0;
  const all: ArrayLike<number>[] = [...values];
  for (const a of all) for (let i = 0; i < a.length; i++) {
    if (mask && !mask(i)) continue;
    const v = Math.abs(a[i]);
    if (Number.isFinite(v) && v > max) max = v;
  }
  if (!(max > 0)) return 0.1;
  for (const a of all) for (let i = 0; i < a.length; i++) {
    if (mask && !mask(i)) continue;
    const v = Math.abs(a[i]);
    if (!Number.isFinite(v)) continue;
    hist[Math.min(4095, Math.floor((v / max) * 4096))]++;
    n++;
  }
  let acc = 0;
  for (let k = 0; k < 4096; k++) {
    acc += hist[k];
    if (acc >= 0.99 * n) return Math.max(0.01, Number((((k + 1) / 4096) * max).toPrecision(2)));
  }
  return Math.max(0.01, max);
}

/**
 * Below this much drift work (the padded FFT area in pixels × the frames) the estimate stays in this
 * thread: a drift thread loads the bundle first (~0.25 s of CPU each), which costs more than it saves
 * on a small movie (512² × 20: 2.6 against 2.05 CPU-s with two threads). 2^24 is e.g. 64 frames of a
 * 512² region, or 16 of a 2048² frame on 2×2 blocks.
 */
const DRIFT_THREAD_MIN_WORK = 2 ** 24;

function driftWork(o: DriftOptions, frames: number): number {
  const pow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(2, n)));
  const b = o.bin ?? 1;
  return pow2(Math.floor(o.region!.width / b)) * pow2(Math.floor(o.region!.height / b)) * frames;
}

/** analyze's drift: worker threads (src/imaging/driftService.ts), in this thread for small movies or driftWorkers = 0 */
const driftThreads: DriftFactory = (reference, width, height, o, frames, workers) => {
  const threads = workers ?? (driftWork(o, frames) < DRIFT_THREAD_MIN_WORK ? 0 : undefined);
  return createDriftService(reference, width, height, o, threads === 0 ? { worker: false } : { workers: threads });
};

function driftMethod(o: DriftOptions | null, minDrift: number): string | null {
  if (!o) return null;
  const blocks = (o.bin ?? 1) > 1;
  return `phase correlation on the particles' bounding box (+ margin)${blocks ? ` in ${o.bin}×${o.bin} block means` : ''}, intensities clipped a quarter of the way from background to particle (silhouettes: the reaction does not pull it), Hann window, Gaussian-weighted (σ 1 ${blocks ? 'block' : 'px'}), 3-point Gaussian peak fit; frames with a correlation peak below ${MIN_DRIFT_PEAK} or an estimate below ${minDrift} px left uncorrected`;
}

/** colour ranges come from particle pixels away from the particle's edge: at the edge (and in the
 * background beside it) I0 is small or mixed, and resampling of drifted frames makes |ΔI/I0| large */
function interiorOf(labels: Int32Array, width: number, height: number) {
  return (i: number, label: number) => {
    const c = i % width, r = (i - c) / width;
    return labels[i] === label && label !== 0 && c > 0 && r > 0 && c < width - 1 && r < height - 1 &&
      labels[i - 1] === label && labels[i + 1] === label && labels[i - width] === label && labels[i + width] === label;
  };
}

/**
 * Runs the whole analysis of `movie` and writes SPEC §6's files into `outDir` (an existing, empty
 * folder: the CLI hands in the staging folder of writeOutputDir, so nothing half-written is left).
 */
export async function analyzeMovie(movie: MovieSource, outDir: string, createProcessor: ProcessorFactory, options: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  const started = Date.now();
  const { width, height, frames } = movie;
  const ref = options.reference ?? 0;
  const montageFrames = (options.montageFrames ?? defaultMontageFrames(frames, ref)).filter((f) => f >= 0 && f < frames);
  const montage = new Map<number, Float32Array>();
  const diffMode = options.diffStack ?? 'full';
  // a crop reaches past the particle by the largest drift searched, the smoothing radius and a few
  // pixels for the kymograph line's ends
  const cropMargin = (options.maxDrift_px ?? 16) + (options.smoothRadius ?? 0) + 4;
  // the ΔI/I0 pages go to diff.tif (or the particles' crops), and the montage keeps its few frames
  const stack: { writer: DiffStackWriter | null; labels: Int32Array | null; particles: number } = { writer: null, labels: null, particles: 0 };
  // the figures' colour range, known once the montage frames are in: also diff.tif's display range
  let range = 0.1;
  const sink: DiffSink = {
    begin: async ({ labels, ...info }) => {
      stack.labels = labels;
      stack.particles = info.particles.length;
      stack.writer = await createDiffStack(outDir, diffMode, { ...info, margin_px: cropMargin });
    },
    page: async (i, diff) => {
      await stack.writer!.writePage(diff);
      if (montageFrames.includes(i)) montage.set(i, diff.slice());
    },
    end: () => {
      const interior = interiorOf(stack.labels!, width, height);
      range = options.diffRange ?? robustRange(montage.values(), stack.particles ? (i) => interior(i, stack.labels![i]) : undefined);
      // diff.tif's ImageJ display range: the figures' colour range, symmetric about 0 (no scan of every page)
      return stack.writer!.close([-range, range]);
    },
    abort: async () => { await stack.writer?.abort(); },
    reread: () => stack.writer!.openReader(),
  };
  const core = await runAnalysis(movie, createProcessor, { createDrift: driftThreads, ...options }, sink);
  const done: Analysed = { movie, core, options, montage, montageFrames, range, writer: stack.writer!, diffMode };
  if (montage.size) await writeMontage(outDir, done);
  const kymographs = await writeKymographs(outDir, done);
  await writeTables(outDir, done);
  const summary = summarize(done, kymographs, (Date.now() - started) / 1000);
  const { particles: results, segmentation: seg, times_s } = core;
  const capValues = core.capacityAtFrames?.capacity_mAh_g ?? null;
  const nLabels = seg.particles.length;
  await writeFile(path.join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  if (nLabels) await writeFile(path.join(outDir, 'traces.png'), encodePng(renderAnalyzeTraces(results, times_s, capValues)));
  await writeAnalyzeIndex(outDir, summary, results);
  options.progress?.done(`${nLabels} particle(s), ${frames} frames`);
  return { summary, particles: results, segmentation: seg, times_s, capacity_mAh_g: capValues };
}

/** What the analysis produced, for the stages that write it out. */
interface Analysed {
  movie: MovieSource;
  core: AnalysisCore;
  options: AnalyzeOptions;
  /** the ΔI/I0 maps of the montage frames */
  montage: Map<number, Float32Array>;
  montageFrames: number[];
  /** the figures' colour range (±) */
  range: number;
  writer: DiffStackWriter;
  diffMode: NonNullable<AnalyzeOptions['diffStack']>;
}

const fmtTime = (t: number) => (t >= 120 ? `${Number((t / 60).toPrecision(3))} min` : `${Number(t.toPrecision(3))} s`);

/** montage.png: the montage frames' ΔI/I0 with the particles' outlines, ids and COM marks. */
async function writeMontage(outDir: string, a: Analysed): Promise<void> {
  const { montage, montageFrames, range, options } = a;
  const { width, height } = a.movie;
  const { segmentation: seg, times_s, pixel_um, unreactedCom_px } = a.core;
  const particles = seg.particles, nLabels = particles.length, ref = options.reference ?? 0;
  const capValues = a.core.capacityAtFrames?.capacity_mAh_g ?? null;
  const k = Math.max(1, Math.ceil(Math.max(width, height) / 512));
  const panels = montageFrames.filter((f) => montage.has(f)).map((f) => {
    const d = downsample(montage.get(f)!, width, height, k);
    const c = capValues?.[f];
    const title = c !== undefined && Number.isFinite(c) ? `${fmtTime(times_s[f])}, ${Number(c.toPrecision(3))} mAh/g` : `frame ${f}, ${fmtTime(times_s[f])}`;
    return { field: d.field, title, w: d.width, h: d.height };
  });
  const img = renderMontage(panels.map((p) => ({ field: p.field, title: p.title })), panels[0].w, panels[0].h, {
    colormap: 'diverging', vmin: -range, vmax: range, center: 0, colorbarLabel: 'ΔI/I0', pixel_um: pixel_um * k,
    title: `ΔI/I0 relative to frame ${ref}`,
    legend: nLabels ? montageLegend() : undefined,
  });
  // outlines, ids and COM markers of the particles on every frame
  const shown = montageFrames.filter((f) => montage.has(f));
  img.layout.panels.forEach((rect, j) => {
    const toFigure = (x: number, y: number): [number, number] => [rect.x + (x / k) * img.layout.scaleX, rect.y + (y / k) * img.layout.scaleY];
    drawLabelOutlines(img, seg.labels, width, height, toFigure, rect);
    drawParticleMarks(img, particles.map((p, i) => ({
      id: p.id, label: p.label, com_px: p.centroid_px, coreCom_px: unreactedCom_px[i][shown[j]], bbox: p.bbox,
    })), toFigure, rect);
  });
  await writeFile(path.join(outDir, 'montage.png'), encodePng(img));
}

/** particle_N/kymograph.csv and .png: ΔI/I0 along each particle's line, against time or charge. */
async function writeKymographs(outDir: string, a: Analysed): Promise<Record<string, unknown>[]> {
  const { options } = a;
  const { width, height, frames } = a.movie;
  const { particles: results, segmentation: seg, times_s, pixel_um, frame_s, kymoRows } = a.core;
  const nLabels = seg.particles.length;
  const capValues = a.core.capacityAtFrames?.capacity_mAh_g ?? null;
  const interior = interiorOf(seg.labels, width, height);
  const kymoAxisReq = options.kymoAxis ?? 'auto';
  if (kymoAxisReq === 'capacity' && !capValues) throw new UserError('--kymo-axis capacity needs --capacity FILE');
  const kymographs: Record<string, unknown>[] = [];
  for (let p = 0; p < nLabels; p++) {
    const r = results[p];
    const line = r.line!;
    const rows = kymoRows[p];
    const dir = path.join(outDir, `particle_${r.particle.id}`);
    await mkdir(dir, { recursive: true });
    const pos = linePositions_um(line, pixel_um);
    const lines = [['frame', 'time_s', 'capacity_mAh_g', ...Array.from(pos, (v) => csvNumber(v))].join(',')];
    rows.forEach((row, i) => lines.push([i, csvNumber(times_s[i]), csvNumber(capValues?.[i]), ...Array.from(row, (v) => csvNumber(v))].join(',')));
    await writeFile(path.join(dir, 'kymograph.csv'), lines.join('\n') + '\n');

    let axis: 'time' | 'capacity' = 'time';
    // a one-frame movie still needs an axis of non-zero length: the frame's interval around its time
    let image = frames > 1 ? { rows, min: times_s[0], max: times_s[frames - 1] } : { rows, min: times_s[0] - frame_s / 2, max: times_s[0] + frame_s / 2 };
    if (kymoAxisReq !== 'time' && capValues) {
      const rs = resampleRows(rows, capValues, Math.max(2, rows.length));
      if (rs) { image = rs; axis = 'capacity'; }
      else if (kymoAxisReq === 'capacity') throw new UserError(`--kymo-axis capacity: the capacity at the frame times is not increasing (charge and discharge in one movie?): use --kymo-axis time`);
    }
    const nRows = image.rows.length;
    const field = new Float32Array(nRows * line.samples);
    image.rows.forEach((row, k) => field.set(row, k * line.samples));
    // colour range from the samples inside the particle (see `interior`)
    const inside = new Uint8Array(line.samples);
    for (let k = 0; k < line.samples; k++) {
      const f = line.samples > 1 ? k / (line.samples - 1) : 0;
      const c = Math.floor(line.start_px[0] + f * (line.end_px[0] - line.start_px[0]));
      const rr = Math.floor(line.start_px[1] + f * (line.end_px[1] - line.start_px[1]));
      inside[k] = c >= 0 && c < width && rr >= 0 && rr < height && interior(rr * width + c, r.particle.label) ? 1 : 0;
    }
    const kRange = options.diffRange ?? robustRange([field], (i) => inside[i % line.samples] === 1);
    const tUnitMin = axis === 'time' && image.max >= 120;
    const img = renderField(field, line.samples, nRows, {
      colormap: 'diverging', vmin: -kRange, vmax: kRange, center: 0, colorbarLabel: 'ΔI/I0',
      title: `particle ${r.particle.id}: line at ${line.angleDeg}°`,
      xAxis: { label: `position along the line (µm), from its end at ${Number(((((line.angleDeg + 180) % 360) + 360) % 360).toFixed(1))}°`, min: 0, max: pos[pos.length - 1] },
      yAxis: axis === 'capacity'
        ? { label: 'charge passed (mAh/g)', min: image.min, max: image.max }
        : { label: tUnitMin ? 'time (min)' : 'time (s)', min: tUnitMin ? image.min / 60 : image.min, max: tUnitMin ? image.max / 60 : image.max },
    });
    await writeFile(path.join(dir, 'kymograph.png'), encodePng(img));
    kymographs.push({
      id: r.particle.id, angleDeg: line.angleDeg, axis,
      start_um: [line.start_px[0] * pixel_um, line.start_px[1] * pixel_um].map((v) => Number(v.toFixed(4))),
      end_um: [line.end_px[0] * pixel_um, line.end_px[1] * pixel_um].map((v) => Number(v.toFixed(4))),
      samples: line.samples, step_um: Number((line.step_px * pixel_um).toPrecision(6)),
    });
  }

  return kymographs;
}

/** particles.csv, traces.csv and frames.csv (SPEC §6). */
async function writeTables(outDir: string, a: Analysed): Promise<void> {
  const { frames } = a.movie;
  const { particles: results, times_s, capacityAtFrames: cap, drift_px, driftEst_px, driftPeak } = a.core;
  const capValues = cap?.capacity_mAh_g ?? null;
  const pLines = ['id,area_um2,eqRadius_um,centroidX_um,centroidY_um,asymmetric,maxComOffsetRel'];
  for (const r of results) {
    const p = r.particle, c = r.classification;
    pLines.push([p.id, csvNumber(p.area_um2), csvNumber(p.eqRadius_um), csvNumber(p.centroid_um[0]), csvNumber(p.centroid_um[1]),
      c.asymmetric === null ? '' : String(c.asymmetric), csvNumber(c.maxComOffsetRel)].join(','));
  }
  await writeFile(path.join(outDir, 'particles.csv'), pLines.join('\n') + '\n');

  const tLines = ['particle,frame,time_s,capacity_mAh_g,meanDiff,comOffset_um,comOffsetRel,unreactedFraction'];
  for (const r of results) {
    for (let i = 0; i < frames; i++) {
      tLines.push([r.particle.id, i, csvNumber(times_s[i]), csvNumber(capValues?.[i]), csvNumber(r.meanDiff[i]),
        csvNumber(r.comOffset_um[i]), csvNumber(r.comOffsetRel[i]), csvNumber(r.unreactedFraction[i])].join(','));
    }
  }
  await writeFile(path.join(outDir, 'traces.csv'), tLines.join('\n') + '\n');

  const fLines = ['frame,time_s,capacity_mAh_g,voltage_V,driftX_px,driftY_px,driftPeak,driftEstX_px,driftEstY_px'];
  for (let i = 0; i < frames; i++) {
    fLines.push([i, csvNumber(times_s[i]), csvNumber(capValues?.[i]), csvNumber(cap?.voltage_V?.[i]), csvNumber(drift_px[i][0]), csvNumber(drift_px[i][1]), csvNumber(driftPeak[i]), csvNumber(driftEst_px[i][0]), csvNumber(driftEst_px[i][1])].join(','));
  }
  await writeFile(path.join(outDir, 'frames.csv'), fLines.join('\n') + '\n');

}

/** summary.json (SPEC §6, plus what a reader needs to reproduce the analysis). */
function summarize(a: Analysed, kymographs: Record<string, unknown>[], wallTime_s: number): AnalyzeSummary {
  const { movie, core, options, montage, range, writer, diffMode } = a;
  const { width, height, frames } = movie;
  const { particles: results, segmentation: seg, capacity, calibration, pixel_um, frame_s } = core;
  const { pixelSource, frameSource, threshold, asymThreshold, asymWindow, batch, drift_px, anglesKnown, warnings } = core;
  const timeOffset = core.timeOffset_s;
  const nLabels = seg.particles.length, ref = options.reference ?? 0;
  return {
    frames, width, height, pixel_um, frame_s,
    calibration,
    referenceFrame: ref,
    particles: nLabels,
    asymmetricFraction: asymmetricFraction(results.map((r) => r.classification.asymmetric)),
    drift_px,
    parameters: {
      threshold,
      asymThreshold,
      asymWindow,
      asymRule: `asymmetric if max d/R_eq over the first-charge frames with unreacted fraction in [${asymWindow[0]}, ${asymWindow[1]}] > ${asymThreshold}`,
      segmentation: seg.method,
      segmentationThreshold: Number.isFinite(seg.threshold) ? seg.threshold : null,
      connectivity: options.connectivity ?? 8,
      minArea_px: options.mask ? null : options.minArea_px ?? 25,
      dropBorder: options.mask ? false : !options.keepBorder,
      segSigma_px: options.segSigma_px ?? 0,
      diffStack: diffMode === 'full' ? { mode: 'full', file: 'diff.tif' } : { mode: 'particles', files: writer.files, crops_px: writer.crops },
      drift: core.drift,
      driftMethod: driftMethod(core.driftOptions, core.minDrift_px),
      driftThread: core.driftThread,
      minDrift_px: core.driftOptions ? core.minDrift_px : null,
      smoothRadius: options.smoothRadius ?? 0,
      lineAngleDeg: anglesKnown ? options.lineAngleDeg : 'direction of largest COM offset',
      kymoAxis: options.kymoAxis ?? 'auto',
      diffRange: options.diffRange ?? null,
      timeOffset_s: timeOffset,
      pixelSizeSource: pixelSource,
      frameIntervalSource: frameSource,
      capacityFile: capacity?.path ?? null,
      mask: options.mask?.name ?? null,
      batch,
    },
    asymmetricParticles: results.filter((r) => r.classification.asymmetric === true).length,
    classifiedParticles: results.filter((r) => r.classification.asymmetric !== null).length,
    movie: { path: movie.path, kind: movie.kind, sampleType: movie.sampleType, metadata: movie.notes },
    backend: options.backendLabel ?? null,
    segmentation: { method: seg.method, threshold: Number.isFinite(seg.threshold) ? seg.threshold : null, dropped: seg.dropped },
    montageFrames: [...montage.keys()],
    colourRange: range,
    kymographs,
    warnings,
    wallTime_s: Number(wallTime_s.toFixed(3)),
  };
}
