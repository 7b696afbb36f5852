/**
 * shaders/label_reduce.wgsl through its owner (src/kernels/labelReduce.ts) against labelReduceCpu on
 * the same ΔI/I0 maps, on a real WebGPU device.
 *
 * Tolerances: counts and coordinate sums must be exact (u32 per chunk, float64 across chunks);
 * sumDiff within 1e-6 · Σ|ΔI/I0| of the label (float32 tree sums over ≤ chunkPixels values).
 */
import { describe, expect, it } from 'vitest';
import { labelReduceCpu, LABEL_STATS_STRIDE } from '../../src/imaging/diffmap';
import { LabelReduceKernel, buildLabelChunks, float32AtLeast } from '../../src/kernels/labelReduce';
import { readBuffer } from '../../src/gpu/device';
import { expectNoGpuError, useGpu } from '../helpers/gpu';
import { rng } from '../helpers/random';

const gpu = useGpu();


/** Disks of random size (label nLabels stays empty), maps that differ per frame, NaNs, threshold ties. */
function scene(w: number, h: number, nLabels: number, nFrames: number, threshold: number, seed: number) {
  const r = rng(seed);
  const labels = new Int32Array(w * h);
  for (let k = 1; k < nLabels; k++) {
    const cx = r() * w, cy = r() * h, rad = 2 + r() * Math.min(w, h) * 0.4;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < rad * rad) labels[y * w + x] = k;
  }
  const t32 = Math.fround(threshold);
  const below = new Float32Array(1);
  const maps: Float32Array[] = [];
  for (let f = 0; f < nFrames; f++) {
    const d = new Float32Array(w * h);
    for (let i = 0; i < d.length; i++) {
      const u = r();
      if (u < 0.04) d[i] = NaN;
      else if (u < 0.06) d[i] = t32; // exactly at the float32 threshold: not unreacted
      else if (u < 0.08) { below[0] = t32; new Uint32Array(below.buffer)[0] -= 1; d[i] = below[0]; } // one ulp below
      else d[i] = ((i % w) / w) * 0.15 - 0.02 + f * 0.03 + (r() - 0.5) * 0.05;
    }
    maps.push(d);
  }
  return { labels, maps };
}

