import { describe, expect, it } from 'vitest';
import { colorOf, NAN_RGB } from '../../src/render/colormap';
import { formatTicks, niceTicks, renderField, renderMontage, type FieldFigureOptions, type Rect } from '../../src/render/figure';
import type { RgbaImage } from '../../src/render/png';
import { textWidth } from '../../src/render/font';

const px = (img: RgbaImage, x: number, y: number) => {
  const p = (y * img.width + x) * 4;
  return [img.rgba[p], img.rgba[p + 1], img.rgba[p + 2]];
};
const isDark = (c: number[]) => c[0] + c[1] + c[2] < 200;
const countDark = (img: RgbaImage, r: Rect) => {
  let n = 0;
  for (let y = r.y; y < r.y + r.height; y++) for (let x = r.x; x < r.x + r.width; x++) if (isDark(px(img, x, y))) n++;
  return n;
};

/** A horizontal gradient 0..1 over `width` columns, with one NaN pixel at (row 1, col 2). */
function gradient(width: number, height: number): Float32Array {
  const f = new Float32Array(width * height);
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) f[r * width + c] = c / (width - 1);
  f[1 * width + 2] = NaN;
  return f;
}

const base: FieldFigureOptions = { colormap: 'diverging', vmin: 0, vmax: 1, center: 0.5 };

describe('niceTicks / formatTicks', () => {
  it('gives round ticks inside the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(niceTicks(-0.3, 0.3)).toEqual([-0.2, 0, 0.2]);
    expect(niceTicks(0, 0.004)).toEqual([0, 0.001, 0.002, 0.003, 0.004]);
    expect(niceTicks(1, 0)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(niceTicks(0.2, 0.9)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(2, 2)).toEqual([2]);
  });

  it('writes short labels', () => {
    expect(formatTicks([0, 0.25, 0.5, 1])).toEqual(['0', '0.25', '0.5', '1']);
    expect(formatTicks([-0.2, 0, 0.2])).toEqual(['-0.2', '0', '0.2']);
    expect(formatTicks([0, 0.001, 0.0025])).toEqual(['0', '1e-3', '2.5e-3']);
    expect(formatTicks([0, 100000, 200000])).toEqual(['0', '1e5', '2e5']);
    expect(formatTicks([0.1 + 0.2])).toEqual(['0.3']);
  });
});

