/**
 * The live demo (demo/) on WebGPU, in real headless Chromium on SwiftShader: the page Vite builds
 * for `npm run build:demo`, served on 127.0.0.1. Everything is measured from the page's own numbers
 * (window.ionfluxDemo.metrics(), its trace and its exported config) or its pixels; nothing is mocked.
 * Runs use a coarse grid (h = 0.06 µm, 41×41 cells) and a fixed step budget: SwiftShader on this
 * 2-core machine takes ~5 ms per step whatever the grid size.
 */
import { describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { metrics, useDemo, waitForDone, withDemo } from './harness';

const ROOT = path.resolve(__dirname, '../..');
/** screenshots for a person to look at (git-ignored) */
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
/** |Δθ| GPU vs CPU, the solver's stated tolerance (test/solver/gpuVsCpu.test.ts) */
const TOL = 2e-6;

const demo = useDemo();


const png = (buf: Buffer) => PNG.sync.read(buf);
const px = (img: PNG, x: number, y: number) => { const i = 4 * (y * img.width + x); return [img.data[i], img.data[i + 1], img.data[i + 2]]; };

/** Drags the mouse along the η ring from fromDeg to toDeg (ccw, in 2° steps). */
async function paintRim(page: Page, fromDeg: number, toDeg: number): Promise<void> {
  const at = (deg: number) => page.evaluate((d) => (window as unknown as { ionfluxDemo: { ringPoint(d: number): [number, number] } }).ionfluxDemo.ringPoint(d), deg);
  const [x0, y0] = await at(fromDeg);
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (let d = fromDeg + 2; d <= toDeg; d += 2) {
    const [x, y] = await at(d);
    await page.mouse.move(x, y);
  }
  await page.mouse.up();
}

async function clickButton(page: Page, text: string): Promise<void> {
  await page.locator('.lil-gui button', { hasText: text }).first().click();
}

describe('demo page on WebGPU (SwiftShader)', () => {
  test('opens on fig4c running on WebGPU with no console errors; the canvas changes over time; the default view as a screenshot', async () => {
    await withDemo(demo.browser, demo.site.url, '', async (page, errors) => {
    const m0 = await metrics(page);
    expect(m0.path).toBe('webgpu');
    expect(m0.adapter).toMatch(/swiftshader|google/i);
    expect(await page.locator('#banner').textContent()).toMatch(/Running on WebGPU/);
    expect(m0.segments).toEqual([{ fromDeg: 135, toDeg: 225, eta: 0.3 }]); // fig4c
    expect(m0.grid?.spacing_um).toBe(0.02);
    const view = page.locator('#view');
    const a = png(await view.screenshot());
    await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { time_s: number } } }).ionfluxDemo.metrics().time_s >= 3, null, { timeout: 60_000 });
    await page.waitForTimeout(500);
    const b = png(await view.screenshot());
    let changed = 0;
    for (let y = 0; y < 480; y++) for (let x = 0; x < 480; x++) {
      const p = px(a, x, y), q = px(b, x, y);
      if (Math.abs(p[0] - q[0]) + Math.abs(p[1] - q[1]) + Math.abs(p[2] - q[2]) > 6) changed++;
    }
    expect(changed).toBeGreaterThan(200); // the rim reddens as Li leaves (and the time text changes)
    const m = await metrics(page);
    expect(m.steps).toBeGreaterThan(m0.steps);
    console.log(`default view (fig4c, 122×122 cells, adaptive budget): ${m.bench.stepsPerS} steps/s, ${m.bench.fps} frames/s, ${(m.bench.cellUpdatesPerS / 1e6).toFixed(2)} Mcell/s, ${m.bench.budget} steps per frame`);

    // the screenshot artefact: colour bar, scale bar, the particle in the middle of its square
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, 'demo-default.png');
    writeFileSync(file, PNG.sync.write(b));
    const lay = await page.evaluate(() => (window as unknown as { ionfluxDemo: { metrics(): { layout: { pxPerUm: number } } } }).ionfluxDemo.metrics().layout);
    const R = 1.2 * lay.pxPerUm; // 2.4 µm disk
    // colour bar (x = 504…526, y = 60…360): white at θ0 = 1 (top), dark red at θ = 0.75 (bottom)
    expect(Math.min(...px(b, 515, 62))).toBeGreaterThan(245);
    const bottom = px(b, 515, 357);
    expect(bottom[0]).toBeGreaterThan(90);
    expect(bottom[1]).toBeLessThan(40);
    // scale bar: a black bar at the bottom left
    const bar = px(b, 20, 458);
    expect(Math.max(...bar)).toBeLessThan(40);
    // the particle: inside r < 0.9 R no NaN grey, between 1.05 R and the ring all NaN grey
    let insideGrey = 0, outsideNotGrey = 0;
    const isGrey = (c: number[]) => c.every((v) => Math.abs(v - 224) <= 3);
    for (let k = 0; k < 720; k++) {
      const th = (k * Math.PI) / 360;
      // the η ring's inner edge is 5 px outside the rim (demo/render/overlay.ts)
      for (const [r, inside] of [[0.5 * R, true], [0.85 * R, true], [R + 2.5, false]] as const) {
        const c = px(b, Math.round(240 + r * Math.cos(th)), Math.round(240 + r * Math.sin(th)));
        if (inside && isGrey(c)) insideGrey++;
        if (!inside && !isGrey(c)) outsideNotGrey++;
      }
    }
    expect(insideGrey).toBe(0);
    expect(outsideNotGrey).toBeLessThan(15); // the core's ○ marker and the arrow may cross it
    expect(errors).toEqual([]);
    });
  }, 240_000);

  test('no blocking (fig4a): the core\'s COM stays within a cell of the particle\'s centre', async () => {
    await withDemo(demo.browser, demo.site.url, 'preset=fig4a&h=0.06&t=5&trace=30&budget=40&speed=1200', async (page, errors) => {
    const m = await waitForDone(page);
    expect(m.time_s).toBeCloseTo(300, 6);
    const trace = await page.evaluate(() => (window as unknown as { ionfluxDemo: { trace(): { comOffset_um: number | null; unreactedFraction: number }[] } }).ionfluxDemo.trace());
    expect(trace.length).toBe(11); // t = 0, 30, …, 300 s
    expect(trace[trace.length - 1].unreactedFraction).toBeGreaterThan(0.3); // a core to measure
    for (const r of trace) if (r.comOffset_um !== null) expect(r.comOffset_um).toBeLessThan(0.06);
    expect(errors).toEqual([]);
    });
  }, 240_000);

  test('painting η = 0.3 on the left quarter of the rim by a mouse drag displaces the core towards the blocked (left) side', async () => {
    await withDemo(demo.browser, demo.site.url, 'preset=fig4a&h=0.06&t=5&trace=30&budget=40&speed=1200&play=0&brush=0.3', async (page, errors) => {
    await paintRim(page, 135, 225);
    const act = (deg: number) => page.evaluate((d) => (window as unknown as { ionfluxDemo: { activity(d: number): number } }).ionfluxDemo.activity(d), deg);
    expect(await act(180)).toBeCloseTo(0.3, 6);
    expect(await act(140)).toBeCloseTo(0.3, 6);
    expect(await act(220)).toBeCloseTo(0.3, 6);
    expect(await act(125)).toBe(1);
    expect(await act(235)).toBe(1);
    expect(await act(0)).toBe(1);
    expect(page.url()).toMatch(/seg=13[45]_22[56]_0\.3/); // the link holds the painted arc
    await clickButton(page, 'play');
    const m = await waitForDone(page);
    expect(m.editedMidRun).toBe(false); // painted at t = 0: the run is the painted config's
    const v = m.last?.comOffsetVector_um as [number, number];
    // SPEC/PAPER (and test/solver/physics.test.ts): less flux through the blocked side, so the
    // Li-rich core stays on that side — here beyond a grid cell to the left, on the x axis
    expect(v[0]).toBeLessThan(-0.06);
    expect(Math.abs(v[1])).toBeLessThan(0.03);
    expect(errors).toEqual([]);
    });
  }, 240_000);

  test('the page\'s trace equals `ionflux simulate --config` on the exported config (CPU reference) within the solver tolerance', async () => {
    // charge, rest, then discharge, on the constant-D preset: the protocol and diffusivity controls
    // (30 s of discharge: at 100 mA/g the surface reaches the upper cut-off θs = 1 after ~39 s)
    await withDemo(demo.browser, demo.site.url, 'preset=fig4c&h=0.06&t=3&rest=1&dis=0.5&dif=constant&logD=-15.2&trace=10&budget=40&speed=1200', async (page, errors) => {
    const m = await waitForDone(page);
    expect(m.time_s).toBeCloseTo(270, 6);
    expect(m.editedMidRun).toBe(false);
    const trace = await page.evaluate(() => (window as unknown as { ionfluxDemo: { trace(): Record<string, number | null>[] } }).ionfluxDemo.trace());
    const [download] = await Promise.all([page.waitForEvent('download'), clickButton(page, 'export config')]);
    const dir = mkdtempSync(path.join(tmpdir(), 'ionflux-demo-trace-'));
    try {
      const cfgFile = path.join(dir, 'config.json');
      await download.saveAs(cfgFile);
      const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
      expect(cfg.surface.segments).toEqual([{ fromDeg: 135, toDeg: 225, eta: 0.3 }]);
      expect(cfg.protocol).toEqual([{ step: 'charge', current_mA_g: 100, duration_min: 3 }, { step: 'rest', duration_min: 1 }, { step: 'discharge', current_mA_g: 100, duration_min: 0.5 }]);
      expect(cfg.material.diffusivity).toEqual({ preset: 'constant', D_m2_s: 6.30957e-16 });
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/ionflux.js'), 'simulate', '--config', cfgFile, '--backend', 'cpu', '--out', path.join(dir, 'out'), '--quiet'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const lines = readFileSync(path.join(dir, 'out/trace.csv'), 'utf8').trim().split('\n');
      const head = lines[0].split(',');
      const cli = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, k) => [head[k], v === '' ? null : Number(v)])));
      expect(trace.length).toBe(cli.length);
      expect(cli.length).toBe(28); // 0 … 270 s every 10 s
      for (let i = 0; i < cli.length; i++) {
        const p = trace[i], c = cli[i];
        expect(p.time_s as number).toBeCloseTo(c.time_s as number, 6);
        expect(Math.abs((p.meanTheta as number) - (c.meanTheta as number))).toBeLessThanOrEqual(TOL);
        expect(Math.abs((p.capacity_mAh_g as number) - (c.capacity_mAh_g as number))).toBeLessThanOrEqual(TOL * 275);
        expect(Math.abs((p.minSurfaceTheta as number) - (c.minSurfaceTheta as number))).toBeLessThanOrEqual(10 * TOL);
        expect(Math.abs((p.unreactedFraction as number) - (c.unreactedFraction as number))).toBeLessThanOrEqual(0.002);
        if (c.comOffset_um !== null) expect(Math.abs((p.comOffset_um as number) - (c.comOffset_um as number))).toBeLessThanOrEqual(1e-4);
      }
      expect(cli[cli.length - 1].capacity_mAh_g as number).toBeGreaterThan(1); // it really ran
      // the discharge put a sixth of the charge back: 3 min out, 0.5 min in at the same current
      const at = (t: number) => cli.find((c) => Math.abs((c.time_s as number) - t) < 1e-6)!.capacity_mAh_g as number;
      expect(at(270)).toBeCloseTo((5 / 6) * at(180), 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(errors).toEqual([]);
    });
  }, 240_000);

  test('the ΔI/I0 view runs the forward model on the GPU state; the trace saves as CSV', async () => {
    await withDemo(demo.browser, demo.site.url, 'preset=fig4c&view=diff&h=0.06&t=2&trace=20&budget=40&speed=1200', async (page, errors) => {
      const m = await waitForDone(page);
      const shot = await page.locator('#view').screenshot();
      writeFileSync(path.join(ARTIFACTS, 'demo-diff.png'), shot);
      const img = png(shot);
      const R = 1.2 * (await page.evaluate(() => (window as unknown as { ionfluxDemo: { metrics(): { layout: { pxPerUm: number } } } }).ionfluxDemo.metrics().layout.pxPerUm));
      const rim = px(img, Math.round(240 + 0.85 * R), 240), centre = px(img, 240, 240 + 20);
      expect(rim[0]).toBeGreaterThan(rim[2] + 30); // the clean right rim: brighter, red
      expect(Math.min(...centre)).toBeGreaterThan(235); // the core: ΔI/I0 ≈ 0, white
      const [download] = await Promise.all([page.waitForEvent('download'), clickButton(page, 'save trace')]);
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'ionflux-demo-csv-')), 'trace.csv');
      await download.saveAs(file);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines[0]).toBe('time_s,capacity_mAh_g,chargePassed_mAh_g,meanTheta,minSurfaceTheta,comOffset_um,comOffsetRel,unreactedFraction,meanDiff');
      expect(lines.length - 1).toBe(m.traceRows);
      expect(lines.length - 1).toBe(7); // 0 … 120 s every 20 s
      const last = lines[lines.length - 1].split(',').map(Number);
      expect(last[0]).toBeCloseTo(120, 6);
      expect(last[1]).toBeCloseTo((100 * 120) / 3600, 4); // capacity = i·t
      expect(last[8]).toBeGreaterThan(0); // mean ΔI/I0 > 0 on charge
      rmSync(path.dirname(file), { recursive: true, force: true });
      expect(errors).toEqual([]);
    });
  }, 240_000);

  test('a new current goes on from the running state (setStep); a new grid spacing restarts the run on the new grid', async () => {
    await withDemo(demo.browser, demo.site.url, 'preset=fig4c&h=0.06&t=20&trace=20&budget=20&speed=600', async (page, errors) => {
      await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { time_s: number } } }).ionfluxDemo.metrics().time_s >= 60, null, { timeout: 120_000 });
      const input = (name: string) => page.locator('.lil-controller', { hasText: name }).locator('input').first();
      await input('current (mA/g)').fill('200');
      await input('current (mA/g)').press('Enter');
      await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { editedMidRun: boolean } } }).ionfluxDemo.metrics().editedMidRun, null, { timeout: 60_000 });
      const m1 = await metrics(page);
      expect(m1.time_s).toBeGreaterThanOrEqual(60); // not reset
      expect(page.url()).toMatch(/[#&]i=200(&|$)/);
      // the capacity now grows at 200 mA/g: 200/3600 mAh/g per s
      await page.waitForFunction((t) => (window as unknown as { ionfluxDemo: { metrics(): { time_s: number } } }).ionfluxDemo.metrics().time_s >= t + 60, m1.time_s, { timeout: 120_000 });
      const tr = await page.evaluate(() => (window as unknown as { ionfluxDemo: { trace(): { time_s: number; capacity_mAh_g: number }[] } }).ionfluxDemo.trace());
      const a = tr[tr.length - 2], b = tr[tr.length - 1];
      expect(b.time_s).toBeGreaterThan(m1.time_s);
      expect((b.capacity_mAh_g - a.capacity_mAh_g) / (b.time_s - a.time_s)).toBeCloseTo(200 / 3600, 4);
      const nx = m1.grid?.nx as number;
      await input('grid spacing (µm)').fill('0.08');
      await input('grid spacing (µm)').press('Enter');
      await page.waitForFunction((n) => (window as unknown as { ionfluxDemo: { metrics(): { grid: { nx: number } } } }).ionfluxDemo.metrics().grid.nx !== n, nx, { timeout: 60_000 });
      const m2 = await metrics(page);
      expect(m2.grid?.spacing_um).toBe(0.08);
      expect(m2.time_s).toBeLessThan(m1.time_s); // a new grid: from t = 0
      expect(m2.editedMidRun).toBe(false);
      expect(errors).toEqual([]);
    });
  }, 300_000);

  test('bad input gets a message in the page, and the page still runs', async () => {
    const cases: [string, RegExp][] = [
      ['%zz%', /URL hash .* does not parse/],
      ['justtext', /'justtext' does not parse \(expected key=value/],
      ['colour=red', /'colour' in the URL hash is not a demo setting/],
      ['seg=135_225_1.5', /η = 1\.5: η must lie in \[0, 1\]/],
      ['brush=-0.2', /brush = '-0\.2' in the URL \(brush η\) is not allowed/],
      ['h=0.001', /at most .* cells are allowed in the live demo/],
      ['i=abc', /i = 'abc' in the URL \(current, mA\/g\) is not allowed/],
    ];
    for (const [hash, re] of cases) {
      await withDemo(demo.browser, demo.site.url, `play=0&${hash}`, async (page, errors) => {
      await page.waitForFunction(() => document.querySelectorAll('#messages .msg').length > 0, null, { timeout: 30_000 });
      expect(await page.locator('#messages').textContent()).toMatch(re);
      const m = await metrics(page);
      expect(m.path).toBe('webgpu');
      expect(m.grid).not.toBeNull(); // a particle is drawn (the defaults), never a blank canvas
      expect(errors).toEqual([]);
      });
    }
  }, 240_000);

  test('η typed outside [0, 1] into the brush control gets a message; the brush stays in range', async () => {
    await withDemo(demo.browser, demo.site.url, 'play=0&h=0.06', async (page, errors) => {
      const eta = page.locator('.lil-controller', { hasText: 'brush η' }).locator('input').first();
      await eta.fill('1.5');
      await eta.press('Enter');
      await page.waitForFunction(() => document.querySelectorAll('#messages .msg').length > 0, null, { timeout: 30_000 });
      expect(await page.locator('#messages').textContent()).toMatch(/brush η .* = 1\.5 is outside the range: η must lie in \[0, 1\]/);
      const brush = await page.evaluate(() => (window as unknown as { ionfluxDemo: { state(): { brushEta: number } } }).ionfluxDemo.state().brushEta);
      expect(brush).toBeLessThanOrEqual(1);
      expect(errors).toEqual([]);
    });
  }, 120_000);

  test('the link reopens the same simulation (painted arc, current, grid) and exports the same config', async () => {
    const cfg = () => (window as unknown as { ionfluxDemo: { config(): unknown } }).ionfluxDemo.config();
    const [url, config] = await withDemo(demo.browser, demo.site.url, 'preset=fig4a&h=0.06&play=0', async (page) => {
      await paintRim(page, 60, 100);
      const input = page.locator('.lil-controller', { hasText: 'current (mA/g)' }).locator('input').first();
      await input.fill('150');
      await input.press('Enter');
      await page.waitForFunction(() => /[#&]i=150(&|$)/.test(location.hash));
      return [page.url(), await page.evaluate(cfg)] as const;
    });
    expect(url).toMatch(/seg=(59|60)_10[01]_0\.3/); // the pointer lands on whole px: ±0.3° at the ring, one 1° bin
    await withDemo(demo.browser, url.slice(0, url.indexOf('#')), url.slice(url.indexOf('#') + 1), async (page, errors) => {
      const again = await page.evaluate(cfg) as { surface: unknown; protocol: unknown };
      expect(again).toEqual(config);
      expect(again.protocol).toEqual([{ step: 'charge', current_mA_g: 150, duration_min: 20 }]);
      const m = await metrics(page);
      expect(m.grid?.spacing_um).toBe(0.06);
      expect(m.playing).toBe(false);
      expect(errors).toEqual([]);
    });
  }, 120_000);

  type Loss = { time_s: number; checkpoint_s: number | null; checkpointInterval_s: number; path: string };
  const M = () => (window as unknown as { ionfluxDemo: { metrics(): Loss & { recoveries: number; resumedFrom_s: number | null; messages: string[] } } }).ionfluxDemo.metrics();
  /**
   * Waits until t_s, then loses the device `how` says. The metrics before the loss are the ones `how`
   * returns, sampled in the page's same turn as the loss (a read-back landing between a separate
   * sample and the loss would move the checkpoint), or else sampled just before `how` runs.
   */
  async function loseDeviceAt(page: Page, t_s: number, how: (page: Page) => Promise<Loss | void>): Promise<Loss> {
    await page.waitForFunction((t) => {
      const m = (window as unknown as { ionfluxDemo: { metrics(): Loss } }).ionfluxDemo.metrics();
      return m.time_s >= t && m.checkpoint_s !== null && m.checkpointInterval_s > 0;
    }, t_s, { timeout: 90_000, polling: 100 });
    const sampled = await page.evaluate(() => (window as unknown as { ionfluxDemo: { metrics(): Loss } }).ionfluxDemo.metrics());
    return (await how(page)) ?? sampled;
  }
  /** device.destroy() in the page, returning the metrics of the same turn; `noAdapter`: requestAdapter gives null from then on */
  const destroy = (page: Page, noAdapter = false) => page.evaluate((none) => {
    const demoApi = (window as unknown as { ionfluxDemo: { metrics(): Loss; loseDevice(): boolean } }).ionfluxDemo;
    // the browser has no adapter to give any more (as after a driver removal): requestAdapter → null
    if (none) navigator.gpu.requestAdapter = async () => null;
    const m = demoApi.metrics();
    demoApi.loseDevice();
    return m;
  }, noAdapter);

  test('device.destroy(): a new device, the GpuSolver rebuilt from the last read-back state — the run goes on at that time, not t = 0', async () => {
    await withDemo(demo.browser, demo.site.url, 'h=0.06&budget=10&speed=30', async (page, errors) => {
      const before = await loseDeviceAt(page, 60, (p) => destroy(p));
      await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { recoveries: number } } }).ionfluxDemo.metrics().recoveries === 1, null, { timeout: 60_000 });
      const after = await page.evaluate(M);
      expect(after.path).toBe('webgpu');
      expect(await page.locator('#banner').textContent()).toMatch(/Running on WebGPU/);
      expect(after.messages.join('\n')).toMatch(/device was lost \(destroyed.*recovered on a new device .*goes on from the last read-back state at t = \d/);
      // resumed at the last state read back before the loss: within one read-back interval of it
      expect(after.resumedFrom_s).toBe(before.checkpoint_s);
      expect(after.resumedFrom_s as number).toBeGreaterThan(0);
      expect(after.resumedFrom_s as number).toBeGreaterThanOrEqual(before.time_s - before.checkpointInterval_s - 10);
      console.log(`device.destroy() at t = ${before.time_s.toFixed(1)} s: resumed at ${after.resumedFrom_s?.toFixed(1)} s (read-back interval ${before.checkpointInterval_s.toFixed(1)} s)`);
      // and it runs on: time goes on from there, the trace has no second t = 0
      await page.waitForFunction((t) => (window as unknown as { ionfluxDemo: { metrics(): { time_s: number } } }).ionfluxDemo.metrics().time_s > t + 30, before.time_s, { timeout: 60_000 });
      const trace = await page.evaluate(() => (window as unknown as { ionfluxDemo: { trace(): { time_s: number }[] } }).ionfluxDemo.trace());
      for (let i = 1; i < trace.length; i++) expect(trace[i].time_s).toBeGreaterThan(trace[i - 1].time_s);
      // the canvas is drawn by the new device (not frozen): it changes
      const a = png(await page.locator('#view').screenshot());
      await page.waitForTimeout(1500);
      const b = png(await page.locator('#view').screenshot());
      let changed = 0;
      for (let y = 0; y < 480; y += 2) for (let x = 0; x < 480; x += 2) if (px(a, x, y).some((v, k) => Math.abs(v - px(b, x, y)[k]) > 2)) changed++;
      expect(changed).toBeGreaterThan(20);
      expect(errors.filter((e) => !/lost|destroyed/i.test(e))).toEqual([]);
    });
  }, 180_000);

  test('a GPU process crash: recovered on a new WebGPU device from the last read-back state', async () => {
    await withDemo(demo.browser, demo.site.url, 'h=0.06&budget=10&speed=30', async (page) => {
      const before = await loseDeviceAt(page, 40, async () => {
        const cdp = await demo.browser.newBrowserCDPSession();
        await cdp.send('Browser.crashGpuProcess' as never);
      });
      await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { recoveries: number } } }).ionfluxDemo.metrics().recoveries === 1, null, { timeout: 60_000 });
      const after = await page.evaluate(M);
      expect(after.path).toBe('webgpu');
      expect(after.resumedFrom_s as number).toBeGreaterThan(0);
      expect(after.resumedFrom_s as number).toBeGreaterThanOrEqual(before.checkpoint_s as number);
      expect(after.messages.join('\n')).toMatch(/device was lost .*recovered on a new device/);
      await page.waitForFunction((t) => (window as unknown as { ionfluxDemo: { metrics(): { time_s: number } } }).ionfluxDemo.metrics().time_s > t + 20, after.resumedFrom_s as number, { timeout: 60_000 });
    });
  }, 180_000);

  test('a lost device with no adapter to be had: the CPU worker goes on from the same read-back state, with a banner', async () => {
    await withDemo(demo.browser, demo.site.url, 'h=0.06&budget=10&speed=30', async (page) => {
      const before = await loseDeviceAt(page, 40, (p) => destroy(p, true));
      await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { path: string; time_s: number } } }).ionfluxDemo.metrics().path === 'cpu', null, { timeout: 30_000 });
      expect(await page.locator('#banner').textContent()).toMatch(/CPU fallback: the WebGPU device was lost .* no new WebGPU device could be had/);
      const after = await page.evaluate(M);
      expect(after.resumedFrom_s).toBe(before.checkpoint_s);
      await page.waitForFunction((t) => (window as unknown as { ionfluxDemo: { metrics(): { time_s: number } } }).ionfluxDemo.metrics().time_s > t + 10, before.checkpoint_s as number, { timeout: 60_000 });
      const trace = await page.evaluate(() => (window as unknown as { ionfluxDemo: { trace(): { time_s: number }[] } }).ionfluxDemo.trace());
      expect(trace[0].time_s).toBe(0); // the rows before the loss are kept
      for (let i = 1; i < trace.length; i++) expect(trace[i].time_s).toBeGreaterThan(trace[i - 1].time_s);
      expect(trace[trace.length - 1].time_s).toBeGreaterThan(before.checkpoint_s as number);
    });
  }, 180_000);
});
