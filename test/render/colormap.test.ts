import { describe, expect, it } from 'vitest';
import { colorOf, NAN_RGB, type ColormapName } from '../../src/render/colormap';

/** CIE L* of an sRGB colour (D65). */
function lightness([r, g, b]: readonly number[]): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const y = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return y > 216 / 24389 ? 116 * Math.cbrt(y) - 16 : (24389 / 27) * y;
}

const div = (v: number, o: Partial<{ vmin: number; vmax: number; center: number; reversed: boolean }> = {}) =>
  colorOf(v, { colormap: 'diverging', vmin: -1, vmax: 1, ...o });

describe('diverging colour map', () => {
  it('is exactly white at the centre, for symmetric and asymmetric ranges', () => {
    expect(div(0)).toEqual([255, 255, 255]);
    expect(div(1, { vmin: 0, vmax: 1, center: 1 })).toEqual([255, 255, 255]);
    expect(div(0.3, { vmin: 0, vmax: 2, center: 0.3 })).toEqual([255, 255, 255]);
    expect(div(0.25, { vmin: -0.5, vmax: 1 })).toEqual([255, 255, 255]); // default centre = midpoint
    expect(div(0, { reversed: true })).toEqual([255, 255, 255]);
  });

  it('is red at vmax and blue at vmin, saturating beyond', () => {
    const [r1, g1, b1] = div(1);
    expect(r1).toBeGreaterThan(g1 + 60);
    expect(r1).toBeGreaterThan(b1 + 40);
    const [r0, g0, b0] = div(-1);
    expect(b0).toBeGreaterThan(r0 + 60);
    expect(b0).toBeGreaterThan(g0 + 20);
    expect(div(5)).toEqual(div(1));
    expect(div(-5)).toEqual(div(-1));
    expect(div(Infinity)).toEqual(div(1));
    expect(div(-Infinity)).toEqual(div(-1));
  });

  it('reversed swaps red and blue', () => {
    for (const v of [-1, -0.6, -0.1, 0.1, 0.6, 1]) expect(div(v, { reversed: true })).toEqual(div(-v));
    const [r, , b] = div(1, { reversed: true });
    expect(b).toBeGreaterThan(r);
  });

  it('scales each side on its own: half way to vmin is as blue as half way to vmax is red', () => {
    // centre 1 in [0, 2] vs centre 0.8 in [0, 2]: the blue side is shorter, so it saturates sooner
    const a = colorOf(0.4, { colormap: 'diverging', vmin: 0, vmax: 2, center: 0.8 });
    expect(a).toEqual(colorOf(0.5, { colormap: 'diverging', vmin: 0, vmax: 2, center: 1 }));
    expect(colorOf(0, { colormap: 'diverging', vmin: 0, vmax: 2, center: 0.8 })).toEqual(div(-1));
  });

  it('gets darker monotonically away from the centre on both sides', () => {
    for (const sign of [1, -1]) {
      let prev = Infinity;
      for (let i = 0; i <= 100; i++) {
        const L = lightness(div((sign * i) / 100));
        expect(L).toBeLessThanOrEqual(prev + 1e-9);
        prev = L;
      }
      expect(prev).toBeLessThan(40);
    }
  });

  it('colours NaN with the background grey', () => {
    expect(div(NaN)).toEqual([...NAN_RGB]);
    expect(colorOf(NaN, { colormap: 'sequential', vmin: 0, vmax: 1 })).toEqual([...NAN_RGB]);
  });

  it('rejects an unknown colour map by name', () => {
    expect(() => colorOf(0, { colormap: 'jet' as ColormapName, vmin: 0, vmax: 1 })).toThrow(/jet/);
  });
});

describe('sequential colour map', () => {
  const seq = (v: number, reversed = false) => colorOf(v, { colormap: 'sequential', vmin: 10, vmax: 20, reversed });

  it('is viridis at its ends', () => {
    expect(seq(10)).toEqual([0x44, 0x01, 0x54]);
    expect(seq(20)).toEqual([0xfd, 0xe7, 0x25]);
    expect(seq(-100)).toEqual(seq(10));
    expect(seq(100)).toEqual(seq(20));
  });

  it('is monotone in lightness, and reversed runs it the other way', () => {
    // at 1/32 steps strictly; at 1/256 steps up to the 8-bit rounding of neighbouring colours
    const coarse = Array.from({ length: 33 }, (_, i) => lightness(seq(10 + (10 * i) / 32)));
    for (let i = 1; i < coarse.length; i++) expect(coarse[i]).toBeGreaterThan(coarse[i - 1] + 0.5);
    const fine = Array.from({ length: 257 }, (_, i) => lightness(seq(10 + (10 * i) / 256)));
    for (let i = 1; i < fine.length; i++) expect(fine[i]).toBeGreaterThan(fine[i - 1] - 0.1);
    expect(fine[256] - fine[0]).toBeGreaterThan(60);
    for (const v of [10, 12.5, 15, 17, 20]) expect(seq(v, true)).toEqual(seq(30 - v));
  });
});
