/**
 * The files of `ionflux fit` (SPEC §7): fit.json, cost.csv, overlay.png (the fitted η(φ) as a colour
 * ring on the observed particle, beside η against angle), compare/ (the compare outputs of the best
 * fit), and the resume journal kept beside the output folder while the fit runs.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { colorOf } from '../render/colormap';
import { fillRect } from '../render/draw';
import { renderField } from '../render/figure';
import { renderPlotGrid, SERIES_COLOURS } from '../render/plot';
import { encodePng, type RgbaImage } from '../render/png';
import { stackImages } from '../render/stack';
import { writeIndexHtml } from '../render/htmlIndex';
import { buildProblem } from '../solver/problem';
import { compareParticles, type ComparisonResult } from '../compare/compare';
import type { ObservedParticle } from '../compare/observed';
import { simulatedFromFields } from '../compare/simulated';
import { writeComparisonOutputs } from '../compare/output';
import { VERSION } from '../version';
import type { BatchRunner } from './batch';
import type { FitJournal, FitResult, JournalEntry } from './fit';

const r6 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toPrecision(6)));

/** fit.json (SPEC §7's keys first, then what a scientist checks the fit with) */
export function fitJson(r: FitResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const par = r.parameterisation;
  const best = par.report(r.best.values.map((v) => r6(v)!));
  const lo = r.names.map((n) => r.intervals[n].lo), hi = r.names.map((n) => r.intervals[n].hi);
  const intervals = r.model === 'arc'
    ? Object.fromEntries(r.names.map((n, i) => [n, [r6(lo[i]), r6(hi[i])]]))
    : { eta: r.names.filter((n) => n.startsWith('eta@')).map((n) => [r6(r.intervals[n].lo), r6(r.intervals[n].hi)]), ...(r.names.includes('log10DScale') ? { log10DScale: [r6(r.intervals.log10DScale.lo), r6(r.intervals.log10DScale.hi)] } : {}) };
  const blocked = r.model === 'arc' ? (1 - r.best.values[2]) * r.best.values[1] / 360 : r.best.values.slice(0, r.names.filter((n) => n.startsWith('eta@')).length).reduce((a, e, _, all) => a + (1 - e) / all.length, 0);
  return {
    particle: r.particle,
    model: r.model,
    best,
    intervals,
    intervalMethod: r.intervalMethod,
    cost: r6(r.best.cost),
    simulations: r.simulations,
    wallTime_s: r6(r.wallTime_s),
    config: r.config,
    // additions
    kappa: r6(r.best.kappa),
    intervalsOpen: Object.fromEntries(r.names.map((n) => [n, r.intervals[n].open])),
    intervalKinds: Object.fromEntries(r.names.map((n) => [n, r.intervals[n].method])),
    blockedFraction: r6(blocked),
    blockedFractionNote: 'Σ (1 − η)·span/360: the share of the surface\'s activity the blocking removes (0 = none)',
    simulationsRun: r.simulationsRun,
    generations: r.history.length,
    converged: r.converged,
    improved: r.improved,
    frames: r.frames,
    current_mA_g: r6(r.current_mA_g),
    currentSource: r.currentSource,
    // the steps simulated (from the record's own samples, or one charge at current_mA_g), each with its current
    protocol: r.config.protocol,
    grid_um: r.grid_um,
    psfSigma_um: r.psfSigma_um,
    nEff: Math.round(r.nEff),
    residualCorrelation: { area_px: r6(r.residualCorrelation.area_px), radius_px: r.residualCorrelation.radius_px, framesEff: r6(r.residualCorrelation.framesEff), frames: r.residualCorrelation.frames, samples: r.residualCorrelation.n },
    pixels: Math.round(r.pixels),
    backend: r.backend,
    costDefinition: 'MSR + w·s²·mean_k|Δv_k|²/R_eq² (× the bins\' smoothness penalty): MSR = mean squared ΔI/I0 residual over the particle\'s pixels and the fitted frames with κ fitted by least squares (or given), Δv_k the core COM-offset vector error, s² the variance of the observed ΔI/I0',
    warnings: r.warnings,
    ...extra,
    version: VERSION,
  };
}

