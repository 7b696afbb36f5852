#!/usr/bin/env node
/**
 * How the demo page animates WHILE an observed movie is analysed, in headless Chromium on SwiftShader
 * (../shared/RUNTIME.md): for each built site (`vite build --mode demo --outDir DIR`) the default
 * fig4c page runs a few seconds, then the movie is chosen with the file picker (#observed-file) and,
 * from that moment until the analysis is done, the page's own frame counter
 * (window.ionfluxDemo.metrics().frames), its simulated time and the longest gap between two
 * animation frames (a requestAnimationFrame loop added to the page) are recorded. An analysis on the
 * main thread shows as one long gap; in a worker the gaps stay near a frame. Sites are taken in
 * turn, round after round, so that a loaded machine weighs on all of them alike.
 *
 *   node bench/demo-analysis-worker.mjs --movie M.tif [--rounds 3] LABEL=DIR …
 */
import path from 'node:path';
import { launchChromium, openSite } from './demoSite.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); if (i < 0) return dflt; const v = args[i + 1]; args.splice(i, 2); return v; };
const movie = opt('--movie');
const rounds = Number(opt('--rounds', '3'));
const hash = opt('--hash', 'h=0.04&speed=300&trace=30');
const sites = args.map((a) => { const [label, dir] = a.split('='); return { label, dir: path.resolve(dir) }; });
if (!movie || !sites.length) { console.error('usage: node bench/demo-analysis-worker.mjs --movie M.tif [--rounds 3] LABEL=DIR …'); process.exit(2); }


const browser = await launchChromium();

const snap = (page) => page.evaluate(() => ({ frames: window.ionfluxDemo.metrics().frames, time_s: window.ionfluxDemo.metrics().time_s, gap: window.__gap, now: performance.now() }));
const rows = [];
for (let r = 0; r < rounds; r++) {
  for (const site of sites) {
    const { page, close } = await openSite(browser, site.dir, hash);
    try {
      // the longest gap between two animation frames since the last reset
      await page.evaluate(() => { let last = performance.now(); window.__gap = 0; const f = (t) => { window.__gap = Math.max(window.__gap, t - last); last = t; requestAnimationFrame(f); }; requestAnimationFrame(f); });
      await page.waitForTimeout(3000);
      await page.evaluate(() => { window.__gap = 0; });
      const i0 = await snap(page);
      await page.waitForTimeout(3000);
      const i1 = await snap(page);
      await page.evaluate(() => { window.__gap = 0; });
      const a0 = await snap(page);
      await page.locator('#observed-file').setInputFiles(movie);
      await page.waitForFunction(() => { const s = window.ionfluxDemo.observed.summary(); return !s.busy && (s.name || s.lastError); }, null, { timeout: 300_000, polling: 100 });
      const a1 = await snap(page);
      const s = await page.evaluate(() => window.ionfluxDemo.observed.summary());
      const rate = (x, y) => ({ fps: (1000 * (y.frames - x.frames)) / (y.now - x.now), sim: (1000 * (y.time_s - x.time_s)) / (y.now - x.now), gap: y.gap, s: (y.now - x.now) / 1000 });
      rows.push({ round: r, site: site.label, idle: rate(i0, i1), during: rate(a0, a1), analysis: `${s.name} ${s.width}×${s.height}×${s.frames} in ${(s.analysis_ms / 1000).toFixed(1)} s (${s.thread ?? 'main'})${s.lastError ? ` ERROR ${s.lastError}` : ''}` });
    } finally {
      await close();
    }
  }
}
await browser.close();
const f = (x) => `${x.fps.toFixed(1)} frames/s, ${x.sim.toFixed(1)} sim-s/s, longest frame gap ${x.gap.toFixed(0)} ms over ${x.s.toFixed(1)} s`;
for (const x of rows) console.log(`round ${x.round}  ${x.site.padEnd(4)} idle: ${f(x.idle)} | during ${x.analysis}: ${f(x.during)}`);
