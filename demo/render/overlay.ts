/**
 * The 2D layer over the field (any path): the colour bar, the scale bar, the simulated time and
 * charge passed, the particle's COM (+) and the Li-rich core's COM (○) with the offset d drawn as an
 * arrow, the η ring around the rim (the blocked arcs), and the in-page benchmark numbers.
 */
import { colorOf } from '../../src/render/colormap';
import type { ParticleGrid, SurfaceSegment } from '../../src/browser';
import { surfaceActivity } from '../../src/model/surface';
import { FIELD_PX, toPx, VIEW_H, VIEW_W, type ColourScale, type Layout } from './layout';
import type { TraceRow } from '../sim/liveRun';
import { scaleBarUm, type ViewTransform } from './view';

export interface OverlayInfo {
  time_s: number;
  chargePassed_mAh_g: number;
  phase: string;
  last: TraceRow | null;
  segments: SurfaceSegment[];
  brushEta: number;
  /** pointer position while painting / hovering the rim, canvas px */
  brushAt: [number, number] | null;
  bench: { stepsPerS: number; fps: number; cellUpdatesPerS: number; budget: number };
  path: string;
}

/** the η ring's radius on screen: just outside the rim of the disk at zoom `zoom`, px */
export function ringRadiusPx(grid: ParticleGrid, layout: Layout, zoom = 1): number {
  return outlineRadius_um(grid) * layout.pxPerUm * zoom + 9;
}

/** largest distance of the outline from its centroid, µm */
export function outlineRadius_um(grid: ParticleGrid): number {
  const [cx, cy] = grid.outline.centroid;
  return Math.max(...grid.outline.vertices.map(([x, y]) => Math.hypot(x - cx, y - cy)));
}

export const etaColour = (eta: number): string => {
  const [r, g, b] = colorOf(eta, { colormap: 'sequential', vmin: 0, vmax: 1 });
  return `rgb(${r},${g},${b})`;
};

/**
 * Draws the overlay. What sits on the particle (ring, markers, arrow, brush) goes through `view`
 * (layout px → screen px) and is clipped to the field's square; the rest stays fixed on screen.
 */
