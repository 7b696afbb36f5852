import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodePngGrey, encodePng, paethFiltered, paethWasmAvailable, pngChunk, PNG_SIGNATURE } from '../../src/render/png';

/** A minimal PNG for formats pngjs cannot write (palette, 4-bit grey): one IDAT, filter 0 rows (chunks framed by png.ts, whose own bytes are checked against pngjs below). */
function handMadePng(width: number, height: number, depth: number, colorType: number, rows: Uint8Array[], plte?: Uint8Array): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([depth, colorType, 0, 0, 0], 8);
  const raw = Buffer.concat(rows.map((r) => Buffer.concat([Buffer.from([0]), Buffer.from(r)])));
  const parts = [
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    ...(plte ? [pngChunk('PLTE', plte)] : []),
    pngChunk('IDAT', new Uint8Array(deflateSync(raw))),
    pngChunk('IEND', new Uint8Array(0)),
  ];
  return new Uint8Array(Buffer.concat(parts));
}

describe('encodePng / decodePngGrey', () => {
  it('round-trips a known RGBA image to its mean-of-RGB grey', () => {
    const width = 7;
    const height = 5;
    const rgba = new Uint8Array(width * height * 4);
    const expected = new Float32Array(width * height);
    for (let i = 0; i < width * height; i++) {
      const [r, g, b] = [(i * 37) % 256, (i * 91 + 13) % 256, (255 - i * 5) % 256];
      rgba.set([r, g, b, i % 2 ? 255 : 40], i * 4); // alpha must not matter
      expected[i] = (r + g + b) / 3;
    }
    const bytes = encodePng({ rgba, width, height });
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const back = decodePngGrey(bytes);
    expect(back.width).toBe(width);
    expect(back.height).toBe(height);
    expect(back.bitDepth).toBe(8);
    for (let i = 0; i < expected.length; i++) expect(back.data[i]).toBeCloseTo(expected[i], 4);
    // and pngjs itself reads back exactly the RGBA that went in
    expect(new Uint8Array(PNG.sync.read(Buffer.from(bytes)).data)).toEqual(rgba);
  });

  it("writes pngjs's own bytes for its Paeth filter (PNG.sync.write, filterType 4), through wasm SIMD and JS alike", () => {
    // Node has wasm SIMD: the kernel must build here, or the comparisons below would be JS against JS
    expect(paethWasmAvailable()).toBe(true);
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
    for (const [width, height] of [[1, 1], [1, 5], [6, 1], [3, 4], [7, 5], [64, 33], [300, 200]]) {
      // noise, flat patches and smooth ramps: every branch of the predictor, bytes wrapping both ways
      const rgba = new Uint8Array(width * height * 4);
      for (let i = 0; i < rgba.length; i++) {
        const x = (i >> 2) % width, y = Math.floor((i >> 2) / width);
        rgba[i] = x < width / 3 ? Math.floor(rand() * 256) : y < height / 2 ? 200 + (i & 3) : (x * 7 + y * 3 + (i & 3) * 60) & 255;
      }
      // and some rows the same as the row above (a figure's flat margins)
      for (let y = 1; y < height; y += 3) rgba.copyWithin(y * width * 4, (y - 1) * width * 4, y * width * 4);
      const ours = encodePng({ rgba, width, height });
      const theirs = PNG.sync.write({ width, height, data: Buffer.from(rgba) } as PNG, { colorType: 6, inputColorType: 6, bitDepth: 8, filterType: 4 });
      expect(Buffer.from(ours).equals(theirs), `${width}×${height}`).toBe(true);
      // the SIMD rows and the JS rows: the same scanlines
      expect(Buffer.from(paethFiltered(rgba, width, height)).equals(paethFiltered(rgba, width, height, 'js')), `${width}×${height}, wasm = js`).toBe(true);
    }
  });

  it('rejects an rgba buffer of the wrong size', () => {
    expect(() => encodePng({ rgba: new Uint8Array(10), width: 2, height: 2 })).toThrow(/16/);
  });

  it('keeps 16-bit grey values (0..65535)', () => {
    const width = 4;
    const height = 3;
    const values = [0, 1, 255, 256, 1000, 4095, 30000, 32768, 40000, 65534, 65535, 12345];
    const png = new PNG({ width, height, bitDepth: 16, colorType: 0, inputColorType: 0 });
    png.data = Buffer.from(new Uint16Array(values).buffer);
    const bytes = new Uint8Array(PNG.sync.write(png, { bitDepth: 16, colorType: 0, inputColorType: 0 }));
    const back = decodePngGrey(bytes);
    expect(back.bitDepth).toBe(16);
    expect([back.width, back.height]).toEqual([width, height]);
    expect([...back.data]).toEqual(values);
  });

  it('reads 8-bit grey exactly', () => {
    const png = new PNG({ width: 3, height: 1, colorType: 0, inputColorType: 0 });
    png.data = Buffer.from([0, 128, 255]);
    const back = decodePngGrey(new Uint8Array(PNG.sync.write(png, { colorType: 0, inputColorType: 0 })));
    expect([...back.data]).toEqual([0, 128, 255]);
    expect(back.bitDepth).toBe(8);
  });

  it('reads a palette PNG as the mean of its colours', () => {
    const plte = new Uint8Array([255, 0, 0, 0, 0, 255, 30, 60, 90]);
    const bytes = handMadePng(3, 2, 8, 3, [new Uint8Array([0, 1, 2]), new Uint8Array([2, 2, 0])], plte);
    const back = decodePngGrey(bytes);
    expect(back.bitDepth).toBe(8);
    expect([...back.data]).toEqual([85, 85, 60, 60, 60, 85]);
  });

  it('stretches 4-bit grey to 0..255', () => {
    // two pixels per byte: 0x0f → 0, 15; 0x85 → 8, 5
    const bytes = handMadePng(4, 1, 4, 0, [new Uint8Array([0x0f, 0x85])]);
    const back = decodePngGrey(bytes);
    expect(back.bitDepth).toBe(8);
    expect([...back.data]).toEqual([0, 255, 136, 85]);
  });
});
