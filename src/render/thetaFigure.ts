/**
 * The θ snapshot figure of `ionflux simulate`: θ on the grid in a diverging map on a colour range
 * that is the same for every run of one protocol (so fig4a–d compare side by side), the blocked arcs
 * of the surface drawn as a band just outside the rim, the particle's centre of mass (+) and the
 * Li-rich core's (○, the unreacted region of the simulated ΔI/I0 image) with a line between them, and
 * a title with the run name, time, charge passed and protocol phase.
 */
import type { Problem } from '../solver/problem';
import type { Snapshot, StepRecord } from '../solver/run';
import { onSegment } from '../model/surface';
import { BLACK, blendPixel, drawComPair, drawMarker, fillRect, type Rgb } from './draw';
import { renderField, type FigureImage, type LegendEntry, type Rect } from './figure';

/** Colour of the blocked-arc band; its opacity falls with η (η = 0: opaque, η = 1: faint). */
export const RIM_RGB: Rgb = [45, 45, 45];
/** Band opacity for a segment of activity η: 1 − 0.75·η. */
export const rimAlpha = (eta: number): number => 1 - 0.75 * eta;
/** NaN cells added around the grid on every side, so the rim band lies on the grey ground. */
export const THETA_PAD_CELLS = 3;

/**
 * The default θ colour range [lo, hi]: θ0 − 2·Δθ_charge … θ0 + 2·Δθ_discharge, where Δθ is the mean
 * change the protocol's applied charge (or discharge) would cause by itself (i·t/3600/Q, times the
 * current factor of surface.normalize), kept inside the cut-offs [cutoff.surfaceTheta,
 * cutoff.surfaceThetaMax] and [0, 1], and widened to multiples of 0.05. Twice the mean change, because
 * the surface runs ahead of the mean; the cut-off bounds it because θs cannot pass it. It depends
 * only on the protocol, material, θ0 and cut-offs, so the presets of one figure (fig4a–d: the same
 * 20 min at 100 mA/g) share it: [0.75, 1].
 */
export function defaultThetaRange(problem: Problem): [number, number] {
  const cfg = problem.config;
  const Q = cfg.material.capacity_mAh_g;
  const gain = problem.grid.sBarEffective;
  let charge = 0, discharge = 0;
  for (const s of cfg.protocol) {
    const dTheta = ((s.current_mA_g ?? 0) * gain * s.duration_min * 60) / 3600 / Q;
    if (s.step === 'charge') charge += dTheta;
    else if (s.step === 'discharge') discharge += dTheta;
  }
  const t0 = problem.theta0;
  let lo = Math.max(0, cfg.cutoff.surfaceTheta, t0 - 2 * charge);
  let hi = Math.min(1, cfg.cutoff.surfaceThetaMax, t0 + 2 * discharge);
  lo = Math.max(0, Math.floor(Math.min(lo, t0) * 20 + 1e-9) / 20);
  hi = Math.min(1, Math.ceil(Math.max(hi, t0) * 20 - 1e-9) / 20);
  if (hi - lo < 0.05) {
    // a rest-only protocol (or θ0 at a cut-off): still a readable bar
    if (lo > 0) lo = Math.max(0, hi - 0.05);
    else hi = Math.min(1, lo + 0.05);
  }
  return [Number(lo.toFixed(2)), Number(hi.toFixed(2))];
}

/** The protocol step running at time t (s): the one with start_s < t ≤ end_s, the first step at t = 0. */
export function protocolPhaseAt(protocol: StepRecord[], t_s: number): StepRecord | null {
  if (!protocol.length) return null;
  const tol = 1e-6 * Math.max(1, t_s);
  for (const s of protocol) if (t_s > s.start_s + tol && t_s <= s.end_s + tol) return s;
  if (t_s <= protocol[0].start_s + tol) return protocol[0];
  return protocol[protocol.length - 1];
}

/** 'charge 100 mA/g', 'rest', 'discharge 50 mA/g' */
export function phaseLabel(step: StepRecord | null): string {
  if (!step) return '';
  return step.step === 'rest' ? 'rest' : `${step.step} ${Number(step.current_mA_g.toPrecision(4))} mA/g`;
}

