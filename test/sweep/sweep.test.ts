/**
 * `runSweep` / `mergeSweeps` in process on the CPU reference: a sweep's run is `simulate` of its
 * config, bit for bit; an interrupted sweep resumes computing only the rest (counted); an extended
 * spec keeps the earlier runs, a changed one is refused; shards merge into the unsharded table;
 * folders that are not the sweep's are never written into.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mergeSweeps, planSweep, runSweep } from '../../src/sweep';
import { buildProblem, CpuSolver, runSimulation } from '../../src/solver';
import { traceCsv } from '../../src/io/simulationOutput';
import { UserError } from '../../src/errors';
import { encodePng } from '../../src/render/png';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-sweep-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// small and quick: a 1 µm disk on a 0.05 µm grid, 3 min of charge
const base = {
  particle: { shape: 'disk', diameter_um: 1.0 },
  grid: { spacing_um: 0.05 },
  protocol: [{ step: 'charge', current_mA_g: 200, duration_min: 3 }],
};
const quarter = (eta: number) => [{ fromDeg: 135, toDeg: 225, eta }];
const rawSpec = (currents: number[]) => ({
  base: { config: base },
  grid: { 'surface.segments': [[], quarter(0.3)], 'protocol.0.current_mA_g': currents },
});
const csvRows = (file: string) => readFileSync(file, 'utf8').trim().split('\n');
/** runs.csv without the wall time and backend, the columns that differ between equal runs */
const table = (dir: string) => csvRows(path.join(dir, 'runs.csv')).map((l) => l.split(',').slice(0, -2).join(','));

function sweepError(f: () => unknown): string {
  try { f(); } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected a UserError');
}

describe('runSweep', () => {
  test("a sweep's run is simulate of its config: same trace, same capacity", async () => {
    const plan = planSweep({ base: { config: base }, runs: [{ 'surface.segments': quarter(0.3) }] }, 'spec');
    const out = path.join(tmp, 'one');
    const r = await runSweep(plan, { out, backend: 'cpu' });
    expect(r.computed).toBe(1);
    const id = plan.runs[0].id;
    const problem = await buildProblem(plan.runs[0].config);
    const direct = await runSimulation(problem, await CpuSolver.create(problem), { keepSnapshots: false });
    expect(readFileSync(path.join(out, 'runs', id, 'trace.csv'), 'utf8')).toBe(traceCsv(direct));
    const summary = JSON.parse(readFileSync(path.join(out, 'runs', id, 'summary.json'), 'utf8'));
    expect(summary.extractedCapacity_mAh_g).toBe(Number(direct.extractedCapacity_mAh_g.toPrecision(9)));
    expect(summary.sweep.id).toBe(id);
    const row = csvRows(path.join(out, 'runs.csv'))[1].split(',');
    expect(row[0]).toBe(id);
    expect(Number(row[row.length - 6])).toBeCloseTo(direct.extractedCapacity_mAh_g, 6);
    // max COM offset from the trace
    const maxOff = Math.max(...direct.trace.map((m) => m.comOffset_um ?? 0));
    expect(summary.sweep.metrics.maxComOffset_um).toBeCloseTo(maxOff, 12);
    expect(JSON.parse(readFileSync(path.join(out, 'runs.jsonl'), 'utf8').trim()).id).toBe(id);
  });

  test('interrupted after k runs, the same sweep computes only the rest', async () => {
    const plan = planSweep(rawSpec([100, 200, 400]), 'spec');
    const out = path.join(tmp, 'resume');
    const stop = new AbortController();
    let seen = 0;
    const first = await runSweep(plan, { out, backend: 'cpu', signal: stop.signal, onProgress: () => { if (++seen === 2) stop.abort(); } });
    expect(first.computed).toBe(2);
    expect(first.stopped).toBe(true);
    expect(csvRows(path.join(out, 'runs.csv'))).toHaveLength(1 + 2);
    const finished = readdirSync(path.join(out, 'runs')).filter((n) => !n.startsWith('.'));
    const mtimes = finished.map((n) => statSync(path.join(out, 'runs', n, 'summary.json')).mtimeMs);
    const second = await runSweep(plan, { out, backend: 'cpu' });
    expect(second.resumed).toBe(2);
    expect(second.computed).toBe(4);
    expect(second.stopped).toBe(false);
    // the finished runs were not touched
    expect(finished.map((n) => statSync(path.join(out, 'runs', n, 'summary.json')).mtimeMs)).toEqual(mtimes);
    const rows = table(out);
    expect(rows).toHaveLength(1 + 6);
    expect(rows.slice(1).map((l) => l.split(',')[0])).toEqual(plan.runs.map((r) => r.id));
    const third = await runSweep(plan, { out, backend: 'cpu' });
    expect(third.computed).toBe(0);

    // extended by one rate: only its runs are computed; a spec that drops runs is refused
    const wider = planSweep(rawSpec([100, 200, 400, 800]), 'spec');
    const log: string[] = [];
    const ext = await runSweep(wider, { out, backend: 'cpu', log: (l) => log.push(l) });
    expect([ext.resumed, ext.computed]).toEqual([6, 2]);
    expect(log.join('\n')).toMatch(/extended: 2 new run\(s\), the 6 earlier ones are kept/);
    const narrower = planSweep(rawSpec([100]), 'spec');
    await expect(runSweep(narrower, { out, backend: 'cpu' })).rejects.toThrow(/holds a sweep of another spec: 6 of its 8 runs are not in this one/);
    expect(table(out)).toHaveLength(1 + 8);
  });

  test('physics: the same charge passes blocked or not, and a blocked quarter moves the core off centre', async () => {
    const plan = planSweep(rawSpec([100, 400]), 'spec');
    const r = await runSweep(plan, { out: path.join(tmp, 'trend'), backend: 'cpu' });
    const cap = new Map(r.records.map((x) => [JSON.stringify(x.values), x]));
    const get = (segs: unknown, i: number) => cap.get(JSON.stringify({ 'surface.segments': segs, 'protocol.0.current_mA_g': i }))!;
    // same current and time: the same charge passed, blocked or not (conservation)
    expect(get(quarter(0.3), 100).extractedCapacity_mAh_g).toBeCloseTo(get([], 100).extractedCapacity_mAh_g, 4);
    // a blocked quarter pushes the core off centre
    expect(get(quarter(0.3), 400).maxComOffset_um!).toBeGreaterThan(5 * (get([], 400).maxComOffset_um ?? 0) + 0.02);
    expect(get([], 400).extractedCapacity_mAh_g).toBeGreaterThan(3.9 * get([], 100).extractedCapacity_mAh_g);
  });
});