async function runKernel(w: number, h: number, labels: Int32Array, nLabels: number, maps: Float32Array[], threshold: number, chunkPixels?: number, workgroupSize?: number) {
  const ctx = gpu();
  const { device } = ctx;
  return expectNoGpuError(device, async () => {
    const n = maps.length, pixels = w * h;
    const diff = device.createBuffer({ label: 'test.labelReduce.diff', size: n * pixels * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    maps.forEach((m, f) => device.queue.writeBuffer(diff, f * pixels * 4, m as Float32Array<ArrayBuffer>));
    const k = new LabelReduceKernel(ctx, { width: w, height: h, labels, nLabels, maxBatch: n, diff, chunkPixels, workgroupSize });
    k.setBatch(n, threshold);
    const enc = device.createCommandEncoder({ label: 'test.labelReduce' });
    const pass = enc.beginComputePass({ label: 'test.labelReduce.pass' });
    k.encode(pass);
    pass.end();
    device.queue.submit([enc.finish()]);
    const words = new Uint32Array(await readBuffer(device, k.partials, n * k.partialBytesPerFrame));
    const perFrame = k.partialBytesPerFrame / 4;
    const stats = maps.map((_, f) => k.reduceFrame(words.subarray(f * perFrame, (f + 1) * perFrame)));
    const nChunks = k.nChunks;
    k.destroy();
    diff.destroy();
    return { stats, nChunks };
  });
}

function expectSameStats(gpuStats: Float64Array, cpuStats: Float64Array, map: Float32Array, labels: Int32Array) {
  const absSum = new Float64Array(cpuStats.length / LABEL_STATS_STRIDE);
  labels.forEach((l, i) => { if (l > 0 && !Number.isNaN(map[i])) absSum[l - 1] += Math.abs(map[i]); });
  for (let l = 0; l < absSum.length; l++) {
    const o = l * LABEL_STATS_STRIDE;
    for (const k of [0, 2, 3, 4, 5, 6, 7]) expect(gpuStats[o + k]).toBe(cpuStats[o + k]);
    expect(Math.abs(gpuStats[o + 1] - cpuStats[o + 1])).toBeLessThanOrEqual(1e-6 * absSum[l]);
  }
}

describe('float32AtLeast', () => {
  it('is the smallest float32 ≥ t, so float32 `v < T` equals float64 `v < t`', () => {
    const f = new Float32Array(1), u = new Uint32Array(f.buffer);
    for (const t of [0.05, -0.05, 0.1, 1 / 3, 0.5, 1e-30, -1e-30, 0, 123.456, 2 ** -140]) {
      const T = float32AtLeast(t);
      expect(Math.fround(T)).toBe(T);
      expect(T).toBeGreaterThanOrEqual(t);
      // the float32 just below T is below t
      f[0] = T;
      if (T > 0) u[0] -= 1; else if (T < 0) u[0] += 1; else f[0] = -(2 ** -149);
      expect(f[0]).toBeLessThan(t);
    }
  });
});

describe('buildLabelChunks', () => {
  it('groups pixels by label and cuts each run into chunks', () => {
    const labels = Int32Array.from([2, 1, 0, 2, 2, 1, 2, 0, 2]);
    const { pixelIndex, chunks, nChunks } = buildLabelChunks(labels, 3, 2);
    expect(Array.from(pixelIndex)).toEqual([1, 5, 0, 3, 4, 6, 8]);
    // label 1: [0,2); label 2: [2,4), [4,6), [6,7); label 3: none
    expect(nChunks).toBe(4);
    expect(Array.from(chunks)).toEqual([1, 0, 2, 0, 2, 2, 4, 0, 2, 4, 6, 0, 2, 6, 7, 0]);
    expect(() => buildLabelChunks(Int32Array.from([0, 4]), 3, 2)).toThrow(/labels\[1\] = 4 is outside 0..3/);
  });
});

describe('LabelReduceKernel vs labelReduceCpu', () => {
  it('several labels (one empty), many chunks, NaNs and threshold ties, 3 frames, 61×47', async () => {
    const w = 61, h = 47, nLabels = 6, threshold = 0.05;
    const { labels, maps } = scene(w, h, nLabels, 3, threshold, 11);
    const { stats, nChunks } = await runKernel(w, h, labels, nLabels, maps, threshold, 64, 32);
    expect(nChunks).toBeGreaterThan(nLabels); // several chunks per label, so the CPU sum of partials is exercised
    maps.forEach((m, f) => {
      const cpu = labelReduceCpu(m, labels, nLabels, w, threshold);
      expectSameStats(stats[f], cpu, m, labels);
      expect(cpu[(nLabels - 1) * LABEL_STATS_STRIDE]).toBe(0); // the empty label
    });
    // the frames differ: their unreacted counts must too (a kernel reading frame 0 thrice would not)
    const unreacted = stats.map((s) => s.reduce((acc, v, i) => (i % LABEL_STATS_STRIDE === 3 ? acc + v : acc), 0));
    expect(new Set(unreacted).size).toBe(3);
  });

  it('default chunking on a 300×257 frame with one large particle and a thin one', async () => {
    const w = 300, h = 257, nLabels = 2, threshold = 0.03;
    const labels = new Int32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      if ((x - 150) ** 2 + (y - 128) ** 2 < 120 ** 2) labels[y * w + x] = 1;
      else if (x === 2) labels[y * w + x] = 2;
    }
    const { maps } = scene(w, h, 1, 2, threshold, 12);
    const { stats } = await runKernel(w, h, labels, nLabels, maps, threshold);
    maps.forEach((m, f) => expectSameStats(stats[f], labelReduceCpu(m, labels, nLabels, w, threshold), m, labels));
  });

  it('no labelled pixel: all zeros, no dispatch', async () => {
    const w = 8, h = 5;
    const { stats, nChunks } = await runKernel(w, h, new Int32Array(w * h), 2, [new Float32Array(w * h).fill(0.01)], 0.05);
    expect(nChunks).toBe(0);
    expect(Array.from(stats[0])).toEqual(new Array(16).fill(0));
  });
});