describe('renderField', () => {
  const width = 10;
  const height = 6;
  const field = gradient(width, height);
  const img = renderField(field, width, height, { ...base, scale: 3, title: 'gradient', colorbarLabel: 'dI/I0' });
  const { panels, colorbar, colorbarTicks } = img.layout;
  const fieldRect = panels[0];

  it('returns a consistent RGBA image with the field at the stated scale', () => {
    expect(img.rgba.length).toBe(img.width * img.height * 4);
    expect(fieldRect.width).toBe(width * 3);
    expect(fieldRect.height).toBe(height * 3);
    for (let i = 3; i < img.rgba.length; i += 4) expect(img.rgba[i]).toBe(255);
  });

  it('draws every data pixel in its colour-map colour, NaN as background, nothing else in the field area', () => {
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const want = colorOf(field[r * width + c], base);
        // all 3x3 screen pixels of the block
        for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) expect(px(img, fieldRect.x + c * 3 + dx, fieldRect.y + r * 3 + dy)).toEqual(want);
      }
    }
    expect(px(img, fieldRect.x + 2 * 3 + 1, fieldRect.y + 1 * 3 + 1)).toEqual([...NAN_RGB]);
    // the gradient itself: blue at the left edge, white at 0.5 is absent (9 columns), red at the right
    const left = px(img, fieldRect.x, fieldRect.y);
    const right = px(img, fieldRect.x + fieldRect.width - 1, fieldRect.y);
    expect(left[2]).toBeGreaterThan(left[0] + 60);
    expect(right[0]).toBeGreaterThan(right[2] + 40);
    // just outside the field (no axes → no frame) is the white page
    expect(px(img, fieldRect.x - 1, fieldRect.y + 5)).toEqual([255, 255, 255]);
    expect(px(img, fieldRect.x + fieldRect.width, fieldRect.y + 5)).toEqual([255, 255, 255]);
  });

  it('has a framed colour bar to the right whose colours run monotonically from vmax (top) to vmin', () => {
    expect(colorbar.x).toBeGreaterThan(fieldRect.x + fieldRect.width);
    expect(colorbar.height).toBeGreaterThanOrEqual(fieldRect.height);
    const xc = colorbar.x + (colorbar.width >> 1);
    // signed darkness: + on the red side, − on the blue side, 0 at white; falls from top to bottom
    let prev = Infinity;
    for (let y = colorbar.y; y < colorbar.y + colorbar.height; y++) {
      const [r, g, b] = px(img, xc, y);
      const signed = Math.sign(r - b) * (765 - r - g - b);
      expect(signed).toBeLessThanOrEqual(prev);
      prev = signed;
      // the whole row is one colour
      expect(px(img, colorbar.x, y)).toEqual(px(img, colorbar.x + colorbar.width - 1, y));
    }
    const top = px(img, xc, colorbar.y);
    const bottom = px(img, xc, colorbar.y + colorbar.height - 1);
    expect(top[0]).toBeGreaterThan(top[1] + 60); // red
    expect(top[0]).toBeGreaterThan(top[2] + 40);
    expect(bottom[2]).toBeGreaterThan(bottom[0] + 60); // blue
    // a 1-px black frame around it
    expect(px(img, xc, colorbar.y - 1)).toEqual([0, 0, 0]);
    expect(px(img, xc, colorbar.y + colorbar.height)).toEqual([0, 0, 0]);
    expect(px(img, colorbar.x - 1, colorbar.y + 10)).toEqual([0, 0, 0]);
    expect(px(img, colorbar.x + colorbar.width, colorbar.y + 10)).toEqual([0, 0, 0]);
  });

  it('puts 3-5 labelled ticks on the bar rows that show their values', () => {
    expect(colorbarTicks.map((t) => t.label)).toEqual(['0', '0.25', '0.5', '0.75', '1']);
    const xc = colorbar.x + (colorbar.width >> 1);
    for (const t of colorbarTicks) {
      const shown = px(img, xc, t.y);
      const want = colorOf(t.value, base);
      for (let k = 0; k < 3; k++) expect(Math.abs(shown[k] - want[k])).toBeLessThanOrEqual(12);
      // the tick mark just right of the frame, and its label beside it
      expect(px(img, colorbar.x + colorbar.width + 2, t.y)).toEqual([0, 0, 0]);
      const labelBox = { x: colorbar.x + colorbar.width + 6, y: t.y - 8, width: 40, height: 16 };
      expect(countDark(img, labelBox)).toBeGreaterThan(10);
    }
    // the centre value is white on the bar
    const mid = colorbarTicks.find((t) => t.value === 0.5)!;
    const w = px(img, xc, mid.y);
    expect(Math.min(...w)).toBeGreaterThan(240);
  });

  it('draws the title above the field only when asked', () => {
    const above = { x: 0, y: 0, width: img.width, height: fieldRect.y };
    expect(countDark(img, above)).toBeGreaterThan(20);
    const plain = renderField(field, width, height, { ...base, scale: 3 });
    // (the colour bar's top tick label may rise above the field; look left of the bar only)
    expect(countDark(plain, { x: 0, y: 0, width: plain.layout.colorbar.x - 1, height: plain.layout.panels[0].y })).toBe(0);
  });

  it('draws a scale bar of a round length when pixel_um is given', () => {
    const n = 120;
    const disk = new Float32Array(n * n).map((_, i) => (Math.hypot((i % n) - 60, Math.floor(i / n) - 60) < 55 ? 0.5 : NaN));
    const fig = renderField(disk, n, n, { ...base, pixel_um: 0.02 });
    const bar = fig.layout.scaleBar!;
    expect(fig.layout.scaleX).toBeGreaterThanOrEqual(3); // auto scale: 120 px → ~400-600 px
    expect(fig.layout.panels[0].width).toBeGreaterThanOrEqual(400);
    expect(fig.layout.panels[0].width).toBeLessThanOrEqual(600);
    expect(bar.length_um).toBe(0.5);
    expect(bar.label).toBe('0.5 µm');
    expect(bar.width).toBe((0.5 / 0.02) * fig.layout.scaleX);
    expect(countDark(fig, bar)).toBe(bar.width * bar.height);
    expect(bar.y).toBeGreaterThan(fig.layout.panels[0].y + fig.layout.panels[0].height);
    expect(renderField(disk, n, n, base).layout.scaleBar).toBeUndefined();
  });

  it('draws a framed box with ticks for axis plots', () => {
    const k = renderField(gradient(40, 8), 40, 8, { ...base, xAxis: { label: 'time (min)', min: 0, max: 20 }, yAxis: { label: 'x (um)', min: 0, max: 2 } });
    const r = k.layout.panels[0];
    expect(k.layout.scaleY).toBeGreaterThan(k.layout.scaleX); // 8 rows get stretched
    expect(px(k, r.x - 1, r.y + 3)).toEqual([0, 0, 0]);
    expect(px(k, r.x + 3, r.y + r.height)).toEqual([0, 0, 0]);
    expect(countDark(k, { x: r.x - 20, y: r.y + r.height + 1, width: r.width + 40, height: 60 })).toBeGreaterThan(100); // x ticks + label
    expect(countDark(k, { x: 0, y: r.y, width: r.x - 1, height: r.height })).toBeGreaterThan(100); // y ticks + label
    // the x tick for 0 sits on the left edge, the one for 20 on the right edge
    expect(px(k, r.x, r.y + r.height + 2)).toEqual([0, 0, 0]);
    expect(px(k, r.x + r.width - 1, r.y + r.height + 2)).toEqual([0, 0, 0]);
  });

  it('rejects bad input with a message naming it', () => {
    expect(() => renderField(new Float32Array(5), 2, 3, base)).toThrow(/6/);
    expect(() => renderField(new Float32Array(6), 2, 3, { ...base, vmin: 1, vmax: 0 })).toThrow(/vmin/);
    expect(() => renderField(new Float32Array(6), 2, 3, { ...base, scale: 1.5 })).toThrow(/scale/);
  });

  it('still draws a constant range (vmin = vmax)', () => {
    const c = renderField(new Float32Array(4).fill(1), 2, 2, { colormap: 'diverging', vmin: 1, vmax: 1, center: 1 });
    expect(px(c, c.layout.panels[0].x, c.layout.panels[0].y)).toEqual([255, 255, 255]);
  });
});

