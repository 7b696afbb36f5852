/**
 * Movies for `ionflux analyze`: a multi-page TIFF (classic or BigTIFF; 8/16-bit unsigned or float32,
 * other sample types converted to float32; ImageJ stacks and OME-TIFFs with their calibration), an HDF5
 * dataset (src/io/hdf5Movie.ts) or a folder of PNG/TIFF frames (natural sort order: frame2 before
 * frame10). Decoding is done by maintained packages — `geotiff` (reads from the file lazily, one page at
 * a time), `h5wasm` and `pngjs` — so a movie larger than memory is read frame by frame; only one page's
 * pixels are held per `readFrame` call.
 *
 * Calibration (src/io/calibration.ts, each value with its source) comes from OME-XML (`PhysicalSizeX/Y`,
 * `TimeIncrement`, with units), else the ImageJ ImageDescription (`unit`, `finterval`, `tunit`) with
 * X/YResolution, else plain TIFF X/YResolution in pixels per cm or inch; the caller's `--pixel-um` /
 * `--frame-s` override it. Pixel width and height are kept apart so that non-square pixels are seen.
 *
 * Multi-channel images (RGB samples, OME SizeC > 1, ImageJ channels > 1) are refused unless one
 * channel is asked for (`channel`): averaging colours or reading channels as frames would be wrong
 * without a word.
 *
 * Everything the user can fix (not a TIFF, truncated, frames of different sizes, empty folder) is a
 * UserError naming the file, the bad value and what is allowed.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fromFile } from 'geotiff';
import { PNG } from 'pngjs';
import { errnoCause, isErrnoError, UserError } from '../errors';
import { isHdf5File, openHdf5Movie } from './hdf5Movie';
import { holdInput } from './output';
import { NO_CALIBRATION, type MovieCalibration } from './calibration';
import {
  checkChannel, describeError, isTiffMagic, naturalCompare, openTiffSource, toFrame,
  type ByteSource, type FrameData, type MovieSource, type OpenMovieOptions, type SampleType,
} from './tiffMovie';

export { parseImageJDescription, type FrameData, type MovieSource, type OpenMovieOptions, type SampleType } from './tiffMovie';

const TIFF_EXT = /\.tiff?$/i;
const PNG_EXT = /\.png$/i;
const HDF5_EXT = /\.(h5|hdf5|he5|hdf|nxs|nx5)$/i;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function fileStart(file: string, bytes: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}


/** A TIFF file: geotiff reads it lazily; uncompressed pages are read from it directly. */
async function openTiffMovie(file: string, fileSize: number, options: OpenMovieOptions = {}): Promise<MovieSource> {
  let fh: Awaited<ReturnType<typeof open>> | null = await open(file, 'r');
  const bytes: ByteSource = {
    size: fileSize,
    async read(offset, length) {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh!.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    },
    async close() { if (fh) { const h = fh; fh = null; await h.close(); } },
  };
  return openTiffSource(file, () => fromFile(file), bytes, options);
}

interface ImageHeader { width: number; height: number; sampleType: SampleType; calibration: MovieCalibration; pages: number; /** e.g. '8-bit colour PNG' */ label: string }

/** Reads just the size and type of a PNG or TIFF file (no pixels). */
async function imageHeader(file: string, channel?: number): Promise<ImageHeader> {
  const start = await fileStart(file, 33);
  if (start.subarray(0, 8).equals(PNG_SIGNATURE)) {
    if (start.length < 33 || start.toString('latin1', 12, 16) !== 'IHDR') throw new UserError(`${file} is truncated or not a valid PNG (no IHDR header)`);
    const depth = start[24];
    const grey = start[25] === 0 || start[25] === 4;
    // PNG colour types: 0 grey, 4 grey + alpha (one channel); 2 RGB, 6 RGBA, 3 palette (three)
    checkChannel(file, channel, grey ? 1 : 3);
    return {
      width: start.readUInt32BE(16), height: start.readUInt32BE(20), sampleType: grey ? (depth === 16 ? 'uint16' : 'uint8') : 'float32',
      calibration: NO_CALIBRATION, pages: 1, label: `${depth}-bit ${grey ? 'grey' : 'colour'} PNG`,
    };
  }
  if (isTiffMagic(start)) {
    const size = (await stat(file)).size;
    const m = await openTiffMovie(file, size, { channel });
    await m.close();
    return { width: m.width, height: m.height, sampleType: m.sampleType, calibration: m.calibration, pages: m.frames, label: `${m.sampleType} TIFF` };
  }
  throw new UserError(`${file} is not a PNG or TIFF image (unrecognised file signature)`);
}

