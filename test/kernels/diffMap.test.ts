/**
 * shaders/diff_map.wgsl through its owner (src/kernels/diffMap.ts) against diffMapCpu, element-wise,
 * on a real WebGPU device; and the byte layout of its uniform / per-frame structs read back through
 * the GPU.
 *
 * Tolerance: |gpu − cpu| ≤ 1e-6 · (1 + |cpu|) unsmoothed, 1e-5 · (1 + |cpu|) smoothed. Why: the CPU
 * interpolates in float64 and rounds once; the GPU works in float32 (bilinear weights, interpolation
 * ≈ 3 roundings, then (v − r)/r with WGSL's 2.5-ulp division): a few ulps of v/r = 1 + ΔI/I0. The
 * smoothed map adds (2r+1)² float32 sums against float64 running sums. NaN positions must be identical.
 */
import { describe, expect, it } from 'vitest';
import diffMapSource from '../../shaders/diff_map.wgsl?raw';
import { diffMapCpu, type FrameData } from '../../src/imaging/diffmap';
import { DIFF_PARAMS_LAYOUT, DiffMapKernel, FRAME_INFO_LAYOUT, FrameFormat, checkDiffGrid, frameWords, writeDiffParams, writeFrameInfo } from '../../src/kernels/diffMap';
import { readBuffer } from '../../src/gpu/device';
import labelReduceSource from '../../shaders/label_reduce.wgsl?raw';
import { LABEL_PARAMS_LAYOUT, writeLabelParams } from '../../src/kernels/labelReduce';
import { compareArrays, expectNoGpuError, useGpu } from '../helpers/gpu';
import { rng } from '../helpers/random';

const gpu = useGpu();

/**
 * Reads a WGSL struct back through the GPU: takes the struct's declaration from the shader source,
 * binds `data` as that struct (uniform) or as array<struct> (storage, element `index`), and has a
 * one-invocation shader copy every field's bits out. Returns field → value (vectors as arrays);
 * fields named _… (padding) are skipped. A layout mismatch between TS and WGSL shows as wrong values.
 */
async function structLayoutProbe(device: GPUDevice, shader: string, name: string, space: 'uniform' | 'storage', data: ArrayBuffer, index = 0) {
  const decl = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(shader);
  if (!decl) throw new Error(`struct ${name} not found`);
  const fields = decl[1].split('\n').map((l) => l.replace(/\/\/.*$/, '').trim()).join(' ').split(',')
    .map((f) => f.trim()).filter(Boolean).map((f) => { const [n, t] = f.split(':').map((x) => x.trim()); return { n, t }; });
  const lines: string[] = [];
  const decoders: { n: string; comps: number; scalar: string; at: number }[] = [];
  let k = 0;
  for (const { n, t } of fields) {
    if (n.startsWith('_')) continue;
    const vec = /^vec([234])<(\w+)>$/.exec(t);
    const comps = vec ? Number(vec[1]) : 1, scalar = vec ? vec[2] : t;
    decoders.push({ n, comps, scalar, at: k });
    for (let c = 0; c < comps; c++) lines.push(`out[${k++}] = bitcast<u32>(s.${n}${vec ? `[${c}]` : ''});`);
  }
  const binding = space === 'uniform' ? `@group(0) @binding(0) var<uniform> src: ${name};` : `@group(0) @binding(0) var<storage, read> src: array<${name}>;`;
  const code = `${decl[0]}\n${binding}\n@group(0) @binding(1) var<storage, read_write> out: array<u32>;\n` +
    `@compute @workgroup_size(1) fn main() {\n let s = src${space === 'uniform' ? '' : `[${index}]`};\n ${lines.join('\n ')}\n}`;
  const input = device.createBuffer({ label: 'test.probe.in', size: data.byteLength, usage: (space === 'uniform' ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE) | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(input, 0, data);
  const output = device.createBuffer({ label: 'test.probe.out', size: 4 * k, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const pipeline = device.createComputePipeline({ label: 'test.probe', layout: 'auto', compute: { module: device.createShaderModule({ label: 'test.probe', code }), entryPoint: 'main' } });
  const bg = device.createBindGroup({ label: 'test.probe', layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: input } }, { binding: 1, resource: { buffer: output } }] });
  const enc = device.createCommandEncoder({ label: 'test.probe' });
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bg);
  pass.dispatchWorkgroups(1);
  pass.end();
  device.queue.submit([enc.finish()]);
  const raw = await readBuffer(device, output, 4 * k);
  input.destroy();
  output.destroy();
  const u = new Uint32Array(raw), f = new Float32Array(raw), i32 = new Int32Array(raw);
  const result: Record<string, number | number[]> = {};
  for (const d of decoders) {
    const vals = Array.from({ length: d.comps }, (_, c) => (d.scalar === 'f32' ? f : d.scalar === 'i32' ? i32 : u)[d.at + c]);
    result[d.n] = d.comps === 1 ? vals[0] : vals;
  }
  return result;
}


