/**
 * The GPU solver in a real browser: the library bundled by Vite, run in headless Chromium on its
 * SwiftShader WebGPU adapter through navigator.gpu (the same src/gpu/device.ts as in Node), and
 * compared with the CPU reference in the same page.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'vite';
import type { Browser } from 'playwright-core';
import type { Server } from 'node:http';
import { haveChromium, launchChromium, serveStatic } from '../helpers/browser';

const dir = mkdtempSync(path.join(tmpdir(), 'ionflux-browser-'));
let server: Server;
let url: string;
let browser: Browser;

beforeAll(async () => {
  if (!haveChromium()) throw new Error('no /usr/bin/chromium: install Debian\'s chromium (see .ci/run)');
  await build({
    configFile: false,
    logLevel: 'error',
    build: {
      outDir: dir,
      emptyOutDir: false,
      target: 'es2022',
      lib: { entry: path.resolve(__dirname, 'entry.ts'), formats: ['es'], fileName: () => 'entry.js' },
    },
  });
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./entry.js"></script>');
  ({ url, server } = await serveStatic(dir));
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('fig4c (coarse) on navigator.gpu in Chromium equals the CPU reference', async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __ionflux?: unknown }).__ionflux !== undefined, null, { timeout: 90_000 });
  const r = await page.evaluate(() => (window as unknown as { __ionflux: Record<string, unknown> }).__ionflux);
  expect(errors).toEqual([]);
  expect(r.error).toBeUndefined();
  expect(String(r.adapter)).toMatch(/swiftshader|google/i);
  const [gpuSteps, cpuSteps] = r.steps as number[];
  expect(gpuSteps).toBe(cpuSteps);
  expect(gpuSteps).toBeGreaterThan(100); // h = 0.06 µm: Δt = h²/(4·D_max) = 0.9 s → 360 steps
  expect(r.maxAbs as number).toBeLessThanOrEqual(2e-6);
  expect(1 - (r.meanTheta as number)).toBeCloseTo(100 * 5 / 60 / 275, 5);
  expect(r.comOffset_um as number).toBeGreaterThan(0.05);
});
