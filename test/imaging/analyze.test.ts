import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { analyzeMovie, type AnalyzeOptions } from '../../src/imaging/analyze';
import { createCpuProcessor } from '../../src/imaging/processor';
import { openMovie, parseImageJDescription } from '../../src/io/movie';
import { parseCapacityCsv } from '../../src/io/capacity';
import { synthFrames, writeSynthMovie, type SynthOptions } from '../helpers/synthMovie';
import { writeTiffStack } from '../../src/io/tiffWrite';

const root = mkdtempSync(path.join(tmpdir(), 'ionflux-analyze-'));
let n = 0;

async function run(synth: SynthOptions, meta: { pixel_um?: number; frame_s?: number }, options: AnalyzeOptions = {}) {
  const dir = path.join(root, `case${++n}`);
  mkdirSync(dir);
  const moviePath = path.join(root, `movie${n}.tif`);
  await writeSynthMovie(moviePath, synth, meta);
  const movie = await openMovie(moviePath);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  try {
    const result = await analyzeMovie(movie, out, (o) => createCpuProcessor(o), options);
    return { result, out };
  } finally {
    await movie.close();
  }
}

function csv(file: string): string[][] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(','));
}

const R = 16;
/** core radius shrinking with progress s; the unreacted fraction is about 1 − s */
const shrinking = (s: number) => R * Math.sqrt(Math.max(0, 1 - s));

