/**
 * The observed movie's analysis, off the page's main thread: a module Web Worker (started by
 * inWorker.ts) that runs analyse.ts's analyseMovie — the one implementation, `ionflux analyze`'s
 * runAnalysis with the CPU frame processor — on a movie the page hands over.
 *
 * In:  { type: 'analyse', name, file: Blob | ArrayBuffer (transferred), capacity: CapacityRecord | null }
 * Out: { type: 'progress', fraction, status }            (runAnalysis's progress, per batch of frames)
 *      { type: 'done', movie: ObservedMovie, warnings }  (the ΔI/I0 pages transferred, not copied)
 *      { type: 'error', message }                        (a UserError's message: not a TIFF, truncated, too large)
 * The page stops an analysis with worker.terminate(); one worker analyses one movie.
 */
import type { CapacityRecord } from '../../src/io/capacityCsv';
import { analyseMovie } from './analyse';

const post = (msg: unknown, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(msg, transfer);

self.onmessage = async (ev: MessageEvent) => {
  const msg = ev.data as { type: string; name: string; file: Blob | ArrayBuffer; capacity: CapacityRecord | null };
  if (msg.type !== 'analyse') return;
  const warnings: string[] = [];
  try {
    post({ type: 'progress', fraction: 0, status: 'reading the file' });
    // a File is read here, not on the page: the page never holds a second copy of the bytes
    const bytes = msg.file instanceof ArrayBuffer ? msg.file : await msg.file.arrayBuffer();
    post({ type: 'progress', fraction: 0, status: 'segmenting the reference frame' });
    const movie = await analyseMovie(msg.name, bytes, msg.capacity, (w) => warnings.push(w), {
      update: (fraction, status) => post({ type: 'progress', fraction, status: status ?? '' }),
      done: () => {},
    });
    post({ type: 'done', movie, warnings }, movie.pages.map((p) => p.buffer));
  } catch (e) {
    post({ type: 'error', message: (e as Error).message ?? String(e) });
  }
};