/** 0.3 → '0.3', 0.25 → '0.25' */
const short = (v: number, digits = 3) => String(Number(v.toPrecision(digits)));

export interface ThetaFigureOptions {
  /** colour range [lo, hi] of θ (defaultThetaRange when absent) */
  range?: [number, number];
  /** preset name or config file stem, first in the title */
  runName?: string;
  /** the run's protocol record, for the phase in the title */
  protocol?: StepRecord[];
}

export interface ThetaFigure extends FigureImage {
  /** physical position (µm, x right, y up) → figure pixel coordinates */
  toFigure: (x_um: number, y_um: number) => [number, number];
  /** where the markers were drawn, figure pixels (core: null when nothing is unreacted) */
  particleCom_px: [number, number];
  coreCom_px: [number, number] | null;
  range: [number, number];
}

/**
 * Renders one θ snapshot (see the file comment). The COM of the particle is its outline's centroid;
 * the core's is that plus the snapshot's comOffsetVector_um (measured on the simulated camera image).
 */
export function renderThetaSnapshot(problem: Problem, snap: Snapshot, opts: ThetaFigureOptions = {}): ThetaFigure {
  const g = problem.grid;
  const range = opts.range ?? defaultThetaRange(problem);
  const P = THETA_PAD_CELLS;
  const w = g.nx + 2 * P, h = g.ny + 2 * P;
  const field = new Float32Array(w * h).fill(NaN);
  for (let r = 0; r < g.ny; r++) field.set(snap.field.subarray(r * g.nx, (r + 1) * g.nx), (r + P) * w + P);

  const segments = problem.config.surface.segments;
  const etas = [...new Set(segments.map((s) => s.eta))].sort((a, b) => a - b);
  const legend: LegendEntry[] = etas.map((eta) => ({
    label: `blocked rim, η = ${short(eta)}`,
    draw: (img, box) => {
      fillRect(img, box.x, box.y + 2, box.width, box.height - 4, [224, 224, 224]);
      for (let y = box.y + 5; y < box.y + box.height - 5; y++) for (let x = box.x; x < box.x + box.width; x++) blendPixel(img, x, y, RIM_RGB, rimAlpha(eta));
    },
  }));
  legend.push({ label: 'particle COM', draw: (img, box) => drawMarker(img, box.x + box.width / 2, box.y + box.height / 2 - 1, 'plus', 6, BLACK) });
  const core = snap.comOffsetVector_um;
  // the core's entry even when nothing is unreacted, so every snapshot of a run has the same size
  legend.push({ label: 'Li-rich core COM', draw: (img, box) => drawMarker(img, box.x + box.width / 2, box.y + box.height / 2 - 1, 'circle', 5, BLACK) });

  const phase = opts.protocol ? phaseLabel(protocolPhaseAt(opts.protocol, snap.time_s)) : '';
  const title = [
    `${opts.runName ? `${opts.runName}: ` : ''}θ at ${(snap.time_s / 60).toFixed(1)} min`,
    `${snap.capacity_mAh_g.toFixed(1)} mAh/g`,
    phase,
  ].filter((s) => s).join(', ') + (snap.final ? ' (end)' : '');
  const [lo, hi] = range;
  const fig = renderField(field, w, h, {
    colormap: 'diverging',
    vmin: lo,
    vmax: hi,
    center: Math.min(hi, Math.max(lo, problem.theta0)),
    reversed: true, // red = Li removed (θ below θ0), as the paper's differential images
    title,
    colorbarLabel: `θ (range ${short(lo)} to ${short(hi)})`,
    pixel_um: g.spacing_um,
    legend,
    colorbarMaxTicks: 6,
  });
  const panel = fig.layout.panels[0];
  const { scaleX: sx, scaleY: sy } = fig.layout;
  const toFigure = (x_um: number, y_um: number): [number, number] => [
    panel.x + ((x_um - g.x0_um) / g.spacing_um + P) * sx,
    panel.y + ((g.yTop_um - y_um) / g.spacing_um + P) * sy,
  ];
  // the band is the same on every snapshot of a run (same outline, surface and layout): computed once
  const key = JSON.stringify([panel, sx, sy, fig.width, g.x0_um, g.yTop_um, g.spacing_um, segments]);
  let band = RIM_BANDS.get(g.outline.vertices);
  if (band?.key !== key) {
    band = { key, coverage: rimBandCoverage(fig.width, g.outline.vertices, g.outline.centroid, segments, toFigure, sx, panel) };
    RIM_BANDS.set(g.outline.vertices, band);
  }
  blendRimBand(fig, band.coverage);

  const [cx, cy] = g.outline.centroid;
  const particleCom_px = toFigure(cx, cy);
  const coreCom_px = core ? toFigure(cx + core[0], cy + core[1]) : null;
  drawComPair(fig, particleCom_px[0], particleCom_px[1], coreCom_px);
  return Object.assign(fig, { toFigure, particleCom_px, coreCom_px, range: [lo, hi] as [number, number] });
}