describe('renderMontage', () => {
  it('places the panels left to right, each in its own colours, with one shared colour bar', () => {
    const w = 6;
    const h = 4;
    const panels = [0.1, 0.5, 0.9].map((v, i) => ({ field: new Float32Array(w * h).fill(v), title: `${5 * (i + 1)} min` }));
    const m = renderMontage(panels, w, h, { ...base, scale: 5, title: 'montage', colorbarLabel: 'dI/I0' });
    const rects = m.layout.panels;
    expect(rects).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      const r = rects[i];
      if (i > 0) expect(r.x).toBeGreaterThan(rects[i - 1].x + rects[i - 1].width);
      expect(r.y).toBe(rects[0].y);
      const want = colorOf(panels[i].field[0], base);
      expect(px(m, r.x, r.y)).toEqual(want);
      expect(px(m, r.x + r.width - 1, r.y + r.height - 1)).toEqual(want);
      // a panel title above each panel
      expect(countDark(m, { x: r.x, y: r.y - 22, width: r.width, height: 20 })).toBeGreaterThan(10);
    }
    expect(m.layout.colorbar.x).toBeGreaterThan(rects[2].x + rects[2].width);
  });

  it('rejects an empty list and panels of the wrong size', () => {
    expect(() => renderMontage([], 2, 2, base)).toThrow(/panels/);
    expect(() => renderMontage([{ field: new Float32Array(4), title: 'a' }, { field: new Float32Array(3), title: 'b' }], 2, 2, base)).toThrow(/panel 1/);
  });
});

describe('long titles and legends', () => {
  it('widens the figure for a title wider than the field, keeping it inside the margins', () => {
    const title = 'fig4c: θ at 20.0 min, 33.3 mAh/g, charge 100 mA/g (end)';
    const img = renderField(new Float32Array(4).fill(0.5), 2, 2, { ...base, scale: 20, title });
    expect(img.width).toBeGreaterThanOrEqual(textWidth(title, 2) + 32);
    const top = { x: 0, y: 0, width: 16, height: 40 };
    expect(countDark(img, top)).toBe(0); // nothing in the left margin
    expect(countDark(img, { x: 16, y: 16, width: img.width - 32, height: 18 })).toBeGreaterThan(50);
  });

  it('draws legend entries under the field: the swatch by its callback, then the label', () => {
    const calls: Rect[] = [];
    const img = renderField(new Float32Array(100).fill(0.5), 10, 10, {
      ...base, scale: 20, pixel_um: 0.1,
      legend: [{ label: 'blocked rim, η = 0.3', draw: (_img, box) => calls.push(box) }, { label: 'particle COM', draw: (_img, box) => calls.push(box) }],
    });
    expect(calls).toEqual(img.layout.legend);
    const field = img.layout.panels[0];
    for (const b of calls) expect(b.y).toBeGreaterThan(img.layout.scaleBar!.y + img.layout.scaleBar!.height);
    expect(calls[0].x).toBe(field.x);
    // the second entry does not fit beside the first in a 300-px figure: it starts the next row
    expect(img.width).toBeLessThan(field.x + 2 * 28 + textWidth('blocked rim, η = 0.3particle COM', 2) + 30);
    expect(calls[1].x).toBe(field.x);
    expect(calls[1].y).toBeGreaterThanOrEqual(calls[0].y + calls[0].height);
    expect(countDark(img, { x: calls[0].x + calls[0].width, y: calls[0].y, width: 100, height: calls[0].height })).toBeGreaterThan(20);
    expect(calls[0].y + calls[0].height).toBeLessThanOrEqual(img.height);
  });
});