function decodePng(file: string, bytes: Buffer): FrameData {
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    png = PNG.sync.read(bytes, { skipRescale: true });
  } catch (e) {
    throw new UserError(`${file} cannot be decoded as PNG (${describeError(e)}); the file may be truncated or corrupt`);
  }
  const { width, height } = png;
  const data = png.data as unknown as ArrayLike<number>; // RGBA, 8-bit Buffer or 16-bit Uint16Array
  const grey = png.colorType === 0 || png.colorType === 4;
  const n = width * height;
  if (grey) {
    const out = png.depth === 16 ? new Uint16Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = data[4 * i];
    return out;
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (data[4 * i] + data[4 * i + 1] + data[4 * i + 2]) / 3;
  return out;
}

/**
 * Reads a single image (PNG, or page 1 of a TIFF): masks, folder frames. `channel` picks one sample
 * of a multi-sample TIFF (refused without it).
 */
export async function readImage(file: string, channel?: number): Promise<{ data: FrameData; width: number; height: number }> {
  let start: Buffer;
  try {
    start = await fileStart(file, 16);
  } catch (e) {
    throw new UserError(`${file} cannot be read: ${isErrnoError(e) ? errnoCause(e) : describeError(e)}`);
  }
  if (start.subarray(0, 8).equals(PNG_SIGNATURE)) {
    const bytes = await readFile(file);
    const data = decodePng(file, bytes);
    return { data, width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (isTiffMagic(start)) {
    const m = await openTiffMovie(file, (await stat(file)).size, { channel, what: channel === undefined ? 'image' : undefined });
    try {
      return { data: await m.readFrame(0), width: m.width, height: m.height };
    } finally {
      await m.close();
    }
  }
  throw new UserError(`${file} is not a PNG or TIFF image (unrecognised file signature)`);
}

async function openFolderMovie(dir: string, options: OpenMovieOptions = {}): Promise<MovieSource> {
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.startsWith('.') && (TIFF_EXT.test(e.name) || PNG_EXT.test(e.name)))
    .map((e) => e.name)
    .sort(naturalCompare);
  if (entries.length === 0) throw new UserError(`folder ${dir} has no PNG or TIFF frames (*.png, *.tif, *.tiff)`);
  const files = entries.map((e) => path.join(dir, e));
  const headers: ImageHeader[] = [];
  for (const f of files) headers.push(await imageHeader(f, options.channel));
  const h0 = headers[0];
  for (let i = 0; i < files.length; i++) {
    const h = headers[i];
    if (h.pages > 1) throw new UserError(`folder ${dir}: ${entries[i]} has ${h.pages} pages; a folder must hold one image per frame (or pass the multi-page TIFF itself)`);
    if (h.width !== h0.width || h.height !== h0.height) {
      throw new UserError(`folder ${dir}: frame ${i} (${entries[i]}) is ${h.width}×${h.height} pixels but frame 0 (${entries[0]}) is ${h0.width}×${h0.height}: all frames must have the same size`);
    }
  }
  // 8-bit and 16-bit frames in one movie have different intensity scales: ΔI/I0 between them is meaningless
  const other = headers.findIndex((h) => h.sampleType !== h0.sampleType);
  if (other >= 0) {
    throw new UserError(`folder ${dir}: frame ${other} (${entries[other]}) is a ${headers[other].label} but frame 0 (${entries[0]}) is a ${h0.label}: all frames of a movie must have one sample type (their intensities are compared); convert them to one`);
  }
  const type: SampleType = h0.sampleType;
  const notes = [`${files.length} frames from folder (${entries[0]} … ${entries[entries.length - 1]})`];
  const cal = h0.calibration;
  if (cal.pixelX_um) notes.push(`pixel size ${cal.pixelX_um.value} µm (${cal.pixelX_um.source}, from ${entries[0]})`);
  return {
    path: dir,
    kind: 'folder',
    width: h0.width,
    height: h0.height,
    frames: files.length,
    sampleType: type,
    pixel_um: cal.pixelX_um?.value ?? null,
    frame_s: cal.frame_s?.value ?? null,
    calibration: cal,
    notes,
    async readFrame(index: number) {
      if (!(Number.isInteger(index) && index >= 0 && index < files.length)) throw new Error(`${dir}: frame ${index} out of range 0…${files.length - 1}`);
      const img = await readImage(files[index], options.channel);
      if (img.width !== h0.width || img.height !== h0.height) {
        throw new UserError(`folder ${dir}: frame ${index} (${entries[index]}) is ${img.width}×${img.height} pixels but frame 0 is ${h0.width}×${h0.height}`);
      }
      return toFrame([img.data], type, h0.width * h0.height);
    },
    async close() {},
  };
}

/**
 * Opens a movie: a TIFF file (any number of pages), an HDF5 file (one 3-D dataset, `options.dataset`)
 * or a folder of PNG/TIFF frames. Checks sizes, types and truncation up front; pixels are read only
 * by readFrame.
 */
export async function openMovie(moviePath: string, options: OpenMovieOptions = {}): Promise<MovieSource> {
  const movie = await openMovieSource(moviePath, options);
  // an open movie is an input: writeOutputDir will not replace it (src/io/output.ts holdInput)
  const release = holdInput(moviePath, 'the open movie');
  const close = movie.close.bind(movie);
  movie.close = async () => { release(); await close(); };
  return movie;
}

async function openMovieSource(moviePath: string, options: OpenMovieOptions): Promise<MovieSource> {
  let st;
  try {
    st = await stat(moviePath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`movie ${moviePath} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${isErrnoError(e) ? errnoCause(e) : describeError(e)})`}: give a multi-page TIFF or a folder of PNG/TIFF frames`);
  }
  if (st.isDirectory()) {
    if (options.dataset !== undefined) throw new UserError(`--dataset ${options.dataset} is only for HDF5 movies, but ${moviePath} is a folder`);
    return openFolderMovie(moviePath, options);
  }
  const start = await fileStart(moviePath, 16);
  if (await isHdf5File(moviePath)) return openHdf5Movie(moviePath, st.size, options);
  if (!isTiffMagic(start)) {
    if (HDF5_EXT.test(moviePath)) {
      throw new UserError(`movie ${moviePath} is not an HDF5 file (no HDF5 signature${start.length < 8 ? `; only ${start.length} bytes long` : ''}): give an HDF5 file written by h5py or the HDF5 library, a multi-page TIFF or a folder of PNG/TIFF frames`);
    }
    const what = start.subarray(0, 8).equals(PNG_SIGNATURE) ? 'a single PNG image' : start.length < 8 ? `only ${start.length} bytes long` : 'not a TIFF file or an HDF5 file (unrecognised signature)';
    throw new UserError(`movie ${moviePath} is ${what}: give a multi-page TIFF (8/16-bit or float32), an HDF5 movie or a folder of PNG/TIFF frames`);
  }
  if (options.dataset !== undefined) throw new UserError(`--dataset ${options.dataset} is only for HDF5 movies, but ${moviePath} is a TIFF`);
  return openTiffMovie(moviePath, st.size, options);
}
