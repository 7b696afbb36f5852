/**
 * Drift estimation must not see drift that is not there: a stationary particle whose reaction front
 * moves strongly (an off-centre core shrinking, as in the paper's aged particles) used to be read as
 * 0.1–0.6 px of stage drift, shifting the COM offsets. The estimator registers on what the reaction
 * does not change (the particle silhouettes and the background: intensities clipped at a level
 * between background and particle), and a real stage drift is still recovered.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeTiffStack } from '../../src/io/tiffWrite';
import { runCli } from '../helpers/cli';
import { DriftEstimator, driftClipLevel } from '../../src/imaging/drift';
import { synthFrames, type SynthOptions } from '../helpers/synthMovie';
import { rng } from '../helpers/random';

const W = 96, H = 96, R = 30;

/** Gaussian blur (σ px) and shot noise (Poisson-like, σ = √I · scale) of a float frame */
function optics(frame: ArrayLike<number>, sigma: number, noiseScale: number, seed: number, W = 96, H = 96): Float32Array {
  const rad = Math.ceil(3 * sigma), k: number[] = [];
  for (let i = -rad; i <= rad; i++) k.push(Math.exp(-(i * i) / (2 * sigma * sigma)));
  const ks = k.reduce((a, b) => a + b, 0);
  const tmp = new Float32Array(W * H), out = new Float32Array(W * H);
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) {
    let a = 0;
    for (let i = -rad; i <= rad; i++) a += k[i + rad] * frame[r * W + Math.min(W - 1, Math.max(0, c + i))];
    tmp[r * W + c] = a / ks;
  }
  const rand = rng(seed);
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) {
    let a = 0;
    for (let i = -rad; i <= rad; i++) a += k[i + rad] * tmp[Math.min(H - 1, Math.max(0, r + i)) * W + c];
    const v = a / ks;
    const u = Math.max(1e-12, rand()), w = rand();
    out[r * W + c] = v + noiseScale * Math.sqrt(v) * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
  }
  return out;
}

/** the movie at `scale` × the size (particle, blur and frame; drift in pixels of the scaled frame) */
function movie(drift: (f: number) => [number, number], seed: number, coreDir: number, scale = 1): Float32Array[] {
  const r = R * scale;
  const o: SynthOptions = {
    width: W * scale, height: H * scale, frames: 12, sampleType: 'float32', supersample: scale > 1 ? 2 : 4, brightening: 0.3, drift,
    particles: [{
      cx: 48.3 * scale, cy: 47.6 * scale, radius_px: r,
      // the core shrinks towards one side: its centre moves by up to 0.6 R
      coreRadius: (s) => r * Math.sqrt(Math.max(0, 1 - s)) * 0.95,
      coreOffset: (_f, s) => [0.6 * r * s * Math.cos(coreDir), -0.6 * r * s * Math.sin(coreDir)],
    }],
  };
  return synthFrames(o).map((f, i) => optics(f, 1.5 * scale, 0.5, seed * 100 + i, W * scale, H * scale));
}

function estimates(frames: Float32Array[], options: { clip: boolean; scale?: number; bin?: number }) {
  const w = W * (options.scale ?? 1), h = H * (options.scale ?? 1);
  const ref = frames[0];
  const clip = options.clip ? driftClipLevel(ref, w, h) : undefined;
  const est = new DriftEstimator(ref, w, h, { clipAbove: clip, bin: options.bin });
  return frames.slice(1).map((f) => est.estimate(f));
}

describe('drift estimation is not fooled by a moving reaction front', () => {
  const cases = [0, 1, 2, 3].map((k) => ({ seed: k + 1, dir: (k * Math.PI) / 2 + 0.3 }));

  it('a stationary particle with a strongly moving front: |drift| < 0.1 px in every frame', () => {
    let worstOld = 0, worstNew = 0;
    for (const { seed, dir } of cases) {
      const frames = movie(() => [0, 0], seed, dir);
      for (const e of estimates(frames, { clip: false })) worstOld = Math.max(worstOld, Math.hypot(...e.shift));
      for (const e of estimates(frames, { clip: true })) worstNew = Math.max(worstNew, Math.hypot(...e.shift));
    }
    console.log(`stationary particle, moving front: worst |drift| ${worstOld.toFixed(3)} px unclipped, ${worstNew.toFixed(3)} px clipped`);
    // the plain estimator is fooled (this is what the clipping fixes) …
    expect(worstOld).toBeGreaterThan(0.1);
    // … the default one is not
    expect(worstNew).toBeLessThan(0.1);
  });

  it('a known stage drift with the same moving front is recovered within 0.2 px', () => {
    for (const { seed, dir } of cases) {
      const drift = (f: number): [number, number] => [0.37 * f, -0.23 * f];
      const frames = movie(drift, seed, dir);
      estimates(frames, { clip: true }).forEach((e, k) => {
        const [dx, dy] = drift(k + 1);
        expect(Math.hypot(e.shift[0] - dx, e.shift[1] - dy)).toBeLessThan(0.2);
      });
    }
  });
});

