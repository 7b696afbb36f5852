/**
 * The demo's view on WebGPU (SwiftShader), in real headless Chromium: pan / zoom through the one
 * mat3 view transform (demo/render/view.ts) — the wheel zooms about the cursor, the field, the ring
 * and the brush's hit-testing follow it, so a drag on the zoomed ring paints the angle it is drawn
 * at (checked from the page's exported state, with the screen points worked out here from the zoom
 * alone, not from the page's own helper) — and the PNG exports (view and plots), decoded here.
 */
import { describe, expect, test } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import type { Download, Page } from 'playwright-core';
import { metrics, useDemo, withDemo } from './harness';

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');

const demo = useDemo();


type ViewMetrics = { view: { zoom: number; matrix: number[] }; layout: { pxPerUm: number } };
const viewMetrics = (page: Page) => page.evaluate(() => (window as unknown as { ionfluxDemo: { metrics(): ViewMetrics } }).ionfluxDemo.metrics());
const isGrey = (c: number[]) => c.every((v) => Math.abs(v - 224) <= 3);

async function downloaded(d: Download): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await d.createReadStream()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** the PNG signature and the IHDR's width and height */
function pngHeader(buf: Buffer): { width: number; height: number } {
  expect([...buf.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(buf.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

describe('demo view: pan / zoom and PNG export', () => {
  test('the wheel zooms about the cursor; a drag on the zoomed ring paints η at the angle drawn there; pan and reset', async () => {
    await withDemo(demo.browser, demo.site.url, 'preset=fig4a&h=0.06&play=0&brush=0.3', async (page, errors) => {
      const box = (await page.locator('#overlay').boundingBox()) as { x: number; y: number }; // the canvases' area, inside #view's border
      const m0 = await viewMetrics(page);
      expect(m0.view.zoom).toBe(1);
      // zoom about a screen point inside the particle, left of its centre (layout px (240, 240))
      const cur: [number, number] = [120, 240];
      await page.mouse.move(box.x + cur[0], box.y + cur[1]);
      for (let i = 0; i < 4; i++) await page.mouse.wheel(0, -100);
      await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): ViewMetrics } }).ionfluxDemo.metrics().view.zoom > 1.9);
      const m = await viewMetrics(page);
      const k = m.view.zoom;
      expect(k).toBeGreaterThan(1.9);
      expect(k).toBeLessThan(2.3);
      // zoom about the cursor: the cursor's point stays put, so the matrix is T(cur)·S(k)·T(−cur)
      expect(m.view.matrix[6]).toBeCloseTo(cur[0] * (1 - k), 3);
      expect(m.view.matrix[7]).toBeCloseTo(cur[1] * (1 - k), 3);
      // where the zoomed particle and its η ring are, worked out from k alone (the disk's centre is
      // the layout's, the ring 9 px outside the rim: demo/render/overlay.ts)
      const R = 1.2 * m.layout.pxPerUm;
      const centre: [number, number] = [cur[0] + k * (240 - cur[0]), cur[1] + k * (240 - cur[1])];
      const ring = (deg: number): [number, number] => {
        const a = (deg * Math.PI) / 180;
        return [box.x + centre[0] + (R * k + 9) * Math.cos(a), box.y + centre[1] - (R * k + 9) * Math.sin(a)];
      };
      await page.waitForTimeout(300);
      const shot = await page.locator('#overlay').screenshot(); // the 640×480 canvases' area: field under overlay
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(path.join(ARTIFACTS, 'demo-zoomed.png'), shot);
      const img = PNG.sync.read(shot);
      const at = (x: number, y: number) => { const i = 4 * (y * img.width + x); return [img.data[i], img.data[i + 1], img.data[i + 2]]; };
      // the field is drawn zoomed: along the row through the centre, the particle (white, θ = θ0)
      // begins within a cell of the zoomed rim, far left of where it is unzoomed (240 − R)
      let first = -1;
      for (let x = Math.max(0, Math.round(centre[0] - R * k - 40)); x < 480; x++) {
        const c = at(x, 240);
        if (c.every((v) => v > 240)) { first = x; break; }
      }
      const cellPx = 0.06 * m.layout.pxPerUm * k;
      expect(Math.abs(first - (centre[0] - R * k))).toBeLessThan(cellPx + 2);
      expect(first).toBeLessThan(240 - R - 30);
      expect(isGrey(at(Math.round(centre[0] - R * k - cellPx - 3), 240 + 40))).toBe(true); // outside: NaN grey
      // the scale bar follows the zoom (a round length at the zoomed px per µm), fixed on screen
      expect(Math.max(...at(20, 458))).toBeLessThan(40);

      // paint 170° … 190° by dragging along the ring where it is drawn now
      const [x0, y0] = ring(170);
      await page.mouse.move(x0, y0);
      await page.mouse.down();
      for (let d = 172; d <= 190; d += 2) await page.mouse.move(...ring(d));
      await page.mouse.up();
      const act = (deg: number) => page.evaluate((d) => (window as unknown as { ionfluxDemo: { activity(d: number): number } }).ionfluxDemo.activity(d), deg);
      for (const d of [172, 180, 188]) expect(await act(d)).toBeCloseTo(0.3, 6);
      for (const d of [160, 200, 0, 90]) expect(await act(d)).toBe(1);
      const cfg = await page.evaluate(() => (window as unknown as { ionfluxDemo: { config(): { surface: { segments: { fromDeg: number; toDeg: number; eta: number }[] } } } }).ionfluxDemo.config());
      expect(cfg.surface.segments.length).toBe(1);
      const [seg] = cfg.surface.segments;
      expect(seg.eta).toBe(0.3);
      expect(Math.abs(seg.fromDeg - 170)).toBeLessThanOrEqual(1);
      expect(Math.abs(seg.toDeg - 190)).toBeLessThanOrEqual(1);

      // Shift-drag pans (and paints nothing); "reset view" goes back to the identity
      await page.mouse.move(box.x + 300, box.y + 300);
      await page.keyboard.down('Shift');
      await page.mouse.down();
      await page.mouse.move(box.x + 340, box.y + 280, { steps: 4 });
      await page.mouse.up();
      await page.keyboard.up('Shift');
      const p = await viewMetrics(page);
      expect(p.view.matrix[6] - m.view.matrix[6]).toBeCloseTo(40, 3);
      expect(p.view.matrix[7] - m.view.matrix[7]).toBeCloseTo(-20, 3);
      expect((await page.evaluate(() => (window as unknown as { ionfluxDemo: { config(): { surface: { segments: unknown[] } } } }).ionfluxDemo.config())).surface.segments).toEqual(cfg.surface.segments);
      await page.locator('#viewbar button[data-action="reset-view"]').click();
      expect((await viewMetrics(page)).view.matrix).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
      expect(errors).toEqual([]);
    });
  }, 180_000);

  test('"save view PNG" and each plot\'s "save PNG" download valid PNGs of the right size', async () => {
    await withDemo(demo.browser, demo.site.url, 'h=0.06&speed=120', async (page, errors) => {
      await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { traceRows: number } } }).ionfluxDemo.metrics().traceRows >= 4, null, { timeout: 60_000 });
      const [dv] = await Promise.all([page.waitForEvent('download'), page.locator('#viewbar button[data-action="save-view-png"]').click()]);
      expect(dv.suggestedFilename()).toBe('ionflux-view.png');
      const view = await downloaded(dv);
      expect(pngHeader(view)).toEqual({ width: 640, height: 480 });
      writeFileSync(path.join(ARTIFACTS, 'demo-view-export.png'), view);
      const img = PNG.sync.read(view);
      const at = (x: number, y: number) => { const i = 4 * (y * img.width + x); return [img.data[i], img.data[i + 1], img.data[i + 2]]; };
      expect(isGrey(at(5, 240))).toBe(true); // the WebGPU field was read (NaN grey outside the particle)
      expect(Math.min(...at(270, 270))).toBeGreaterThan(200); // the particle's core (near θ0: white; off the COM marker)
      expect(Math.max(...at(20, 458))).toBeLessThan(40); // the overlay's scale bar
      const plots = await page.locator('.plot').count();
      expect(plots).toBe(4);
      for (let i = 0; i < plots; i++) {
        const id = await page.locator('.plot').nth(i).getAttribute('data-plot');
        const [d] = await Promise.all([page.waitForEvent('download'), page.locator('.plot').nth(i).locator('button.save').click()]);
        expect(d.suggestedFilename()).toBe(`ionflux-${id}.png`);
        const buf = await downloaded(d);
        expect(pngHeader(buf)).toEqual({ width: 300, height: 170 + 26 + 24 });
        const pi = PNG.sync.read(buf);
        let dark = 0;
        for (let j = 0; j < pi.data.length; j += 4) if (pi.data[j] < 100 && pi.data[j + 1] < 100) dark++;
        expect(dark).toBeGreaterThan(200); // axes, ticks, title and legend were drawn in
        if (i === 0) writeFileSync(path.join(ARTIFACTS, 'demo-plot-capacity.png'), buf);
      }
      expect(errors).toEqual([]);
      expect((await metrics(page)).path).toBe('webgpu');
    });
  }, 180_000);
});
