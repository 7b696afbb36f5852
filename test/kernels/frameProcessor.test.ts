/**
 * The GPU frame processor (src/imaging/processor.ts: DiffMapKernel + LabelReduceKernel, one submit and
 * one readback per batch) against the CPU processor on the same movie, on a real WebGPU device.
 *
 * Maps: |gpu − cpu| ≤ 1e-6 · (1 + |cpu|) (1e-5 smoothed), NaN positions identical (see
 * diffMap.test.ts). Label sums: the GPU's are exactly labelReduceCpu of the GPU's own map for counts
 * and coordinate sums; against the CPU processor they may differ only by pixels whose two maps fall on
 * different sides of the threshold, which this data is built to avoid (no value within 1e-4 of it).
 */
import { describe, expect, it } from 'vitest';
import { labelReduceCpu, LABEL_STATS_STRIDE, maskSaturated, type FrameData } from '../../src/imaging/diffmap';
import { createCpuProcessor, createGpuProcessor, gpuBatchSize, type FrameProcessorOptions } from '../../src/imaging/processor';
import { compareArrays, useGpu } from '../helpers/gpu';
import { rng } from '../helpers/random';

const gpu = useGpu();


/** Particles that brighten from one side over the movie (the paper's asymmetric delithiation). */
function movie(w: number, h: number, nFrames: number, seed: number) {
  const r = rng(seed);
  const nLabels = 4;
  const labels = new Int32Array(w * h);
  const parts = Array.from({ length: nLabels }, (_, k) => ({ cx: (k + 0.5) * (w / nLabels), cy: h / 2 + (r() - 0.5) * h * 0.3, rad: Math.min(w / nLabels, h) * 0.4 }));
  const reference = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = y * w + x;
    reference[i] = 1000 + 400 * Math.sin(x * 0.3) * Math.cos(y * 0.2) + 50 * r();
    parts.forEach((p, k) => { if ((x - p.cx) ** 2 + (y - p.cy) ** 2 < p.rad ** 2) labels[i] = k + 1; });
  }
  reference[7] = 0;
  const frames: Uint16Array[] = [];
  for (let f = 0; f < nFrames; f++) {
    const fr = new Uint16Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const i = y * w + x, k = labels[i] - 1;
      // the Li-poor (bright) region grows from each particle's right edge with f
      const bright = k >= 0 && x - parts[k].cx > parts[k].rad * (1 - f / nFrames * 1.5) ? 0.2 : 0;
      fr[i] = Math.round(reference[i] * (1 + bright + 0.01 * (r() - 0.5)));
    }
    frames.push(fr);
  }
  return { labels, nLabels, reference, frames };
}

