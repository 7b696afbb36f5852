/**
 * A built-in 5x7 bitmap font (with 2 descender rows, so cells are 5x9) for figure text: digits,
 * A-Z, a-z, a few symbols and the Greek letters the figures need (θ, µ, Δ, η). Text is drawn at an
 * integer scale, proportionally spaced (digits keep a fixed width so tick labels line up).
 */
import type { RgbaImage } from './png';

/** Rows of a glyph cell: 7 above the baseline (cap height) and 2 for descenders. */
export const GLYPH_ROWS = 9;
/** Rows from the top of a cell to the baseline (cap height). */
export const CAP_ROWS = 7;

// Each band: a header line naming the glyphs (one every 6 columns), then 9 rows of 5 columns each.
const SHEET = `
0     1     2     3     4     5     6     7     8     9
.###. ..#.. .###. ##### ...#. ##### ..##. ##### .###. .###.
#...# .##.. #...# ...#. ..##. #.... .#... ....# #...# #...#
#...# ..#.. ....# ..#.. .#.#. ####. #.... ...#. #...# #...#
#...# ..#.. ...#. ...#. #..#. ....# ####. ..#.. .###. .####
#...# ..#.. ..#.. ....# ##### ....# #...# .#... #...# ....#
#...# ..#.. .#... #...# ...#. #...# #...# .#... #...# ...#.
.###. .###. ##### .###. ...#. .###. .###. .#... .###. .##..
..... ..... ..... ..... ..... ..... ..... ..... ..... .....
..... ..... ..... ..... ..... ..... ..... ..... ..... .....

A     B     C     D     E     F     G     H     I     J     K     L     M
.###. ####. .###. ###.. ##### ##### .###. #...# .###. ..### #...# #.... #...#
#...# #...# #...# #..#. #.... #.... #...# #...# ..#.. ...#. #..#. #.... ##.##
#...# #...# #.... #...# #.... #.... #.... #...# ..#.. ...#. #.#.. #.... #.#.#
##### ####. #.... #...# ####. ####. #.### ##### ..#.. ...#. ##... #.... #.#.#
#...# #...# #.... #...# #.... #.... #...# #...# ..#.. ...#. #.#.. #.... #...#
#...# #...# #...# #..#. #.... #.... #...# #...# ..#.. #..#. #..#. #.... #...#
#...# ####. .###. ###.. ##### #.... .#### #...# .###. .##.. #...# ##### #...#
..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....

N     O     P     Q     R     S     T     U     V     W     X     Y     Z
#...# .###. ####. .###. ####. .#### ##### #...# #...# #...# #...# #...# #####
#...# #...# #...# #...# #...# #.... ..#.. #...# #...# #...# #...# #...# ....#
##..# #...# #...# #...# #...# #.... ..#.. #...# #...# #...# .#.#. .#.#. ...#.
#.#.# #...# ####. #...# ####. .###. ..#.. #...# #...# #.#.# ..#.. ..#.. ..#..
#..## #...# #.... #.#.# #.#.. ....# ..#.. #...# #...# #.#.# .#.#. ..#.. .#...
#...# #...# #.... #..#. #..#. ....# ..#.. #...# .#.#. #.#.# #...# ..#.. #....
#...# .###. #.... .##.# #...# ####. ..#.. .###. ..#.. .#.#. #...# ..#.. #####
..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....

a     b     c     d     e     f     g     h     i     j     k     l     m
..... #.... ..... ....# ..... ..##. ..... #.... ..#.. ...#. #.... .##.. .....
..... #.... ..... ....# ..... .#..# ..... #.... ..... ..... #.... ..#.. .....
.###. #.##. .###. .##.# .###. .#... .#### #.##. .##.. ..##. #..#. ..#.. ##.#.
....# ##..# #.... #..## #...# ###.. #...# ##..# ..#.. ...#. #.#.. ..#.. #.#.#
.#### #...# #.... #...# ##### .#... #...# #...# ..#.. ...#. ##... ..#.. #.#.#
#...# #...# #...# #...# #.... .#... #...# #...# ..#.. ...#. #.#.. ..#.. #.#.#
.#### ####. .###. .#### .###. .#... .#### #...# .###. ...#. #..#. .###. #.#.#
..... ..... ..... ..... ..... ..... ....# ..... ..... #..#. ..... ..... .....
..... ..... ..... ..... ..... ..... .###. ..... ..... .##.. ..... ..... .....

n     o     p     q     r     s     t     u     v     w     x     y     z
..... ..... ..... ..... ..... ..... .#... ..... ..... ..... ..... ..... .....
..... ..... ..... ..... ..... ..... .#... ..... ..... ..... ..... ..... .....
#.##. .###. ####. .#### #.##. .#### ###.. #...# #...# #...# #...# #...# #####
##..# #...# #...# #...# ##..# #.... .#... #...# #...# #...# .#.#. #...# ...#.
#...# #...# #...# #...# #.... .###. .#... #...# #...# #.#.# ..#.. #...# ..#..
#...# #...# #...# #...# #.... ....# .#..# #..## .#.#. #.#.# .#.#. #...# .#...
#...# .###. ####. .#### #.... ####. ..##. .##.# ..#.. .#.#. #...# .#### #####
..... ..... #.... ....# ..... ..... ..... ..... ..... ..... ..... ....# .....
..... ..... #.... ....# ..... ..... ..... ..... ..... ..... ..... .###. .....

.     ,     -     +     /     %     :     (     )     =     _     '     ?
..... ..... ..... ..... ....# ##... ..... ...#. .#... ..... ..... ..#.. .###.
..... ..... ..... ..#.. ....# ##..# ..... ..#.. ..#.. ..... ..... ..#.. #...#
..... ..... ..... ..#.. ...#. ...#. ..#.. ..#.. ..#.. ##### ..... ..... ....#
..... ..... ####. ##### ..#.. ..#.. ..... ..#.. ..#.. ..... ..... ..... ...#.
..... ..... ..... ..#.. .#... .#... ..... ..#.. ..#.. ##### ..... ..... ..#..
..... ..... ..... ..#.. #.... #..## ..... ..#.. ..#.. ..... ..... ..... .....
..#.. ..#.. ..... ..... #.... ...## ..#.. ...#. .#... ..... ..... ..... ..#..
..... ..#.. ..... ..... ..... ..... ..... ..... ..... ..... ##### ..... .....
..... .#... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....

θ     µ     Δ     °     [     ]     <     >     *     ×     η
.###. ..... ..#.. .##.. .##.. .##.. ...#. .#... ..... ..... .....
#...# ..... ..#.. #..#. .#... ...#. ..#.. ..#.. ..#.. ..... .....
#...# #...# .#.#. .##.. .#... ...#. .#... ...#. #.#.# #...# #.##.
##### #...# .#.#. ..... .#... ...#. #.... ....# .###. .#.#. ##..#
#...# #...# #...# ..... .#... ...#. .#... ...#. #.#.# ..#.. #...#
#...# #..## #...# ..... .#... ...#. ..#.. ..#.. ..#.. .#.#. #...#
.###. ###.# ##### ..... .##.. .##.. ...#. .#... ..... #...# #...#
..... #.... ..... ..... ..... ..... ..... ..... ..... ..... ....#
..... #.... ..... ..... ..... ..... ..... ..... ..... ..... ....#
`;

