#!/usr/bin/env node
/**
 * The demo's in-page benchmark, read from headless Chromium on SwiftShader (../shared/RUNTIME.md):
 * frames/s, steps/s, cell-updates/s and steps per frame as the page itself reports them
 * (window.ionfluxDemo.metrics().bench), plus the longest gap between two animation frames seen by
 * a rAF observer of our own. Several built sites (e.g. before / after a change) are measured in
 * interleaved rounds in one browser, so that a machine loaded by other work affects them alike.
 *
 *   node bench/demo-fps.mjs [--rounds 3] [--seconds 8] [--hash 'preset=fig4c'] NAME=SITE_DIR …
 *
 * SITE_DIR: a folder written by `vite build --mode demo` (npm run build:demo → dist/demo).
 */
import path from 'node:path';
import { launchChromium, serve } from './demoSite.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); if (i < 0) return dflt; const v = args[i + 1]; args.splice(i, 2); return v; };
const rounds = Number(opt('rounds', 3)), seconds = Number(opt('seconds', 8)), hash = opt('hash', '');
const sites = args.map((a) => { const [name, dir] = a.split('='); return { name, dir: path.resolve(dir) }; });
if (!sites.length) { console.error('usage: node bench/demo-fps.mjs [--rounds N] [--seconds S] [--hash H] NAME=SITE_DIR …'); process.exit(2); }


const browser = await launchChromium();
const served = await Promise.all(sites.map(async (s) => ({ ...s, ...(await serve(s.dir)) })));
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const results = Object.fromEntries(sites.map((s) => [s.name, []]));
for (let r = 0; r < rounds; r++) {
  for (const s of served) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${s.url}${hash ? `#${hash}` : ''}`);
    await page.waitForFunction(() => window.ionfluxDemo?.ready === true, null, { timeout: 60_000 });
    await page.evaluate(() => {
      const w = window; w.__gaps = []; let last = performance.now();
      const f = (t) => { w.__gaps.push(t - last); last = t; requestAnimationFrame(f); };
      requestAnimationFrame(f);
    });
    await page.waitForTimeout(3000); // warm-up: the adaptive budget settles
    await page.evaluate(() => { window.__gaps = []; });
    const samples = [];
    const t0 = await page.evaluate(() => window.ionfluxDemo.metrics().time_s);
    for (let i = 0; i < seconds; i++) { await page.waitForTimeout(1000); samples.push(await page.evaluate(() => window.ionfluxDemo.metrics().bench)); }
    const t1 = await page.evaluate(() => window.ionfluxDemo.metrics().time_s);
    const gaps = await page.evaluate(() => window.__gaps);
    const row = {
      round: r, fps: median(samples.map((b) => b.fps)), stepsPerS: median(samples.map((b) => b.stepsPerS)),
      Mcell: median(samples.map((b) => b.cellUpdatesPerS)) / 1e6, budget: median(samples.map((b) => b.budget)),
      simSPerS: (t1 - t0) / seconds, rafFps: gaps.length / seconds, worstGap_ms: Math.max(...gaps), p95Gap_ms: [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length * 0.95)],
    };
    results[s.name].push(row);
    console.log(`${s.name.padEnd(8)} round ${r}: ${row.fps} fps (page), ${row.rafFps.toFixed(1)} rAF/s, worst frame gap ${row.worstGap_ms.toFixed(0)} ms, p95 ${row.p95Gap_ms.toFixed(0)} ms; ${row.stepsPerS} steps/s, ${row.Mcell.toFixed(2)} Mcell/s, ${row.budget} steps/frame, ${row.simSPerS.toFixed(1)} simulated s/s`);
    await page.close();
  }
}
console.log('\nmedians over rounds:');
for (const [name, rows] of Object.entries(results)) {
  const m = (k) => median(rows.map((x) => x[k]));
  console.log(`${name.padEnd(8)} ${m('fps')} fps, ${m('rafFps').toFixed(1)} rAF/s, worst gap ${m('worstGap_ms').toFixed(0)} ms, ${m('stepsPerS')} steps/s, ${m('Mcell').toFixed(2)} Mcell/s, ${m('budget')} steps/frame, ${m('simSPerS').toFixed(1)} sim s/s`);
}
await browser.close();
for (const s of served) s.server.close();
