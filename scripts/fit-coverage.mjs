#!/usr/bin/env node
/**
 * Coverage of `fit`'s uncertainty intervals (issue 9): noisy synth movies with known blocking (several
 * arcs, spans and η, two non-disk outlines, several noise seeds), each fitted with `--model arc` on
 * the CPU reference; for each parameter, whether the 95 % and the 68 % interval contain the truth —
 * with the intervals as fit reports them (N_eff from the residuals' space-time correlation,
 * src/fit/uncertainty.ts effectiveSamples) and, from the same candidates, as they were before (N_eff
 * from the lag-1 correlations only). Runs the BUILT library:
 *
 *   npm run build && node scripts/fit-coverage.mjs [--quick] [--out FILE.json]
 *
 * ~20 s per case on a 2-core VM (12 cases; --quick: 4). Writes FILE.json (default
 * bench/results/DATE-fit-coverage.json) and prints a table.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lib = await import(path.join(ROOT, 'dist', 'lib', 'index.js')).catch(() => {
  console.error('fit-coverage: dist/lib/index.js is missing: run `npm run build` first');
  process.exit(1);
});
const { presetConfig, applySet, synthesizeMovie, writeSynthOutputs, openMovie, readCapacityFile, readObservedParticle, fitSurface, physicalIntervals, cpuBatchRunner } = lib;

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outIdx = args.indexOf('--out');
const out = outIdx >= 0 ? args[outIdx + 1] : path.join(ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}-fit-coverage${quick ? '-quick' : ''}.json`);
// checked before the fits: a results file of this script's own is replaced; any other file at --out is not
if (existsSync(out)) {
  let ours = false;
  try { ours = JSON.parse(readFileSync(out, 'utf8')).fitCoverage === 1; } catch { /* not ours */ }
  if (!ours) { console.error(`fit-coverage: ${out} exists and is not a fit-coverage result: give another --out`); process.exit(1); }
}

// the movies of test/fit/fit.test.ts: 20 min at 100 mA/g, a frame a minute, 0.04 µm grid, default camera
const MOVIE = ['grid.spacing_um=0.04', 'synth.frame_s=60'];
const arcOf = (c, span, eta) => `surface.segments=[{"fromDeg":${c - span / 2},"toDeg":${c + span / 2},"eta":${eta}}]`;
const ellipse = (a, b, deg) => `particle={"shape":"ellipse","axes_um":[${a},${b}],"angleDeg":${deg}}`;
const CASES = [
  { name: 'fig4c (quarter, η 0.3 at 180°)', preset: 'fig4c', sets: [], truth: [180, 90, 0.3], seed: 1 },
  { name: 'disk, half at η 0.5, 60°', preset: 'fig4a', sets: [arcOf(60, 180, 0.5)], truth: [60, 180, 0.5], seed: 1 },
  { name: 'ellipse 3.0×2.0 @30°, 120° at η 0.2, −45°', preset: 'fig4a', sets: [ellipse(3.0, 2.0, 30), arcOf(-45, 120, 0.2)], truth: [-45, 120, 0.2], seed: 1 },
  { name: 'disk, 60° at η 0.1, 0°', preset: 'fig4a', sets: [arcOf(0, 60, 0.1)], truth: [0, 60, 0.1], seed: 1 },
  { name: 'fig4c, seed 2', preset: 'fig4c', sets: [], truth: [180, 90, 0.3], seed: 2 },
  { name: 'disk, 240° at η 0.6, −120°', preset: 'fig4a', sets: [arcOf(-120, 240, 0.6)], truth: [-120, 240, 0.6], seed: 1 },
  { name: 'ellipse 2.8×2.2 @−20°, 100° at η 0.4, 150°', preset: 'fig4a', sets: [ellipse(2.8, 2.2, -20), arcOf(150, 100, 0.4)], truth: [150, 100, 0.4], seed: 3 },
  { name: 'disk, 45° at η 0.05, 100°', preset: 'fig4a', sets: [arcOf(100, 45, 0.05)], truth: [100, 45, 0.05], seed: 1 },
  { name: 'disk, half at η 0.5, 60°, seed 3', preset: 'fig4a', sets: [arcOf(60, 180, 0.5)], truth: [60, 180, 0.5], seed: 3 },
  { name: 'disk, 150° at η 0.3, 30°', preset: 'fig4a', sets: [arcOf(30, 150, 0.3)], truth: [30, 150, 0.3], seed: 4 },
  { name: 'ellipse 3.0×2.0 @30°, seed 2', preset: 'fig4a', sets: [ellipse(3.0, 2.0, 30), arcOf(-45, 120, 0.2)], truth: [-45, 120, 0.2], seed: 2 },
  { name: 'fig4d (half, η 0.3 at 180°)', preset: 'fig4d', sets: [], truth: null, seed: 1 },
];
const cases = quick ? CASES.slice(0, 4) : CASES;
const wrap = (d) => ((((d + 180) % 360) + 360) % 360) - 180;
const NAMES = ['centerDeg', 'spanDeg', 'eta'];
const covers = (iv, name, t) => (name === 'centerDeg'
  ? Math.abs(wrap(t - iv.lo)) + Math.abs(wrap(iv.hi - t)) <= Math.abs(iv.hi - iv.lo) + 1e-9 && iv.hi - iv.lo < 360 || iv.hi - iv.lo >= 360
  : t >= iv.lo && t <= iv.hi);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ionflux-fit-coverage-'));
