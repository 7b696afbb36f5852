/**
 * HDF5 movies (src/io/hdf5Movie.ts) on files written by h5py 3.7.0 (test/fixtures/make_movie_fixtures.py):
 * the rigs' layout (a chunked, gzip-compressed `movie` dataset with calibration attributes), the
 * dataset choice, type conversion, and the bad inputs HDF5 brings, each one line.
 */
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openMovie } from '../../src/io/movie';
import { writeTiffStack } from '../../src/io/tiffWrite';
import { analyzeMovie } from '../../src/imaging/analyze';
import { createCpuProcessor } from '../../src/imaging/processor';
import { UserError } from '../../src/cli/errors';

const fixture = (name: string) => path.join(__dirname, '..', 'fixtures', name);
const root = mkdtempSync(path.join(tmpdir(), 'ionflux-hdf5-'));

async function userError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected a UserError');
}

/** the fixture's frames, as make_movie_fixtures.py computes them */
function expectedFrame(t: number): Uint16Array {
  const out = new Uint16Array(40 * 48);
  for (let y = 0; y < 40; y++) for (let x = 0; x < 48; x++) {
    const disk = (x - 24) ** 2 + (y - 20) ** 2 < 100 ? 1 : 0;
    out[y * 48 + x] = 1000 + disk * (20000 + 500 * t) + ((x * 7 + y * 13 + t) % 16);
  }
  return out;
}

describe('HDF5 movies', () => {
  it('reads the /movie dataset frame by frame (chunked, gzip) with calibration from its attributes', async () => {
    const m = await openMovie(fixture('movie.h5'));
    try {
      expect([m.kind, m.width, m.height, m.frames, m.sampleType]).toEqual(['hdf5', 48, 40, 8, 'uint16']);
      expect(m.calibration.pixelX_um).toMatchObject({ value: 0.095, source: 'hdf5-attribute', detail: '/movie pixel_size_um=0.095 µm' });
      expect(m.calibration.frame_s).toMatchObject({ value: 2, source: 'hdf5-attribute' });
      expect(m.notes.join('; ')).toContain('chunks 1×40×48, filters deflate');
      for (const t of [0, 5, 7]) {
        const f = await m.readFrame(t);
        expect(f).toBeInstanceOf(Uint16Array);
        expect(Array.from(f)).toEqual(Array.from(expectedFrame(t)));
      }
    } finally {
      await m.close();
    }
  });

  it('picks the only 3-D dataset and reads root attributes with unit attributes (nm, ms)', async () => {
    const m = await openMovie(fixture('movie_rootattrs.h5'));
    try {
      expect([m.width, m.height, m.frames, m.sampleType]).toEqual([20, 16, 4, 'float32']);
      expect(m.notes[0]).toContain('/data/frames');
      expect(m.calibration.pixelX_um!.value).toBeCloseTo(0.095, 12);
      expect(m.calibration.pixelX_um!.detail).toBe('/ pixel_size=95 nm');
      expect(m.calibration.frame_s!.value).toBeCloseTo(0.1, 12);
      expect((await m.readFrame(3))[7]).toBe(3 * 320 + 7);
    } finally {
      await m.close();
    }
  });

  it('converts other integer and float types to float32 (float64, int16) and reads big-endian data', async () => {
    for (const [ds, type, value] of [['f64', 'float32', 1.5], ['i16', 'float32', -1], ['be16', 'uint16', 301]] as const) {
      const m = await openMovie(fixture('hdf5_bad.h5'), { dataset: ds });
      try {
        expect(m.sampleType).toBe(type);
        expect((await m.readFrame(1))[10]).toBe(value);
      } finally {
        await m.close();
      }
    }
  });

  it('non-square pixels from element_size_um ([t, y, x]) are refused, naming both sizes', async () => {
    const m = await openMovie(fixture('movie_aniso.h5'));
    try {
      expect(m.calibration.pixelX_um!.value).toBe(0.1);
      expect(m.calibration.pixelY_um!.value).toBe(0.2);
      const out = path.join(root, 'aniso');
      mkdirSync(out);
      const msg = await userError(analyzeMovie(m, out, (o) => createCpuProcessor(o), {}));
      expect(msg).toContain('has non-square pixels: 0.1 µm wide (/movie element_size_um=[1, 0.2, 0.1] µm) × 0.2 µm high');
    } finally {
      await m.close();
    }
  });

  it('the analysis of an HDF5 movie equals that of the same frames as a TIFF; the particle area is known', async () => {
    const tif = path.join(root, 'same.tif');
    await writeTiffStack(tif, Array.from({ length: 8 }, (_, t) => expectedFrame(t)), { width: 48, height: 40, sampleType: 'uint16', imagej: { pixel_um: 0.095, frame_s: 2 } });
    const outs: string[] = [];
    for (const file of [fixture('movie.h5'), tif]) {
      const m = await openMovie(file);
      const out = path.join(root, `eq-${outs.length}`);
      mkdirSync(out);
      try {
        await analyzeMovie(m, out, (o) => createCpuProcessor(o), { lineAngleDeg: 0 });
      } finally {
        await m.close();
      }
      outs.push(out);
    }
    for (const f of ['particles.csv', 'traces.csv', 'frames.csv']) {
      expect(readFileSync(path.join(outs[0], f), 'utf8')).toBe(readFileSync(path.join(outs[1], f), 'utf8'));
    }
    const s = JSON.parse(readFileSync(path.join(outs[0], 'summary.json'), 'utf8'));
    expect(s.calibration.pixel_um).toMatchObject({ value: 0.095, source: 'hdf5-attribute' });
    expect(s.calibration.frame_s).toMatchObject({ value: 2, source: 'hdf5-attribute' });
    expect(s.movie.kind).toBe('hdf5');
    let diskPx = 0;
    for (let y = 0; y < 40; y++) for (let x = 0; x < 48; x++) if ((x - 24) ** 2 + (y - 20) ** 2 < 100) diskPx++;
    const row = readFileSync(path.join(outs[0], 'particles.csv'), 'utf8').trim().split('\n')[1].split(',');
    expect(Number(row[1])).toBeCloseTo(diskPx * 0.095 ** 2, 4);
  });
});

