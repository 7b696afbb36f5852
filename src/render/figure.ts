/**
 * Figures of 2D float fields: the field upscaled (nearest neighbour) with a colour map, a framed
 * vertical colour bar with ticks, titles, an optional scale bar and optional axes (kymographs).
 * Black text on white, drawn with the built-in bitmap font; the result is an RGBA raster for encodePng.
 */
import { colorOf, type ColormapName } from './colormap';
import { CAP_ROWS, drawText, drawTextVertical, textHeight, textWidth } from './font';
import { fillRect } from './draw';
import type { RgbaImage } from './png';

export interface FieldFigureOptions {
  colormap: ColormapName;
  vmin: number;
  vmax: number;
  center?: number;
  reversed?: boolean;
  /** upscale factor per data pixel (nearest neighbour), default: chosen so the field is ~400-600 px wide */
  scale?: number;
  /** vertical upscale factor when it should differ from `scale` (e.g. a kymograph with few rows);
   * default: `scale`, except for plots with axes, whose height is then sized on its own (~300-500 px) */
  scaleY?: number;
  title?: string; // drawn above the field
  colorbarLabel?: string; // e.g. 'theta', 'dI/I0' (the font also has θ, µ, Δ)
  /** pixel size in µm: when given, a scale bar (a round length: 0.5, 1, 2, 5 µm …) is drawn under the field at the left, with its label */
  pixel_um?: number;
  /** axis labels for non-image plots such as kymographs: x label under the field, y label left of it,
   * with a few numeric ticks. `min` maps to the left (x) / top (y) edge of the field and `max` to the
   * right / bottom edge; pass min > max to run an axis the other way. */
  xAxis?: { label: string; min: number; max: number };
  yAxis?: { label: string; min: number; max: number };
  /** key entries drawn in rows under the field (and scale bar): a swatch drawn by `draw` into its
   * box (LEGEND_SWATCH × one text line, figure pixels), then the label */
  legend?: LegendEntry[];
  /** at most this many colour-bar ticks (default 5); more lets a range such as 0.75 … 1 get its ends labelled */
  colorbarMaxTicks?: number;
}

