/**
 * Small line plots for traces: a grid of panels, each with a framed plot area, round ticks and
 * labels on both axes (the bitmap font), one or more series (NaN / null break the line), optional
 * horizontal reference lines (e.g. the cut-off) and a shared legend above. Black on white, RGBA out.
 */
import { drawText, drawTextVertical, textHeight, textWidth, CAP_ROWS } from './font';
import { BLACK, drawLine, fillRect, type Rgb } from './draw';
import { formatTicks, niceTicks, type Rect } from './figure';
import type { RgbaImage } from './png';

export interface Series {
  x: ArrayLike<number>;
  y: ArrayLike<number | null>;
  rgb: Rgb;
  /** draws a dot on each point as well (few points) */
  points?: boolean;
}

export interface PlotPanel {
  title?: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** horizontal reference lines, drawn dashed with their label at the right end */
  hLines?: { y: number; rgb: Rgb; label?: string }[];
  /** vertical reference lines (e.g. protocol step boundaries), drawn dashed grey */
  vLines?: number[];
  /** fixed y range; default: the data (and hLines), padded 5 % */
  yRange?: [number, number];
}

export interface PlotGridOptions {
  /** columns of the grid; panels fill it row by row */
  columns: number;
  title?: string;
  /** plot-area size per panel, pixels (default 300 × 150) */
  plotWidth?: number;
  plotHeight?: number;
  /** shown once above the panels: a colour and a label per entry */
  legend?: { label: string; rgb: Rgb }[];
}

export interface PanelLayout {
  /** the plot area inside its 1-px frame */
  plot: Rect;
  xRange: [number, number];
  yRange: [number, number];
  xTicks: { value: number; label: string; x: number }[];
  yTicks: { value: number; label: string; y: number }[];
}

export interface PlotImage extends RgbaImage {
  layout: { panels: PanelLayout[] };
}

