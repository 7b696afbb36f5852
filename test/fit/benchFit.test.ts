/** `ionflux bench --only fit --quick`: the fit case runs and reports simulations and wall time per fit. */
import { afterAll, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-bench-fit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('bench --only fit --quick --backend cpu: a row per way with s/fit and the simulations of the fit', async () => {
  const json = path.join(tmp, 'b.json');
  const r = await runCli(['bench', '--quick', '--only', 'fit', '--backend', 'cpu', '--json', json]);
  expect(r.code, r.stderr).toBe(0);
  const rows = JSON.parse(readFileSync(json, 'utf8')).rows as { id: string; case: string; value: number; unit: string; size: string }[];
  const single = rows.find((x) => x.id === 'fit.cpu.single')!;
  expect(single.case).toBe('fit');
  expect(single.unit).toBe('s/fit');
  expect(single.value).toBeGreaterThan(0);
  // 3 generations of 7 plus the start point and 12 profile steps
  expect(single.size).toMatch(/3 generations, 34 simulations/);
  // from the TypeScript sources there is no bundle for pool threads: that row is left out, not failed
  expect(rows.every((x) => Number.isFinite(x.value))).toBe(true);
}, 180_000);
