/**
 * Starts one observed-movie analysis in its own Web Worker (analysisWorker.ts) and hands back its
 * result as a promise, its progress through a callback, and a cancel that terminates the worker.
 * The page's main thread only posts the dropped File (a handle: the worker reads the bytes) and
 * receives the results, so the live simulation keeps drawing while a large movie is analysed.
 */
import type { CapacityRecord } from '../../src/io/capacityCsv';
import type { ObservedMovie } from './analyse';

/** what a cancelled analysis rejects with */
export class AnalysisCancelled extends Error {
  constructor(name: string) {
    super(`the analysis of ${name} was cancelled`);
  }
}

export interface AnalysisJob {
  result: Promise<{ movie: ObservedMovie; warnings: string[] }>;
  /** stops the worker at once (worker.terminate()); `result` rejects with AnalysisCancelled */
  cancel(): void;
}

export function analyseInWorker(name: string, file: Blob | ArrayBuffer, capacity: CapacityRecord | null, onProgress: (fraction: number, status: string) => void): AnalysisJob {
  // the same pattern as the CPU fallback's worker (demo/main.ts): Vite bundles it as a module worker
  const worker = new Worker(new URL('./analysisWorker.ts', import.meta.url), { type: 'module' });
  let reject: (e: Error) => void = () => {};
  let settled = false;
  const result = new Promise<{ movie: ObservedMovie; warnings: string[] }>((ok, fail) => {
    const finish = () => { settled = true; worker.terminate(); };
    reject = (e) => { if (!settled) { finish(); fail(e); } };
    worker.onmessage = (ev: MessageEvent) => {
      const m = ev.data as { type: string; fraction?: number; status?: string; movie?: ObservedMovie; warnings?: string[]; message?: string };
      if (settled) return;
      if (m.type === 'progress') onProgress(m.fraction ?? 0, m.status ?? '');
      else if (m.type === 'done') { finish(); ok({ movie: m.movie!, warnings: m.warnings ?? [] }); }
      else if (m.type === 'error') reject(new Error(m.message));
    };
    worker.onerror = (ev: ErrorEvent) => { ev.preventDefault(); reject(new Error(ev.message || 'the analysis worker failed')); };
    worker.onmessageerror = () => reject(new Error('the analysis worker\'s result could not be received'));
  });
  const transfer = file instanceof ArrayBuffer ? [file] : [];
  worker.postMessage({ type: 'analyse', name, file, capacity }, transfer);
  return { result, cancel: () => reject(new AnalysisCancelled(name)) };
}
