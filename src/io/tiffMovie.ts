/**
 * Multi-page TIFF movies from any byte source: a file (src/io/movie.ts opens it in Node) or the bytes
 * of a file dropped on a web page (`openTiffBytes`, the demo). One implementation of the TIFF reading
 * — geotiff decodes, the calibration comes from OME-XML / ImageJ / TIFF resolution
 * (src/io/calibration.ts), truncation and layout are checked up front — so that the page analyses a
 * movie exactly as `ionflux analyze` does. No Node modules here (the byte source is an interface).
 *
 * Everything the user can fix (not a TIFF, truncated, frames of different sizes) is a UserError naming
 * the file, the bad value and what is allowed.
 */
import { fromArrayBuffer, type GeoTIFF, type GeoTIFFImage } from 'geotiff';
import { UserError } from '../errors';
import { isOmeXml, lengthUnit_um, omePlaneIndex, parseOmeXml, timeUnit_s, type CalibrationValue, type MovieCalibration } from './calibration';

/** One frame's pixels, row-major; the same union as src/imaging/diffmap.ts's FrameData. */
export type FrameData = Uint8Array | Uint16Array | Float32Array;
export type SampleType = 'uint8' | 'uint16' | 'float32';

export interface MovieSource {
  readonly path: string;
  readonly kind: 'tiff' | 'folder' | 'hdf5';
  readonly width: number;
  readonly height: number;
  readonly frames: number;
  /** type of the arrays readFrame returns */
  readonly sampleType: SampleType;
  /** pixel size (width, x) from the file's metadata, µm; null when the file does not say */
  readonly pixel_um: number | null;
  /** frame interval from the file's metadata, s; null when the file does not say */
  readonly frame_s: number | null;
  /** the same with pixel height and where each value came from (src/io/calibration.ts) */
  readonly calibration: MovieCalibration;
  /** one line per metadata item found (for logs and summary.json) */
  readonly notes: string[];
  /** pixels of frame `index` (0-based), read from disk on each call */
  readFrame(index: number): Promise<FrameData>;
  close(): Promise<void>;
}

/** Random access to a file's bytes: a file handle in Node, an ArrayBuffer in a browser. */
export interface ByteSource {
  /** total length, bytes */
  readonly size: number;
  /** up to `length` bytes from `offset` (fewer at the end of the file) */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A ByteSource over bytes held in memory. */
export function memoryBytes(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    async read(offset, length) { return bytes.subarray(offset, Math.min(bytes.length, offset + length)); },
    async close() {},
  };
}

