/**
 * `ionflux compare` (SPEC §7): a simulation against its own synth movie agrees (r > 0.99, COM error
 * < 0.02 µm); the registration recovers a rotation, shift and scale applied to an observed particle;
 * an unblocked simulation against an aged particle's movie shows the COM-offset error that the
 * blocked simulation removes; bad input is one line, exit 1, nothing written.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mat2d, vec2 } from 'gl-matrix';
import { openMovie } from '../../src/io/movie';
import { writeTiffStack } from '../../src/io/tiffWrite';
import { readCapacityFile } from '../../src/io/capacity';
import { readObservedParticle } from '../../src/compare/observed';
import { simulatedFromMovie } from '../../src/compare/simulated';
import { compareParticles } from '../../src/compare/compare';
import { similarity } from '../../src/compare/register';
import { COMPARISON_COLUMNS } from '../../src/compare/output';
import { runCli } from '../helpers/cli';
import { configOf, writeSimulation, writeSynth } from '../helpers/compareFixtures';
import { writeSynthMovie } from '../helpers/synthMovie';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-compare-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// 20 min at 100 mA/g on a 0.04 µm grid, a frame a minute; a camera of deep wells (10⁶ e⁻ per pixel:
// σ(ΔI/I0) ≈ 0.0014) so that r measures the model, not the shot noise
const COMMON = ['grid.spacing_um=0.04', 'synth.frame_s=60', 'synth.photons=1000000', 'synth.noise.gain_e_per_adu=20', `snapshots_min=[${Array.from({ length: 20 }, (_, i) => i + 1).join(',')}]`];

function readCsv(file: string): Record<string, string>[] {
  const [head, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const keys = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [keys[i], v])));
}
const num = (v: string) => (v === '' ? null : Number(v));
const medianOf = (v: number[]) => { const s = [...v].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

beforeAll(async () => {
  await writeSynth(path.join(tmp, 'aged-movie'), configOf('fig4c', COMMON));
  await writeSimulation(path.join(tmp, 'sim-fig4c'), configOf('fig4c', COMMON));
  await writeSimulation(path.join(tmp, 'sim-fig4a'), configOf('fig4a', COMMON));
}, 60_000);

describe('a simulation against its own synth movie', () => {
  test('median r > 0.99 and COM-offset error < 0.02 µm; the files of SPEC §7', async () => {
    const out = path.join(tmp, 'self');
    const { code, stderr } = await runCli(['compare', '--sim', path.join(tmp, 'sim-fig4c'), '--observed', path.join(tmp, 'aged-movie', 'movie.tif'), '--no-drift', '--out', out]);
    expect(code, stderr).toBe(0);
    for (const f of ['comparison.csv', 'summary.json', 'montage.png', 'traces.png', 'kymograph.png', 'kymograph.csv', 'index.html']) expect(existsSync(path.join(out, f)), f).toBe(true);
    // the page: its numbers are summary.json's, every picture shown is in the folder
    const page = readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(page).toMatch(/<h1>ionflux compare: particle \d+ of movie\.tif<\/h1>/);
    for (const img of ['montage.png', 'traces.png', 'kymograph.png']) expect(page).toContain(`<img src="${img}"`);
    expect(page).toContain('<h2>Frames (comparison.csv)</h2>');
    expect(readFileSync(path.join(out, 'comparison.csv'), 'utf8').split('\n')[0]).toBe(COMPARISON_COLUMNS.join(','));
    const rows = readCsv(path.join(out, 'comparison.csv'));
    expect(rows.length).toBe(20);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.alignment.mode).toBe('charge');
    expect(summary.registration.rotationDeg).toBe(0);
    expect(Math.abs(summary.registration.scale - 1)).toBeLessThan(0.01);
    expect(summary.medians.pearsonR).toBeGreaterThan(0.99);
    expect(summary.medians.comOffsetError_um).toBeLessThan(0.02);
    expect(page).toContain(`<tr><th>median Pearson r</th><td class="v">${Number(summary.medians.pearsonR.toPrecision(4))}</td></tr>`);
    // every frame with a core worth the name (offset measurable): within 0.03 µm
    const errs = rows.filter((r) => num(r.comOffsetObs_um)! > 0.05).map((r) => num(r.comOffsetError_um)!);
    expect(Math.max(...errs)).toBeLessThan(0.03);
    expect(medianOf(rows.map((r) => num(r.pearsonR)!))).toBeCloseTo(summary.medians.pearsonR, 6);
  }, 60_000);
});

/** the frames of `src` warped by p_out = T(p_in) (physical µm, y up, from the top-left corner), bilinear */
function warpFrames(frames: Uint16Array[], width: number, height: number, pixel_um: number, T: mat2d): Uint16Array[] {
  const inv = mat2d.invert(mat2d.create(), T)!;
  return frames.map((f) => {
    const out = new Uint16Array(width * height);
    const p = vec2.create();
    for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) {
      vec2.transformMat2d(p, vec2.fromValues((c + 0.5) * pixel_um, -(r + 0.5) * pixel_um), inv);
      const x = Math.min(width - 1, Math.max(0, p[0] / pixel_um - 0.5)), y = Math.min(height - 1, Math.max(0, -p[1] / pixel_um - 0.5));
      const c0 = Math.min(width - 2, Math.floor(x)), r0 = Math.min(height - 2, Math.floor(y)), tx = x - c0, ty = y - r0;
      const v = (1 - ty) * ((1 - tx) * f[r0 * width + c0] + tx * f[r0 * width + c0 + 1]) + ty * ((1 - tx) * f[(r0 + 1) * width + c0] + tx * f[(r0 + 1) * width + c0 + 1]);
      out[r * width + c] = Math.round(v);
    }
    return out;
  });
}

