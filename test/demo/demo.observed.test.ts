/**
 * The observed movie beside the simulation, and the particle shapes, in real headless Chromium on
 * SwiftShader (the page Vite builds for `npm run build:demo`; nothing mocked). The fixture is an
 * ImageJ TIFF stack written with the project's own writer (test/helpers/synthMovie.ts over
 * src/io/tiffWrite.ts: two particles, one with an off-centre core, stage drift and noise) and a
 * capacity CSV; `ionflux analyze` (the CLI, in process, CPU backend) is run on the same files and
 * the page's numbers must equal its tables. Shapes are made with real clicks and typed values, and
 * checked against `buildProblem` on the page's exported config in Node (what `ionflux simulate
 * --config` builds).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { launch, metrics, NO_WEBGPU_ARGS, useDemo, withDemo } from './harness';
import { writeSynthMovie } from '../helpers/synthMovie';
import { runCli } from '../helpers/cli';
import { buildProblem } from '../../src/solver/problem';
import { resolveConfig, type SimulationConfig } from '../../src/model/config';
import { openMovie } from '../../src/io/movie';
import { segmentParticles } from '../../src/imaging/segment';

const ROOT = path.resolve(__dirname, '../..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const PIXEL_UM = 0.05, FRAME_S = 120, FRAMES = 12;
/** a coarse grid and a fast clock: SwiftShader on this 2-core machine takes ~5 ms per step */
const HASH = 'h=0.04&speed=300&trace=30';

/** the demo served and Chromium for this file */
const served = useDemo();
let dir: string;
let moviePath: string, capacityPath: string;
/** a larger movie (1024×1024 px × 40 frames, 9 particles) whose analysis takes seconds */
let bigPath: string;
const BIG = { width: 1024, height: 1024, frames: 40, particles: 9 };
/** analyze's tables on the fixture */
let traces: { particle: number; frame: number; capacity: number; meanDiff: number; comOffset_um: number; unreactedFraction: number }[];
let particlesCsv: { id: number; area_um2: number }[];

const demo = (page: Page) => ({
  observed: () => page.evaluate(() => (window as any).ionfluxDemo.observed.summary()),
  trace: (id: number) => page.evaluate((i) => (window as any).ionfluxDemo.observed.trace(i), id),
  point: (id: number) => page.evaluate((i) => (window as any).ionfluxDemo.observed.particlePoint(i), id) as Promise<[number, number]>,
  viewPoint: (p: [number, number]) => page.evaluate((q) => (window as any).ionfluxDemo.viewPoint(q), p) as Promise<[number, number]>,
  config: () => page.evaluate(() => (window as any).ionfluxDemo.config()) as Promise<SimulationConfig>,
});

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ionflux-demo-observed-'));
  moviePath = path.join(dir, 'movie.tif');
  capacityPath = path.join(dir, 'capacity.csv');
  // particle 1: a 2.4 µm disk whose core drifts off to the right as it shrinks; particle 2: 1.4 µm, centred
  await writeSynthMovie(moviePath, {
    width: 96, height: 64, frames: FRAMES, noise: 4, seed: 7,
    particles: [
      { cx: 30, cy: 32, radius_px: 24, coreOffset: (_f, s) => [6 * s, -2 * s] },
      { cx: 76, cy: 30, radius_px: 14 },
    ],
    drift: (f) => [0.3 * f / FRAMES, -0.2 * f / FRAMES],
  }, { pixel_um: PIXEL_UM, frame_s: FRAME_S });
  bigPath = path.join(dir, 'big.tif');
  await writeSynthMovie(bigPath, {
    width: BIG.width, height: BIG.height, frames: BIG.frames, noise: 4, seed: 11, supersample: 1,
    particles: Array.from({ length: BIG.particles }, (_, k) => ({ cx: (BIG.width / 3) * (k % 3 + 0.5), cy: (BIG.height / 3) * (Math.floor(k / 3) + 0.5), radius_px: BIG.width / 12 + 3 * k, coreOffset: (_f: number, s: number) => [10 * s, -4 * s] as [number, number] })),
    drift: (f) => [0.5 * f / BIG.frames, -0.3 * f / BIG.frames],
  }, { pixel_um: PIXEL_UM, frame_s: FRAME_S });
  // 100 mA/g for the whole movie
  writeFileSync(capacityPath, 'time_s,capacity_mAh_g\n' + Array.from({ length: 25 }, (_, i) => `${i * 60},${(100 * i * 60) / 3600}`).join('\n') + '\n');
  const out = path.join(dir, 'analyze');
  const r = await runCli(['analyze', moviePath, '--capacity', capacityPath, '--backend', 'cpu', '--quiet', '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  traces = readFileSync(path.join(out, 'traces.csv'), 'utf8').trim().split('\n').slice(1).map((l) => {
    const c = l.split(',').map(Number);
    return { particle: c[0], frame: c[1], capacity: c[3], meanDiff: c[4], comOffset_um: c[5], unreactedFraction: c[7] };
  });
  particlesCsv = readFileSync(path.join(out, 'particles.csv'), 'utf8').trim().split('\n').slice(1).map((l) => {
    const c = l.split(',').map(Number);
    return { id: c[0], area_um2: c[1] };
  });
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Drops files on the page's drop zone (native drag events with a DataTransfer built in the page). */
async function dropFiles(page: Page, files: { name: string; mimeType: string; buffer: Buffer }[]): Promise<void> {
  await page.locator('#drop-zone').drop({ files });
}