/** A reference with texture, a zero pixel, a subnormal, ±Inf and NaN; frames that differ per frame. */
function makeScene(w: number, h: number, nFrames: number, kind: 'u8' | 'u16' | 'f32', seed: number) {
  const r = rng(seed);
  const max = kind === 'u8' ? 255 : kind === 'u16' ? 65535 : 5000;
  const ref = new Float32Array(w * h);
  for (let i = 0; i < ref.length; i++) ref[i] = Math.max(1, Math.round(max * (0.2 + 0.6 * r())));
  ref[3] = 0; ref[w + 1] = 1e-41; ref[2 * w + 5] = Infinity; ref[w * h - 2] = NaN;
  const frames: FrameData[] = [];
  for (let f = 0; f < nFrames; f++) {
    const vals = Array.from(ref, (v, i) => (Number.isFinite(v) ? v : 100) * (0.8 + 0.4 * r()) + f * ((i % 7) - 3));
    const clamp = (v: number) => Math.min(max, Math.max(0, Math.round(v)));
    if (kind === 'u8') frames.push(Uint8Array.from(vals, clamp));
    else if (kind === 'u16') frames.push(Uint16Array.from(vals, clamp));
    else {
      const fr = Float32Array.from(vals);
      fr[(7 * f + 11) % fr.length] = NaN;
      fr[(13 * f + 29) % fr.length] = -Infinity;
      frames.push(fr);
    }
  }
  return { ref, frames };
}

async function runKernel(w: number, h: number, ref: Float32Array, frames: FrameData[], shifts: ([number, number] | undefined)[], smoothRadius = 0, workgroup?: [number, number], pixelsPerInvocation?: number) {
  const ctx = gpu();
  const { device } = ctx;
  return expectNoGpuError(device, async () => {
    const k = new DiffMapKernel(ctx, { width: w, height: h, reference: ref, smoothRadius, maxBatch: frames.length, workgroup, pixelsPerInvocation });
    k.upload(frames, shifts);
    const enc = device.createCommandEncoder({ label: 'test.diffMap' });
    const pass = enc.beginComputePass({ label: 'test.diffMap.pass' });
    k.encode(pass);
    pass.end();
    device.queue.submit([enc.finish()]);
    const out = new Float32Array(await readBuffer(device, k.diff, frames.length * w * h * 4));
    k.destroy();
    return frames.map((_, f) => out.subarray(f * w * h, (f + 1) * w * h));
  });
}

function expectClose(gpuMap: Float32Array, cpuMap: Float32Array, relTol: number) {
  const { nanMismatch } = compareArrays(gpuMap, cpuMap);
  expect(nanMismatch).toBe(0);
  let worst = 0;
  for (let i = 0; i < cpuMap.length; i++) {
    const c = cpuMap[i];
    if (Number.isNaN(c)) continue;
    worst = Math.max(worst, Math.abs(gpuMap[i] - c) / (1 + Math.abs(c)));
  }
  expect(worst).toBeLessThanOrEqual(relTol);
  return worst;
}