describe('createGpuProcessor vs createCpuProcessor', () => {
  it('ten 16-bit frames in batches of 3 (a partial last batch), drift per frame, 4 particles, 83×59', async () => {
    const w = 83, h = 59;
    const { labels, nLabels, reference, frames } = movie(w, h, 10, 21);
    const shifts = frames.map((_, f) => (f === 0 ? undefined : ([0.37 * f - 1, -0.21 * f] as [number, number])));
    const opts: FrameProcessorOptions = { width: w, height: h, reference, labels, nLabels, threshold: 0.1, maxBatch: 3 };
    const g = await createGpuProcessor(gpu(), opts);
    expect(g.backend).toBe('gpu');
    expect(g.maxBatch).toBe(3);
    const c = createCpuProcessor(opts);
    const [rg, rc] = await Promise.all([g.process(frames, shifts), c.process(frames, shifts)]);
    expect(rg.length).toBe(10);
    let worst = 0;
    for (let f = 0; f < frames.length; f++) {
      const cmp = compareArrays(rg[f].diff, rc[f].diff);
      expect(cmp.nanMismatch).toBe(0);
      rc[f].diff.forEach((v, i) => { if (!Number.isNaN(v)) worst = Math.max(worst, Math.abs(rg[f].diff[i] - v) / (1 + Math.abs(v))); });
      // exact label sums of the GPU's own map (counts, coordinates), and the CPU processor's
      const own = labelReduceCpu(rg[f].diff, labels, nLabels, w, opts.threshold);
      for (let l = 0; l < nLabels; l++) {
        const o = l * LABEL_STATS_STRIDE;
        for (const k of [0, 2, 3, 4, 5, 6, 7]) {
          expect(rg[f].labelStats[o + k]).toBe(own[o + k]);
          expect(rg[f].labelStats[o + k]).toBe(rc[f].labelStats[o + k]);
        }
        expect(Math.abs(rg[f].labelStats[o + 1] - rc[f].labelStats[o + 1])).toBeLessThan(1e-4);
      }
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
    // the unreacted region shrinks over the movie: the frames really differ
    expect(rg[9].labelStats[3]).toBeLessThan(rg[1].labelStats[3]);
    g.destroy();
  });

  it('smoothing, float32 and 8-bit frames, reused across several process() calls', async () => {
    const w = 50, h = 31;
    const { labels, nLabels, reference, frames } = movie(w, h, 4, 22);
    const opts: FrameProcessorOptions = { width: w, height: h, reference, labels, nLabels, threshold: 0.1, smoothRadius: 2 };
    const g = await createGpuProcessor(gpu(), opts);
    const c = createCpuProcessor(opts);
    const f32: FrameData[] = frames.map((fr) => Float32Array.from(fr, (v) => v * 1.0001));
    const u8: FrameData[] = frames.map((fr) => Uint8Array.from(fr, (v) => v >> 4));
    for (const batch of [frames, f32, u8, frames.slice(1)]) {
      const shifts = batch.map((_, f) => [f * 0.5, -f * 0.25] as [number, number]);
      const [rg, rc] = await Promise.all([g.process(batch, shifts), c.process(batch, shifts)]);
      rg.forEach((o, f) => {
        expect(compareArrays(o.diff, rc[f].diff).nanMismatch).toBe(0);
        rc[f].diff.forEach((v, i) => { if (!Number.isNaN(v)) expect(Math.abs(o.diff[i] - v)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))); });
        const own = labelReduceCpu(o.diff, labels, nLabels, w, opts.threshold);
        for (let k = 0; k < own.length; k++) if (k % LABEL_STATS_STRIDE !== 1) expect(o.labelStats[k]).toBe(own[k]);
      });
    }
    g.destroy();
    await expect(g.process(frames)).rejects.toThrow(/destroyed/);
  });

  it('saturated samples made NaN (maskSaturated, as analyze does) in a batch with plain 16-bit frames: NaN at the same pixels', async () => {
    const w = 61, h = 37;
    const { labels, nLabels, reference, frames } = movie(w, h, 5, 23);
    // clip a block of each odd frame's particle pixels and a few background ones at 65535
    frames.forEach((fr, f) => { if (f % 2) for (let i = 0; i < fr.length; i += 7) if (labels[i] || i % 91 === 0) fr[i] = 65535; });
    let nan = 0;
    const batch = frames.map((fr) => maskSaturated(fr, () => { nan++; return true; }));
    expect(batch.map((b) => b instanceof Float32Array)).toEqual([false, true, false, true, false]);
    const opts: FrameProcessorOptions = { width: w, height: h, reference, labels, nLabels, threshold: 0.1, maxBatch: 5 };
    const g = await createGpuProcessor(gpu(), opts);
    const c = createCpuProcessor(opts);
    for (const shifts of [undefined, batch.map((_, f) => [0.3 * f, -0.2 * f] as [number, number])]) {
      const [rg, rc] = await Promise.all([g.process(batch, shifts), c.process(batch, shifts)]);
      rg.forEach((o, f) => {
        expect(compareArrays(o.diff, rc[f].diff).nanMismatch, `frame ${f}`).toBe(0);
        rc[f].diff.forEach((v, i) => { if (!Number.isNaN(v)) expect(Math.abs(o.diff[i] - v)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))); });
        for (let k = 0; k < o.labelStats.length; k++) if (k % LABEL_STATS_STRIDE !== 1) expect(o.labelStats[k]).toBe(rc[f].labelStats[k]);
      });
      // unshifted: NaN exactly at the clipped samples (and the reference's unusable pixel 7)
      if (!shifts) batch.forEach((b, f) => rg[f].diff.forEach((v, i) => expect(Number.isNaN(v), `frame ${f} pixel ${i}`).toBe(Number.isNaN(b[i]) || i === 7)));
    }
    expect(nan).toBeGreaterThan(100);
    g.destroy();
  });

  it('clear errors: wrong frame size; a frame too large for the device names size and limit', async () => {
    const w = 16, h = 9;
    const { labels, nLabels, reference } = movie(w, h, 1, 23);
    const g = await createGpuProcessor(gpu(), { width: w, height: h, reference, labels, nLabels, threshold: 0.05 });
    await expect(g.process([new Uint16Array(10)])).rejects.toThrow(/frame 0 has 10 pixels, the processor expects 144/);
    // still usable after a rejected call
    const exact = Uint16Array.from(reference, Math.round);
    const [again] = await g.process([exact]);
    const [cpuAgain] = await createCpuProcessor({ width: w, height: h, reference, labels, nLabels, threshold: 0.05 }).process([exact]);
    expect(compareArrays(again.diff, cpuAgain.diff).maxAbs).toBeLessThan(1e-6);
    g.destroy();
    const lim = gpu().device.limits;
    const side = Math.ceil(Math.sqrt(lim.maxStorageBufferBindingSize / 4)) + 16;
    expect(() => gpuBatchSize(lim, { width: side, height: side })).not.toThrow();
    await expect(createGpuProcessor(gpu(), { width: side, height: side, reference: new Float32Array(side * side), labels: new Int32Array(side * side), nLabels: 0, threshold: 0.05 }))
      .rejects.toThrow(new RegExp(`${side}×${side} frame needs \\d+ bytes as float32, more than this device's maxStorageBufferBindingSize \\(${lim.maxStorageBufferBindingSize}\\)`));
  });
});
