/**
 * Imaging benchmarks (issue 3):
 *
 * (a) `diff-map`: ΔI/I0 maps per second of 2048×2048 16-bit frames (512×512 in quick mode) — the
 *     NumPy baseline `(I - I0) / I0` in float32, the TypeScript float32 reference diffMapCpu on one
 *     thread with the reference prepared once (its reciprocal; without and with a drift shift), the
 *     CPU frame processor (fresh map + per-particle sums per frame; without drift on all its threads
 *     and on one, with drift on all) and the GPU frame processor (upload, map with drift, per-particle
 *     sums, one readback per batch). Ratios come from this one run, NumPy included.
 * (b) `analyze-peak-memory`: peak resident memory of `ionflux analyze` streaming a multi-GB 16-bit
 *     TIFF, run as a child process (`node bin/ionflux.js analyze MOVIE --out DIR`) whose own
 *     `process.resourceUsage().maxRSS` is recorded on exit by a small wrapper. Only with
 *     IONFLUX_BENCH_LARGE=1 (writes IONFLUX_BENCH_LARGE_GB GiB, default 3, under IONFLUX_BENCH_DIR or
 *     the system temp folder, removed afterwards); otherwise one row says it was skipped.
 * (c) `analyze-hdf5-large`: peak RSS and wall time of `ionflux analyze` on the rigs' HDF5 layout — a
 *     `movie` dataset of 1920×1200 uint16 frames, chunked one frame per chunk, ~95 nm/pixel — written
 *     with h5wasm frame by frame. Frame counts IONFLUX_BENCH_HDF5_FRAMES (comma-separated, default
 *     `100,1000`: 1000 frames is 4.6 GB) so that memory can be compared against the frame count. Only
 *     with IONFLUX_BENCH_LARGE=1, like (b); files under IONFLUX_BENCH_DIR or the temp folder, removed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { diffMapCpu, labelReduceCpu, prepareReference } from '../../src/imaging/diffmap';
import { createCpuProcessor, createGpuProcessor, type FrameProcessorOptions } from '../../src/imaging/processor';
import { createTiffStackWriter } from '../../src/io/tiffWrite';
import { loadHdf5 } from '../../src/io/hdf5Movie';
import { spreadOf, timeIt, type BenchCase, type BenchContext, type BenchRow, type Timing } from '../harness';

/** A deterministic 16-bit scene: textured background, disk particles, frames that brighten over time. */
export function syntheticScene(width: number, height: number, nFrames: number, nParticles = 12) {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
  const reference = new Float32Array(width * height);
  const labels = new Int32Array(width * height);
  const disks = Array.from({ length: nParticles }, () => ({ cx: rnd() * width, cy: rnd() * height, r: (0.03 + 0.05 * rnd()) * Math.min(width, height) }));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const i = y * width + x;
    reference[i] = 8000 + 3000 * Math.sin(x * 0.05) * Math.cos(y * 0.07);
    disks.forEach((d, k) => {
      if ((x - d.cx) ** 2 + (y - d.cy) ** 2 < d.r * d.r) { labels[i] = k + 1; reference[i] += 20000; }
    });
    reference[i] = Math.round(reference[i]);
  }
  const frames: Uint16Array[] = [];
  for (let f = 0; f < nFrames; f++) {
    const fr = new Uint16Array(width * height);
    for (let i = 0; i < fr.length; i++) fr[i] = Math.min(65535, reference[i] * (1 + (labels[i] ? 0.02 * f : 0)) + 200 * rnd());
    frames.push(fr);
  }
  return { reference, labels, nLabels: nParticles, frames };
}