async function waitAnalysed(page: Page): Promise<void> {
  await page.waitForFunction(() => { const s = (window as any).ionfluxDemo.observed.summary(); return !s.busy && (s.name !== null || s.lastError !== null); }, null, { timeout: 60_000, polling: 100 });
}

/** Waits until the page runs a particle of `shape` (after a rebuild). */
async function waitShape(page: Page, shape: string): Promise<void> {
  await page.waitForFunction((s) => (window as any).ionfluxDemo.metrics().particle?.shape === s, shape, { timeout: 60_000, polling: 100 });
}

const messages = async (page: Page) => (await metrics(page)).messages.join('\n');

/** grid cells of `config` as `ionflux simulate --config` builds it (in Node) */
async function cliCells(config: SimulationConfig, baseDir = dir): Promise<number> {
  return (await buildProblem(resolveConfig(config), { baseDir })).grid.cells;
}

describe('the observed movie beside the simulation', () => {
  test('a dropped ImageJ TIFF (+ capacity CSV) is analysed in the page: its particles outlined, its traces equal to ionflux analyze; clicking one and "simulate this particle" runs on its mask', async () => {
    await withDemo(served.browser, served.site.url, HASH, async (page, errors) => {
      await dropFiles(page, [
        { name: 'movie.tif', mimeType: 'image/tiff', buffer: readFileSync(moviePath) },
        { name: 'capacity.csv', mimeType: 'text/csv', buffer: readFileSync(capacityPath) },
      ]);
      await waitAnalysed(page);
      const s = await demo(page).observed();
      expect(s.lastError).toBeNull();
      expect(s.thread).toBe('worker'); // analysed in the Web Worker, not on the page's main thread
      expect(s).toMatchObject({ name: 'movie.tif', frames: FRAMES, width: 96, height: 64, pixel_um: PIXEL_UM, frame_s: FRAME_S, capacity: 'capacity.csv' });
      // the particles: as many as analyze found, with its areas
      expect(s.particles.length).toBe(2);
      expect(s.particles.map((p: { id: number }) => p.id)).toEqual(particlesCsv.map((p) => p.id));
      for (const p of s.particles) expect(p.area_um2).toBeCloseTo(particlesCsv.find((q) => q.id === p.id)!.area_um2, 5);
      // the page's traces = analyze's traces.csv (written with 7 significant digits)
      const near = (a: number | null, b: number) => (Number.isNaN(b) ? a === null || Number.isNaN(a) : Math.abs((a as number) - b) <= 1e-6 + 1e-6 * Math.abs(b));
      for (const p of s.particles) {
        const t = await demo(page).trace(p.id);
        const rows = traces.filter((r) => r.particle === p.id);
        expect(rows.length).toBe(FRAMES);
        for (const r of rows) {
          expect(near(t.meanDiff[r.frame], r.meanDiff), `particle ${p.id} frame ${r.frame} meanDiff ${t.meanDiff[r.frame]} vs ${r.meanDiff}`).toBe(true);
          expect(near(t.unreactedFraction[r.frame], r.unreactedFraction)).toBe(true);
          expect(near(t.comOffset_um[r.frame], r.comOffset_um)).toBe(true);
          expect(near(t.capacity_mAh_g[r.frame], r.capacity)).toBe(true);
        }
      }
      expect(Math.max(...traces.filter((r) => r.particle === 1).map((r) => r.meanDiff))).toBeGreaterThan(0.1); // the movie has a reaction to follow
      // matched by charge passed (a capacity record came with it)
      // (the match is made on the panel's next frame after the result arrives)
      await expect.poll(async () => (await demo(page).observed()).match?.by, { timeout: 10_000 }).toBe('charge');

      // a real click on particle 2, then on particle 1
      const [x2, y2] = await demo(page).point(2);
      await page.mouse.click(x2, y2);
      expect((await demo(page).observed()).selected).toBe(2);
      const [x1, y1] = await demo(page).point(1);
      await page.mouse.click(x1, y1);
      const sel = await demo(page).observed();
      expect(sel.selected).toBe(1);
      expect(sel.observedKymoRows).toBe(FRAMES);
      await expect.poll(async () => (await demo(page).observed()).simulatedKymoRows, { timeout: 30_000 }).toBeGreaterThan(1);

      // "simulate this particle": the particle's segmented mask at the movie's pixel size
      await page.locator('#simulate-particle').click();
      await waitShape(page, 'polygon');
      const m = await metrics(page) as unknown as { grid: { cells: number; area_um2: number; spacing_um: number } };
      const area = particlesCsv.find((p) => p.id === 1)!.area_um2;
      expect(Math.abs(m.grid.area_um2 - area) / area).toBeLessThan(0.04); // the smoothed pixel outline on a 0.04 µm grid
      // the exported config is a polygon that the CLI builds to the same grid …
      const config = await demo(page).config();
      expect(config.particle.shape).toBe('polygon');
      expect(await cliCells(config)).toBe(m.grid.cells);
      // … and the same as `particle.shape = "mask"` on a PNG of analyze's segmentation of that particle
      const movie = await openMovie(moviePath);
      const seg = segmentParticles(await movie.readFrame(0), movie.width, movie.height, { pixel_um: PIXEL_UM });
      await movie.close();
      const label = seg.particles.find((p) => p.id === 1)!.label;
      const png = new PNG({ width: 96, height: 64 });
      for (let i = 0; i < 96 * 64; i++) { const v = seg.labels[i] === label ? 255 : 0; png.data.set([v, v, v, 255], 4 * i); }
      writeFileSync(path.join(dir, 'particle1.png'), PNG.sync.write(png));
      const maskConfig = { ...config, particle: { shape: 'mask', file: 'particle1.png', pixel_um: PIXEL_UM } } as unknown as SimulationConfig;
      expect(await cliCells(maskConfig)).toBe(m.grid.cells);
      // the simulation runs on it, and the simulated kymograph fills again
      const t0 = (await metrics(page)).time_s;
      await expect.poll(async () => (await metrics(page)).time_s, { timeout: 60_000 }).toBeGreaterThan(t0 + 60);
      await expect.poll(async () => (await demo(page).observed()).simulatedKymoRows, { timeout: 30_000 }).toBeGreaterThan(2);
      // the page as a scientist sees it: the observed movie beside the simulation
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.waitForTimeout(500);
      writeFileSync(path.join(ARTIFACTS, 'demo-observed.png'), await page.screenshot({ fullPage: true }));
      // the URL reopens the same particle
      const url = page.url();
      expect(url).toMatch(/shape=polygon&poly=/);
      await withDemo(served.browser, url.replace(/^[^#]*/, served.site.url), '', async (p2) => {
        await waitShape(p2, 'polygon');
        expect((await metrics(p2)).grid?.cells).toBe(m.grid.cells);
      });
      expect(await messages(page)).not.toMatch(/failed|could not/);
      expect(errors).toEqual([]);
    });
  }, 300_000);

  test('without a capacity record the frames are matched by time; bad files get a message, never a blank page', async () => {
    await withDemo(served.browser, served.site.url, HASH, async (page, errors) => {
      // not an image
      await dropFiles(page, [{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('these are not pixels\n') }]);
      await waitAnalysed(page);
      expect(await messages(page)).toMatch(/notes\.txt is not a TIFF file/);
      // a truncated TIFF (the last 40 % cut off)
      const bytes = readFileSync(moviePath);
      await dropFiles(page, [{ name: 'cut.tif', mimeType: 'image/tiff', buffer: bytes.subarray(0, Math.floor(bytes.length * 0.6)) }]);
      await page.waitForFunction(() => /cut\.tif/.test((window as any).ionfluxDemo.observed.summary().lastError ?? ''), null, { timeout: 30_000 });
      expect(await messages(page)).toMatch(/cut\.tif is truncated/);
      // a mask image with no particle in it
      const empty = new PNG({ width: 40, height: 30 });
      empty.data.fill(0);
      for (let i = 3; i < empty.data.length; i += 4) empty.data[i] = 255;
      await dropFiles(page, [{ name: 'empty.png', mimeType: 'image/png', buffer: PNG.sync.write(empty) }]);
      await expect.poll(() => messages(page), { timeout: 10_000 }).toMatch(/mask image 'empty\.png'.* has no nonzero pixels/);
      // a capacity CSV without its columns
      await dropFiles(page, [{ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('t,q\n0,0\n') }]);
      await expect.poll(() => messages(page), { timeout: 10_000 }).toMatch(/capacity file bad\.csv has columns \[t, q\] but needs time_s and capacity_mAh_g/);
      // the simulation still runs on its disk, and the good movie (chosen with the file picker) is analysed
      const m = await metrics(page);
      expect(m.particle).toMatchObject({ shape: 'disk' });
      await page.locator('#observed-file').setInputFiles(moviePath);
      await page.waitForFunction(() => (window as any).ionfluxDemo.observed.summary().name === 'movie.tif', null, { timeout: 60_000 });
      await expect.poll(async () => (await demo(page).observed()).match?.by, { timeout: 10_000 }).toBe('time');
      const s = await demo(page).observed();
      expect(s.particles.length).toBe(2);
      // at the simulation's time: frame = round(t / 120 s) while the movie lasts
      const t = (await metrics(page)).time_s;
      expect(Math.abs(s.frame - Math.min(FRAMES - 1, Math.round(t / FRAME_S)))).toBeLessThanOrEqual(1);
      await expect.poll(async () => (await metrics(page)).steps, { timeout: 30_000 }).toBeGreaterThan(m.steps);
      expect(errors).toEqual([]);
    });
  }, 240_000);
});

describe('a large movie is analysed in a Web Worker', () => {
  test('while it is analysed the simulation keeps animating and the progress shows; Cancel stops it, the movie shown stays and the page keeps working', async () => {
    await withDemo(served.browser, served.site.url, HASH, async (page, errors) => {
      const summary = () => demo(page).observed();
      // the page's own frame counter and simulated time, over a window of wall time
      const rate = async (ms: number) => {
        const a = await metrics(page), t0 = Date.now();
        await page.waitForTimeout(ms);
        const b = await metrics(page), s = await summary();
        const dt = (Date.now() - t0) / 1000;
        return { fps: (b.frames - a.frames) / dt, simPerS: (b.time_s - a.time_s) / dt, steps: b.steps - a.steps, busyAfter: s.busy };
      };
      await page.waitForTimeout(1000);
      const idle = await rate(2000);

      // ---- a large movie (chosen with the file picker: Playwright hands Chromium the path, not 80 MB
      // of base64): the progress bar shows, and the simulation goes on through the whole analysis
      const started = Date.now();
      await page.locator('#observed-file').setInputFiles(bigPath);
      await page.waitForFunction(() => { const s = (window as any).ionfluxDemo.observed.summary(); return s.busy && s.progressShown && s.progress?.fraction > 0; }, null, { timeout: 60_000, polling: 50 });
      expect(await page.locator('#observed-progress').isVisible()).toBe(true);
      expect(await page.locator('#observed-cancel').isVisible()).toBe(true);
      const m0 = await metrics(page), t0 = Date.now();
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(path.join(ARTIFACTS, 'demo-observed-progress.png'), await page.screenshot());
      const fractions: number[] = [];
      while ((await summary()).busy) {
        fractions.push((await summary()).progress?.fraction ?? NaN);
        await page.waitForTimeout(250);
      }
      const m1 = await metrics(page), dt = (Date.now() - t0) / 1000;
      const during = { fps: (m1.frames - m0.frames) / dt, simPerS: (m1.time_s - m0.time_s) / dt, steps: m1.steps - m0.steps };
      const s = await summary();
      console.log(`[demo.observed] ${BIG.width}×${BIG.height}×${BIG.frames} in the worker: ${(s.analysis_ms / 1000).toFixed(1)} s (${((Date.now() - started) / 1000).toFixed(1)} s from the pick); ` +
        `idle ${idle.fps.toFixed(1)} frames/s, ${idle.simPerS.toFixed(1)} sim-s/s; over ${dt.toFixed(1)} s of the analysis ${during.fps.toFixed(1)} frames/s, ${during.simPerS.toFixed(1)} sim-s/s, ${during.steps} steps; progress ${fractions.map((f) => f.toFixed(2)).join(' ')}`);
      // a window long enough to mean something, through which the page animated and the simulation stepped
      expect(dt).toBeGreaterThan(1.5);
      expect(during.fps).toBeGreaterThan(10);
      expect(during.steps).toBeGreaterThan(0);
      expect(during.simPerS).toBeGreaterThan(0);
      // the bar moved forward
      expect(Math.max(...fractions.filter(Number.isFinite))).toBeGreaterThan(Math.min(...fractions.filter(Number.isFinite)));
      expect(s).toMatchObject({ name: 'big.tif', thread: 'worker', frames: BIG.frames, width: BIG.width, height: BIG.height, lastError: null, progress: null, progressShown: false });
      expect(s.particles.length).toBe(BIG.particles);
      await page.waitForTimeout(300);
      writeFileSync(path.join(ARTIFACTS, 'demo-observed-big.png'), await page.locator('#observed').screenshot());

      // ---- the same movie again under another name, cancelled half-way: big.tif stays
      const again = path.join(dir, 'again.tif');
      copyFileSync(bigPath, again);
      await page.locator('#observed-file').setInputFiles(again);
      await page.waitForFunction(() => { const s = (window as any).ionfluxDemo.observed.summary(); return s.busy && s.progress?.fraction > 0; }, null, { timeout: 60_000, polling: 50 });
      await page.locator('#observed-cancel').click();
      const c = await summary();
      expect(c).toMatchObject({ busy: false, cancelled: 1, name: 'big.tif', progressShown: false, lastError: null });
      expect(c.status).toMatch(/analysis of again\.tif was cancelled — still showing big\.tif/);
      expect(c.particles.length).toBe(BIG.particles);
      expect(await page.locator('#observed-progress').isVisible()).toBe(false);
      // the page keeps working: the simulation runs, a particle of big.tif can be clicked, a new movie is analysed
      // the frame rate is back within a few seconds (under load a window right after the cancel has
      // been seen at 0 frames/s: the terminated worker's memory is released and the old movie redrawn)
      const windows: number[] = [];
      await expect.poll(async () => { const r = await rate(1000); windows.push(r.fps); return r.fps; }, { timeout: 15_000, interval: 0 }).toBeGreaterThan(10);
      console.log(`[demo.observed] frames/s after Cancel, 1 s windows: ${windows.map((f) => f.toFixed(0)).join(' ')}`);
      // SwiftShader takes a few steps a second here (the GPU work shares the 2 cores): wait for more
      const steps = (await metrics(page)).steps;
      await expect.poll(async () => (await metrics(page)).steps, { timeout: 30_000 }).toBeGreaterThan(steps);
      const [x, y] = await demo(page).point(5);
      await page.mouse.click(x, y);
      expect((await summary()).selected).toBe(5);
      await dropFiles(page, [{ name: 'movie.tif', mimeType: 'image/tiff', buffer: readFileSync(moviePath) }]);
      await waitAnalysed(page);
      expect(await summary()).toMatchObject({ name: 'movie.tif', thread: 'worker', lastError: null, cancelled: 1 });
      expect(await messages(page)).not.toMatch(/failed|could not/);
      expect(errors).toEqual([]);
    });
  }, 240_000);
});

describe('the observed movie on the CPU fallback', () => {
  test('without WebGPU the movie is analysed the same and the simulated line cut comes from the worker\'s field', async () => {
    const cpuBrowser = await launch(NO_WEBGPU_ARGS);
    try {
      // slow enough that the worker's run (thousands of steps per second) lasts past the analysis
      await withDemo(cpuBrowser, served.site.url, 'h=0.04&speed=20&trace=30', async (page, errors) => {
        expect((await metrics(page)).path).toBe('cpu');
        await dropFiles(page, [{ name: 'movie.tif', mimeType: 'image/tiff', buffer: readFileSync(moviePath) }]);
        await waitAnalysed(page);
        const s = await demo(page).observed();
        expect(s.particles.length).toBe(2);
        const t = await demo(page).trace(1);
        for (const r of traces.filter((x) => x.particle === 1)) expect(Math.abs(t.meanDiff[r.frame] - r.meanDiff)).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(r.meanDiff));
        await expect.poll(async () => (await demo(page).observed()).simulatedKymoRows, { timeout: 30_000 }).toBeGreaterThan(1);
        expect(await messages(page)).not.toMatch(/failed|could not/);
        expect(errors).toEqual([]);
      });
    } finally {
      await cpuBrowser.close();
    }
  }, 180_000);
});

