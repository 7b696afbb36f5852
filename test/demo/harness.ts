/**
 * The demo page in real headless Chromium for the tests in this folder: the page built by Vite
 * (`vite build --mode demo`, the same as `npm run build:demo`) into a temporary folder, served on
 * 127.0.0.1 by test/helpers/browser.ts's static server, opened in Debian's Chromium with the
 * SwiftShader WebGPU flags (../shared/RUNTIME.md; `--use-angle=swiftshader` so that a WebGPU canvas
 * presents and shows in screenshots) or, for the fallback, without them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Server } from 'node:http';
import { build } from 'vite';
import { afterAll, beforeAll } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, haveChromium, serveStatic } from '../helpers/browser';

const ROOT = path.resolve(__dirname, '../..');

/** Flags for WebGPU on SwiftShader with a presentable canvas. */
export const WEBGPU_ARGS = [...CHROMIUM_ARGS, '--use-angle=swiftshader'];
/** No WebGPU flags: navigator.gpu exists but gives no adapter (WebGL still on SwiftShader). */
export const NO_WEBGPU_ARGS = ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export interface DemoSite {
  url: string;
  dir: string;
  close(): Promise<void>;
}

/** Builds the demo into a temporary folder and serves it; close() stops the server and removes it. */
export async function serveDemo(): Promise<DemoSite> {
  if (!haveChromium()) throw new Error("no /usr/bin/chromium: install Debian's chromium (see .ci/run)");
  const dir = mkdtempSync(path.join(tmpdir(), 'ionflux-demo-'));
  await build({ configFile: path.join(ROOT, 'vite.config.ts'), mode: 'demo', logLevel: 'error', build: { outDir: dir, emptyOutDir: true, sourcemap: false } });
  const { url, server } = await serveStatic(dir);
  return {
    url, dir,
    close: async () => {
      await new Promise<void>((ok) => (server as Server).close(() => ok()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launch(args: string[] = WEBGPU_ARGS): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args, headless: true });
}

/**
 * One served demo and one Chromium for the test file that calls this at its top level (built and
 * launched before its tests, closed after them); `site` and `browser` are for use inside the tests.
 */
export function useDemo(args: string[] = WEBGPU_ARGS): { readonly site: DemoSite; readonly browser: Browser } {
  let site: DemoSite | undefined, browser: Browser | undefined;
  beforeAll(async () => {
    site = await serveDemo();
    browser = await launch(args);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });
  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`useDemo: the ${what} is not ready (use it inside a test, after beforeAll)`);
    return v;
  };
  return { get site() { return ready(site, 'demo site'); }, get browser() { return ready(browser, 'browser'); } };
}

export interface Metrics {
  path: 'webgpu' | 'cpu';
  pathReason: string;
  adapter: string;
  time_s: number;
  steps: number;
  done: boolean;
  stopReason: string | null;
  traceRows: number;
  last: { time_s: number; comOffset_um: number | null; comOffsetVector_um: [number, number] | null; unreactedFraction: number; meanTheta: number } | null;
  segments: { fromDeg: number; toDeg: number; eta: number }[];
  editedMidRun: boolean;
  grid: { nx: number; ny: number; spacing_um: number; cells: number; area_um2: number } | null;
  /** the resolved config's particle (SPEC §3) */
  particle: Record<string, unknown> | null;
  bench: { stepsPerS: number; fps: number; cellUpdatesPerS: number; budget: number };
  frames: number;
  messages: string[];
  playing: boolean;
}

/** Opens the page at `hash`, collecting console errors and page errors; waits until it has started. */
export async function openDemo(browser: Browser, url: string, hash = ''): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${String(e)}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  await page.goto(`${url}${hash ? `#${hash}` : ''}`);
  await page.waitForFunction(() => (window as unknown as { ionfluxDemo?: { ready: boolean } }).ionfluxDemo?.ready === true, null, { timeout: 60_000 });
  return { page, errors };
}

export async function metrics(page: Page): Promise<Metrics> {
  return page.evaluate(() => (window as unknown as { ionfluxDemo: { metrics(): Metrics } }).ionfluxDemo.metrics());
}

/** Waits until the page's simulated time reaches t_s (or the run ends). */
export async function waitForTime(page: Page, t_s: number, timeout = 90_000): Promise<Metrics> {
  await page.waitForFunction((t) => {
    const m = (window as unknown as { ionfluxDemo: { metrics(): { time_s: number; done: boolean } } }).ionfluxDemo.metrics();
    return m.time_s >= t || m.done;
  }, t_s, { timeout, polling: 200 });
  return metrics(page);
}

/** Waits until the page's run has ended (its protocol done). */
export async function waitForDone(page: Page, timeout = 200_000): Promise<Metrics> {
  await page.waitForFunction(() => (window as unknown as { ionfluxDemo: { metrics(): { done: boolean } } }).ionfluxDemo.metrics().done, null, { timeout, polling: 250 });
  return metrics(page);
}

/** Opens the page, runs `fn` on it, and always closes it (a page left open keeps the GPU process busy). */
export async function withDemo<T>(browser: Browser, url: string, hash: string, fn: (page: Page, errors: string[]) => Promise<T>): Promise<T> {
  const { page, errors } = await openDemo(browser, url, hash);
  try {
    return await fn(page, errors);
  } finally {
    await page.close();
  }
}
