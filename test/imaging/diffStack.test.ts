/**
 * `analyze --diff-stack particles`: each particle's ΔI/I0 crop instead of the whole-frame diff.tif.
 * Every table and kymograph (pass 2 reads the crops back) must equal the whole-frame run's, and each
 * crop must hold exactly the pixels of the whole-frame stack it was cut from.
 */
import { afterAll, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { writeSynthMovie } from '../helpers/synthMovie';
import { openMovie } from '../../src/io/movie';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-diffstack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('particle crops: same tables and kymographs as the whole-frame stack, the same pixels', async () => {
  const R = 12;
  const movie = path.join(tmp, 'movie.tif');
  await writeSynthMovie(movie, {
    width: 120, height: 64, frames: 8, noise: 4, seed: 5, drift: (f) => [0.15 * f, 0.1 * f],
    particles: [
      { cx: 30, cy: 32, radius_px: R, coreRadius: (s) => R * Math.sqrt(Math.max(0, 1 - s)) },
      { cx: 84, cy: 30, radius_px: R, coreRadius: (s) => R * Math.sqrt(Math.max(0, 1 - s)), coreOffset: (_f, s) => [0.5 * R * s, 0] },
    ],
  }, { pixel_um: 0.1, frame_s: 20 });
  const full = path.join(tmp, 'full'), crops = path.join(tmp, 'crops');
  expect((await runCli(['analyze', movie, '--backend', 'cpu', '--quiet', '--out', full])).code).toBe(0);
  expect((await runCli(['analyze', movie, '--backend', 'cpu', '--quiet', '--diff-stack', 'particles', '--out', crops])).code).toBe(0);
  expect(existsSync(path.join(crops, 'diff.tif'))).toBe(false);
  for (const f of ['particles.csv', 'traces.csv', 'frames.csv', 'particle_1/kymograph.csv', 'particle_2/kymograph.csv']) {
    expect(readFileSync(path.join(crops, f), 'utf8')).toBe(readFileSync(path.join(full, f), 'utf8'));
  }
  const summary = JSON.parse(readFileSync(path.join(crops, 'summary.json'), 'utf8'));
  expect(summary.parameters.diffStack.mode).toBe('particles');
  const whole = await openMovie(path.join(full, 'diff.tif'));
  for (const c of summary.parameters.diffStack.crops_px as { id: number; col0: number; row0: number; width: number; height: number }[]) {
    const stack = await openMovie(path.join(crops, `particle_${c.id}`, 'diff.tif'));
    expect([stack.width, stack.height, stack.frames, stack.pixel_um]).toEqual([c.width, c.height, 8, 0.1]);
    expect(c.width * c.height).toBeLessThan(120 * 64); // (a 24 px particle with its 20 px margin: ~64 × 64)
    for (const i of [0, 7]) {
      const a = (await whole.readFrame(i)) as Float32Array, b = (await stack.readFrame(i)) as Float32Array;
      for (let r = 0; r < c.height; r++) for (let q = 0; q < c.width; q++) {
        const va = a[(c.row0 + r) * 120 + c.col0 + q], vb = b[r * c.width + q];
        if (!Object.is(va, vb)) throw new Error(`particle ${c.id}, frame ${i}, crop pixel (${r}, ${q}): ${vb} ≠ ${va}`);
      }
    }
    await stack.close();
  }
  await whole.close();
});