describe('diff_map.wgsl struct layout', () => {
  it('Params and FrameInfo are where writeDiffParams / writeFrameInfo put them', async () => {
    const ctx = gpu();
    const params = new ArrayBuffer(DIFF_PARAMS_LAYOUT.size);
    writeDiffParams(new DataView(params), { width: 1234, height: 567, nFrames: 9, smoothRadius: 3 });
    const got = await structLayoutProbe(ctx.device, diffMapSource, 'Params', 'uniform', params);
    expect(got).toEqual({ width: 1234, height: 567, nFrames: 9, smoothRadius: 3 });

    // two FrameInfo records, the second read through the array stride
    const infos = new ArrayBuffer(2 * FRAME_INFO_LAYOUT.size);
    writeFrameInfo(new DataView(infos), 0, { shiftX: 9, shiftY: 9, format: FrameFormat.u8, wordOffset: 9 });
    writeFrameInfo(new DataView(infos), 1, { shiftX: -1.5, shiftY: 0.25, format: FrameFormat.f32, wordOffset: 4242 });
    const info = await structLayoutProbe(ctx.device, diffMapSource, 'FrameInfo', 'storage', infos, 1);
    expect(info).toEqual({ shift: [-1.5, 0.25], format: FrameFormat.f32, wordOffset: 4242 });
  });

  it('label_reduce.wgsl Params is where writeLabelParams puts it (threshold as the float32 ≥ t)', async () => {
    const params = new ArrayBuffer(LABEL_PARAMS_LAYOUT.size);
    writeLabelParams(new DataView(params), { width: 2048, pixelsPerFrame: 2048 * 1999, nChunks: 77, nFrames: 5, threshold: 0.05 });
    const got = await structLayoutProbe(gpu().device, labelReduceSource, 'Params', 'uniform', params);
    expect(got).toEqual({ width: 2048, pixelsPerFrame: 2048 * 1999, nChunks: 77, nFrames: 5, threshold: Math.fround(0.05) });
  });
});