export interface LegendEntry {
  label: string;
  draw: (img: RgbaImage, box: Rect) => void;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where things were drawn, in figure pixels (for callers that annotate, and for tests). */
export interface FigureLayout {
  /** each panel's field area; data pixel (row, col) covers x + col·scaleX … and y + row·scaleY … */
  panels: Rect[];
  scaleX: number;
  scaleY: number;
  /** the colour gradient, inside its 1-px frame; row r shows vmax − (r + 0.5)/height · (vmax − vmin) */
  colorbar: Rect;
  /** colour-bar ticks: value, label and the bar row (figure y) the tick is drawn on */
  colorbarTicks: { value: number; label: string; y: number }[];
  /** the scale bar rectangle and its length, when pixel_um was given */
  scaleBar?: Rect & { length_um: number; label: string };
  /** each legend entry's swatch box, in the order given */
  legend: Rect[];
}

export interface FigureImage extends RgbaImage {
  layout: FigureLayout;
}

const TEXT_SCALE = 2;
const MARGIN = 16;
const LINE = textHeight(TEXT_SCALE); // one text line, descenders included
const CAP = CAP_ROWS * TEXT_SCALE; // height of digits and capitals
const TICK = 5;
const BAR_W = 18;
const PANEL_GAP = 16;
const BLACK = [0, 0, 0] as const;
const LEGEND_SWATCH = 28;

/**
 * Round tick values inside [min(a, b), max(a, b)]: steps of 1, 2, 2.5 or 5 × 10^k, the finest that
 * gives at most `maxTicks` (fewer than `minTicks` only where no round step does better).
 */
export function niceTicks(a: number, b: number, maxTicks = 5, minTicks = 3): number[] {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const e0 = Math.floor(Math.log10(hi - lo));
  let best: number[] = [];
  for (let e = e0 - 2; e <= e0 + 1; e++) {
    for (const m of [1, 2, 2.5, 5]) {
      const step = m * 10 ** e;
      const k0 = Math.ceil(lo / step - 1e-9);
      const k1 = Math.floor(hi / step + 1e-9);
      const n = k1 - k0 + 1;
      if (n > maxTicks || n < 1) continue;
      const ticks: number[] = [];
      // toPrecision strips the float noise of k·step (0.30000000000000004 → 0.3)
      for (let k = k0; k <= k1; k++) ticks.push(Number((k * step).toPrecision(12)));
      if (n >= minTicks) return ticks;
      if (n > best.length) best = ticks;
    }
  }
  return best;
}

/** Short labels for a set of ticks: '0', '0.25', '-1', and '2.5e-3' style when all are tiny or huge. */
export function formatTicks(values: number[]): string[] {
  const maxAbs = Math.max(0, ...values.map(Math.abs));
  const exponential = maxAbs > 0 && (maxAbs < 1e-2 || maxAbs >= 1e5);
  return values.map((v) => {
    if (v === 0) return '0';
    if (exponential) return Number(v.toPrecision(6)).toExponential().replace('e+', 'e');
    return String(Number(v.toPrecision(6)));
  });
}

/** The largest of 1, 2, 5 × 10^k not above `target` (a scale-bar length). */
function roundLength(target: number): number {
  const p = 10 ** Math.floor(Math.log10(target));
  for (const m of [5, 2, 1]) if (m * p <= target) return m * p;
  return p;
}

function autoScale(n: number, target: number): number {
  return Math.max(1, Math.round(target / n));
}

/**
 * The field's cells as sx × sy blocks of their colours from (r.x, r.y). Whole-pixel blocks inside the
 * image (the usual case) are painted a figure row at a time and that row copied sy times — the pixels
 * fillRect per cell gives, with a colour lookup per cell and no call per block.
 */
function paintField(img: RgbaImage, r: Rect, field: ArrayLike<number>, width: number, height: number, sx: number, sy: number, cmap: Parameters<typeof colorOf>[1]): void {
  const whole = [sx, sy, r.x, r.y].every(Number.isInteger) && r.x >= 0 && r.y >= 0 && r.x + width * sx <= img.width && r.y + height * sy <= img.height;
  if (!whole) {
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) fillRect(img, r.x + col * sx, r.y + row * sy, sx, sy, colorOf(field[row * width + col], cmap));
    }
    return;
  }
  const line = new Uint8Array(width * sx * 4);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const [cr, cg, cb] = colorOf(field[row * width + col], cmap);
      for (let k = 0, at = 4 * col * sx; k < sx; k++, at += 4) {
        line[at] = cr;
        line[at + 1] = cg;
        line[at + 2] = cb;
        line[at + 3] = 255;
      }
    }
    for (let k = 0; k < sy; k++) img.rgba.set(line, ((r.y + row * sy + k) * img.width + r.x) * 4);
  }
}

/** A 1-px black frame just outside the rectangle. */
function frameAround(img: RgbaImage, r: Rect): void {
  fillRect(img, r.x - 1, r.y - 1, r.width + 2, 1, BLACK);
  fillRect(img, r.x - 1, r.y + r.height, r.width + 2, 1, BLACK);
  fillRect(img, r.x - 1, r.y, 1, r.height, BLACK);
  fillRect(img, r.x + r.width, r.y, 1, r.height, BLACK);
}

