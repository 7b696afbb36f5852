/**
 * `ionflux analyze` end to end: in process through main(argv) for the outputs and most bad input, and
 * as a real child process (`node <built cli>.js analyze …`, built with Vite into an ignored folder) for
 * exit codes and the one-line messages on stderr. Failures must leave nothing behind.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { runCli } from '../helpers/cli';
import { openMovie } from '../../src/io/movie';
import { writeSynthMovie, synthFrames, type SynthOptions } from '../helpers/synthMovie';
import { writeTiffStack } from '../../src/io/tiffWrite';

const ROOT = path.resolve(__dirname, '..', '..');
const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-analyze-cli-'));
// inside node_modules (ignored by git) so that the bundle finds its packages
const buildDir = path.join(ROOT, 'node_modules', '.ionflux-test', `analyze-cli-${process.pid}`);
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(buildDir, { recursive: true, force: true });
  try { rmdirSync(path.dirname(buildDir)); } catch { /* another run's build is still there */ }
});

const run = runCli;

const R = 14;
const shrinking = (s: number) => R * Math.sqrt(Math.max(0, 1 - s));
const synth: SynthOptions = {
  width: 96, height: 56, frames: 10, noise: 8, seed: 2, drift: (f) => [0.2 * f, -0.1 * f],
  particles: [
    { cx: 26, cy: 28, radius_px: R, coreRadius: shrinking },
    { cx: 68, cy: 27, radius_px: R, coreRadius: shrinking, coreOffset: (_f, s) => [0.9 * (R - shrinking(s)), 0] },
  ],
};
const movie = path.join(tmp, 'movie.tif');
const capacity = path.join(tmp, 'cap.csv');

/** no output folder and no staging leftovers next to it */
function nothingLeft(out: string): void {
  expect(existsSync(out)).toBe(false);
  const dir = path.dirname(out);
  expect(readdirSync(dir).filter((f) => f.startsWith(path.basename(out) + '.'))).toEqual([]);
}

beforeAll(async () => {
  await writeSynthMovie(movie, synth, { pixel_um: 0.08, frame_s: 30 });
  writeFileSync(capacity, 'time_s,capacity_mAh_g,voltage_V\n0,0,3.6\n300,10,3.9\n');
});

