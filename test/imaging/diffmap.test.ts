/**
 * The float32 references of src/imaging/diffmap.ts on inputs with known answers, and against
 * brute-force definitions (box mean) and src/observables/unreacted.ts (label sums).
 */
import { describe, expect, it } from 'vitest';
import {
  boxMeanNanAware,
  diffMapCpu,
  labelMetrics,
  labelReduceCpu,
  LabelStat,
  LABEL_STATS_STRIDE,
  labelReduceRuns,
  labelRuns,
  prepareReference,
  type FrameData,
} from '../../src/imaging/diffmap';
import { unreactedStats } from '../../src/observables/unreacted';
import { createCpuProcessor } from '../../src/imaging/processor';
import { rng } from '../helpers/random';


/** distance in float32 ulps between two finite float32 values of the same sign (0 = identical) */
function ulpDistance(a: number, b: number): number {
  const bits = new Int32Array(Float32Array.of(a, b).buffer);
  return Math.abs(bits[0] - bits[1]);
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

  it('gives (I − I0)/I0 per pixel (within 1 ulp), the same for every frame type holding the same values', () => {
    const w = 13, h = 11, r = rng(2);
    const ref = new Float32Array(w * h), vals = new Uint8Array(w * h);
    for (let i = 0; i < ref.length; i++) { ref[i] = 1 + Math.floor(r() * 200); vals[i] = Math.floor(r() * 256); }
    // the definition: (I − I0) times the float32 reciprocal, rounded once to float32
    const expected = Array.from(vals, (v, i) => Math.fround((v - ref[i]) * Math.fround(1 / ref[i])));
    for (const frame of [vals, Uint16Array.from(vals), Float32Array.from(vals)]) {
      const d = diffMapCpu(frame, ref, w, h);
      expect(Array.from(d)).toEqual(expected);
      // … which is the quotient rounded to float32, or one float32 ulp next to it
      d.forEach((v, i) => expect(ulpDistance(v, Math.fround((vals[i] - ref[i]) / ref[i]))).toBeLessThanOrEqual(1));
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
    expect(() => diffMapCpu(new Uint16Array(11), ref, 4, 3)).toThrow(/^frame has 11 values, but width × height is 4×3 = 12/);
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

  it('agrees with unreactedStats (src/observables/unreacted.ts) label by label', () => {
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
    // the NaN pixel (0, 1) counts in pixelCount only: the coordinate sums are the finite pixels'
    expect(Array.from(s.subarray(0, 8))).toEqual([4, 0.0 + Math.fround(0.1) + Math.fround(0.04), 3, 2, 0 + 1 + 1, 0 + 0 + 1, 0 + 1, 0 + 1]);
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

describe('prepareReference (the reciprocal path)', () => {
  const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

  it('inv = fround(1/I0), NaN exactly where the reference is 0, subnormal, ±Inf or NaN; intSafe unless tiny', () => {
    // 1.1e-38: subnormal, yet its reciprocal (9e37) is a finite float32: the test is on the reference
    const ref = Float32Array.from([0, -0, 1e-40, -1e-40, 1.1e-38, -1.1e-38, Infinity, -Infinity, NaN, 1.1754943508222875e-38, -3, 0.1, 65535, 3e38]);
    const p = prepareReference(ref);
    expect(p.reference).toBe(ref);
    const nan = [true, true, true, true, true, true, true, true, true, false, false, false, false, false];
    p.inv.forEach((v, i) => {
      expect(Number.isNaN(v)).toBe(nan[i]);
      if (!nan[i]) expect(v).toBe(Math.fround(1 / ref[i]));
    });
    expect(p.intSafe).toBe(false); // 1/FLOAT32_MIN_NORMAL = 2^126: a 16-bit sample could overflow
    expect(prepareReference(Float32Array.from([1e-30, 5, NaN, 0])).intSafe).toBe(true);
    expect(prepareReference(p)).toBe(p);
    expect(() => prepareReference(ref, new Float32Array(3))).toThrow(/^prepareReference: inv has 3 values, but the reference has 14/);
    const into = new Float32Array(ref.length);
    expect(prepareReference(ref, into).inv).toBe(into);
  });

  it('diffMapCpu gives the same bits with a prepared or a bare reference, every frame type, shift and radius', () => {
    const w = 37, h = 23, r = rng(11);
    const ref = variedReference(w, h, 12);
    ref[5] = 0; ref[50] = 1e-41; ref[77] = NaN; ref[99] = -Infinity; ref[120] = -250;
    const p = prepareReference(ref);
    const u16 = Uint16Array.from(ref, (v) => (Number.isFinite(v) ? Math.max(0, v) * (0.8 + 0.4 * r()) : 7));
    const f32 = Float32Array.from(u16, (v) => v * 1.001);
    f32[200] = Infinity; f32[201] = -Infinity; f32[202] = NaN;
    const u8 = Uint8Array.from(u16, (v) => v >> 4);
    for (const frame of [u16, f32, u8] as FrameData[]) {
      for (const opts of [{}, { shift: [0.3, -1.7] as [number, number] }, { smoothRadius: 2 }, { shift: [2, 1] as [number, number], smoothRadius: 1 }]) {
        expect(bitsOf(diffMapCpu(frame, p, w, h, opts))).toEqual(bitsOf(diffMapCpu(frame, ref, w, h, opts)));
      }
    }
  });

  it('keeps the NaN rules: unusable reference, non-finite sample, float32 overflow (16-bit frames over tiny references too)', () => {
    // float32 frame: ±Inf / NaN samples and unusable references → NaN, never ±Inf
    const ref = Float32Array.from([0, 1e-40, Infinity, NaN, 10, 10, 10, -4]);
    const frame = Float32Array.from([5, 5, 5, 5, Infinity, -Infinity, NaN, 2]);
    for (const reference of [ref, prepareReference(ref)]) {
      const d = diffMapCpu(frame, reference, 8, 1);
      expect(Array.from(d.subarray(0, 7)).every((v) => Number.isNaN(v))).toBe(true);
      expect(d[7]).toBe(Math.fround((2 + 4) * Math.fround(-1 / 4)));
    }
    // 16-bit frame over a tiny (normal) reference: the quotient overflows float32 → NaN; v = 0 gives ≈ −1
    const tiny = Float32Array.from([1e-37, 1e-37, 2e-38, 1e-37]);
    const p = prepareReference(tiny);
    expect(p.intSafe).toBe(false);
    for (const Type of [Uint16Array, Uint8Array]) {
      const d = diffMapCpu(Type.from([200, 0, 7, 0]), p, 4, 1);
      expect(Number.isNaN(d[0]) && Number.isNaN(d[2])).toBe(true); // 2e39, 3.5e38 > FLT_MAX
      expect(d[1]).toBeCloseTo(-1, 6);
      expect(d[3]).toBeCloseTo(-1, 6);
      // shifted by one pixel: output x samples x + 1
      const s = diffMapCpu(Type.from([0, 200, 0, 5]), p, 4, 1, { shift: [1, 0] });
      expect(Number.isNaN(s[0])).toBe(true); // 200 over 1e-37
      expect(s[1]).toBeCloseTo(-1, 6);
      expect(s[2] / 2.5e38).toBeCloseTo(1, 5); // 5 over 2e-38: large but finite
      expect(Number.isNaN(s[3])).toBe(true); // outside the frame
    }
    // a constant movie stays exactly 0 on the reciprocal path, shifted by whole pixels too
    const w = 19, h = 7, cref = variedReference(w, h, 13);
    const pc = prepareReference(cref);
    for (const frame of [Uint16Array.from(cref), Float32Array.from(cref)] as FrameData[]) {
      expect(Array.from(diffMapCpu(frame, pc, w, h)).every((v) => Object.is(v, 0))).toBe(true);
    }
  });
});

describe('labelRuns + labelReduceRuns', () => {
  it('equal labelReduceCpu bit for bit (NaN holes, values at the threshold, labels touching, edges)', () => {
    const r = rng(21);
    for (const [w, h, nLabels] of [[37, 23, 6], [1, 9, 2], [16, 1, 3], [64, 40, 1], [5, 5, 0]]) {
      const labels = new Int32Array(w * h);
      // blobs of random labels with touching runs and single pixels
      for (let i = 0; i < labels.length; i++) labels[i] = nLabels === 0 ? 0 : r() < 0.3 ? 0 : i > 0 && r() < 0.7 ? labels[i - 1] || 1 : 1 + Math.floor(r() * nLabels);
      const lr = labelRuns(labels, nLabels, w);
      for (const threshold of [0.05, -0.2, 0]) {
        const diff = Float32Array.from({ length: w * h }, () => (r() < 0.1 ? NaN : r() < 0.1 ? threshold : (r() - 0.5) * 0.7));
        const want = labelReduceCpu(diff, labels, nLabels, w, threshold);
        const got = new Float64Array(want.length).fill(123);
        labelReduceRuns(diff, lr.runs, lr.base, w, threshold, got);
        expect(Array.from(got)).toEqual(Array.from(want));
      }
    }
    expect(() => labelRuns(Int32Array.from([0, 4]), 3, 2)).toThrow(/labels\[1\] = 4 is outside 0..3/);
  });
});

describe('createCpuProcessor on several threads', () => {
  const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
  function scene(w: number, h: number, nFrames: number, seed: number) {
    const r = rng(seed);
    const reference = variedReference(w, h, seed);
    reference[3] = 0; reference[w + 4] = NaN;
    const labels = Int32Array.from({ length: w * h }, (_, i) => ((i % w) * 3 / w | 0) + ((i / w | 0) < h / 2 ? 0 : 3) * (i % 5 === 0 ? 0 : 1));
    const nLabels = 5;
    const frames: FrameData[] = [];
    for (let f = 0; f < nFrames; f++) {
      const u16 = Uint16Array.from(reference, (v) => (Number.isFinite(v) ? v * (0.93 + 0.14 * r()) : 0));
      frames.push(f % 3 === 0 ? u16 : f % 3 === 1 ? Float32Array.from(u16, (v) => v * 1.0003) : Uint8Array.from(u16, (v) => v >> 4));
    }
    (frames[1] as Float32Array)[17] = Infinity;
    return { reference, labels, nLabels, frames };
  }

  for (const frameTransport of ['shared', 'transfer'] as const) {
    it(`gives bit-identical maps and sums to one thread (${frameTransport} frames; 2 and 3 threads, odd batches, shifts, smoothing)`, async () => {
      const w = 67, h = 41;
      const { reference, labels, nLabels, frames } = scene(w, h, 7, 31);
      const shifts = frames.map((_, f): [number, number] | undefined => (f === 2 ? undefined : [0.37 * f - 1, -0.21 * f]));
      for (const smoothRadius of [0, 2]) {
        const opts = { width: w, height: h, reference, labels, nLabels, threshold: 0.02, smoothRadius };
        const single = createCpuProcessor(opts, { threads: 1 });
        const want = await single.process(frames, shifts);
        expect(single.threads).toBe(1);
        for (const threads of [2, 3]) {
          const p = createCpuProcessor(opts, { threads, frameTransport });
          for (const batch of [frames, frames.slice(0, 2), frames.slice(1, 6), frames.slice(3, 4)]) {
            const s0 = frames.indexOf(batch[0]);
            const got = await p.process(batch, shifts.slice(s0, s0 + batch.length));
            expect(got.length).toBe(batch.length);
            got.forEach((o, k) => {
              expect(o.diff.length).toBe(w * h);
              expect(bitsOf(o.diff)).toEqual(bitsOf(want[s0 + k].diff));
              expect(Array.from(o.labelStats)).toEqual(Array.from(want[s0 + k].labelStats));
            });
          }
          expect(p.threads).toBe(threads);
          p.destroy();
          expect(p.threads).toBe(1);
          // still usable after destroy, on one thread
          const [again] = await p.process([frames[4]], [shifts[4]]);
          expect(bitsOf(again.diff)).toEqual(bitsOf(want[4].diff));
        }
      }
      // the caller's frames are left alone (copied, never transferred)
      expect(frames.every((f) => f.length === w * h)).toBe(true);
    });
  }

  it('reuses its output maps across calls: each call correct, maps distinct within a call (1 and 2 threads)', async () => {
    const w = 53, h = 37;
    const { reference, labels, nLabels, frames } = scene(w, h, 6, 33);
    const shifts = frames.map((_, f): [number, number] | undefined => (f % 2 ? [0.25 * f, -0.4] : undefined));
    const check = (got: { diff: Float32Array; labelStats: Float64Array }[], s0: number) => {
      got.forEach((o, k) => {
        const d = diffMapCpu(frames[s0 + k], reference, w, h, { shift: shifts[s0 + k] });
        expect(bitsOf(o.diff)).toEqual(bitsOf(d));
        expect(Array.from(o.labelStats)).toEqual(Array.from(labelReduceCpu(d, labels, nLabels, w, 0.02)));
      });
      // no two results of one call share memory (they may be views of one buffer): overwrite one at a
      // time and check that the others keep their values
      const copies = got.map((o) => o.diff.slice());
      got.forEach((o, k) => {
        o.diff.fill(-12345);
        got.forEach((other, j) => { if (j !== k) expect(bitsOf(other.diff)).toEqual(bitsOf(copies[j])); });
        o.diff.set(copies[k]);
      });
    };
    for (const [threads, wasm] of [[1, true], [2, true], [2, false]] as const) {
      const p = createCpuProcessor({ width: w, height: h, reference, labels, nLabels, threshold: 0.02 }, { threads, wasm });
      const first = await p.process(frames.slice(0, 4), shifts.slice(0, 4));
      check(first, 0);
      const firstMaps = first.map((o) => o.diff);
      const second = await p.process(frames.slice(2, 6), shifts.slice(2, 6));
      check(second, 2);
      // the second call wrote into the first call's arrays (the contract: valid until the next call)
      second.forEach((o, k) => expect(o.diff).toBe(firstMaps[k]));
      // a bigger batch grows the pool; the earlier positions are still reused
      const third = await p.process(frames, shifts);
      check(third, 0);
      expect(third[0].diff).toBe(firstMaps[0]);
      expect(p.threads).toBe(threads);
      p.destroy();
    }
  });

  it('the WebAssembly SIMD map is bit-identical to the JS kernels (unusable references, odd pixel count, smoothing)', async () => {
    const w = 61, h = 23; // 1403 pixels: 3 left over after the groups of 4
    const { reference, labels, nLabels } = scene(w, h, 2, 34);
    reference[10] = 0; reference[11] = NaN; reference[12] = Infinity; reference[13] = -Infinity; reference[14] = 1e-39; reference[15] = -250.5;
    reference[w * h - 1] = NaN; reference[w * h - 2] = 0;
    const r = rng(35);
    const frames = [0, 1, 2].map((f) => Uint16Array.from(reference, (_, i) => (f === 2 && i % 7 === 0 ? 65535 : f === 1 && i % 5 === 0 ? 0 : Math.floor(r() * 65536))));
    for (const smoothRadius of [0, 1]) {
      const opts = { width: w, height: h, reference, labels, nLabels, threshold: 0.02, smoothRadius };
      const js = await createCpuProcessor(opts, { threads: 1, wasm: false }).process(frames);
      for (const threads of [1, 2]) {
        const p = createCpuProcessor(opts, { threads });
        const got = await p.process(frames);
        got.forEach((o, f) => {
          expect(bitsOf(o.diff)).toEqual(bitsOf(js[f].diff));
          expect(bitsOf(o.diff)).toEqual(bitsOf(diffMapCpu(frames[f], reference, w, h, { smoothRadius })));
          expect(Array.from(o.labelStats)).toEqual(Array.from(js[f].labelStats));
        });
        p.destroy();
      }
    }
    expect(() => createCpuProcessor({ width: w, height: h, reference, labels, nLabels, threshold: 0.02 }, { wasm: 1 as unknown as boolean })).toThrow(/wasm = 1/);
  });

  it('matches diffMapCpu + labelReduceCpu; concurrent calls; small frames stay on one thread by default', async () => {
    const w = 45, h = 29;
    const { reference, labels, nLabels, frames } = scene(w, h, 6, 32);
    const opts = { width: w, height: h, reference, labels, nLabels, threshold: 0.02 };
    const p = createCpuProcessor(opts, { threads: 2 });
    // concurrent calls run one after the other; the maps are reused, so the second call's maps replace
    // the first's (same arrays), while each call's label sums stay its own
    const [a, b] = await Promise.all([p.process(frames.slice(0, 3)), p.process(frames.slice(3))]);
    [...a, ...b].forEach((o, f) => {
      const d = diffMapCpu(frames[f], reference, w, h);
      expect(Array.from(o.labelStats)).toEqual(Array.from(labelReduceCpu(d, labels, nLabels, w, 0.02)));
      if (f >= 3) expect(bitsOf(o.diff)).toEqual(bitsOf(d));
    });
    a.forEach((o, k) => expect(o.diff).toBe(b[k].diff));
    expect(p.threads).toBe(2);
    // destroyed while a batch is in flight: the helper's frames are done on this thread, same bits
    const inFlight = p.process(frames);
    await new Promise((resolve) => setImmediate(resolve)); // this thread's share done, the helper's posted
    p.destroy();
    (await inFlight).forEach((o, f) => expect(bitsOf(o.diff)).toEqual(bitsOf(diffMapCpu(frames[f], reference, w, h))));
    expect(p.threads).toBe(1);
    const auto = createCpuProcessor(opts);
    await auto.process(frames);
    expect(auto.threads).toBe(1);
    expect(() => createCpuProcessor(opts, { threads: 0 })).toThrow(/threads = 0/);
  });
});
