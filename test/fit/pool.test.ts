/**
 * The fit's CPU pool (src/fit/pool.ts): the built CLI runs a generation's candidates over worker
 * threads; the fit is the same as the in-process one (same candidates, same costs, same best).
 */
import { afterAll, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openMovie } from '../../src/io/movie';
import { readCapacityFile } from '../../src/io/capacity';
import { readObservedParticle } from '../../src/compare/observed';
import { cpuBatchRunner } from '../../src/fit/batch';
import { fitSurface } from '../../src/fit/fit';
import { buildCli } from '../helpers/builtCli';
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