interface Glyph {
  /** ink bits, GLYPH_ROWS rows of 5 columns, row-major */
  bits: Uint8Array;
  /** first inked column and drawn width (proportional spacing) */
  left: number;
  width: number;
}

const GLYPHS = new Map<string, Glyph>();
{
  const lines = SHEET.split('\n').filter((l) => l.trim() !== '');
  for (let band = 0; band + GLYPH_ROWS < lines.length; band += GLYPH_ROWS + 1) {
    const header = lines[band].trimEnd();
    for (let g = 0; g * 6 < header.length; g++) {
      const ch = header[g * 6];
      const bits = new Uint8Array(GLYPH_ROWS * 5);
      let lo = 5;
      let hi = -1;
      for (let r = 0; r < GLYPH_ROWS; r++) {
        const row = lines[band + 1 + r].slice(g * 6, g * 6 + 5);
        for (let c = 0; c < 5; c++) {
          if (row[c] !== '#') continue;
          bits[r * 5 + c] = 1;
          lo = Math.min(lo, c);
          hi = Math.max(hi, c);
        }
      }
      // digits keep the full cell so columns of numbers align; other glyphs are trimmed to their ink
      const fixed = ch >= '0' && ch <= '9';
      GLYPHS.set(ch, fixed ? { bits, left: 0, width: 5 } : { bits, left: lo, width: hi - lo + 1 });
    }
  }
  GLYPHS.set(' ', { bits: new Uint8Array(GLYPH_ROWS * 5), left: 0, width: 3 });
  GLYPHS.set('\u03bc', GLYPHS.get('µ')!); // Greek mu and the micro sign look the same
  GLYPHS.set('\u2212', GLYPHS.get('-')!); // minus sign
}