describe('analyze: known answers on synthetic movies', () => {
  it('a constant movie gives a zero ΔI/I0 map, zero drift and a fully unreacted particle', async () => {
    const { result, out } = await run(
      { width: 64, height: 56, frames: 5, brightening: 0, particles: [{ cx: 30, cy: 27, radius_px: R }] },
      { pixel_um: 0.1, frame_s: 2 },
    );
    const s = result.summary;
    expect([s.frames, s.width, s.height, s.pixel_um, s.frame_s, s.particles]).toEqual([5, 64, 56, 0.1, 2, 1]);
    expect(s.drift_px.every(([dx, dy]) => Math.abs(dx) < 1e-6 && Math.abs(dy) < 1e-6)).toBe(true);
    const diff = await openMovie(path.join(out, 'diff.tif'));
    expect(diff.frames).toBe(5);
    expect(diff.sampleType).toBe('float32');
    for (let i = 0; i < 5; i++) {
      const d = await diff.readFrame(i);
      expect(d.every((v) => v === 0)).toBe(true);
    }
    await diff.close();
    const p = result.particles[0];
    expect(p.unreactedFraction.every((u) => u === 1)).toBe(true);
    expect(p.comOffset_um.every((d) => d !== null && d < 1e-9)).toBe(true);
    expect(p.meanDiff.every((m) => m === 0)).toBe(true);
    expect(p.classification.asymmetric).toBeNull(); // never in the early-charge window
  });

  it('NaN pixels inside a particle are not measured: left out of the unreacted fraction and both centres of mass, and warned', async () => {
    // a float32 movie: a centred core shrinking (brightening 0.3 outside it); an 8×8 NaN patch in the
    // core in every frame (a dead region), and a 3×3 NaN patch in frame 3 only
    const synth: SynthOptions = { width: 64, height: 56, frames: 5, sampleType: 'float32', particles: [{ cx: 30, cy: 27, radius_px: R }] };
    const clean = synthFrames(synth) as Float32Array[];
    const holed = clean.map((f, k) => {
      const g = f.slice();
      for (let r = 23; r < 31; r++) for (let c = 26; c < 34; c++) g[r * 64 + c] = NaN; // centred on the core
      if (k === 3) for (let r = 20; r < 23; r++) for (let c = 20; c < 23; c++) g[r * 64 + c] = NaN;
      return g;
    });
    const analyse = async (frames: Float32Array[], name: string) => {
      const file = path.join(root, `${name}.tif`);
      await writeTiffStack(file, frames, { width: 64, height: 56, sampleType: 'float32', imagej: { pixel_um: 0.1, frame_s: 2 } });
      const movie = await openMovie(file);
      const out = path.join(root, `${name}-out`);
      mkdirSync(out);
      const warnings: string[] = [];
      try {
        return { result: await analyzeMovie(movie, out, (o) => createCpuProcessor(o), { drift: false, warn: (m) => warnings.push(m) }), warnings };
      } finally {
        await movie.close();
      }
    };
    const a = await analyse(clean, 'nan-clean'), b = await analyse(holed, 'nan-holed');
    const pa = a.result.particles[0], pb = b.result.particles[0];
    expect(b.result.summary.particles).toBe(1);
    // the reference: every measured pixel unreacted, and no offset (the hole is left out of both centres)
    expect(pb.unreactedFraction[0]).toBe(1);
    expect(pb.comOffset_um[0]).toBeLessThan(1e-9);
    // later frames: the fraction of the measured pixels, near the clean movie's (the patch is in the core,
    // so the clean fraction of the pixels outside it is a little lower: within the patch's share)
    for (let i = 1; i < 5; i++) {
      expect(Math.abs(pb.unreactedFraction[i] - pa.unreactedFraction[i]), `frame ${i}`).toBeLessThan(64 / 800);
      expect(pb.comOffset_um[i] ?? 0, `frame ${i}`).toBeLessThan(0.05);
    }
    expect(b.warnings.join('\n')).toMatch(/reference frame 0 of .* has 64 NaN or infinite pixel\(s\) .*inside a particle they are left out of its unreacted fraction and of both centres of mass/);
    expect(b.warnings.join('\n')).toMatch(/1 frame\(s\) \(first 3\) have NaN ΔI\/I0 pixels inside particles beyond the reference frame's .*at most 9 of particle 1's \d+ pixels \(frame 3\)/);
    expect(a.warnings.join('\n')).not.toMatch(/NaN/);
  });

  it('saturated pixels: not measured in the reference (NaN in every frame) nor where a clipped frame cannot tell reacted from not; clipped but clearly reacted counts as reacted', async () => {
    // 16-bit: background 1000, a disk of radius 16 at 40000 whose shell brightens to 52000 (ΔI/I0 0.3)
    // outside a centred core shrinking 99 → 12 → 9 → 6 → 3 px; mirrored pairs of patches (so that the
    // centres of mass stay put, about (30, 27)): P1 at 65535 in every frame (saturated in the reference: ΔI/I0 would
    // read 0, "unreacted"), P2 at 63000 that clips at 65535 once reacted (63000·1.3: ΔI/I0 would read
    // 0.040, under the 0.05 threshold, "unreacted"), and P3 at 50000 that clips once reacted (its
    // ΔI/I0 then reads 0.31 for 0.4: reacted all the same, so it is measured as reacted)
    const w = 64, h = 56, core = [99, 12, 9, 6, 3];
    const inDisk = (c: number, r: number) => Math.hypot(c - 30, r - 27) <= 16;
    const p1 = (c: number, r: number) => r >= 25 && r <= 29 && ((c >= 16 && c <= 19) || (c >= 41 && c <= 44));
    const p2 = (c: number, r: number) => ((r >= 33 && r <= 35) || (r >= 19 && r <= 21)) && ((c >= 22 && c <= 24) || (c >= 36 && c <= 38));
    const p3 = (c: number, r: number) => ((r >= 13 && r <= 15) || (r >= 39 && r <= 41)) && c >= 29 && c <= 31;
    const frames = core.map((rc) => {
      const f = new Uint16Array(w * h);
      for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
        const reacted = Math.hypot(c - 30, r - 27) > rc;
        f[r * w + c] = !inDisk(c, r) ? 1000 : p1(c, r) ? 65535 : p2(c, r) ? (reacted ? 65535 : 63000) : p3(c, r) ? (reacted ? 65535 : 50000) : reacted ? 52000 : 40000;
      }
      return f;
    });
    const file = path.join(root, 'saturated.tif');
    await writeTiffStack(file, frames, { width: w, height: h, sampleType: 'uint16', imagej: { pixel_um: 0.1, frame_s: 1 } });
    const movie = await openMovie(file);
    const out = path.join(root, 'saturated-out');
    mkdirSync(out);
    const warnings: string[] = [];
    try {
      const { particles } = await analyzeMovie(movie, out, (o) => createCpuProcessor(o), { drift: false, warn: (m) => warnings.push(m) });
      expect(particles).toHaveLength(1);
      const p = particles[0];
      core.forEach((rc, k) => {
        // the truth over the measured pixels: P1 never, P2 while it is not clipped, P3 always
        let measured = 0, unreacted = 0;
        for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
          const inCore = Math.hypot(c - 30, r - 27) <= rc;
          if (!inDisk(c, r) || p1(c, r) || (p2(c, r) && !inCore)) continue;
          measured++;
          if (inCore) unreacted++;
        }
        expect(p.unreactedFraction[k], `frame ${k}`).toBeCloseTo(unreacted / measured, 12);
        expect(p.comOffset_um[k] ?? 0, `frame ${k}`).toBeLessThan(1e-9);
      });
      const said = warnings.join('\n');
      expect(said).toMatch(/reference frame 0 has 40 saturated pixel\(s\) \(at 65535, 40 inside particles\): .*ΔI\/I0 is NaN there in every frame, left out of the unreacted fraction/);
      expect(said).toMatch(/3 frame\(s\) \(first 2\) have saturated pixels inside particles where I0 is within 5 % of the top \(at most 36 in one frame, frame 3\): a clipped pixel only says the intensity is at least 65535/);
      expect(said).not.toMatch(/beyond the reference frame's/); // the clipped pixels are warned once, not twice
      let kept = 0;
      core.forEach((rc) => { for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) if (p3(c, r) && Math.hypot(c - 30, r - 27) > rc) kept++; });
      expect(kept).toBeGreaterThan(0);
      expect(said).toMatch(new RegExp(`4 frame\\(s\\) \\(first 1\\) have saturated pixels inside particles \\(${kept} in all\\) whose ΔI/I0, though clipped, clears the 0\\.05 threshold: they count as reacted`));
    } finally {
      await movie.close();
    }
  });

  it('a core placed off-centre by a known amount gives that COM offset within half a pixel', async () => {
    const off: [number, number] = [6, -3];
    const px = 0.1;
    const { result } = await run(
      { width: 72, height: 64, frames: 4, particles: [{ cx: 35.5, cy: 31.2, radius_px: 20, coreOffset: off, coreRadius: (_s, f) => (f === 0 ? 99 : 8) }] },
      { pixel_um: px, frame_s: 1 },
    );
    const p = result.particles[0];
    const want = Math.hypot(...off) * px;
    for (let f = 1; f < 4; f++) {
      expect(Math.abs(p.comOffset_um[f]! - want)).toBeLessThan(0.5 * px);
      expect(p.comOffsetRel[f]).toBeCloseTo(p.comOffset_um[f]! / p.particle.eqRadius_um, 12);
    }
    // the particle: centroid and area of the disk
    // (the Otsu contour of the anti-aliased edge is not the 50 % coverage contour: ~0.1 px)
    expect(Math.abs(p.particle.centroid_um[0] - 35.5 * px)).toBeLessThan(0.1 * px);
    expect(Math.abs(p.particle.centroid_um[1] - 31.2 * px)).toBeLessThan(0.1 * px);
    expect(Math.abs(p.particle.area_um2 / (Math.PI * 20 * 20 * px * px) - 1)).toBeLessThan(0.02);
    // unreacted fraction = core area / particle area
    expect(p.unreactedFraction[2]).toBeCloseTo((8 * 8) / (20 * 20), 1);
    // default kymograph line: the direction of the offset, (6, −3) px in image coordinates = 26.6° up from +x
    expect(Math.abs(p.line!.angleDeg - (Math.atan2(3, 6) * 180) / Math.PI)).toBeLessThan(3);
  });

  it('hot pixels do not hide the particles: Otsu without them, and their blur is no particle', async () => {
    // 30 pixels at 65535 in the background of every frame (0.4 % of the frame), particles at ~1000 on
    // 100, and (the movie a user found it with) at ~3000 on 500
    for (const [background, particleIntensity] of [[100, 1000], [500, 3000]]) {
    const synth: SynthOptions = { width: 96, height: 80, frames: 4, background, particleIntensity, particles: [{ cx: 30, cy: 40, radius_px: 12 }, { cx: 66, cy: 40, radius_px: 10, coreOffset: [3, 0] }] };
    const frames = (synthFrames(synth) as Uint16Array[]).map((f) => {
      const g = f.slice();
      for (let k = 0; k < 30; k++) g[(2 + (k % 10)) * 96 + 2 + ((k * 13) % 90)] = 65535; // rows 2–11, clear of the particles
      return g;
    });
    const file = path.join(root, `hot-${background}.tif`);
    await writeTiffStack(file, frames, { width: 96, height: 80, sampleType: 'uint16', imagej: { pixel_um: 0.1, frame_s: 2 } });
    for (const segSigma_px of [0, 1.5]) {
      const movie = await openMovie(file);
      const out = path.join(root, `hot-out-${background}-${segSigma_px}`);
      mkdirSync(out);
      const warnings: string[] = [];
      try {
        const r = await analyzeMovie(movie, out, (o) => createCpuProcessor(o), { segSigma_px, warn: (m) => warnings.push(m) });
        expect(r.summary.particles, `σ ${segSigma_px}: ${warnings.join(' | ')}`).toBe(2);
        const areas = r.particles.map((p) => p.particle.area_px).sort((a, b) => a - b);
        expect(Math.abs(areas[0] - Math.PI * 100) / (Math.PI * 100)).toBeLessThan(0.15);
        expect(Math.abs(areas[1] - Math.PI * 144) / (Math.PI * 144)).toBeLessThan(0.15);
        expect(warnings.join('\n')).toMatch(/reference frame 0 has \d+ saturated pixel\(s\) \(at 65535, 0 inside particles\)/);
        if (segSigma_px === 0) expect(warnings.join('\n')).toMatch(/the 30 brightest pixel\(s\) of reference frame 0 .* were left out of the Otsu threshold/);
      } finally {
        await movie.close();
      }
    }
    }
  });

  it('--keep-border: a particle cut by the frame is measured but left unclassified, and warned', async () => {
    // a centred core in a particle whose left third is outside the frame: its visible part's COM is off its core
    const synth: SynthOptions = { width: 96, height: 64, frames: 12, particles: [{ cx: 6, cy: 32, radius_px: 14 }, { cx: 60, cy: 32, radius_px: 14, coreOffset: [5, 0] }] };
    const warnings: string[] = [];
    const { result } = await run(synth, { pixel_um: 0.1, frame_s: 1 }, { keepBorder: true, drift: false, warn: (m) => warnings.push(m) });
    expect(result.summary.particles).toBe(2);
    const cut = result.particles.find((p) => p.particle.touchesBorder)!, whole = result.particles.find((p) => !p.particle.touchesBorder)!;
    expect(cut.classification.asymmetric).toBeNull();
    expect(cut.classification.maxComOffsetRel).toBeGreaterThan(0.15); // what would have been called asymmetric
    expect(whole.classification.asymmetric).toBe(true);
    expect(result.summary.asymmetricFraction).toBe(1);
    expect(warnings.join('\n')).toMatch(new RegExp(`particle ${cut.particle.id} touches the frame border \\(kept by --keep-border\\): .* left unclassified`));
  });

  it('drift correction, once begun, goes on: an estimate back under --min-drift-px is still applied', async () => {
    // the stage still, then moved by 0.5 px, then back to 0.1 px (under the 0.15 px threshold)
    const drift = (f: number): [number, number] => (f < 3 ? [0, 0] : f < 5 ? [0.5, 0] : [0.1, 0]);
    const { result } = await run({ width: 96, height: 80, frames: 8, brightening: 0, particles: [{ cx: 48, cy: 40, radius_px: 14 }], drift }, { pixel_um: 0.1, frame_s: 1 });
    const d = result.summary.drift_px;
    for (let f = 0; f < 3; f++) expect(d[f], `frame ${f}`).toEqual([0, 0]);
    for (let f = 3; f < 8; f++) expect(Math.abs(d[f][0] - drift(f)[0]), `frame ${f}: ${d[f]}`).toBeLessThan(0.05);
  });

  it('hot pixels far above PSF-blurred particles on a bright background (a user\'s movie, test/fixtures/hot-pixels.tif): the particle is found', async () => {
    // 4 frames of a new user's movie: one blurred disk (500 → 3000 counts) and 30 pixels at 65535;
    // Otsu put its threshold at 3062, just above the particle, and no particle was found
    const movie = await openMovie(path.resolve(__dirname, '../fixtures/hot-pixels.tif'));
    const out = path.join(root, 'hot-fixture');
    mkdirSync(out);
    const warnings: string[] = [];
    try {
      const r = await analyzeMovie(movie, out, (o) => createCpuProcessor(o), { warn: (m) => warnings.push(m) });
      expect(r.summary.particles, warnings.join(' | ')).toBe(1);
      expect(warnings.join('\n')).toMatch(/the 30 brightest pixel\(s\) .* were left out of the Otsu threshold/);
    } finally {
      await movie.close();
    }
  });

  it('an overexposed particle (its core saturated) is a particle, blurred or not; a --mask particle at the border is classified', async () => {
    // 8-bit: background 20, a disk of radius 10 whose inner radius 8 is at 255, its rim at 200
    const w = 64, h = 56, frame = new Uint8Array(w * h);
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
      const d = Math.hypot(c + 0.5 - 30, r + 0.5 - 28);
      frame[r * w + c] = d <= 8 ? 255 : d <= 10 ? 200 : 20;
    }
    const file = path.join(root, 'overexposed.tif');
    await writeTiffStack(file, [frame, frame, frame], { width: w, height: h, sampleType: 'uint8', imagej: { pixel_um: 0.1, frame_s: 1 } });
    for (const segSigma_px of [0, 1.5]) {
      const movie = await openMovie(file);
      const out = path.join(root, `overexposed-${segSigma_px}`);
      mkdirSync(out);
      try {
        const r = await analyzeMovie(movie, out, (o) => createCpuProcessor(o), { segSigma_px, warn: () => {} });
        expect(r.summary.particles, `σ ${segSigma_px}`).toBe(1);
      } finally {
        await movie.close();
      }
    }
    // a mask particle touching the frame edge: the user's choice, measured and classified
    const synth: SynthOptions = { width: 96, height: 64, frames: 12, particles: [{ cx: 10, cy: 32, radius_px: 14, coreOffset: [4, 0] }] };
    const mask = new Uint8Array(96 * 64);
    for (let r = 0; r < 64; r++) for (let c = 0; c < 96; c++) if (Math.hypot(c + 0.5 - 10, r + 0.5 - 32) <= 14) mask[r * 96 + c] = 1;
    const warnings: string[] = [];
    const { result } = await run(synth, { pixel_um: 0.1, frame_s: 1 }, { mask: { data: mask, width: 96, height: 64, name: 'mask.png' }, drift: false, warn: (m) => warnings.push(m) });
    expect(result.particles[0].particle.touchesBorder).toBe(true);
    expect(result.particles[0].classification.asymmetric).not.toBeNull();
    expect(warnings.join('\n')).not.toMatch(/touches the frame border/);
  });

  it('two touching particles taken as one component are warned and left unclassified; a --mask with a label each classifies them', async () => {
    // two disks of radius 12 touching at x = 40, each core off-centre away from the other, and one apart
    const parts = [{ cx: 28, cy: 30, radius_px: 12, coreOffset: [-4, 0] as [number, number] }, { cx: 52, cy: 30, radius_px: 12, coreOffset: [4, 0] as [number, number] }, { cx: 100, cy: 30, radius_px: 12, coreOffset: [0, 4] as [number, number] }];
    const synth: SynthOptions = { width: 128, height: 64, frames: 12, particles: parts };
    const warnings: string[] = [];
    const { result } = await run(synth, { pixel_um: 0.1, frame_s: 1 }, { drift: false, warn: (m) => warnings.push(m) });
    expect(result.particles).toHaveLength(2);
    const [pair, single] = result.particles;
    expect(pair.particle.area_px).toBeGreaterThan(2 * single.particle.area_px - 20);
    expect(warnings.join('\n')).toMatch(new RegExp(`particle ${pair.particle.id} \\(2 lobes of 1[12][.\\d]*, 1[12][.\\d]* px radius, neck [\\d.]+ px\\): this looks like touching particles taken as one by the threshold .*left unclassified .*A --mask with one label per particle separates them`));
    expect(pair.classification.asymmetric).toBeNull();
    expect(single.classification.asymmetric).toBe(true);
    // the user's mask, one label per disk: all three measured and classified, no such warning
    const mask = new Uint8Array(128 * 64);
    for (let r = 0; r < 64; r++) for (let c = 0; c < 128; c++) parts.forEach((p, k) => { if (Math.hypot(c + 0.5 - p.cx, r + 0.5 - p.cy) <= p.radius_px - 0.5) mask[r * 128 + c] = k + 1; });
    const masked: string[] = [];
    const m = await run(synth, { pixel_um: 0.1, frame_s: 1 }, { drift: false, mask: { data: mask, width: 128, height: 64, name: 'mask.png' }, warn: (w) => masked.push(w) });
    expect(m.result.particles.map((p) => p.classification.asymmetric)).toEqual([true, true, true]);
    expect(masked.join('\n')).not.toMatch(/touching particles/);
  });

  it('a drift beyond the search is warned with the fix (--max-drift-px), and recovered with it', async () => {
    // 22.5 px of drift in 10 frames on a 128×96 movie: the default search is 16 px
    const synth: SynthOptions = { width: 128, height: 96, frames: 10, particles: [{ cx: 40, cy: 48, radius_px: 12 }], drift: (f) => [2.5 * f, 0] };
    const warnings: string[] = [];
    const short = await run(synth, { pixel_um: 0.1, frame_s: 1 }, { warn: (m) => warnings.push(m) });
    expect(warnings.join('\n')).toMatch(/the drift estimate reached the edge of the search \(16 px, --max-drift-px\) in \d+ frame\(s\), first [67]: .*run again with --max-drift-px 32/);
    expect(Math.abs(short.result.summary.drift_px[9][0] - 22.5)).toBeGreaterThan(1);
    const wide: string[] = [];
    const found = await run(synth, { pixel_um: 0.1, frame_s: 1 }, { maxDrift_px: 32, warn: (m) => wide.push(m) });
    expect(wide.join('\n')).not.toMatch(/edge of the search/);
    found.result.summary.drift_px.forEach(([dx, dy], f) => expect(Math.hypot(dx - 2.5 * f, dy), `frame ${f}`).toBeLessThan(0.2));
  });

  it('a known stage drift is recovered within 0.2 px and removing it restores the undrifted result', async () => {
    const base: SynthOptions = {
      width: 88, height: 72, frames: 8, noise: 10, seed: 3,
      particles: [
        { cx: 30.4, cy: 30.6, radius_px: R, coreRadius: shrinking, coreOffset: (_f, s) => [5 * s, 0] },
        { cx: 64, cy: 44, radius_px: 12, intensity: 800, coreRadius: (s) => 12 * Math.sqrt(Math.max(0, 1 - s)) },
      ],
    };
    const drift = (f: number): [number, number] => [0.9 * f - 0.1 * f * f, -0.6 * f];
    const still = await run(base, { pixel_um: 0.1, frame_s: 1 });
    const moved = await run({ ...base, drift }, { pixel_um: 0.1, frame_s: 1 });
    const raw = await run({ ...base, drift }, { pixel_um: 0.1, frame_s: 1 }, { drift: false });
    const worst = Math.max(...moved.result.summary.drift_px.map(([dx, dy], f) => Math.max(Math.abs(dx - drift(f)[0]), Math.abs(dy - drift(f)[1]))));
    expect(worst).toBeLessThan(0.2);
    expect(raw.result.summary.drift_px.every(([dx, dy]) => dx === 0 && dy === 0)).toBe(true);
    expect(moved.result.particles.length).toBe(2);
    // Tolerances: drifted frames are resampled (bilinear), which blurs the core's edge by up to a pixel
    // and moves the 0.05 contour of a 0.3 step inward by up to ~0.4 px: fractions agree within 0.06
    // (2·0.4 px / 9 px core radius × 0.5) and COM offsets within 0.6 px wherever the rim and the core
    // are both a few pixels wide (fraction 0.15 … 0.8). Uncorrected, both are off by far more.
    let worstCorrected = 0, worstRaw = 0, worstRawFraction = 0;
    for (let p = 0; p < 2; p++) {
      const a = moved.result.particles[p], b = still.result.particles[p], u = raw.result.particles[p];
      for (let f = 1; f < 8; f++) {
        if (!(b.unreactedFraction[f] > 0.15 && b.unreactedFraction[f] < 0.8)) continue;
        expect(Math.abs(a.unreactedFraction[f] - b.unreactedFraction[f])).toBeLessThan(0.06);
        worstRawFraction = Math.max(worstRawFraction, Math.abs(u.unreactedFraction[f] - b.unreactedFraction[f]));
        worstCorrected = Math.max(worstCorrected, Math.abs(a.comOffset_um[f]! - b.comOffset_um[f]!));
        worstRaw = Math.max(worstRaw, Math.abs(u.comOffset_um[f]! - b.comOffset_um[f]!));
      }
    }
    expect(worstCorrected).toBeLessThan(0.06);
    expect(worstRaw).toBeGreaterThan(0.15); // without the correction the offsets are visibly wrong
    expect(worstRawFraction).toBeGreaterThan(0.1);
  });

  it('a symmetric and an asymmetric particle get the right labels (also with noise and drift)', async () => {
    const synth: SynthOptions = {
      width: 96, height: 56, frames: 12, noise: 15, seed: 11,
      drift: (f) => [0.3 * f, 0.2 * Math.sin(f)],
      particles: [
        { cx: 26, cy: 28, radius_px: R, coreRadius: shrinking }, // symmetric shrinking core
        { cx: 68, cy: 28, radius_px: R, coreRadius: shrinking, coreOffset: (_f, s) => [0.9 * (R - shrinking(s)), 0] }, // pushed to +x
      ],
    };
    const { result, out } = await run(synth, { pixel_um: 0.08, frame_s: 30 });
    const [sym, asym] = result.particles;
    expect(sym.classification.asymmetric).toBe(false);
    expect(asym.classification.asymmetric).toBe(true);
    expect(sym.classification.maxComOffsetRel!).toBeLessThan(0.05); // the noise floor the default 0.15 is set above
    expect(asym.classification.maxComOffsetRel!).toBeGreaterThan(0.3);
    expect(result.summary.asymmetricFraction).toBe(0.5);
    expect(Math.abs(asym.line!.angleDeg)).toBeLessThan(5);
    const rows = csv(path.join(out, 'particles.csv'));
    expect(rows[0]).toEqual(['id', 'area_um2', 'eqRadius_um', 'centroidX_um', 'centroidY_um', 'asymmetric', 'maxComOffsetRel']);
    expect(rows.slice(1).map((r) => r[5])).toEqual(['false', 'true']);
  });

  it('writes exactly the SPEC §6 tables, with capacity interpolated at frame times', async () => {
    const capacity = parseCapacityCsv('time_s,voltage_V,capacity_mAh_g\n0,3.7,0\n100,4.0,10\n', 'cap.csv');
    const { result, out } = await run(
      { width: 64, height: 56, frames: 6, particles: [{ cx: 30, cy: 27, radius_px: R, coreRadius: shrinking }] },
      { pixel_um: 0.1, frame_s: 20 },
      { capacity, montageFrames: [0, 5] },
    );
    for (const f of ['summary.json', 'particles.csv', 'traces.csv', 'frames.csv', 'diff.tif', 'montage.png', 'particle_1/kymograph.png', 'particle_1/kymograph.csv']) {
      expect(existsSync(path.join(out, f)), f).toBe(true);
    }
    const traces = csv(path.join(out, 'traces.csv'));
    expect(traces[0]).toEqual(['particle', 'frame', 'time_s', 'capacity_mAh_g', 'meanDiff', 'comOffset_um', 'comOffsetRel', 'unreactedFraction']);
    expect(traces.length).toBe(1 + 6);
    expect(traces.slice(1).map((r) => Number(r[3]))).toEqual([0, 2, 4, 6, 8, 10]);
    expect(traces.slice(1).map((r) => Number(r[2]))).toEqual([0, 20, 40, 60, 80, 100]);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    for (const k of ['frames', 'width', 'height', 'pixel_um', 'frame_s', 'referenceFrame', 'particles', 'asymmetricFraction', 'drift_px', 'parameters']) expect(summary).toHaveProperty(k);
    expect(summary.drift_px.length).toBe(6);
    // diff.tif's ImageJ display range is the figures' colour range, symmetric about 0
    const desc = parseImageJDescription(readFileSync(path.join(out, 'diff.tif')).subarray(0, 4096).toString('latin1').match(/ImageJ=[^\0]*/)![0]);
    expect([Number(desc!.min), Number(desc!.max)]).toEqual([-summary.colourRange, summary.colourRange]);
    const kymo = csv(path.join(out, 'particle_1/kymograph.csv'));
    expect(kymo[0].slice(0, 3)).toEqual(['frame', 'time_s', 'capacity_mAh_g']);
    expect(kymo.length).toBe(7);
    expect(result.summary.kymographs).toHaveLength(1);
    // the line cut of the last frame: reacted (0.3) across the particle, ~0 outside
    const last = kymo[6].slice(3).map(Number);
    const mid = last[Math.floor(last.length / 2)];
    expect(mid).toBeCloseTo(0.3, 1);
    expect(Math.abs(last[0])).toBeLessThan(0.02);
  });

  it('frames outside the capacity record get an empty capacity cell, and no capacity file leaves the column empty', async () => {
    const capacity = parseCapacityCsv('time_s,capacity_mAh_g\n0,0\n50,5\n', 'cap.csv');
    const a = await run({ width: 48, height: 48, frames: 3, particles: [{ cx: 24, cy: 24, radius_px: 10 }] }, { pixel_um: 0.1, frame_s: 40 }, { capacity });
    expect(csv(path.join(a.out, 'traces.csv')).slice(1).map((r) => r[3])).toEqual(['0', '4', '']);
    expect(a.result.summary.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/fall outside/)]));
    const b = await run({ width: 48, height: 48, frames: 3, particles: [{ cx: 24, cy: 24, radius_px: 10 }] }, { pixel_um: 0.1, frame_s: 40 });
    expect(csv(path.join(b.out, 'traces.csv')).slice(1).map((r) => r[3])).toEqual(['', '', '']);
  });

  it('a movie with no particle: a clear warning and empty tables', async () => {
    const warnings: string[] = [];
    const { result, out } = await run({ width: 40, height: 40, frames: 3, particles: [], noise: 5 }, { pixel_um: 0.1, frame_s: 1 }, { warn: (m) => warnings.push(m) });
    expect(result.summary.particles).toBe(0);
    expect(result.summary.asymmetricFraction).toBeNull();
    expect(warnings.join('\n')).toMatch(/no particle found in reference frame 0/);
    expect(csv(path.join(out, 'particles.csv'))).toHaveLength(1);
    expect(csv(path.join(out, 'traces.csv'))).toHaveLength(1);
    expect(existsSync(path.join(out, 'diff.tif'))).toBe(true);
  });

  it('a later reference frame and a fixed line angle', async () => {
    const { result } = await run(
      { width: 64, height: 56, frames: 6, particles: [{ cx: 30, cy: 27, radius_px: R, coreRadius: shrinking }] },
      { pixel_um: 0.1, frame_s: 1 },
      { reference: 2, lineAngleDeg: 90 },
    );
    expect(result.summary.referenceFrame).toBe(2);
    const p = result.particles[0];
    expect(p.meanDiff[2]).toBe(0);
    expect(p.meanDiff[0]).toBeLessThan(0); // earlier frames are darker than the reference
    expect(p.line!.angleDeg).toBe(90);
    // a vertical line: start below the particle (larger y), end above
    expect(p.line!.start_px[1]).toBeGreaterThan(p.line!.end_px[1]);
    expect(Math.abs(p.line!.start_px[0] - p.line!.end_px[0])).toBeLessThan(1e-9);
  });
});