const LITTLE_ENDIAN_MACHINE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Parses an ImageJ ImageDescription ("ImageJ=1.54f\nimages=10\n…") into key → value. */
export function parseImageJDescription(description: string | undefined | null): Record<string, string> | null {
  if (!description || !description.startsWith('ImageJ=')) return null;
  const out: Record<string, string> = {};
  for (const line of description.replace(/\0+$/, '').split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
}

export function describeError(e: unknown): string {
  const msg = (e as Error)?.message ?? String(e);
  return msg.split('\n')[0];
}

function rational(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') return v;
  const a = v as ArrayLike<number>;
  if (a.length >= 2 && a[1]) return a[0] / a[1];
  if (a.length === 1) return a[0];
  return null;
}

/**
 * geotiff looks up SampleFormat and BitsPerSample per sample; TIFFs that store one value for all
 * samples (scikit-image's multipage_rgb.tif, older tifffile) then read as format "undefined" for
 * samples ≥ 1 and fail with "Unsupported data format/bitsPerSample". Repeat the single value for
 * every sample, as the TIFF readers of libtiff and tifffile do.
 */
function fillPerSampleTags(img: GeoTIFFImage, spp: number): void {
  const fd = img.getFileDirectory() as unknown as { actualizedFields?: Map<number, unknown> };
  const fields = fd.actualizedFields;
  if (!(fields instanceof Map)) return;
  for (const tag of [339, 258]) { // SampleFormat, BitsPerSample
    const v = fields.get(tag) as ArrayLike<number> | number | undefined;
    if (v === undefined) continue;
    const arr = typeof v === 'number' ? [v] : Array.from(v);
    if (arr.length >= 1 && arr.length < spp) fields.set(tag, Array.from({ length: spp }, (_, k) => arr[k] ?? arr[0]));
  }
}

interface PageInfo { width: number; height: number; spp: number; bits: number; format: number }

function pageInfo(img: GeoTIFFImage): PageInfo {
  return { width: img.getWidth(), height: img.getHeight(), spp: img.getSamplesPerPixel(), bits: img.getBitsPerSample(0), format: img.getSampleFormat(0) };
}

function sampleTypeOf(info: PageInfo, name: string): SampleType {
  if (info.bits < 8) throw new UserError(`${name}: ${info.bits}-bit samples are not supported: use 8/16-bit unsigned or float32 frames`);
  if (info.format === 1 && info.bits === 8) return 'uint8';
  if (info.format === 1 && info.bits === 16) return 'uint16';
  if (info.format === 3 && info.bits === 16) throw new UserError(`${name}: float16 samples are not supported: use 8/16-bit unsigned or float32 frames`);
  return 'float32'; // float32 as is; int8/16/32, uint32, float64 converted
}

/**
 * Where an uncompressed, one-sample, chunky page keeps its pixels (its strips' byte ranges, in row
 * order), or null for any other layout (those are decoded by geotiff). geotiff reads such pages
 * sample by sample through a DataView (~0.07 s per 2048² page); one file read per page is ~20×
 * faster and gives the same samples.
 */
async function rawStrips(img: GeoTIFFImage, info: PageInfo): Promise<{ offsets: number[]; counts: number[] } | null> {
  const fd = img.fileDirectory;
  const get = async (tag: Parameters<typeof fd.hasTag>[0]) => (fd.hasTag(tag) ? await fd.loadValue(tag) : undefined);
  const compression = Number((await get('Compression')) ?? 1);
  const planar = Number((await get('PlanarConfiguration')) ?? 1);
  // integers of 8/16/32 bits and floats of 32/64 (64-bit integers have no typed array here: geotiff's path refuses them)
  const supported = info.format === 3 ? info.bits === 32 || info.bits === 64 : (info.format === 1 || info.format === 2) && [8, 16, 32].includes(info.bits);
  if (compression !== 1 || info.spp !== 1 || planar !== 1 || !supported || fd.hasTag('TileWidth')) return null;
  const offsets = (await get('StripOffsets')) as ArrayLike<number | bigint> | undefined;
  const counts = (await get('StripByteCounts')) as ArrayLike<number | bigint> | undefined;
  if (!offsets || !counts || offsets.length !== counts.length) return null;
  const o = Array.from(offsets, Number), c = Array.from(counts, Number);
  const total = c.reduce((a, b) => a + b, 0);
  return total === info.width * info.height * (info.bits / 8) ? { offsets: o, counts: c } : null;
}

/** Whether `buf` spans the whole of its ArrayBuffer (a page read of its own, not a view into a file's bytes). */
function isOwn(buf: Uint8Array): boolean {
  return buf.byteOffset === 0 && buf.length === buf.buffer.byteLength;
}

/** The typed array of `bits`-bit samples of SampleFormat `format` over `buf` (in this machine's byte order). */
function samplesOf(buf: Uint8Array, bits: number, format: number): ArrayLike<number> {
  // a buffer of its own (ownBytes) is viewed as it is; any other is copied out first
  const ab = isOwn(buf) ? buf.buffer : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  return format === 3 ? (bits === 32 ? new Float32Array(ab) : new Float64Array(ab))
    : format === 2 ? (bits === 8 ? new Int8Array(ab) : bits === 16 ? new Int16Array(ab) : new Int32Array(ab))
    : bits === 8 ? new Uint8Array(ab) : bits === 16 ? new Uint16Array(ab) : new Uint32Array(ab);
}

/** Swaps `buf` in place to this machine's byte order when the file's differs. */
function toMachineOrder(buf: Uint8Array, littleEndian: boolean, bits: number): void {
  if (littleEndian === LITTLE_ENDIAN_MACHINE || bits === 8) return;
  const w = bits / 8;
  for (let i = 0; i + w <= buf.length; i += w) {
    for (let a = i, b = i + w - 1; a < b; a++, b--) { const t = buf[a]; buf[a] = buf[b]; buf[b] = t; }
  }
}

/** Converts a decoded sample array (and multi-sample pixels, averaged) to FrameData of `type`. */
export function toFrame(bands: ArrayLike<number>[], type: SampleType, n: number): FrameData {
  if (bands.length === 1) {
    const b = bands[0];
    if (type === 'uint8' && b instanceof Uint8Array) return b;
    if (type === 'uint16' && b instanceof Uint16Array) return b;
    if (type === 'float32' && b instanceof Float32Array) return b;
    return type === 'uint8' ? Uint8Array.from(b) : type === 'uint16' ? Uint16Array.from(b) : Float32Array.from(b);
  }
  // colour: the mean of the colour channels, as float32
  const out = new Float32Array(n);
  for (const b of bands) for (let i = 0; i < n; i++) out[i] += b[i];
  for (let i = 0; i < n; i++) out[i] /= bands.length;
  return out;
}

export function isTiffMagic(b: Uint8Array): boolean {
  if (b.length < 8) return false;
  const ii = b[0] === 0x49 && b[1] === 0x49, mm = b[0] === 0x4d && b[1] === 0x4d;
  if (!ii && !mm) return false;
  const v = ii ? b[2] | (b[3] << 8) : (b[2] << 8) | b[3];
  return v === 42 || v === 43;
}

/** Checks that the pixel data of a page lies inside the file (geotiff would read zeros past the end). */
async function checkPageExtent(img: GeoTIFFImage, fileSize: number, name: string, index: number): Promise<void> {
  const fd = img.getFileDirectory();
  const tiled = fd.hasTag('TileOffsets');
  const offsets = (await fd.loadValue(tiled ? 'TileOffsets' : 'StripOffsets')) as ArrayLike<number | bigint> | number | undefined;
  const counts = (await fd.loadValue(tiled ? 'TileByteCounts' : 'StripByteCounts')) as ArrayLike<number | bigint> | number | undefined;
  if (offsets === undefined || counts === undefined) throw new UserError(`${name}: page ${index} has no ${tiled ? 'tile' : 'strip'} offsets: not a readable image`);
  const o = typeof offsets === 'number' ? [offsets] : offsets;
  const c = typeof counts === 'number' ? [counts] : counts;
  let end = 0;
  for (let k = 0; k < o.length; k++) end = Math.max(end, Number(o[k]) + Number(c[k] ?? 0));
  if (end > fileSize) {
    throw new UserError(`${name} is truncated: frame ${index} needs bytes up to ${end} but the file has ${fileSize}; re-export or copy the movie again`);
  }
}

/** What the caller asks of a movie file besides its path. */
export interface OpenMovieOptions {
  /** HDF5: path of the movie dataset (default `movie`, else the only 3-D dataset) */
  dataset?: string;
  /** multi-channel images: the channel to read, 0-based (refused without it) */
  channel?: number;
  /** internal: 'image' for a single image (a mask), whose errors cannot point at --channel */
  what?: 'image';
}

/** The TIFF calibration: OME-XML, else ImageJ, else plain TIFF resolution (see the module comment). */
async function tiffCalibration(fd: ReturnType<GeoTIFFImage['getFileDirectory']>, ij: Record<string, string> | null, notes: string[]): Promise<MovieCalibration> {
  const cal: MovieCalibration = { pixelX_um: null, pixelY_um: null, frame_s: null };
  const xres = rational(fd.hasTag('XResolution') ? await fd.loadValue('XResolution') : undefined);
  const yres = rational(fd.hasTag('YResolution') ? await fd.loadValue('YResolution') : undefined);
  const resUnit = fd.hasTag('ResolutionUnit') ? Number(await fd.loadValue('ResolutionUnit')) : 2;
  const fromRes = (res: number | null, scale: number, source: 'imagej' | 'tiff-resolution', tag: string, unit: string): CalibrationValue | null =>
    res && res > 0 ? { value: scale / res, source, detail: `${tag}=${Number(res.toPrecision(10))}/${unit}` } : null;
  if (ij?.unit && (xres || yres)) {
    const scale = lengthUnit_um(ij.unit);
    if (scale) {
      cal.pixelX_um = fromRes(xres, scale, 'imagej', 'XResolution', ij.unit);
      cal.pixelY_um = fromRes(yres, scale, 'imagej', 'YResolution', ij.unit) ?? cal.pixelX_um;
      if (cal.pixelX_um) notes.push(`pixel size ${cal.pixelX_um.value} µm (ImageJ unit=${ij.unit}, XResolution)`);
      if (cal.pixelY_um && cal.pixelY_um !== cal.pixelX_um) notes.push(`pixel height ${cal.pixelY_um.value} µm (ImageJ unit=${ij.unit}, YResolution)`);
    } else notes.push(`ImageJ unit '${ij.unit}' is not a length unit; pixel size unknown`);
  } else if (!ij && xres && xres > 0 && (resUnit === 3 || resUnit === 2)) {
    // plain TIFF resolution in pixels per cm or inch; 72/inch is a screen default, not a calibration
    if (!(resUnit === 2 && Math.abs(xres - 72) < 1e-6 && (!yres || Math.abs(yres - 72) < 1e-6))) {
      const scale = resUnit === 3 ? 1e4 : 25400, unit = resUnit === 3 ? 'cm' : 'inch';
      cal.pixelX_um = fromRes(xres, scale, 'tiff-resolution', 'XResolution', unit);
      cal.pixelY_um = fromRes(yres, scale, 'tiff-resolution', 'YResolution', unit) ?? cal.pixelX_um;
      notes.push(`pixel size ${cal.pixelX_um!.value} µm (TIFF XResolution, ${unit})`);
      if (cal.pixelY_um && cal.pixelY_um !== cal.pixelX_um) notes.push(`pixel height ${cal.pixelY_um.value} µm (TIFF YResolution, ${unit})`);
    }
  }
  if (ij?.finterval) {
    const f = Number(ij.finterval);
    const tunit = ij.tunit ? timeUnit_s(ij.tunit) : 1;
    if (Number.isFinite(f) && f > 0 && tunit) {
      cal.frame_s = { value: f * tunit, source: 'imagej', detail: `finterval=${ij.finterval}${ij.tunit ? ` ${ij.tunit}` : ''}` };
      notes.push(`frame interval ${cal.frame_s.value} s (ImageJ finterval${ij.tunit ? `, tunit=${ij.tunit}` : ''})`);
    }
  }
  return cal;
}

export function channelError(name: string, channels: number, what: string): UserError {
  return new UserError(`${name} has ${channels} channels (${what}): analyze reads one channel; pass --channel N (0 … ${channels - 1}) or save one channel`);
}

export function checkChannel(name: string, channel: number | undefined, channels: number): void {
  if (channel !== undefined && !(Number.isInteger(channel) && channel >= 0 && channel < channels)) {
    throw new UserError(`--channel ${channel} is not allowed for ${name}: it has ${channels} channel${channels === 1 ? '' : 's'}, use 0 … ${channels - 1}`);
  }
}

/**
 * Opens a TIFF movie: `openTiff` gives geotiff's view of the file, `bytes` raw access to the same
 * file (uncompressed pages are read straight from it, and every page is checked to lie inside it);
 * `name` is the file's name in messages. `bytes` is closed with the movie (and on failure).
 */
export async function openTiffSource(name: string, openTiff: () => Promise<GeoTIFF>, bytes: ByteSource, options: OpenMovieOptions = {}): Promise<MovieSource> {
  const file = name;
  const fileSize = bytes.size;
  let tiff: GeoTIFF;
  let count: number;
  try {
    tiff = await openTiff();
  } catch (e) {
    await bytes.close().catch(() => {});
    throw new UserError(`${name}: cannot open as TIFF (${describeError(e)})`);
  }
  try {
    count = await tiff.getImageCount();
  } catch (e) {
    await Promise.resolve(tiff.close()).catch(() => {});
    await bytes.close().catch(() => {});
    // in memory (the demo's dropped file) geotiff reads past the buffer's end instead of zeros
    if (e instanceof RangeError && /outside the bounds/i.test(e.message)) throw new UserError(`${name} is truncated: its list of pages reaches past the end of the file (${fileSize} bytes); re-export or copy the movie again`);
    throw new UserError(`${name} is truncated or corrupt: its list of pages cannot be read (${describeError(e)})`);
  }
  const fail = async (msg: string): Promise<never> => {
    await Promise.resolve(tiff.close()).catch(() => {});
    await bytes.close().catch(() => {});
    throw new UserError(msg);
  };
  // geotiff reads zeros past the end of a file: a page directory (IFD) reaching past the end would come
  // back as an empty or garbled page, so check that every IFD lies inside the file.
  const countBytes = tiff.bigTiff ? 8 : 2, entryBytes = tiff.bigTiff ? 20 : 12, linkBytes = tiff.bigTiff ? 8 : 4;
  for (let i = 0; i < count; i++) {
    const at = i === 0 ? tiff.firstIFDOffset : (await tiff.requestIFD(i - 1)).nextIFDByteOffset;
    let end = at + countBytes;
    if (end <= fileSize) {
      const slice = await tiff.getSlice(at, countBytes);
      const entries = tiff.bigTiff ? slice.readUint64(at) : slice.readUint16(at);
      end = at + countBytes + entries * entryBytes + linkBytes;
    }
    if (end > fileSize) {
      return fail(`${name} is truncated: the directory of frame ${i} reaches byte ${end}, past the end of the file (${fileSize} bytes); re-export or copy the movie again`);
    }
  }
  let first: GeoTIFFImage;
  let info: PageInfo;
  try {
    first = await tiff.getImage(0);
    info = pageInfo(first);
  } catch (e) {
    return fail(`${name} is truncated or corrupt: page 1 cannot be read (${describeError(e)})`);
  }
  const fd = first.getFileDirectory();
  let description: string | undefined;
  try { description = (await fd.loadValue('ImageDescription')) as string | undefined; } catch { description = undefined; }
  const ome = isOmeXml(description) ? parseOmeXml(description!) : null;
  const ij = ome ? null : parseImageJDescription(description);
  const notes: string[] = [];
  const channel = options.channel;

  // the sample layout first: a multi-sample (RGB) page is not a grey frame, whatever its type
  if (info.spp > 1) {
    if (channel === undefined) {
      const how = options.what === 'image' ? 'save it as a single-channel (greyscale) image' : `pass --channel N (0 … ${info.spp - 1}) to read one channel, or save one channel`;
      return fail(`${name} has ${info.spp} samples per pixel (${info.spp === 3 ? 'RGB' : 'multi-channel'} pixels, ${info.bits}-bit ${info.format === 3 ? 'float' : 'integer'}): ${info.spp}-channel images are not supported; ${how}`);
    }
    try { checkChannel(name, channel, info.spp); } catch (e) { return fail((e as Error).message); }
    notes.push(`channel ${channel} of ${info.spp} samples per pixel`);
  }
  const type = sampleTypeOf(info, name);

  // calibration
  let calibration: MovieCalibration;
  if (ome) {
    calibration = ome.calibration;
    notes.push(...ome.notes);
    if (ome.images > 1) notes.push(`OME-XML has ${ome.images} images (series); the first is read`);
  } else {
    calibration = await tiffCalibration(fd, ij, notes);
  }

  // which page holds frame t: OME planes in DimensionOrder, ImageJ hyperstacks in czt order
  let frames = count;
  let pageOf = (t: number) => t;
  if (ome) {
    const { sizeZ, sizeC, sizeT } = ome;
    if (sizeZ > 1 && sizeT > 1) return fail(`${name} is an OME-TIFF with SizeZ=${sizeZ} and SizeT=${sizeT}: analyze needs a single time series (z-project or pick one slice first)`);
    const channels = ome.samplesPerPixel > 1 && info.spp > 1 ? 1 : sizeC;
    if (channels > 1) {
      if (channel === undefined) return fail(channelError(name, channels, `OME-XML SizeC=${sizeC}`).message);
      try { checkChannel(name, channel, channels); } catch (e) { return fail((e as Error).message); }
      notes.push(`OME channel ${channel} of ${channels} (DimensionOrder ${ome.dimensionOrder})`);
    }
    const c = channels > 1 ? channel! : 0;
    const zAxis = sizeZ > 1;
    frames = zAxis ? sizeZ : sizeT;
    pageOf = (t: number) => ome.firstIfd + omePlaneIndex(ome, zAxis ? t : 0, c, zAxis ? 0 : t);
    if (pageOf(frames - 1) >= count) return fail(`${name} is truncated: its OME-XML describes ${sizeZ * sizeC * sizeT} planes but the file has ${count} pages`);
    if (zAxis) notes.push(`OME SizeZ=${sizeZ} read as frames (SizeT=1)`);
  } else if (ij) {
    const channels = Number(ij.channels ?? 1), slices = Number(ij.slices ?? 1), framesIJ = Number(ij.frames ?? 1);
    if (slices > 1 && framesIJ > 1) return fail(`${name} is an ImageJ hyperstack with slices=${slices} and frames=${framesIJ}: analyze needs a single time series (z-project or pick one slice first)`);
    if (channels > 1) {
      // tifffile's imwrite(…, imagej=True) labels a plain 3-D array's first axis as channels
      const allChannels = slices === 1 && framesIJ === 1 && channels === count;
      const hint = allChannels ? ` — if its ${channels} planes are time points (tifffile writes a 3-D array as channels unless told metadata={'axes': 'TYX'}), re-save it with that axis or in ImageJ (Image › Hyperstacks › Re-order: channels to frames)` : '';
      if (channel === undefined) return fail(`${name} is an ImageJ hyperstack with channels=${channels}: analyze reads one channel; pass --channel N (0 … ${channels - 1}) or split the channels in ImageJ first${hint}`);
      try { checkChannel(name, channel, channels); } catch (e) { return fail((e as Error).message); }
      notes.push(`ImageJ channel ${channel} of ${channels}`);
      frames = Math.floor(count / channels);
      pageOf = (t: number) => t * channels + channel;
    }
  }
  if (channel !== undefined && info.spp === 1 && frames === count && !ome) {
    try { checkChannel(name, channel, 1); } catch (e) { return fail((e as Error).message); }
  }

  // ImageJ writes stacks past 4 GiB with a single IFD and the pages' data contiguous after it.
  const ijImages = ij?.images ? Number(ij.images) : 1;
  let contiguous: { offset: number; pageBytes: number; littleEndian: boolean } | null = null;
  if (count === 1 && ijImages > 1) {
    const compression = fd.hasTag('Compression') ? Number(await fd.loadValue('Compression')) : 1;
    if (compression !== 1 || info.spp !== 1) return fail(`${name}: ImageJ stack of ${ijImages} images in one compressed or multi-sample page is not supported`);
    if (Number(ij?.channels ?? 1) > 1) return fail(`${name}: ImageJ contiguous stack with channels=${ij?.channels} is not supported: split the channels in ImageJ first`);
    const offsets = (await fd.loadValue('StripOffsets')) as ArrayLike<number | bigint>;
    const pageBytes = info.width * info.height * (info.bits / 8);
    const offset = Number(offsets[0]);
    const end = offset + ijImages * pageBytes;
    if (end > fileSize) return fail(`${name} is truncated: its ImageJ description says images=${ijImages} (${end} bytes) but the file has ${fileSize}`);
    contiguous = { offset, pageBytes, littleEndian: tiff.littleEndian };
    frames = ijImages;
    pageOf = (t: number) => t;
    notes.push(`ImageJ contiguous stack of ${ijImages} images in one IFD`);
  } else {
    // every page the same size and type; the data of the last page inside the file (truncation)
    for (let i = 0; i < count; i++) {
      let img: GeoTIFFImage;
      try {
        img = i === 0 ? first : await tiff.getImage(i);
      } catch (e) {
        return fail(`${name} is truncated or corrupt: frame ${i} cannot be read (${describeError(e)})`);
      }
      const p = pageInfo(img);
      if (p.width !== info.width || p.height !== info.height) {
        return fail(`${name}: frame ${i} is ${p.width}×${p.height} pixels but frame 0 is ${info.width}×${info.height}: all frames must have the same size`);
      }
      if (p.bits !== info.bits || p.format !== info.format || p.spp !== info.spp) {
        return fail(`${name}: frame ${i} has ${p.spp}×${p.bits}-bit samples (format ${p.format}) but frame 0 has ${info.spp}×${info.bits}-bit (format ${info.format}): all frames must have the same type`);
      }
      if (i === count - 1 || i === 0) {
        try { await checkPageExtent(img, fileSize, name, i); } catch (e) { await Promise.resolve(tiff.close()).catch(() => {}); await bytes.close().catch(() => {}); throw e; }
      }
    }
  }

  const n = info.width * info.height;
  const sample = info.spp > 1 ? channel! : 0;
  const compression = fd.hasTag('Compression') ? Number(await fd.loadValue('Compression')) : 1;
  // read directly: ImageJ's contiguous stacks, and uncompressed one-sample pages (rawStrips)
  let rawHandle: ByteSource | null = bytes;
  return {
    path: file,
    kind: 'tiff',
    width: info.width,
    height: info.height,
    frames,
    sampleType: type,
    pixel_um: calibration.pixelX_um?.value ?? calibration.pixelY_um?.value ?? null,
    frame_s: calibration.frame_s?.value ?? null,
    calibration,
    notes,
    async readFrame(index: number): Promise<FrameData> {
      if (!(Number.isInteger(index) && index >= 0 && index < frames)) throw new Error(`${name}: frame ${index} out of range 0…${frames - 1}`);
      if (contiguous && rawHandle) {
        // a copy: the bytes are swapped in place and become the frame's own array
        const buf = (await rawHandle.read(contiguous.offset + index * contiguous.pageBytes, contiguous.pageBytes)).slice();
        if (buf.length < contiguous.pageBytes) throw new UserError(`${name} is truncated: frame ${index} is incomplete`);
        toMachineOrder(buf, contiguous.littleEndian, info.bits);
        return toFrame([samplesOf(buf, info.bits, info.format)], type, n);
      }
      const page = pageOf(index);
      try {
        const img = await tiff.getImage(page);
        await checkPageExtent(img, fileSize, name, page);
        const strips = await rawStrips(img, info);
        if (strips && rawHandle) {
          let buf: Uint8Array;
          if (strips.offsets.length === 1) {
            // one strip (ImageJ, tifffile): the read is the page; a view into a file's bytes is copied
            // (it is swapped in place below)
            const strip = await rawHandle.read(strips.offsets[0], strips.counts[0]);
            if (strip.length < strips.counts[0]) throw new UserError(`${name} is truncated: frame ${index} is incomplete`);
            buf = isOwn(strip) ? strip : new Uint8Array(strip);
          } else {
            buf = new Uint8Array(info.width * info.height * (info.bits / 8));
            let at = 0;
            for (let k = 0; k < strips.offsets.length; k++) {
              const strip = await rawHandle.read(strips.offsets[k], strips.counts[k]);
              buf.set(strip, at);
              if (strip.length < strips.counts[k]) throw new UserError(`${name} is truncated: frame ${index} is incomplete`);
              at += strips.counts[k];
            }
          }
          toMachineOrder(buf, tiff.littleEndian, info.bits);
          return toFrame([samplesOf(buf, info.bits, info.format)], type, n);
        }
        if (info.spp > 1) fillPerSampleTags(img, info.spp);
        const bands = (await img.readRasters({ interleave: false, samples: [sample] })) as unknown as ArrayLike<number>[];
        return toFrame(bands, type, n);
      } catch (e) {
        if (e instanceof UserError) throw e;
        // the page's data lies inside the file (checked above), so a failure here is the encoding
        // more often than a cut-short file: say both, the encoding first
        throw new UserError(`${name}: frame ${index} cannot be decoded (${describeError(e)}): its encoding (compression ${compression}, ${info.bits}-bit samples, SampleFormat ${info.format}) may not be supported, or the file is corrupt; re-save it uncompressed as 8/16-bit or float32`);
      }
    },
    async close() {
      if (rawHandle) { await rawHandle.close(); rawHandle = null; }
      await Promise.resolve(tiff.close()).catch(() => {});
    },
  };
}

/**
 * A TIFF movie from the bytes of a file (a file dropped on a web page): the same checks and decoding
 * as `openMovie` on a file. `name` is the file's name in messages.
 */
export async function openTiffBytes(name: string, data: ArrayBuffer | Uint8Array, options: OpenMovieOptions = {}): Promise<MovieSource> {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (!isTiffMagic(bytes)) {
    const what = bytes.length < 8 ? `only ${bytes.length} bytes long` : bytes[0] === 0x89 && bytes[1] === 0x50 ? 'a PNG image, not a movie' : 'not a TIFF file (unrecognised signature)';
    throw new UserError(`${name} is ${what}: give a multi-page TIFF (8/16-bit or float32), e.g. an ImageJ stack`);
  }
  // geotiff keeps the ArrayBuffer: a copy of exactly the file's bytes
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
  return openTiffSource(name, () => fromArrayBuffer(ab), memoryBytes(new Uint8Array(ab)), options);
}