describe('HDF5 bad inputs: one line each', () => {
  const bad = fixture('hdf5_bad.h5');
  it('a missing --dataset lists the datasets present', async () => {
    const msg = await userError(openMovie(bad, { dataset: '/nope' }));
    expect(msg).toMatch(/has no dataset '\/nope': datasets present: \/a3d \(2×8×8 uint16\), \/b3d/);
    expect(msg).toContain('/stack4d (2×3×8×8 uint16)');
  });
  it('no /movie and several 3-D datasets: asks for --dataset and lists them', async () => {
    expect(await userError(openMovie(bad))).toMatch(/has 7 3-D datasets and none named \/movie: pass --dataset PATH; datasets present: \/a3d/);
  });
  it('wrong rank: a 2-D image, a 1-D dataset, a 4-D stack', async () => {
    expect(await userError(openMovie(bad, { dataset: 'image2d' }))).toContain('/image2d is 2-D (8×8) (a single image): a movie needs 3 dimensions (frames, rows, cols)');
    expect(await userError(openMovie(bad, { dataset: 'names' }))).toContain('/names is 1-D (3)');
    expect(await userError(openMovie(bad, { dataset: 'stack4d' }))).toContain('/stack4d is 4-D (2×3×8×8): write one channel or z-slice as a 3-D dataset');
  });
  it('samples that are not integer or float numbers, and float16', async () => {
    expect(await userError(openMovie(bad, { dataset: 'cplx' }))).toContain('/cplx holds compound values: a movie needs integer or float samples');
    expect(await userError(openMovie(bad, { dataset: 'f16' }))).toContain('float16 samples are not supported');
  });
  it('a file that is not HDF5 (with an .h5 name), and a truncated one', async () => {
    const fake = path.join(root, 'fake.h5');
    writeFileSync(fake, 'time,value\n0,1\n');
    expect(await userError(openMovie(fake))).toContain(`movie ${fake} is not an HDF5 file (no HDF5 signature)`);
    const cut = path.join(root, 'cut.h5');
    copyFileSync(fixture('movie.h5'), cut);
    const size = statSync(cut).size;
    const fh = await open(cut, 'r+');
    await fh.truncate(Math.floor(size / 2));
    await fh.close();
    expect(await userError(openMovie(cut))).toBe(`${cut} is truncated: its HDF5 superblock says the file is ${size} bytes but it has ${Math.floor(size / 2)}; copy the file again`);
  });
  it('--dataset on a TIFF and --channel on a 3-D dataset are refused', async () => {
    expect(await userError(openMovie(fixture('ome_nm_ms.ome.tif'), { dataset: 'movie' }))).toContain('--dataset movie is only for HDF5 movies');
    expect(await userError(openMovie(fixture('movie.h5'), { channel: 1 }))).toContain('--channel 1 is not allowed');
  });
});
