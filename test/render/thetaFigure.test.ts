/**
 * Known answers on the pixels of the θ snapshot figure: the colour range is fixed (one θ, one colour,
 * whatever the run's lowest θ), the blocked arc is drawn on the rim at its angle and not elsewhere,
 * the COM markers sit where the particle's and the core's centres are; and the default range and
 * the protocol phase.
 */
import { describe, expect, it } from 'vitest';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem, type Problem } from '../../src/solver/problem';
import type { Snapshot, StepRecord } from '../../src/solver/run';
import { colorOf, NAN_RGB } from '../../src/render/colormap';
import { pixelAt } from '../../src/render/draw';
import { defaultThetaRange, phaseLabel, protocolPhaseAt, renderThetaSnapshot, RIM_RGB, rimAlpha } from '../../src/render/thetaFigure';

const config = (over: Record<string, unknown> = {}) => resolveConfig({
  particle: { shape: 'disk', diameter_um: 1.2 },
  grid: { spacing_um: 0.04 },
  surface: { segments: [{ fromDeg: 135, toDeg: 225, eta: 0.3 }] },
  protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 20 }],
  ...over,
});

/** θ = `value` inside, NaN outside, and one inside cell (the first) at `lowest` */
function snapshot(problem: Problem, value: number, lowest: number, vector: [number, number] | null): Snapshot {
  const g = problem.grid;
  const field = new Float32Array(g.nx * g.ny).fill(NaN);
  let first = -1;
  for (let i = 0; i < field.length; i++) if (g.inside[i]) { field[i] = value; if (first < 0) first = i; }
  field[first] = lowest;
  return {
    name: 'theta_0600s', field, final: false, time_s: 600, capacity_mAh_g: 16.7, meanTheta: value, minSurfaceTheta: lowest,
    maxSurfaceTheta: value, comOffset_um: vector ? Math.hypot(...vector) : null, comOffsetRel: null, comOffsetVector_um: vector, unreactedFraction: 0.5,
  };
}

const blend = (under: readonly number[], over: readonly number[], a: number) => under.map((u, k) => Math.round(u * (1 - a) + over[k] * a));

describe('renderThetaSnapshot', async () => {
  const problem = await buildProblem(config());
  const g = problem.grid;
  const [cx, cy] = g.outline.centroid;
  const R = 0.6;

  it('maps one θ to one colour in runs with different lowest θ (fixed range)', () => {
    const a = renderThetaSnapshot(problem, snapshot(problem, 0.9, 0.5, null), { range: [0.75, 1] });
    const b = renderThetaSnapshot(problem, snapshot(problem, 0.9, 0.85, null), { range: [0.75, 1] });
    const [x, y] = a.toFigure(cx + 0.2, cy - 0.1); // inside, away from the lowest cell and markers
    const expected = colorOf(0.9, { colormap: 'diverging', vmin: 0.75, vmax: 1, center: 1, reversed: true });
    expect(pixelAt(a, Math.floor(x), Math.floor(y))).toEqual(expected);
    expect(pixelAt(b, Math.floor(x), Math.floor(y))).toEqual(expected);
    // and the default range is the protocol's, not the field's
    const c = renderThetaSnapshot(problem, snapshot(problem, 0.9, 0.3, null));
    const d = renderThetaSnapshot(problem, snapshot(problem, 0.9, 0.89, null));
    expect(c.range).toEqual(d.range);
    expect(pixelAt(c, Math.floor(x), Math.floor(y))).toEqual(pixelAt(d, Math.floor(x), Math.floor(y)));
  });

  it('draws the blocked arc just outside the rim at its angle, and nothing on the clean side', () => {
    const fig = renderThetaSnapshot(problem, snapshot(problem, 0.9, 0.9, null), { range: [0.75, 1] });
    const cell = fig.layout.scaleX;
    const band = 0.75 * cell + 2 + Math.max(4, Math.round(1.5 * cell)) / 2; // middle of the band, px outside the outline
    const onRim = (deg: number) => {
      const t = (deg * Math.PI) / 180;
      const [x, y] = fig.toFigure(cx + R * Math.cos(t), cy + R * Math.sin(t));
      return pixelAt(fig, Math.floor(x + band * Math.cos(t)), Math.floor(y - band * Math.sin(t)));
    };
    const arc = blend(NAN_RGB, RIM_RGB, rimAlpha(0.3));
    for (const deg of [140, 160, 180, 200, 220]) expect(onRim(deg), `${deg}°`).toEqual(arc);
    for (const deg of [0, 45, 90, 120, 240, 270, 315]) expect(onRim(deg), `${deg}°`).toEqual([...NAN_RGB]);
  });

  it('a cleaner arc (higher η) is drawn fainter', () => {
    expect(rimAlpha(0.7)).toBeLessThan(rimAlpha(0.3));
    expect(rimAlpha(0)).toBe(1);
  });

  it('marks the particle COM (+) and the core COM (○) where they are', () => {
    const v: [number, number] = [-0.2, 0.1]; // core up and to the left
    const fig = renderThetaSnapshot(problem, snapshot(problem, 0.9, 0.9, v), { range: [0.75, 1] });
    const [px, py] = fig.toFigure(cx, cy);
    expect(fig.particleCom_px).toEqual([px, py]);
    const [qx, qy] = fig.coreCom_px!;
    const h = g.spacing_um;
    expect(qx - px).toBeCloseTo((-0.2 / h) * fig.layout.scaleX, 6);
    expect(qy - py).toBeCloseTo((-0.1 / h) * fig.layout.scaleY, 6); // y up in µm, down in the image
    const black = [0, 0, 0];
    // the + : its centre and the ends of its arms
    expect(pixelAt(fig, Math.floor(px), Math.floor(py))).toEqual(black);
    expect(pixelAt(fig, Math.floor(px), Math.floor(py - 5))).toEqual(black);
    // the ○ : on its ring (radius 5) but not at its centre, which shows the field
    expect(pixelAt(fig, Math.floor(qx), Math.floor(qy + 5))).toEqual(black);
    expect(pixelAt(fig, Math.floor(qx), Math.floor(qy))).toEqual(colorOf(0.9, { colormap: 'diverging', vmin: 0.75, vmax: 1, center: 1, reversed: true }));
    // no core: no ring
    const none = renderThetaSnapshot(problem, snapshot(problem, 0.9, 0.9, null), { range: [0.75, 1] });
    expect(none.coreCom_px).toBeNull();
    expect(pixelAt(none, Math.floor(qx), Math.floor(qy + 5))).not.toEqual(black);
  });
});