function glyphOf(ch: string): Glyph {
  return GLYPHS.get(ch) ?? GLYPHS.get('?')!;
}

/** Whether the font has a glyph for `ch` (others are drawn as '?'). */
export function hasGlyph(ch: string): boolean {
  return GLYPHS.has(ch);
}

/** Width in pixels of `text` drawn at integer `scale` (1 blank column between glyphs). */
export function textWidth(text: string, scale = 1): number {
  let w = 0;
  for (const ch of text) w += glyphOf(ch).width + 1;
  return Math.max(0, w - 1) * scale;
}

/** Height in pixels of one line at `scale`, descenders included. */
export function textHeight(scale = 1): number {
  return GLYPH_ROWS * scale;
}

type Rgb = readonly [number, number, number];

function plot(img: RgbaImage, x: number, y: number, scale: number, rgb: Rgb): void {
  const x1 = Math.min(img.width, x + scale);
  const y1 = Math.min(img.height, y + scale);
  for (let yy = Math.max(0, y); yy < y1; yy++) {
    for (let xx = Math.max(0, x); xx < x1; xx++) {
      const p = (yy * img.width + xx) * 4;
      img.rgba[p] = rgb[0];
      img.rgba[p + 1] = rgb[1];
      img.rgba[p + 2] = rgb[2];
      img.rgba[p + 3] = 255;
    }
  }
}

/**
 * Draws `text` with its cell's top-left corner at (x, y) (pixels; the baseline is at y + 7·scale).
 * Pixels outside the image are clipped. Returns the drawn width.
 */
export function drawText(img: RgbaImage, x: number, y: number, text: string, scale = 1, rgb: Rgb = [0, 0, 0]): number {
  let cx = Math.round(x);
  const y0 = Math.round(y);
  for (const ch of text) {
    const g = glyphOf(ch);
    for (let r = 0; r < GLYPH_ROWS; r++) {
      for (let c = 0; c < g.width; c++) {
        if (g.bits[r * 5 + g.left + c]) plot(img, cx + c * scale, y0 + r * scale, scale, rgb);
      }
    }
    cx += (g.width + 1) * scale;
  }
  return textWidth(text, scale);
}

/**
 * Draws `text` rotated 90° counter-clockwise (reading bottom to top, as a y-axis label), inside the
 * box whose top-left corner is (x, y); the box is textHeight(scale) wide and textWidth(text, scale)
 * tall, with the glyphs' tops towards the left.
 */
export function drawTextVertical(img: RgbaImage, x: number, y: number, text: string, scale = 1, rgb: Rgb = [0, 0, 0]): void {
  const w = textWidth(text, scale) / scale; // in font pixels
  const x0 = Math.round(x);
  const y0 = Math.round(y);
  let tx = 0;
  for (const ch of text) {
    const g = glyphOf(ch);
    for (let r = 0; r < GLYPH_ROWS; r++) {
      for (let c = 0; c < g.width; c++) {
        // horizontal font pixel (tx + c, r) goes to column r, row (w − 1 − (tx + c))
        if (g.bits[r * 5 + g.left + c]) plot(img, x0 + r * scale, y0 + (w - 1 - (tx + c)) * scale, scale, rgb);
      }
    }
    tx += g.width + 1;
  }
}