function checkInputs(panels: { field: ArrayLike<number> }[], width: number, height: number, opts: FieldFigureOptions): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`field width and height must be positive integers (got ${width}x${height})`);
  }
  panels.forEach((p, i) => {
    if (p.field.length !== width * height) {
      throw new Error(`panel ${i}: field has ${p.field.length} values, expected width*height = ${width}*${height} = ${width * height}`);
    }
  });
  if (opts.colormap !== 'diverging' && opts.colormap !== 'sequential') {
    throw new Error(`colormap must be 'diverging' or 'sequential' (got '${String(opts.colormap)}')`);
  }
  if (!Number.isFinite(opts.vmin) || !Number.isFinite(opts.vmax) || opts.vmin > opts.vmax) {
    throw new Error(`vmin and vmax must be finite with vmin <= vmax (got vmin=${opts.vmin}, vmax=${opts.vmax})`);
  }
  for (const key of ['scale', 'scaleY'] as const) {
    const s = opts[key];
    if (s !== undefined && (!Number.isInteger(s) || s < 1)) throw new Error(`${key} must be a positive integer (got ${s})`);
  }
  if (opts.pixel_um !== undefined && !(opts.pixel_um > 0 && Number.isFinite(opts.pixel_um))) {
    throw new Error(`pixel_um must be a positive number (got ${opts.pixel_um})`);
  }
  for (const key of ['xAxis', 'yAxis'] as const) {
    const a = opts[key];
    if (a && (!Number.isFinite(a.min) || !Number.isFinite(a.max) || a.min === a.max)) {
      throw new Error(`${key}.min and ${key}.max must be finite and different (got ${a.min}, ${a.max})`);
    }
  }
}

