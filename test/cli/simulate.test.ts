/**
 * `ionflux simulate` end to end, in process: the files of SPEC §5, and bad input rejected with one
 * clear line and a non-zero exit code, leaving nothing behind in the output folder.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { runCli } from '../helpers/cli';
import { decodeNpy } from '../../src/io/npy';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-sim-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = runCli;

function writeConfig(name: string, config: unknown): string {
  const file = path.join(tmp, name);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}

const small = {
  particle: { shape: 'disk', diameter_um: 1.0 },
  grid: { spacing_um: 0.04 },
  surface: { segments: [{ fromDeg: 135, toDeg: 225, eta: 0.3 }] },
  protocol: [{ step: 'charge', current_mA_g: 200, duration_min: 2 }, { step: 'rest', duration_min: 1 }],
  snapshots_min: [1, 2],
};

describe('simulate writes SPEC §5 files', () => {
  test('summary.json, trace.csv, .npy fields and PNG snapshots', async () => {
    const out = path.join(tmp, 'ok');
    const r = await run(['simulate', '--config', writeConfig('ok.json', small), '--set', 'output.traceInterval_s=15', '--backend', 'cpu', '--out', out]);
    expect(r.code).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual(['.ionflux-output', 'index.html', 'summary.json', 'theta_0060s.npy', 'theta_0060s.png', 'theta_0120s.npy', 'theta_0120s.png', 'theta_0180s.npy', 'theta_0180s.png', 'trace.csv', 'trace.png']);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.stopReason).toBe('protocol-end');
    expect(summary.time_s).toBe(180);
    expect(summary.extractedCapacity_mAh_g).toBeCloseTo(200 * 2 / 60, 4);
    expect(summary.backend).toMatch(/^cpu/);
    expect(summary.conservation.ok).toBe(true);
    expect(summary.conservation.relativeError).toBeLessThan(1e-5);
    expect(summary.conservation.extracted_mAh_g).toBeCloseTo(summary.conservation.applied_mAh_g, 6);
    expect(summary.grid).toMatchObject({ nx: 27, ny: 27, spacing_um: 0.04 });
    expect(summary.config.output.traceInterval_s).toBe(15);
    expect(summary.config.material.diffusivity.preset).toBe('knee'); // defaults are written back
    expect(summary.snapshots.map((s: { field: string }) => s.field)).toEqual(['theta_0060s.npy', 'theta_0120s.npy', 'theta_0180s.npy']);
    expect(summary.snapshots[2].final).toBe(true);
    for (const k of ['time_s', 'meanTheta', 'minSurfaceTheta', 'comOffset_um', 'comOffsetRel', 'unreactedFraction', 'image']) expect(summary.snapshots[0]).toHaveProperty(k);
    const trace = readFileSync(path.join(out, 'trace.csv'), 'utf8').trim().split('\n');
    expect(trace[0]).toBe('time_s,capacity_mAh_g,meanTheta,minSurfaceTheta,comOffset_um,unreactedFraction,maxSurfaceTheta');
    expect(trace.length).toBe(1 + 13); // t = 0, 15, …, 180
    const npy = decodeNpy(readFileSync(path.join(out, 'theta_0120s.npy')));
    expect(npy.shape).toEqual([27, 27]);
    expect(Number.isNaN(npy.data[0])).toBe(true); // corner: outside
    const mid = npy.data[13 * 27 + 13];
    expect(mid).toBeGreaterThan(0.9); expect(mid).toBeLessThanOrEqual(1);
    const png = PNG.sync.read(readFileSync(path.join(out, 'theta_0120s.png')));
    expect(png.width).toBeGreaterThan(200);
    expect(readdirSync(tmp).filter((f) => f.includes('.partial-'))).toEqual([]);
    // index.html shows every PNG and links only files that exist
    const html = readFileSync(path.join(out, 'index.html'), 'utf8');
    for (const f of files.filter((f) => f.endsWith('.png'))) expect(html).toContain(`<img src="${f}"`);
    for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) expect(existsSync(path.join(out, decodeURIComponent(m[1])))).toBe(true);
    expect(html).toContain('<h1>ionflux simulate: ok</h1>'); // run name = config file stem
  });

  test.each([
    ['0.9,0.5', /^ionflux: .*--theta-range = '0\.9,0\.5' is not allowed: use LO,HI with 0 ≤ LO < HI ≤ 1/],
    ['0.5', /--theta-range = '0\.5' is not allowed/],
    ['-0.1,1', /--theta-range = '-0\.1,1' is not allowed/],
    ['0.2,1.5', /--theta-range = '0\.2,1\.5' is not allowed/],
    ['a,1', /--theta-range = 'a,1' is not allowed/],
  ])('--theta-range %s is refused in one line', async (value, message) => {
    const out = path.join(tmp, 'range-bad');
    const r = await run(['simulate', '--preset', 'fig4a', '--theta-range', value, '--backend', 'cpu', '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  test('--preset with --set, on the GPU backend (software adapter in CI)', async () => {
    const out = path.join(tmp, 'preset');
    const r = await run(['simulate', '--preset', 'fig4d', '--set', 'grid.spacing_um=0.06', '--set', 'protocol.0.duration_min=3', '--set', 'snapshots_min=[3]', '--backend', 'gpu', '--out', out, '--quiet']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.backend).toMatch(/^gpu/);
    expect(summary.config.surface.segments).toEqual([{ fromDeg: 90, toDeg: 270, eta: 0.3 }]);
    expect(summary.snapshots[0].comOffsetVector_um[0]).toBeLessThan(0);
  });

  test('--steps-per-dispatch 3 (temporal blocking on the GPU): the same trace and fields as one step per dispatch', async () => {
    const args = ['simulate', '--preset', 'fig4d', '--set', 'grid.spacing_um=0.06', '--set', 'protocol.0.duration_min=3', '--set', 'snapshots_min=[3]', '--backend', 'gpu', '--quiet'];
    const one = path.join(tmp, 'blocked-1'), three = path.join(tmp, 'blocked-3');
    expect((await run([...args, '--out', one])).code).toBe(0);
    expect((await run([...args, '--steps-per-dispatch', '3', '--out', three])).code).toBe(0);
    const summary = JSON.parse(readFileSync(path.join(three, 'summary.json'), 'utf8'));
    expect(summary.backend).toMatch(/^gpu .*3 steps per dispatch\)$/);
    expect(summary.steps).toBe(JSON.parse(readFileSync(path.join(one, 'summary.json'), 'utf8')).steps);
    const files = readdirSync(one).filter((f) => f.endsWith('.csv') || f.endsWith('.npy'));
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect(readFileSync(path.join(three, f)).equals(readFileSync(path.join(one, f))), f).toBe(true);
  });
});

describe('bad input: one line, non-zero exit, nothing written', () => {
  const cases: [string, unknown, RegExp, string[]?][] = [
    ['malformed JSON', '{ "particle": { "shape": "disk", ', /is not valid JSON/],
    ['unknown key', { ...small, particle: { shape: 'disk', diameter_um: 1, colour: 'red' } }, /unknown key 'particle\.colour'/],
    ['negative value', { ...small, particle: { shape: 'disk', diameter_um: -1 } }, /particle\.diameter_um = -1 is not allowed/],
    ['NaN value', small, /grid\.spacing_um = "NaN" is not allowed/, ['--set', 'grid.spacing_um=NaN']],
    ['η outside [0, 1]', { ...small, surface: { segments: [{ fromDeg: 0, toDeg: 90, eta: 1.5 }] } }, /surface\.segments\[0\]\.eta = 1\.5 is not allowed/],
    ['η = 0 on the whole surface', { ...small, surface: { segments: [{ fromDeg: 0, toDeg: 360, eta: 0 }] } }, /η = 0 on the whole surface/],
    ['overlapping segments', { ...small, surface: { segments: [{ fromDeg: 0, toDeg: 90, eta: 0.5 }, { fromDeg: 80, toDeg: 120, eta: 0.5 }] } }, /overlaps surface\.segments\[0\]/],
    ['charge without current', { ...small, protocol: [{ step: 'charge', duration_min: 1 }] }, /protocol\[0\]\.current_mA_g is missing/],
    ['unknown shape', { ...small, particle: { shape: 'cube', side_um: 1 } }, /particle\.shape = "cube" is not allowed/],
    ['unknown preset diffusivity', { ...small, material: { diffusivity: { preset: 'fast' } } }, /material\.diffusivity = .* is not allowed/],
    ['mask file missing', { ...small, particle: { shape: 'mask', file: 'nope.png', pixel_um: 0.05 } }, /particle\.file = 'nope\.png' cannot be read: no such file or folder \(ENOENT\)/],
    ['mask file empty', { ...small, particle: { shape: 'mask', file: 'empty.png', pixel_um: 0.05 } }, /particle\.file = 'empty\.png' has no nonzero pixels/],
    ['mask file not an image', { ...small, particle: { shape: 'mask', file: 'ok.json', pixel_um: 0.05 } }, /particle\.file = 'ok\.json' is not a PNG or TIFF image/],
    ['grid too large', small, /at most .* cells are allowed/, ['--set', 'grid.spacing_um=0.00005']],
    ['bad backend', small, /--backend = 'tpu' is not allowed: use one of auto, gpu, cpu/, ['--backend', 'tpu']],
    ['steps per dispatch above 8', small, /--steps-per-dispatch = '9' is not allowed: use a whole number from 1 to 8/, ['--steps-per-dispatch', '9']],
    ['steps per dispatch not whole', small, /--steps-per-dispatch = '2\.5' is not allowed/, ['--steps-per-dispatch', '2.5']],
    ['steps per dispatch in hex', small, /--steps-per-dispatch = '0x4' is not allowed/, ['--steps-per-dispatch', '0x4']],
    ['--set into __proto__', small, /--set '__proto__\.x=5' is not allowed: '__proto__' is not a config key/, ['--set', '__proto__.x=5']],
    ['self-intersecting polygon', { ...small, particle: { shape: 'polygon', vertices_um: [[0, 0], [3, 0], [3, 2], [1, -1], [0, 2]] } }, /particle\.vertices_um is self-intersecting/],
    ['snapshots in the same second', { ...small, snapshots_min: [0, 0.005] }, /both fall on 0 s/],
    ['diffusivity in the wrong unit', { ...small, material: { diffusivity: { preset: 'constant', D_m2_s: 1e-3 } } }, /material\.diffusivity\.D_m2_s = 0\.001 is not allowed: expected number to be <=0\.00001/],
    ['camera pixel far too small', small, /optics\.pixel_um = 0\.0001 gives a .* camera image/, ['--set', 'optics.pixel_um=0.0001']],
    // issue 6 item 4: a current the particle cannot carry (GPU by auto, and the CPU reference)
    ['charge at 1e12 mA/g', { ...small, protocol: [{ step: 'charge', current_mA_g: 1e12, duration_min: 1 }] }, /^ionflux: protocol\[0\]\.current_mA_g = 1000000000000 is more than diffusion can bring to the particle surface: the charge step would take the surface to θ = .* \(below 0\) at t = 0 s; at most about [\d.e+]+ mA\/g on this grid/],
    ['charge at 1e12 mA/g on the CPU', { ...small, protocol: [{ step: 'charge', current_mA_g: 1e12, duration_min: 1 }] }, /^ionflux: protocol\[0\]\.current_mA_g = 1000000000000 is more than diffusion can bring/, ['--backend', 'cpu']],
    ['discharge at 1e12 mA/g', { ...small, initialTheta: 0.5, protocol: [{ step: 'discharge', current_mA_g: 1e12, duration_min: 1 }] }, /^ionflux: protocol\[0\]\.current_mA_g = 1000000000000 is more than diffusion can carry away from the particle surface/, ['--backend', 'cpu']],
    ['start below the charge cut-off', { ...small, initialTheta: 0.1 }, /^ionflux: initialTheta = 0\.1 is at or below cutoff\.surfaceTheta = 0\.2: the first charge step \(protocol\[0\]\) would stop at once/],
  ];
  const empty = new PNG({ width: 8, height: 8 });
  empty.data.fill(0);
  writeFileSync(path.join(tmp, 'empty.png'), PNG.sync.write(empty));
  writeFileSync(path.join(tmp, 'ok.json'), JSON.stringify(small));

  test.each(cases)('%s', async (name, config, message, extra = []) => {
    const out = path.join(tmp, `bad-${name.replace(/\W+/g, '-')}`);
    const r = await run(['simulate', '--config', writeConfig(`${name.replace(/\W+/g, '-')}.json`, config), ...extra, '--out', out, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ionflux: /);
    expect(existsSync(out)).toBe(false);
  });

  test('a grid too large for the adapter is refused before anything is written', async () => {
    const out = path.join(tmp, 'bad-adapter');
    // 2.4 µm at 0.0004 µm: 6002² cells, 137 MiB per buffer: above lavapipe's 128 MiB binding limit
    const r = await run(['simulate', '--preset', 'fig4a', '--set', 'grid.spacing_um=0.0004', '--backend', 'gpu', '--out', out, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/grid\.spacing_um = 0\.0004 gives a 6002×6002 grid .* allows at most/);
    expect(existsSync(out)).toBe(false);
  });

  test('a folder with other files is never replaced, nor a file', async () => {
    const user = path.join(tmp, 'user-data');
    mkdirSync(path.join(user, 'sub'), { recursive: true });
    writeFileSync(path.join(user, 'notes.txt'), 'precious');
    const r = await run(['simulate', '--config', writeConfig('ok3.json', small), '--backend', 'cpu', '--out', user, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--out '.*user-data' is a folder with other files \(notes\.txt, sub\)/);
    expect(readFileSync(path.join(user, 'notes.txt'), 'utf8')).toBe('precious');
    const r2 = await run(['simulate', '--config', writeConfig('ok4.json', small), '--backend', 'cpu', '--out', path.join(user, 'notes.txt'), '--quiet']);
    expect(r2.stderr).toMatch(/is an existing file/);
    expect(readdirSync(tmp).filter((f) => f.includes('.partial-'))).toEqual([]);
  });

  test('an existing result is kept when a new run fails', async () => {
    const out = path.join(tmp, 'ok');
    const before = readFileSync(path.join(out, 'summary.json'), 'utf8');
    const r = await run(['simulate', '--config', writeConfig('bad2.json', { ...small, initialTheta: 2 }), '--out', out, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/initialTheta = 2 is not allowed/);
    expect(readFileSync(path.join(out, 'summary.json'), 'utf8')).toBe(before);
  });
});