/** The rim band's pixels (indices in an image `imgWidth` wide, in the order first covered) and their opacities. */
interface RimCoverage { pixels: Int32Array; alpha: Float64Array }
const RIM_BANDS = new WeakMap<[number, number][], { key: string; coverage: RimCoverage }>();

function blendRimBand(img: FigureImage, c: RimCoverage): void {
  for (let k = 0; k < c.pixels.length; k++) {
    const idx = c.pixels[k];
    blendPixel(img, idx % img.width, Math.floor(idx / img.width), RIM_RGB, c.alpha[k]);
  }
}

/**
 * The band of each blocked segment: figure pixels from `gap` to `gap + width` outside the outline
 * along its outward normal, where the angle about `centre` (CCW from +x, y up, as the config's
 * surface.segments) lies on the segment; blended once per pixel with the segment's opacity. The gap
 * clears the staircase of drawn cells (up to ~0.7 cell outside the true outline).
 */
function rimBandCoverage(
  imgWidth: number,
  vertices: [number, number][],
  centre: [number, number],
  segments: { fromDeg: number; toDeg: number; eta: number }[],
  toFigure: (x: number, y: number) => [number, number],
  cell_px: number,
  clip: Rect,
): RimCoverage {
  if (!segments.length || vertices.length < 2) return { pixels: new Int32Array(0), alpha: new Float64Array(0) };
  const gap = 0.75 * cell_px + 2;
  const width = Math.max(4, Math.round(1.5 * cell_px));
  // pixel index → opacity, the pixels in the order first covered (typed arrays: ~80 k updates on a fine outline)
  const size = imgWidth * (clip.y + clip.height);
  const cover = new Float64Array(size), covered = new Uint8Array(size);
  const order: number[] = [];
  const n = vertices.length;
  for (let i = 0; i < n; i++) {
    const a = vertices[i], b = vertices[(i + 1) % n];
    const [ax, ay] = toFigure(a[0], a[1]);
    const [bx, by] = toFigure(b[0], b[1]);
    const len = Math.hypot(bx - ax, by - ay);
    if (len === 0) continue;
    // CCW in y-up is clockwise on screen (y down): the outward normal of edge (dx, dy) is (−dy, dx)
    const nx = -(by - ay) / len, ny = (bx - ax) / len;
    const steps = Math.max(1, Math.ceil(len * 2));
    for (let k = 0; k < steps; k++) {
      const f = (k + 0.5) / steps;
      const px = a[0] + f * (b[0] - a[0]), py = a[1] + f * (b[1] - a[1]);
      const phi = ((Math.atan2(py - centre[1], px - centre[0]) * 180) / Math.PI + 360) % 360;
      const seg = segments.find((s) => onSegment(s, phi));
      if (!seg) continue;
      const alpha = rimAlpha(seg.eta);
      const fx = ax + f * (bx - ax), fy = ay + f * (by - ay);
      for (let d = gap; d <= gap + width; d += 0.5) {
        const x = Math.floor(fx + d * nx), y = Math.floor(fy + d * ny);
        if (x < clip.x || y < clip.y || x >= clip.x + clip.width || y >= clip.y + clip.height) continue;
        const idx = y * imgWidth + x;
        if (!covered[idx]) { covered[idx] = 1; order.push(idx); }
        cover[idx] = Math.max(cover[idx], alpha);
      }
    }
  }
  const pixels = Int32Array.from(order);
  return { pixels, alpha: Float64Array.from(pixels, (idx) => cover[idx]) };
}