function compose(panels: { field: ArrayLike<number>; title: string }[], width: number, height: number, opts: FieldFigureOptions, figureTitle?: string): FigureImage {
  if (panels.length === 0) throw new Error('renderMontage: panels is empty, need at least one');
  checkInputs(panels, width, height, opts);
  let { vmin, vmax } = opts;
  if (vmax === vmin) {
    // a constant range (e.g. θ everywhere θ0 at t = 0) still gets a readable bar
    const pad = vmin !== 0 ? Math.abs(vmin) * 0.1 : 1;
    vmin -= pad;
    vmax += pad;
  }
  const cmap = { colormap: opts.colormap, vmin, vmax, center: opts.center, reversed: opts.reversed };
  const { xAxis, yAxis } = opts;
  const hasAxes = !!(xAxis || yAxis);
  const target = panels.length > 1 ? 360 : 500;
  const sx = opts.scale ?? autoScale(hasAxes ? width : Math.max(width, height), target);
  const sy = opts.scaleY ?? (opts.scale !== undefined || !hasAxes ? sx : autoScale(height, target * 0.8));
  const fw = width * sx;
  const fh = height * sy;
  const frame = hasAxes ? 1 : 0; // axes plots get a box around the field

  // ---- horizontal layout
  let x = MARGIN;
  const yTicks = yAxis ? niceTicks(yAxis.min, yAxis.max, Math.min(6, Math.max(2, Math.floor(fh / 60))), 3) : [];
  const yTickLabels = formatTicks(yTicks);
  const yLabelX = x;
  if (yAxis) {
    if (yAxis.label) x += LINE + 6;
    x += Math.max(0, ...yTickLabels.map((s) => textWidth(s, TEXT_SCALE))) + 4 + TICK;
  }
  const fx0 = x + frame;
  // panel x positions now; their common y once the titles above are laid out
  const panelRects: Rect[] = panels.map((_, i) => ({ x: fx0 + i * (fw + PANEL_GAP + 2 * frame), y: 0, width: fw, height: fh }));
  const fieldsRight = panelRects[panelRects.length - 1].x + fw + frame;
  const cbX = fieldsRight + 20 + 1;
  const cbTicks = niceTicks(vmin, vmax, opts.colorbarMaxTicks ?? 5, 3);
  const cbTickLabels = formatTicks(cbTicks);
  const cbLabelsX = cbX + BAR_W + 1 + TICK + 4;
  let right = cbLabelsX + Math.max(0, ...cbTickLabels.map((s) => textWidth(s, TEXT_SCALE)));
  const cbLabelX = right + 8;
  if (opts.colorbarLabel) right = cbLabelX + LINE;
  const titleW = figureTitle ? textWidth(figureTitle, TEXT_SCALE) + 2 * MARGIN : 0;
  // a panel title wider than its panel (one-panel figures with a long title) widens the figure
  const panelTitleW = Math.max(0, ...panels.map((p) => textWidth(p.title, TEXT_SCALE))) + 2 * MARGIN;
  const figW = Math.max(right + MARGIN, titleW, panelTitleW);

  // ---- vertical layout
  let y = MARGIN;
  const figTitleY = y;
  if (figureTitle) y += LINE + 8;
  const panelTitleY = y;
  if (panels.some((p) => p.title)) y += LINE + 6;
  const fy = y + frame;
  for (const r of panelRects) r.y = fy;
  const cbH = Math.max(fh, 120);
  let yb = fy + fh + frame;
  const xTicks = xAxis ? niceTicks(xAxis.min, xAxis.max, Math.min(6, Math.max(2, Math.floor(fw / 80))), 3) : [];
  const xTickLabels = formatTicks(xTicks);
  const xTickLabelY = yb + TICK + 3;
  const xLabelY = xTickLabelY + CAP + 8;
  if (xAxis) yb = xAxis.label ? xLabelY + LINE : xTickLabelY + LINE;
  const barThick = 2 * TEXT_SCALE;
  const scaleBarY = yb + 12;
  const scaleLabelY = scaleBarY + barThick + 5;
  if (opts.pixel_um !== undefined) yb = scaleLabelY + LINE;
  // legend entries flow left to right in rows under everything else
  const legendBoxes: Rect[] = [];
  const legendLabelsAt: { x: number; y: number }[] = [];
  if (opts.legend?.length) {
    const rowH = LINE + 6;
    let lx = fx0;
    let ly = yb + 10;
    for (const e of opts.legend) {
      const w = LEGEND_SWATCH + 6 + textWidth(e.label, TEXT_SCALE);
      if (lx > fx0 && lx + w > figW - MARGIN) { lx = fx0; ly += rowH; }
      legendBoxes.push({ x: lx, y: ly, width: LEGEND_SWATCH, height: LINE });
      legendLabelsAt.push({ x: lx + LEGEND_SWATCH + 6, y: ly });
      lx += w + 18;
    }
    yb = ly + LINE;
  }
  const cbLabelLen = opts.colorbarLabel ? textWidth(opts.colorbarLabel, TEXT_SCALE) : 0;
  const yLabelLen = yAxis?.label ? textWidth(yAxis.label, TEXT_SCALE) : 0;
  const figH =
    Math.max(
      yb,
      fy + cbH + CAP, // bottom tick label hangs below the bar
      fy + cbH / 2 + cbLabelLen / 2,
      fy + fh / 2 + yLabelLen / 2,
    ) + MARGIN;

  const img: FigureImage = {
    rgba: new Uint8Array(figW * figH * 4).fill(255),
    width: figW,
    height: figH,
    layout: { panels: panelRects, scaleX: sx, scaleY: sy, colorbar: { x: cbX, y: fy, width: BAR_W, height: cbH }, colorbarTicks: [], legend: legendBoxes },
  };

  // ---- titles
  if (figureTitle) {
    const mid = (fx0 + fieldsRight - frame) / 2;
    drawText(img, Math.max(MARGIN, mid - textWidth(figureTitle, TEXT_SCALE) / 2), figTitleY, figureTitle, TEXT_SCALE);
  }
  panels.forEach((p, i) => {
    if (!p.title) return;
    const r = panelRects[i];
    const tw = textWidth(p.title, TEXT_SCALE);
    drawText(img, Math.max(MARGIN, Math.min(figW - MARGIN - tw, r.x + (fw - tw) / 2)), panelTitleY, p.title, TEXT_SCALE);
  });

  // ---- fields
  panels.forEach((p, i) => {
    const r = panelRects[i];
    paintField(img, r, p.field, width, height, sx, sy, cmap);
    if (frame) frameAround(img, r);
  });

  // ---- axes (ticks point outwards from the box)
  if (xAxis) {
    panelRects.forEach((r) => {
      xTicks.forEach((t, k) => {
        const px = Math.min(r.x + fw - 1, Math.max(r.x, Math.floor(r.x + ((t - xAxis.min) / (xAxis.max - xAxis.min)) * fw)));
        fillRect(img, px, r.y + fh + 1, 1, TICK, BLACK);
        drawText(img, px - textWidth(xTickLabels[k], TEXT_SCALE) / 2, xTickLabelY, xTickLabels[k], TEXT_SCALE);
      });
      if (xAxis.label) drawText(img, r.x + (fw - textWidth(xAxis.label, TEXT_SCALE)) / 2, xLabelY, xAxis.label, TEXT_SCALE);
    });
  }
  if (yAxis) {
    const r = panelRects[0];
    yTicks.forEach((t, k) => {
      const py = Math.min(r.y + fh - 1, Math.max(r.y, Math.floor(r.y + ((t - yAxis.min) / (yAxis.max - yAxis.min)) * fh)));
      fillRect(img, r.x - 1 - TICK, py, TICK, 1, BLACK);
      const label = yTickLabels[k];
      drawText(img, r.x - 1 - TICK - 4 - textWidth(label, TEXT_SCALE), py - CAP / 2 + 1, label, TEXT_SCALE);
    });
    if (yAxis.label) drawTextVertical(img, yLabelX, r.y + (fh - yLabelLen) / 2, yAxis.label, TEXT_SCALE);
  }

  // ---- colour bar: gradient, frame, ticks on the right, label rotated beside the numbers
  for (let row = 0; row < cbH; row++) {
    const v = vmax - ((row + 0.5) / cbH) * (vmax - vmin);
    fillRect(img, cbX, fy + row, BAR_W, 1, colorOf(v, cmap));
  }
  frameAround(img, img.layout.colorbar);
  cbTicks.forEach((t, k) => {
    // the bar row whose value interval holds t (vmax → top row, vmin → bottom row)
    const py = fy + Math.min(cbH - 1, Math.max(0, Math.floor(((vmax - t) / (vmax - vmin)) * cbH)));
    fillRect(img, cbX + BAR_W + 1, py, TICK, 1, BLACK);
    drawText(img, cbLabelsX, py - CAP / 2 + 1, cbTickLabels[k], TEXT_SCALE);
    img.layout.colorbarTicks.push({ value: t, label: cbTickLabels[k], y: py });
  });
  if (opts.colorbarLabel) drawTextVertical(img, cbLabelX, fy + (cbH - cbLabelLen) / 2, opts.colorbarLabel, TEXT_SCALE);

  // ---- scale bar under the first panel, label centred beneath it
  if (opts.pixel_um !== undefined) {
    const r = panelRects[0];
    const length_um = roundLength(0.3 * width * opts.pixel_um);
    const len = Math.max(1, Math.round((length_um / opts.pixel_um) * sx));
    const label = `${Number(length_um.toPrecision(3))} µm`;
    fillRect(img, r.x, scaleBarY, len, barThick, BLACK);
    drawText(img, Math.max(r.x, r.x + (len - textWidth(label, TEXT_SCALE)) / 2), scaleLabelY, label, TEXT_SCALE);
    img.layout.scaleBar = { x: r.x, y: scaleBarY, width: len, height: barThick, length_um, label };
  }
  opts.legend?.forEach((e, i) => {
    e.draw(img, legendBoxes[i]);
    drawText(img, legendLabelsAt[i].x, legendLabelsAt[i].y, e.label, TEXT_SCALE);
  });
  return img;
}

/**
 * Renders one field. `field` is row-major [height][width], row 0 at the top; NaN pixels are drawn in
 * light grey (NAN_RGB). Returns an RGBA image with the field, a framed vertical colour bar with 3-5
 * round tick values and its label, the title above the field, the scale bar (when pixel_um is given)
 * and axes (when xAxis / yAxis are given), plus the layout of what was drawn where.
 */
export function renderField(field: ArrayLike<number>, width: number, height: number, opts: FieldFigureOptions): FigureImage {
  return compose([{ field, title: opts.title ?? '' }], width, height, opts);
}

/**
 * Several fields of the same size side by side (e.g. frames at 5, 10, 15, 20 min) sharing one colour
 * bar; each panel has its own title, `opts.title` (if any) is drawn centred above them all, and the
 * scale bar sits under the first panel. Default upscaling aims at ~360 px per panel.
 */
export function renderMontage(panels: { field: ArrayLike<number>; title: string }[], width: number, height: number, opts: FieldFigureOptions): FigureImage {
  return compose(panels, width, height, opts, opts.title);
}