describe('analyze writes SPEC §6 files', () => {
  test('all files, the right labels, capacity on every axis, metadata from the ImageJ stack', async () => {
    const out = path.join(tmp, 'ok');
    const r = await run(['analyze', movie, '--capacity', capacity, '--backend', 'cpu', '--out', out]);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['.ionflux-output', 'diff.tif', 'frames.csv', 'index.html', 'montage.png', 'particle_1', 'particle_2', 'particles.csv', 'summary.json', 'traces.csv', 'traces.png']);
    expect(readdirSync(path.join(out, 'particle_2')).sort()).toEqual(['kymograph.csv', 'kymograph.png']);
    // the calibration came from the movie: shown without a note; --pixel-um is named as the source
    const html = readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(html).toMatch(/pixel size \(µm\)<\/th><td class="v">0\.08<\/td>/);
    const given = path.join(tmp, 'ok-pixel');
    expect((await run(['analyze', movie, '--pixel-um', '0.1', '--backend', 'cpu', '--quiet', '--out', given])).code).toBe(0);
    expect(readFileSync(path.join(given, 'index.html'), 'utf8')).toMatch(/pixel size \(µm\)<\/th><td class="v">0\.1 \(--pixel-um\)<\/td>/);
    const s = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(s).toMatchObject({ frames: 10, width: 96, height: 56, pixel_um: 0.08, frame_s: 30, referenceFrame: 0, particles: 2, asymmetricFraction: 0.5 });
    expect(s.backend).toMatch(/^cpu/);
    expect(s.drift_px).toHaveLength(10);
    expect(Math.abs(s.drift_px[9][0] - 1.8)).toBeLessThan(0.2);
    expect(Math.abs(s.drift_px[9][1] + 0.9)).toBeLessThan(0.2);
    const particles = readFileSync(path.join(out, 'particles.csv'), 'utf8').trim().split('\n');
    expect(particles[0]).toBe('id,area_um2,eqRadius_um,centroidX_um,centroidY_um,asymmetric,maxComOffsetRel');
    // labels follow raster order of each particle's first pixel: the right-hand (asymmetric) one sits higher
    const byX = particles.slice(1).map((l) => l.split(',')).sort((a, b) => Number(a[3]) - Number(b[3]));
    expect(byX.map((c) => c[5])).toEqual(['false', 'true']);
    const traces = readFileSync(path.join(out, 'traces.csv'), 'utf8').trim().split('\n');
    expect(traces).toHaveLength(1 + 2 * 10);
    expect(traces[1 + 3].split(',').slice(0, 4)).toEqual(['1', '3', '90', '3']); // 90 s → 3 mAh/g
    // diff.tif is a float32 ImageJ stack with the movie's calibration
    const diff = await openMovie(path.join(out, 'diff.tif'));
    expect([diff.frames, diff.width, diff.height, diff.sampleType, diff.pixel_um, diff.frame_s]).toEqual([10, 96, 56, 'float32', 0.08, 30]);
    await diff.close();
    const png = PNG.sync.read(readFileSync(path.join(out, 'particle_2', 'kymograph.png')));
    expect(png.width).toBeGreaterThan(100);
  });

  test('a pixel size in the wrong unit (50 for 50 nm) is warned about, by the particles\' size', async () => {
    const out = path.join(tmp, 'px50');
    const r = await run(['analyze', movie, '--pixel-um', '50', '--backend', 'cpu', '--quiet', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: with --pixel-um 50 the particles are \d+ µm across \(median\): cathode particles are ~1–20 µm; is the pixel size in µm\?/);
  });

  test('--pixel-um and --frame-s override the metadata; --line-angle and --kymo-axis time', async () => {
    const out = path.join(tmp, 'override');
    const r = await run(['analyze', movie, '--pixel-um', '0.1', '--frame-s', '5', '--line-angle', '45', '--kymo-axis', 'time', '--reference', '1', '--backend', 'cpu', '--quiet', '--out', out]);
    expect(r.code).toBe(0);
    // ×1.25 on the pixel size is a recalibration; ×1/6 on the frame interval is said
    expect(r.stderr).toMatch(/^ionflux: warning: --frame-s 5 overrides the frame interval in .*movie\.tif's metadata, 30 s \(imagej\), by ×0\.167: times follow the option; leave it out to use the file's\n$/);
    const s = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect([s.pixel_um, s.frame_s, s.referenceFrame]).toEqual([0.1, 5, 1]);
    expect(s.parameters.pixelSizeSource).toBe('option');
    expect(s.kymographs.map((k: { angleDeg: number; axis: string }) => [k.angleDeg, k.axis])).toEqual([[45, 'time'], [45, 'time']]);
    expect(s.drift_px[1]).toEqual([0, 0]);
  });

  test('a folder of PNG frames with a user mask (label values)', async () => {
    const dir = path.join(tmp, 'pngs');
    mkdirSync(dir);
    const frames = synthFrames({ ...synth, sampleType: 'uint8', particleIntensity: 200, background: 20, noise: 0, drift: undefined });
    frames.forEach((f, k) => {
      const png = new PNG({ width: synth.width, height: synth.height });
      for (let i = 0; i < f.length; i++) { png.data[4 * i] = png.data[4 * i + 1] = png.data[4 * i + 2] = f[i]; png.data[4 * i + 3] = 255; }
      writeFileSync(path.join(dir, `img_${k + 1}.png`), PNG.sync.write(png, { colorType: 0 }));
    });
    // mask: only the right-hand particle, label value 7
    const mask = new Uint16Array(synth.width * synth.height);
    for (let y = 0; y < synth.height; y++) for (let x = 0; x < synth.width; x++) if (Math.hypot(x + 0.5 - 68, y + 0.5 - 27) < R - 0.5) mask[y * synth.width + x] = 7;
    const maskFile = path.join(tmp, 'mask.tif');
    await writeTiffStack(maskFile, [mask], { width: synth.width, height: synth.height, sampleType: 'uint16' });
    const out = path.join(tmp, 'folder');
    const r = await run(['analyze', dir, '--mask', maskFile, '--pixel-um', '0.08', '--frame-s', '30', '--backend', 'cpu', '--out', out]);
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toContain('particle_7');
    const lines = readFileSync(path.join(out, 'particles.csv'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1].split(',')[0]).toBe('7');
    expect(lines[1].split(',')[5]).toBe('true');
  });

  test('without pixel size or frame interval: warnings, and the tables still written', async () => {
    const file = path.join(tmp, 'plain.tif');
    await writeTiffStack(file, synthFrames({ ...synth, frames: 3 }), { width: synth.width, height: synth.height, sampleType: 'uint16' });
    const out = path.join(tmp, 'plain');
    const r = await run(['analyze', file, '--backend', 'cpu', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*plain\.tif has no pixel size .*--pixel-um/);
    expect(r.stderr).toMatch(/warning: .*no frame interval .*--frame-s/);
    // a capacity file needs frame times
    const r2 = await run(['analyze', file, '--capacity', capacity, '--backend', 'cpu', '--out', path.join(tmp, 'plain2')]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/^ionflux: --capacity .*cap\.csv needs frame times .*give --frame-s\n$/);
    nothingLeft(path.join(tmp, 'plain2'));
  });

  test('GPU (the software adapter in CI) and CPU agree', async () => {
    const cpu = path.join(tmp, 'b-cpu'), auto = path.join(tmp, 'b-gpu');
    expect((await run(['analyze', movie, '--backend', 'cpu', '--quiet', '--out', cpu])).code).toBe(0);
    expect((await run(['analyze', movie, '--backend', 'gpu', '--quiet', '--out', auto])).code).toBe(0);
    const a = readFileSync(path.join(cpu, 'traces.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    const b = readFileSync(path.join(auto, 'traces.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    expect(b.length).toBe(a.length);
    for (let i = 0; i < a.length; i++) for (let k = 0; k < a[i].length; k++) {
      if (Number.isNaN(a[i][k])) expect(b[i][k]).toBeNaN();
      else expect(Math.abs(a[i][k] - b[i][k])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(a[i][k])));
    }
    expect(readFileSync(path.join(cpu, 'particles.csv'), 'utf8')).toBe(readFileSync(path.join(auto, 'particles.csv'), 'utf8'));
  });
});

describe('bad input: one clear line, non-zero exit, nothing written', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['a truncated TIFF', () => {
      const bytes = readFileSync(movie);
      const f = path.join(tmp, 'truncated.tif');
      writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      return [f];
    }, /truncated\.tif is truncated/],
    ['a file that is not an image', () => {
      const f = path.join(tmp, 'notes.tif');
      writeFileSync(f, 'time,value\n1,2\n');
      return [f];
    }, /notes\.tif is not a TIFF file/],
    ['frames of different sizes', () => {
      const d = path.join(tmp, 'sizes');
      mkdirSync(d, { recursive: true });
      for (const [name, w] of [['f1.png', 8], ['f2.png', 8], ['f3.png', 9]] as const) {
        const png = new PNG({ width: w, height: 6 });
        png.data.fill(255);
        writeFileSync(path.join(d, name), PNG.sync.write(png));
      }
      return [d];
    }, /frame 2 \(f3\.png\) is 9×6 pixels but frame 0 \(f1\.png\) is 8×6/],
    ['an empty folder', () => {
      const d = path.join(tmp, 'empty');
      mkdirSync(d, { recursive: true });
      return [d];
    }, /folder .*empty has no PNG or TIFF frames/],
    ['a capacity file without the needed columns', () => {
      const f = path.join(tmp, 'badcap.csv');
      writeFileSync(f, 'time,charge\n0,0\n');
      return [movie, '--capacity', f];
    }, /capacity file .*badcap\.csv has columns \[time, charge\] but needs time_s and capacity_mAh_g/],
    ['a reference frame past the end', () => [movie, '--reference', '10'], /--reference = 10 is not allowed .* use 0 … 9/],
    ['a mask of the wrong size', () => {
      const f = path.join(tmp, 'smallmask.png');
      const png = new PNG({ width: 10, height: 10 });
      png.data.fill(255);
      writeFileSync(f, PNG.sync.write(png));
      return [movie, '--mask', f];
    }, /mask .*smallmask\.png is 10×10 pixels but the movie's frames are 96×56/],
    ['a missing movie', () => [path.join(tmp, 'nope.tif')], /movie .*nope\.tif does not exist/],
    ['a bad backend', () => [movie, '--backend', 'fast'], /--backend = 'fast' is not allowed: use one of auto, gpu, cpu/],
    ['more drift threads than allowed', () => [movie, '--drift-threads', '9'], /--drift-threads = '9' is not allowed: use an integer from 0 to 8/],
    ['a threshold in per cent', () => [movie, '--threshold', '5'], /--threshold = '5' is not allowed: use a number from -1 to 1 \(ΔI\/I0 is a fraction of I0: 0\.05 is 5 %\)/],
    ['a smoothing box larger than the frame', () => [movie, '--smooth-px', '1000'], /--smooth-px = 1000 makes a 2001 px box, larger than the 96×56 frames: use at most 27/],
    ['the frames of a folder as many arguments', () => [movie, movie, movie], /too many arguments for 'analyze'\. Expected 1 argument but got 3: a movie is one argument .*give the folder, not its files/],
  ];
  for (const [name, setup, message] of cases) {
    test(name, async () => {
      const args = setup();
      const out = path.join(tmp, `out-${name.replace(/\W+/g, '-')}`);
      const backend = args.includes('--backend') ? [] : ['--backend', 'cpu'];
      const r = await run(['analyze', ...args, ...backend, '--out', out]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.startsWith('ionflux: ')).toBe(true);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      nothingLeft(out);
    });
  }

  test('an option value that is not a number is refused by the parser', async () => {
    const out = path.join(tmp, 'badnum');
    const r = await run(['analyze', movie, '--pixel-um', 'abc', '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--pixel-um = 'abc' is not allowed: use a number > 0/);
    nothingLeft(out);
  });

  test('a movie with no particle: a clear message, empty tables, exit 0', async () => {
    const f = path.join(tmp, 'blank.tif');
    await writeSynthMovie(f, { width: 40, height: 40, frames: 3, particles: [], noise: 4 }, { pixel_um: 0.1, frame_s: 1 });
    const out = path.join(tmp, 'blank');
    const r = await run(['analyze', f, '--backend', 'cpu', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: no particle found in reference frame 0 of .*blank\.tif/);
    expect(readFileSync(path.join(out, 'particles.csv'), 'utf8')).toBe('id,area_um2,eqRadius_um,centroidX_um,centroidY_um,asymmetric,maxComOffsetRel\n');
    expect(readFileSync(path.join(out, 'traces.csv'), 'utf8').trim().split('\n')).toHaveLength(1);
  });
});

describe('as a child process (node <bundle> analyze …)', () => {
  let cli = '';
  beforeAll(() => {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--outDir', buildDir, '--logLevel', 'error'], { cwd: ROOT, stdio: 'pipe' });
    cli = path.join(buildDir, 'cli.js');
  }, 120_000);
  const node = (args: string[]) => spawnSync(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify('file://' + cli)}); process.exitCode = await main(process.argv.slice(1));`, ...args], { encoding: 'utf8' });

  test('success: exit 0, results in the folder, a summary line on stderr', () => {
    const out = path.join(tmp, 'child-ok');
    const r = node(['analyze', movie, '--backend', 'cpu', '--out', out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/analyze: 10 frames, 2 particle\(s\), asymmetric 50 %/);
    expect(existsSync(path.join(out, 'summary.json'))).toBe(true);
  });

  test('a truncated TIFF: exit 1, one line, nothing written', () => {
    const bytes = readFileSync(movie);
    const f = path.join(tmp, 'cut-by-copy.tif');
    writeFileSync(f, bytes.subarray(0, bytes.length - 5000));
    const out = path.join(tmp, 'child-trunc');
    const r = node(['analyze', f, '--backend', 'cpu', '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ionflux: .*cut-by-copy\.tif is truncated.*\n$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    nothingLeft(out);
  });

  test('drift in worker threads (the bundle): traces, frames and drift byte-identical to the estimate in this thread', async () => {
    // in process, from the sources, the drift estimate runs in this thread; the bundle runs it in worker threads
    const here = path.join(tmp, 'drift-here'), there = path.join(tmp, 'drift-workers');
    expect((await run(['analyze', movie, '--backend', 'cpu', '--quiet', '--out', here])).code).toBe(0);
    // a movie this small stays in the main thread by default: ask for the threads
    const r = node(['analyze', movie, '--backend', 'cpu', '--quiet', '--drift-threads', '2', '--out', there]);
    expect(r.status).toBe(0);
    const summary = (d: string) => JSON.parse(readFileSync(path.join(d, 'summary.json'), 'utf8'));
    expect(summary(here).parameters.driftThread).toBe('main thread');
    expect(summary(there).parameters.driftThread).toBe('worker thread');
    // by default a movie this small (96 × 56 × 10) keeps the estimate in the main thread, bundle or not
    const small = path.join(tmp, 'drift-default');
    expect(node(['analyze', movie, '--backend', 'cpu', '--quiet', '--out', small]).status).toBe(0);
    expect(summary(small).parameters.driftThread).toBe('main thread');
    expect(readFileSync(path.join(small, 'traces.csv'), 'utf8')).toBe(readFileSync(path.join(here, 'traces.csv'), 'utf8'));
    expect(summary(there).drift_px).toEqual(summary(here).drift_px);
    // the movie drifts by (0.2, −0.1) px a frame: frames 1 (0.22 px) onward are corrected
    expect(summary(there).drift_px[9][0]).toBeGreaterThan(1.6);
    for (const f of ['traces.csv', 'frames.csv', 'particles.csv', 'particle_1/kymograph.csv', 'particle_2/kymograph.csv']) {
      expect(readFileSync(path.join(there, f), 'utf8'), f).toBe(readFileSync(path.join(here, f), 'utf8'));
    }
  }, 60_000);

  test('SIGINT while frames are in flight between the threads: exit 130 at once, nothing written', async () => {
    // 640² × 48 16-bit frames (several seconds of work): drift workers, map helper and reads all busy
    const W = 640, H = 640, n = 48;
    const frames: Uint16Array[] = [];
    for (let f = 0; f < n; f++) {
      const fr = new Uint16Array(W * H);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        const d = Math.hypot(x - 300 - f * 0.3, y - 320), core = Math.hypot(x - 320 - f * 0.3, y - 320);
        fr[y * W + x] = 1000 + ((x * 7 + y * 13) & 63) + (d < 150 ? 8000 + (core > 140 - 2 * f ? 2000 : 0) : 0);
      }
      frames.push(fr);
    }
    const big = path.join(tmp, 'big.tif');
    await writeTiffStack(big, frames, { width: W, height: H, sampleType: 'uint16', imagej: { pixel_um: 0.1, frame_s: 10 } });
    const out = path.join(tmp, 'child-sigint');
    const child = spawn(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify('file://' + cli)}); process.exitCode = await main(process.argv.slice(1));`, 'analyze', big, '--backend', 'cpu', '--drift-threads', '2', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => { err += String(d); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    // the first progress line comes from pass 1, a second or more after the start
    const t0 = Date.now();
    while (!/analyze: \d+% frame/.test(err)) {
      if (Date.now() - t0 > 90_000) throw new Error(`analyze did not report progress: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const killed = Date.now();
    child.kill('SIGINT');
    const e = await exited;
    expect({ ...e, stderr: err }).toMatchObject({ code: 130, signal: null });
    expect(Date.now() - killed).toBeLessThan(5_000);
    expect(err).toMatch(/stopped by SIGINT/);
    nothingLeft(out);
  }, 180_000);

  test('not an image: exit 1, one line', () => {
    const f = path.join(tmp, 'child-text.tif');
    writeFileSync(f, 'hello');
    const r = node(['analyze', f, '--out', path.join(tmp, 'child-text')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ionflux: movie .*child-text\.tif is only 5 bytes long: give a multi-page TIFF/);
  });
});