describe('particle shapes', () => {
  test('an ellipse typed into the controls: the grid, the URL and the exported config carry it, and the CLI builds the same grid', async () => {
    await withDemo(served.browser, served.site.url, HASH, async (page, errors) => {
      await page.locator('.lil-gui .lil-controller').filter({ has: page.locator('.lil-name', { hasText: /^shape$/ }) }).locator('select').selectOption('ellipse');
      const set = async (name: string, v: string) => {
        const input = page.locator('.lil-gui .lil-controller', { hasText: name }).locator('input');
        await input.fill(v);
        await input.press('Enter');
      };
      await set('ellipse axis a (µm)', '2');
      await set('ellipse axis b (µm)', '1.2');
      await set('ellipse angle', '30');
      await page.waitForFunction(() => { const p = (window as any).ionfluxDemo.metrics().particle; return p?.shape === 'ellipse' && p.angleDeg === 30 && p.axes_um[1] === 1.2; }, null, { timeout: 60_000 });
      const m = await metrics(page) as unknown as { grid: { cells: number; area_um2: number }; particle: unknown };
      expect(m.particle).toEqual({ shape: 'ellipse', axes_um: [2, 1.2], angleDeg: 30 });
      expect(Math.abs(m.grid.area_um2 - (Math.PI * 2 * 1.2) / 4) / ((Math.PI * 2 * 1.2) / 4)).toBeLessThan(0.03);
      const config = await demo(page).config();
      expect(config.particle).toEqual({ shape: 'ellipse', axes_um: [2, 1.2], angleDeg: 30 });
      expect(await cliCells(config)).toBe(m.grid.cells);
      expect(page.url()).toMatch(/shape=ellipse&axes=2_1\.2_30/);
      await withDemo(served.browser, page.url().replace(/^[^#]*/, served.site.url), '', async (p2) => {
        await waitShape(p2, 'ellipse');
        expect((await metrics(p2)).grid?.cells).toBe(m.grid.cells);
      });
      expect(errors).toEqual([]);
    });
  }, 240_000);

  test('a polygon drawn by clicking (closed on its first vertex) becomes the particle; a self-crossing one (closed by a double-click) is refused with a message', async () => {
    await withDemo(served.browser, served.site.url, HASH, async (page, errors) => {
      const click = async (p: [number, number]) => { const [x, y] = await demo(page).viewPoint(p); await page.mouse.click(x, y); };
      await page.locator('.lil-gui button', { hasText: 'draw a polygon' }).click();
      // a 2 µm square around the particle's centre, then a click on the first vertex
      const square: [number, number][] = [[-1, -1], [1, -1], [1, 1], [-1, 1]];
      for (const p of square) await click(p);
      await click(square[0]);
      await waitShape(page, 'polygon');
      const m = await metrics(page) as unknown as { grid: { cells: number; area_um2: number; spacing_um: number } };
      // clicks land on whole screen pixels: the drawn square is 4 µm² within a pixel's width of its sides
      expect(Math.abs(m.grid.area_um2 - 4) / 4).toBeLessThan(0.04);
      const config = await demo(page).config();
      expect(config.particle.shape).toBe('polygon');
      expect((config.particle as { vertices_um: number[][] }).vertices_um.length).toBe(4);
      expect(await cliCells(config)).toBe(m.grid.cells);
      // zoomed in 2× about the view's centre (the wheel, as a user does), a triangle drawn there is as drawn
      const box = (await page.locator('#view').boundingBox())!;
      await page.mouse.move(box.x + 240, box.y + 240);
      for (let k = 0; k < 4; k++) await page.mouse.wheel(0, -100);
      const zoom = await page.evaluate(() => (window as any).ionfluxDemo.metrics().view?.zoom ?? 1);
      expect(zoom).toBeGreaterThan(1.5);
      await page.locator('.lil-gui button', { hasText: 'draw a polygon' }).click();
      const tri: [number, number][] = [[-0.6, -0.5], [0.6, -0.5], [0, 0.7]];
      for (const p of tri) await click(p);
      await click(tri[0]);
      await page.waitForFunction(() => (window as any).ionfluxDemo.metrics().particle?.vertices_um?.length === 3, null, { timeout: 60_000 });
      const mt = await metrics(page) as unknown as { grid: { cells: number; area_um2: number } };
      expect(Math.abs(mt.grid.area_um2 - 0.72) / 0.72).toBeLessThan(0.06); // ½ · 1.2 · 1.2 µm², on a 0.04 µm grid
      await page.locator('#viewbar button', { hasText: 'reset view' }).click();
      // a bow tie: refused, the triangle stays
      await page.locator('.lil-gui button', { hasText: 'draw a polygon' }).click();
      expect(await page.evaluate(() => (window as any).ionfluxDemo.metrics().view?.zoom)).toBe(1);
      const bow: [number, number][] = [[-0.4, -0.4], [0.4, 0.4], [0.4, -0.4]];
      for (const p of bow) await click(p);
      const [x, y] = await demo(page).viewPoint([-0.4, 0.4]);
      await page.mouse.dblclick(x, y);
      await expect.poll(() => messages(page), { timeout: 10_000 }).toMatch(/polygon \(drawn on the canvas\) is refused: it crosses itself/);
      await page.waitForTimeout(500);
      const after = await metrics(page) as unknown as { grid: { cells: number }; particle: { shape: string }; steps: number };
      expect(after.particle.shape).toBe('polygon');
      expect(after.grid.cells).toBe(mt.grid.cells);
      expect(after.steps).toBeGreaterThan(0);
      expect(errors).toEqual([]);
    });
  }, 240_000);

  test('a mask image (PNG) dropped on the page becomes the particle, as `particle.shape = "mask"` builds it', async () => {
    await withDemo(served.browser, served.site.url, HASH, async (page, errors) => {
      // an L-shaped particle, 60×50 px of 0.05 µm (the default mask pixel)
      const png = new PNG({ width: 60, height: 50 });
      for (let r = 0; r < 50; r++) for (let c = 0; c < 60; c++) {
        const v = (r >= 5 && r < 45 && c >= 5 && c < 25) || (r >= 30 && r < 45 && c >= 5 && c < 55) ? 255 : 0;
        png.data.set([v, v, v, 255], 4 * (r * 60 + c));
      }
      const buffer = PNG.sync.write(png);
      writeFileSync(path.join(dir, 'ell.png'), buffer);
      await dropFiles(page, [{ name: 'ell.png', mimeType: 'image/png', buffer }]);
      await waitShape(page, 'polygon');
      const m = await metrics(page) as unknown as { grid: { cells: number; area_um2: number } };
      const area = (20 * 40 + 30 * 15) * 0.05 * 0.05;
      expect(Math.abs(m.grid.area_um2 - area) / area).toBeLessThan(0.04);
      const config = await demo(page).config();
      expect(await cliCells(config)).toBe(m.grid.cells);
      expect(await cliCells({ ...config, particle: { shape: 'mask', file: 'ell.png', pixel_um: 0.05 } } as unknown as SimulationConfig)).toBe(m.grid.cells);
      expect(errors).toEqual([]);
    });
  }, 240_000);
});