export function costCsv(r: FitResult): string {
  const rows = [['iteration', 'evaluations', 'bestCost', ...r.names].join(',')];
  for (const h of r.history) rows.push([h.generation, h.evaluations, r6(h.bestCost), ...h.values.map(r6)].join(','));
  return rows.join('\n') + '\n';
}

/** overlay.png: the last fitted frame's ΔI/I0 with the fitted η(φ) as a ring around the outline, and η against angle */
export function renderFitOverlay(r: FitResult, obs: ObservedParticle): RgbaImage {
  const W = obs.crop.width, H = obs.crop.height, f = r.frames[r.frames.length - 1];
  const field = Float32Array.from(obs.diff[f], (v, i) => (obs.mask[i] ? v : NaN));
  const vals = [...field].filter(Number.isFinite).map(Math.abs).sort((a, b) => a - b);
  const range = Math.max(0.01, vals.length ? vals[Math.floor(0.99 * (vals.length - 1))] : 0.1);
  const scale = Math.max(3, Math.round(300 / Math.max(W, H)));
  const img = renderField(field, W, H, {
    colormap: 'diverging', vmin: -range, vmax: range, center: 0, colorbarLabel: 'ΔI/I0', pixel_um: obs.pixel_um, scale,
    title: `particle ${r.particle}, frame ${f}: ring = fitted eta(phi)`,
  });
  const rect = img.layout.panels[0];
  const [cx, cy] = [r.outline.centre_px[0], -r.outline.centre_px[1]]; // crop pixel-edge coordinates, y down
  const inside = (x: number, y: number) => { const c = Math.floor(x), rr = Math.floor(y); return c >= 0 && rr >= 0 && c < W && rr < H && obs.mask[rr * W + c] === 1; };
  const u = r.best.u, par = r.parameterisation;
  for (let a = 0; a < 360; a += 0.5) {
    const t = (a * Math.PI) / 180, dx = Math.cos(t), dy = -Math.sin(t);
    let edge = 0;
    for (let s = 0; s < Math.max(W, H); s += 0.25) if (inside(cx + s * dx, cy + s * dy)) edge = s;
    const eta = par.etaAt(u, a);
    const rgb = colorOf(eta, { colormap: 'sequential', vmin: 0, vmax: 1 });
    for (let k = 1.5; k <= 3.5; k += 0.5) {
      const x = rect.x + (cx + (edge + k) * dx) * img.layout.scaleX, y = rect.y + (cy + (edge + k) * dy) * img.layout.scaleY;
      fillRect(img, Math.round(x - 1), Math.round(y - 1), 3, 3, rgb);
    }
  }
  const phis = Array.from({ length: 361 }, (_, i) => i - 180);
  const lo = r.names.includes('eta') ? r.intervals.eta : null;
  const plot = renderPlotGrid([{
    title: `fitted η, ${r.model}${lo ? ` (η 95 %: ${lo.lo.toFixed(2)} to ${lo.hi.toFixed(2)})` : ''}`, xLabel: 'angle phi (deg, CCW from +x)', yLabel: 'η', yRange: [0, 1.05],
    series: [{ x: phis, y: phis.map((p) => par.etaAt(u, p)), rgb: SERIES_COLOURS[0] }],
  }], { columns: 1, plotWidth: 360, plotHeight: 200, legend: [{ label: 'ring: η 0 (dark) to 1 (yellow)', rgb: colorOf(0.3, { colormap: 'sequential', vmin: 0, vmax: 1 }) }] });
  return stackImages([img, plot], 'row', 16);
}