describe('registration', () => {
  test.each([
    { rotationDeg: 25, scale: 1.08, shift_px: [3.3, -2.1] },
    { rotationDeg: -130, scale: 0.93, shift_px: [-1.7, 2.6] },
  ])('recovers rotation $rotationDeg°, scale $scale and shift $shift_px px applied to an observed particle', async ({ rotationDeg, scale, shift_px }) => {
    // an irregular (asymmetric) pentagon, so that its orientation is defined over 360°
    const dir = path.join(tmp, `reg-${rotationDeg}`);
    const raw = configOf('fig4c', ['grid.spacing_um=0.05', 'synth.frame_s=150', 'protocol.0.duration_min=10', 'synth.margin_um=1.6',
      'particle={"shape":"polygon","vertices_um":[[-1.5,-0.6],[0.8,-1.0],[1.6,0.2],[0.3,1.0],[-1.1,0.9]]}']);
    const movie = await writeSynth(dir, raw);
    const { width, height, pixel_um } = movie;
    const c: [number, number] = [(width / 2) * pixel_um, -(height / 2) * pixel_um];
    const T = similarity(c, [c[0] + shift_px[0] * pixel_um, c[1] - shift_px[1] * pixel_um], rotationDeg, scale);
    await writeTiffStack(path.join(dir, 'warped.tif'), warpFrames(movie.frames, width, height, pixel_um, T), { width, height, sampleType: 'uint16', imagej: { pixel_um, frame_s: movie.frame_s } });
    const capacity = await readCapacityFile(path.join(dir, 'capacity.csv'));
    const a = await openMovie(path.join(dir, 'movie.tif')), b = await openMovie(path.join(dir, 'warped.tif'));
    try {
      const simSide = simulatedFromMovie(await readObservedParticle(a, { capacity, drift: false }));
      const observed = await readObservedParticle(b, { capacity, drift: false });
      const r = compareParticles(observed, simSide);
      const g = r.registration;
      const dRot = ((g.rotationDeg - rotationDeg + 540) % 360) - 180;
      expect(Math.abs(dRot)).toBeLessThanOrEqual(3);
      expect(Math.abs(g.scale / scale - 1)).toBeLessThanOrEqual(0.02);
      // where T moves the particle's centroid, in pixels (image axes)
      const cA = [simSide.frameOffset_um![0] + g.centroidSim_um[0], simSide.frameOffset_um![1] + g.centroidSim_um[1]];
      const moved = vec2.transformMat2d(vec2.create(), vec2.fromValues(cA[0], cA[1]), T);
      const expected = [(moved[0] - cA[0]) / pixel_um, -(moved[1] - cA[1]) / pixel_um];
      expect(Math.abs(g.shift_px[0] - expected[0])).toBeLessThanOrEqual(0.2);
      expect(Math.abs(g.shift_px[1] - expected[1])).toBeLessThanOrEqual(0.2);
      // and the registered movies agree pixel by pixel
      expect(r.medians.pearsonR!).toBeGreaterThan(0.95);
    } finally {
      await a.close(); await b.close();
    }
  }, 60_000);
});

