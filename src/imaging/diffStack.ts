/**
 * Where analyze keeps its ΔI/I0 maps: SPEC §6's `diff.tif` (every frame, whole, float32), or, for the
 * rigs' large movies, one cropped stack per particle (`particle_<id>/diff.tif`, the particle's
 * bounding box plus a margin). A whole-frame float32 stack is twice the size of a 16-bit movie (1.4 TB
 * for a 700 GB recording) and almost all of it is background; the crops keep what is analysed.
 * Both are written one page per frame as the frames stream through, and read back the same way for
 * the kymographs (pass 2), so memory stays flat in the frame count.
 */
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { createTiffStackWriter } from '../io/tiffWrite';
import { openMovie } from '../io/movie';
import type { Particle } from './segment';

export type DiffStackMode = 'full' | 'particles';
export const DIFF_STACK_MODES: readonly DiffStackMode[] = ['full', 'particles'];

export interface CropBox { id: number; col0: number; row0: number; width: number; height: number }

export interface DiffStackWriter {
  /** the relative paths written */
  readonly files: string[];
  /** the crops, in frame pixels (empty for 'full') */
  readonly crops: CropBox[];
  writePage(diff: Float32Array): Promise<void>;
  /** `displayRange`: the ImageJ display range written into the stack(s) (analyze: ±the figures' colour range) */
  close(displayRange?: [number, number]): Promise<void>;
  abort(): Promise<void>;
  /** reads the maps back, frame by frame, as whole frames (NaN outside the crops) */
  openReader(): Promise<{ readFrame(index: number): Promise<Float32Array>; close(): Promise<void> }>;
}

export interface DiffStackOptions {
  width: number;
  height: number;
  frames: number;
  pixel_um: number;
  frame_s: number;
  particles: Particle[];
  /** pixels added around each particle's bounding box (drift, smoothing, the kymograph line's ends) */
  margin_px: number;
}

/** The crop of a particle: its bounding box grown by `margin` pixels, clipped to the frame. */
export function cropOf(p: Particle, width: number, height: number, margin: number): CropBox {
  const m = Math.max(0, Math.ceil(margin));
  const col0 = Math.max(0, p.bbox.col0 - m), row0 = Math.max(0, p.bbox.row0 - m);
  const col1 = Math.min(width, p.bbox.col1 + m), row1 = Math.min(height, p.bbox.row1 + m);
  return { id: p.id, col0, row0, width: col1 - col0, height: row1 - row0 };
}

export async function createDiffStack(outDir: string, mode: DiffStackMode, o: DiffStackOptions): Promise<DiffStackWriter> {
  const imagej = { pixel_um: o.pixel_um, frame_s: o.frame_s };
  // the display range comes from close() (the figures' colour range): no scan of every page for it
  const scanRange = false;
  if (mode === 'full') {
    const file = path.join(outDir, 'diff.tif');
    const w = await createTiffStackWriter(file, { width: o.width, height: o.height, sampleType: 'float32', frames: o.frames, imagej, scanRange });
    return {
      files: ['diff.tif'],
      crops: [],
      writePage: (diff) => w.writePage(diff),
      close: (range) => w.close(range),
      abort: () => w.abort(),
      async openReader() {
        const m = await openMovie(file);
        return { readFrame: async (i) => (await m.readFrame(i)) as Float32Array, close: () => m.close() };
      },
    };
  }
  const crops = o.particles.map((p) => cropOf(p, o.width, o.height, o.margin_px));
  const files = crops.map((c) => `particle_${c.id}/diff.tif`);
  const writers: Awaited<ReturnType<typeof createTiffStackWriter>>[] = [];
  const pages = crops.map((c) => new Float32Array(c.width * c.height));
  try {
    for (let k = 0; k < crops.length; k++) {
      await mkdir(path.join(outDir, `particle_${crops[k].id}`), { recursive: true });
      writers.push(await createTiffStackWriter(path.join(outDir, files[k]), { width: crops[k].width, height: crops[k].height, sampleType: 'float32', frames: o.frames, imagej, scanRange }));
    }
  } catch (e) {
    for (const w of writers) await w.abort();
    throw e;
  }
  return {
    files,
    crops,
    async writePage(diff) {
      for (let k = 0; k < crops.length; k++) {
        const c = crops[k], page = pages[k];
        for (let r = 0; r < c.height; r++) page.set(diff.subarray((c.row0 + r) * o.width + c.col0, (c.row0 + r) * o.width + c.col0 + c.width), r * c.width);
        await writers[k].writePage(page);
      }
    },
    async close(range) { for (const w of writers) await w.close(range); },
    async abort() { for (const w of writers) await w.abort(); },
    async openReader() {
      const movies: Awaited<ReturnType<typeof openMovie>>[] = [];
      for (const f of files) movies.push(await openMovie(path.join(outDir, f)));
      const whole = new Float32Array(o.width * o.height);
      return {
        async readFrame(i) {
          whole.fill(NaN);
          for (let k = 0; k < crops.length; k++) {
            const c = crops[k], page = (await movies[k].readFrame(i)) as Float32Array;
            for (let r = 0; r < c.height; r++) whole.set(page.subarray(r * c.width, (r + 1) * c.width), (c.row0 + r) * o.width + c.col0);
          }
          return whole;
        },
        async close() { for (const m of movies) await m.close(); },
      };
    },
  };
}