/**
 * The compare outputs of the best fit: the best config simulated with snapshots at every observed
 * frame after the reference, on the observed outline (no rotation, no scale), κ as fitted.
 */
export async function bestFitComparison(r: FitResult, obs: ObservedParticle, runner: BatchRunner): Promise<ComparisonResult> {
  const problem = await buildProblem(r.config);
  const [out] = await runner.run([problem]);
  if (!out.ok) throw new Error(`the best fit could not be run again: ${out.reason}`);
  const t0 = obs.times_s[obs.referenceFrame];
  const snaps = out.result.snapshots.map((s) => ({ time_s: s.time_s + t0, capacity_mAh_g: s.capacity_mAh_g, field: s.field }));
  const sim = simulatedFromFields(problem, snaps, { pixel_um: obs.pixel_um / 2, kappa: r.best.kappa, source: 'best fit' });
  return compareParticles(obs, sim, { align: 'time', registration: { rotationDeg: 0, scale: 1 } });
}

export async function writeFitOutputs(dir: string, r: FitResult, obs: ObservedParticle, comparison: ComparisonResult | null, extra: Record<string, unknown> = {}): Promise<void> {
  await writeFile(path.join(dir, 'fit.json'), JSON.stringify(fitJson(r, extra), null, 2) + '\n');
  await writeFile(path.join(dir, 'cost.csv'), costCsv(r));
  const ev = ['generation,cost,kappa,reason,' + r.names.join(',')];
  for (const e of r.evaluations) ev.push([e.generation, r6(e.cost), r6(e.kappa), e.reason ? JSON.stringify(e.reason) : '', ...e.values.map(r6)].join(','));
  await writeFile(path.join(dir, 'evaluations.csv'), ev.join('\n') + '\n');
  await writeFile(path.join(dir, 'overlay.png'), encodePng(renderFitOverlay(r, obs)));
  if (comparison) {
    await mkdir(path.join(dir, 'compare'));
    await writeComparisonOutputs(path.join(dir, 'compare'), comparison, { title: `ionflux fit: the best fit of particle ${r.particle}, compared` });
  }
  await writeFitIndex(dir, r, obs, comparison !== null);
}

const n4 = (v: number | null | undefined, digits = 4) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : String(Number(v.toPrecision(digits))));

