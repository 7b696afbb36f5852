#!/usr/bin/env node
/**
 * The demo page's speed with and without the observed movie, in headless Chromium on SwiftShader
 * (../shared/RUNTIME.md): for each built site (`vite build --mode demo --outDir DIR`) the default
 * fig4c page runs for a few seconds and its own numbers (window.ionfluxDemo.metrics().bench: steps
 * per second, frames per second) are sampled once a second; on sites that have the observed panel
 * the movie (and capacity CSV) is then dropped on the page and the same is sampled with it analysed
 * and its first particle selected (the simulated line cut read back every trace row), and the page's
 * analysis time is reported. Sites are taken in turn, round after round, so that a loaded machine
 * weighs on all of them alike.
 *
 *   node bench/demo-observed.mjs --movie M.tif [--capacity C.csv] [--rounds 3] [--seconds 8] LABEL=DIR …
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { launchChromium, openSite } from './demoSite.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); if (i < 0) return dflt; const v = args[i + 1]; args.splice(i, 2); return v; };
const movie = opt('--movie');
const capacity = opt('--capacity');
const rounds = Number(opt('--rounds', '3'));
const seconds = Number(opt('--seconds', '8'));
const sites = args.map((a) => { const [label, dir] = a.split('='); return { label, dir: path.resolve(dir) }; });
if (!movie || !sites.length) { console.error('usage: node bench/demo-observed.mjs --movie M.tif [--capacity C.csv] LABEL=DIR …'); process.exit(2); }


const browser = await launchChromium();
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const files = [{ name: path.basename(movie), mimeType: 'image/tiff', buffer: await readFile(movie) }];
if (capacity) files.push({ name: path.basename(capacity), mimeType: 'text/csv', buffer: await readFile(capacity) });

async function sample(page) {
  const steps = [], fps = [];
  for (let k = 0; k < seconds; k++) {
    await page.waitForTimeout(1000);
    const b = await page.evaluate(() => window.ionfluxDemo.metrics().bench);
    steps.push(b.stepsPerS); fps.push(b.fps);
  }
  return { steps: median(steps), fps: median(fps), stepsRange: [Math.min(...steps), Math.max(...steps)], fpsRange: [Math.min(...fps), Math.max(...fps)] };
}

const rows = [];
for (let r = 0; r < rounds; r++) {
  for (const site of sites) {
    const { page, close } = await openSite(browser, site.dir);
    try {
      await page.waitForTimeout(3000); // the adaptive budget settles
      rows.push({ round: r, site: site.label, case: 'fig4c', ...(await sample(page)) });
      if (await page.locator('#drop-zone').count()) {
        await page.locator('#drop-zone').drop({ files });
        await page.waitForFunction(() => { const s = window.ionfluxDemo.observed.summary(); return !s.busy && (s.name || s.lastError); }, null, { timeout: 120_000 });
        const s = await page.evaluate(() => window.ionfluxDemo.observed.summary());
        await page.waitForTimeout(2000);
        rows.push({ round: r, site: site.label, case: `fig4c + ${s.name} (${s.width}×${s.height}×${s.frames}, ${s.particles.length} particle(s)) analysed in ${s.analysis_ms?.toFixed(0)} ms`, ...(await sample(page)) });
      }
    } finally {
      await close();
    }
  }
}
await browser.close();
for (const x of rows) console.log(`round ${x.round}  ${x.site.padEnd(6)} ${x.case}: ${x.steps} steps/s [${x.stepsRange}], ${x.fps} frames/s [${x.fpsRange}]`);
