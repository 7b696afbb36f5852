/**
 * The float32 references of src/imaging/diffmap.ts on inputs with known answers, and against
 * brute-force definitions (box mean) and src/imaging/unreacted.ts (label sums).
 */
import { describe, expect, it } from 'vitest';
import {
  boxMeanNanAware,
  diffMapCpu,
  labelMetrics,
  labelReduceCpu,
  LabelStat,
  LABEL_STATS_STRIDE,
} from '../../src/imaging/diffmap';
import { unreactedStats } from '../../src/imaging/unreacted';
import { createCpuProcessor } from '../../src/imaging/processor';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** a reference that varies from pixel to pixel (a uniform one would hide indexing bugs) */
function variedReference(w: number, h: number, seed = 1): Float32Array {
  const r = rng(seed), ref = new Float32Array(w * h);
  for (let i = 0; i < ref.length; i++) ref[i] = 200 + Math.floor(r() * 3000);
  return ref;
}

describe('diffMapCpu', () => {
  it('maps a constant movie (frame = reference) to zero, for 8-bit, 16-bit and float32 frames', () => {
    const w = 29, h = 17;
    const ref = variedReference(w, h);
    for (let i = 0; i < ref.length; i++) ref[i] = ref[i] % 250 + 1; // fits 8 bits
    for (const frame of [Uint8Array.from(ref), Uint16Array.from(ref), Float32Array.from(ref)]) {
      const d = diffMapCpu(frame, ref, w, h);
      expect(Array.from(d).every((v) => v === 0)).toBe(true);
    }
  });

  it('gives (I − I0)/I0 per pixel, the same for every frame type holding the same values', () => {
    const w = 13, h = 11, r = rng(2);
    const ref = new Float32Array(w * h), vals = new Uint8Array(w * h);
    for (let i = 0; i < ref.length; i++) { ref[i] = 1 + Math.floor(r() * 200); vals[i] = Math.floor(r() * 256); }
    const expected = Array.from(vals, (v, i) => Math.fround((v - ref[i]) / ref[i]));
    for (const frame of [vals, Uint16Array.from(vals), Float32Array.from(vals)]) {
      expect(Array.from(diffMapCpu(frame, ref, w, h))).toEqual(expected);
    }
  });

  it('writes NaN, never ±Inf, where the reference is 0, subnormal, ±Inf or NaN, or a sample is not finite', () => {
    const w = 4, h = 2;
    const ref = Float32Array.from([0, -0, 1e-40, Infinity, -Infinity, NaN, 10, 10]);
    const frame = Float32Array.from([5, 5, 5, 5, 5, 5, Infinity, NaN]);
    const d = diffMapCpu(frame, ref, w, h);
    expect(Array.from(d).every((v) => Number.isNaN(v))).toBe(true);
    // float32 overflow of a valid quotient also becomes NaN
    const big = diffMapCpu(Float32Array.from([3e38, 20]), Float32Array.from([1e-37, 10]), 2, 1);
    expect(Number.isNaN(big[0])).toBe(true);
    expect(big[1]).toBe(1);
    // 16-bit frame over a zero reference: NaN (a plain division would give Inf or NaN by value)
    const z = diffMapCpu(Uint16Array.from([0, 7]), Float32Array.from([0, 0]), 2, 1);
    expect(Number.isNaN(z[0]) && Number.isNaN(z[1])).toBe(true);
  });

  it('samples the frame at (x + dx, y + dy): an integer drift is undone exactly, NaN where it leaves the frame', () => {
    const w = 31, h = 19, dx = 3, dy = -2;
    const ref = variedReference(w, h, 3);
    // content drifts by (dx, dy): what the reference shows at (x, y) the frame shows at (x + dx, y + dy)
    const frame = new Uint16Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const xs = x - dx, ys = y - dy;
      frame[y * w + x] = xs >= 0 && xs < w && ys >= 0 && ys < h ? ref[ys * w + xs] : 65535;
    }
    const d = diffMapCpu(frame, ref, w, h, { shift: [dx, dy] });
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const v = d[y * w + x];
      const inside = x + dx <= w - 1 && y + dy >= 0;
      if (inside) expect(v).toBe(0);
      else expect(Number.isNaN(v)).toBe(true);
    }
    // the opposite sign convention would not recover it
    const wrong = diffMapCpu(frame, ref, w, h, { shift: [-dx, -dy] });
    expect(Array.from(wrong).filter((v) => v === 0).length).toBeLessThan(w * h / 10);
  });

  it('recovers a fractional drift with bilinear sampling (exact on a bilinear field)', () => {
    const w = 40, h = 25;
    const g = (x: number, y: number) => 500 + 7 * x + 3 * y + 0.05 * x * y; // bilinear: interpolated exactly
    for (const [dx, dy] of [[0.25, 0.5], [-1.75, 0.125], [2.5, -3.25]] as [number, number][]) {
      const ref = new Float32Array(w * h), frame = new Float32Array(w * h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        ref[y * w + x] = g(x, y);
        frame[y * w + x] = g(x - dx, y - dy);
      }
      const d = diffMapCpu(frame, ref, w, h, { shift: [dx, dy] });
      let nanCount = 0;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const v = d[y * w + x];
        const inside = x + dx >= 0 && x + dx <= w - 1 && y + dy >= 0 && y + dy <= h - 1;
        if (inside) expect(Math.abs(v)).toBeLessThan(1e-6);
        else { expect(Number.isNaN(v)).toBe(true); nanCount++; }
      }
      const validCols = Array.from({ length: w }, (_, x) => x).filter((x) => x + dx >= 0 && x + dx <= w - 1).length;
      const validRows = Array.from({ length: h }, (_, y) => y).filter((y) => y + dy >= 0 && y + dy <= h - 1).length;
      expect(nanCount).toBe(w * h - validCols * validRows);
    }
  });

  it('does not let a non-finite neighbour with zero weight leak into an integer-shift sample', () => {
    const w = 5, h = 3;
    const ref = new Float32Array(w * h).fill(10);
    const frame = new Float32Array(w * h).fill(20);
    frame[2 * w + 2] = NaN; // (x=2, y=2)
    const d = diffMapCpu(frame, ref, w, h, { shift: [1, 0] });
    // output (1, 2) samples exactly (2, 2): NaN; output (1, 1) samples (2, 1) with zero weight on row 2
    expect(Number.isNaN(d[2 * w + 1])).toBe(true);
    expect(d[1 * w + 1]).toBe(1);
    expect(d[2 * w + 0]).toBe(1);
  });

  it('smoothing keeps a constant map constant (borders and holes included)', () => {
    const w = 23, h = 14, r = rng(4);
    const ref = new Float32Array(w * h), frame = new Float32Array(w * h);
    for (let i = 0; i < ref.length; i++) { ref[i] = 2 ** Math.floor(r() * 10); frame[i] = ref[i] * 1.5; }
    ref[40] = 0; ref[41] = NaN; // holes stay holes
    for (const radius of [1, 2, 5, 30]) {
      const d = diffMapCpu(frame, ref, w, h, { smoothRadius: radius });
      for (let i = 0; i < d.length; i++) {
        if (i === 40 || i === 41) expect(Number.isNaN(d[i])).toBe(true);
        else expect(d[i]).toBeCloseTo(0.5, 12);
      }
    }
  });

  it('smoothing a step gives the known window fractions', () => {
    const w = 12, h = 7, step = 6;
    const ref = variedReference(w, h, 5);
    const frame = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) frame[y * w + x] = x < step ? ref[y * w + x] : 2 * ref[y * w + x];
    const r1 = diffMapCpu(frame, ref, w, h, { smoothRadius: 1 });
    const r2 = diffMapCpu(frame, ref, w, h, { smoothRadius: 2 });
    for (let y = 0; y < h; y++) {
      const row1 = Array.from(r1.subarray(y * w, (y + 1) * w));
      const row2 = Array.from(r2.subarray(y * w, (y + 1) * w));
      const want1 = [0, 0, 0, 0, 0, 1 / 3, 2 / 3, 1, 1, 1, 1, 1];
      const want2 = [0, 0, 0, 0, 1 / 5, 2 / 5, 3 / 5, 4 / 5, 1, 1, 1, 1];
      row1.forEach((v, x) => expect(v).toBeCloseTo(want1[x], 6));
      row2.forEach((v, x) => expect(v).toBeCloseTo(want2[x], 6));
    }
    // clipped at the border: a step right at the edge column, r = 2 → the edge sees 3 columns
    const edge = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) edge[y * w + x] = x === 0 ? 2 * ref[y * w + x] : ref[y * w + x];
    const e = diffMapCpu(edge, ref, w, h, { smoothRadius: 2 });
    expect(e[0]).toBeCloseTo(1 / 3, 6);
    expect(e[1]).toBeCloseTo(1 / 4, 6);
    expect(e[2]).toBeCloseTo(1 / 5, 6);
    expect(e[3]).toBe(0);
  });

  it('box mean equals the brute-force NaN-aware window mean on random data with holes', () => {
    const r = rng(6);
    // dense holes (every row takes the NaN-aware path), a few holey rows among clean ones (both paths
    // and the switch between them), and none (the clean, geometric-count path)
    const cases: [number, number, number, number][] = [[17, 9, 1, 0.15], [9, 17, 3, 0.15], [33, 21, 4, 0.15], [5, 5, 7, 0.15], [31, 40, 2, 0.004], [12, 30, 5, 0.01], [40, 13, 3, 0], [3, 8, 1, 0]];
    for (const [w, h, radius, holes] of cases) {
      const src = new Float32Array(w * h);
      for (let i = 0; i < src.length; i++) src[i] = r() < holes ? NaN : (r() - 0.5) * 4;
      const got = boxMeanNanAware(src, w, h, radius);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const c = src[y * w + x];
        if (Number.isNaN(c)) { expect(Number.isNaN(got[y * w + x])).toBe(true); continue; }
        let s = 0, n = 0;
        for (let yy = Math.max(0, y - radius); yy <= Math.min(h - 1, y + radius); yy++)
          for (let xx = Math.max(0, x - radius); xx <= Math.min(w - 1, x + radius); xx++) {
            const v = src[yy * w + xx];
            if (!Number.isNaN(v)) { s += v; n++; }
          }
        expect(Math.abs(got[y * w + x] - s / n)).toBeLessThan(1e-6);
      }
    }
  });

  it('reuses `out` and rejects bad sizes, shifts and radii with clear errors', () => {
    const ref = variedReference(4, 3);
    const out = new Float32Array(12);
    expect(diffMapCpu(Uint16Array.from(ref), ref, 4, 3, {}, out)).toBe(out);
    expect(() => diffMapCpu(new Uint16Array(11), ref, 4, 3)).toThrow(/frame has 11 pixels/);
    expect(() => diffMapCpu(new Uint16Array(12), ref, 4, 3, { shift: [NaN, 0] })).toThrow(/shift/);
    expect(() => diffMapCpu(new Uint16Array(12), ref, 4, 3, { smoothRadius: 1.5 })).toThrow(/smoothRadius = 1.5/);
  });
});

