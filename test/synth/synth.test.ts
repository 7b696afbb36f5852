/**
 * `ionflux synth` (SPEC §7): the round trip through `analyze` (the claim), the camera's noise
 * statistics and seeding, the files (TIFF calibration, capacity.csv), several particles in one field,
 * and bad input refused with one line and nothing written.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { prepareSynth, synthesizeMovie, type SynthMovie } from '../../src/synth/movie';
import { writeSynthOutputs } from '../../src/io/synthOutput';
import { exposeFrame } from '../../src/optics/sensor';
import { openMovie } from '../../src/io/movie';
import { capacityAtFrames, readCapacityFile } from '../../src/io/capacity';
import { analyzeMovie, type AnalyzeOptions } from '../../src/imaging/analyze';
import { createCpuProcessor } from '../../src/imaging/processor';
import { runCli } from '../helpers/cli';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-synth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

async function writeAndAnalyze(movie: SynthMovie, options: AnalyzeOptions = {}) {
  const dir = path.join(tmp, `case${++n}`);
  mkdirSync(path.join(dir, 'synth'), { recursive: true });
  mkdirSync(path.join(dir, 'analysis'));
  await writeSynthOutputs(path.join(dir, 'synth'), movie);
  const m = await openMovie(path.join(dir, 'synth', 'movie.tif'));
  try {
    const capacity = await readCapacityFile(path.join(dir, 'synth', 'capacity.csv'));
    const result = await analyzeMovie(m, path.join(dir, 'analysis'), (o) => createCpuProcessor(o), { capacity, ...options });
    return { dir, result };
  } finally {
    await m.close();
  }
}

describe('round trip: analyze of a synth movie of fig4c gives back the simulation', () => {
  test('COM offsets within 0.05 µm and unreacted fractions within 0.03 wherever the core is ≥ 10 % (noise on)', async () => {
    const t0 = performance.now();
    // fig4c as it is (0.02 µm grid, a quarter blocked at η = 0.3, 100 mA/g for 20 min), frames every
    // 30 s, the default camera: 20 000 photons, background 0.1, texture 10 %, shot + 2 e⁻ read noise
    const movie = await synthesizeMovie(presetConfig('fig4c'));
    const synth_s = (performance.now() - t0) / 1000;
    expect(movie.truth.frames).toBe(41);
    // analyze as a user runs it, drift correction on: the movie has no stage drift, and the estimate
    // reads the lopsided front as 0.02–0.09 px, below --min-drift-px (0.15 px, the estimate's own
    // error), so no frame is shifted; reference frame 0, threshold 0.05 as in the paper
    const { result } = await writeAndAnalyze(movie, { reference: 0, threshold: 0.05 });
    expect(result.particles).toHaveLength(1);
    expect(result.summary.parameters.drift).toBe(true);
    expect(result.summary.drift_px.every(([dx, dy]) => dx === 0 && dy === 0)).toBe(true);
    const truth = movie.truth.particles[0];
    const sim = movie.runs[0].result.snapshots.filter((s) => movie.times_s.some((t) => Math.abs(t - s.time_s) < 1e-6));
    expect(sim).toHaveLength(41);
    const got = result.particles[0];
    let maxCom = 0, maxFrac = 0, frames = 0, maxTruthVsSim = 0;
    for (let f = 0; f < movie.truth.frames; f++) {
      // truth.json is the forward model on the movie's pixels: the simulation's own measure (its camera)
      maxTruthVsSim = Math.max(maxTruthVsSim, Math.abs(truth.unreactedFraction[f] - sim[f].unreactedFraction), Math.abs((truth.comOffset_um[f] ?? 0) - (sim[f].comOffset_um ?? 0)));
      if (sim[f].unreactedFraction < 0.1) continue;
      frames++;
      maxCom = Math.max(maxCom, Math.abs((got.comOffset_um[f] as number) - (sim[f].comOffset_um as number)));
      maxFrac = Math.max(maxFrac, Math.abs(got.unreactedFraction[f] - sim[f].unreactedFraction));
    }
    console.log(`round trip fig4c: ${frames} frames with the core ≥ 10 %, max |Δd| = ${maxCom.toFixed(4)} µm, max |Δ unreacted| = ${maxFrac.toFixed(4)}; truth.json vs the simulation's trace ${maxTruthVsSim.toExponential(1)}; synth ${synth_s.toFixed(1)} s, total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(frames).toBeGreaterThanOrEqual(38);
    expect(maxTruthVsSim).toBeLessThan(1e-9);
    expect(maxCom).toBeLessThan(0.05);
    expect(maxFrac).toBeLessThan(0.03);
    // the offset grows to ~0.29 µm: the comparison is not trivially satisfied
    expect(sim[39].comOffset_um).toBeGreaterThan(0.25);
    // and the particle is where truth.json says
    expect(Math.abs(got.particle.centroid_um[0] - truth.centroidX_um)).toBeLessThan(movie.pixel_um);
  });
});

describe('camera noise', () => {
  test('Poisson draws: mean and variance λ, below and above the sampler switch (λ = 3, 40, 5000)', () => {
    for (const lambda of [3, 40, 5000]) {
      const exp = new Float64Array(200_000).fill(lambda);
      const { frame } = exposeFrame(exp, { shot: true, readNoise_e: 0, gain_e_per_adu: 1, offset_adu: 0 }, 7, 0);
      let m = 0;
      for (const v of frame) m += v;
      m /= frame.length;
      let v2 = 0;
      for (const v of frame) v2 += (v - m) ** 2;
      v2 /= frame.length - 1;
      expect(Math.abs(m - lambda) / lambda).toBeLessThan(0.01);
      expect(Math.abs(v2 - lambda) / lambda).toBeLessThan(0.02);
    }
  });

  test('flat texture: per-pixel variance = (λ + σ_read²)/g² + 1/12 ADU² at the set gain, mean = offset + λ/g (within 4 %)', async () => {
    const raw = {
      ...presetConfig('fig4a'),
      grid: { spacing_um: 0.06 },
      protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 1 }],
      synth: {
        frame_s: 60, fieldOfView_px: [200, 200], photons: 3000, background: 0.4,
        texture: { amplitude: 0 }, noise: { shot: true, readNoise_e: 6, gain_e_per_adu: 2.5, offset_adu: 300 },
      },
    };
    const movie = await synthesizeMovie(raw);
    const f0 = movie.frames[0];
    // background pixels well away from the particle (centre 100, 100; radius 24 px)
    const sample: number[] = [];
    for (let r = 0; r < 200; r++) for (let c = 0; c < 200; c++) if (Math.hypot(c + 0.5 - 100, r + 0.5 - 100) > 40) sample.push(f0[r * 200 + c]);
    const mean = sample.reduce((a, b) => a + b, 0) / sample.length;
    const variance = sample.reduce((a, b) => a + (b - mean) ** 2, 0) / (sample.length - 1);
    const lambda = 3000 * 0.4, g = 2.5;
    const expected = (lambda + 6 * 6) / (g * g) + 1 / 12;
    console.log(`noise: ${sample.length} background pixels, mean ${mean.toFixed(2)} ADU (expected ${300 + lambda / g}), variance ${variance.toFixed(2)} ADU² (expected ${expected.toFixed(2)}: shot ${(lambda / g / g).toFixed(2)} + read ${(36 / g / g).toFixed(2)} + quantisation 0.08)`);
    expect(Math.abs(mean - (300 + lambda / g)) / (300 + lambda / g)).toBeLessThan(0.002);
    expect(Math.abs(variance - expected) / expected).toBeLessThan(0.04);
    // and without shot noise only the read noise is left
    const quiet = await synthesizeMovie({ ...raw, synth: { ...raw.synth, noise: { ...raw.synth.noise, shot: false } } });
    const q = quiet.frames[0];
    const qs: number[] = [];
    for (let r = 0; r < 200; r++) for (let c = 0; c < 200; c++) if (Math.hypot(c + 0.5 - 100, r + 0.5 - 100) > 40) qs.push(q[r * 200 + c]);
    const qm = qs.reduce((a, b) => a + b, 0) / qs.length;
    const qv = qs.reduce((a, b) => a + (b - qm) ** 2, 0) / (qs.length - 1);
    expect(Math.abs(qv - (36 / (g * g) + 1 / 12)) / (36 / (g * g) + 1 / 12)).toBeLessThan(0.05);
  });

  test('the same seed gives a byte-identical movie.tif, another seed a different one', async () => {
    const raw = (seed: number) => ({
      ...presetConfig('fig4c'), grid: { spacing_um: 0.06 },
      protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 2 }], synth: { frame_s: 60, seed },
    });
    const files: Buffer[] = [];
    for (const seed of [5, 5, 6]) {
      const dir = path.join(tmp, `seed${++n}`);
      mkdirSync(dir);
      await writeSynthOutputs(dir, await synthesizeMovie(raw(seed)));
      files.push(readFileSync(path.join(dir, 'movie.tif')));
    }
    expect(files[0].equals(files[1])).toBe(true);
    expect(files[0].length).toBe(files[2].length);
    expect(files[0].equals(files[2])).toBe(false);
  });
});

describe('the files', () => {
  test('movie.tif is a calibrated ImageJ 16-bit stack; capacity.csv reads back as the simulation\'s trace at the frame times', async () => {
    const out = path.join(tmp, 'cli-files');
    const r = await runCli(['synth', '--preset', 'fig2e', '--set', 'grid.spacing_um=0.06', '--set', 'synth.frame_s=45', '--backend', 'cpu', '--quiet', '--out', out]);
    expect(r.code).toBe(0);
    const truth = JSON.parse(readFileSync(path.join(out, 'truth.json'), 'utf8'));
    for (const k of ['frames', 'pixel_um', 'frame_s', 'particles']) expect(truth).toHaveProperty(k);
    for (const k of ['id', 'centroidX_um', 'centroidY_um', 'comOffset_um', 'unreactedFraction', 'config']) expect(truth.particles[0]).toHaveProperty(k);
    expect(truth.frames).toBe(41); // 0 … 30 min every 45 s
    expect(truth.particles[0].comOffset_um).toHaveLength(41);
    expect(truth.particles[0].unreactedFraction[0]).toBe(1); // frame 0 = the state at t = 0
    expect(truth.particles[0].config.surface.segments).toEqual([{ fromDeg: 135, toDeg: 225, eta: 0.3 }]);
    const movie = await openMovie(path.join(out, 'movie.tif'));
    try {
      expect(movie.sampleType).toBe('uint16');
      expect([movie.frames, movie.width, movie.height]).toEqual([41, truth.width, truth.height]);
      expect(movie.pixel_um).toBeCloseTo(0.05, 9);
      expect(movie.frame_s).toBe(45);
      expect(movie.calibration.frame_s?.source).toBe('imagej');
    } finally {
      await movie.close();
    }
    const cap = await readCapacityFile(path.join(out, 'capacity.csv'));
    expect(readFileSync(path.join(out, 'capacity.csv'), 'utf8').split('\n')[0]).toBe('time_s,capacity_mAh_g');
    const atFrames = capacityAtFrames(cap, truth.times_s).capacity_mAh_g;
    // 70 mA/g for 20 min, then rest: charge passed = 70·t/3600 up to 1200 s, flat after
    truth.times_s.forEach((t: number, i: number) => {
      expect(atFrames[i]).toBeCloseTo((70 * Math.min(t, 1200)) / 3600, 5);
      expect(atFrames[i]).toBeCloseTo(truth.capacity_mAh_g[i], 6);
    });
  });

  test('optics.preset "rig": 0.095 µm pixels, PSF σ 0.25 µm, the 1920×1200 sensor as the field', async () => {
    const raw = { ...presetConfig('fig4c'), optics: { preset: 'rig' }, synth: { fieldOfView_px: 'sensor' } };
    expect(resolveConfig(raw).optics).toMatchObject({ preset: 'rig', pixel_um: 0.095, psfSigma_um: 0.25 });
    expect(resolveConfig({ ...raw, optics: { preset: 'rig', psfSigma_um: 0.3 } }).optics.psfSigma_um).toBe(0.3);
    const p = await prepareSynth(raw);
    expect([p.scene.width, p.scene.height, p.scene.pixel_um]).toEqual([1920, 1200, 0.095]);
    expect(p.scene.particles[0].position_um[0]).toBeCloseTo(1920 * 0.095 / 2, 6);
  });
});

describe('several particles in one field', () => {
  test('analyze finds each particle at its position (within a pixel), numbered as truth.json numbers them', async () => {
    const base = {
      ...presetConfig('fig4a'),
      grid: { spacing_um: 0.04 },
      protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 10 }],
      synth: {
        frame_s: 120,
        fieldOfView_px: [220, 160],
        particles: [
          { position_um: [2.0, 2.2] },
          { position_um: [7.9, 2.4], preset: 'fig4d', config: { particle: { diameter_um: 2.0 }, grid: { spacing_um: 0.04 } } },
          { position_um: [5.0, 5.6], config: { particle: { shape: 'ellipse', axes_um: [3.0, 1.6], angleDeg: 30 }, surface: { segments: [{ fromDeg: 0, toDeg: 90, eta: 0.2 }] } } },
        ],
      },
    };
    const movie = await synthesizeMovie(base);
    expect(movie.truth.particles.map((p) => p.index)).toEqual([0, 1, 2]); // raster order of first pixels
    expect(movie.truth.particles[1].config.surface.segments).toEqual([{ fromDeg: 90, toDeg: 270, eta: 0.3 }]); // fig4d's half
    expect(movie.truth.particles[2].config.particle).toMatchObject({ shape: 'ellipse', axes_um: [3.0, 1.6] });
    const { result } = await writeAndAnalyze(movie, { drift: false });
    expect(result.particles).toHaveLength(3);
    for (const t of movie.truth.particles) {
      const a = result.particles.find((p) => p.particle.id === t.id)!;
      expect(Math.hypot(a.particle.centroid_um[0] - t.centroidX_um, a.particle.centroid_um[1] - t.centroidY_um)).toBeLessThan(movie.pixel_um);
      expect(Math.abs(a.particle.area_um2 - t.area_um2) / t.area_um2).toBeLessThan(0.03);
      // and its own charge: the last frame's unreacted fraction near the truth
      expect(Math.abs(a.unreactedFraction[movie.truth.frames - 1] - t.unreactedFraction[movie.truth.frames - 1])).toBeLessThan(0.05);
    }
  });
});

describe('bad input: one line, exit 1, nothing written', () => {
  const cases: [string, string[], RegExp][] = [
    ['a negative frame interval', ['--set', 'synth.frame_s=-30'], /synth\.frame_s = -30 is not allowed/],
    ['a field of view too small for the particle', ['--set', 'synth.fieldOfView_px=[40,40]'], /does not fit the field of view \(40×40 px/],
    ['an unknown key', ['--set', 'synth.exposure=1'], /unknown key 'synth\.exposure'/],
    ['more frames than the protocol lasts', ['--set', 'synth.frames=100'], /synth\.frames = 100 is not allowed.*at most 41 frames/],
    ['"sensor" without a rig preset', ['--set', 'synth.fieldOfView_px="sensor"'], /synth\.fieldOfView_px = "sensor" is not allowed/],
    ['a bad field of view', ['--set', 'synth.fieldOfView_px=[3.5,40]'], /synth\.fieldOfView_px = \[3\.5,40\] is not allowed: use \[width, height\]/],
    ['overlapping particles', ['--set', 'synth.particles=[{"position_um":[2,2]},{"position_um":[3.5,2.2]}]'], /synth\.particles\[1\]\.position_um = \[3\.5, 2\.2\] µm overlaps synth\.particles\[0\]/],
    ['particles too close', ['--set', 'synth.particles=[{"position_um":[2,2]},{"position_um":[4.5,2]}]'], /comes closer than 0\.33 µm to synth\.particles\[0\]/],
    ['a particle without a position among several', ['--set', 'synth.particles=[{"position_um":[2,2]},{}]'], /synth\.particles\[1\]\.position_um is missing/],
    ['a particle with its own protocol', ['--set', 'synth.particles=[{"config":{"protocol":[]}}]'], /synth\.particles\[0\]\.config\.protocol is not allowed/],
    ['a bad value in a particle', ['--set', 'synth.particles=[{"config":{"particle":{"diameter_um":-1}}}]'], /synth\.particles\[0\]: particle\.diameter_um = -1 is not allowed/],
    ['an unknown particle preset', ['--set', 'synth.particles=[{"preset":"fig9"}]'], /synth\.particles\[0\]\.preset = "fig9" is not allowed: use one of fig4a/],
    ['an unknown optics preset', ['--set', 'optics.preset=rig2'], /optics\.preset = "rig2" is not allowed/],
  ];
  test.each(cases)('%s', async (_name, args, message) => {
    const out = path.join(tmp, `bad${++n}`);
    const r = await runCli(['synth', '--preset', 'fig4c', ...args, '--backend', 'cpu', '--out', out]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ionflux: /);
    expect(lines[0]).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  test('a config file with a bad synth section', async () => {
    const file = path.join(tmp, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...presetConfig('fig4c'), synth: { noise: { gain_e_per_adu: 0 } } }));
    const out = path.join(tmp, 'badfile');
    const r = await runCli(['synth', '--config', file, '--backend', 'cpu', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/synth\.noise\.gain_e_per_adu = 0 is not allowed/);
    expect(existsSync(out)).toBe(false);
  });
});
