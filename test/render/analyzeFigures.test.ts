/**
 * The pictures of `ionflux analyze` on a synthetic movie (two particles, the right one with its core
 * moving off-centre): montage.png with outlines and ids, traces.png, index.html. Set
 * IONFLUX_KEEP_FIGS=DIR to keep the output folder for looking at.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { runCli } from '../helpers/cli';
import { writeSynthMovie, type SynthOptions } from '../helpers/synthMovie';

const keep = process.env.IONFLUX_KEEP_FIGS;
const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-analyze-figs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const R = 14;
const shrinking = (s: number) => R * Math.sqrt(Math.max(0, 1 - s));
const synth: SynthOptions = {
  width: 96, height: 56, frames: 10, noise: 8, seed: 2,
  particles: [
    { cx: 26, cy: 28, radius_px: R, coreRadius: shrinking },
    { cx: 68, cy: 27, radius_px: R, coreRadius: shrinking, coreOffset: (_f, s) => [0.9 * (R - shrinking(s)), 0] },
  ],
};
const out = keep ? path.join(keep, 'analyze') : path.join(tmp, 'out');

beforeAll(async () => {
  const movie = path.join(tmp, 'movie.tif');
  const capacity = path.join(tmp, 'cap.csv');
  await writeSynthMovie(movie, synth, { pixel_um: 0.08, frame_s: 30 });
  writeFileSync(capacity, 'time_s,capacity_mAh_g,voltage_V\n0,0,3.6\n300,10,3.9\n');
  if (keep) rmSync(out, { recursive: true, force: true });
  const r = await runCli(['analyze', movie, '--capacity', capacity, '--backend', 'cpu', '--quiet', '--out', out]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}, 60_000);

const read = (rel: string) => PNG.sync.read(readFileSync(path.join(out, rel)));

describe('analyze pictures', () => {
  test('montage.png, traces.png and index.html are written', () => {
    for (const f of ['montage.png', 'traces.png', 'index.html']) expect(existsSync(path.join(out, f))).toBe(true);
    const t = read('traces.png');
    // three quantities × (time, charge): two columns of panels
    expect(t.width).toBeGreaterThan(600);
    expect(t.height).toBeGreaterThan(500);
  });

  test('index.html shows every PNG and links only files that exist', () => {
    const html = readFileSync(path.join(out, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => decodeURIComponent(m[1]));
    for (const ref of refs) expect(existsSync(path.join(out, ref)), ref).toBe(true);
    const pngs = ['montage.png', 'traces.png', 'particle_1/kymograph.png', 'particle_2/kymograph.png'];
    for (const p of pngs) expect(html).toContain(`<img src="${p}"`);
    for (const f of ['diff.tif', 'traces.csv', 'particles.csv', 'frames.csv', 'summary.json', 'particle_1/kymograph.csv']) expect(refs).toContain(f);
    expect(html).not.toMatch(/<script/i);
    expect(readdirSync(out)).toContain('index.html');
  });
});

describe('analyze pictures of a wide movie without a capacity file', () => {
  // 1200 px wide: the montage is block-averaged (k = 3), and the overlays must follow
  const wide: SynthOptions = {
    width: 1200, height: 120, frames: 4, noise: 4, seed: 3,
    particles: [{ cx: 300, cy: 60, radius_px: 40, coreRadius: (s) => 40 * Math.sqrt(Math.max(0, 1 - s)) }, { cx: 900, cy: 60, radius_px: 40 }],
  };
  const out2 = keep ? path.join(keep, 'analyze-wide') : path.join(tmp, 'wide');

  test('traces.png has one column (time only); montage outlines sit on the particles', async () => {
    const movie = path.join(tmp, 'wide.tif');
    await writeSynthMovie(movie, wide, { pixel_um: 0.1, frame_s: 60 });
    if (keep) rmSync(out2, { recursive: true, force: true });
    const r = await runCli(['analyze', movie, '--backend', 'cpu', '--quiet', '--out', out2]);
    expect(r.code).toBe(0);
    const t = PNG.sync.read(readFileSync(path.join(out2, 'traces.png')));
    expect(t.width).toBeLessThan(600);
    const m = PNG.sync.read(readFileSync(path.join(out2, 'montage.png')));
    // green outline pixels exist on the montage
    let green = 0;
    for (let i = 0; i < m.width * m.height; i++) if (m.data[4 * i] === 0 && m.data[4 * i + 1] === 170 && m.data[4 * i + 2] === 0) green++;
    expect(green).toBeGreaterThan(100);
  }, 60_000);
});
