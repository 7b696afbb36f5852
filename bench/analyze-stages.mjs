// CPU time of each stage of `analyze`'s pass 1 on one thread, ms per frame (medians over frames), on
// the bench's generated 16-bit movie (bench/cases/imaging.ts writeLargeMovie: 20 disks on a textured
// background, whole-pixel drift, brightening). CPU time, not wall time: on a shared machine the wall
// time of a stage says more about the other jobs than about the stage.
//   npm run build && node bench/analyze-stages.mjs [side=2048] [frames=12]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openMovie, DriftEstimator, createCpuProcessor, createTiffStackWriter, segmentParticles } from '../dist/lib/index.js';

const side = Number(process.argv[2] ?? 2048), N = Number(process.argv[3] ?? 12);
const dir = mkdtempSync(path.join(os.tmpdir(), 'ionflux-stages-'));
const W = side, H = side;
// ---- the movie (as writeLargeMovie)
{
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
  const reference = new Float32Array(W * H), labels = new Int32Array(W * H);
  const disks = Array.from({ length: 20 }, () => ({ cx: rnd() * W, cy: rnd() * H, r: (0.03 + 0.05 * rnd()) * Math.min(W, H) }));
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = y * W + x;
    reference[i] = 8000 + 3000 * Math.sin(x * 0.05) * Math.cos(y * 0.07);
    disks.forEach((d, k) => { if ((x - d.cx) ** 2 + (y - d.cy) ** 2 < d.r * d.r) { labels[i] = k + 1; reference[i] += 20000; } });
    reference[i] = Math.round(reference[i]);
  }
  const frames = N + 1;
  const w = await createTiffStackWriter(path.join(dir, 'movie.tif'), { width: W, height: H, sampleType: 'uint16', frames, imagej: { pixel_um: 0.05, frame_s: 10 } });
  const page = new Uint16Array(W * H);
  for (let f = 0; f < frames; f++) {
    const dx = Math.round(3 * Math.sin(f / 40)), dy = Math.round(2 * Math.cos(f / 55)), gain = 1 + 0.3 * Math.min(1, f / frames);
    for (let y = 0; y < H; y++) {
      const ys = Math.min(H - 1, Math.max(0, y - dy));
      for (let x = 0; x < W; x++) {
        const i = ys * W + Math.min(W - 1, Math.max(0, x - dx));
        page[y * W + x] = Math.min(65535, labels[i] && x > W / 2 ? reference[i] * gain : reference[i]) + ((x * 7 + y * 13 + f) & 63);
      }
    }
    await w.writePage(page);
  }
  await w.close();
}
// ---- the stages
const movie = await openMovie(path.join(dir, 'movie.tif'));
const ref0 = await movie.readFrame(0);
const ref = Float32Array.from(ref0);
const seg = segmentParticles(ref0, W, H, { pixel_um: 0.05, dropBorder: true });
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const T = {};
const time = (k, fn) => { const c = cpu(); const r = fn(); (T[k] ??= []).push(cpu() - c); return r; };
const timeA = async (k, fn) => { const c = cpu(); const r = await fn(); (T[k] ??= []).push(cpu() - c); return r; };
const full = new DriftEstimator(ref, W, H, { maxShift_px: 256 });
const bin = new DriftEstimator(ref, W, H, { maxShift_px: 256, bin: 2 });
const proc = createCpuProcessor({ width: W, height: H, reference: ref, labels: seg.labels, nLabels: seg.particles.length, threshold: 0.05, maxBatch: 1 }, { threads: 1 });
const scanned = await createTiffStackWriter(path.join(dir, 'a.tif'), { width: W, height: H, sampleType: 'float32', frames: N });
const unscanned = await createTiffStackWriter(path.join(dir, 'b.tif'), { width: W, height: H, sampleType: 'float32', frames: N, scanRange: false });
for (let i = 1; i <= N; i++) {
  const f = await timeA('read page (raw strip)', () => movie.readFrame(i));
  time('drift, full resolution (before)', () => full.estimate(f));
  const e = time('drift, 2×2 blocks (now)', () => bin.estimate(f));
  time('copy of the frame to a drift thread (structured clone)', () => structuredClone(f));
  const [p] = await timeA('ΔI/I0 map + label sums, shifted (JS bilinear)', () => proc.process([f], [e.shift]));
  await timeA('ΔI/I0 map + label sums, no shift (wasm SIMD)', () => proc.process([f], [undefined]));
  await timeA('diff.tif page, with the min/max scan (before)', () => scanned.writePage(p.diff));
  await timeA('diff.tif page, no scan (now)', () => unscanned.writePage(p.diff));
}
await scanned.close(); await unscanned.close([-0.1, 0.1]);
const back = await openMovie(path.join(dir, 'b.tif'));
for (let i = 0; i < N; i++) await timeA('diff.tif page read back (pass 2)', () => back.readFrame(i));
await back.close(); proc.destroy(); await movie.close();
rmSync(dir, { recursive: true, force: true });
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`analyze stages, ${W}²×${N} u16, CPU ms per frame (median), ${os.cpus()[0].model}, load ${os.loadavg()[0].toFixed(1)}`);
for (const [k, v] of Object.entries(T)) console.log(`${k.padEnd(56)} ${med(v).toFixed(1).padStart(7)}`);
