import { describe, expect, it } from 'vitest';
import { DriftEstimator, driftBinning, estimateDrift, shiftFrame } from '../../src/imaging/drift';
import { diffMapCpu } from '../../src/imaging/diffmap';
import { unreactedStats } from '../../src/observables/unreacted';
import { synthFrames } from '../helpers/synthMovie';

const W = 96, H = 80;
/**
 * A textured scene: three particles of different sizes, no reaction (brightening 0); `scale`
 * enlarges the frame and the particles alike.
 */
function scene(drift: [number, number], noise = 0, seed = 1, scale = 1, supersample = 6) {
  return synthFrames({
    width: scale * W, height: scale * H, frames: 1, brightening: 0, noise, seed, sampleType: 'float32', supersample,
    drift: () => drift,
    particles: [
      { cx: scale * 30.3, cy: scale * 28.7, radius_px: scale * 12 },
      { cx: scale * 66.1, cy: scale * 50.2, radius_px: scale * 9, intensity: 700 },
      { cx: scale * 40, cy: scale * 60, radius_px: scale * 5, intensity: 1400 },
    ],
  })[0];
}

describe('drift by phase correlation', () => {
  const reference = scene([0, 0]);
  const est = new DriftEstimator(reference, W, H);

  it('is zero for the reference itself', () => {
    const d = est.estimate(reference);
    expect(Math.abs(d.shift[0])).toBeLessThan(1e-6);
    expect(Math.abs(d.shift[1])).toBeLessThan(1e-6);
    expect(d.peak).toBeGreaterThan(0.95);
  });

  it('follows the sign convention: content at reference + (dx, dy)', () => {
    // integer shift, no interpolation involved: frame(x) = reference(x − 3, y + 2)
    const frame = new Float32Array(W * H);
    for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) {
      const sc = c - 3, sr = r + 2;
      frame[r * W + c] = sc >= 0 && sc < W && sr >= 0 && sr < H ? reference[sr * W + sc] : 100;
    }
    const d = est.estimate(frame).shift;
    expect(d[0]).toBeCloseTo(3, 1);
    expect(d[1]).toBeCloseTo(-2, 1);
    // and sampling the frame at (x + dx, y + dy) gives the reference back
    const back = shiftFrame(frame, W, H, [3, -2]);
    let maxErr = 0;
    for (let r = 5; r < H - 5; r++) for (let c = 5; c < W - 5; c++) maxErr = Math.max(maxErr, Math.abs(back[r * W + c] - reference[r * W + c]));
    expect(maxErr).toBeLessThan(1e-3);
  });

  it('recovers sub-pixel drifts within 0.2 px (noise-free: 0.05 px)', () => {
    const cases: [number, number][] = [[0.3, -0.2], [1.5, 0.5], [-2.25, 1.75], [4.6, -3.4], [-0.5, 0.5]];
    for (const t of cases) {
      const clean = est.estimate(scene(t)).shift;
      expect(Math.abs(clean[0] - t[0])).toBeLessThan(0.05);
      expect(Math.abs(clean[1] - t[1])).toBeLessThan(0.05);
      const noisy = est.estimate(scene(t, 20, 7)).shift;
      expect(Math.abs(noisy[0] - t[0])).toBeLessThan(0.2);
      expect(Math.abs(noisy[1] - t[1])).toBeLessThan(0.2);
    }
  });

  it('is not fooled by particles brightening (the ΔI/I0 signal)', () => {
    const [ref, , last] = synthFrames({
      width: W, height: H, frames: 3, brightening: 0.3, sampleType: 'float32', drift: (f) => (f === 2 ? [1.3, -0.7] : [0, 0]),
      particles: [{ cx: 30.3, cy: 28.7, radius_px: 12, coreOffset: [3, 0] }, { cx: 66.1, cy: 50.2, radius_px: 9 }],
    });
    const d = estimateDrift(ref, last, W, H).shift;
    expect(Math.abs(d[0] - 1.3)).toBeLessThan(0.2);
    expect(Math.abs(d[1] + 0.7)).toBeLessThan(0.2);
  });

  it('correcting the measured drift restores the undrifted ΔI/I0 map (diffMapCpu shares the convention)', () => {
    const t: [number, number] = [2.4, -1.6];
    const frames = synthFrames({
      width: W, height: H, frames: 2, brightening: 0.3, sampleType: 'float32', supersample: 6,
      particles: [{ cx: 40.2, cy: 38.9, radius_px: 14, coreOffset: [4, 1] }],
    });
    const drifted = synthFrames({
      width: W, height: H, frames: 2, brightening: 0.3, sampleType: 'float32', supersample: 6, drift: (f) => (f === 1 ? t : [0, 0]),
      particles: [{ cx: 40.2, cy: 38.9, radius_px: 14, coreOffset: [4, 1] }],
    });
    const ref = frames[0] as Float32Array;
    const shift = estimateDrift(ref, drifted[1], W, H).shift;
    const corrected = diffMapCpu(drifted[1], ref, W, H, { shift });
    const truth = diffMapCpu(frames[1], ref, W, H);
    const uncorrected = diffMapCpu(drifted[1], ref, W, H);
    // pixel by pixel, bilinear resampling of the drawn (area-averaged) edges leaves a small residue …
    let errC = 0, errU = 0, n = 0;
    for (let i = 0; i < truth.length; i++) {
      if (!Number.isFinite(corrected[i])) continue;
      errC += Math.abs(corrected[i] - truth[i]); errU += Math.abs(uncorrected[i] - truth[i]); n++;
    }
    expect(errC / n).toBeLessThan(0.2 * (errU / n));
    // … while the analysis result is restored: unreacted fraction and COM offset of the particle
    const mask = new Uint8Array(W * H);
    for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) mask[r * W + c] = Math.hypot(c + 0.5 - 40.2, r + 0.5 - 38.9) < 13 ? 1 : 0;
    const a = unreactedStats(corrected, mask, W, 1), b = unreactedStats(truth, mask, W, 1), u = unreactedStats(uncorrected, mask, W, 1);
    expect(Math.abs(a.unreactedFraction - b.unreactedFraction)).toBeLessThan(0.02);
    expect(Math.abs(a.comOffset_um! - b.comOffset_um!)).toBeLessThan(0.2);
    expect(Math.abs(u.comOffset_um! - b.comOffset_um!)).toBeGreaterThan(1); // the drift did matter
  });
});