describe('labelReduceCpu', () => {
  function scene(w: number, h: number, nLabels: number, seed: number) {
    const r = rng(seed);
    const labels = new Int32Array(w * h), diff = new Float32Array(w * h);
    const centres = Array.from({ length: nLabels }, () => [r() * w, r() * h, 2 + r() * Math.min(w, h) / 4]);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const i = y * w + x;
      centres.forEach(([cx, cy, rad], k) => { if ((x - cx) ** 2 + (y - cy) ** 2 < rad * rad) labels[i] = k + 1; });
      diff[i] = r() < 0.05 ? NaN : (x / w) * 0.2 - 0.03 + (r() - 0.5) * 0.02;
    }
    return { labels, diff };
  }

  it('agrees with unreactedStats (src/imaging/unreacted.ts) label by label', () => {
    const w = 64, h = 45, nLabels = 6, pixel_um = 0.05;
    const { labels, diff } = scene(w, h, nLabels, 7);
    const stats = labelReduceCpu(diff, labels, nLabels, w, 0.05);
    expect(stats.length).toBe(nLabels * LABEL_STATS_STRIDE);
    let seen = 0;
    for (let k = 1; k <= nLabels; k++) {
      const mask = Uint8Array.from(labels, (l) => (l === k ? 1 : 0));
      const ref = unreactedStats(diff, mask, w, pixel_um, 0.05);
      const got = labelMetrics(stats, k, pixel_um);
      expect(got.particlePixels).toBe(ref.particlePixels);
      expect(got.unreactedPixels).toBe(ref.unreactedPixels);
      if (ref.particlePixels === 0) continue;
      seen++;
      expect(got.particleCom_um[0]).toBeCloseTo(ref.particleCom_um[0], 10);
      expect(got.particleCom_um[1]).toBeCloseTo(ref.particleCom_um[1], 10);
      expect(got.meanDiff).toBeCloseTo(ref.meanDiff, 10);
      if (ref.comOffset_um === null) expect(got.comOffset_um).toBeNull();
      else {
        expect(got.comOffset_um).toBeCloseTo(ref.comOffset_um, 10);
        expect(got.comOffsetRel).toBeCloseTo(ref.comOffsetRel as number, 10);
      }
    }
    expect(seen).toBeGreaterThan(2);
  });

  it('counts a hand-made case', () => {
    // 4×2, label 1 = columns 0..1, label 2 = (3, 1); label 3 empty
    const labels = Int32Array.from([1, 1, 0, 0, 1, 1, 0, 2]);
    const diff = Float32Array.from([0.0, 0.1, 9, 9, NaN, 0.04, 9, 0.06]);
    const s = labelReduceCpu(diff, labels, 3, 4, 0.05);
    expect(Array.from(s.subarray(0, 8))).toEqual([4, 0.0 + Math.fround(0.1) + Math.fround(0.04), 3, 2, 0 + 1 + 0 + 1, 0 + 0 + 1 + 1, 0 + 1, 0 + 1]);
    expect(Array.from(s.subarray(8, 16))).toEqual([1, Math.fround(0.06), 1, 0, 3, 1, 0, 0]);
    expect(Array.from(s.subarray(16, 24))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(s[LabelStat.unreactedCount]).toBe(2);
  });

  it('rejects labels outside 0..nLabels', () => {
    expect(() => labelReduceCpu(new Float32Array(4), Int32Array.from([0, 1, 3, 0]), 2, 2, 0.05)).toThrow(/labels\[2\] = 3 is outside 0..2/);
    expect(() => labelReduceCpu(new Float32Array(4), Int32Array.from([0, -1, 0, 0]), 2, 2, 0.05)).toThrow(/outside/);
  });
});