describe('the paper\'s claim: blocking removes the COM-offset error', () => {
  test('fig4a (no blocking) against the aged movie: large COM-offset error; the blocked simulation (fig4c) removes it', async () => {
    const movie = path.join(tmp, 'aged-movie', 'movie.tif');
    const res: Record<string, { medians: Record<string, number> }> = {};
    for (const name of ['fig4a', 'fig4c']) {
      const out = path.join(tmp, `claim-${name}`);
      const { code, stderr } = await runCli(['compare', '--sim', path.join(tmp, `sim-${name}`), '--observed', movie, '--no-drift', '--quiet', '--out', out]);
      expect(code, stderr).toBe(0);
      res[name] = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    }
    expect(res.fig4a.medians.comOffsetError_um).toBeGreaterThan(0.1);
    expect(res.fig4c.medians.comOffsetError_um).toBeLessThan(0.02);
    expect(res.fig4a.medians.comOffsetError_um).toBeGreaterThan(5 * res.fig4c.medians.comOffsetError_um);
    expect(res.fig4a.medians.pearsonR).toBeLessThan(res.fig4c.medians.pearsonR);
  }, 60_000);
});

describe('bad input: one line, exit 1, nothing written', () => {
  const expectRefused = async (args: string[], pattern: RegExp) => {
    const out = path.join(tmp, `bad-${Math.random().toString(36).slice(2)}`);
    const { code, stderr } = await runCli(['compare', ...args, '--out', out]);
    expect(code, stderr).toBe(1);
    expect(stderr.trim().split('\n').filter((l) => l.startsWith('ionflux: ') && !l.includes('warning')).length).toBe(1);
    expect(stderr).toMatch(pattern);
    expect(existsSync(out)).toBe(false);
  };
  test('a particle id not in the movie', async () => {
    await expectRefused(['--sim', path.join(tmp, 'sim-fig4c'), '--observed', path.join(tmp, 'aged-movie', 'movie.tif'), '--particle', '7'], /--particle 7 is not in .*particle 1/);
  });
  test('--align charge without a charge record', async () => {
    const lone = path.join(tmp, 'lone');
    mkdirSync(lone, { recursive: true });
    copyFileSync(path.join(tmp, 'aged-movie', 'movie.tif'), path.join(lone, 'movie.tif'));
    await expectRefused(['--sim', path.join(tmp, 'sim-fig4c'), '--observed', path.join(lone, 'movie.tif'), '--align', 'charge'], /--align charge needs the charge passed on both sides.*--capacity/);
  });
  test('a simulation folder without snapshots at the needed times', async () => {
    const late = path.join(tmp, 'sim-late');
    await writeSimulation(late, configOf('fig4c', ['grid.spacing_um=0.06', 'protocol.0.duration_min=40', 'snapshots_min=[30,40]']));
    await expectRefused(['--sim', late, '--observed', path.join(tmp, 'aged-movie', 'movie.tif'), '--align', 'time'], /has no snapshot within ±30 s of an observed frame/);
    await expectRefused(['--sim', path.join(tmp, 'sim-fig4c'), '--observed', path.join(tmp, 'aged-movie', 'movie.tif'), '--frames', '0'], /has no snapshot at observed frame 0/);
    const broken = path.join(tmp, 'sim-broken');
    await writeSimulation(broken, configOf('fig4c', ['grid.spacing_um=0.06', 'protocol.0.duration_min=5', 'snapshots_min=[5]']));
    unlinkSync(path.join(broken, 'theta_0300s.npy'));
    await expectRefused(['--sim', broken, '--observed', path.join(tmp, 'aged-movie', 'movie.tif')], /theta_0300s\.npy, which is missing/);
  }, 30_000);
});