/** A palette for up to 10 series (matplotlib tab10), cycled beyond that. */
export const SERIES_COLOURS: Rgb[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

const S = 2; // text scale
const LINE = textHeight(S);
const CAP = CAP_ROWS * S;
const MARGIN = 16;
const TICK = 5;
const GAP_X = 28;
const GAP_Y = 18;

/** [min, max] of the finite values, null when there are none. */
function extent(values: Iterable<number | null>): [number, number] | null {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/**
 * pads a range by 5 % (a flat one by ±10 % of its value, or ±1 at 0). Flat includes a range under
 * 10⁻⁵ of its magnitude (33.3333328 and 33.333334, float32 rounding of one value): spread over the
 * axis its ticks would all read 33.3333 (six significant digits) while the lines sat far apart.
 */
function padRange(r: [number, number] | null, pad = true): [number, number] {
  if (!r) return [0, 1];
  let [lo, hi] = r;
  if (hi - lo <= 1e-5 * Math.max(Math.abs(lo), Math.abs(hi))) {
    const mid = (lo + hi) / 2;
    lo = hi = mid;
    const d = lo !== 0 ? Math.abs(lo) * 0.1 : 1;
    return [lo - d, hi + d];
  }
  if (pad) {
    const d = (hi - lo) * 0.05;
    lo -= d;
    hi += d;
  }
  return [lo, hi];
}

function* allOf(a: ArrayLike<number | null>): Iterable<number | null> {
  for (let i = 0; i < a.length; i++) yield a[i];
}

/**
 * Renders `panels` in a grid of `columns` columns. The x range of a panel is the extent of its
 * series' x (not padded), the y range that of the finite y values and reference lines, padded 5 %.
 * Returns the image and, per panel, where the plot area and the ticks were drawn.
 */
export function renderPlotGrid(panels: PlotPanel[], opts: PlotGridOptions): PlotImage {
  if (!panels.length) throw new Error('renderPlotGrid: panels is empty, need at least one');
  if (!Number.isInteger(opts.columns) || opts.columns < 1) throw new Error(`renderPlotGrid: columns must be a positive integer (got ${opts.columns})`);
  const pw = opts.plotWidth ?? 300, ph = opts.plotHeight ?? 150;
  const cols = Math.min(opts.columns, panels.length);
  const rows = Math.ceil(panels.length / cols);

  // ranges and tick labels first: the widest y tick label sets the left gutter of every panel
  const pre = panels.map((p) => {
    const xr = padRange(extent((function* () { for (const s of p.series) yield* allOf(s.x); })()), false);
    const yData = extent((function* () {
      for (const s of p.series) yield* allOf(s.y);
      for (const l of p.hLines ?? []) yield l.y;
    })());
    const yr = p.yRange ?? padRange(yData);
    const xt = niceTicks(xr[0], xr[1], Math.max(2, Math.floor(pw / 70)), 3);
    const yt = niceTicks(yr[0], yr[1], Math.max(2, Math.floor(ph / 35)), 3);
    return { xr, yr, xt, yt, xl: formatTicks(xt), yl: formatTicks(yt) };
  });
  const yTickW = Math.max(0, ...pre.flatMap((q) => q.yl.map((s) => textWidth(s, S))));
  const left = LINE + 6 + yTickW + 4 + TICK + 1; // y label, tick labels, ticks, frame
  const cellW = left + pw + 1 + GAP_X;
  const hasTitles = panels.some((p) => p.title);
  const top = (hasTitles ? LINE + 6 : 4) + 1;
  const bottom = 1 + TICK + 3 + CAP + 8 + LINE;
  const cellH = top + ph + bottom + GAP_Y;

  let y0 = MARGIN;
  const titleY = y0;
  if (opts.title) y0 += LINE + 8;
  // legend entries in rows
  const legendAt: { x: number; y: number; label: string; rgb: Rgb }[] = [];
  let width = MARGIN + cols * cellW - GAP_X + MARGIN;
  if (opts.title) width = Math.max(width, textWidth(opts.title, S) + 2 * MARGIN);
  if (opts.legend?.length) {
    let lx = MARGIN + left;
    for (const e of opts.legend) {
      const w = 24 + 6 + textWidth(e.label, S);
      if (lx > MARGIN + left && lx + w > width - MARGIN) { lx = MARGIN + left; y0 += LINE + 6; }
      legendAt.push({ x: lx, y: y0, label: e.label, rgb: e.rgb });
      lx += w + 18;
    }
    y0 += LINE + 10;
  }
  const height = y0 + rows * cellH - GAP_Y + MARGIN;
  const img: PlotImage = { rgba: new Uint8Array(width * height * 4).fill(255), width, height, layout: { panels: [] } };

  if (opts.title) drawText(img, (width - textWidth(opts.title, S)) / 2, titleY, opts.title, S);
  for (const e of legendAt) {
    fillRect(img, e.x, e.y + CAP / 2 - 1, 24, 3, e.rgb);
    drawText(img, e.x + 30, e.y, e.label, S);
  }

  panels.forEach((p, i) => {
    const q = pre[i];
    const cx = MARGIN + (i % cols) * cellW;
    const cy = y0 + Math.floor(i / cols) * cellH;
    const plot: Rect = { x: cx + left, y: cy + top, width: pw, height: ph };
    const X = (v: number) => plot.x + ((v - q.xr[0]) / (q.xr[1] - q.xr[0])) * (pw - 1);
    const Y = (v: number) => plot.y + ((q.yr[1] - v) / (q.yr[1] - q.yr[0])) * (ph - 1);
    const layout: PanelLayout = { plot, xRange: q.xr, yRange: q.yr, xTicks: [], yTicks: [] };

    if (p.title) {
      // centred on the plot; a title wider than the plot stays inside the image
      const tw = textWidth(p.title, S);
      drawText(img, Math.max(MARGIN, Math.min(width - MARGIN - tw, plot.x + (pw - tw) / 2)), cy, p.title, S);
    }
    // frame
    fillRect(img, plot.x - 1, plot.y - 1, pw + 2, 1, BLACK);
    fillRect(img, plot.x - 1, plot.y + ph, pw + 2, 1, BLACK);
    fillRect(img, plot.x - 1, plot.y, 1, ph, BLACK);
    fillRect(img, plot.x + pw, plot.y, 1, ph, BLACK);
    // ticks, with light grid lines
    q.xt.forEach((t, k) => {
      const x = Math.round(X(t));
      for (let yy = plot.y; yy < plot.y + ph; yy += 3) fillRect(img, x, yy, 1, 1, [210, 210, 210]);
      fillRect(img, x, plot.y + ph + 1, 1, TICK, BLACK);
      const lx = Math.min(plot.x + pw + GAP_X - 4 - textWidth(q.xl[k], S), Math.max(cx, x - textWidth(q.xl[k], S) / 2));
      drawText(img, lx, plot.y + ph + 1 + TICK + 3, q.xl[k], S);
      layout.xTicks.push({ value: t, label: q.xl[k], x });
    });
    q.yt.forEach((t, k) => {
      const y = Math.round(Y(t));
      for (let xx = plot.x; xx < plot.x + pw; xx += 3) fillRect(img, xx, y, 1, 1, [210, 210, 210]);
      fillRect(img, plot.x - 1 - TICK, y, TICK, 1, BLACK);
      drawText(img, plot.x - 1 - TICK - 4 - textWidth(q.yl[k], S), y - CAP / 2 + 1, q.yl[k], S);
      layout.yTicks.push({ value: t, label: q.yl[k], y });
    });
    drawText(img, plot.x + (pw - textWidth(p.xLabel, S)) / 2, plot.y + ph + 1 + TICK + 3 + CAP + 8, p.xLabel, S);
    const yLen = textWidth(p.yLabel, S);
    if (p.yLabel) drawTextVertical(img, cx, plot.y + Math.max(-top + 2, (ph - yLen) / 2), p.yLabel, S);

    // reference lines, then the series, clipped to the plot area
    const clipped = { rgba: img.rgba, width: img.width, height: img.height };
    const inside = (x: number, y: number) => x >= plot.x && x < plot.x + pw && y >= plot.y && y < plot.y + ph;
    for (const l of p.hLines ?? []) {
      const y = Y(l.y);
      if (y < plot.y || y > plot.y + ph - 1) continue;
      drawLine(clipped, plot.x, y, plot.x + pw - 1, y, l.rgb, 1, [6, 4]);
      if (l.label) drawText(img, plot.x + pw - 4 - textWidth(l.label, S), y - CAP - 3 < plot.y ? y + 4 : y - CAP - 3, l.label, S, l.rgb);
    }
    for (const v of p.vLines ?? []) {
      const x = X(v);
      if (x >= plot.x && x <= plot.x + pw - 1) drawLine(clipped, x, plot.y, x, plot.y + ph - 1, [140, 140, 140], 1, [4, 4]);
    }
    for (const s of p.series) {
      let prev: [number, number] | null = null;
      for (let k = 0; k < s.x.length; k++) {
        const xv = s.x[k], yv = s.y[k];
        if (yv === null || !Number.isFinite(xv) || !Number.isFinite(yv)) { prev = null; continue; }
        const pt: [number, number] = [X(xv), Math.min(plot.y + ph - 1, Math.max(plot.y, Y(yv)))];
        if (prev) drawLine(clipped, prev[0], prev[1], pt[0], pt[1], s.rgb, 2);
        else if (s.x.length === 1 || s.points) fillRect(img, pt[0] - 2, pt[1] - 2, 4, 4, s.rgb);
        if (s.points && inside(pt[0], pt[1])) fillRect(img, pt[0] - 2, pt[1] - 2, 4, 4, s.rgb);
        prev = pt;
      }
    }
    img.layout.panels.push(layout);
  });
  return img;
}
