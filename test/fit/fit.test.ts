/**
 * `ionflux fit` on noisy synth movies whose blocking the fit does not see (the tolerances:
 * arc centre within 15°, span within 25 %, η within 0.1; no blocking → η ≥ 0.9 or an arc of
 * negligible effect), one outline that is not a disk, bins:N, resume from the journal, and input it
 * cannot fit. Coarse: 20 min at 100 mA/g, 6 frames fitted on the fit's default grid (R_eq/20), so
 * that a fit is ~10–20 s here. Each case logs its recovery, simulations and wall time.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openMovie } from '../../src/io/movie';
import { readCapacityFile } from '../../src/io/capacity';
import { readObservedParticle, type ObservedParticle } from '../../src/compare/observed';
import { cpuBatchRunner, type BatchRunner } from '../../src/fit/batch';
import { fitSurface, fitVerdict, roughDuration, settled, SETTLE_LOGLIK, WIDE_SEARCH, type JournalEntry } from '../../src/fit/fit';
import { runCli } from '../helpers/cli';
import { configOf, writeSynth } from '../helpers/compareFixtures';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-fit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MOVIE = ['grid.spacing_um=0.04', 'synth.frame_s=60'];
const arcOf = (c: number, span: number, eta: number) => `surface.segments=[{"fromDeg":${c - span / 2},"toDeg":${c + span / 2},"eta":${eta}}]`;
const wrap = (d: number) => ((((d + 180) % 360) + 360) % 360) - 180;

async function observedOf(name: string, raw: Record<string, unknown>): Promise<ObservedParticle> {
  const dir = path.join(tmp, name);
  await writeSynth(dir, raw);
  const movie = await openMovie(path.join(dir, 'movie.tif'));
  try {
    return await readObservedParticle(movie, { capacity: await readCapacityFile(path.join(dir, 'capacity.csv')), drift: false });
  } finally {
    await movie.close();
  }
}

const cases = [
  { name: 'fig4c: a quarter at η 0.3 on the left', raw: () => configOf('fig4c', MOVIE), truth: { c: 180, span: 90, eta: 0.3 } },
  { name: 'disk, half at η 0.5 centred on 60°', raw: () => configOf('fig4a', [...MOVIE, arcOf(60, 180, 0.5)]), truth: { c: 60, span: 180, eta: 0.5 } },
  { name: 'ellipse 3.0 × 2.0 µm at 30°, 120° at η 0.2 centred on −45°', raw: () => configOf('fig4a', [...MOVIE, 'particle={"shape":"ellipse","axes_um":[3.0,2.0],"angleDeg":30}', arcOf(-45, 120, 0.2)]), truth: { c: -45, span: 120, eta: 0.2 } },
];

const report: string[] = [];
const coverage: boolean[] = [];
afterAll(() => { if (report.length) console.log(`fit recovery (CPU reference, this machine):\n${report.join('\n')}`); });

describe('fit --model arc recovers blocking it does not see (noisy synth movies)', () => {
  test.each(cases)('$name', async ({ name, raw, truth }) => {
    const obs = await observedOf(name.replace(/\W+/g, '-'), raw());
    const r = await fitSurface(obs, { model: 'arc', runner: cpuBatchRunner() });
    const [c, span, eta] = r.best.values;
    const iv = r.intervals;
    const covered = [
      Math.abs(wrap(truth.c - iv.centerDeg.lo)) + Math.abs(wrap(iv.centerDeg.hi - truth.c)) <= Math.abs(iv.centerDeg.hi - iv.centerDeg.lo) + 1e-9,
      truth.span >= iv.spanDeg.lo && truth.span <= iv.spanDeg.hi,
      truth.eta >= iv.eta.lo && truth.eta <= iv.eta.hi,
    ];
    report.push(`${name}: centre ${c.toFixed(1)}° (truth ${truth.c}, Δ ${wrap(c - truth.c).toFixed(1)}°), span ${span.toFixed(1)}° (${truth.span}, ${(100 * (span / truth.span - 1)).toFixed(1)} %), η ${eta.toFixed(3)} (${truth.eta}, Δ ${(eta - truth.eta).toFixed(3)}); ` +
      `95 % intervals [${iv.centerDeg.lo.toFixed(1)}, ${iv.centerDeg.hi.toFixed(1)}], [${iv.spanDeg.lo.toFixed(1)}, ${iv.spanDeg.hi.toFixed(1)}], [${iv.eta.lo.toFixed(3)}, ${iv.eta.hi.toFixed(3)}] cover: ${covered.join('/')}; ` +
      `κ ${r.best.kappa.toFixed(3)}, ${r.simulations} simulations, ${r.wallTime_s.toFixed(1)} s, converged ${r.converged}`);
    expect(Math.abs(wrap(c - truth.c))).toBeLessThanOrEqual(15);
    expect(Math.abs(span / truth.span - 1)).toBeLessThanOrEqual(0.25);
    expect(Math.abs(eta - truth.eta)).toBeLessThanOrEqual(0.1);
    expect(r.improved).toBe(true);
    coverage.push(...covered);
  }, 120_000);

  test('the 95 % intervals cover the truth in most cases: at least 7 of the 9 parameters of the three movies (the lag-1 N_eff intervals covered 4)', () => {
    expect(coverage.length).toBe(9);
    expect(coverage.filter(Boolean).length).toBeGreaterThanOrEqual(7);
  });

  test('no blocking: the fit says so (η ≥ 0.9 or an arc of negligible effect)', async () => {
    const obs = await observedOf('none', configOf('fig4a', MOVIE));
    const r = await fitSurface(obs, { model: 'arc', runner: cpuBatchRunner() });
    const [, span, eta] = r.best.values;
    const blocked = ((1 - eta) * span) / 360;
    report.push(`no blocking: span ${span.toFixed(1)}°, η ${eta.toFixed(3)}, blocked fraction (1 − η)·span/360 = ${blocked.toFixed(4)}; ${r.simulations} simulations, ${r.wallTime_s.toFixed(1)} s`);
    expect(eta >= 0.9 || blocked < 0.02).toBe(true);
  }, 120_000);
});

test('converged: the best cost gained under 0.1 in log-likelihood over the last 5 generations', () => {
  const h = (costs: number[]) => costs.map((bestCost) => ({ bestCost }));
  const nEff = 1000; // ℓ gain = 500·ln(back/last)
  expect(settled(h([2, 1.5, 1.2, 1, 1, 1, 1, 1, 1]), nEff)).toBe(true); // gens 4 → 9 flat
  expect(settled(h([2, 1.5, 1.2, 1.001, 1, 1, 1, 1, 1]), nEff)).toBe(false); // 500·ln(1.001) = 0.4998 over gens 4 → 9
  expect(settled(h([1.0001, 1, 1, 1, 1, 1]), nEff)).toBe(true); // 0.05
  expect(settled(h([1.0003, 1, 1, 1, 1, 1]), nEff)).toBe(false); // 0.15
  expect(settled(h([1, 1, 1, 1, 1]), nEff)).toBe(false); // fewer than 6 generations: not judged
  expect(settled(h([Infinity, 1, 1, 1, 1, 1]), nEff)).toBe(false); // nothing simulated at the window's start
  expect(SETTLE_LOGLIK).toBeLessThan(1.92 / 10);
});

test('fitVerdict: settled and narrow converges; stuck while wide, still improving, open intervals and κ far from 1 are warned', () => {
  const flat = [2, 1.5, 1.2, 1, 1, 1, 1, 1, 1].map((bestCost) => ({ bestCost }));
  const falling = [2, 1.5, 1.2, 1.1, 1.05, 1.02, 1].map((bestCost) => ({ bestCost }));
  const closed = { c: { lo: 1, hi: 2, open: false, method: 'quadratic' as const } };
  const base = { collapsed: false, history: flat, nEff: 1000, wide: 0.01, improved: true, intervals: closed, names: ['c'], kappa: 1, kappaFitted: true };
  expect(fitVerdict(base)).toEqual({ converged: true, warnings: [] });
  expect(fitVerdict({ ...base, collapsed: true, history: falling }).converged).toBe(true);
  const wide = fitVerdict({ ...base, wide: 2 * WIDE_SEARCH });
  expect(wide.converged).toBe(false);
  expect(wide.warnings.join('\n')).toMatch(/stopped improving while its search was still wide .*another --seed or a larger --population/);
  const moving = fitVerdict({ ...base, history: falling });
  expect(moving.converged).toBe(false);
  expect(moving.warnings.join('\n')).toMatch(/had not settled after 7 generations \(its best cost still fell by [\d.]+ in log-likelihood over the last 5/);
  expect(fitVerdict({ ...base, history: falling, improved: false }).warnings).toEqual([]); // the start-point warning says it
  const open = fitVerdict({ ...base, intervals: { c: { lo: 0.2, hi: 0.2, open: true, method: 'candidates' } } });
  expect(open.warnings.join('\n')).toMatch(/the 95 % interval of c is open: .*\(c: zero-wide, no candidate differed there\)/);
  expect(fitVerdict({ ...base, kappa: 31772 }).warnings.join('\n')).toMatch(/κ = 3\.18e\+4 is far from 1: .*units \(mAh\/g/);
  expect(fitVerdict({ ...base, kappa: 31772, kappaFitted: false }).warnings).toEqual([]); // κ given by the user
});

describe('a movie of a charge and then a rest (fig2e)', () => {
  test('is fitted with the charge record\'s own protocol, and recovers the blocking', async () => {
    // fig2e: 70 mA/g for 20 min, then 10 min of rest; a quarter at η 0.3 centred on 180°
    const obs = await observedOf('rest', configOf('fig2e', MOVIE));
    const r = await fitSurface(obs, { model: 'arc', runner: cpuBatchRunner() });
    const steps = r.config.protocol.map((p) => [p.step, p.step === 'rest' ? null : Number((p.current_mA_g as number).toFixed(2)), p.duration_min]);
    expect(steps).toEqual([['charge', 70, 20], ['rest', null, 10]]);
    expect(r.currentSource).toMatch(/charge 70\.0 mA\/g 20\.0 min, rest 10\.0 min/);
    const [c, span, eta] = r.best.values;
    report.push(`fig2e (charge + rest): centre ${c.toFixed(1)}°, span ${span.toFixed(1)}°, η ${eta.toFixed(3)} [${r.intervals.eta.lo.toFixed(3)}, ${r.intervals.eta.hi.toFixed(3)}]; ${r.simulations} simulations`);
    expect(Math.abs(wrap(c - 180))).toBeLessThan(5);
    expect(Math.abs(span - 90)).toBeLessThan(10);
    expect(Math.abs(eta - 0.3)).toBeLessThan(0.04);
    // --frames within the charge: the candidates run to frame 20; the best one, for the comparison
    // of every frame, still follows the record through the rest (it used to charge on)
    const part = await fitSurface(obs, { model: 'arc', runner: cpuBatchRunner(), frames: [5, 10, 15, 20], generations: 2 });
    expect(part.config.protocol.map((p) => [p.step, p.duration_min])).toEqual([['charge', 20], ['rest', 10]]);
  }, 180_000);
});

describe('fit --fit-diffusivity', () => {
  test('recovers a known diffusivity scale (×2: log10 scale 0.3) and still the blocking (fig4c)', async () => {
    // the movie's knee diffusivity twice the default: both of its log10 D levels +0.3
    const obs = await observedOf('dscale', configOf('fig4c', [...MOVIE, 'material.diffusivity={"preset":"knee","log10DHigh":-14.7,"log10DLow":-16.2}']));
    const r = await fitSurface(obs, { model: 'arc', fitDiffusivity: true, runner: cpuBatchRunner() });
    expect(r.names).toEqual(['centerDeg', 'spanDeg', 'eta', 'log10DScale']);
    const [c, span, eta, ls] = r.best.values;
    const iv = r.intervals.log10DScale;
    report.push(`--fit-diffusivity, fig4c with D × 2: log10 scale ${ls.toFixed(3)} (truth 0.301, 95 % [${iv.lo.toFixed(3)}, ${iv.hi.toFixed(3)}]), centre ${c.toFixed(1)}°, span ${span.toFixed(1)}°, η ${eta.toFixed(3)}; ${r.simulations} simulations, ${r.wallTime_s.toFixed(1)} s`);
    expect(Math.abs(ls - Math.log10(2))).toBeLessThanOrEqual(0.1);
    expect(Math.abs(wrap(c - 180))).toBeLessThanOrEqual(15);
    expect(Math.abs(span / 90 - 1)).toBeLessThanOrEqual(0.25);
    expect(Math.abs(eta - 0.3)).toBeLessThanOrEqual(0.1);
    expect(r.improved).toBe(true);
  }, 180_000);
});

describe('fit --model bins:N', () => {
  test('fig4c in 8 bins: the low-η bins are the left ones (centres 157.5° and 202.5°), the right side clean', async () => {
    const obs = await observedOf('bins', configOf('fig4c', MOVIE));
    const r = await fitSurface(obs, { model: 'bins:8', runner: cpuBatchRunner(), generations: 30 });
    const eta = r.best.values.slice(0, 8);
    report.push(`bins:8 of fig4c: η ${eta.map((v) => v.toFixed(2)).join(' ')} (bin centres 22.5° … 337.5°); ${r.simulations} simulations, ${r.wallTime_s.toFixed(1)} s`);
    const left = (eta[3] + eta[4]) / 2, right = (eta[0] + eta[7]) / 2;
    expect(left).toBeLessThan(0.55);
    expect(right).toBeGreaterThan(0.8);
    expect(Math.min(...eta)).toBe(Math.min(eta[3], eta[4]));
  }, 120_000);
});

describe('resume and failures', () => {
  let obs: ObservedParticle;
  beforeAll(async () => { obs = await observedOf('resume', configOf('fig4c', MOVIE)); }, 60_000);

  test('a fit stopped part-way resumes from its journal: the same result, only the rest simulated', async () => {
    const store = new Map<string, JournalEntry>();
    const journal = { load: () => new Map(store), append: (es: JournalEntry[]) => es.forEach((e) => store.set(e.key, e)) };
    let batches = 0;
    const inner = cpuBatchRunner();
    const dying: BatchRunner = { label: 'dies after 3 batches', run: async (p) => { if (++batches > 3) throw new Error('killed'); return inner.run(p); } };
    await expect(fitSurface(obs, { model: 'arc', runner: dying, journal, generations: 6 })).rejects.toThrow('killed');
    const saved = store.size;
    expect(saved).toBeGreaterThan(10);
    const resumed = await fitSurface(obs, { model: 'arc', runner: cpuBatchRunner(), journal, generations: 6 });
    const fresh = await fitSurface(obs, { model: 'arc', runner: cpuBatchRunner(), generations: 6 });
    expect(resumed.best.values).toEqual(fresh.best.values);
    expect(resumed.simulations).toBe(fresh.simulations);
    expect(resumed.simulationsRun).toBe(fresh.simulationsRun - saved);
  }, 120_000);

  test('a --grid-um far finer than needed is warned with the work and the default before the first simulation', async () => {
    const said: string[] = [];
    let simulated = 0;
    const stop: BatchRunner = { label: 'stops at once', run: async () => { simulated++; throw new Error('stopped'); } };
    await expect(fitSurface(obs, { model: 'arc', runner: stop, grid_um: 0.001, warn: (m) => said.push(m) })).rejects.toThrow('stopped');
    expect(simulated).toBe(1);
    expect(said.join('\n')).toMatch(/each simulation at --grid-um 0\.001 needs about [\d.]+e\+1[34] cell-updates, and the fit runs up to 281 of them \(40 generations of 7\): .*about [\d.]+ days at 2·10⁸ per second .*the default grid for this particle is 0\.\d+ µm/);
    // the default grid: no such warning
    const quiet: string[] = [];
    await expect(fitSurface(obs, { model: 'arc', runner: stop, warn: (m) => quiet.push(m) })).rejects.toThrow('stopped');
    expect(quiet.join('\n')).not.toMatch(/cell-updates/);
    expect([roughDuration(600), roughDuration(7200), roughDuration(3 * 86400), roughDuration(1e9)]).toEqual(['about 10 minutes', 'about 2 hours', 'about 3 days', 'about 32 years']);
  });

  test('an optimiser that cannot improve is reported, not a crash', async () => {
    // every candidate gives the same run: nothing to improve on
    const inner = cpuBatchRunner();
    let same: Awaited<ReturnType<BatchRunner['run']>>[number] | null = null;
    const flat: BatchRunner = { label: 'flat', run: async (p) => { same ??= (await inner.run([p[0]]))[0]; return p.map(() => same!); } };
    const warnings: string[] = [];
    const r = await fitSurface(obs, { model: 'arc', runner: flat, generations: 3, warn: (m) => warnings.push(m) });
    expect(r.improved).toBe(false);
    expect(warnings.join('\n')).toMatch(/did not improve on its start point/);
  }, 60_000);

  test('the CLI: fit.json as SPEC §7, cost.csv, overlay.png, compare/; bad input one line, exit 1, nothing written', async () => {
    const dir = path.join(tmp, 'resume');
    const out = path.join(tmp, 'cli-fit');
    const { code, stderr } = await runCli(['fit', '--observed', path.join(dir, 'movie.tif'), '--no-drift', '--generations', '3', '--quiet', '--out', out]);
    expect(code, stderr).toBe(0);
    const fit = JSON.parse(readFileSync(path.join(out, 'fit.json'), 'utf8'));
    for (const k of ['particle', 'model', 'best', 'intervals', 'intervalMethod', 'cost', 'simulations', 'wallTime_s', 'config']) expect(fit, k).toHaveProperty(k);
    expect(Object.keys(fit.best)).toEqual(['centerDeg', 'spanDeg', 'eta']);
    expect(Object.keys(fit.intervals)).toEqual(['centerDeg', 'spanDeg', 'eta']);
    expect(fit.config.particle.shape).toBe('polygon');
    expect(readFileSync(path.join(out, 'cost.csv'), 'utf8').split('\n')[0]).toBe('iteration,evaluations,bestCost,centerDeg,spanDeg,eta');
    for (const f of ['overlay.png', 'compare/comparison.csv', 'compare/summary.json', 'compare/montage.png', 'index.html', 'compare/index.html']) expect(existsSync(path.join(out, f)), f).toBe(true);
    // the page: the fitted values with their intervals, the overlay and the best fit's comparison
    const page = readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(page).toMatch(/<h1>ionflux fit: particle \d+ of movie\.tif<\/h1>/);
    for (const img of ['overlay.png', 'compare/montage.png']) expect(page).toContain(`<img src="${img}"`);
    expect(page).toContain(`<tr><td class="v">eta</td><td class="v">${Number(fit.best.eta.toPrecision(4))}</td><td class="v">${Number(fit.intervals.eta[0].toPrecision(4))} … ${Number(fit.intervals.eta[1].toPrecision(4))}`);
    expect(fit.protocol).toEqual(fit.config.protocol);
    expect(existsSync(`${out}.fit-journal.jsonl`)).toBe(false);

    // --current-mA-g sets one constant charge (commander names it currentMAG: it was read as currentMaG, always undefined)
    const given = path.join(tmp, 'cli-fit-current');
    const g = await runCli(['fit', '--observed', path.join(dir, 'movie.tif'), '--no-drift', '--generations', '1', '--current-mA-g', '37', '--quiet', '--out', given]);
    expect(g.code, g.stderr).toBe(0);
    const gf = JSON.parse(readFileSync(path.join(given, 'fit.json'), 'utf8'));
    expect(gf.current_mA_g).toBe(37);
    expect(gf.currentSource).toMatch(/--current-mA-g/);

    const refuse = async (args: string[], pattern: RegExp) => {
      const o = path.join(tmp, `bad-${Math.random().toString(36).slice(2)}`);
      const res = await runCli(['fit', ...args, '--quiet', '--out', o]);
      expect(res.code, res.stderr).toBe(1);
      expect(res.stderr).toMatch(pattern);
      expect(existsSync(o)).toBe(false);
    };
    await refuse(['--observed', path.join(dir, 'movie.tif'), '--particle', '3'], /--particle 3 is not in/);
    await refuse(['--observed', path.join(dir, 'movie.tif'), '--model', 'bins:1'], /--model bins:1 is not allowed/);
    const tiny = path.join(tmp, 'tiny');
    await writeSynth(tiny, configOf('fig4a', [...MOVIE, 'particle.diameter_um=0.4', 'grid.spacing_um=0.02']));
    await refuse(['--observed', path.join(tiny, 'movie.tif')], /too small to fit/);
  }, 120_000);
});
