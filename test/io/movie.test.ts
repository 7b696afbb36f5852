import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { writeTiffStack } from '../../src/io/tiffWrite';
import { openMovie, parseImageJDescription, readImage } from '../../src/io/movie';
import { openTiffBytes } from '../../src/io/tiffMovie';
import { userError } from '../helpers/errors';

const dir = mkdtempSync(path.join(tmpdir(), 'ionflux-movie-'));

function greyPng(file: string, w: number, h: number, value: (i: number) => number, colour = false): void {
  const png = new PNG({ width: w, height: h, colorType: colour ? 2 : 0, inputColorType: 6, bitDepth: 8 });
  for (let i = 0; i < w * h; i++) {
    const v = value(i);
    png.data[4 * i] = v; png.data[4 * i + 1] = colour ? 0 : v; png.data[4 * i + 2] = colour ? 2 * v : v; png.data[4 * i + 3] = 255;
  }
  writeFileSync(file, PNG.sync.write(png, { colorType: colour ? 2 : 0, inputColorType: 6 }));
}

/** A classic little-endian TIFF of 8-bit pages of the given sizes (pages of different sizes on purpose). */
function tiffOfPages(sizes: [number, number][]): Buffer {
  const parts: Buffer[] = [];
  let offset = 8;
  const header = Buffer.alloc(8);
  header.write('II', 0, 'latin1'); header.writeUInt16LE(42, 2); header.writeUInt32LE(8, 4);
  parts.push(header);
  sizes.forEach(([w, h], k) => {
    const entries = [[256, 4, w], [257, 4, h], [258, 3, 8], [259, 3, 1], [262, 3, 1], [273, 4, 0], [277, 3, 1], [278, 4, h], [279, 4, w * h]];
    const ifdSize = 2 + entries.length * 12 + 4;
    const dataOffset = offset + ifdSize;
    const next = k + 1 < sizes.length ? dataOffset + w * h + ((w * h) & 1) : 0;
    const ifd = Buffer.alloc(ifdSize);
    ifd.writeUInt16LE(entries.length, 0);
    entries.forEach(([tag, type, value], j) => {
      const p = 2 + 12 * j;
      ifd.writeUInt16LE(tag, p); ifd.writeUInt16LE(type, p + 2); ifd.writeUInt32LE(1, p + 4);
      const v = tag === 273 ? dataOffset : value;
      if (type === 3) ifd.writeUInt16LE(v, p + 8); else ifd.writeUInt32LE(v, p + 8);
    });
    ifd.writeUInt32LE(next, ifdSize - 4);
    const data = Buffer.alloc(w * h + ((w * h) & 1), 7 + k);
    parts.push(ifd, data);
    offset = dataOffset + data.length;
  });
  return Buffer.concat(parts);
}