const numpyScript = (size: number, samples: number) => `
import json, time, numpy as np
rng = np.random.default_rng(1)
I0 = (8000 + 3000 * rng.random((${size}, ${size}))).astype(np.float32)
frames = [rng.integers(6000, 12000, (${size}, ${size}), dtype=np.uint16) for _ in range(4)]
def run(k):
    I = frames[k % 4]
    return (I - I0) / I0          # uint16 - float32 -> float32
for k in range(2): run(k)
ts = []
for k in range(${samples}):
    t = time.perf_counter(); d = run(k); ts.append(time.perf_counter() - t)
assert d.dtype == np.float32
ts.sort()
print(json.dumps({"median_s": ts[len(ts)//2], "min_s": ts[0], "max_s": ts[-1], "samples": len(ts), "numpy": np.__version__}))
`;

async function diffMapRows(ctx: BenchContext): Promise<BenchRow[]> {
  const size = ctx.quick ? 512 : 2048;
  const samples = ctx.quick ? 3 : 15;
  const sizeLabel = `${size}×${size} u16`;
  const rows: BenchRow[] = [];
  const caseName = 'diff-map';
  const id = (b: string) => `imaging.diffmap.${b}`;
  const unit = 'maps/s';

  ctx.log(`diff-map: building a ${sizeLabel} scene`);
  const nFrames = 8;
  const { reference, labels, nLabels, frames } = syntheticScene(size, size, nFrames);
  const shift: [number, number] = [0.37, -0.61];

  const np = ctx.numpy(numpyScript(size, samples)) as (Timing & { numpy: string }) | null;
  if (np) {
    rows.push({ id: id('numpy'), case: caseName, backend: 'numpy', size: sizeLabel, value: 1 / np.median_s, unit, better: 'higher', spread: spreadOf(np), note: `(I - I0) / I0, float32, NumPy ${np.numpy}, no NaN handling` });
  } else {
    ctx.log('diff-map: no python3 with NumPy, baseline skipped');
  }
  const ratioTo = np ? [id('numpy')] : [];

  // the reference's reciprocal once per movie, as the processor does (not in the per-map time)
  const tPrep0 = performance.now();
  const prepared = prepareReference(reference);
  const prepMs = performance.now() - tPrep0;
  const out = new Float32Array(size * size);
  let k = 0;
  const tCpu = await timeIt(() => diffMapCpu(frames[k++ % nFrames], prepared, size, size, {}, out), { warmup: 2, samples });
  rows.push({ id: id('cpu-ref'), case: caseName, backend: 'cpu-ref', size: sizeLabel, value: 1 / tCpu.median_s, unit, better: 'higher', spread: spreadOf(tCpu), ratioTo, note: `diffMapCpu, no shift, 1 thread, ${(tCpu.median_s * 1000).toFixed(1)} ms/map into a reused array; reference prepared once (1/I0, ${prepMs.toFixed(0)} ms)` });

  const tShift = await timeIt(() => diffMapCpu(frames[k++ % nFrames], prepared, size, size, { shift }, out), { warmup: 2, samples });
  rows.push({ id: id('cpu-ref-drift'), case: caseName, backend: 'cpu-ref', size: sizeLabel, value: 1 / tShift.median_s, unit, better: 'higher', spread: spreadOf(tShift), ratioTo: [id('cpu-ref'), ...ratioTo], note: `diffMapCpu with a bilinear drift shift, 1 thread, ${(tShift.median_s * 1000).toFixed(1)} ms/map` });

  const opts: FrameProcessorOptions = { width: size, height: size, reference, labels, nLabels, threshold: 0.05 };
  const shifts = frames.map((): [number, number] => shift);
  const cpuBatch = frames.slice(0, ctx.quick ? 2 : nFrames);
  const threadsRatio = [id('cpu-processor-direct-1t')]; // the N-thread row against 1 thread (when both ran)
  // backend `cpu-<threads>t`: the thread count the processor really used (it falls back to 1 without
  // worker_threads); the 1-thread row is left out where the default already is 1 thread
  const cpuProcessorRow = async (rowId: string, threads: number | undefined, withDrift: boolean, ratioRows: string[]) => {
    const proc = createCpuProcessor(opts, { threads });
    try {
      const batchShifts = withDrift ? shifts.slice(0, cpuBatch.length) : undefined;
      const t = await timeIt(() => proc.process(cpuBatch, batchShifts), { warmup: 1, samples: ctx.quick ? 2 : 5 });
      const rate = cpuBatch.length / t.median_s;
      rows.push({
        id: id(rowId), case: caseName, backend: `cpu-${proc.threads}t`, size: sizeLabel, value: rate, unit, better: 'higher', spread: spreadOf(t), ratioTo: [...ratioRows, ...ratioTo],
        note: `frame processor, ${proc.threads} thread${proc.threads === 1 ? '' : 's'}, batch ${cpuBatch.length}: map into the processor's reused output arrays (valid until the next call), ${withDrift ? 'JS kernel' : proc.wasm ? 'wasm SIMD kernel' : 'JS kernel (no wasm SIMD)'}${withDrift ? ' with drift' : ', no shift'} + ${nLabels} particles' sums, ${((1000 * t.median_s) / cpuBatch.length).toFixed(1)} ms/frame`,
      });
      return proc.threads;
    } finally {
      proc.destroy();
    }
  };
  const threads = await cpuProcessorRow('cpu-processor-direct', undefined, false, threadsRatio);
  if (threads > 1) await cpuProcessorRow('cpu-processor-direct-1t', 1, false, []);
  await cpuProcessorRow('cpu-processor', undefined, true, []);

  if (!ctx.gpu) {
    rows.push({ id: id('gpu'), case: caseName, backend: 'gpu', size: sizeLabel, value: NaN, unit, better: 'higher', note: 'skipped: no WebGPU adapter' });
    return rows;
  }
  const gpuProc = await createGpuProcessor(ctx.gpu, opts);
  try {
    const batch = Math.min(gpuProc.maxBatch, nFrames);
    const gpuFrames = frames.slice(0, batch);
    const tGpu = await timeIt(() => gpuProc.process(gpuFrames, shifts.slice(0, batch)), { warmup: 2, samples: ctx.quick ? 3 : 10 });
    const adapter = `${ctx.gpu.report.name}${ctx.gpu.report.software ? ' (software)' : ''}`;
    rows.push({
      id: id('gpu'), case: caseName, backend: 'gpu', size: sizeLabel, value: batch / tGpu.median_s, unit, better: 'higher', spread: spreadOf(tGpu),
      ratioTo: [id('cpu-ref'), id('cpu-processor'), ...ratioTo],
      note: `frame processor, batch ${batch}: upload + map with drift + particle sums + readback; adapter ${adapter}`,
    });
    // sanity: the GPU processor agrees with the reference on the timed data (a benchmark of wrong output is worthless)
    const [check] = await gpuProc.process([frames[1]], [shift]);
    const ref = diffMapCpu(frames[1], reference, size, size, { shift });
    let worst = 0;
    for (let i = 0; i < ref.length; i++) if (!Number.isNaN(ref[i])) worst = Math.max(worst, Math.abs(check.diff[i] - ref[i]) / (1 + Math.abs(ref[i])));
    const cpuStats = labelReduceCpu(check.diff, labels, nLabels, size, 0.05);
    if (worst > 1e-6 || cpuStats[3] !== check.labelStats[3]) throw new Error(`GPU frame processor disagrees with the CPU reference (worst relative error ${worst})`);
  } finally {
    gpuProc.destroy();
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------
// (b) peak memory of `ionflux analyze` on a large movie

/**
 * The ionflux folder (the one holding bin/ionflux.js): found upward from this module, which lives in
 * bench/cases/ in the sources but inside dist/cli.js once bundled; else the working directory.
 */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'bin', 'ionflux.js'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** Runs `node bin/ionflux.js ...args` in a child; its own peak RSS is written on exit by a wrapper. */
export function measureChildPeakRss(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { status: number | null; maxRss_kB: number | null; cpu_s: number | null; wall_s: number; stderr: string } {
  const root = projectRoot();
  const bin = path.join(root, 'bin', 'ionflux.js');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ionflux-rss-'));
  const rssFile = path.join(tmp, 'rss.json');
  // the wrapper makes the CLI believe it was started directly, and reports maxRSS (kB) as it exits
  const wrapper = `
import { writeFileSync } from 'node:fs';
process.on('exit', () => { const u = process.resourceUsage(); writeFileSync(process.env.IONFLUX_RSS_FILE, JSON.stringify({ maxRSS_kB: u.maxRSS, cpu_us: u.userCPUTime + u.systemCPUTime })); });
process.argv = [process.argv[0], ${JSON.stringify(bin)}, ...JSON.parse(process.env.IONFLUX_RSS_ARGS)];
await import(${JSON.stringify(pathToFileURL(bin).href)});
`;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', wrapper], {
    cwd: options.cwd ?? root,
    env: { ...process.env, ...options.env, IONFLUX_RSS_FILE: rssFile, IONFLUX_RSS_ARGS: JSON.stringify(args) },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const wall_s = (performance.now() - t0) / 1000;
  let maxRss_kB: number | null = null, cpu_s: number | null = null;
  if (existsSync(rssFile)) {
    const u = JSON.parse(readFileSync(rssFile, 'utf8'));
    maxRss_kB = u.maxRSS_kB;
    cpu_s = u.cpu_us / 1e6; // all threads of the process
  }
  rmSync(tmp, { recursive: true, force: true });
  return { status: r.status, maxRss_kB, cpu_s, wall_s, stderr: r.stderr ?? '' };
}

/**
 * Frame `f` of the large synthetic movies into `page`: the scene drifting by whole pixels, the right
 * half's particles brightening over the movie, a fixed texture added.
 */
function largeMovieFrame(reference: ArrayLike<number>, labels: ArrayLike<number>, width: number, height: number, frames: number, f: number, page: Uint16Array): Uint16Array {
  const dx = Math.round(3 * Math.sin(f / 40)), dy = Math.round(2 * Math.cos(f / 55)); // whole-pixel drift
  const gain = 1 + 0.3 * Math.min(1, f / frames);
  for (let y = 0; y < height; y++) {
    const ys = Math.min(height - 1, Math.max(0, y - dy));
    for (let x = 0; x < width; x++) {
      const i = ys * width + Math.min(width - 1, Math.max(0, x - dx));
      page[y * width + x] = Math.min(65535, labels[i] && x > width / 2 ? reference[i] * gain : reference[i]) + ((x * 7 + y * 13 + f) & 63);
    }
  }
  return page;
}

/**
 * Writes a 16-bit multi-page TIFF of `frames` pages (width × height) with drifting, brightening
 * particles, one page at a time (the movie never sits in memory).
 */
export async function writeLargeMovie(file: string, width: number, height: number, frames: number): Promise<void> {
  const { reference, labels } = syntheticScene(width, height, 0, 20);
  const writer = await createTiffStackWriter(file, { width, height, sampleType: 'uint16', frames, imagej: { pixel_um: 0.05, frame_s: 10 } });
  const page = new Uint16Array(width * height);
  try {
    for (let f = 0; f < frames; f++) {
      await writer.writePage(largeMovieFrame(reference, labels, width, height, frames, f, page));
    }
    await writer.close();
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

async function peakMemoryRows(ctx: BenchContext): Promise<BenchRow[]> {
  const caseName = 'analyze-peak-memory';
  const gib = Number(process.env.IONFLUX_BENCH_LARGE_GB ?? 3);
  const width = 2048, height = 2048;
  const frames = Math.max(2, Math.ceil((gib * 2 ** 30) / (width * height * 2)));
  const sizeLabel = `${frames}×${width}×${height} u16 (${((frames * width * height * 2) / 2 ** 30).toFixed(1)} GiB)`;
  const skipped = (note: string): BenchRow[] => [{ id: 'imaging.peak-rss', case: caseName, backend: '-', size: sizeLabel, value: NaN, unit: 'MiB', better: 'lower', note }];
  if (process.env.IONFLUX_BENCH_LARGE !== '1') return skipped('skipped: set IONFLUX_BENCH_LARGE=1 (writes a multi-GB TIFF; IONFLUX_BENCH_LARGE_GB, IONFLUX_BENCH_DIR)');
  if (!existsSync(path.join(projectRoot(), 'dist', 'cli.js'))) return skipped('skipped: dist/cli.js missing, run `npm run build` first');
  if (!Number.isFinite(gib) || gib <= 0) return skipped(`skipped: IONFLUX_BENCH_LARGE_GB = ${process.env.IONFLUX_BENCH_LARGE_GB} is not a positive number`);

  const dir = mkdtempSync(path.join(process.env.IONFLUX_BENCH_DIR ?? os.tmpdir(), 'ionflux-bench-large-'));
  const rows: BenchRow[] = [];
  try {
    const movie = path.join(dir, 'movie.tif');
    ctx.log(`analyze-peak-memory: writing ${sizeLabel} to ${movie}`);
    const t0 = performance.now();
    await writeLargeMovie(movie, width, height, frames);
    const movieMiB = statSync(movie).size / 2 ** 20;
    ctx.log(`analyze-peak-memory: wrote ${movieMiB.toFixed(0)} MiB in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const backends = ctx.gpu ? ['gpu', 'cpu'] : ['cpu'];
    for (const backend of backends) {
      const outDir = path.join(dir, `out-${backend}`);
      ctx.log(`analyze-peak-memory: ionflux analyze --backend ${backend} (child process)`);
      const r = measureChildPeakRss(['analyze', movie, '--out', outDir, '--backend', backend, '--quiet']);
      const ok = r.status === 0 && r.maxRss_kB !== null;
      const reason = ok ? '' : `; FAILED (exit ${r.status}): ${r.stderr.trim().split('\n').pop() ?? ''}`;
      const rssMiB = r.maxRss_kB === null ? NaN : r.maxRss_kB / 1024;
      rows.push({
        id: `imaging.peak-rss.${backend}`, case: caseName, backend, size: sizeLabel, value: rssMiB, unit: 'MiB', better: 'lower',
        note: `peak RSS of the analyze process = ${((100 * rssMiB) / movieMiB).toFixed(1)} % of the movie; ${r.wall_s.toFixed(0)} s wall${backend === 'gpu' && ctx.gpu?.report.software ? '; software adapter: its GPU buffers count in RSS' : ''}${reason}`,
      });
      rmSync(outDir, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------
// (c) `ionflux analyze` on a rig-sized HDF5 movie

/**
 * Writes an HDF5 file with a `movie` dataset (frames × height × width uint16, one chunk per frame,
 * attributes pixel_size_um = 0.095 and frame_interval_s = 1) with h5wasm, one frame at a time.
 */
export async function writeLargeHdf5Movie(file: string, width: number, height: number, frames: number): Promise<void> {
  const h5wasm = await loadHdf5();
  const { reference, labels } = syntheticScene(width, height, 0, 40);
  const page = new Uint16Array(width * height);
  const fill = (f: number) => largeMovieFrame(reference, labels, width, height, frames, f, page);
  const h5 = new h5wasm.File(file, 'w');
  try {
    const d = h5.create_dataset({ name: 'movie', data: fill(0), shape: [1, height, width], dtype: '<H', maxshape: [null, height, width], chunks: [1, height, width] });
    d.create_attribute('pixel_size_um', 0.095);
    d.create_attribute('frame_interval_s', 1.0);
    d.resize([frames, height, width]);
    for (let f = 0; f < frames; f++) d.write_slice([[f, f + 1]], fill(f));
  } finally {
    h5.close();
  }
}

async function hdf5LargeRows(ctx: BenchContext): Promise<BenchRow[]> {
  const caseName = 'analyze-hdf5-large';
  const width = 1920, height = 1200;
  const spec = process.env.IONFLUX_BENCH_HDF5_FRAMES ?? '100,1000';
  const counts = spec.split(',').map((s) => Number(s.trim()));
  const label = (n: number) => `${n}×${height}×${width} u16 HDF5 (${((n * width * height * 2) / 1e9).toFixed(2)} GB)`;
  const skipped = (note: string): BenchRow[] => [{ id: 'imaging.hdf5-large', case: caseName, backend: '-', size: label(1000), value: NaN, unit: 'MiB', better: 'lower', note }];
  if (process.env.IONFLUX_BENCH_LARGE !== '1') return skipped('skipped: set IONFLUX_BENCH_LARGE=1 (writes a 4.6 GB HDF5 movie; IONFLUX_BENCH_HDF5_FRAMES, IONFLUX_BENCH_DIR)');
  if (!existsSync(path.join(projectRoot(), 'dist', 'cli.js'))) return skipped('skipped: dist/cli.js missing, run `npm run build` first');
  if (!counts.length || counts.some((n) => !Number.isInteger(n) || n < 2)) return skipped(`skipped: IONFLUX_BENCH_HDF5_FRAMES = '${spec}' is not a list of integers ≥ 2`);
  // a real adapter only: a software one would measure the CPU twice, and its buffers count in RSS
  const backends = ctx.gpu && !ctx.gpu.report.software ? ['gpu', 'cpu'] : ['cpu'];
  const rows: BenchRow[] = [];
  for (const frames of counts) {
    const dir = mkdtempSync(path.join(process.env.IONFLUX_BENCH_DIR ?? os.tmpdir(), 'ionflux-bench-hdf5-'));
    try {
      const movie = path.join(dir, 'movie.h5');
      ctx.log(`${caseName}: writing ${label(frames)} to ${movie}`);
      const t0 = performance.now();
      await writeLargeHdf5Movie(movie, width, height, frames);
      const movieMB = statSync(movie).size / 1e6;
      ctx.log(`${caseName}: wrote ${movieMB.toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      for (const backend of backends) {
        const outDir = path.join(dir, `out-${backend}`);
        ctx.log(`${caseName}: ionflux analyze ${frames} frames --backend ${backend} (child process)`);
        const r = measureChildPeakRss(['analyze', movie, '--out', outDir, '--backend', backend, '--quiet']);
        const ok = r.status === 0 && r.maxRss_kB !== null;
        const reason = ok ? '' : `; FAILED (exit ${r.status}): ${r.stderr.trim().split('\n').pop() ?? ''}`;
        let particles = '';
        if (ok) {
          const s = JSON.parse(readFileSync(path.join(outDir, 'summary.json'), 'utf8'));
          particles = `, ${s.particles} particles, calibration ${s.calibration.pixel_um.value} µm (${s.calibration.pixel_um.source})`;
        }
        const rssMiB = r.maxRss_kB === null ? NaN : r.maxRss_kB / 1024;
        const size = label(frames);
        rows.push({
          id: `imaging.hdf5-large.${frames}.${backend}.rss`, case: caseName, backend, size, value: rssMiB, unit: 'MiB', better: 'lower',
          note: `peak RSS of the analyze process (${((100 * rssMiB * 1.048576) / movieMB).toFixed(1)} % of the ${movieMB.toFixed(0)} MB movie)${particles}${reason}`,
        });
        rows.push({
          id: `imaging.hdf5-large.${frames}.${backend}.time`, case: caseName, backend, size, value: r.wall_s, unit: 's', better: 'lower',
          note: `wall time of \`ionflux analyze\` incl. start-up: ${(frames / r.wall_s).toFixed(2)} frames/s${reason}`,
        });
        rmSync(outDir, { recursive: true, force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

export const imagingCases: BenchCase[] = [
  { name: 'diff-map', run: diffMapRows },
  { name: 'analyze-peak-memory', run: peakMemoryRows },
  { name: 'analyze-hdf5-large', run: hdf5LargeRows },
];
