/**
 * The limits the solver enforces (docs/physics.md, issue 6 item 4): θ stays in [0, 1] on both
 * solvers whatever the current, a current the particle cannot carry is refused with one clear line,
 * every run carries a conservation check that fails loudly, the Δt warning only reports a change,
 * and a start at or past the first step's cut-off is refused before running.
 */
import { describe, expect, test } from 'vitest';
import { compareArrays, useGpu } from '../helpers/gpu';
import { ConfigError, presetConfig, resolveConfig } from '../../src/model/config';
import { UserError } from '../../src/errors';
import { buildProblem, maxStableDt, type Problem } from '../../src/solver/problem';
import { CpuSolver } from '../../src/solver/cpu';
import { GpuSolver } from '../../src/solver/gpu';
import { runSimulation, SimulationLimitError, widenRange, type RunResult } from '../../src/solver/run';
import type { Solver } from '../../src/solver/types';

const gpu = useGpu();

function coarse(step: 'charge' | 'discharge', current_mA_g: number, extra: Record<string, unknown> = {}) {
  const raw = presetConfig('fig4c') as Record<string, unknown>;
  return {
    ...raw,
    particle: { shape: 'disk', diameter_um: 1 },
    grid: { spacing_um: 0.05 },
    ...(step === 'discharge' ? { initialTheta: 0.5 } : {}),
    protocol: [{ step, current_mA_g, duration_min: 5 }, { step: 'rest', duration_min: 1 }],
    snapshots_min: [1, 6],
    ...extra,
  };
}

type Outcome = { result: RunResult; error: SimulationLimitError | null; field: Float32Array };

async function run(raw: Record<string, unknown>, on: 'cpu' | 'gpu'): Promise<Outcome & { problem: Problem }> {
  const problem = await buildProblem(resolveConfig(raw));
  const solver: Solver = on === 'cpu' ? new CpuSolver(problem) : await GpuSolver.create(gpu(), problem);
  try {
    try {
      const result = await runSimulation(problem, solver);
      return { problem, result, error: null, field: await solver.field() };
    } catch (e) {
      if (!(e instanceof SimulationLimitError)) throw e;
      return { problem, result: e.result, error: e, field: await solver.field() };
    }
  } finally {
    solver.destroy();
  }
}

