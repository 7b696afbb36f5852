/**
 * A small streaming writer for uncompressed, single-channel, multi-page TIFF stacks (classic TIFF, or
 * BigTIFF when the file would pass 4 GiB), with ImageJ metadata (pixel size, frame interval) so that
 * Fiji/ImageJ opens the stack calibrated. Reading is left to the maintained `geotiff` decoder; this
 * module only writes.
 *
 * Layout (the one ImageJ itself writes, which its fast stack reader relies on):
 *
 *     header | IFD 0 + its values (description, resolution) | page 0 … page N−1 pixels | IFD 1 … N−1
 *
 * Pixel data of all pages is contiguous, so a page is written as soon as it is produced and no page is
 * ever held back; the later IFDs (a few hundred bytes each) are written by `close()`, which also
 * patches the ImageJ description (final page count, min/max) and the link from IFD 0 to IFD 1.
 * Little-endian ("II") throughout.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';

export type TiffSampleType = 'uint8' | 'uint16' | 'float32';
export type TiffPage = Uint8Array | Uint16Array | Float32Array;

export interface ImageJMetadata {
  /** pixel size in µm (written as XResolution/YResolution = 1/pixel_um with unit=micron) */
  pixel_um?: number;
  /** frame interval in seconds (ImageJ `finterval`) */
  frame_s?: number;
}

export interface TiffStackWriterOptions {
  width: number;
  height: number;
  sampleType: TiffSampleType;
  /** pages that will be written; used to choose BigTIFF and for the ImageJ description */
  frames: number;
  /** true = BigTIFF, false = classic (fails past 4 GiB), 'auto' (default) = BigTIFF only when needed */
  bigTiff?: boolean | 'auto';
  /** ImageJ description and calibration; omit for a plain TIFF */
  imagej?: ImageJMetadata;
  /**
   * float32 only: true (default) scans every page for the ImageJ display range (min=, max=); false
   * skips the scan (a pass over every sample, ~25 ms for a 2048² page here) and the range is the one
   * given to close(), or none.
   */
  scanRange?: boolean;
}

export interface TiffStackWriter {
  readonly path: string;
  readonly bigTiff: boolean;
  /** pages written so far */
  readonly pagesWritten: number;
  /** appends one page (row-major, width × height samples of the declared type) */
  writePage(page: TiffPage): Promise<void>;
  /**
   * writes the remaining IFDs and closes the file; must be called exactly once. `displayRange`: the
   * ImageJ min=/max= to write instead of the scanned data range (float32).
   */
  close(displayRange?: [number, number]): Promise<void>;
  /** closes the file without finishing it (after an error; the caller removes the file) */
  abort(): Promise<void>;
}

const TYPE = { ASCII: 2, SHORT: 3, LONG: 4, RATIONAL: 5, LONG8: 16 } as const;
const CLASSIC_LIMIT = 2 ** 32 - 1;
/** bytes reserved for the ImageJ description, patched in place by close() */
const DESCRIPTION_BYTES = 512;

interface Entry { tag: number; type: number; count: number; value: number | bigint; inline: boolean }

function bytesPerSample(t: TiffSampleType): number {
  return t === 'uint8' ? 1 : t === 'uint16' ? 2 : 4;
}

/** The best rational num/den ≈ x with both parts in u32 (TIFF RATIONAL), by continued fractions. */
export function toRational(x: number): [number, number] {
  if (!(x > 0) || !Number.isFinite(x)) return [0, 1];
  if (x >= CLASSIC_LIMIT) return [CLASSIC_LIMIT, 1];
  let [h0, h1, k0, k1] = [0, 1, 1, 0];
  let v = x;
  for (let iter = 0; iter < 64; iter++) {
    const a = Math.floor(v);
    const h2 = a * h1 + h0, k2 = a * k1 + k0;
    if (h2 > CLASSIC_LIMIT || k2 > CLASSIC_LIMIT) break;
    [h0, h1, k0, k1] = [h1, h2, k1, k2];
    if (Math.abs(h1 / k1 - x) <= 1e-15 * x || v - a < 1e-12) break;
    v = 1 / (v - a);
  }
  return [h1, k1];
}

