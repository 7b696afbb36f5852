#!/usr/bin/env node
/**
 * The paper's claim as a figure (issue 9; Lun et al. 2025, Fig. 4): a blocked surface is what makes a
 * particle charge lopsidedly. For each aged-particle preset (fig4b: a quarter of the surface at
 * η 0.7, fig4c: a quarter at η 0.3, fig4d: half at η 0.3, all centred on 180°), this
 *   1. makes its noisy synth movie (20 min at 100 mA/g, a frame a minute, the default camera),
 *   2. fits it with `--model arc` (CPU; the fit does not see the truth) — where does it put the
 *      blocking, and how strong?
 *   3. compares the fresh particle `fig4a` (no blocking, simulated at every frame) with the movie, as
 *      `ionflux compare --sim fig4a --observed MOVIE` does, and the best fit with the movie: the
 *      COM-offset error the fresh particle leaves, and what is left once the blocking is fitted.
 * Writes OUT/paper-figure.png (η(φ) fitted vs true per preset; COM-offset error against charge),
 * OUT/paper-figure.csv (one row per preset) and OUT/paper-figure.json (the per-frame numbers).
 * Runs the BUILT library, a few minutes on a 2-core CPU:
 *
 *   npm run build && npm run paper-figure [-- --out DIR]      (default out/paper-figure)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lib = await import(path.join(ROOT, 'dist', 'lib', 'index.js')).catch(() => {
  console.error('paper-figure: dist/lib/index.js is missing: run `npm run build` first');
  process.exit(1);
});
const {
  presetConfig, applySet, resolveConfig, buildProblem, CpuSolver, runSimulation, synthesizeMovie, writeSynthOutputs, openMovie,
  readCapacityFile, readObservedParticle, fitSurface, cpuBatchRunner, bestFitComparison, compareParticles, simulatedFromFields,
  renderPlotGrid, encodePng, writeOutputDir,
} = lib;

const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
if (outIdx >= 0 && !args[outIdx + 1]) { console.error('paper-figure: --out needs a folder'); process.exit(1); }
const OUT = path.resolve(outIdx >= 0 ? args[outIdx + 1] : path.join(ROOT, 'out', 'paper-figure'));

// the work runs inside writeOutputDir, as ionflux's commands do (src/io/output.ts): a folder that is
// not free is refused before the fits, the files are staged and committed whole, and a file of the
// user's own in OUT is never replaced
const written = await writeOutputDir(OUT, async (dir) => {
  const MOVIE = ['grid.spacing_um=0.04', 'synth.frame_s=60'];
  const PRESETS = ['fig4b', 'fig4c', 'fig4d'];
  const wrap = (d) => ((((d + 180) % 360) + 360) % 360) - 180;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ionflux-paper-figure-'));

  // stage 1: the fresh particle, fig4a, simulated at every frame time (what `ionflux simulate --preset fig4a` gives)
  const freshRaw = presetConfig('fig4a');
  for (const s of [...MOVIE, `snapshots_min=${JSON.stringify(Array.from({ length: 20 }, (_, i) => i + 1))}`]) applySet(freshRaw, s);
  const freshProblem = await buildProblem(resolveConfig(freshRaw));
  const freshSolver = await CpuSolver.create(freshProblem);
  let freshSide;
  try {
    const run = await runSimulation(freshProblem, freshSolver);
    freshSide = simulatedFromFields(freshProblem, run.snapshots.map((s) => ({ time_s: s.time_s, capacity_mAh_g: s.capacity_mAh_g, field: s.field })), { source: 'fig4a' });
  } finally {
    freshSolver.destroy();
  }

  const results = [];
  try {
    for (const name of PRESETS) {
      // stage 2: the aged particle's movie and what fit makes of it
      const raw = presetConfig(name);
      for (const s of MOVIE) applySet(raw, s);
      const seg = raw.surface.segments[0];
      const truth = { centerDeg: ((((seg.fromDeg + seg.toDeg) / 2) % 360) + 360) % 360, spanDeg: seg.toDeg - seg.fromDeg, eta: seg.eta };
      const dir = path.join(tmp, name);
      mkdirSync(dir, { recursive: true });
      await writeSynthOutputs(dir, await synthesizeMovie(raw));
      const movie = await openMovie(path.join(dir, 'movie.tif'));
      let obs;
      try { obs = await readObservedParticle(movie, { capacity: await readCapacityFile(path.join(dir, 'capacity.csv')), drift: false }); } finally { await movie.close(); }
      console.error(`paper-figure: fitting the ${name} movie`);
      const runner = cpuBatchRunner();
      const fit = await fitSurface(obs, { model: 'arc', runner });
      // stage 3: fresh vs the movie, best fit vs the movie
      const fresh = compareParticles(obs, freshSide);
      const best = await bestFitComparison(fit, obs, runner);
      const perFrame = (c) => c.frames.map((f) => ({ frame: f.frame, capacity_mAh_g: obs.capacity_mAh_g?.[f.frame] ?? null, comOffsetError_um: f.comOffsetError_um, comOffsetObs_um: f.comOffsetObs_um, pearsonR: f.pearsonR }));
      const [c, span, eta] = fit.best.values;
      results.push({
        preset: name, truth, fit: { centerDeg: c, spanDeg: span, eta }, intervals: fit.intervals, simulations: fit.simulations, wallTime_s: fit.wallTime_s,
        // η(φ) over 0 … 360° (the presets' blocked arc sits at 180°, in the middle)
        eta: Array.from({ length: 361 }, (_, k) => ({ phi: k, fitted: fit.parameterisation.etaAt(fit.best.u, k), truth: Math.abs(wrap(k - truth.centerDeg)) < truth.spanDeg / 2 ? truth.eta : 1 })),
        fresh: { medianComOffsetError_um: fresh.medians.comOffsetError_um, medianPearsonR: fresh.medians.pearsonR, frames: perFrame(fresh) },
        bestFit: { medianComOffsetError_um: best.medians.comOffsetError_um, medianPearsonR: best.medians.pearsonR, frames: perFrame(best) },
        medianComOffsetObs_um: fresh.medians.comOffsetObs_um,
      });
      console.error(`paper-figure: ${name}: fitted centre ${c.toFixed(1)}° (true ${truth.centerDeg}°), span ${span.toFixed(1)}° (${truth.spanDeg}), η ${eta.toFixed(3)} (${truth.eta}); median COM-offset error fig4a ${fresh.medians.comOffsetError_um?.toFixed(3)} µm → best fit ${best.medians.comOffsetError_um?.toFixed(3)} µm; ${fit.simulations} simulations, ${fit.wallTime_s.toFixed(1)} s`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  // stage 4: the figure — top row η(φ) fitted vs true, bottom row COM-offset error against charge
  const BLUE = [31, 119, 180], GREY = [127, 127, 127], ORANGE = [255, 127, 14], GREEN = [44, 160, 44];
  const panels = [
    ...results.map((r) => ({
      title: `${r.preset} eta(phi): fit centred ${(((r.fit.centerDeg % 360) + 360) % 360).toFixed(0)} deg`,
      xLabel: 'angle phi (deg)', yLabel: 'eta', yRange: [0, 1.05],
      series: [{ x: r.eta.map((p) => p.phi), y: r.eta.map((p) => p.truth), rgb: GREY }, { x: r.eta.map((p) => p.phi), y: r.eta.map((p) => p.fitted), rgb: BLUE }],
    })),
    ...results.map((r) => ({
      title: `${r.preset} COM error ${r.fresh.medianComOffsetError_um.toFixed(2)} -> ${r.bestFit.medianComOffsetError_um.toFixed(3)} um`,
      xLabel: 'charge (mAh/g)', yLabel: 'error (um)',
      series: [
        { x: r.fresh.frames.map((f) => f.capacity_mAh_g ?? NaN), y: r.fresh.frames.map((f) => f.comOffsetError_um), rgb: ORANGE, points: true },
        { x: r.bestFit.frames.map((f) => f.capacity_mAh_g ?? NaN), y: r.bestFit.frames.map((f) => f.comOffsetError_um), rgb: GREEN, points: true },
      ],
    })),
  ];
  const img = renderPlotGrid(panels, {
    columns: results.length, plotWidth: 360, plotHeight: 150,
    title: 'Aged synth movies (blocked at 180 deg): the fit finds the blocked side, the fresh fig4a misses the core, the fit does not',
    legend: [{ label: 'true eta(phi)', rgb: GREY }, { label: 'fitted eta(phi)', rgb: BLUE }, { label: 'COM-offset error: fig4a (fresh) vs movie', rgb: ORANGE }, { label: 'best fit vs movie', rgb: GREEN }],
  });

  // the files
  writeFileSync(path.join(dir, 'paper-figure.png'), encodePng(img));
  const f = (v, d) => (v === null || v === undefined || !Number.isFinite(v) ? '' : v.toFixed(d));
  const csv = ['preset,trueCenterDeg,trueSpanDeg,trueEta,centerDeg,centerLo,centerHi,spanDeg,spanLo,spanHi,eta,etaLo,etaHi,comOffsetObsMedian_um,comOffsetErrorFig4aMedian_um,comOffsetErrorBestFitMedian_um,pearsonRFig4aMedian,pearsonRBestFitMedian,simulations,wallTime_s'];
  for (const r of results) {
    const iv = r.intervals;
    // the centre on 0 … 360° as the truth (its interval moved with it)
    const shift = ((((r.fit.centerDeg % 360) + 360) % 360)) - r.fit.centerDeg;
    csv.push([r.preset, r.truth.centerDeg, r.truth.spanDeg, r.truth.eta, f(r.fit.centerDeg + shift, 2), f(iv.centerDeg.lo + shift, 2), f(iv.centerDeg.hi + shift, 2), f(r.fit.spanDeg, 2), f(iv.spanDeg.lo, 2), f(iv.spanDeg.hi, 2),
      f(r.fit.eta, 4), f(iv.eta.lo, 4), f(iv.eta.hi, 4), f(r.medianComOffsetObs_um, 4), f(r.fresh.medianComOffsetError_um, 4), f(r.bestFit.medianComOffsetError_um, 4), f(r.fresh.medianPearsonR, 4), f(r.bestFit.medianPearsonR, 4), r.simulations, f(r.wallTime_s, 1)].join(','));
  }
  writeFileSync(path.join(dir, 'paper-figure.csv'), csv.join('\n') + '\n');
  writeFileSync(path.join(dir, 'paper-figure.json'), JSON.stringify({ date: new Date().toISOString(), machine: `${os.cpus()[0]?.model} × ${os.cpus().length}`, results: results.map(({ eta, ...r }) => r) }, null, 1) + '\n');
}, { command: 'paper-figure' }).catch((e) => { console.error(`paper-figure: ${e.message}`); process.exit(e.exitCode ?? 1); });
console.error(`paper-figure: wrote ${written.output.dir}/paper-figure.{png,csv,json}`);