function thetaRange(f: Float32Array): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of f) if (!Number.isNaN(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return [lo, hi];
}

/** θ in [0, 1] in the end state, every snapshot and every trace row's surface value */
function expectInRange(o: Outcome) {
  const EPS = 1e-7; // a few quanta of the fixed-point state
  for (const f of [o.field, ...o.result.snapshots.map((s) => s.field)]) {
    const [lo, hi] = thetaRange(f);
    expect(lo).toBeGreaterThanOrEqual(-EPS);
    expect(hi).toBeLessThanOrEqual(1 + EPS);
  }
  for (const row of o.result.trace) {
    expect(row.minSurfaceTheta).toBeGreaterThanOrEqual(0);
    expect(row.maxSurfaceTheta).toBeLessThanOrEqual(1);
  }
}

describe.each(['cpu', 'gpu'] as const)('%s solver: current sweep 100 → 1e12 mA/g', (on) => {
  for (const step of ['charge', 'discharge'] as const) {
    for (const i of [100, 1e3, 1e5, 1e8, 1e12]) {
      test(`${step} at ${i} mA/g: θ in [0, 1], conservation ok, or refused with the reason`, async () => {
        const o = await run(coarse(step, i), on);
        expectInRange(o);
        expect(o.result.conservation.ok).toBe(true);
        expect(o.result.conservation.relativeError).toBeLessThan(1e-5);
        if (i <= 1e3) {
          expect(o.error).toBeNull();
          expect(['protocol-end', 'cutoff']).toContain(o.result.stopReason);
        } else {
          // 1e5 and up: far beyond what diffusion supplies to the surface of this grid
          expect(o.error).not.toBeNull();
          expect(o.result.stopReason).toBe(step === 'charge' ? 'surface-depleted' : 'surface-saturated');
          expect(o.error!.message).toMatch(step === 'charge'
            ? /^protocol\[0\]\.current_mA_g = \d+ is more than diffusion can bring to the particle surface: .* at most about [\d.e+]+ mA\/g on this grid/
            : /^protocol\[0\]\.current_mA_g = \d+ is more than diffusion can carry away from the particle surface: .* at most about [\d.e+]+ mA\/g on this grid/);
          expect(o.error!.message).not.toMatch(/\n/);
          expect(o.result.steps).toBe(0);
        }
      });
    }
  }
});

test('the refusal names a current that is then accepted', async () => {
  const o = await run(coarse('charge', 1e5), 'cpu');
  const allowed = Number(/at most about ([\d.e+]+) mA\/g/.exec(o.error!.message)![1]);
  expect(allowed).toBeGreaterThan(1e3);
  const ok = await run(coarse('charge', allowed * 0.9), 'cpu');
  expect(ok.error).toBeNull();
  expectInRange(ok);
});

test('a current refused after a first step: no warning of a cut-off overshoot (the state is measured under the refused current)', async () => {
  const raw = coarse('charge', 100, { protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 1 }, { step: 'discharge', current_mA_g: 1e5, duration_min: 1 }], snapshots_min: [] });
  const o = await run(raw, 'cpu');
  expect(o.error?.message).toMatch(/^protocol\[1\]\.current_mA_g = 100000 is more than diffusion can carry away from the particle surface/);
  expect(o.result.warnings.join('\n')).not.toMatch(/took the surface to θs/);
});

test('a refused run\'s last state is measured under the current that left it (none at the start), not the refused one', async () => {
  // refused at the start: the t = 0 row is the particle at rest (θs = θ0 = 1 everywhere), no overshoot warned
  const first = await run(coarse('charge', 1e5, { snapshots_min: [0] }), 'cpu');
  expect(first.error).not.toBeNull();
  expect(first.result.trace).toHaveLength(1);
  expect(first.result.trace[0].minSurfaceTheta).toBeCloseTo(1, 6);
  expect(first.result.snapshots[0].minSurfaceTheta).toBeCloseTo(1, 6);
  expect(first.result.warnings.join('\n')).not.toMatch(/took the surface to θs/);
  // refused after a charge: the end state is that charge's (the last row of the charge alone)
  const raw = coarse('charge', 100, { protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 1 }, { step: 'discharge', current_mA_g: 1e5, duration_min: 1 }], snapshots_min: [] });
  const later = await run(raw, 'cpu');
  const alone = await run({ ...raw, protocol: [raw.protocol[0]] }, 'cpu');
  expect(later.error).not.toBeNull();
  const a = later.result.trace[later.result.trace.length - 1], b = alone.result.trace[alone.result.trace.length - 1];
  expect(a).toEqual(b);
  expect(later.result.snapshots.at(-1)!.minSurfaceTheta).toBe(b.minSurfaceTheta);
  expect(later.result.snapshots.at(-1)!.maxSurfaceTheta).toBe(b.maxSurfaceTheta);
});

test('a charge after one the range guard stopped (the wall within a step of θ = 0) ends at once, as a cut-off, not as a current refused', async () => {
  const raw = coarse('charge', 1e4, { cutoff: { surfaceTheta: 0, surfaceThetaMax: 1 } });
  // the same charge twice, and again after a short rest (the wall refills a little, not enough)
  raw.protocol = [{ step: 'charge', current_mA_g: 1e4, duration_min: 5 }, { step: 'charge', current_mA_g: 1e4, duration_min: 1 }, { step: 'rest', duration_min: 0.01 }, { step: 'charge', current_mA_g: 2e4, duration_min: 1 }];
  for (const on of ['cpu', 'gpu'] as const) {
    const o = await run(raw, on);
    expect(o.error).toBeNull();
    expect(o.result.warnings.join('\n')).toMatch(/came within one time step of θ = 0/);
    expect(o.result.protocol.map((p) => p.endReason)).toEqual(['cutoff', 'cutoff', 'duration', 'cutoff']);
    expect(o.result.protocol[1].end_s).toBe(o.result.protocol[1].start_s);
    expect(o.result.protocol[3].end_s).toBe(o.result.protocol[3].start_s);
    expect(o.result.warnings.filter((w) => /step \(protocol\[[13]\]\) ended at once, at t = .*: the surface is at its cut-off when it begins/.test(w))).toHaveLength(2);
    expectInRange(o);
  }
});

