/**
 * Trust: ionflux never loses a user's file, reports every fault of the environment as one line with
 * its exit code (1 bad input, 2 environment, 130 / 143 signals), and cleans up after killed runs.
 * Each case here lost data or printed a stack before the output manifest (src/io/output.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { buildCli, waitFor, type BuiltCli } from '../helpers/builtCli';
import { writeSynthMovie } from '../helpers/synthMovie';
import { manifestFiles, OUTPUT_MARKER, writeOutputDir } from '../../src/io/output';
import { EnvironmentError, oneLine, UserError } from '../../src/errors';
import { openMovie } from '../../src/io/movie';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-trust-'));
const isRoot = process.getuid?.() === 0;
let cli: BuiltCli;
beforeAll(() => { cli = buildCli('trust'); }, 120_000);
afterAll(() => {
  cli?.remove();
  rmSync(tmp, { recursive: true, force: true });
});

const quick = ['--preset', 'fig4a', '--set', 'grid.spacing_um=0.1', '--set', 'protocol.0.duration_min=2', '--set', 'snapshots_min=[1]', '--backend', 'cpu', '--quiet'];
/**
 * long enough to be interrupted (~35 s alone) and on one thread (20 k cells): a second solver thread
 * competing with the other test files for two cores makes the start of the run, and so the test, slow
 */
const slow = ['--preset', 'fresh', '--set', 'grid.spacing_um=0.015', '--set', 'protocol.0.current_mA_g=20', '--backend', 'cpu'];
const siblings = (out: string) => readdirSync(path.dirname(out)).filter((f) => f.startsWith(`${path.basename(out)}.`));

/** a small synth movie NAME.tif in tmp and its `analyze` output folder OUT */
async function analyzedMovie(name: string, outName: string): Promise<{ movie: string; out: string }> {
  const movie = path.join(tmp, `${name}.tif`);
  await writeSynthMovie(movie, { width: 48, height: 40, frames: 4, noise: 2, seed: 3, particles: [{ cx: 24, cy: 20, radius_px: 10, coreRadius: (s) => 10 * Math.sqrt(1 - 0.5 * s) }] }, { pixel_um: 0.1, frame_s: 10 });
  const out = path.join(tmp, outName);
  expect((await runCli(['analyze', movie, '--backend', 'cpu', '--quiet', '--out', out])).code).toBe(0);
  return { movie, out };
}