const rows = [];
try {
  for (const c of cases) {
    const raw = presetConfig(c.preset);
    for (const s of [...MOVIE, ...c.sets, `synth.seed=${c.seed}`]) applySet(raw, s);
    // the truth from the config itself (fig4d: its preset's arc)
    const seg = raw.surface.segments[0];
    const truth = c.truth ?? [wrap((seg.fromDeg + seg.toDeg) / 2), seg.toDeg - seg.fromDeg, seg.eta];
    const dir = path.join(tmp, String(rows.length));
    mkdirSync(dir, { recursive: true });
    await writeSynthOutputs(dir, await synthesizeMovie(raw));
    const movie = await openMovie(path.join(dir, 'movie.tif'));
    let obs;
    try { obs = await readObservedParticle(movie, { capacity: await readCapacityFile(path.join(dir, 'capacity.csv')), drift: false }); } finally { await movie.close(); }
    const r = await fitSurface(obs, { model: 'arc', runner: cpuBatchRunner() });
    const best = { u: r.best.u, cost: r.best.cost };
    const rc = r.residualCorrelation;
    const sets = {
      new95: r.intervals,
      new68: physicalIntervals(r.parameterisation, r.evaluations, best, r.nEff, 1),
      old95: physicalIntervals(r.parameterisation, r.evaluations, best, rc.lag1, 3.84),
      old68: physicalIntervals(r.parameterisation, r.evaluations, best, rc.lag1, 1),
    };
    const row = {
      name: c.name, truth: Object.fromEntries(NAMES.map((n, i) => [n, truth[i]])), best: Object.fromEntries(NAMES.map((n, i) => [n, r.best.values[i]])),
      nEff: r.nEff, nEffLag1: rc.lag1, samples: rc.n, correlationArea_px: rc.area_px, correlationRadius_px: rc.radius_px, framesEff: rc.framesEff,
      simulations: r.simulations, wallTime_s: r.wallTime_s,
      intervals: Object.fromEntries(Object.entries(sets).map(([k, iv]) => [k, Object.fromEntries(NAMES.map((n) => [n, [iv[n].lo, iv[n].hi]]))])),
      covered: Object.fromEntries(Object.entries(sets).map(([k, iv]) => [k, NAMES.map((n, i) => covers(iv[n], n, truth[i]))])),
      evaluations: r.evaluations.filter((e) => Number.isFinite(e.cost)).map((e) => [e.u.map((v) => Number(v.toPrecision(8))), Number(e.cost.toPrecision(8))]),
    };
    rows.push(row);
    const f = (iv, d) => `${iv[0].toFixed(d)}…${iv[1].toFixed(d)}`;
    console.log(`${c.name}: best ${row.best.centerDeg.toFixed(1)}° ${row.best.spanDeg.toFixed(1)}° η ${row.best.eta.toFixed(3)} (truth ${truth.join(' / ')}); N_eff ${Math.round(r.nEff)} (lag-1 ${Math.round(rc.lag1)}, n ${rc.n}, A ${rc.area_px.toFixed(1)} px to r ${rc.radius_px}, F_eff ${rc.framesEff.toFixed(2)}/${rc.frames}); ` +
      `95 % new ${f(row.intervals.new95.centerDeg, 1)}, ${f(row.intervals.new95.spanDeg, 1)}, ${f(row.intervals.new95.eta, 3)} cover ${row.covered.new95.join('/')}; old cover ${row.covered.old95.join('/')}; ${r.simulations} sims, ${r.wallTime_s.toFixed(1)} s`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const tally = (k) => { const all = rows.flatMap((r) => r.covered[k]); return { covered: all.filter(Boolean).length, of: all.length, fraction: all.filter(Boolean).length / Math.max(1, all.length) }; };
const summary = Object.fromEntries(['new95', 'new68', 'old95', 'old68'].map((k) => [k, tally(k)]));
console.log(`\ncoverage (parameters whose interval contains the truth):\n  95 % intervals: ${summary.new95.covered}/${summary.new95.of} (before: ${summary.old95.covered}/${summary.old95.of})\n  68 % intervals: ${summary.new68.covered}/${summary.new68.of} (before: ${summary.old68.covered}/${summary.old68.of})`);
writeFileSync(out, JSON.stringify({ fitCoverage: 1, date: new Date().toISOString(), machine: `${os.cpus()[0]?.model} × ${os.cpus().length}`, node: process.version, quick, summary, cases: rows }, null, 1) + '\n');
console.log(`wrote ${out}`);