test('cut-off θs = 0: the wall guard stops the charge before any cell leaves [0, 1], on the same step on GPU and CPU', async () => {
  const raw = coarse('charge', 1e4, { cutoff: { surfaceTheta: 0, surfaceThetaMax: 1 } });
  const c = await run(raw, 'cpu');
  const g = await run(raw, 'gpu');
  for (const o of [c, g]) {
    expect(o.error).toBeNull();
    expect(o.result.stopReason).toBe('protocol-end'); // the rest step runs after the charge stopped
    expect(o.result.protocol[0].endReason).toBe('cutoff');
    expect(o.result.protocol[0].end_s).toBeLessThan(300);
    expect(o.result.warnings.join('\n')).toMatch(/came within one time step of θ = 0/);
    expectInRange(o);
    expect(o.result.conservation.ok).toBe(true);
  }
  expect(g.result.steps).toBe(c.result.steps);
  const d = compareArrays(g.field, c.field);
  expect(d.nanMismatch).toBe(0);
  expect(d.maxAbs).toBeLessThan(2e-6); // the tolerance of gpuVsCpu.test.ts
});

test('a solver that loses Li fails the conservation check loudly', async () => {
  const problem = await buildProblem(resolveConfig(coarse('charge', 100)));
  const leaky = new CpuSolver(problem);
  const stats = leaky.stats.bind(leaky);
  // a real solver whose reported mean drifts by 1e-4 θ: 3 % of what 5 min at 100 mA/g extracts
  leaky.stats = async () => { const s = await stats(); return { ...s, meanTheta: s.meanTheta - 1e-4 }; };
  await expect(runSimulation(problem, leaky)).rejects.toThrow(/^conservation check failed: the state holds [\d.]+ mAh\/g extracted, the applied current passed [\d.]+ mAh\/g \(relative error [\d.e+-]+ > 0\.00001, beyond the [\d.e+-]+ mAh\/g the whole-quanta wall flux can account for\)/);
});

test('"time step re-chosen" only when Δt changes, saying from what to what', async () => {
  const stats = (minTheta: number) => ({ meanTheta: 0.5, minTheta, maxTheta: 1, minSurfaceTheta: minTheta, maxSurfaceTheta: 1 });
  // constant D: a wider range has the same D_max, so the same Δt, which is no news (issue 6 item 4)
  const constant = await buildProblem(resolveConfig({ ...coarse('charge', 100), material: { diffusivity: { preset: 'constant', D_m2_s: 1e-15 } } }));
  let range: [number, number] = [0.15, 1];
  let dt = maxStableDt(constant, range);
  for (const m of [0.1, 0.04]) {
    const w = widenRange(constant, range, dt, stats(m), 60);
    expect(w.warning).toBeUndefined();
    expect(w.dtMax).toBe(dt);
    expect(w.range[0]).toBeLessThan(range[0]);
    range = w.range; dt = w.dtMax;
  }
  // θ inside the range: nothing changes
  expect(widenRange(constant, [0.15, 1], dt, stats(0.5), 60)).toEqual({ range: [0.15, 1], dtMax: dt });
  // a D that grows toward θ = 0: a real change, reported with both values
  const rising = await buildProblem(resolveConfig({ ...coarse('charge', 100), material: { diffusivity: { table: { theta: [0, 0.3, 1], D_m2_s: [1e-14, 1e-15, 1e-15] } } } }));
  const before = maxStableDt(rising, [0.3, 1]);
  const w = widenRange(rising, [0.3, 1], before, stats(0.1), 42);
  expect(w.dtMax).toBeLessThan(before);
  expect(w.warning).toBe(`θ reached 0.100 at t = 42.0 s: time step re-chosen from ${before.toExponential(3)} s to ${w.dtMax.toExponential(3)} s`);
});