/** index.html of a fit folder (written last): the fitted values with their intervals, the overlay, the best fit's comparison */
export async function writeFitIndex(dir: string, r: FitResult, obs: ObservedParticle, compared: boolean): Promise<void> {
  const j = fitJson(r);
  const steps = (r.config.protocol ?? []).map((st) => `${st.step}${'current_mA_g' in st && st.current_mA_g ? ` ${n4(st.current_mA_g)} mA/g` : ''} ${n4(st.duration_min)} min`).join(', ');
  await writeIndexHtml(dir, {
    title: `ionflux fit: particle ${r.particle} of ${path.basename(obs.source)}`,
    subtitle: `the surface blocking (${r.model}) of particle ${r.particle} in ${obs.source}, fitted to ${r.frames.length} frame(s) (${r.frames.join(', ')}).`,
    warnings: r.warnings,
    table: [
      ['converged', r.converged ? 'yes' : 'no (see the warnings)'],
      ['blocked share of the surface', `${n4(j.blockedFraction as number)} (Σ (1 − η)·span/360)`],
      ['κ (ΔI/I0 per unit Δθ)', n4(r.best.kappa)],
      ['cost', n4(r.best.cost)],
      ['generations / simulations', `${r.history.length} / ${r.simulations} (${r.simulationsRun} run now)`],
      ['protocol', steps || '—'],
      ['current from', r.currentSource],
      ['grid (µm) / PSF σ (µm)', `${n4(r.grid_um)} / ${n4(r.psfSigma_um)}`],
      ['effective samples', String(Math.round(r.nEff))],
      ['backend', r.backend],
      ['wall time (s)', n4(r.wallTime_s, 3)],
    ],
    tables: [{
      title: 'Fitted values (95 % intervals; how they are taken: fit.json intervalMethod)',
      header: ['parameter', 'best', '95 % interval', 'how'],
      rows: r.names.map((name, i) => {
        const iv = r.intervals[name];
        return [name, n4(r.best.values[i]), `${n4(iv.lo)} … ${n4(iv.hi)}${iv.open ? ' (open: reached the edge sampled)' : ''}`, iv.method];
      }),
    }],
    order: ['overlay.png', 'compare/montage.png', 'compare/traces.png', 'compare/kymograph.png'],
    caption: (rel) => ({
      'overlay.png': 'the last fitted frame\'s ΔI/I0 with the fitted η(φ) as a ring around the outline, beside η against angle.',
      'compare/montage.png': 'the best fit against the observed frames: observed | simulated ΔI/I0 and their difference.',
      'compare/traces.png': 'core COM offset d and mean ΔI/I0 of the observed particle and the best fit.',
      'compare/kymograph.png': 'both sides along one line through the particle, one row per compared frame.',
    } as Record<string, string>)[rel] ?? '',
    describe: (rel) => ({
      'fit.json': 'best values, 95 % intervals, κ, cost, convergence, the best fit\'s full config, warnings',
      'cost.csv': 'per generation: simulations so far, best cost, best values',
      'evaluations.csv': 'every simulation: generation, cost, κ, why it failed (if it did), the values',
      ...(compared ? { 'compare/index.html': 'the best fit\'s comparison page', 'compare/comparison.csv': 'per compared frame: Pearson r, RMSE, COM offsets and errors', 'compare/summary.json': 'the comparison\'s alignment, medians, warnings', 'compare/kymograph.csv': 'both sides along the line, one row per frame' } : {}),
    } as Record<string, string>)[rel] ?? '',
  });
}

/**
 * The resume journal of a fit into `out`: `OUT.fit-journal.jsonl` beside the folder, one line per
 * evaluated candidate after a header naming the fit (`fitKey`: the movie, the particle and every
 * setting). The same command finds it and skips what it holds; another fit into `out` starts afresh,
 * its journal renamed aside and said so through `notice` (default `log`).
 * Removed once the folder is written.
 */
export function fileJournal(out: string, fitKey: string, log: (l: string) => void, notice: (l: string) => void = log): FitJournal & { path: string; remove(): void } {
  const file = `${path.resolve(out)}.fit-journal.jsonl`;
  let fresh = true;
  return {
    path: file,
    load() {
      const map = new Map<string, JournalEntry>();
      if (!existsSync(file)) return map;
      const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
      let head: { fitKey?: string } = {};
      try { head = JSON.parse(lines[0]); } catch { /* unreadable: start afresh */ }
      if (head.fitKey !== fitKey) {
        // another fit's finished work: kept beside, never overwritten (renaming it back resumes that fit)
        const aside = `${file}.other-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        renameSync(file, aside);
        // (`notice`: said even under --quiet, since a file of the user's moved)
        notice(`${file} belongs to another fit (other input or settings): kept as ${aside} (rename it back to resume that fit); starting this one afresh`);
        return map;
      }
      for (const l of lines.slice(1)) {
        try { const e = JSON.parse(l) as JournalEntry; map.set(e.key, { ...e, cost: e.cost === null ? Infinity : e.cost }); } catch { /* a line cut by a kill */ }
      }
      fresh = false;
      log(`resuming from ${file}: ${map.size} candidate(s) already evaluated`);
      return map;
    },
    append(entries) {
      if (fresh) { writeFileSync(file, JSON.stringify({ fitKey, version: VERSION }) + '\n'); fresh = false; }
      appendFileSync(file, entries.map((e) => JSON.stringify({ ...e, cost: Number.isFinite(e.cost) ? e.cost : null })).join('\n') + '\n');
    },
    remove() { rmSync(file, { force: true }); },
  };
}
