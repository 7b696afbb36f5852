/**
 * PNG in and out: RGBA8 figures out (a Paeth filter and node:zlib, byte-identical to pngjs's encoder),
 * grey float images in through pngjs (camera frames, masks).
 */
import * as zlib from 'node:zlib';
import { PNG } from 'pngjs';
import { assembleModule, FuncBuilder } from '../wasm/asm';

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
  const idat = zlib.deflateSync(paethFiltered(rgba, width, height), { level: 9, strategy: zlib.constants.Z_RLE });
  return concatBytes([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', new Uint8Array(0))]);
}

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/**
 * The scanlines of an RGBA8 image, each led by filter type 4 and Paeth-filtered (PNG spec §9.4).
 * Rows 1 … height − 1 go through the WebAssembly SIMD kernel below where the engine has it, 8 bytes
 * per step (the filter of a byte reads only unfiltered bytes, so lanes are independent), the first
 * pixel and a 4-byte tail of each row and the first row here; without wasm SIMD (or `kernel: 'js'`)
 * every row goes through paethRow. Both give the same bytes (test/render/png.test.ts). With wasm the
 * result is a view of the kernel's memory, valid until the next call.
 */
export function paethFiltered(px: Uint8Array, width: number, height: number, kernel: 'auto' | 'js' = 'auto'): Uint8Array {
  const stride = width * 4, srcBytes = stride * height, outBytes = (stride + 1) * height;
  const blocks = (stride - 4) >> 3;
  const wasm = kernel === 'auto' && height > 1 && blocks > 0 ? paethWasm(srcBytes + outBytes) : null;
  // with wasm, the image and the scanlines share its memory: the image first, then the scanlines
  const heap = wasm ? new Uint8Array(wasm.memory.buffer) : null;
  const src = heap ? heap.subarray(0, srcBytes) : px;
  const out = heap ? heap.subarray(srcBytes, srcBytes + outBytes) : new Uint8Array(outBytes);
  if (heap) src.set(px);
  // the first row: no row above, so the predictor is the left byte (0 for the first pixel)
  out[0] = 4;
  for (let x = 0; x < 4; x++) out[1 + x] = src[x];
  for (let x = 4; x < stride; x++) out[1 + x] = src[x] - src[x - 4];
  wasm?.rows(stride, stride, srcBytes + stride + 1 + 5, height - 1, blocks);
  const from = wasm ? 4 + 8 * blocks : 4;
  for (let y = 1; y < height; y++) {
    const o = y * (stride + 1) + 1;
    out[o - 1] = 4;
    paethRow(src, out, o, y * stride, stride, from);
  }
  return out;
}

/** Paeth of row r's bytes 0 … 3 (no left neighbour: the byte above) and `from` … stride − 1. */
function paethRow(px: Uint8Array, out: Uint8Array, o: number, r: number, stride: number, from: number): void {
  const u = r - stride;
  for (let x = 0; x < 4; x++) out[o + x] = px[r + x] - px[u + x];
  for (let x = from; x < stride; x++) {
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

type PaethRows = (p: number, stride: number, o: number, rows: number, blocks: number) => void;

/** Whether the SIMD Paeth kernel runs here (false: every row goes through paethRow in JS). */
export function paethWasmAvailable(): boolean {
  return paethWasm(0) !== null;
}
let paethKernel: { memory: WebAssembly.Memory; rows: PaethRows } | null | undefined;

/** The SIMD Paeth kernel with at least `bytes` of memory (grown as needed, kept between calls), or null without wasm SIMD. */
function paethWasm(bytes: number): { memory: WebAssembly.Memory; rows: PaethRows } | null {
  if (paethKernel === undefined) {
    const code = paethModuleBytes();
    if (typeof WebAssembly !== 'object' || !WebAssembly.validate(code)) paethKernel = null;
    else {
      const memory = new WebAssembly.Memory({ initial: 0, maximum: 65536 });
      const rows = new WebAssembly.Instance(new WebAssembly.Module(code), { e: { m: memory } }).exports.rows as PaethRows;
      paethKernel = { memory, rows };
    }
  }
  if (!paethKernel) return null;
  const need = Math.ceil((bytes + 16) / 65536) - paethKernel.memory.buffer.byteLength / 65536;
  if (need > 0) paethKernel.memory.grow(need);
  return paethKernel;
}

/**
 * rows(p, stride, o, rows, blocks): for each of `rows` image rows from the one at p (the row above at
 * p − stride, scanlines stride + 1 bytes apart from o), `blocks` runs of 8 bytes from byte 4, Paeth-
 * filtered to o … — in i16 lanes: pa = |b − c|, pb = |a − c|, pc = |a + b − 2c|, the predictor a if
 * pa ≤ pb and pa ≤ pc, else b if pb ≤ pc, else c (PNG's order of ties), the byte minus it mod 256.
 */
function paethModuleBytes(): Uint8Array<ArrayBuffer> {
  const f = new FuncBuilder('rows', [['p', 'i32'], ['s', 'i32'], ['o', 'i32'], ['rows', 'i32'], ['blocks', 'i32']], [])
    .locals({ q: 'i32', x: 'i32', w: 'i32', k: 'i32', a: 'v128', b: 'v128', c: 'v128', v: 'v128', pa: 'v128', pb: 'v128', pc: 'v128', t: 'v128' });
  f.block().get('rows').op('i32.eqz').brIf(0).get('blocks').op('i32.eqz').brIf(0).loop();
  f.get('p').set('x').get('o').set('w').get('blocks').set('k');
  f.loop();
  f.get('x').mem('i16x8.load8x8_u', 0).set('a');
  f.get('x').mem('i16x8.load8x8_u', 4).set('v');
  f.get('x', 's').op('i32.sub').tee('q').mem('i16x8.load8x8_u', 0).set('c');
  f.get('q').mem('i16x8.load8x8_u', 4).set('b');
  f.get('b', 'c').op('i16x8.sub', 'i16x8.abs').set('pa');
  f.get('a', 'c').op('i16x8.sub', 'i16x8.abs').set('pb');
  f.get('a', 'b').op('i16x8.add').get('c').op('i16x8.sub').get('c').op('i16x8.sub', 'i16x8.abs').set('pc');
  // t = pb ≤ pc ? b : c, then the predictor = pa ≤ pb && pa ≤ pc ? a : t
  f.get('b', 'c', 'pb', 'pc').op('i16x8.le_s', 'v128.bitselect').set('t');
  f.get('a', 't', 'pa', 'pb').op('i16x8.le_s').get('pa', 'pc').op('i16x8.le_s', 'v128.and', 'v128.bitselect').set('t');
  // the bytes (0 … 255: narrowing is exact) minus the predictor, wrapping
  f.get('w').get('v', 'v').op('i8x16.narrow_i16x8_u').get('t', 't').op('i8x16.narrow_i16x8_u', 'i8x16.sub').storeLane64(0);
  f.get('x').i32(8).op('i32.add').set('x');
  f.get('w').i32(8).op('i32.add').set('w');
  f.get('k').i32(1).op('i32.sub').tee('k').brIf(0);
  f.op('end');
  // the next row
  f.get('p', 's').op('i32.add').set('p');
  f.get('o', 's').op('i32.add').i32(1).op('i32.add').set('o');
  f.get('rows').i32(1).op('i32.sub').tee('rows').brIf(0);
  f.op('end', 'end');
  return assembleModule([f], { shared: false });
}

/** A PNG chunk: length, type, data, CRC-32 of type and data. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

let crcTable: Uint32Array | undefined;
/** CRC-32 (ISO 3309, as PNG uses): zlib's own from Node 20.15 on, else a table in JS */
function crc32(bytes: Uint8Array): number {
  const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  if (native) return native(bytes);
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
