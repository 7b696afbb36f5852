/**
 * The optical forward model (SPEC §2): a known answer, and the cached-denominator form against the
 * straightforward one (both blurs per frame, NaN cells skipped) bit for bit.
 */
import { describe, expect, it } from 'vitest';
import { diskOutline, ellipseOutline } from '../../src/model/geometry';
import { buildGrid } from '../../src/model/grid';
import { createCamera, forwardModel, type Camera } from '../../src/optics/forward';
import { WasmGather } from '../../src/optics/gatherWasm';
import { rng } from '../helpers/random';

/** ΔI/I0 = κ·blur(mask·(θ0 − θ)) / blur(mask), both gathers per frame, NaN cells skipped */
function straightforward(theta: Float32Array, camera: Camera, theta0: number): Float32Array {
  const { width, height, wx, wy, mask } = camera;
  const { nx, ny } = camera.grid;
  const tn = new Float64Array(ny * width), td = new Float64Array(ny * width);
  for (let i = 0; i < ny; i++) {
    for (let p = 0; p < width; p++) {
      const w = wx.weights[p], j0 = wx.starts[p];
      let num = 0, den = 0;
      for (let k = 0; k < w.length; k++) {
        const t = theta[i * nx + j0 + k];
        if (!Number.isNaN(t)) { num += w[k] * (theta0 - t); den += w[k]; }
      }
      tn[i * width + p] = num; td[i * width + p] = den;
    }
  }
  const out = new Float32Array(width * height);
  for (let q = 0; q < height; q++) {
    const w = wy.weights[q], i0 = wy.starts[q];
    for (let p = 0; p < width; p++) {
      let num = 0, den = 0;
      for (let k = 0; k < w.length; k++) { num += w[k] * tn[(i0 + k) * width + p]; den += w[k] * td[(i0 + k) * width + p]; }
      out[q * width + p] = mask[q * width + p] && den > 0 ? (camera.kappa * num) / den : NaN;
    }
  }
  return out;
}

function field(inside: Uint8Array, rand: () => number, lo = 0.3): Float32Array {
  return Float32Array.from(inside, (v) => (v ? lo + (1 - lo) * rand() : NaN));
}

describe('forwardModel', () => {
  it('a uniform θ inside gives κ·(θ0 − θ) at every pixel of the mask', () => {
    const grid = buildGrid(diskOutline(2.4), 0.02, [], 'total-current');
    const cam = createCamera(grid, { kappa: 0.8, psfSigma_um: 0.11, pixel_um: 0.05 });
    const theta = Float32Array.from(grid.inside, (v) => (v ? 0.75 : NaN));
    const img = forwardModel(theta, cam, 1);
    let n = 0;
    for (let i = 0; i < img.diff.length; i++) {
      if (!cam.mask[i]) { expect(img.diff[i]).toBeNaN(); continue; }
      expect(img.diff[i]).toBeCloseTo(0.8 * 0.25, 6);
      n++;
    }
    expect(n).toBeGreaterThan(1000);
  });

  it('equals the straightforward form bit for bit, frame after frame, and when the inside pattern changes', () => {
    // Node has wasm SIMD: the gather kernel must build here, or 'auto' below would be the JS gather again
    expect(WasmGather.available()).toBe(true);
    const rand = rng(11);
    for (const [outline, h, sigma] of [[diskOutline(2.4), 0.02, 0.11], [ellipseOutline([2.4, 1.3], 30), 0.03, 0.25], [diskOutline(1.2), 0.02, 0]] as const) {
      const grid = buildGrid(outline, h, [], 'total-current');
      const cam = createCamera(grid, { kappa: 1, psfSigma_um: sigma, pixel_um: 0.05 });
      for (let frame = 0; frame < 4; frame++) {
        const theta = field(grid.inside, rand);
        const got = forwardModel(theta, cam, 1).diff;
        expect(Array.from(got)).toEqual(Array.from(straightforward(theta, cam, 1)));
      }
      // the JS gather on a camera of its own: the same bits as the wasm SIMD one used above
      const camJs = createCamera(grid, { kappa: 1, psfSigma_um: sigma, pixel_um: 0.05 });
      const theta = field(grid.inside, rand);
      expect(Array.from(forwardModel(theta, camJs, 1, 'js').diff)).toEqual(Array.from(forwardModel(theta, cam, 1).diff));
      // another inside pattern on the same camera (cells dropped at random): the denominator follows
      const fewer = Uint8Array.from(grid.inside, (v) => (v && rand() > 0.1 ? 1 : 0));
      for (const inside of [fewer, grid.inside]) {
        const theta = field(inside, rand);
        expect(Array.from(forwardModel(theta, cam, 0.95).diff)).toEqual(Array.from(straightforward(theta, cam, 0.95)));
      }
    }
  });
});
