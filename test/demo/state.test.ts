/**
 * The demo's shape state (demo/state.ts) without a browser: the URL hash carries an ellipse and a
 * polygon exactly (a link rebuilds the same particle), bad shape values in a hash get a message naming
 * the key, the value and what is allowed, and the config is SPEC §3's particle.
 */
import { describe, expect, test } from 'vitest';
import { centredVertices, defaultState, DIFFUSIVITIES, encodeHash, parseHash, particleConfig, polygonProblem, rawConfig } from '../../demo/state';
import { resolveConfig } from '../../src/model/config';
import { polygonCentroid } from '../../src/model/geometry';

describe('demo state: particle shapes', () => {
  test('an ellipse and a polygon survive the URL hash exactly; the config names them as SPEC §3 does', () => {
    const s = defaultState();
    Object.assign(s, { shape: 'ellipse', ellipseA_um: 2.2, ellipseB_um: 1.3, ellipseAngleDeg: -35 });
    const e = parseHash(encodeHash(s));
    expect(e.errors).toEqual([]);
    expect(particleConfig(e.state)).toEqual({ shape: 'ellipse', axes_um: [2.2, 1.3], angleDeg: -35 });
    // a traced outline keeps every digit (its vertices may lie on the grid's cell centres)
    const v: [number, number][] = [[-1.0123456789012, -0.9], [1.1, -1.0000000000001], [0.3, 1.2345678901234]];
    Object.assign(s, { shape: 'polygon', vertices_um: v });
    const p = parseHash(encodeHash(s));
    expect(p.errors).toEqual([]);
    expect(particleConfig(p.state)).toEqual({ shape: 'polygon', vertices_um: v });
    expect(particleConfig(defaultState())).toEqual({ shape: 'disk', diameter_um: 2.4 });
  });

  test('bad shape values in a hash get a message and a disk', () => {
    const bow = parseHash('#shape=polygon&poly=-1_-1~1_1~1_-1~-1_1');
    expect(bow.state.shape).toBe('disk');
    expect(bow.errors.join('\n')).toMatch(/poly = '-1_-1~1_1~1_-1~-1_1' in the URL is not allowed \(it crosses itself: edges 1 and 3 intersect/);
    const none = parseHash('#shape=polygon');
    expect(none.state.shape).toBe('disk');
    expect(none.errors.join('\n')).toMatch(/shape = polygon in the URL needs poly/);
    const axes = parseHash('#shape=ellipse&axes=2_-1_0');
    expect(axes.state.shape).toBe('disk');
    expect(axes.errors.join('\n')).toMatch(/axes = '2_-1_0' in the URL is not allowed: give the ellipse's full axes/);
    expect(parseHash('#shape=star').errors.join('\n')).toMatch(/shape = 'star' in the URL is not allowed: use disk, ellipse, polygon/);
    expect(parseHash('#shape=polygon&poly=0_0~1_1').errors.join('\n')).toMatch(/it has 2 vertices, a polygon needs at least 3/);
  });

  test('polygonProblem refuses crossings and zero area; centredVertices centres on the area centroid', () => {
    expect(polygonProblem([[0, 0], [1, 1], [1, 0], [0, 1]])).toMatch(/crosses itself/);
    expect(polygonProblem([[0, 0], [1, 1], [2, 2]])).toMatch(/encloses no area/);
    expect(polygonProblem([[0, 0], [2, 0], [2, 1], [0, 1]])).toBeNull();
    // an L whose vertex mean (0.833, 0.833) is not its area centroid (19/28, 19/28)
    const c = centredVertices([[0, 0], [2, 0], [2, 0.5], [0.5, 0.5], [0.5, 2], [0, 2]]);
    const [cx, cy] = polygonCentroid(c);
    expect(Math.abs(cx)).toBeLessThan(1e-6);
    expect(Math.abs(cy)).toBeLessThan(1e-6);
    expect(c[0][0]).toBeCloseTo(-19 / 28, 6);
  });
});

describe('demo state: diffusivity preset and protocol', () => {
  test('each SPEC diffusivity preset and a charge / rest / discharge protocol survive the hash and resolve as configs', () => {
    for (const dif of DIFFUSIVITIES) {
      const s = defaultState();
      Object.assign(s, { diffusivity: dif, log10DConst: -15.3, charge_min: 10, rest_min: 2, discharge_min: 4 });
      const back = parseHash(encodeHash(s));
      expect(back.errors).toEqual([]);
      const raw = rawConfig(back.state);
      expect(raw.protocol).toEqual([
        { step: 'charge', current_mA_g: 100, duration_min: 10 }, { step: 'rest', duration_min: 2 }, { step: 'discharge', current_mA_g: 100, duration_min: 4 },
      ]);
      const d = resolveConfig(raw).material.diffusivity as { preset: string; D_m2_s?: number };
      expect(d.preset).toBe(dif);
      if (dif === 'constant') expect(d.D_m2_s).toBeCloseTo(10 ** -15.3, 21);
    }
    // no discharge unless asked: the paper's charge-then-rest
    expect((rawConfig(defaultState()).protocol as unknown[]).map((p) => (p as { step: string }).step)).toEqual(['charge']);
  });

  test('a bad preset or log10 D in a hash gets a message naming it, and the default', () => {
    const r = parseHash('preset=fig4c&dif=mpet&logD=3');
    expect(r.errors.join('\n')).toMatch(/dif = 'mpet' in the URL is not a diffusivity preset: use knee, colclasure-nmc532, oregan2022-nmc811, constant/);
    expect(r.errors.join('\n')).toMatch(/logD = '3' in the URL \(log10 of the constant diffusivity, m²\/s\) is not allowed: give a number in \[-25, -5\]/);
    expect(r.state.diffusivity).toBe('knee');
  });
});
