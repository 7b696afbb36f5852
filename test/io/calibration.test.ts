/**
 * Calibration of TIFF movies written by real writers (test/fixtures/make_movie_fixtures.py, tifffile
 * 2023.2.3): OME-XML with units, non-square pixels, multi-channel and RGB planar files; and where each
 * value came from (summary.json `calibration`).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openMovie, readImage } from '../../src/io/movie';
import { omePlaneIndex, parseOmeXml, resolveCalibration } from '../../src/io/calibration';
import { analyzeMovie } from '../../src/imaging/analyze';
import { createCpuProcessor } from '../../src/imaging/processor';
import { userError } from '../helpers/errors';

const fixture = (name: string) => path.join(__dirname, '..', 'fixtures', name);
const root = mkdtempSync(path.join(tmpdir(), 'ionflux-calibration-'));


describe('OME-TIFF calibration', () => {
  it('reads PhysicalSizeX/Y and TimeIncrement with their units (nm, ms)', async () => {
    const m = await openMovie(fixture('ome_nm_ms.ome.tif'));
    try {
      expect([m.width, m.height, m.frames, m.sampleType]).toEqual([24, 20, 3, 'uint16']);
      expect(m.calibration.pixelX_um).toMatchObject({ source: 'ome-xml', detail: 'PhysicalSizeX=95.0 nm' });
      expect(m.calibration.pixelX_um!.value).toBeCloseTo(0.095, 12);
      expect(m.calibration.pixelY_um!.value).toBeCloseTo(0.095, 12);
      expect(m.calibration.frame_s).toMatchObject({ value: 0.5, source: 'ome-xml' });
      expect(m.pixel_um).toBeCloseTo(0.095, 12);
      // the frames are the planes in order: 1000 + 100 t + (i mod 7)
      const f2 = await m.readFrame(2);
      expect(f2[0]).toBe(1200);
      expect(f2[8]).toBe(1201);
    } finally {
      await m.close();
    }
  });

  it('the OME schema defaults: µm and s when no unit is given; plane order follows DimensionOrder', () => {
    const p = parseOmeXml('<OME><Image><Pixels DimensionOrder="XYCZT" SizeX="4" SizeY="3" SizeC="2" SizeZ="1" SizeT="5" PhysicalSizeX="0.2" PhysicalSizeY="0.2" TimeIncrement="3"/></Image></OME>')!;
    expect(p.calibration.pixelX_um).toMatchObject({ value: 0.2, source: 'ome-xml' });
    expect(p.calibration.frame_s!.value).toBe(3);
    expect(omePlaneIndex(p, 0, 1, 2)).toBe(1 + 2 * 2); // C fastest, then Z (1), then T
    expect(omePlaneIndex({ dimensionOrder: 'XYTCZ', sizeZ: 1, sizeC: 2, sizeT: 5 }, 0, 1, 2)).toBe(2 + 5 * 1);
    const odd = parseOmeXml('<OME><Image><Pixels SizeX="4" SizeY="3" PhysicalSizeX="2" PhysicalSizeXUnit="furlong"/></Image></OME>')!;
    expect(odd.calibration.pixelX_um).toBeNull();
    expect(odd.notes.join(' ')).toContain("furlong");
  });

  it('a multi-channel OME-TIFF is refused without --channel and read one channel with it', async () => {
    const msg = await userError(openMovie(fixture('ome_tcyx.ome.tif')));
    expect(msg).toContain('has 3 channels (OME-XML SizeC=3)');
    expect(msg).toContain('--channel N (0 … 2)');
    const m = await openMovie(fixture('ome_tcyx.ome.tif'), { channel: 1 });
    try {
      expect(m.frames).toBe(2);
      expect((await m.readFrame(0))[0]).toBe(2000);
      expect((await m.readFrame(1))[0]).toBe(2001);
    } finally {
      await m.close();
    }
    expect(await userError(openMovie(fixture('ome_tcyx.ome.tif'), { channel: 3 }))).toContain('--channel 3 is not allowed');
  });
});

describe('non-square pixels', () => {
  it('OME and ImageJ files with X ≠ Y pixel sizes are refused with both sizes named', async () => {
    for (const [file, x, y] of [['ome_aniso.ome.tif', 'PhysicalSizeX=0.1 µm', 'PhysicalSizeY=0.2 µm'], ['imagej_aniso.tif', 'XResolution=10/um', 'YResolution=5/um']]) {
      const m = await openMovie(fixture(file));
      try {
        expect(m.calibration.pixelX_um!.value).toBeCloseTo(0.1, 9);
        expect(m.calibration.pixelY_um!.value).toBeCloseTo(0.2, 9);
        const out = path.join(root, `aniso-${file}`);
        mkdirSync(out);
        const msg = await userError(analyzeMovie(m, out, (o) => createCpuProcessor(o), {}));
        expect(msg).toContain('has non-square pixels: 0.1 µm wide');
        expect(msg).toContain(x);
        expect(msg).toContain(y);
        expect(msg).toContain('--pixel-um');
      } finally {
        await m.close();
      }
    }
  });

  it('--pixel-um accepts them as square, with a warning and the flag as the source', async () => {
    const m = await openMovie(fixture('imagej_aniso.tif'));
    try {
      const { calibration, warnings } = resolveCalibration(m.path, m.calibration, { pixel_um: 0.15 });
      expect(calibration.pixel_um).toMatchObject({ value: 0.15, source: 'flag' });
      expect(calibration.frame_s).toMatchObject({ value: 1, source: 'imagej' });
      expect(warnings.join()).toContain('non-square pixels');
    } finally {
      await m.close();
    }
  });
});

describe('an override far from the file\'s own value', () => {
  it('is warned (a unit slip: 80 for 0.08), a small recalibration is not', () => {
    const cal = { pixelX_um: { value: 0.05, source: 'imagej' as const }, pixelY_um: { value: 0.05, source: 'imagej' as const }, frame_s: { value: 60, source: 'imagej' as const } };
    const far = resolveCalibration('m.tif', cal as never, { pixel_um: 80, frame_s: 1 });
    expect(far.calibration.pixel_um.value).toBe(80);
    expect(far.warnings).toEqual([
      "--pixel-um 80 overrides the pixel size in m.tif's metadata, 0.05 µm (imagej), by ×1600: lengths and areas follow the option; leave it out to use the file's",
      "--frame-s 1 overrides the frame interval in m.tif's metadata, 60 s (imagej), by ×0.0167: times follow the option; leave it out to use the file's",
    ]);
    expect(resolveCalibration('m.tif', cal as never, { pixel_um: 0.052, frame_s: 62 }).warnings).toEqual([]);
  });
});

describe('multi-sample (RGB) TIFF', () => {
  it('a float64 planar RGB stack (scikit-image multipage_rgb layout) is refused naming the channel count, not called corrupt', async () => {
    const msg = await userError(openMovie(fixture('multipage_rgb_f64.tif')));
    expect(msg).toContain('3 samples per pixel');
    expect(msg).toContain('3-channel images are not supported');
    expect(msg).not.toMatch(/truncated|corrupt/);
    // as a mask (no --channel there) it says what to do instead
    expect(await userError(readImage(fixture('multipage_rgb_f64.tif')))).toContain('3-channel images are not supported; save it as a single-channel (greyscale) image');
  });

  it('--channel N reads that sample plane of every page (converted to float32)', async () => {
    const m = await openMovie(fixture('multipage_rgb_f64.tif'), { channel: 2 });
    try {
      expect([m.width, m.height, m.frames, m.sampleType]).toEqual([12, 10, 2, 'float32']);
      expect((await m.readFrame(0))[5]).toBe(20);
      expect((await m.readFrame(1))[5]).toBe(21);
    } finally {
      await m.close();
    }
  });
});

describe("scikit-image's own multipage_rgb.tif", () => {
  // test/fixtures/skimage_multipage_rgb.tif is scikit-image's src/_skimage2/data/multipage_rgb.tif
  // (commit cd0a3d22b, BSD-3-Clause; written by tifffile in 2015): 2 pages, float64, planar RGB, one
  // SampleFormat value for the three samples. Values below from tifffile.imread, shape (2, 3, 10, 10).
  it('is refused as 3-channel without --channel (it used to be called truncated or corrupt)', async () => {
    const msg = await userError(openMovie(fixture('skimage_multipage_rgb.tif')));
    expect(msg).toContain('has 3 samples per pixel (RGB pixels, 64-bit float): 3-channel images are not supported; pass --channel N (0 … 2)');
  });
  it('--channel reads each sample plane exactly as tifffile does (float64 → float32)', async () => {
    const cases: [number, number, number, number][] = [[1, 0, 5, 0.5172255661117908], [2, 1, 34, 0.016332908996717466], [0, 1, 99, 0.08858111689442116]];
    for (const [channel, page, index, value] of cases) {
      const m = await openMovie(fixture('skimage_multipage_rgb.tif'), { channel });
      try {
        expect([m.width, m.height, m.frames, m.sampleType]).toEqual([10, 10, 2, 'float32']);
        expect((await m.readFrame(page))[index]).toBe(Math.fround(value));
      } finally {
        await m.close();
      }
    }
  });
});

describe('summary.json calibration provenance', () => {
  it('names the source of every value: metadata, flag or default (with a warning)', async () => {
    const cases: [string, { pixel_um?: number; frame_s?: number }, string, string][] = [
      ['ome_nm_ms.ome.tif', {}, 'ome-xml', 'ome-xml'],
      ['ome_nm_ms.ome.tif', { frame_s: 4 }, 'ome-xml', 'flag'],
      ['multipage_rgb_f64.tif', {}, 'default', 'default'],
    ];
    let k = 0;
    for (const [file, flags, pixelSource, frameSource] of cases) {
      const m = await openMovie(fixture(file), file.includes('rgb') ? { channel: 0 } : {});
      const out = path.join(root, `prov${k++}`);
      mkdirSync(out);
      const warnings: string[] = [];
      try {
        await analyzeMovie(m, out, (o) => createCpuProcessor(o), { ...flags, warn: (w) => warnings.push(w) });
      } finally {
        await m.close();
      }
      const s = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
      expect(s.calibration.pixel_um.source).toBe(pixelSource);
      expect(s.calibration.frame_s.source).toBe(frameSource);
      expect(s.pixel_um).toBe(s.calibration.pixel_um.value);
      expect(s.frame_s).toBe(s.calibration.frame_s.value);
      if (pixelSource === 'default') {
        expect(s.calibration.pixel_um.value).toBe(1);
        expect(warnings.some((w) => w.includes('no pixel size'))).toBe(true);
      } else {
        expect(warnings.some((w) => w.includes('no pixel size'))).toBe(false);
      }
      if (frameSource === 'flag') expect(s.frame_s).toBe(4);
    }
  });
});
