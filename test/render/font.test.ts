import { describe, expect, it } from 'vitest';
import { drawText, drawTextVertical, hasGlyph, textHeight, textWidth } from '../../src/render/font';

const blank = (width: number, height: number) => ({ rgba: new Uint8Array(width * height * 4).fill(255), width, height });
const ink = (img: { rgba: Uint8Array; width: number }, x: number, y: number) => img.rgba[(y * img.width + x) * 4] === 0;

describe('bitmap font', () => {
  it('covers the characters figure text needs', () => {
    const needed = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-+/%:() ,=_θµΔ';
    for (const ch of needed) expect(hasGlyph(ch), ch).toBe(true);
  });

  it('measures text: digits fixed width, proportional letters, integer scale', () => {
    expect(textWidth('0', 1)).toBe(5);
    expect(textWidth('10', 1)).toBe(11);
    expect(textWidth('10', 3)).toBe(33);
    expect(textWidth('.', 1)).toBe(1);
    expect(textWidth('i', 1)).toBeLessThan(5);
    expect(textHeight(2)).toBe(18);
  });

  it('draws glyph pixels at the given scale, and nothing for a space', () => {
    const img = blank(20, 20);
    drawText(img, 2, 3, '1', 2);
    // '1' has its stem in column 2: at scale 2 that is x = 2 + 4, 5; rows 0..6 → y = 3 .. 16
    for (let y = 3; y < 17; y++) expect(ink(img, 6, y) && ink(img, 7, y)).toBe(true);
    expect(ink(img, 2, 3)).toBe(false); // top-left corner of the cell is empty
    const none = blank(20, 20);
    drawText(none, 0, 0, '   ', 3);
    expect(none.rgba.every((v) => v === 255)).toBe(true);
  });

  it('rotates text counter-clockwise for vertical labels', () => {
    const h = blank(20, 12);
    drawText(h, 0, 0, 'L', 1);
    const v = blank(12, 20);
    drawTextVertical(v, 0, 0, 'L', 1);
    const w = textWidth('L', 1);
    // horizontal pixel (x, y) lands at (y, w − 1 − x)
    for (let y = 0; y < 9; y++) for (let x = 0; x < w; x++) expect(ink(v, y, w - 1 - x)).toBe(ink(h, x, y));
  });
});
