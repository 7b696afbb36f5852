/**
 * The fit's effective number of independent residual samples (src/fit/uncertainty.ts
 * effectiveSamples) on residual images of known correlation: white noise is worth every pixel;
 * white noise blurred by a Gaussian of σ px is correlated over 4πσ² pixels (its autocorrelation is a
 * Gaussian of σ√2, whose integral is 2π(σ√2)²); a pattern repeated in every frame is worth one frame.
 * The lag-1 reading used before sees only the nearest neighbours' correlation: under white pixel
 * noise, a smooth error's long tail is invisible to it, and it counts ~10× too many samples — the
 * reason its intervals were too narrow.
 */
import { describe, expect, test } from 'vitest';
import { effectiveSamples } from '../../src/fit/uncertainty';
import { blurImage } from '../../src/optics/sensor';
import { createRandom } from '../../src/optics/random';

const W = 96, H = 96;
/**
 * frames of Gaussian noise inside a disk of radius 44 px (NaN outside): white (sigma 0) or blurred by
 * sigma px, plus white noise of variance `white` times the blurred part's (a fit's residuals: the
 * pixel noise plus a smooth model error)
 */
function frames(count: number, sigma: number, seed: number, same = false, white = 0): Float32Array[] {
  const rnd = createRandom(seed);
  const one = () => {
    const noise = new Float64Array(W * H).map(() => rnd.normal());
    const img = blurImage(noise, W, H, sigma);
    if (white > 0) {
      // the blurred part at unit variance, then the white part on top
      let v = 0;
      for (const x of img) v += x * x;
      const k = 1 / Math.sqrt(v / img.length);
      for (let i = 0; i < img.length; i++) img[i] = k * img[i] + Math.sqrt(white) * rnd.normal();
    }
    const out = new Float32Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = Math.hypot(x + 0.5 - W / 2, y + 0.5 - H / 2) < 44 ? img[y * W + x] : NaN;
    return out;
  };
  const first = one();
  return Array.from({ length: count }, (_, k) => (same || k === 0 ? first.slice() : one()));
}

describe('effectiveSamples', () => {
  test('white noise: N_eff ≈ n (within 15 %), correlation area ≈ 1 px, every frame counts', () => {
    const e = effectiveSamples(frames(3, 0, 1), W);
    expect(e.nEff / e.n).toBeGreaterThan(0.85);
    expect(e.nEff / e.n).toBeLessThanOrEqual(1);
    expect(e.framesEff).toBeGreaterThan(2.7);
  });

  test('noise blurred by σ = 1.5 px: correlation area 4πσ² within 25 %, N_eff = n/area within 25 %', () => {
    const e = effectiveSamples(frames(3, 1.5, 2), W);
    const area = 4 * Math.PI * 1.5 * 1.5;
    expect(e.area_px / area).toBeGreaterThan(0.75);
    expect(e.area_px / area).toBeLessThan(1.25);
    expect((e.nEff * area) / e.n).toBeGreaterThan(0.75);
    expect((e.nEff * area) / e.n).toBeLessThan(1.25);
  });

  test('white pixel noise (4 parts) over a smooth error (1 part, σ = 3 px): the area (w + s·4πσ²)/(w + s) within 35 %; the lag-1 reading counts several times too many samples', () => {
    const e = effectiveSamples(frames(4, 3, 4, false, 4), W);
    const area = (4 + 4 * Math.PI * 9) / 5;
    expect(e.area_px / area).toBeGreaterThan(0.65);
    expect(e.area_px / area).toBeLessThan(1.35);
    // lag 1 sees ρ(1) ≈ 0.19 only, not the tail out to ~10 px: N_eff ~10× too large (the old intervals ~3× too narrow)
    expect(e.lag1 / (e.n / area)).toBeGreaterThan(5);
    expect(e.nEff * 3).toBeLessThan(e.lag1);
  });

  test('the same residual pattern in all 6 frames is worth one frame', () => {
    const e = effectiveSamples(frames(6, 2, 3, true), W);
    expect(e.framesEff).toBeGreaterThan(0.99);
    expect(e.framesEff).toBeLessThan(1.1);
    const single = effectiveSamples(frames(1, 2, 3), W);
    expect(e.nEff / single.nEff).toBeGreaterThan(0.9);
    expect(e.nEff / single.nEff).toBeLessThan(1.1);
  });
});