describe('movie reader', () => {
  it('reads 16-bit stacks frame by frame with ImageJ calibration (tunit honoured)', async () => {
    const file = path.join(dir, 'u16.tif');
    const pages = [0, 1, 2, 3].map((k) => Uint16Array.from({ length: 30 }, (_, i) => 1000 * k + i));
    await writeTiffStack(file, pages, { width: 6, height: 5, sampleType: 'uint16', imagej: { pixel_um: 0.065, frame_s: 0.5 } });
    const m = await openMovie(file);
    expect([m.kind, m.frames, m.width, m.height, m.sampleType]).toEqual(['tiff', 4, 6, 5, 'uint16']);
    expect(m.pixel_um).toBeCloseTo(0.065, 9);
    expect(m.frame_s).toBe(0.5);
    const f2 = await m.readFrame(2);
    expect(f2).toBeInstanceOf(Uint16Array);
    expect(Array.from(f2)).toEqual(Array.from(pages[2]));
    await m.close();
    expect(parseImageJDescription('ImageJ=1.53\nimages=3\nfinterval=2\ntunit=min\n')).toMatchObject({ finterval: '2', tunit: 'min' });
  });

  it('reads a folder of PNG frames in natural order (frame2 before frame10), colour averaged', async () => {
    const d = path.join(dir, 'pngs');
    mkdirSync(d);
    greyPng(path.join(d, 'frame10.png'), 4, 3, () => 10);
    greyPng(path.join(d, 'frame2.png'), 4, 3, () => 2);
    greyPng(path.join(d, 'frame1.png'), 4, 3, (i) => i);
    writeFileSync(path.join(d, 'notes.txt'), 'ignored');
    const m = await openMovie(d);
    expect([m.kind, m.frames, m.width, m.height, m.sampleType]).toEqual(['folder', 3, 4, 3, 'uint8']);
    expect(Array.from(await m.readFrame(0))).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect((await m.readFrame(1))[0]).toBe(2);
    expect((await m.readFrame(2))[0]).toBe(10);
    const c = path.join(dir, 'colour.png');
    greyPng(c, 2, 2, () => 30, true);
    const img = await readImage(c);
    expect(img.data[0]).toBeCloseTo((30 + 0 + 60) / 3, 5);
  });

  it('reads a folder of single-page TIFF frames', async () => {
    const d = path.join(dir, 'tifs');
    mkdirSync(d);
    for (let k = 0; k < 3; k++) await writeTiffStack(path.join(d, `t_${k}.tif`), [new Float32Array(6).fill(k + 0.5)], { width: 3, height: 2, sampleType: 'float32' });
    const m = await openMovie(d);
    expect([m.frames, m.sampleType]).toEqual([3, 'float32']);
    expect((await m.readFrame(2))[0]).toBe(2.5);
  });

  it('bad input gives one-line UserErrors naming the file', async () => {
    // not an image
    const txt = path.join(dir, 'movie.tif');
    writeFileSync(txt, 'this is not a TIFF at all, just text');
    expect(await userError(openMovie(txt))).toMatch(/movie\.tif is not a TIFF file/);
    // missing
    expect(await userError(openMovie(path.join(dir, 'nope.tif')))).toMatch(/does not exist/);
    // empty folder, and one with only other files
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    expect(await userError(openMovie(empty))).toMatch(/has no PNG or TIFF frames/);
    // frames of different sizes, in a folder …
    const mixed = path.join(dir, 'mixed');
    mkdirSync(mixed);
    greyPng(path.join(mixed, 'a1.png'), 4, 3, () => 1);
    greyPng(path.join(mixed, 'a2.png'), 5, 3, () => 1);
    expect(await userError(openMovie(mixed))).toMatch(/frame 1 \(a2\.png\) is 5×3 pixels but frame 0 \(a1\.png\) is 4×3/);
    // … and in a multi-page TIFF
    const sizes = path.join(dir, 'sizes.tif');
    writeFileSync(sizes, tiffOfPages([[4, 3], [4, 3], [6, 2]]));
    expect(await userError(openMovie(sizes))).toMatch(/frame 2 is 6×2 pixels but frame 0 is 4×3/);
    const ok = await openMovie(path.join(dir, 'sizes.tif').replace('sizes', 'sizes')).catch(() => null);
    expect(ok).toBeNull();
  });

  it('a hand-made multi-page TIFF with equal pages reads fine (the test helper is sound)', async () => {
    const file = path.join(dir, 'equal.tif');
    writeFileSync(file, tiffOfPages([[5, 3], [5, 3]]));
    const m = await openMovie(file);
    expect(m.frames).toBe(2);
    expect((await m.readFrame(1))[0]).toBe(8);
  });

  it('truncated TIFFs are refused, wherever the cut falls', async () => {
    const file = path.join(dir, 'full.tif');
    const pages = [0, 1, 2].map((k) => new Uint16Array(64 * 64).fill(k + 1));
    await writeTiffStack(file, pages, { width: 64, height: 64, sampleType: 'uint16', imagej: { pixel_um: 0.1 } });
    const bytes = readFileSync(file);
    for (const cut of [4, 100, 1000, 20_000, bytes.length - 10]) {
      const t = path.join(dir, `cut${cut}.tif`);
      writeFileSync(t, bytes.subarray(0, cut));
      expect(await userError(openMovie(t))).toMatch(/cut\d+\.tif .*(truncated|only \d+ bytes|not a TIFF)/);
      // the same bytes in memory (a file dropped on the demo page): the same kind of message, not a RangeError's
      expect(await userError(openTiffBytes(`cut${cut}.tif`, bytes.subarray(0, cut)).then(async (m) => { for (let i = 0; i < m.frames; i++) await m.readFrame(i); }))).toMatch(/^cut\d+\.tif (is truncated|is only \d+ bytes|is not a TIFF)/);
    }
    // a single-IFD page whose strip runs past the end
    const one = path.join(dir, 'one.tif');
    await writeTiffStack(one, [new Uint16Array(64 * 64)], { width: 64, height: 64, sampleType: 'uint16' });
    const b1 = readFileSync(one);
    writeFileSync(one, b1.subarray(0, b1.length - 100));
    expect(await userError(openMovie(one))).toMatch(/truncated/);
  });

  it('reads ImageJ stacks stored as one IFD with contiguous pages (how ImageJ writes > 4 GiB)', async () => {
    const file = path.join(dir, 'onedir.tif');
    const pages = [0, 1, 2].map((k) => Uint16Array.from({ length: 20 }, (_, i) => 100 * k + i));
    await writeTiffStack(file, pages, { width: 5, height: 4, sampleType: 'uint16', imagej: { pixel_um: 0.2, frame_s: 3 } });
    // cut the IFD chain after the first directory: only the description says there are 3 images
    const b = readFileSync(file);
    const entries = b.readUInt16LE(8);
    b.writeUInt32LE(0, 8 + 2 + 12 * entries);
    writeFileSync(file, b);
    const m = await openMovie(file);
    expect([m.frames, m.sampleType, m.frame_s]).toEqual([3, 'uint16', 3]);
    expect(m.notes.join(' ')).toMatch(/contiguous/);
    expect(Array.from(await m.readFrame(2))).toEqual(Array.from(pages[2]));
    await m.close();
    // truncated: the description promises more pages than the file holds
    writeFileSync(file, b.subarray(0, b.length - 2 * (2 + 12 * entries + 4) - 10)); // into page 3
    expect(await userError(openMovie(file))).toMatch(/truncated: its ImageJ description says images=3/);
  });

  it('refuses multi-channel ImageJ hyperstacks', async () => {
    // patch the description of a written stack: "frames=2" -> "channels=2"
    const file = path.join(dir, 'hyper.tif');
    await writeTiffStack(file, [new Uint16Array(4), new Uint16Array(4)], { width: 2, height: 2, sampleType: 'uint16', imagej: { frame_s: 1 } });
    const b = readFileSync(file);
    const at = b.indexOf('frames=2');
    b.write('chanls=2', at, 'latin1');
    b.write('channels=2\n', b.indexOf('loop=false'), 'latin1');
    writeFileSync(file, b);
    expect(await userError(openMovie(file))).toMatch(/channels=2/);
  });
});
