/**
 * The solver against SPEC §1's exact solution (constant D, uniform flux on a disk): wall and centre
 * values at τ = 0.05, 0.2, 0.5, and the observed order of convergence under grid refinement.
 */
import { describe, expect, test } from 'vitest';
import { exactU } from '../helpers/exact';
import { constantDDisk, simulate } from '../helpers/sim';
import type { Problem } from '../../src/solver/problem';
import type { RunResult } from '../../src/solver/run';

const R = 1; // µm
const D = 1e-15; // m²/s
const TAUS = [0.05, 0.2, 0.5];
const times = TAUS.map((tau) => (tau * (R * 1e-6) ** 2) / D); // 50, 200, 500 s
// q0·R/D = 0.4: θ at the wall falls to ~0.5 by τ = 0.5 (well inside [0, 1])
const k = (2 * 0.4 * D) / (R * 1e-6) / (R * 1e-6);
const current = k * 3600 * 275;
const q0R_D = (k * (R * 1e-6)) / 2 * (R * 1e-6) / D;

/** Mean true wall θs over wall cells, and the mean of the 4 cells around the centre. */
function probe(problem: Problem, result: RunResult, snap: number) {
  const g = problem.grid;
  const f = result.snapshots[snap].field;
  const q0 = (k * (g.area_um2 / g.perimeter_um)) * 1e-6;
  let s = 0;
  for (let w = 0; w < g.walls.index.length; w++) s += f[g.walls.index[w]] - (q0 / D) * g.walls.surfaceOffset_m[w];
  const wall = s / g.walls.index.length;
  const cr = g.ny / 2, cc = g.nx / 2; // even sizes: the centre is the corner of 4 cells
  const centre = (f[(cr - 1) * g.nx + cc - 1] + f[(cr - 1) * g.nx + cc] + f[cr * g.nx + cc - 1] + f[cr * g.nx + cc]) / 4;
  const rhoCentre = (g.spacing_um / Math.SQRT2) / R;
  // RMS over every cell of the error relative to the exact θ0 − θ at the wall (no cancellation)
  let se = 0, n = 0;
  for (let row = 0; row < g.ny; row++) {
    for (let col = 0; col < g.nx; col++) {
      const v = f[row * g.nx + col];
      if (Number.isNaN(v)) continue;
      const x = g.x0_um + (col + 0.5) * g.spacing_um, y = g.yTop_um - (row + 0.5) * g.spacing_um;
      const exact = 1 - exactU(Math.min(1, Math.hypot(x, y) / R), TAUS[snap]) * q0R_D;
      se += (v - exact) ** 2; n++;
    }
  }
  const rmsField = Math.sqrt(se / n) / (exactU(1, TAUS[snap]) * q0R_D);
  return { wall, centre, rhoCentre, rmsField };
}

async function errors(spacing_um: number) {
  const { problem, result } = await simulate(constantDDisk({ R_um: R, D, spacing_um, current_mA_g: current, times_s: times }));
  return TAUS.map((tau, i) => {
    const p = probe(problem, result, i);
    const wallExact = 1 - exactU(1, tau) * q0R_D;
    const centreExact = 1 - exactU(p.rhoCentre, tau) * q0R_D;
    return {
      tau,
      wallRel: Math.abs(p.wall - wallExact) / (1 - wallExact),
      centreRel: Math.abs(p.centre - centreExact) / (1 - centreExact),
      rmsField: p.rmsField,
    };
  });
}

describe('exact solution, constant D, uniform flux on a disk', () => {
  test('series solution itself: long-time limit and short-time wall expansion', () => {
    expect(exactU(0.3, 3)).toBeCloseTo(2 * 3 + 0.09 / 2 - 0.25, 10);
    const tau = 1e-3;
    const short = 2 * Math.sqrt(tau / Math.PI) + tau / 2 + tau ** 1.5 / (2 * Math.sqrt(Math.PI));
    expect(Math.abs(exactU(1, tau) - short) / short).toBeLessThan(1e-3);
  });

  test('h = R/40: wall within 1 % of θ0 − θ at τ = 0.05, 0.2, 0.5; centre within 2 % at τ = 0.2, 0.5', async () => {
    const e = await errors(R / 40);
    console.log('h = R/40', e);
    for (const r of e) expect(r.wallRel).toBeLessThan(0.01);
    for (const r of e.filter((x) => x.tau >= 0.2)) expect(r.centreRel).toBeLessThan(0.02);
  });

  test('RMS error falls under refinement, overall order > 1.5', async () => {
    const hs = [R / 10, R / 20, R / 40, R / 80];
    const errs: number[] = [];
    for (const h of hs) errs.push((await errors(h))[1].rmsField); // τ = 0.2
    const orders = errs.slice(1).map((e, i) => Math.log(errs[i] / e) / Math.log(2));
    console.log('RMS field errors at τ = 0.2', errs, 'observed orders', orders);
    // monotone decrease at every refinement, and a high overall order
    for (let i = 1; i < errs.length; i++) expect(errs[i]).toBeLessThan(errs[i - 1]);
    // observed here: ≈ 1.9 from R/10 to R/80 (the staircase is handled by the |n·e_f| face weights)
    expect(Math.log(errs[0] / errs[errs.length - 1]) / Math.log(8)).toBeGreaterThan(1.5);
  });
});
