/**
 * The demo without WebGPU: Chromium launched without the WebGPU flags (navigator.gpu is there but
 * gives no adapter), so the page runs the CPU reference in a Web Worker and draws it with regl —
 * and says so in its banner. Real headless Chromium, the Vite-built page on 127.0.0.1.
 */
import { expect, test } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { metrics, NO_WEBGPU_ARGS, useDemo, withDemo } from './harness';

const demo = useDemo(NO_WEBGPU_ARGS);


test('without the WebGPU flags the CPU worker + regl path runs, the banner says why, and the core shrinks', async () => {
  await withDemo(demo.browser, demo.site.url, 'preset=fig4c&h=0.04&t=8&trace=30&speed=600', async (page, errors) => {
    const m0 = await metrics(page);
    expect(m0.path).toBe('cpu');
    expect(m0.pathReason).toMatch(/no WebGPU (device|adapter)|no WebGPU adapter/i);
    const banner = await page.locator('#banner').textContent();
    expect(banner).toMatch(/CPU fallback: .*WebGPU/);
    expect(banner).toMatch(/CpuSolver\) in a Web Worker, drawn with regl \(WebGL\)/);
    await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { done: boolean } } }).ionfluxDemo.metrics().done, null, { timeout: 120_000, polling: 250 });
    const trace = await page.evaluate(() => (window as unknown as { ionfluxDemo: { trace(): { time_s: number; unreactedFraction: number; capacity_mAh_g: number }[] } }).ionfluxDemo.trace());
    expect(trace.length).toBe(17); // 0 … 480 s every 30 s
    // the Li-rich core shrinks: the unreacted fraction falls, the capacity grows as i·t
    expect(trace[0].unreactedFraction).toBe(1);
    expect(trace[16].unreactedFraction).toBeLessThan(0.6);
    for (let i = 1; i < trace.length; i++) expect(trace[i].unreactedFraction).toBeLessThanOrEqual(trace[i - 1].unreactedFraction + 1e-9);
    expect(trace[16].capacity_mAh_g).toBeCloseTo((100 * 480) / 3600, 3);
    // regl drew the field: a white-to-red particle on the grey ground, not a blank canvas
    const shot = await page.locator('#view').screenshot();
    mkdirSync(path.resolve(__dirname, '../../test-artifacts'), { recursive: true });
    writeFileSync(path.resolve(__dirname, '../../test-artifacts/demo-fallback.png'), shot);
    const img = PNG.sync.read(shot);
    const at = (x: number, y: number) => { const i = 4 * (y * img.width + x); return [img.data[i], img.data[i + 1], img.data[i + 2]]; };
    const lay = (await metrics(page)) as unknown as { layout: { pxPerUm: number } };
    const R = 1.2 * lay.layout.pxPerUm;
    const rim = at(Math.round(240 + 0.93 * R), 240); // the clean right side, delithiated
    expect(rim[0]).toBeGreaterThan(rim[2] + 40); // red
    expect(at(5, 240)).toEqual([224, 224, 224]); // outside the particle: NaN grey
    expect(errors).toEqual([]);
  });
}, 200_000);

test('CPU path: a change of current carries the running state over (the time is not reset), the capacity then grows at the new rate', async () => {
  await withDemo(demo.browser, demo.site.url, 'preset=fig4c&h=0.06&t=20&trace=10&speed=120', async (page, errors) => {
    const m = () => page.evaluate(() => (window as unknown as { ionfluxDemo: { metrics(): { path: string; time_s: number; editedMidRun: boolean } } }).ionfluxDemo.metrics());
    expect((await m()).path).toBe('cpu');
    await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { time_s: number } } }).ionfluxDemo.metrics().time_s >= 60, null, { timeout: 60_000 });
    const t0 = (await m()).time_s;
    const input = page.locator('.lil-controller', { hasText: 'current (mA/g)' }).locator('input').first();
    await input.fill('200');
    await input.press('Enter');
    await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { editedMidRun: boolean } } }).ionfluxDemo.metrics().editedMidRun, null, { timeout: 30_000 });
    const m1 = await m();
    expect(m1.time_s).toBeGreaterThanOrEqual(t0); // not back to 0
    await page.waitForFunction((t) => (window as unknown as { ionfluxDemo: { metrics(): { time_s: number } } }).ionfluxDemo.metrics().time_s >= t + 40, m1.time_s, { timeout: 60_000 });
    const tr = await page.evaluate(() => (window as unknown as { ionfluxDemo: { trace(): { time_s: number; capacity_mAh_g: number }[] } }).ionfluxDemo.trace());
    expect(tr[0].time_s).toBe(0); // one run: its rows from t = 0 kept
    for (let i = 1; i < tr.length; i++) expect(tr[i].time_s).toBeGreaterThan(tr[i - 1].time_s);
    const a = tr[tr.length - 2], b = tr[tr.length - 1];
    expect(a.time_s).toBeGreaterThan(m1.time_s);
    expect((b.capacity_mAh_g - a.capacity_mAh_g) / (b.time_s - a.time_s)).toBeCloseTo(200 / 3600, 4);
    expect(errors).toEqual([]);
  });
}, 120_000);
