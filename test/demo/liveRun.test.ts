/**
 * The demo's time loop (demo/sim/liveRun.ts) against the library's (src/solver/run.ts), in Node on
 * the CPU reference: stepped in small slices, as the page does per animation frame, it must take the
 * same steps and give the same trace as runSimulation — bit for bit, since both drive the same
 * deterministic solver — through a rest, a cut-off, and a slice boundary on every trace time.
 */
import { describe, expect, test } from 'vitest';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem } from '../../src/solver/problem';
import { CpuSolver } from '../../src/solver/cpu';
import { runSimulation } from '../../src/solver/run';
import { LiveRun } from '../../demo/sim/liveRun';

async function both(raw: Record<string, unknown>, budget: number) {
  const problem = await buildProblem(resolveConfig(raw));
  const ref = await runSimulation(problem, new CpuSolver(problem), { keepSnapshots: false });
  const live = new LiveRun(problem, new CpuSolver(problem));
  await live.start();
  let calls = 0;
  while (!live.done) {
    const n = await live.advance(budget);
    expect(n).toBeLessThanOrEqual(budget);
    if (++calls > 1e6) throw new Error('LiveRun never ended');
  }
  return { ref, live };
}

describe('LiveRun checkpoint → resume on a fresh solver (the page after a lost device)', () => {
  test('resumed mid-segment and between segments, the run ends bit for bit as runSimulation', async () => {
    const raw = { ...presetConfig('fig4c'), grid: { spacing_um: 0.06 }, protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 3 }, { step: 'rest', duration_min: 1.5 }], snapshots_min: [] };
    const problem = await buildProblem(resolveConfig(raw));
    const ref = await runSimulation(problem, new CpuSolver(problem), { keepSnapshots: false });
    let live = new LiveRun(problem, new CpuSolver(problem));
    await live.start();
    let resumes = 0, calls = 0;
    while (!live.done) {
      await live.advance(2);
      // every 5th slice: checkpoint, throw the solver away, go on with a fresh one
      if (++calls % 5 === 0) {
        const cp = await live.checkpoint();
        expect(cp.time_s).toBe(live.timeNow_s);
        live.solver.destroy();
        live = LiveRun.resume(problem, new CpuSolver(problem), cp);
        expect(live.timeNow_s).toBe(cp.time_s);
        resumes++;
      }
    }
    expect(resumes).toBeGreaterThan(5);
    expect(live.steps).toBe(ref.steps);
    expect(live.t).toBe(ref.time_s);
    expect(live.trace.map((r) => [r.time_s, r.meanTheta, r.minSurfaceTheta, r.comOffset_um])).toEqual(ref.trace.map((r) => [r.time_s, r.meanTheta, r.minSurfaceTheta, r.comOffset_um]));
    expect(live.chargePassed_mAh_g).toBeCloseTo(ref.appliedCapacity_mAh_g, 9);
  });
});

describe('LiveRun (the demo page\'s loop) = runSimulation', () => {
  const cases: [string, Record<string, unknown>, number][] = [
    ['fig4c, charge then rest, slices of 7 steps', { ...presetConfig('fig4c'), grid: { spacing_um: 0.06 }, protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 3 }, { step: 'rest', duration_min: 1.5 }], snapshots_min: [] }, 7],
    ['fig4a at 2000 mA/g to the cut-off, then a discharge; slices of 1 step', { ...presetConfig('fig4a'), grid: { spacing_um: 0.08 }, protocol: [{ step: 'charge', current_mA_g: 2000, duration_min: 30 }, { step: 'discharge', current_mA_g: 500, duration_min: 0.5 }], cutoff: { surfaceTheta: 0.6 }, initialTheta: 0.95, snapshots_min: [] }, 1],
    ['the same with θ0 = 1: the discharge runs too (the core still at θ = 1 is not the surface); slices of 5', { ...presetConfig('fig4a'), grid: { spacing_um: 0.08 }, protocol: [{ step: 'charge', current_mA_g: 2000, duration_min: 30 }, { step: 'discharge', current_mA_g: 500, duration_min: 0.5 }], cutoff: { surfaceTheta: 0.6 }, snapshots_min: [] }, 5],
    ['a discharge whose surface is already at cutoff.surfaceThetaMax ends at once; slices of 5', { ...presetConfig('fig4a'), grid: { spacing_um: 0.08 }, initialTheta: 0.95, protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 1 }, { step: 'discharge', current_mA_g: 20, duration_min: 0.5 }], cutoff: { surfaceThetaMax: 0.9 }, snapshots_min: [] }, 5],
  ];
  for (const [name, raw, budget] of cases) {
    test(name, async () => {
      const { ref, live } = await both(raw, budget);
      expect(live.steps).toBe(ref.steps);
      expect(live.t).toBe(ref.time_s);
      expect(live.trace.length).toBe(ref.trace.length);
      for (let i = 0; i < ref.trace.length; i++) {
        const a = live.trace[i], b = ref.trace[i];
        expect(a.time_s).toBe(b.time_s);
        expect(a.meanTheta).toBe(b.meanTheta);
        expect(a.minSurfaceTheta).toBe(b.minSurfaceTheta);
        expect(a.capacity_mAh_g).toBe(b.capacity_mAh_g);
        expect(a.comOffset_um).toBe(b.comOffset_um);
        expect(a.unreactedFraction).toBe(b.unreactedFraction);
      }
      expect(live.stopReason).toBe(ref.stopReason);
      if (name.includes('cut-off')) {
        expect(ref.stopReason).toBe('protocol-end'); // the discharge ran after the cut-off
        expect(ref.protocol[0].endReason).toBe('cutoff');
        expect(ref.protocol[0].end_s).toBeLessThan(30 * 60);
        expect(ref.protocol[1].end_s - ref.protocol[1].start_s).toBeCloseTo(30, 6);
      }
      if (name.includes('runs too')) {
        expect(ref.protocol[1].end_s - ref.protocol[1].start_s).toBeGreaterThan(0);
      }
      if (name.includes('at once')) {
        expect(ref.protocol[1].endReason).toBe('cutoff');
        expect(ref.protocol[1].end_s).toBe(ref.protocol[1].start_s);
      }
      // the charge passed by the live loop = the library's applied capacity
      expect(live.chargePassed_mAh_g).toBeCloseTo(ref.appliedCapacity_mAh_g, 9);
    });
  }
});
