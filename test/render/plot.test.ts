/** The line-plot renderer: axes with monotone round ticks, series drawn where their values are, gaps at NaN. */
import { describe, expect, it } from 'vitest';
import { pixelAt } from '../../src/render/draw';
import { renderPlotGrid } from '../../src/render/plot';

const red = [214, 39, 40] as const;
const blue = [31, 119, 180] as const;

describe('renderPlotGrid', () => {
  const x = Array.from({ length: 21 }, (_, i) => i); // 0 … 20
  const y = x.map((v) => (v >= 9 && v <= 11 ? NaN : 2 * v)); // 0 … 40 with a gap
  const img = renderPlotGrid([
    { title: 'a', xLabel: 'time (min)', yLabel: 'mAh/g', series: [{ x, y, rgb: blue }], hLines: [{ y: 5, rgb: red, label: 'cut-off' }] },
    { xLabel: 'charge (mAh/g)', yLabel: 'θ', series: [{ x: y, y: x, rgb: blue }] },
    { xLabel: 'x', yLabel: 'flat', series: [{ x, y: x.map(() => 3), rgb: blue }] },
  ], { columns: 2, title: 'test', legend: [{ label: 'particle 1', rgb: blue }] });
  const [p0, p1, p2] = img.layout.panels;

  it('lays out a grid of panels (2 columns, 2 rows)', () => {
    expect(img.rgba.length).toBe(img.width * img.height * 4);
    expect(p1.plot.x).toBeGreaterThan(p0.plot.x + p0.plot.width);
    expect(p1.plot.y).toBe(p0.plot.y);
    expect(p2.plot.x).toBe(p0.plot.x);
    expect(p2.plot.y).toBeGreaterThan(p0.plot.y + p0.plot.height);
  });

  it('has round, monotone tick labels inside the range on both axes', () => {
    for (const p of [p0, p1, p2]) {
      expect(p.xTicks.length).toBeGreaterThanOrEqual(3);
      expect(p.yTicks.length).toBeGreaterThanOrEqual(3);
      for (let k = 1; k < p.xTicks.length; k++) {
        expect(p.xTicks[k].value).toBeGreaterThan(p.xTicks[k - 1].value);
        expect(p.xTicks[k].x).toBeGreaterThan(p.xTicks[k - 1].x);
      }
      for (let k = 1; k < p.yTicks.length; k++) {
        expect(p.yTicks[k].value).toBeGreaterThan(p.yTicks[k - 1].value);
        expect(p.yTicks[k].y).toBeLessThan(p.yTicks[k - 1].y); // larger values higher up
      }
      for (const t of p.yTicks) expect(t.value).toBeGreaterThanOrEqual(p.yRange[0]);
    }
    expect(p0.xTicks.map((t) => t.label)).toEqual(['0', '10', '20']);
    expect(p0.xRange).toEqual([0, 20]);
    // the flat series still gets a range with ticks
    expect(p2.yRange[0]).toBeLessThan(3);
    expect(p2.yRange[1]).toBeGreaterThan(3);
  });

  it('a range under 1e-5 of its magnitude (one value in float32 rounding) is drawn flat, its tick labels distinct', () => {
    const g = renderPlotGrid([{ xLabel: 'x', yLabel: 'y', series: [{ x: [1, 2], y: [33.3333328, 33.333334], rgb: blue }] }], { columns: 1 });
    const p = g.layout.panels[0];
    expect(p.yRange[1] - p.yRange[0]).toBeGreaterThan(6); // ±10 % of 33.3
    const labels = p.yTicks.map((t) => t.label);
    expect(new Set(labels).size).toBe(labels.length);
  });

  it('draws a series where its values are, and leaves the NaN gap empty', () => {
    const { plot, xRange, yRange } = p0;
    const X = (v: number) => plot.x + ((v - xRange[0]) / (xRange[1] - xRange[0])) * (plot.width - 1);
    const Y = (v: number) => plot.y + ((yRange[1] - v) / (yRange[1] - yRange[0])) * (plot.height - 1);
    const near = (vx: number, vy: number) => {
      const cx = Math.floor(X(vx)), cy = Math.floor(Y(vy));
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (pixelAt(img, cx + dx, cy + dy).join() === blue.join()) return true;
      return false;
    };
    for (const v of [1, 4, 7.5, 13, 16.5, 19]) expect(near(v, 2 * v), `x = ${v}`).toBe(true);
    expect(near(10, 20)).toBe(false);
    // the cut-off line: dashed, red, at y = 5
    let reds = 0;
    for (let xx = plot.x; xx < plot.x + plot.width; xx++) if (pixelAt(img, xx, Math.floor(Y(5))).join() === red.join()) reds++;
    expect(reds).toBeGreaterThan(plot.width * 0.4);
    expect(reds).toBeLessThan(plot.width);
  });

  it('refuses an empty grid', () => {
    expect(() => renderPlotGrid([], { columns: 1 })).toThrow(/panels is empty/);
  });
});
