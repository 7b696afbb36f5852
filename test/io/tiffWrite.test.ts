import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fromFile } from 'geotiff';
import { createTiffStackWriter, toRational, writeTiffStack } from '../../src/io/tiffWrite';
import { openMovie, parseImageJDescription } from '../../src/io/movie';

const dir = mkdtempSync(path.join(tmpdir(), 'ionflux-tiffw-'));

function ramp(n: number, k: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + k) * (k + 1);
  return a;
}

describe('TIFF stack writer', () => {
  it('writes a float32 ImageJ stack that geotiff reads back page by page, NaN included', async () => {
    const file = path.join(dir, 'f32.tif');
    const w = 7, h = 5;
    const pages = [ramp(w * h, 0), ramp(w * h, 1), ramp(w * h, 2)];
    pages[1][3] = NaN;
    await writeTiffStack(file, pages, { width: w, height: h, sampleType: 'float32', imagej: { pixel_um: 0.05, frame_s: 2.5 } });
    const tiff = await fromFile(file);
    expect(await tiff.getImageCount()).toBe(3);
    for (let k = 0; k < 3; k++) {
      const img = await tiff.getImage(k);
      expect([img.getWidth(), img.getHeight(), img.getBitsPerSample(0), img.getSampleFormat(0)]).toEqual([w, h, 32, 3]);
      const [band] = (await img.readRasters({ interleave: false })) as unknown as Float32Array[];
      expect(Array.from(band)).toEqual(Array.from(pages[k]));
    }
    const first = await tiff.getImage(0);
    const desc = parseImageJDescription(await first.getFileDirectory().loadValue('ImageDescription'));
    expect(desc).toMatchObject({ images: '3', frames: '3', unit: 'micron', finterval: '2.5' });
    // min/max over finite values, for ImageJ's display range
    const finite = pages.flatMap((p) => Array.from(p)).filter((v) => Number.isFinite(v));
    expect(Number(desc!.min)).toBeCloseTo(Math.min(...finite), 6);
    expect(Number(desc!.max)).toBeCloseTo(Math.max(...finite), 6);
    await tiff.close();
    // and our movie reader takes the calibration from it
    const movie = await openMovie(file);
    expect([movie.frames, movie.width, movie.height, movie.sampleType]).toEqual([3, w, h, 'float32']);
    expect(movie.pixel_um).toBeCloseTo(0.05, 9);
    expect(movie.frame_s).toBe(2.5);
    await movie.close();
  });

  it('scanRange false: no scan of the pages, the display range given to close() (or none)', async () => {
    const w = 6, h = 4;
    for (const range of [[-0.25, 0.25], undefined] as const) {
      const file = path.join(dir, `range-${range ? 'given' : 'none'}.tif`);
      const tw = await createTiffStackWriter(file, { width: w, height: h, sampleType: 'float32', frames: 2, imagej: { pixel_um: 0.05 }, scanRange: false });
      await tw.writePage(ramp(w * h, 0));
      await tw.writePage(ramp(w * h, 1));
      await tw.close(range ? [range[0], range[1]] : undefined);
      const tiff = await fromFile(file);
      const desc = parseImageJDescription(await (await tiff.getImage(0)).getFileDirectory().loadValue('ImageDescription'));
      await tiff.close();
      if (range) expect([desc!.min, desc!.max]).toEqual(['-0.25', '0.25']);
      else expect(desc!.min).toBeUndefined();
      // the pixels are those written
      const m = await openMovie(file);
      expect(Array.from((await m.readFrame(1)) as Float32Array)).toEqual(Array.from(ramp(w * h, 1)));
      await m.close();
    }
  });

  it('keeps the ImageJ layout: all pixel data contiguous after the first IFD', async () => {
    const file = path.join(dir, 'layout.tif');
    const w = 4, h = 3;
    const pages = [new Uint16Array(12).fill(1), new Uint16Array(12).fill(2), new Uint16Array(12).fill(3)];
    await writeTiffStack(file, pages, { width: w, height: h, sampleType: 'uint16', imagej: { pixel_um: 0.1 } });
    const tiff = await fromFile(file);
    const offsets: number[] = [];
    for (let k = 0; k < 3; k++) offsets.push(Number(await (await tiff.getImage(k)).getFileDirectory().loadValue('StripOffsets')));
    expect(offsets[1] - offsets[0]).toBe(w * h * 2);
    expect(offsets[2] - offsets[1]).toBe(w * h * 2);
    const bytes = readFileSync(file);
    expect(bytes.readUInt16LE(offsets[2])).toBe(3);
    await tiff.close();
  });

  it('writes BigTIFF when asked (and geotiff reads it), 8-bit pages of odd size included', async () => {
    const file = path.join(dir, 'big.tif');
    const w = 5, h = 3;
    const pages = [Uint8Array.from({ length: 15 }, (_, i) => i), Uint8Array.from({ length: 15 }, (_, i) => 100 + i)];
    await writeTiffStack(file, pages, { width: w, height: h, sampleType: 'uint8', bigTiff: true });
    const bytes = readFileSync(file);
    expect(bytes.readUInt16LE(2)).toBe(43);
    const movie = await openMovie(file);
    expect(movie.frames).toBe(2);
    expect(Array.from(await movie.readFrame(1))).toEqual(Array.from(pages[1]));
    expect(movie.pixel_um).toBeNull();
    await movie.close();
  });

  it('chooses BigTIFF automatically only past 4 GiB', async () => {
    const small = await createTiffStackWriter(path.join(dir, 'auto-small.tif'), { width: 1024, height: 1024, sampleType: 'float32', frames: 1000 });
    expect(small.bigTiff).toBe(false); // 4.0e9 bytes < 4 GiB
    await small.abort();
    const large = await createTiffStackWriter(path.join(dir, 'auto-large.tif'), { width: 1024, height: 1024, sampleType: 'float32', frames: 1025 });
    expect(large.bigTiff).toBe(true);
    await large.abort();
  });

  it('rejects pages of the wrong size or type', async () => {
    const w = await createTiffStackWriter(path.join(dir, 'bad.tif'), { width: 2, height: 2, sampleType: 'float32', frames: 1 });
    await expect(w.writePage(new Float32Array(3))).rejects.toThrow(/expected 2 × 2/);
    await expect(w.writePage(new Uint16Array(4))).rejects.toThrow(/expected Float32Array/);
    await w.abort();
  });

  it('encodes resolutions as u32 rationals', () => {
    expect(toRational(20)).toEqual([20, 1]);
    expect(toRational(1 / 0.065)).toEqual([200, 13]);
    const [n, d] = toRational(1 / 0.065);
    expect(n / d).toBeCloseTo(1 / 0.065, 6);
    expect(n).toBeLessThanOrEqual(2 ** 32 - 1);
  });
});