describe('the observed particle is analyze\'s own', () => {
  // readObservedParticle runs analyze's analysis (runAnalysis): the same ids, drift and ΔI/I0
  test('two particles: one must be chosen; a blank movie: no particle, one error naming the threshold', async () => {
    const two = path.join(tmp, 'two.tif');
    await writeSynthMovie(two, { width: 96, height: 64, frames: 4, particles: [{ cx: 24, cy: 32, radius_px: 12 }, { cx: 70, cy: 32, radius_px: 12 }] }, { pixel_um: 0.1, frame_s: 60 });
    const movie = await openMovie(two);
    try {
      await expect(readObservedParticle(movie)).rejects.toThrow(/--observed .*two\.tif holds 2 particles \(ids 1, 2\): choose one with --particle ID/);
      const p = await readObservedParticle(movie, { particle: 2, drift: false });
      expect(p.id).toBe(2);
      expect(p.diff).toHaveLength(4);
      // the rim has reacted (ΔI/I0 = 0.3 there), the core not: analyze's unreacted fraction falls
      expect(p.stats[3].unreactedFraction).toBeLessThan(p.stats[1].unreactedFraction);
    } finally {
      await movie.close();
    }
    const blank = path.join(tmp, 'blank.tif');
    await writeTiffStack(blank, Array.from({ length: 3 }, () => new Uint16Array(48 * 48).fill(500)), { width: 48, height: 48, sampleType: 'uint16' });
    const b = await openMovie(blank);
    const warned: string[] = [];
    try {
      await expect(readObservedParticle(b, { warn: (w) => warned.push(w) })).rejects.toThrow(/^--observed no particle found in reference frame 0 of .*blank\.tif \(threshold .*\): nothing to compare$/);
      expect(warned.join('\n')).not.toMatch(/no particle found/);
    } finally {
      await b.close();
    }
  });
});

describe('a movie with a rest (fig2e: charge 20 min, rest 10 min)', () => {
  test('by charge, every snapshot is compared, those of the rest with the frames nearest in time (they are all at the same charge)', async () => {
    const sets = ['grid.spacing_um=0.06', 'synth.frame_s=60'];
    await writeSynth(path.join(tmp, 'rest-movie'), configOf('fig2e', sets));
    await writeSimulation(path.join(tmp, 'sim-rest'), configOf('fig2e', sets));
    const out = path.join(tmp, 'rest');
    const { code, stderr } = await runCli(['compare', '--sim', path.join(tmp, 'sim-rest'), '--observed', path.join(tmp, 'rest-movie', 'movie.tif'), '--no-drift', '--out', out]);
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.alignment.mode).toBe('charge');
    const rows = readCsv(path.join(out, 'comparison.csv'));
    // fig2e's snapshots: every 5 min to 30, the last two in the rest (at the same charge passed);
    // each with the observed frame of its time (a frame a minute), not all the rest's with its first
    expect(rows.map((r) => Number(r.time_s))).toEqual([300, 600, 900, 1200, 1500, 1800]);
  }, 120_000);
});
