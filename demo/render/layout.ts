/**
 * Where things go on the 640×480 view: the particle's square on the left (the grid plus a margin
 * for the η ring), the colour bar and the text on the right. One transform µm ↔ px for the WebGPU
 * pass, the regl fallback and the 2D overlay, so that they line up.
 */
import type { ParticleGrid } from '../../src/browser';
import { colorOf } from '../../src/render/colormap';

export const VIEW_W = 640, VIEW_H = 480;
/** the particle's square: [0, FIELD_PX) × [0, FIELD_PX) */
export const FIELD_PX = 480;

export interface Layout {
  /** px per µm */
  pxPerUm: number;
  /** grid centre, µm (physical axes, y up) */
  centre_um: [number, number];
  /** canvas px of the grid's top-left corner */
  gridOrigin_px: [number, number];
  cellPx: number;
  nx: number;
  ny: number;
}

export function layoutFor(grid: ParticleGrid): Layout {
  const { nx, ny, spacing_um: h } = grid;
  const span_um = Math.max(nx, ny) * h * 1.4; // room for the η ring and the scale bar
  const pxPerUm = FIELD_PX / span_um;
  const cellPx = h * pxPerUm;
  const centre_um: [number, number] = [grid.x0_um + (nx * h) / 2, grid.yTop_um - (ny * h) / 2];
  return { pxPerUm, centre_um, cellPx, nx, ny, gridOrigin_px: [FIELD_PX / 2 - (nx * cellPx) / 2, FIELD_PX / 2 - (ny * cellPx) / 2] };
}

/** canvas px of a physical point (µm, y up) */
export function toPx(l: Layout, p: [number, number]): [number, number] {
  return [FIELD_PX / 2 + (p[0] - l.centre_um[0]) * l.pxPerUm, FIELD_PX / 2 - (p[1] - l.centre_um[1]) * l.pxPerUm];
}

/** the physical point (µm, y up) under canvas px */
export function toUm(l: Layout, px: [number, number]): [number, number] {
  return [l.centre_um[0] + (px[0] - FIELD_PX / 2) / l.pxPerUm, l.centre_um[1] - (px[1] - FIELD_PX / 2) / l.pxPerUm];
}

export interface ColourScale {
  vmin: number;
  vmax: number;
  center: number;
  reversed: boolean;
  label: string;
}

/** θ: the project's diverging map, white at θ0, red = Li removed (as src/render/thetaFigure.ts). */
export function thetaScale(range: [number, number], theta0: number): ColourScale {
  return { vmin: range[0], vmax: range[1], center: Math.min(range[1], Math.max(range[0], theta0)), reversed: true, label: 'θ' };
}

/** ΔI/I0: white at 0, red = brighter = Li removed; symmetric range κ·(θ0 − θ_lo). */
export function diffScale(range: [number, number], theta0: number, kappa: number): ColourScale {
  const v = Math.max(0.05, kappa * (theta0 - range[0]));
  return { vmin: -v, vmax: v, center: 0, reversed: false, label: 'ΔI/I0' };
}

/** 256 colours of the scale, RGBA8 packed little-endian (r in the low byte) */
export function lut(scale: ColourScale): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const v = scale.vmin + ((scale.vmax - scale.vmin) * i) / 255;
    const [r, g, b] = colorOf(v, { colormap: 'diverging', vmin: scale.vmin, vmax: scale.vmax, center: scale.center, reversed: scale.reversed });
    out[i] = (r | (g << 8) | (b << 16) | (255 << 24)) >>> 0;
  }
  return out;
}
