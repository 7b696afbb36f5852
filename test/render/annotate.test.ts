/** Overlays of particles on a frame: outlines on the label edges, ids, COM markers; and the primitives. */
import { describe, expect, it } from 'vitest';
import { drawLabelOutlines, drawParticleMarks, OUTLINE_RGB } from '../../src/render/annotate';
import { blendPixel, drawLine, drawMarker, pixelAt } from '../../src/render/draw';
import type { RgbaImage } from '../../src/render/png';

const blank = (w: number, h: number): RgbaImage => ({ rgba: new Uint8Array(w * h * 4).fill(255), width: w, height: h });

describe('drawLabelOutlines / drawParticleMarks', () => {
  // a 20×12 frame with a 6×4 particle (label 1) at cols 3…8, rows 4…7; drawn at 5 figure px per frame px
  const W = 20, H = 12, S = 5;
  const labels = new Int32Array(W * H);
  for (let r = 4; r < 8; r++) for (let c = 3; c < 9; c++) labels[r * W + c] = 1;
  const clip = { x: 0, y: 0, width: W * S, height: H * S };
  const toFigure = (x: number, y: number): [number, number] => [x * S, y * S];

  it('outlines the label region on its edges, not inside or far outside', () => {
    const img = blank(W * S, H * S);
    drawLabelOutlines(img, labels, W, H, toFigure, clip);
    const g = [...OUTLINE_RGB];
    expect(pixelAt(img, 3 * S, 6 * S)).toEqual(g); // left edge
    expect(pixelAt(img, 9 * S, 5 * S)).toEqual(g); // right edge
    expect(pixelAt(img, 5 * S, 4 * S)).toEqual(g); // top edge
    expect(pixelAt(img, 5 * S, 8 * S)).toEqual(g); // bottom edge
    expect(pixelAt(img, 6 * S, 6 * S)).toEqual([255, 255, 255]); // inside
    expect(pixelAt(img, 12 * S, 6 * S)).toEqual([255, 255, 255]); // outside
  });

  it('marks the COMs and writes the id at the top-right of the box', () => {
    const img = blank(W * S, H * S);
    drawParticleMarks(img, [{ id: 7, label: 1, com_px: [6, 6], coreCom_px: [4.5, 6], bbox: { col0: 3, row0: 4, col1: 9, row1: 8 } }], toFigure, clip);
    expect(pixelAt(img, 30, 30)).toEqual([0, 0, 0]); // + at (6, 6)·5
    expect(pixelAt(img, 22, 30 + 4)).toEqual([0, 0, 0]); // ○ of radius 4 around (4.5, 6)·5
    // the id box: dark text pixels just above-right of the bbox corner (45, 20)
    let dark = 0;
    for (let y = 20 - 20; y < 20; y++) for (let x = 45; x < 45 + 20; x++) if (pixelAt(img, x, y)[0] < 100) dark++;
    expect(dark).toBeGreaterThan(5);
  });
});

describe('draw primitives', () => {
  it('drawLine covers its end points and blendPixel mixes', () => {
    const img = blank(20, 20);
    drawLine(img, 2.5, 3.5, 15.5, 10.5, [0, 0, 0]);
    expect(pixelAt(img, 2, 3)).toEqual([0, 0, 0]);
    expect(pixelAt(img, 15, 10)).toEqual([0, 0, 0]);
    expect(pixelAt(img, 2, 10)).toEqual([255, 255, 255]);
    blendPixel(img, 0, 0, [0, 0, 0], 0.5);
    expect(pixelAt(img, 0, 0)).toEqual([128, 128, 128]);
    blendPixel(img, -1, 0, [0, 0, 0], 1); // outside: nothing
  });

  it('drawMarker draws +, × and ○ of the given size', () => {
    const img = blank(40, 40);
    drawMarker(img, 10, 10, 'plus', 5, [0, 0, 0], 1, false);
    expect(pixelAt(img, 15, 10)).toEqual([0, 0, 0]);
    expect(pixelAt(img, 13, 13)).toEqual([255, 255, 255]);
    drawMarker(img, 30, 30, 'circle', 6, [0, 0, 0], 1, false);
    expect(pixelAt(img, 36, 30)).toEqual([0, 0, 0]);
    expect(pixelAt(img, 30, 30)).toEqual([255, 255, 255]);
  });
});
