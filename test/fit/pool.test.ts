/**
 * The fit's CPU pool (src/fit/pool.ts): the built CLI runs a generation's candidates over worker
 * threads; the fit is the same as the in-process one (same candidates, same costs, same best).
 */
import { afterAll, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openMovie } from '../../src/io/movie';
import { readCapacityFile } from '../../src/io/capacity';
import { readObservedParticle } from '../../src/compare/observed';
import { cpuBatchRunner } from '../../src/fit/batch';
import { fitSurface } from '../../src/fit/fit';
import { buildCli, waitFor } from '../helpers/builtCli';
import { configOf, writeSynth } from '../helpers/compareFixtures';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-fit-pool-'));
const cli = buildCli('fit-pool');
afterAll(() => { cli.remove(); rmSync(tmp, { recursive: true, force: true }); });

test('ionflux fit on the CPU pool: the same best fit as the in-process runner, and the log names the pool', async () => {
  const dir = path.join(tmp, 'movie');
  await writeSynth(dir, configOf('fig4c', ['grid.spacing_um=0.04', 'synth.frame_s=60']));
  const out = path.join(tmp, 'fit');
  const r = cli.run(['fit', '--observed', path.join(dir, 'movie.tif'), '--no-drift', '--backend', 'cpu', '--generations', '2', '--out', out]);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/cpu pool \(\d+ worker threads/);
  const fit = JSON.parse(readFileSync(path.join(out, 'fit.json'), 'utf8'));
  const movie = await openMovie(path.join(dir, 'movie.tif'));
  const obs = await readObservedParticle(movie, { capacity: await readCapacityFile(path.join(dir, 'capacity.csv')), drift: false });
  await movie.close();
  const ref = await fitSurface(obs, { model: 'arc', runner: cpuBatchRunner(), generations: 2 });
  expect(fit.simulations).toBe(ref.simulations);
  expect(fit.best.centerDeg).toBeCloseTo(ref.best.values[0], 2); // fit.json: 6 significant digits
  expect(fit.best.spanDeg).toBeCloseTo(ref.best.values[1], 2);
  expect(fit.best.eta).toBeCloseTo(ref.best.values[2], 5);
}, 240_000);

test('fit checks --out before its first simulation, and Ctrl-C says where the finished simulations are kept; the same command resumes', async () => {
  const dir = path.join(tmp, 'movie2');
  await writeSynth(dir, configOf('fig4c', ['grid.spacing_um=0.04', 'synth.frame_s=60']));
  const args = ['fit', '--observed', path.join(dir, 'movie.tif'), '--no-drift', '--backend', 'cpu', '--generations', '8'];
  // a folder with the user's own file: refused at once (it used to run all the simulations first)
  const mine = path.join(tmp, 'mine');
  mkdirSync(mine);
  writeFileSync(path.join(mine, 'fit.json'), 'my notes');
  const t0 = Date.now();
  const refused = cli.run([...args, '--out', mine]);
  expect(refused.status, refused.stderr).toBe(1);
  expect(refused.stderr).toMatch(/--out '.*mine' is a folder with other files \(fit\.json\) and no ionflux output/);
  expect(refused.stderr).not.toMatch(/fit: \d+%/);
  expect(Date.now() - t0).toBeLessThan(20_000);
  expect(existsSync(`${mine}.fit-journal.jsonl`)).toBe(false);
  expect(readFileSync(path.join(mine, 'fit.json'), 'utf8')).toBe('my notes');
  // Ctrl-C in the middle: the line, the journal kept, and the rerun resumes from it
  const out = path.join(tmp, 'stopped');
  const p = cli.start([...args, '--out', out]);
  await waitFor(() => /fit: [1-9]\d*%/.test(p.stderr()), 120_000, 'the fit to make progress');
  p.child.kill('SIGINT');
  const e = await p.exited;
  expect({ ...e, stderr: p.stderr() }).toMatchObject({ code: 130, signal: null });
  expect(p.stderr()).toMatch(/ionflux: stopped by SIGINT: nothing was written to '.*stopped' \(what was there before is unchanged\); the fit's finished simulations are kept in '.*stopped\.fit-journal\.jsonl': the same command resumes from them/);
  expect(existsSync(`${out}.fit-journal.jsonl`)).toBe(true);
  expect(existsSync(out)).toBe(false);
  const again = cli.run([...args, '--out', out]);
  expect(again.status, again.stderr).toBe(0);
  expect(again.stderr).toMatch(/resuming from .*stopped\.fit-journal\.jsonl: [1-9]\d* candidate\(s\) already evaluated/);
  expect(existsSync(`${out}.fit-journal.jsonl`)).toBe(false);
  expect(existsSync(path.join(out, 'fit.json'))).toBe(true);
}, 300_000);
