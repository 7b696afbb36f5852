/**
 * An observed movie dropped on the page, analysed in the browser with `ionflux analyze`'s own code:
 * the TIFF is opened by src/io/tiffMovie.ts (the reader `analyze` uses on a file), the capacity CSV
 * parsed by src/io/capacityCsv.ts, and the analysis — segmentation, drift, ΔI/I0, per-particle
 * traces, classification, kymograph lines — is src/imaging/analysisCore.ts's runAnalysis with the
 * CPU frame processor (analyze --backend cpu), the ΔI/I0 pages kept in memory instead of diff.tif.
 *
 * analyseMovie runs in a Web Worker (analysisWorker.ts, started by inWorker.ts), never on the page's
 * main thread: a real movie takes seconds to minutes, and the live simulation must keep drawing.
 */
import { openTiffBytes } from '../../src/io/tiffMovie';
import { parseCapacityCsv, type CapacityRecord } from '../../src/io/capacityCsv';
import { runAnalysis, type AnalysisCore, type DiffSink, type Progress } from '../../src/imaging/analysisCore';
import { createCpuProcessor } from '../../src/imaging/processor';

/** the ΔI/I0 pages the page keeps (float32, every frame): larger movies are for the CLI */
export const MAX_PAGE_BYTES = 512 * 2 ** 20;

export interface ObservedMovie {
  name: string;
  width: number;
  height: number;
  frames: number;
  core: AnalysisCore;
  /** ΔI/I0 of every frame, row-major */
  pages: Float32Array[];
  /** colour range ±range of the views: 99th percentile of |ΔI/I0| inside the particles */
  range: number;
  capacityName: string | null;
  /** wall time of the analysis, ms */
  analysis_ms: number;
  /** where it ran: 'worker' (a Web Worker, the page's way) or 'main' */
  thread: 'worker' | 'main';
}

/** Parses a capacity CSV dropped on the page (SPEC §6's format, as `analyze --capacity`). */
export function parseCapacity(name: string, text: string): CapacityRecord {
  return parseCapacityCsv(text, name);
}

/**
 * Analyses the bytes of a TIFF movie. Throws UserError (a message for the page) on a file that is
 * not a TIFF, is truncated, holds no frames to compare, or is too large to keep in the page.
 */
export async function analyseMovie(name: string, bytes: ArrayBuffer, capacity: CapacityRecord | null, warn: (m: string) => void, progress?: Progress): Promise<ObservedMovie> {
  const started = performance.now();
  const movie = await openTiffBytes(name, bytes);
  try {
    const pageBytes = movie.width * movie.height * 4 * movie.frames;
    if (pageBytes > MAX_PAGE_BYTES) {
      throw new Error(`${name} is ${movie.width}×${movie.height} pixels × ${movie.frames} frames: its ΔI/I0 maps (${(pageBytes / 2 ** 20).toFixed(0)} MiB) are too large to keep in the page (at most ${MAX_PAGE_BYTES / 2 ** 20} MiB); crop it, or run ionflux analyze on it`);
    }
    const pages: Float32Array[] = new Array(movie.frames);
    const sink: DiffSink = {
      begin: async () => {},
      page: async (i, diff) => { pages[i] = diff.slice(); },
      end: async () => {},
      abort: async () => {},
      reread: async () => ({ readFrame: async (i: number) => pages[i], close: async () => {} }),
    };
    const core = await runAnalysis(movie, (o) => createCpuProcessor(o), { capacity, warn, progress }, sink);
    const thread = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined' ? 'worker' : 'main';
    return { name, width: movie.width, height: movie.height, frames: movie.frames, core, pages, range: colourRange(core, pages, movie.width), capacityName: capacity?.path ?? null, analysis_ms: performance.now() - started, thread };
  } finally {
    await movie.close();
  }
}

/** 99th percentile of |ΔI/I0| over particle pixels of up to 8 frames (at least 0.01; 0.1 without particles) */
function colourRange(core: AnalysisCore, pages: Float32Array[], width: number): number {
  const labels = core.segmentation.labels;
  const values: number[] = [];
  const step = Math.max(1, Math.floor(pages.length / 8));
  for (let f = step; f < pages.length; f += step) {
    const p = pages[f];
    for (let i = 0; i < p.length; i++) {
      // interior pixels only: at the edge I0 is small or mixed and |ΔI/I0| large
      if (labels[i] && labels[i - 1] === labels[i] && labels[i + 1] === labels[i] && labels[i - width] === labels[i] && labels[i + width] === labels[i] && Number.isFinite(p[i])) values.push(Math.abs(p[i]));
    }
  }
  if (!values.length) return 0.1;
  values.sort((a, b) => a - b);
  return Math.max(0.01, Number(values[Math.floor(0.99 * (values.length - 1))].toPrecision(2)));
}

/**
 * The observed frame to show beside the simulation: at the simulation's charge passed when the
 * movie has a capacity record (the frame whose capacity is nearest), else at its time.
 */
export function matchFrame(movie: ObservedMovie, simTime_s: number, simCharge_mAh_g: number): { frame: number; by: 'charge' | 'time'; beyond: boolean } {
  const cap = movie.core.capacityAtFrames?.capacity_mAh_g;
  const usable = cap && cap.some((v) => Number.isFinite(v));
  const key = usable ? cap! : movie.core.times_s.map((t) => t - movie.core.times_s[0]);
  const target = usable ? simCharge_mAh_g : simTime_s;
  let best = 0, bestD = Infinity;
  key.forEach((v, i) => {
    const d = Math.abs(v - target);
    if (Number.isFinite(d) && d < bestD) { bestD = d; best = i; }
  });
  const finite = key.filter((v) => Number.isFinite(v));
  return { frame: best, by: usable ? 'charge' : 'time', beyond: target > Math.max(...finite) };
}
