/**
 * Overlays for images of particles in a frame (the ΔI/I0 montage of `ionflux analyze`): each
 * particle's outline (the edges of its label region), its id, its centre of mass (+) and the
 * unreacted core's (○) with a line between them. Positions are frame pixel coordinates (a pixel's
 * centre at col + 0.5, row + 0.5), mapped onto a figure panel by `toFigure`.
 */
import { drawComPair, drawTextBoxed, fillRect, type Rgb } from './draw';
import type { Rect } from './figure';
import type { RgbaImage } from './png';

/** Outline colour: green stands out on the red, white and blue of the diverging map. */
export const OUTLINE_RGB: Rgb = [0, 170, 0];

export interface ParticleMark {
  id: number;
  label: number;
  /** particle centre of mass, frame pixels */
  com_px: [number, number];
  /** unreacted core's centre of mass, frame pixels; null when nothing is unreacted */
  coreCom_px: [number, number] | null;
  bbox: { col0: number; row0: number; col1: number; row1: number };
}

/**
 * Draws the outline of every labelled region: a line `thickness` px wide along each pixel edge between
 * a label and anything else, in `rgb`, clipped to `clip`. `toFigure` maps frame pixel corners to figure pixels.
 */
export function drawLabelOutlines(img: RgbaImage, labels: ArrayLike<number>, width: number, height: number, toFigure: (x: number, y: number) => [number, number], clip: Rect, rgb: Rgb = OUTLINE_RGB, thickness = 2): void {
  const put = (x: number, y: number) => {
    // a square of `thickness` pixels centred on the edge, clipped to the panel
    const h = Math.floor(thickness / 2);
    for (let dy = -h; dy < thickness - h; dy++) for (let dx = -h; dx < thickness - h; dx++) {
      const xx = x + dx, yy = y + dy;
      if (xx >= clip.x && yy >= clip.y && xx < clip.x + clip.width && yy < clip.y + clip.height) fillRect(img, xx, yy, 1, 1, rgb);
    }
  };
  const edge = (xa: number, ya: number, xb: number, yb: number) => {
    const [x0, y0] = toFigure(xa, ya), [x1, y1] = toFigure(xb, yb);
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let k = 0; k <= n; k++) put(Math.floor(x0 + ((x1 - x0) * k) / n), Math.floor(y0 + ((y1 - y0) * k) / n));
  };
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const l = labels[r * width + c];
      if (!l) continue;
      if (c + 1 >= width || labels[r * width + c + 1] !== l) edge(c + 1, r, c + 1, r + 1);
      if (c === 0 || labels[r * width + c - 1] !== l) edge(c, r, c, r + 1);
      if (r + 1 >= height || labels[(r + 1) * width + c] !== l) edge(c, r + 1, c + 1, r + 1);
      if (r === 0 || labels[(r - 1) * width + c] !== l) edge(c, r, c + 1, r);
    }
  }
}

/**
 * Draws each particle's id (a boxed number at the top-right corner of its bounding box, kept inside
 * `clip`), its COM (+) and its core's COM (○) with a line between them.
 */
export function drawParticleMarks(img: RgbaImage, marks: ParticleMark[], toFigure: (x: number, y: number) => [number, number], clip: Rect, textScale = 2): void {
  for (const m of marks) {
    const [px, py] = toFigure(m.com_px[0], m.com_px[1]);
    const q = m.coreCom_px ? toFigure(m.coreCom_px[0], m.coreCom_px[1]) : null;
    drawComPair(img, px, py, q, 4, 5);
  }
  for (const m of marks) {
    const text = String(m.id);
    const [bx, by] = toFigure(m.bbox.col1, m.bbox.row0);
    const w = text.length * 6 * textScale + 4, h = 7 * textScale + 4;
    const x = Math.max(clip.x, Math.min(clip.x + clip.width - w, bx));
    const y = Math.max(clip.y, Math.min(clip.y + clip.height - h, by - h));
    drawTextBoxed(img, x, y, text, textScale);
  }
}
