/**
 * PNG export: the field view (the field canvas under its overlay, as on screen) and each uPlot chart
 * (its canvas — plot, axes and ticks — with the title and legend uPlot keeps in the DOM drawn in).
 * The caller draws a WebGPU canvas in the same task as composeView reads it: a WebGPU canvas's
 * image is only readable until the task that submitted the frame ends (../shared/RUNTIME.md).
 */
import type uPlot from 'uplot';
import { VIEW_H, VIEW_W } from '../render/layout';

/** The field canvas (any size, scaled up cell-sharp) and the overlay on one 640×480 canvas. */
export function composeView(field: HTMLCanvasElement, overlay: HTMLCanvasElement): HTMLCanvasElement {
  const out = document.createElement('canvas');
  out.width = VIEW_W;
  out.height = VIEW_H;
  const ctx = out.getContext('2d') as CanvasRenderingContext2D;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, VIEW_W, VIEW_H);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(field, 0, 0, VIEW_W, VIEW_H);
  ctx.drawImage(overlay, 0, 0, VIEW_W, VIEW_H);
  return out;
}

/** A chart as a picture: title above, the chart's canvas, one legend entry per series below (`series`: its options). */
export function composeChart(u: uPlot, title: string, series: uPlot.Series[] = u.series): HTMLCanvasElement {
  const src = u.ctx.canvas;
  const w = u.width, h = u.height, top = 26, bottom = 24;
  const out = document.createElement('canvas');
  out.width = w;
  out.height = h + top + bottom;
  const ctx = out.getContext('2d') as CanvasRenderingContext2D;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = '#000';
  ctx.font = 'bold 13px sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(title, w / 2, top / 2);
  // the plot canvas is sized in device px (devicePixelRatio): drawn back at its CSS size
  ctx.drawImage(src, 0, top, w, h);
  ctx.textAlign = 'left';
  ctx.font = '12px sans-serif';
  let x = 8;
  const y = top + h + bottom / 2;
  // `series`: the options as given (uPlot turns a series' stroke into a function once built)
  series.forEach((s, i) => {
    if (i === 0 || s.show === false) return;
    const stroke = typeof s.stroke === 'function' ? '#000' : String(s.stroke ?? '#000');
    ctx.strokeStyle = stroke;
    ctx.lineWidth = 2;
    ctx.setLineDash(s.dash ?? []);
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + 18, y);
    ctx.stroke();
    ctx.setLineDash([]);
    const label = String(s.label ?? '');
    ctx.fillText(label, x + 22, y);
    x += 30 + ctx.measureText(label).width;
  });
  return out;
}

/** Downloads `canvas` as NAME (a PNG). */
export function downloadPng(canvas: HTMLCanvasElement, name: string): void {
  canvas.toBlob((blob) => {
    if (!blob) return;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, 'image/png');
}