export function drawOverlay(ctx: CanvasRenderingContext2D, grid: ParticleGrid, layout: Layout, scale: ColourScale, info: OverlayInfo, view: ViewTransform): void {
  ctx.clearRect(0, 0, VIEW_W, VIEW_H);
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, 0, FIELD_PX, VIEW_H);
  ctx.clip();
  const com = view.toScreen(toPx(layout, grid.outline.centroid as [number, number]));
  // η ring: 2° pieces coloured by s(φ) (viridis: dark = blocked, yellow = clean)
  const rr = ringRadiusPx(grid, layout, view.zoom);
  ctx.lineWidth = 8;
  for (let a = 0; a < 360; a += 2) {
    ctx.strokeStyle = etaColour(surfaceActivity(info.segments, a + 1));
    ctx.beginPath();
    // canvas angles run clockwise (y down): φ ccw from +x is −φ on the canvas
    ctx.arc(com[0], com[1], rr, (-(a + 2) * Math.PI) / 180, (-a * Math.PI) / 180);
    ctx.stroke();
  }
  if (info.brushAt) {
    ctx.strokeStyle = '#000';
    ctx.lineWidth = 1.5;
    ctx.fillStyle = etaColour(info.brushEta);
    ctx.beginPath();
    ctx.arc(info.brushAt[0], info.brushAt[1], 7, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
  // particle COM (+) and core COM (○), the offset d as an arrow between them
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(com[0] - 7, com[1]); ctx.lineTo(com[0] + 7, com[1]);
  ctx.moveTo(com[0], com[1] - 7); ctx.lineTo(com[0], com[1] + 7);
  ctx.stroke();
  const v = info.last?.comOffsetVector_um;
  if (v) {
    const core = view.toScreen(toPx(layout, [grid.outline.centroid[0] + v[0], grid.outline.centroid[1] + v[1]]));
    ctx.beginPath();
    ctx.arc(core[0], core[1], 6, 0, 2 * Math.PI);
    ctx.stroke();
    const len = Math.hypot(core[0] - com[0], core[1] - com[1]);
    if (len > 3) {
      const ux = (core[0] - com[0]) / len, uy = (core[1] - com[1]) / len;
      ctx.beginPath();
      ctx.moveTo(com[0], com[1]);
      ctx.lineTo(core[0], core[1]);
      ctx.lineTo(core[0] - 8 * ux + 4 * uy, core[1] - 8 * uy - 4 * ux);
      ctx.moveTo(core[0], core[1]);
      ctx.lineTo(core[0] - 8 * ux - 4 * uy, core[1] - 8 * uy + 4 * ux);
      ctx.stroke();
    }
  }
  ctx.restore();
  // scale bar, fixed at the bottom left: a round length, drawn at the zoomed px per µm
  const pxPerUm = layout.pxPerUm * view.zoom;
  const barUm = scaleBarUm(pxPerUm);
  const barPx = barUm * pxPerUm;
  ctx.fillStyle = '#000';
  ctx.fillRect(16, FIELD_PX - 24, barPx, 5);
  ctx.font = '13px sans-serif';
  ctx.textBaseline = 'bottom';
  ctx.fillText(`${barUm} µm${view.identity ? '' : `   (zoom ×${view.zoom.toFixed(view.zoom < 10 ? 2 : 1)})`}`, 16, FIELD_PX - 28);
  // side panel: colour bar with ticks
  const bx = FIELD_PX + 24, by = 60, bw = 22, bh = 300;
  for (let y = 0; y < bh; y++) {
    const val = scale.vmax - ((scale.vmax - scale.vmin) * y) / (bh - 1);
    const [r, g, b] = colorOf(val, { colormap: 'diverging', vmin: scale.vmin, vmax: scale.vmax, center: scale.center, reversed: scale.reversed });
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(bx, by + y, bw, 1);
  }
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 1;
  ctx.strokeRect(bx + 0.5, by + 0.5, bw, bh);
  ctx.fillStyle = '#000';
  ctx.textBaseline = 'middle';
  for (let k = 0; k <= 4; k++) {
    const val = scale.vmax - ((scale.vmax - scale.vmin) * k) / 4;
    const y = by + ((bh - 1) * k) / 4;
    ctx.fillRect(bx + bw, y, 5, 1);
    ctx.fillText(val.toFixed(2), bx + bw + 8, y);
  }
  ctx.font = 'bold 14px sans-serif';
  ctx.fillText(scale.label, bx, by - 16);
  // the η ring's key: surface activity from 0 (blocked) to 1 (clean)
  const ey = by + bh + 16, ew = 110;
  for (let x = 0; x < ew; x++) {
    ctx.fillStyle = etaColour(x / (ew - 1));
    ctx.fillRect(bx + x, ey, 1, 10);
  }
  ctx.strokeRect(bx + 0.5, ey + 0.5, ew, 10);
  ctx.fillStyle = '#000';
  ctx.font = '12px sans-serif';
  ctx.fillText('0', bx - 2, ey + 18);
  ctx.fillText('1', bx + ew - 4, ey + 18);
  ctx.fillText('ring: surface η', bx + 18, ey + 18);
  // time, charge passed, the phase, d
  ctx.fillStyle = '#000';
  ctx.font = '14px sans-serif';
  ctx.textBaseline = 'top';
  const lines = [
    `t = ${(info.time_s / 60).toFixed(2)} min`,
    `Q = ${info.chargePassed_mAh_g.toFixed(1)} mAh/g`,
    info.phase,
    `d = ${info.last?.comOffset_um != null ? info.last.comOffset_um.toFixed(3) + ' µm' : '–'}`,
  ];
  lines.forEach((s, i) => ctx.fillText(s, 10, 10 + 18 * i));
  // benchmark corner (read by the tests through window.ionfluxDemo.metrics())
  ctx.fillStyle = '#000';
  ctx.font = '11px monospace';
  ctx.textBaseline = 'bottom';
  const b = info.bench;
  const bench = [info.path, `${b.stepsPerS.toFixed(0)} steps/s`, `${(b.cellUpdatesPerS / 1e6).toFixed(1)} Mcell/s`, `${b.fps.toFixed(0)} fps`, `${b.budget} steps/frame`];
  bench.forEach((s, i) => ctx.fillText(s, FIELD_PX + 10, VIEW_H - 8 - 13 * (bench.length - 1 - i)));
}
