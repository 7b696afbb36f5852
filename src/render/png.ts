/**
 * PNG in and out: RGBA8 figures out (a Paeth filter and node:zlib, byte-identical to pngjs's encoder),
 * grey float images in through pngjs (camera frames, masks).
 */
import { constants as zlibConstants, deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';

/** An 8-bit RGBA raster, row-major, row 0 at the top, 4 bytes per pixel. */
export interface RgbaImage {
  rgba: Uint8Array;
  width: number;
  height: number;
}

/**
 * Encodes an RGBA8 image to PNG bytes: colour type 6, 8 bits per channel, one filter (Paeth) for
 * every row, deflate at level 9 with the RLE strategy — pngjs's PNG.sync.write with `filterType: 4`,
 * byte for byte (test/render/png.test.ts), without its per-byte filter loop: the figures of a run
 * (a 657² θ map and an 846×1200 trace, 5.8 MB of RGBA) took 32 ms there, warm; the filter below is one
 * branch-light pass. pngjs still reads every PNG. (Paeth alone: pngjs's default tries all five
 * filters per row, 3.4× slower for figures no smaller.)
 */
export function encodePng(img: RgbaImage): Uint8Array {
  const { rgba, width, height } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`encodePng: width and height must be positive integers (got ${width}x${height})`);
  }
  if (rgba.length !== width * height * 4) {
    throw new Error(`encodePng: rgba has ${rgba.length} bytes, expected width*height*4 = ${width * height * 4}`);
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr[8] = 8; // bits per channel
  ihdr[9] = 6; // RGBA; compression, filter method and interlace stay 0
  const idat = deflateSync(paethFiltered(rgba, width, height), { level: 9, strategy: zlibConstants.Z_RLE });
  return concatBytes([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', new Uint8Array(0))]);
}

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** the scanlines of an RGBA8 image, each led by filter type 4 and Paeth-filtered (PNG spec §9.4) */
function paethFiltered(px: Uint8Array, width: number, height: number): Uint8Array {
  const stride = width * 4;
  const out = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1) + 1, r = y * stride;
    out[o - 1] = 4;
    if (y === 0) {
      // no row above: the predictor is the left byte (0 for the first pixel)
      for (let x = 0; x < 4; x++) out[o + x] = px[r + x];
      for (let x = 4; x < stride; x++) out[o + x] = px[r + x] - px[r + x - 4];
    } else if (Buffer.compare(px.subarray(r, r + stride), px.subarray(r - stride, r)) !== 0) {
      paethRow(px, out, o, r, stride);
    } // else the row above again (a figure's margins and flat bands): every predictor is the byte itself, all zeros
  }
  return out;
}

function paethRow(px: Uint8Array, out: Uint8Array, o: number, r: number, stride: number): void {
  const u = r - stride;
  // the first pixel: no left neighbour, so the predictor is the byte above
  for (let x = 0; x < 4; x++) out[o + x] = px[r + x] - px[u + x];
  for (let x = 4; x < stride; x++) {
    const a = px[r + x - 4], b = px[u + x], c = px[u + x - 4], v = px[r + x];
    // left = upper-left (flat colour, vertical edges): the estimate is the byte above
    if (a === c) { out[o + x] = v - b; continue; }
    let pa = b - c, pb = a - c, pc = pa + pb;
    pa = pa < 0 ? -pa : pa;
    pb = pb < 0 ? -pb : pb;
    pc = pc < 0 ? -pc : pc;
    out[o + x] = v - (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
  }
}

/** length, type, data, CRC-32 of type and data */
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

let crcTable: Uint32Array | undefined;
function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * Decodes a PNG (1-16 bit; grey, grey+alpha, RGB, RGBA or palette) to a float32 grey image: the mean
 * of R, G and B (alpha ignored). 16-bit files keep their values (0..65535, bitDepth 16); everything
 * else comes back on the 0..255 scale with bitDepth 8 (1/2/4-bit grey is stretched to 0..255, palette
 * entries are 8-bit colours), so full scale is always 2^bitDepth − 1.
 */
export function decodePngGrey(bytes: Uint8Array): { data: Float32Array; width: number; height: number; bitDepth: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // skipRescale keeps 16-bit samples (as a Uint16Array) instead of pngjs's default squeeze to 8 bits
  const png = PNG.sync.read(buf, { skipRescale: true });
  const { width, height, depth } = png;
  const colorType: number = png.colorType; // @types/pngjs omits 3 (palette), which pngjs does report
  const px = png.data as unknown as ArrayLike<number>;
  const isPalette = colorType === 3;
  // low-bit grey is left at 0..2^depth−1 by skipRescale; palette colours are already 8-bit
  const gain = !isPalette && depth < 8 ? 255 / (2 ** depth - 1) : 1;
  const data = new Float32Array(width * height);
  for (let i = 0, p = 0; i < data.length; i++, p += 4) {
    data[i] = ((px[p] + px[p + 1] + px[p + 2]) / 3) * gain;
  }
  return { data, width, height, bitDepth: depth === 16 && !isPalette ? 16 : 8 };
}