describe('a start at or past the first step\'s cut-off is refused before running', () => {
  test('charge from initialTheta below cutoff.surfaceTheta', async () => {
    await expect(buildProblem(resolveConfig({ ...coarse('charge', 100), initialTheta: 0.1 }))).rejects.toThrow(
      'initialTheta = 0.1 is at or below cutoff.surfaceTheta = 0.2: the first charge step (protocol[0]) would stop at once; start above the charge cut-off or lower cutoff.surfaceTheta');
  });
  test('discharge from initialTheta at cutoff.surfaceThetaMax', async () => {
    await expect(buildProblem(resolveConfig({ ...coarse('discharge', 100), initialTheta: 1 }))).rejects.toThrow(
      'initialTheta = 1 is at or above cutoff.surfaceThetaMax = 1: the first discharge step (protocol[0]) would stop at once; start below the discharge cut-off or raise cutoff.surfaceThetaMax');
  });
  test('a rest first is looked through; a later step may start anywhere', async () => {
    await expect(buildProblem(resolveConfig({ ...coarse('charge', 100), initialTheta: 0.1, protocol: [{ step: 'rest', duration_min: 1 }, { step: 'charge', current_mA_g: 100, duration_min: 1 }] }))).rejects.toThrow(/protocol\[1\]/);
    await buildProblem(resolveConfig({ ...coarse('charge', 100), initialTheta: 0.1, protocol: [{ step: 'discharge', current_mA_g: 100, duration_min: 1 }, { step: 'charge', current_mA_g: 100, duration_min: 1 }] }));
  });
});

describe('a discharge after a charge of a fresh particle runs (the start checks look at the wall, not at the core still at θ0 = 1)', () => {
  // fig4a's fresh particle (θ0 = 1 = cutoff.surfaceThetaMax): a charge leaves the core at 1 and the
  // wall lower; the discharge that follows used to end at once ('cutoff'), or be refused as taking
  // a surface at θ 0.94 "above 1"
  const cases: [string, Record<string, unknown>[]][] = [
    ['charge → discharge', [{ step: 'charge', current_mA_g: 100, duration_min: 5 }, { step: 'discharge', current_mA_g: 100, duration_min: 5 }]],
    ['charge → rest → discharge', [{ step: 'charge', current_mA_g: 200, duration_min: 10 }, { step: 'rest', duration_min: 5 }, { step: 'discharge', current_mA_g: 150, duration_min: 5 }]],
    ['charge → discharge → charge', [{ step: 'charge', current_mA_g: 100, duration_min: 5 }, { step: 'discharge', current_mA_g: 100, duration_min: 2 }, { step: 'charge', current_mA_g: 100, duration_min: 2 }]],
  ];
  for (const [name, protocol] of cases) {
    test.each(['cpu', 'gpu'] as const)(`${name} (%s)`, async (on) => {
      const raw = { ...presetConfig('fig4a'), particle: { shape: 'disk', diameter_um: 3 }, grid: { spacing_um: 0.05 }, protocol, snapshots_min: [] };
      const o = await run(raw, on);
      expect(o.error).toBeNull();
      // every step runs: to its end, or until the surface meets the discharge cut-off (θs = 1: the knee
      // diffusivity is slow near θ = 1, so the wall fills before the core empties) — never at once
      for (const [k, p] of o.result.protocol.entries()) {
        const ran = p.end_s - p.start_s, planned = (protocol[k].duration_min as number) * 60;
        if (p.endReason === 'duration') expect(ran, `protocol[${k}]`).toBeCloseTo(planned, 6);
        else {
          expect(p.endReason, `protocol[${k}]`).toBe('cutoff');
          expect(protocol[k].step).toBe('discharge');
          expect(ran, `protocol[${k}] ran`).toBeGreaterThan(10);
          const end = o.result.trace.find((r) => Math.abs(r.time_s - p.end_s) < 1e-6);
          expect(end?.maxSurfaceTheta, `protocol[${k}]: θs at the cut-off`).toBeGreaterThan(o.problem.config.cutoff.surfaceThetaMax - 1e-3);
        }
      }
      expect(o.result.conservation.ok).toBe(true);
      expectInRange(o);
    });
  }
});

