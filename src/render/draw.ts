/**
 * Drawing primitives on an RGBA raster (figure pixels, row 0 at the top): filled rectangles, alpha
 * blending, thick lines, markers (+, ×, ○) and boxed text. The annotations of the θ and ΔI/I0 figures
 * and the line plots are built from these.
 */
import { drawText, textHeight, textWidth } from './font';
import type { RgbaImage } from './png';

export type Rgb = readonly [number, number, number];

export const BLACK: Rgb = [0, 0, 0];
export const WHITE: Rgb = [255, 255, 255];

/** Fills the rectangle (clipped to the image) with an opaque colour; coordinates are rounded. */
export function fillRect(img: RgbaImage, x: number, y: number, w: number, h: number, rgb: Rgb): void {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(img.width, Math.round(x + w));
  const y1 = Math.min(img.height, Math.round(y + h));
  for (let yy = y0; yy < y1; yy++) {
    let p = (yy * img.width + x0) * 4;
    for (let xx = x0; xx < x1; xx++, p += 4) {
      img.rgba[p] = rgb[0];
      img.rgba[p + 1] = rgb[1];
      img.rgba[p + 2] = rgb[2];
      img.rgba[p + 3] = 255;
    }
  }
}

/** Mixes `rgb` into pixel (x, y) with opacity `alpha` (0 … 1); outside the image does nothing. */
export function blendPixel(img: RgbaImage, x: number, y: number, rgb: Rgb, alpha = 1): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const p = (y * img.width + x) * 4;
  const a = Math.min(1, Math.max(0, alpha));
  for (let k = 0; k < 3; k++) img.rgba[p + k] = Math.round(img.rgba[p + k] * (1 - a) + rgb[k] * a);
  img.rgba[p + 3] = 255;
}

/** RGB of pixel (x, y). */
export function pixelAt(img: RgbaImage, x: number, y: number): [number, number, number] {
  const p = (y * img.width + x) * 4;
  return [img.rgba[p], img.rgba[p + 1], img.rgba[p + 2]];
}

/**
 * A straight line from (x0, y0) to (x1, y1) (pixel-centre coordinates: pixel (c, r) covers
 * c … c + 1), `width` pixels thick, opaque. `dash` = [on, off] lengths in pixels draws it dashed.
 */
export function drawLine(img: RgbaImage, x0: number, y0: number, x1: number, y1: number, rgb: Rgb, width = 1, dash?: [number, number]): void {
  const len = Math.hypot(x1 - x0, y1 - y0);
  const n = Math.max(1, Math.ceil(len * 2));
  const half = (width - 1) / 2;
  const period = dash ? dash[0] + dash[1] : 0;
  let lastX = NaN, lastY = NaN;
  for (let k = 0; k <= n; k++) {
    const f = k / n;
    if (dash && (f * len) % period >= dash[0]) continue;
    const x = Math.floor(x0 + f * (x1 - x0) - half);
    const y = Math.floor(y0 + f * (y1 - y0) - half);
    if (x === lastX && y === lastY) continue;
    lastX = x;
    lastY = y;
    fillRect(img, x, y, width, width, rgb);
  }
}

export type MarkerKind = 'plus' | 'cross' | 'circle';

/**
 * A marker centred on (x, y): '+', '×' or an open circle, `size` pixels from the centre to the end of
 * an arm (the radius of the circle), lines `width` pixels thick. `halo` draws it first in white,
 * 2 px wider, so it stays visible on dark and on light ground.
 */
export function drawMarker(img: RgbaImage, x: number, y: number, kind: MarkerKind, size: number, rgb: Rgb, width = 2, halo = true): void {
  const passes: [Rgb, number][] = halo ? [[WHITE, width + 2], [rgb, width]] : [[rgb, width]];
  for (const [c, w] of passes) {
    if (kind === 'plus') {
      drawLine(img, x - size, y, x + size, y, c, w);
      drawLine(img, x, y - size, x, y + size, c, w);
    } else if (kind === 'cross') {
      const d = size / Math.SQRT2;
      drawLine(img, x - d, y - d, x + d, y + d, c, w);
      drawLine(img, x - d, y + d, x + d, y - d, c, w);
    } else {
      const n = Math.max(16, Math.ceil(2 * Math.PI * size * 2));
      for (let k = 0; k < n; k++) {
        const a0 = (2 * Math.PI * k) / n, a1 = (2 * Math.PI * (k + 1)) / n;
        drawLine(img, x + size * Math.cos(a0), y + size * Math.sin(a0), x + size * Math.cos(a1), y + size * Math.sin(a1), c, w);
      }
    }
  }
}

/** Text on a filled box (padding `pad` px), top-left corner of the box at (x, y); returns the box size. */
export function drawTextBoxed(img: RgbaImage, x: number, y: number, text: string, scale: number, fg: Rgb = BLACK, bg: Rgb = WHITE, pad = 2): { width: number; height: number } {
  const w = textWidth(text, scale) + 2 * pad;
  const h = textHeight(scale) - 2 * scale + 2 * pad; // no descender rows for ids and numbers
  fillRect(img, x, y, w, h, bg);
  drawText(img, x + pad, y + pad, text, scale, fg);
  return { width: w, height: h };
}

/**
 * The COM pair of a particle: a line from the particle's COM (px, py) to the rim of a ○ of radius
 * `radius` around the core's COM `core` (none when null) (black on a white halo, the circle's centre left open),
 * the ○, and a + on the particle's COM.
 */
export function drawComPair(img: RgbaImage, px: number, py: number, core: readonly [number, number] | null, radius = 5, arm = 6): void {
  if (core) {
    const [qx, qy] = core;
    const d = Math.hypot(qx - px, qy - py);
    if (d > radius + 1) {
      const ex = qx - ((qx - px) / d) * (radius + 1), ey = qy - ((qy - py) / d) * (radius + 1);
      drawLine(img, px, py, ex, ey, WHITE, 3);
      drawLine(img, px, py, ex, ey, BLACK, 1);
    }
    drawMarker(img, qx, qy, 'circle', radius, BLACK);
  }
  drawMarker(img, px, py, 'plus', arm, BLACK);
}