describe('on 2×2 block means (how large frames are correlated): the same movies at twice the size', () => {
  const cases = [0, 1, 2, 3].map((k) => ({ seed: k + 11, dir: (k * Math.PI) / 2 + 0.3 }));

  it('stationary with a strongly moving front: |drift| < 0.1 px; a known drift within 0.2 px', () => {
    let still = 0, moving = 0;
    for (const { seed, dir } of cases) {
      for (const e of estimates(movie(() => [0, 0], seed, dir, 2), { clip: true, scale: 2, bin: 2 })) still = Math.max(still, Math.hypot(...e.shift));
      const drift = (f: number): [number, number] => [0.61 * f, -0.37 * f];
      estimates(movie(drift, seed, dir, 2), { clip: true, scale: 2, bin: 2 }).forEach((e, k) => {
        const [dx, dy] = drift(k + 1);
        moving = Math.max(moving, Math.hypot(e.shift[0] - dx, e.shift[1] - dy));
      });
    }
    console.log(`192² on 2×2 blocks: worst |drift| ${still.toFixed(3)} px still, worst error ${moving.toFixed(3)} px with a known drift`);
    expect(still).toBeLessThan(0.1);
    expect(moving).toBeLessThan(0.2);
  });
});

describe('analyze end to end', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-drift-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('reports no drift for a stationary particle with a moving front, and a real one where there is one', async () => {
    for (const [name, drift] of [['still', () => [0, 0]], ['moving', (f: number) => [0.37 * f, -0.23 * f]]] as const) {
      const frames = movie(drift as (f: number) => [number, number], 7, 2.5);
      const file = path.join(tmp, `${name}.tif`);
      await writeTiffStack(file, frames, { width: W, height: H, sampleType: 'float32', imagej: { pixel_um: 0.05, frame_s: 60 } });
      const out = path.join(tmp, `${name}-out`);
      const r = await runCli(['analyze', file, '--backend', 'cpu', '--quiet', '--out', out]);
      expect(r.code).toBe(0);
      const s = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
      s.drift_px.forEach(([dx, dy]: [number, number], i: number) => {
        const [tx, ty] = (drift as (f: number) => [number, number])(i);
        expect(Math.hypot(dx - tx, dy - ty)).toBeLessThan(name === 'still' ? 0.1 : 0.2);
      });
      // frames.csv keeps the estimate beside the drift applied: the still movie's estimates (a few
      // hundredths of a pixel) stay below --min-drift-px, so nothing is shifted
      const rows = readFileSync(path.join(out, 'frames.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
      expect(rows[0].slice(4)).toEqual(['driftX_px', 'driftY_px', 'driftPeak', 'driftEstX_px', 'driftEstY_px']);
      for (const r of rows.slice(1)) {
        const applied = [Number(r[4]), Number(r[5])], est = [Number(r[7]), Number(r[8])];
        expect(Math.hypot(...est)).toBeLessThan(name === 'still' ? 0.1 : 99);
        expect(applied).toEqual(Math.hypot(...est) < 0.15 ? [0, 0] : est);
      }
    }
  });

  it('--min-drift-px 0 applies every estimate; a bad value is refused', async () => {
    const frames = movie(() => [0, 0], 7, 2.5);
    const file = path.join(tmp, 'still0.tif');
    await writeTiffStack(file, frames, { width: W, height: H, sampleType: 'float32', imagej: { pixel_um: 0.05, frame_s: 60 } });
    const out = path.join(tmp, 'still0-out');
    expect((await runCli(['analyze', file, '--backend', 'cpu', '--quiet', '--min-drift-px', '0', '--out', out])).code).toBe(0);
    const s = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(s.parameters.minDrift_px).toBe(0);
    expect(s.drift_px.slice(1).some(([dx, dy]: [number, number]) => dx !== 0 || dy !== 0)).toBe(true);
    const bad = await runCli(['analyze', file, '--backend', 'cpu', '--quiet', '--min-drift-px', '-1', '--out', path.join(tmp, 'bad')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--min-drift-px = '-1' is not allowed: use a number ≥ 0/);
  });
});