test('bad input to buildProblem is a ConfigError (a UserError), so that a library caller tells it from a bug', async () => {
  const cases: [string, (raw: Record<string, unknown>) => void, RegExp][] = [
    ['a grid too coarse', (r) => { r.grid = { spacing_um: 1.5 }; }, /^grid\.spacing_um = 1\.5 leaves only \d+ cells inside the particle/],
    ['initialTheta at the cut-off', (r) => { r.initialTheta = 0.05; }, /^initialTheta = 0\.05 is at or below cutoff\.surfaceTheta/],
    ['a self-intersecting outline', (r) => { r.particle = { shape: 'polygon', vertices_um: [[0, 0], [1, 1], [1, 0], [0, 1]] }; }, /^particle\.vertices_um is self-intersecting/],
    ['a missing mask file', (r) => { r.particle = { shape: 'mask', file: 'no-such-mask.png', pixel_um: 0.05 }; }, /^particle\.file = 'no-such-mask\.png' /],
  ];
  for (const [what, edit, message] of cases) {
    const raw = presetConfig('fig4a') as Record<string, unknown>;
    edit(raw);
    const err = await buildProblem(resolveConfig(raw)).catch((e) => e);
    expect(err, what).toBeInstanceOf(ConfigError);
    expect(err, what).toBeInstanceOf(UserError);
    expect(err.message, what).toMatch(message);
  }
});

test('a run with millions of steps between trace rows stops soon after its signal, and reports progress on the way', async () => {
  // a diffusivity typed in cm²/s for m²/s (allowed, 1e-10): Δt ~ 6 µs, ~1e5 steps per 10-s trace row
  const raw = presetConfig('fig4c') as Record<string, unknown>;
  raw.grid = { spacing_um: 0.05 };
  raw.protocol = [{ step: 'charge', current_mA_g: 100, duration_min: 10 }];
  raw.material = { diffusivity: { table: { theta: [0.2, 1.0], D_m2_s: [1e-10, 1e-11] } } };
  const problem = await buildProblem(resolveConfig(raw));
  const solver = new CpuSolver(problem);
  const ac = new AbortController();
  const reports: number[] = [];
  const t0 = performance.now();
  let stoppedAt = 0;
  setTimeout(() => { stoppedAt = performance.now(); ac.abort(); }, 600);
  const err = await runSimulation(problem, solver, { signal: ac.signal, onProgress: (f) => reports.push(f) }).catch((e) => e);
  const late = performance.now() - stoppedAt;
  solver.destroy();
  expect(err).toBeInstanceOf(Error);
  expect([err.name, err.message]).toEqual(['AbortError', 'simulation stopped']);
  expect(late, `stopped ${late.toFixed(0)} ms after the signal (${(stoppedAt - t0).toFixed(0)} ms in)`).toBeLessThan(500);
  expect(reports.length).toBeGreaterThan(2); // before the first trace row (10 s of simulated time)
  expect(reports.every((f, i) => f > 0 && f < 0.02 && (i === 0 || f >= reports[i - 1]))).toBe(true);
});