function imagejDescription(meta: ImageJMetadata, frames: number, min: number, max: number): string {
  const lines = ['ImageJ=1.54f', `images=${frames}`];
  if (frames > 1) lines.push(`frames=${frames}`);
  if (meta.pixel_um !== undefined) lines.push('unit=micron');
  if (meta.frame_s !== undefined) lines.push(`finterval=${meta.frame_s}`);
  lines.push('loop=false');
  if (Number.isFinite(min) && Number.isFinite(max)) lines.push(`min=${min}`, `max=${max}`);
  return lines.join('\n') + '\n';
}

/**
 * Opens `path` for writing (truncating it) and returns a page-by-page writer. Peak memory is one
 * page (the caller's) plus the IFDs at close.
 */
export async function createTiffStackWriter(path: string, options: TiffStackWriterOptions): Promise<TiffStackWriter> {
  const { width, height, sampleType, frames } = options;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new Error(`TIFF writer: width × height = ${width} × ${height} is not allowed: use positive integers`);
  }
  if (!(Number.isInteger(frames) && frames >= 1)) throw new Error(`TIFF writer: frames = ${frames} is not allowed: use an integer ≥ 1`);
  const bps = bytesPerSample(sampleType);
  const samples = width * height;
  // Pages start on even offsets (TIFF word alignment); odd-sized 8-bit pages get one pad byte.
  const pageBytes = samples * bps;
  const pageStride = pageBytes + (pageBytes & 1);
  const ifdEstimate = 400; // generous bytes per IFD
  const estimate = 64 + DESCRIPTION_BYTES + frames * (pageStride + ifdEstimate);
  const bigTiff = options.bigTiff === 'auto' || options.bigTiff === undefined ? estimate > CLASSIC_LIMIT : options.bigTiff;
  const swap = endianness() !== 'LE';
  const meta = options.imagej;

  // --- IFD encoding -------------------------------------------------------------------------------
  const entrySize = bigTiff ? 20 : 12;
  const countSize = bigTiff ? 8 : 2;
  const offsetSize = bigTiff ? 8 : 4;
  const ifdSize = (n: number) => countSize + n * entrySize + offsetSize;

  function encodeIfd(entries: Entry[], next: number): Buffer {
    entries.sort((a, b) => a.tag - b.tag);
    const buf = Buffer.alloc(ifdSize(entries.length));
    let p = 0;
    if (bigTiff) { buf.writeBigUInt64LE(BigInt(entries.length), p); p += 8; } else { buf.writeUInt16LE(entries.length, p); p += 2; }
    for (const e of entries) {
      buf.writeUInt16LE(e.tag, p);
      buf.writeUInt16LE(e.type, p + 2);
      if (bigTiff) buf.writeBigUInt64LE(BigInt(e.count), p + 4); else buf.writeUInt32LE(e.count, p + 4);
      const vp = p + (bigTiff ? 12 : 8);
      if (e.inline && e.type === TYPE.SHORT) buf.writeUInt16LE(Number(e.value), vp);
      else if (bigTiff) buf.writeBigUInt64LE(BigInt(e.value), vp);
      else buf.writeUInt32LE(Number(e.value), vp);
      p += entrySize;
    }
    if (bigTiff) buf.writeBigUInt64LE(BigInt(next), p); else buf.writeUInt32LE(next, p);
    return buf;
  }

  const short = (tag: number, v: number): Entry => ({ tag, type: TYPE.SHORT, count: 1, value: v, inline: true });
  const long = (tag: number, v: number): Entry => ({ tag, type: TYPE.LONG, count: 1, value: v, inline: true });
  const offsetEntry = (tag: number, v: number): Entry => ({ tag, type: bigTiff ? TYPE.LONG8 : TYPE.LONG, count: 1, value: v, inline: true });

  // IFD 0 holds the shared out-of-line values: description (IFD 0 only) and the two rationals.
  const headerSize = bigTiff ? 16 : 8;
  const ifd0Offset = headerSize;
  const hasRes = meta?.pixel_um !== undefined && meta.pixel_um > 0;
  const baseEntries = (pageOffset: number): Entry[] => {
    const e: Entry[] = [
      long(254, 0), // NewSubfileType: full-resolution page
      long(256, width),
      long(257, height),
      short(258, bps * 8),
      short(259, 1), // no compression
      short(262, 1), // BlackIsZero
      offsetEntry(273, pageOffset),
      short(277, 1),
      long(278, height),
      offsetEntry(279, pageBytes),
      short(339, sampleType === 'float32' ? 3 : 1),
    ];
    if (hasRes) e.push(short(296, 1)); // ResolutionUnit none: ImageJ takes the unit from its description
    return e;
  };
  const nEntries0 = baseEntries(0).length + (meta ? 1 : 0) + (hasRes ? 2 : 0);
  const valuesStart = ifd0Offset + ifdSize(nEntries0);
  const descOffset = valuesStart;
  const xresOffset = descOffset + (meta ? DESCRIPTION_BYTES : 0);
  const yresOffset = xresOffset + 8;
  let dataStart = hasRes ? yresOffset + 8 : xresOffset;
  dataStart += dataStart & 1;
  const pageOffset = (i: number) => dataStart + i * pageStride;

  const extraEntries = (includeDescription: boolean): Entry[] => {
    const e: Entry[] = [];
    if (meta && includeDescription) e.push({ tag: 270, type: TYPE.ASCII, count: DESCRIPTION_BYTES, value: descOffset, inline: false });
    if (hasRes) {
      e.push({ tag: 282, type: TYPE.RATIONAL, count: 1, value: xresOffset, inline: false });
      e.push({ tag: 283, type: TYPE.RATIONAL, count: 1, value: yresOffset, inline: false });
    }
    return e;
  };

  const fh: FileHandle = await open(path, 'w');
  let pagesWritten = 0;
  let min = Infinity, max = -Infinity;
  let closed = false;

  const writeAt = async (buf: Uint8Array, position: number) => {
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
      done += bytesWritten;
    }
  };

  async function writeHeadAndIfd0(next: number, pages: number) {
    const header = Buffer.alloc(headerSize);
    header.write('II', 0, 'latin1');
    if (bigTiff) {
      header.writeUInt16LE(43, 2); header.writeUInt16LE(8, 4); header.writeUInt16LE(0, 6);
      header.writeBigUInt64LE(BigInt(ifd0Offset), 8);
    } else {
      header.writeUInt16LE(42, 2); header.writeUInt32LE(ifd0Offset, 4);
    }
    await writeAt(header, 0);
    await writeAt(encodeIfd([...baseEntries(pageOffset(0)), ...extraEntries(true)], next), ifd0Offset);
    if (meta) {
      const text = imagejDescription(meta, pages, min, max);
      const desc = Buffer.alloc(DESCRIPTION_BYTES, 0x0a); // blank lines pad the reserved space
      if (text.length >= DESCRIPTION_BYTES) throw new Error('TIFF writer: ImageJ description too long');
      desc.write(text, 0, 'latin1');
      desc[DESCRIPTION_BYTES - 1] = 0;
      await writeAt(desc, descOffset);
    }
    if (hasRes) {
      const res = Buffer.alloc(16);
      const [n, d] = toRational(1 / meta!.pixel_um!);
      res.writeUInt32LE(n, 0); res.writeUInt32LE(d, 4); res.writeUInt32LE(n, 8); res.writeUInt32LE(d, 12);
      await writeAt(res, xresOffset);
    }
  }

  try {
    await writeHeadAndIfd0(0, frames);
  } catch (e) {
    await fh.close();
    throw e;
  }

  return {
    path,
    bigTiff,
    get pagesWritten() { return pagesWritten; },
    async writePage(page: TiffPage) {
      if (closed) throw new Error('TIFF writer: writePage after close');
      if (page.length !== samples) throw new Error(`TIFF writer: page has ${page.length} samples, expected ${width} × ${height} = ${samples}`);
      const expected = sampleType === 'uint8' ? Uint8Array : sampleType === 'uint16' ? Uint16Array : Float32Array;
      if (!(page instanceof expected)) throw new Error(`TIFF writer: page is a ${page.constructor.name}, expected ${expected.name}`);
      const offset = pageOffset(pagesWritten);
      // IFDs of all pages follow the data; check the classic 4 GiB limit before writing anything.
      if (!bigTiff && offset + pageStride + (pagesWritten + 2) * ifdSize(nEntries0) > CLASSIC_LIMIT) {
        throw new Error(`TIFF writer: ${path} would pass 4 GiB as a classic TIFF (declared ${frames} pages, writing page ${pagesWritten + 1}); use bigTiff`);
      }
      if (sampleType === 'float32' && options.scanRange !== false) {
        const f = page as Float32Array;
        for (let i = 0; i < f.length; i++) {
          const v = f[i];
          if (v < min) min = v;
          if (v > max) max = v;
        }
      }
      let bytes = new Uint8Array(page.buffer, page.byteOffset, pageBytes);
      if (swap && bps > 1) {
        const copy = Buffer.from(bytes);
        if (bps === 2) copy.swap16(); else copy.swap32();
        bytes = copy;
      }
      await writeAt(bytes, offset);
      if (pageStride !== pageBytes) await writeAt(new Uint8Array(1), offset + pageBytes);
      pagesWritten++;
    },
    async close(displayRange?: [number, number]) {
      if (closed) throw new Error('TIFF writer: closed twice');
      closed = true;
      try {
        if (pagesWritten === 0) throw new Error(`TIFF writer: no page was written to ${path}`);
        if (displayRange) [min, max] = displayRange;
        if (sampleType !== 'float32') { min = NaN; max = NaN; }
        // IFDs 1 … N−1 after the data; each names the shared rationals of IFD 0.
        const ifdStart = pageOffset(pagesWritten);
        const n = baseEntries(0).length + (hasRes ? 2 : 0);
        const size = ifdSize(n);
        const chunkPages = 4096;
        for (let first = 1; first < pagesWritten; first += chunkPages) {
          const last = Math.min(pagesWritten, first + chunkPages);
          const parts: Buffer[] = [];
          for (let i = first; i < last; i++) {
            const here = ifdStart + (i - 1) * size;
            const next = i + 1 < pagesWritten ? here + size : 0;
            parts.push(encodeIfd([...baseEntries(pageOffset(i)), ...extraEntries(false)], next));
          }
          await writeAt(Buffer.concat(parts), ifdStart + (first - 1) * size);
        }
        if (!bigTiff && ifdStart + pagesWritten * size > CLASSIC_LIMIT) throw new Error('TIFF writer: classic TIFF past 4 GiB');
        await writeHeadAndIfd0(pagesWritten > 1 ? ifdStart : 0, pagesWritten);
      } finally {
        await fh.close();
      }
    },
    async abort() {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

/** Writes a whole stack at once (tests, small outputs). */
export async function writeTiffStack(path: string, pages: TiffPage[], options: Omit<TiffStackWriterOptions, 'frames'> & { frames?: number }): Promise<void> {
  const w = await createTiffStackWriter(path, { ...options, frames: options.frames ?? pages.length });
  try {
    for (const p of pages) await w.writePage(p);
  } catch (e) {
    await w.abort();
    throw e;
  }
  await w.close();
}