describe('a re-run deletes or overwrites only what ionflux wrote', () => {
  test('a notes file and the run\'s own config inside the output folder are kept', async () => {
    const out = path.join(tmp, 'rerun');
    expect((await runCli(['simulate', ...quick, '--out', out])).code).toBe(0);
    const first = manifestFiles(out)!.sort();
    expect(first).toEqual(['index.html', 'summary.json', 'theta_0060s.npy', 'theta_0060s.png', 'theta_0120s.npy', 'theta_0120s.png', 'trace.csv', 'trace.png']);
    writeFileSync(path.join(out, 'notes.txt'), 'precious');
    const config = path.join(out, 'my.json');
    writeFileSync(config, JSON.stringify({ particle: { diameter_um: 1 }, grid: { spacing_um: 0.1 }, protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 1.5 }] }));
    const r = await runCli(['simulate', '--config', config, '--backend', 'cpu', '--quiet', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/replaced \d+ and removed \d+ file\(s\) of an earlier ionflux run in .* \(removed: theta_0060s\.npy, theta_0060s\.png, theta_0120s\.npy, theta_0120s\.png, which this run does not write\)/);
    expect(r.stderr).toMatch(/kept 2 file\(s\) .* my\.json, notes\.txt/);
    expect(readFileSync(path.join(out, 'notes.txt'), 'utf8')).toBe('precious');
    expect(existsSync(config)).toBe(true);
    // the old snapshot at 60 s went (ionflux wrote it), the new run's end state at 90 s came
    expect(readdirSync(out).sort()).toEqual([OUTPUT_MARKER, 'index.html', 'my.json', 'notes.txt', 'summary.json', 'theta_0090s.npy', 'theta_0090s.png', 'trace.csv', 'trace.png']);
    expect(siblings(out)).toEqual([]);
  });

  test('a file ionflux wrote but the user edited since is kept, and a run that would overwrite it is refused', async () => {
    const out = path.join(tmp, 'edited');
    expect((await runCli(['simulate', ...quick, '--out', out])).code).toBe(0);
    writeFileSync(path.join(out, 'trace.csv'), 'my annotated trace');
    const r = await runCli(['simulate', ...quick, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds trace\.csv, not written by ionflux \(or changed since\): nothing there was replaced; this run's result is in '.*edited\.new-/);
    expect(readFileSync(path.join(out, 'trace.csv'), 'utf8')).toBe('my annotated trace');
    const kept = siblings(out).filter((f) => f.includes('.new-'));
    expect(kept).toHaveLength(1);
    expect(existsSync(path.join(tmp, kept[0], 'trace.csv'))).toBe(true);
  });

  test('analyze of a movie inside the folder it would replace is refused; the movie and the earlier analysis stay', async () => {
    const { movie, out } = await analyzedMovie('movie', 'analysis');
    const before = readdirSync(out).sort();
    const diff = path.join(out, 'diff.tif');
    const bytes = readFileSync(diff);
    const r = await runCli(['analyze', diff, '--backend', 'cpu', '--quiet', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MOVIE '.*diff\.tif' lies inside --out '.*analysis' and was written there by an earlier ionflux run, which this run would replace/);
    expect(readdirSync(out).sort()).toEqual(before);
    expect(readFileSync(diff).equals(bytes)).toBe(true);
    // the user's own movie inside an ionflux folder is not ionflux's, so that works and is kept
    const mine = path.join(out, 'mine.tif');
    writeFileSync(mine, readFileSync(movie));
    const r2 = await runCli(['analyze', mine, '--backend', 'cpu', '--quiet', '--out', out]);
    expect(r2.code).toBe(0);
    expect(readFileSync(mine).equals(readFileSync(movie))).toBe(true);
  });

  test('a folder of someone else\'s files is never written into', async () => {
    const out = path.join(tmp, 'user');
    mkdirSync(out);
    writeFileSync(path.join(out, 'data.csv'), '1,2');
    const r = await runCli(['simulate', ...quick, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is a folder with other files \(data\.csv\) and no ionflux output/);
    expect(readdirSync(out)).toEqual(['data.csv']);
  });

  test('another command\'s output is never replaced: simulate into an analyze folder (or a sweep\'s) is refused, and it stays', async () => {
    const { movie, out } = await analyzedMovie('movie2', 'analysis2');
    const before = readdirSync(out).sort();
    const r = await runCli(['simulate', ...quick, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ionflux: --out '.*analysis2' holds the output of `ionflux analyze` \(\d+ files: .*\); `ionflux simulate` replaces only its own earlier output: choose another folder\n$/);
    expect(readdirSync(out).sort()).toEqual(before);
    // the same command replaces its own
    expect((await runCli(['analyze', movie, '--backend', 'cpu', '--quiet', '--out', out])).code).toBe(0);
    // a sweep's folder is named as one
    const sweep = path.join(tmp, 'asweep');
    mkdirSync(sweep);
    writeFileSync(path.join(sweep, 'sweep.json'), '{}');
    const r2 = await runCli(['simulate', ...quick, '--out', sweep]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/--out '.*asweep' holds a sweep \(sweep\.json\): it is written and resumed by `ionflux sweep` only; choose another folder/);
    // a subfolder of an output (fit's compare/) is named as part of it, and stays
    const fitLike = path.join(tmp, 'afit');
    await writeOutputDir(fitLike, async (dir) => {
      mkdirSync(path.join(dir, 'compare'));
      writeFileSync(path.join(dir, 'compare', 'summary.json'), '{}');
      writeFileSync(path.join(dir, 'fit.json'), '{}');
    }, { command: 'fit', log: () => {} });
    const r3 = await runCli(['simulate', ...quick, '--out', path.join(fitLike, 'compare')]);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/--out '.*afit\/compare' is part of the output of `ionflux fit` in '.*afit' \(its compare\/ folder\): ionflux replaces a command's output only as a whole/);
    expect(readdirSync(path.join(fitLike, 'compare'))).toEqual(['summary.json']);
  });
});

describe('the library: writeOutputDir keeps the inputs this process reads', () => {
  test('a movie open from a folder is not replaced by writing into that folder; a library folder is not another command\'s', async () => {
    // a synth-like folder written by a library call (no options.command), its movie opened, and an
    // analysis written into the same folder: refused while the movie is open (it deleted the movie)
    const dir = path.join(tmp, 'lib-synth');
    await writeOutputDir(dir, async (d) => {
      await writeSynthMovie(path.join(d, 'movie.tif'), { width: 48, height: 40, frames: 3, particles: [{ cx: 24, cy: 20, radius_px: 10 }] }, { pixel_um: 0.1, frame_s: 1 });
      writeFileSync(path.join(d, 'truth.json'), '{}');
    }, { log: () => {} });
    const movie = await openMovie(path.join(dir, 'movie.tif'));
    const lines: string[] = [];
    try {
      const err = await writeOutputDir(dir, async (d) => { writeFileSync(path.join(d, 'summary.json'), '{}'); }, { log: (l) => lines.push(l) }).catch((e) => e);
      expect(err).toBeInstanceOf(UserError);
      expect(err.message).toMatch(/^the open movie '.*lib-synth\/movie\.tif' lies inside --out '.*lib-synth' and was written there by an earlier ionflux run, which this run would replace: move it out of the folder, or choose another --out$/);
    } finally {
      await movie.close();
    }
    expect(readdirSync(dir).sort()).toEqual([OUTPUT_MARKER, 'movie.tif', 'truth.json']);
    // a CLI command does not replace a library call's folder either (nor the other way round)
    const r = await runCli(['simulate', ...quick, '--out', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds the output of a library call \(writeOutputDir without options\.command\) \(2 files: movie\.tif, truth\.json\); `ionflux simulate` replaces only its own earlier output/);
    // once closed, the same library call replaces its own earlier output, and says what it removed
    await writeOutputDir(dir, async (d) => { writeFileSync(path.join(d, 'truth.json'), '{"again":1}'); }, { log: (l) => lines.push(l) });
    expect(readdirSync(dir).sort()).toEqual([OUTPUT_MARKER, 'truth.json']);
    expect(lines.join('\n')).toMatch(/replaced 1 and removed 1 file\(s\) of an earlier ionflux run in '.*lib-synth' \(removed: movie\.tif, which this run does not write\)/);
  });
});

describe('killed, interrupted and concurrent runs', () => {
  test('SIGINT and SIGTERM: exit 130 / 143, a line saying what was kept, the earlier result unchanged', async () => {
    const out = path.join(tmp, 'sig');
    expect((await runCli(['simulate', ...quick, '--out', out])).code).toBe(0);
    const summary = readFileSync(path.join(out, 'summary.json'), 'utf8');
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const p = cli.start(['simulate', ...slow, '--out', out]);
      // the progress line comes from inside the run, after the signal handlers are in place
      await waitFor(() => /simulate: \d+%/.test(p.stderr()), 60_000, 'the run to start');
      const killed = Date.now();
      p.child.kill(signal);
      const e = await p.exited;
      expect({ ...e, stderr: p.stderr() }).toMatchObject({ code, signal: null });
      // at once, not when the run ends (~35 s): a one-thread CPU run used to give the event loop no turn
      expect(Date.now() - killed).toBeLessThan(10_000);
      expect(p.stderr()).toMatch(new RegExp(`ionflux: stopped by ${signal}: nothing was written to '.*sig' \\(what was there before is unchanged\\)`));
      expect(readFileSync(path.join(out, 'summary.json'), 'utf8')).toBe(summary);
      expect({ left: siblings(out), stderr: p.stderr() }).toMatchObject({ left: [] });
    }
  });

  test('after SIGKILL the staging folder and the lock are removed by the next run, which says so', async () => {
    const out = path.join(tmp, 'killed');
    const p = cli.start(['simulate', ...slow, '--out', out]);
    // the staging folder with its owner marker (a folder killed before its marker is written is not
    // provably ionflux's, and is left alone)
    await waitFor(() => existsSync(path.join(tmp, `killed.partial-${p.child.pid}`, '.ionflux-staging')), 60_000, 'the staging folder');
    p.child.kill('SIGKILL');
    await p.exited;
    expect(siblings(out).sort()).toEqual([`killed.ionflux-lock`, `killed.partial-${p.child.pid}`]);
    const r = await runCli(['simulate', ...quick, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`removed a stale lock .* \\(pid ${p.child.pid}\\)`));
    expect(r.stderr).toMatch(new RegExp(`removed 'killed\\.partial-${p.child.pid}', the unfinished output of an interrupted ionflux run`));
    expect(siblings(out)).toEqual([]);
  });

  test('a second run into the same folder is refused while the first runs (exit 2)', async () => {
    const out = path.join(tmp, 'busy');
    const p = cli.start(['simulate', ...slow, '--out', out]);
    await waitFor(() => siblings(out).includes('busy.ionflux-lock'), 60_000, 'the lock');
    const r = await runCli(['simulate', ...quick, '--out', out]);
    p.child.kill('SIGTERM');
    await p.exited;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`--out '.*busy' is in use by another ionflux run \\(pid ${p.child.pid} on `));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('faults of the environment: one line, exit 2 (or 1 for a path the user can fix), checked before the run', () => {
  const one = (stderr: string) => { expect(stderr.trim().split('\n')).toHaveLength(1); expect(stderr).not.toMatch(/internal error|\n\s+at /); };

  test('--out inside /proc is refused at once (it used to spin at 100 % CPU)', () => {
    const r = cli.run(['simulate', ...quick, '--out', '/proc/x']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--out '\/proc\/x' is inside \/proc, a virtual file system/);
    one(r.stderr);
  });

  test('--out below a regular file', async () => {
    const file = path.join(tmp, 'afile');
    writeFileSync(file, 'x');
    const r = await runCli(['simulate', ...quick, '--out', path.join(file, 'sub')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lies below '.*afile', which is a file, not a folder/);
    one(r.stderr);
  });

  test.skipIf(!isRoot)('an immutable --out and an immutable parent (chattr +i; needs root)', async () => {
    const parent = path.join(tmp, 'imm');
    const out = path.join(tmp, 'immout');
    mkdirSync(parent);
    mkdirSync(out);
    execFileSync('chattr', ['+i', parent, out]);
    try {
      const r1 = await runCli(['simulate', ...quick, '--out', path.join(parent, 'r')]);
      expect(r1.code).toBe(2);
      expect(r1.stderr).toMatch(/cannot create the lock file .*operation not permitted .*\(EPERM\)/);
      one(r1.stderr);
      const r2 = await runCli(['simulate', ...quick, '--out', out]);
      expect(r2.code).toBe(2);
      expect(r2.stderr).toMatch(/--out '.*immout' does not take new files: operation not permitted/);
      one(r2.stderr);
    } finally {
      execFileSync('chattr', ['-i', parent, out]);
    }
  });

  describe.skipIf(!isRoot)('a full disk (a 256 KiB tmpfs; needs root)', () => {
    const disk = path.join(tmp, 'disk');
    beforeAll(() => { mkdirSync(disk); execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]); });
    afterAll(() => { execFileSync('umount', [disk]); });

    test('refused before the run when the estimate does not fit', async () => {
      const r = await runCli(['simulate', '--preset', 'fig4a', '--set', 'grid.spacing_um=0.02', '--backend', 'cpu', '--quiet', '--out', path.join(disk, 'big')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/the disk has \d+ KiB free, but this run writes about [\d.]+ (KiB|MiB)/);
      one(r.stderr);
      expect(readdirSync(disk)).toEqual([]);
    });

    test('ENOSPC while writing: one line, nothing left on the disk, an earlier result untouched', async () => {
      const out = path.join(disk, 'r');
      await writeOutputDir(out, async (dir) => { writeFileSync(path.join(dir, 'a.txt'), 'first'); }, { log: () => {} });
      const err = await writeOutputDir(out, async (dir) => { writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc(400 * 1024)); }, { estimatedBytes: 1000, log: () => {} }).catch((e) => e);
      expect(err).toBeInstanceOf(EnvironmentError);
      expect(err.message).toMatch(/no space left on the device \(ENOSPC\) while writing the results; nothing was written to --out '.*' \(what was there before is unchanged\)/);
      expect(readdirSync(disk)).toEqual(['r']);
      expect(readFileSync(path.join(out, 'a.txt'), 'utf8')).toBe('first');
    });
  });

  test('bench --json into a missing folder fails before the benchmark runs', async () => {
    const r = await runCli(['bench', '--quick', '--only', 'diff-map', '--json', path.join(tmp, 'nodir', 'b.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--json '.*b\.json': cannot write into '.*nodir': no such file or folder \(ENOENT\)/);
    one(r.stderr); // nothing else: no machine line, no benchmark
  });

  test('bench --json never overwrites a file it did not write', async () => {
    const f = path.join(tmp, 'mine.json');
    writeFileSync(f, '{"my": "results"}');
    const r = await runCli(['bench', '--quick', '--only', 'diff-map', '--json', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exists and is not an ionflux bench result/);
    expect(readFileSync(f, 'utf8')).toBe('{"my": "results"}');
  });
});

describe('config defaults and messages name the key at fault', () => {
  const cfg = (name: string, c: unknown) => { const f = path.join(tmp, name); writeFileSync(f, JSON.stringify(c)); return f; };
  const protocol = [{ step: 'charge', current_mA_g: 100, duration_min: 1 }];

  test('the documented defaults apply: a particle without a shape is a disk, a disk without a diameter is 2.4 µm', async () => {
    const out = path.join(tmp, 'defaults');
    const r = await runCli(['simulate', '--config', cfg('d.json', { particle: { diameter_um: 1 }, grid: { spacing_um: 0.1 }, protocol }), '--backend', 'cpu', '--quiet', '--out', out]);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')).config.particle).toEqual({ shape: 'disk', diameter_um: 1 });
    const out2 = path.join(tmp, 'defaults2');
    expect((await runCli(['simulate', '--config', cfg('d2.json', { particle: { shape: 'disk' }, grid: { spacing_um: 0.2 }, protocol }), '--backend', 'cpu', '--quiet', '--out', out2])).code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out2, 'summary.json'), 'utf8')).config.particle.diameter_um).toBe(2.4);
  });

  test('a missing protocol is reported as the missing protocol', async () => {
    const r = await runCli(['simulate', '--config', cfg('p.json', { particle: { shape: 'disk' } }), '--quiet', '--out', path.join(tmp, 'np')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ionflux: .*p\.json: protocol is missing: a config needs protocol, a list of steps/);
    expect(r.stderr).not.toMatch(/diameter/);
  });

  test('switching a preset\'s shape with --set names what the new shape needs, and works once given', async () => {
    const r = await runCli(['simulate', '--preset', 'fig4c', '--set', 'particle.shape=ellipse', '--quiet', '--out', path.join(tmp, 'ell')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/particle\.axes_um is missing: an ellipse needs its full axis lengths \[a, b\] in µm, e\.g\. --set particle\.axes_um=\[2\.4,1\.6\]/);
    expect(r.stderr).not.toMatch(/diameter_um/);
    const out = path.join(tmp, 'ell2');
    const r2 = await runCli(['simulate', '--preset', 'fig4c', '--set', 'particle.shape=ellipse', '--set', 'particle.axes_um=[2.4,1.2]', '--set', 'grid.spacing_um=0.1', '--set', 'protocol.0.duration_min=1', '--set', 'snapshots_min=[]', '--backend', 'cpu', '--quiet', '--out', out]);
    expect(r2.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')).config.particle).toEqual({ shape: 'ellipse', axes_um: [2.4, 1.2], angleDeg: 0 });
  });
});

describe('CLI conventions', () => {
  test('--version prints the package version', () => {
    const r = cli.run(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')).version);
  });

  test('each command module loads on demand: --help lists all, a typo gets a suggestion, help NAME its options', () => {
    const all = cli.run(['--help']);
    expect(all.status).toBe(0);
    for (const name of ['simulate', 'analyze', 'synth', 'compare', 'fit', 'sweep', 'bench']) expect(all.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    const typo = cli.run(['simulat', '--preset', 'fig4c']);
    expect(typo.status).toBe(1);
    expect(typo.stderr).toMatch(/unknown command 'simulat'.*Did you mean simulate\?/);
    const help = cli.run(['help', 'analyze']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--drift-threads/);
  });

  test('node options the user gives (a V8 heap limit) do not break the worker threads', () => {
    const out = path.join(tmp, 'heapflag');
    const script = `const { main } = await import(${JSON.stringify('file://' + cli.entry)}); process.exitCode = await main(process.argv.slice(1));`;
    // fig4c's 122² grid steps on two threads; a V8 option in a Worker's execArgv used to fail it
    const r = spawnSync(process.execPath, ['--max-old-space-size=2048', '--input-type=module', '-e', script, '--', 'simulate', '--preset', 'fig4c', '--set', 'protocol.0.duration_min=1', '--set', 'snapshots_min=[]', '--backend', 'cpu', '--quiet', '--out', out], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')).backend).toBe('cpu (wasm SIMD, 2 threads)');
  });

  test('an error message is one line of bounded length, whatever it carries', () => {
    const huge = `bad page directory: ${'0x1f, '.repeat(40_000)}\nsecond line`;
    const line = oneLine(huge);
    expect(line).not.toMatch(/\n/);
    expect(line.length).toBeLessThan(700);
    expect(line).toMatch(/… \(\d+ more characters\)$/);
  });
});

describe('inputs the bad-input catalogue (docs/bad-inputs.md) found accepted or crashing', () => {
  const cfg = (name: string, c: unknown) => { const f = path.join(tmp, name); writeFileSync(f, JSON.stringify(c)); return f; };
  const protocol = [{ step: 'charge', current_mA_g: 100, duration_min: 1 }];

  test('a segment going around more than once, a table θ outside [0, 1], a diffusivity that would take 1e14 steps', async () => {
    const cases: [unknown, RegExp][] = [
      [{ protocol, surface: { segments: [{ fromDeg: 0, toDeg: 720, eta: 0.5 }] } }, /surface\.segments\[0\] spans 720° .*use toDeg − fromDeg in \(0, 360\]/],
      [{ protocol, material: { diffusivity: { table: { theta: [-1, 2], D_m2_s: [1e-14, 1e-15] } } } }, /material\.diffusivity\.table\.theta\[0\] = -1 is not allowed/],
      [{ protocol, material: { diffusivity: { preset: 'constant', D_m2_s: 1e-5 } } }, /reaches D = 1\.00e-5 m²\/s: .* needs 6\.00e\+12 steps \(at most 1e\+10\).*check the diffusivity's unit/],
    ];
    for (const [k, [c, msg]] of cases.entries()) {
      const t0 = Date.now();
      const r = await runCli(['simulate', '--config', cfg(`cat${k}.json`, c), '--backend', 'cpu', '--quiet', '--out', path.join(tmp, `cat${k}`)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(msg);
      expect(Date.now() - t0).toBeLessThan(10_000); // refused, not run
    }
  });

  test('frames too small to hold a particle; a folder mixing 8- and 16-bit frames; a single frame is warned about', async () => {
    const { writeTiffStack } = await import('../../src/io/tiffWrite');
    const tiny = path.join(tmp, 'tiny.tif');
    await writeTiffStack(tiny, [new Uint16Array(9), new Uint16Array(9)], { width: 3, height: 3, sampleType: 'uint16' });
    const r1 = await runCli(['analyze', tiny, '--backend', 'cpu', '--quiet', '--out', path.join(tmp, 'tiny-out')]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/has frames of 3×3 pixels: a movie to analyse needs frames of at least 4×4 pixels/);

    const mixed = path.join(tmp, 'mixed');
    mkdirSync(mixed);
    const frame16 = new Uint16Array(16 * 16).fill(1000);
    await writeTiffStack(path.join(mixed, 'f0.tif'), [frame16], { width: 16, height: 16, sampleType: 'uint16' });
    const { PNG } = await import('pngjs');
    const png = new PNG({ width: 16, height: 16 });
    png.data.fill(200);
    writeFileSync(path.join(mixed, 'f1.png'), PNG.sync.write(png));
    const r2 = await runCli(['analyze', mixed, '--backend', 'cpu', '--quiet', '--out', path.join(tmp, 'mixed-out')]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/frame 1 \(f1\.png\) is a 8-bit colour PNG but frame 0 \(f0\.tif\) is a uint16 TIFF: all frames of a movie must have one sample type/);

    const single = path.join(tmp, 'single.tif');
    await writeSynthMovie(single, { width: 40, height: 40, frames: 1, particles: [{ cx: 20, cy: 20, radius_px: 8 }] }, { pixel_um: 0.1, frame_s: 10 });
    const r3 = await runCli(['analyze', single, '--backend', 'cpu', '--quiet', '--out', path.join(tmp, 'single-out')]);
    expect(r3.code).toBe(0);
    expect(r3.stderr).toMatch(/has only 1 frame: ΔI\/I0 of the reference against itself is 0 everywhere/);
  });

  test('a usage error with a suggestion is one line', () => {
    const r = cli.run(['simulat', '--preset', 'fig4a']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("ionflux: unknown command 'simulat'; (Did you mean simulate?)\n");
  });

  test('a mistyped option is named (with a suggestion) even where it hides a required one', () => {
    const typo = cli.run(['simulate', '--preset', 'fig4c', '--ouT', 'x']);
    expect(typo.status).toBe(1);
    expect(typo.stderr).toBe("ionflux: unknown option '--ouT'; (Did you mean --out?)\n");
    const missing = cli.run(['simulate', '--preset', 'fig4c']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe("ionflux: required option '--out <dir>' not specified\n");
    const fit = cli.run(['fit', '--observed', 'movie.tif', '--out']);
    expect(fit.status).toBe(1);
    expect(fit.stderr).toMatch(/option '--out <DIR>' argument missing/);
  });
});
