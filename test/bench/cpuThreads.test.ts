/**
 * The `cpu threads` bench case, --quick: a one-thread and a two-thread row per spacing, with the
 * two-thread solver really on two threads and its ratio to the one-thread row; then the rows with
 * the other cores kept busy, whose busy-loop processes are gone when the case returns; at 0.02 µm
 * and busy, the two-thread solver whose pacer probes one thread too.
 */
import { spawnSync } from 'node:child_process';
import { expect, test } from 'vitest';
import { solverCases } from '../../bench/cases/solver';

test('cpu threads: µs per step on 1 and 2 threads at three spacings', async () => {
  const c = solverCases.find((k) => k.name === 'cpu threads');
  if (!c) throw new Error('no bench case "cpu threads"');
  const rows = await c.run({ gpu: null, quick: true, log: () => {}, numpy: () => null });
  expect(rows.map((r) => r.id)).toEqual([
    ...['0.03', '0.02', '0.01'].flatMap((h) => [`cputhreads-${h}-1`, `cputhreads-${h}-2`, ...(h === '0.02' ? [`cputhreads-${h}-2probe`] : [])]),
    'cputhreads-busy-1', 'cputhreads-busy-2', 'cputhreads-busy-2always', 'cputhreads-busy-2probe',
  ]);
  for (const r of rows) {
    expect(Number.isFinite(r.value) && r.value > 0, r.id).toBe(true);
    expect(r.unit).toBe('µs');
  }
  for (const r of rows.filter((k) => /-2(always)?$/.test(k.id))) expect(r.ratioTo).toEqual([r.id.replace(/-2(always)?$/, '-1')]);
  for (const r of rows.filter((k) => k.id.endsWith('-2'))) expect(r.note).toMatch(/2 threads/);
  // the probing pacer's rows say what it did
  for (const r of rows.filter((k) => k.id.endsWith('-2probe'))) expect(r.note).toMatch(/probe of one thread every 1 s .*: \d+ probe steps, \d+ steps in \d+ spells; last timed/);
  // with the other cores busy: the share of steps on one thread is stated, and the busy loops are gone after
  const busy = rows.find((r) => r.id === 'cputhreads-busy-2');
  expect(busy?.size).toMatch(/cores busy/);
  expect(busy?.note).toMatch(/\d+ % of its steps on one thread/);
  const loops = spawnSync('pgrep', ['-f', 'process.ppid, end = Date.now']);
  expect(loops.stdout.toString().trim(), 'busy loops left running').toBe('');
}, 120_000);