describe('defaultThetaRange', () => {
  it('is the same for the presets of one figure (fig4a–d) and covers their θ', async () => {
    const ranges = [];
    for (const p of ['fig4a', 'fig4b', 'fig4c', 'fig4d']) ranges.push(defaultThetaRange(await buildProblem(resolveConfig(presetConfig(p)))));
    expect(ranges).toEqual([[0.75, 1], [0.75, 1], [0.75, 1], [0.75, 1]]);
  });

  it('stops at the cut-off for runs to the cut-off, and widens a rest-only protocol to 0.05', async () => {
    expect(defaultThetaRange(await buildProblem(resolveConfig(presetConfig('fresh'))))).toEqual([0.2, 1]);
    expect(defaultThetaRange(await buildProblem(config({ protocol: [{ step: 'rest', duration_min: 5 }] })))).toEqual([0.95, 1]);
    // discharge from θ0 = 0.5: the range opens upwards
    const dis = await buildProblem(config({ initialTheta: 0.5, protocol: [{ step: 'discharge', current_mA_g: 100, duration_min: 20 }] }));
    expect(defaultThetaRange(dis)).toEqual([0.5, 0.75]);
  });
});

describe('protocolPhaseAt', () => {
  const protocol: StepRecord[] = [
    { step: 'charge', current_mA_g: 70, start_s: 0, end_s: 1200, endReason: 'duration' },
    { step: 'rest', current_mA_g: 0, start_s: 1200, end_s: 1800, endReason: 'duration' },
  ];
  it('names the step running at a time; a step end belongs to the step that ends', () => {
    expect(phaseLabel(protocolPhaseAt(protocol, 0))).toBe('charge 70 mA/g');
    expect(phaseLabel(protocolPhaseAt(protocol, 600))).toBe('charge 70 mA/g');
    expect(phaseLabel(protocolPhaseAt(protocol, 1200))).toBe('charge 70 mA/g');
    expect(phaseLabel(protocolPhaseAt(protocol, 1500))).toBe('rest');
    expect(phaseLabel(protocolPhaseAt(protocol, 1800))).toBe('rest');
    expect(protocolPhaseAt([], 10)).toBeNull();
  });
});

describe('the rim band, computed once per run', () => {
  it('is recomputed for other blocked segments on the same grid: the same pixels as a figure drawn afresh', async () => {
    // two problems of one particle share its grid geometry (problem.ts), and so the band's cache entry
    const a = await buildProblem(config());
    const b = await buildProblem(config({ surface: { segments: [{ fromDeg: 10, toDeg: 80, eta: 0.1 }] } }));
    expect(b.grid.outline.vertices).toBe(a.grid.outline.vertices);
    renderThetaSnapshot(a, snapshot(a, 0.7, 0.6, null));
    const afterA = renderThetaSnapshot(b, snapshot(b, 0.7, 0.6, null));
    // b on an outline of its own (an equal copy): no cache entry to reuse
    const fresh: Problem = { ...b, grid: { ...b.grid, outline: { ...b.grid.outline, vertices: b.grid.outline.vertices.map((v) => [v[0], v[1]] as [number, number]) } } };
    const alone = renderThetaSnapshot(fresh, snapshot(fresh, 0.7, 0.6, null));
    expect(afterA.width).toBe(alone.width);
    expect(Buffer.from(afterA.rgba).equals(Buffer.from(alone.rgba))).toBe(true);
    // and a's band is not b's: the figures differ
    expect(Buffer.from(renderThetaSnapshot(a, snapshot(a, 0.7, 0.6, null)).rgba).equals(Buffer.from(alone.rgba))).toBe(false);
  });
});
