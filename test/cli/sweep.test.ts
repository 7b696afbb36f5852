/**
 * `ionflux sweep` as a real process (the built bundle, so that the CPU pool's threads can load it):
 * the pool runs on both cores; SIGTERM mid-sweep keeps the finished runs and exits 143, and the
 * same command then computes only the rest; --dry-run lists the runs and writes nothing; bad input
 * is one line with exit 1.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildCli, waitFor, type BuiltCli } from '../helpers/builtCli';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-sweep-cli-'));
let cli: BuiltCli;
beforeAll(() => { cli = buildCli('sweep'); });
afterAll(() => { cli?.remove(); rmSync(tmp, { recursive: true, force: true }); });

const base = { particle: { shape: 'disk', diameter_um: 1.2 }, grid: { spacing_um: 0.03 }, protocol: [{ step: 'charge', current_mA_g: 200, duration_min: 20 }] };
function specFile(name: string, currents: number[]): string {
  const file = path.join(tmp, name);
  writeFileSync(file, JSON.stringify({ base: { config: base }, grid: { 'surface.segments': [[], [{ fromDeg: 135, toDeg: 225, eta: 0.3 }]], 'protocol.0.current_mA_g': currents } }));
  return file;
}
const finishedRuns = (out: string) => (existsSync(path.join(out, 'runs')) ? readdirSync(path.join(out, 'runs')).filter((n) => !n.startsWith('.') && existsSync(path.join(out, 'runs', n, 'summary.json'))) : []);

describe('ionflux sweep (process)', () => {
  test('the CPU pool uses two threads; the table has every run in sweep order', () => {
    const out = path.join(tmp, 'pool');
    const r = cli.run(['sweep', '--spec', specFile('pool.json', [100, 200]), '--backend', 'cpu', '--jobs', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/4 run\(s\) computed on cpu .*2 threads over runs/);
    const rows = readFileSync(path.join(out, 'runs.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('id,surface.segments,protocol.0.current_mA_g,stopReason,time_s,extractedCapacity_mAh_g,maxComOffset_um,maxComOffsetRel,coreVanish_s,wallTime_s,backend');
    expect(rows).toHaveLength(5);
    expect(rows.slice(1).map((l) => l.split(',').at(-1))).toEqual(Array(4).fill('cpu (wasm SIMD)'));
  });

  test('SIGTERM keeps the finished runs (exit 143); the same command computes only the rest', async () => {
    const spec = specFile('long.json', [100, 150, 200, 250, 300, 350]);
    const out = path.join(tmp, 'stopped');
    const p = cli.start(['sweep', '--spec', spec, '--backend', 'cpu', '--jobs', '1', '--out', out]);
    await waitFor(() => finishedRuns(out).length >= 2, 60_000, 'two finished runs');
    p.child.kill('SIGTERM');
    const exit = await p.exited;
    expect(exit.code, p.stderr()).toBe(143);
    expect(p.stderr()).toMatch(/stopped by SIGTERM: \d+ of 12 runs are finished in .* and kept; the same command resumes the rest/);
    const done = finishedRuns(out);
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(done.length).toBeLessThan(12);
    // nothing half-written: no partial run folder, no lock
    expect(readdirSync(path.join(out, 'runs')).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(existsSync(`${out}.ionflux-lock`)).toBe(false);
    const rowsBefore = readFileSync(path.join(out, 'runs.csv'), 'utf8').trim().split('\n').length - 1;
    expect(rowsBefore).toBe(done.length);
    const mtimes = done.map((id) => statSync(path.join(out, 'runs', id, 'summary.json')).mtimeMs);
    const again = cli.run(['sweep', '--spec', spec, '--backend', 'cpu', '--out', out]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain(`${12 - done.length} run(s) computed, ${done.length} already finished`);
    expect(done.map((id) => statSync(path.join(out, 'runs', id, 'summary.json')).mtimeMs)).toEqual(mtimes);
    expect(readFileSync(path.join(out, 'runs.csv'), 'utf8').trim().split('\n')).toHaveLength(13);
  });

  test('--dry-run lists the runs with their work and writes nothing', () => {
    const out = path.join(tmp, 'dry');
    const r = cli.run(['sweep', '--spec', specFile('dry.json', [100, 200, 400]), '--dry-run', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0].split('\t')).toEqual(['id', 'surface.segments', 'protocol.0.current_mA_g', 'grid', 'cells', 'steps', 'cells×steps', 'status']);
    expect(lines).toHaveLength(7);
    expect(lines[1]).toMatch(/^[0-9a-f]{12}\t\[\]\t100\t42×42\t\d+\t\d+\t[\d.e+]+\tto run$/);
    expect(r.stderr).toMatch(/6 runs; 6 to run, about [\d.e+]+ cell-updates .*nothing was run/);
    expect(existsSync(out)).toBe(false);
  });

  test('a folder of another spec: refused alike with and without --dry-run; the advice, --spec DIR/sweep.json, resumes it', () => {
    const out = path.join(tmp, 'advice');
    const spec = path.join(tmp, 'advice.json');
    writeFileSync(spec, JSON.stringify({ base: { config: { ...base, protocol: [{ step: 'charge', current_mA_g: 200, duration_min: 1 }] } }, grid: { 'protocol.0.current_mA_g': [100, 200] } }));
    expect(cli.run(['sweep', '--spec', spec, '--backend', 'cpu', '--out', out]).status).toBe(0);
    const narrower = path.join(tmp, 'advice-narrower.json');
    writeFileSync(narrower, JSON.stringify({ base: { config: { ...base, protocol: [{ step: 'charge', current_mA_g: 200, duration_min: 1 }] } }, grid: { 'protocol.0.current_mA_g': [100] } }));
    const real = cli.run(['sweep', '--spec', narrower, '--backend', 'cpu', '--out', out]);
    const dry = cli.run(['sweep', '--spec', narrower, '--dry-run', '--out', out]);
    for (const r of [real, dry]) {
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/holds a sweep of another spec: 1 of its 2 runs are not in this one .*resume with the spec it was made with: --spec '.*advice\/sweep\.json'/);
    }
    // a folder of the user's files: refused by --dry-run too
    const mine = path.join(tmp, 'advice-mine');
    mkdirSync(mine);
    writeFileSync(path.join(mine, 'notes.txt'), 'mine');
    const dryMine = cli.run(['sweep', '--spec', spec, '--dry-run', '--out', mine]);
    expect(dryMine.status, dryMine.stderr).toBe(1);
    expect(dryMine.stderr).toMatch(/is not empty and holds no sweep\.json \(notes\.txt\)/);
    const resumed = cli.run(['sweep', '--spec', path.join(out, 'sweep.json'), '--backend', 'cpu', '--out', out]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/the spec of that sweep\): 2 runs/);
    expect(resumed.stderr).toMatch(/all 2 runs were already finished/);
  });

  test('bad input: one line, exit 1', () => {
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ base: { preset: 'fig4a' }, grid: { 'protocol.0.current_mA_g': [100, 0] } }));
    const mask = path.join(tmp, 'mask.json');
    writeFileSync(mask, JSON.stringify({ base: { config: { ...base, particle: { shape: 'mask', file: 'gone.png', pixel_um: 0.05 } } }, grid: { 'protocol.0.current_mA_g': [100, 200] } }));
    const cases: [string[], RegExp][] = [
      [['sweep', '--spec', mask, '--backend', 'cpu', '--out', path.join(tmp, 'x')], /run 0 [0-9a-f]{12} \(protocol.0.current_mA_g = 100\): particle.file = 'gone.png' cannot be read/],
      [['sweep', '--spec', bad, '--out', path.join(tmp, 'x')], /run 1 \(protocol.0.current_mA_g = 0\): protocol\[0\].current_mA_g = 0 is not allowed/],
      [['sweep', '--preset', 'fig5c', '--out', path.join(tmp, 'x')], /--preset 'fig5c' is not allowed: the built-in sweeps are fig5b/],
      [['sweep', '--preset', 'fig5b', '--shard-index', '4', '--shard-count', '4', '--out', path.join(tmp, 'x')], /--shard-index = 4 is out of range/],
      [['sweep', '--preset', 'fig5b', '--jobs', '0', '--out', path.join(tmp, 'x')], /--jobs = '0' is not allowed/],
      [['sweep', '--preset', 'fig5b', '--steps-per-dispatch', '9', '--out', path.join(tmp, 'x')], /--steps-per-dispatch = '9' is not allowed: use a whole number from 1 to 8/],
      [['sweep', '--preset', 'fig5b'], /give --out DIR/],
      [['sweep', 'merge', path.join(tmp, 'nowhere'), '--out', path.join(tmp, 'm')], /sweep merge: '.*nowhere' does not exist/],
    ];
    for (const [args, pattern] of cases) {
      const r = cli.run(args);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(pattern);
    }
    expect(existsSync(path.join(tmp, 'x'))).toBe(false);
  });
});