describe('mergeSweeps', () => {
  test('3 shards merge into exactly the unsharded table', async () => {
    const spec = rawSpec([100, 200, 400]);
    const whole = path.join(tmp, 'whole');
    await runSweep(planSweep(spec, 'spec'), { out: whole, backend: 'cpu' });
    const shards = [0, 1, 2].map((i) => path.join(tmp, 'shards', `shard-${i}`));
    const plans = [0, 1, 2].map((i) => planSweep(spec, 'spec', { index: i, count: 3 }));
    expect(plans.reduce((a, p) => a + p.mine.length, 0)).toBe(6);
    for (const [i, d] of shards.entries()) await runSweep(plans[i], { out: d, backend: 'cpu' });
    const k = plans.findIndex((p) => p.mine.length > 0);
    expect(() => mergeSweeps(shards.filter((_, i) => i !== k), path.join(tmp, 'merged')))
      .toThrow(new RegExp(`${plans[k].mine.length} of 6 runs are not finished in the folders given: shard ${k} of 3 \\(folder of shard ${k} not given\\)`));
    expect(existsSync(path.join(tmp, 'merged'))).toBe(false);
    const m = mergeSweeps(shards, path.join(tmp, 'merged'));
    expect(m.total).toBe(6);
    expect(table(path.join(tmp, 'merged'))).toEqual(table(whole));
    expect(readFileSync(path.join(tmp, 'merged', 'runs.jsonl'), 'utf8').split('\n').length).toBe(7);
    // another sweep's folder is refused
    const other = path.join(tmp, 'other');
    await runSweep(planSweep({ base: { config: base }, runs: [{ 'protocol.0.current_mA_g': 50 }] }, 'spec'), { out: other, backend: 'cpu' });
    expect(sweepError(() => mergeSweeps([shards[0], other], path.join(tmp, 'merged2')))).toMatch(/is from another sweep than/);
  });
});