describe('createCpuProcessor', () => {
  it('returns diffMapCpu + labelReduceCpu per frame, with per-frame shifts', async () => {
    const w = 21, h = 13, r = rng(8);
    const ref = variedReference(w, h, 9);
    const labels = Int32Array.from({ length: w * h }, (_, i) => (i % w < 10 ? 1 : i % w > 12 ? 2 : 0));
    const frames = [0, 1, 2].map(() => Uint16Array.from(ref, (v) => Math.round(v * (0.9 + 0.2 * r()))));
    const shifts: ([number, number] | undefined)[] = [undefined, [0.5, -1], [2, 0]];
    const p = createCpuProcessor({ width: w, height: h, reference: ref, labels, nLabels: 2, threshold: 0.05, smoothRadius: 1 });
    expect(p.backend).toBe('cpu');
    const out = await p.process(frames, shifts);
    out.forEach((o, f) => {
      const d = diffMapCpu(frames[f], ref, w, h, { shift: shifts[f], smoothRadius: 1 });
      expect(Array.from(o.diff)).toEqual(Array.from(d));
      expect(Array.from(o.labelStats)).toEqual(Array.from(labelReduceCpu(d, labels, 2, w, 0.05)));
    });
    await expect(p.process([new Uint16Array(5)])).rejects.toThrow(/frame 0 has 5 pixels/);
    expect(() => createCpuProcessor({ width: w, height: h, reference: ref, labels: new Int32Array(w * h).fill(3), nLabels: 2, threshold: 0.05 })).toThrow(/outside 0..2/);
  });
});