describe('drift on b×b block means (large frames)', () => {
  // the scene above at twice the size (the particles 2× as large), as a 2048² frame's particles are
  // many pixels wide: correlated on 2×2 blocks, the shift comes back in pixels
  const W2 = 2 * W, H2 = 2 * H;
  const big = (drift: [number, number], noise = 0, seed = 1) => scene(drift, noise, seed, 2, 4);
  const reference = big([0, 0]);
  const binned = new DriftEstimator(reference, W2, H2, { bin: 2 });

  it('recovers sub-pixel drifts within 0.1 px (noise-free), 0.2 px with noise', () => {
    const cases: [number, number][] = [[0.3, -0.2], [1.5, 0.5], [-2.25, 1.75], [4.6, -3.4], [-0.5, 0.5], [0.07, -0.04]];
    let worst = 0;
    for (const t of cases) {
      const clean = binned.estimate(big(t)).shift;
      worst = Math.max(worst, Math.hypot(clean[0] - t[0], clean[1] - t[1]));
      expect(Math.abs(clean[0] - t[0])).toBeLessThan(0.1);
      expect(Math.abs(clean[1] - t[1])).toBeLessThan(0.1);
      const noisy = binned.estimate(big(t, 20, 7)).shift;
      expect(Math.abs(noisy[0] - t[0])).toBeLessThan(0.2);
      expect(Math.abs(noisy[1] - t[1])).toBeLessThan(0.2);
    }
    console.log(`2×2 blocks, ${W2}×${H2}: worst error ${worst.toFixed(3)} px (noise-free)`);
    // the reference itself: no drift
    const self = binned.estimate(reference);
    expect(Math.hypot(...self.shift)).toBeLessThan(1e-6);
    expect(self.peak).toBeGreaterThan(0.95);
  });

  it('bin 1 is the full-resolution estimator, bit for bit', () => {
    const f = big([1.3, -0.6], 20, 3);
    const a = new DriftEstimator(reference, W2, H2).estimate(f), b = new DriftEstimator(reference, W2, H2, { bin: 1 }).estimate(f);
    expect(b).toEqual(a);
  });

  it('driftBinning: full resolution up to 1024 px per side, 2×2 blocks for a 2048² frame; bad bins refused', () => {
    expect(driftBinning(96, 80)).toBe(1);
    expect(driftBinning(1024, 1024)).toBe(1);
    expect(driftBinning(1100, 900)).toBe(2);
    expect(driftBinning(2048, 2048)).toBe(2);
    expect(driftBinning(4096, 4096)).toBe(4);
    expect(driftBinning(4096, 100)).toBe(1); // never fewer than 64 blocks across
    expect(() => new DriftEstimator(reference, W2, H2, { bin: 1.5 })).toThrow(/drift bin = 1.5 is not allowed/);
    expect(() => new DriftEstimator(reference, W2, H2, { bin: 200 })).toThrow(/at least 2×2 blocks/);
  });
});