describe('output folders', () => {
  test("resuming keeps the user's files: notes untouched, an annotated runs.csv kept beside the new one", async () => {
    const out = path.join(tmp, 'annotated');
    await runSweep(planSweep(rawSpec([100]), 'spec'), { out, backend: 'cpu' });
    writeFileSync(path.join(out, 'notes.txt'), 'my notes');
    writeFileSync(path.join(out, 'runs.csv'), 'my annotated table');
    const log: string[] = [];
    const r = await runSweep(planSweep(rawSpec([100, 200]), 'spec'), { out, backend: 'cpu', log: (l) => log.push(l) });
    expect([r.resumed, r.computed]).toEqual([2, 2]);
    expect(readFileSync(path.join(out, 'notes.txt'), 'utf8')).toBe('my notes');
    const kept = readdirSync(out).filter((n) => n.startsWith('runs.csv.yours-'));
    expect(kept).toHaveLength(1);
    expect(readFileSync(path.join(out, kept[0]), 'utf8')).toBe('my annotated table');
    expect(table(out)).toHaveLength(1 + 4);
    expect(log.join('\n')).toMatch(/'runs.csv' was changed since this sweep wrote it: kept as 'runs.csv.yours-/);
    // what the sweep itself wrote is replaced quietly
    await runSweep(planSweep(rawSpec([100, 200]), 'spec'), { out, backend: 'cpu', log: (l) => log.push(l) });
    expect(readdirSync(out).filter((n) => n.startsWith('runs.csv.yours-'))).toHaveLength(1);
  });

  test("a folder that is not the sweep's is never written into", async () => {
    const plan = planSweep({ base: { config: base }, runs: [{ 'protocol.0.current_mA_g': 50 }] }, 'spec');
    const mine = path.join(tmp, 'notes');
    mkdirSync(mine);
    writeFileSync(path.join(mine, 'notes.txt'), 'my notes');
    await expect(runSweep(plan, { out: mine, backend: 'cpu' })).rejects.toThrow(/is not empty and holds no sweep.json \(notes.txt\)/);
    expect(readdirSync(mine)).toEqual(['notes.txt']);
    writeFileSync(path.join(tmp, 'file.txt'), 'x');
    await expect(runSweep(plan, { out: path.join(tmp, 'file.txt'), backend: 'cpu' })).rejects.toThrow(/is a file, not a folder/);
    // a shard's folder is not the whole sweep's
    const shardDir = path.join(tmp, 'shard-x');
    await runSweep(planSweep(rawSpec([100]), 'spec', { index: 0, count: 2 }), { out: shardDir, backend: 'cpu' });
    await expect(runSweep(planSweep(rawSpec([100]), 'spec'), { out: shardDir, backend: 'cpu' })).rejects.toThrow(/holds shard 0 of 2; this is the whole sweep/);
  });

  test('a mask file read by the runs is part of their ids: a mask edited between two sweeps into one folder finds none finished', async () => {
    const dir = path.join(tmp, 'masked');
    mkdirSync(dir);
    // a disk of radius r px on a 30×30 image, 0.05 µm pixels
    const writeMask = (r: number) => {
      const w = 30, data = new Uint8Array(w * w * 4);
      for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) {
        const k = 4 * (y * w + x), on = (x - 14.5) ** 2 + (y - 14.5) ** 2 <= r * r ? 255 : 0;
        data[k] = data[k + 1] = data[k + 2] = on; data[k + 3] = 255;
      }
      writeFileSync(path.join(dir, 'mask.png'), encodePng({ width: w, height: w, rgba: data }));
    };
    const spec = { base: { config: { ...base, particle: { shape: 'mask', file: 'mask.png', pixel_um: 0.05 } } }, grid: { 'protocol.0.current_mA_g': [100, 200] } };
    writeMask(10);
    const first = planSweep(spec, 'spec', undefined, dir);
    const out = path.join(tmp, 'masked-out');
    expect((await runSweep(first, { out, backend: 'cpu', baseDir: dir })).computed).toBe(2);
    // the same file again: the same ids, nothing to compute
    expect(planSweep(spec, 'spec', undefined, dir).runs.map((r) => r.id)).toEqual(first.runs.map((r) => r.id));
    writeMask(6);
    const edited = planSweep(spec, 'spec', undefined, dir);
    expect(edited.runs.map((r) => r.id).some((id) => first.runs.some((f) => f.id === id))).toBe(false);
    await expect(runSweep(edited, { out, backend: 'cpu', baseDir: dir })).rejects.toThrow(/holds a sweep of another spec: 2 of its 2 runs are not in this one .*a mask file's contents are part of its runs' ids/);
  });

  test('outputs the finished runs did not write are refused, not silently missing; other changes are named', async () => {
    const out = path.join(tmp, 'outputs');
    const spec = rawSpec([100]);
    await runSweep(planSweep(spec, 'spec'), { out, backend: 'cpu' });
    const withSnaps = { ...spec, outputs: { snapshots: true } };
    await expect(runSweep(planSweep(withSnaps, 'spec'), { out, backend: 'cpu' })).rejects.toThrow(/runs were computed without outputs\.snapshots, which this spec asks for: .* use a new --out/);
    const log: string[] = [];
    const renamed = await runSweep(planSweep({ ...spec, name: 'renamed' }, 'spec'), { out, backend: 'cpu', log: (l) => log.push(l) });
    expect(renamed.computed).toBe(0);
    expect(log.join('\n')).toMatch(/the spec of '.*outputs' changed \(name\) but holds the same 2 runs: they are kept/);
    const reversed = { ...spec, grid: { 'surface.segments': [quarter(0.3), []], 'protocol.0.current_mA_g': [100] } };
    await runSweep(planSweep(reversed, 'spec'), { out, backend: 'cpu', log: (l) => log.push(l) });
    expect(log.join('\n')).toMatch(/changed \(the order of its runs, name\) but holds the same 2 runs/); // (the folder held the renamed spec)
  });
});