describe('DiffMapKernel vs diffMapCpu', () => {
  const shiftsFor = (n: number): ([number, number] | undefined)[] =>
    [undefined, [1.25, -0.5], [-2, 3], [0.3, 0.7], [-0.125, -4.5]].slice(0, n) as ([number, number] | undefined)[];

  for (const kind of ['u8', 'u16', 'f32'] as const) {
    it(`${kind} frames, 37×23 and 70×41 (not multiples of the workgroup), per-frame shifts`, async () => {
      for (const [w, h] of [[37, 23], [70, 41]]) {
        const { ref, frames } = makeScene(w, h, 4, kind, w * 31 + h);
        const shifts = shiftsFor(4);
        const g = await runKernel(w, h, ref, frames, shifts);
        const worst = frames.map((fr, f) => expectClose(g[f], diffMapCpu(fr, ref, w, h, { shift: shifts[f] }), 1e-6));
        // the frames differ, so identical maps would mean the batch offsets are wrong
        expect(compareArrays(g[0], g[1]).maxAbs).toBeGreaterThan(1e-3);
        expect(Math.max(...worst)).toBeLessThanOrEqual(1e-6);
      }
    });
  }

  it('frames of mixed formats in one batch, odd pixel count (padded uploads), several grid shapes', async () => {
    const w = 33, h = 7; // 231 pixels: 8- and 16-bit frames are not whole words
    const a = makeScene(w, h, 1, 'u8', 1), b = makeScene(w, h, 1, 'u16', 2), c = makeScene(w, h, 1, 'f32', 3);
    const frames = [a.frames[0], b.frames[0], c.frames[0], Uint8Array.from(a.frames[0], (v) => 255 - v)];
    const shifts: [number, number][] = [[0, 0], [0.5, 0.5], [-1, 0], [3, 2]];
    // default grid, and others: 1 and 3 pixels per invocation (33 is no multiple of 3·8), 8×4 workgroups
    for (const [wg, ppi] of [[undefined, undefined], [[8, 4], 3], [[4, 2], 1]] as [[number, number] | undefined, number | undefined][]) {
      const g = await runKernel(w, h, b.ref, frames, shifts, 0, wg, ppi);
      frames.forEach((fr, f) => expectClose(g[f], diffMapCpu(fr, b.ref, w, h, { shift: shifts[f] }), 1e-6));
    }
  });

  it('smoothing (r = 1, 3) matches, NaN holes kept', async () => {
    for (const radius of [1, 3]) {
      const w = 45, h = 29;
      const { ref, frames } = makeScene(w, h, 3, 'u16', 100 + radius);
      const shifts = shiftsFor(3);
      const g = await runKernel(w, h, ref, frames, shifts, radius, [8, 4]);
      frames.forEach((fr, f) => expectClose(g[f], diffMapCpu(fr, ref, w, h, { shift: shifts[f], smoothRadius: radius }), 1e-5));
    }
  });

  it('a constant movie gives an exact zero map on the GPU too, and a zero reference NaN (not Inf)', async () => {
    const w = 19, h = 11;
    const ref = Float32Array.from({ length: w * h }, (_, i) => 100 + (i % 17) * 300);
    ref[4] = 0;
    const frame = Uint16Array.from(ref);
    const [g] = await runKernel(w, h, ref, [frame], [undefined]);
    g.forEach((v, i) => (i === 4 ? expect(Number.isNaN(v)).toBe(true) : expect(v).toBe(0)));
  });

  it('undoes a known drift on the GPU: integer exactly, fractional on a bilinear field, NaN strip where it leaves the frame', async () => {
    const w = 29, h = 18, r = rng(77);
    const ref = Float32Array.from({ length: w * h }, () => 100 + Math.floor(r() * 60000));
    const [dx, dy] = [-2, 3]; // content moved left 2, down 3
    const frame = new Uint16Array(w * h).fill(1);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const xs = x - dx, ys = y - dy;
      if (xs >= 0 && xs < w && ys >= 0 && ys < h) frame[y * w + x] = ref[ys * w + xs];
    }
    const g = (x: number, y: number) => 300 + 11 * x - 4 * y + 0.5 * x * y;
    const [fx, fy] = [0.75, -1.25];
    const lin = new Float32Array(w * h), linFrame = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { lin[y * w + x] = g(x, y); linFrame[y * w + x] = g(x - fx, y - fy); }
    const [a] = await runKernel(w, h, ref, [frame], [[dx, dy]]);
    const [b] = await runKernel(w, h, lin, [linFrame], [[fx, fy]]);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (x + dx >= 0 && y + dy <= h - 1) expect(a[i]).toBe(0); else expect(Number.isNaN(a[i])).toBe(true);
      if (x + fx <= w - 1 && y + fy >= 0) expect(Math.abs(b[i])).toBeLessThan(1e-6); else expect(Number.isNaN(b[i])).toBe(true);
    }
  });

  it('frame word packing: u8 4 per word, u16 2, f32 1, rounded up', () => {
    expect(frameWords(FrameFormat.u8, 9)).toBe(3);
    expect(frameWords(FrameFormat.u16, 9)).toBe(5);
    expect(frameWords(FrameFormat.f32, 9)).toBe(9);
  });

  it('refuses a grid the device cannot run, naming the frame size and the limit', () => {
    const lim = { ...gpu().device.limits, maxStorageBufferBindingSize: 64 * 1024 * 1024, maxBufferSize: 2 ** 31, maxComputeWorkgroupsPerDimension: 65535 } as GPUSupportedLimits;
    expect(() => checkDiffGrid(lim, 8192, 4096, 1)).toThrow(/8192×4096 frame needs 134217728 bytes.*maxStorageBufferBindingSize \(67108864\)/);
    expect(() => checkDiffGrid({ ...lim, maxComputeWorkgroupsPerDimension: 100 } as GPUSupportedLimits, 2000, 10, 1)).toThrow(/2000×10 frame.*maxComputeWorkgroupsPerDimension \(100\)/);
    expect(() => checkDiffGrid(lim, 2048, 2048, 8)).toThrow(/batch of 8/);
  });
});
