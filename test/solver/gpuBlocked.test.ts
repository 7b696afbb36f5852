/**
 * Temporal blocking (K steps per dispatch, shaders/diffusion_block.wgsl) against one step per dispatch
 * (shaders/diffusion_step.wgsl, itself held to a float32 model and the CPU in gpuFused.test.ts), bit
 * for bit in state, step counts and stop reasons, on the paths where a block's speculation matters:
 * - a stop on every sub-step position of the first blocks of a submit and of its resolving block
 *   (the cut-off and the θ-range guard; a stop on a block's last sub-step: it stands; before that:
 *   the next dispatch redoes it from its input in the third ξ buffer);
 * - one-step submits all the way to the stop (every submit is one block and a resolving block);
 * - stops around the 4096-step submit boundary;
 * - a batch whose lanes sit out rounds (staggered advances), rejoin from all three buffers and stop in
 *   different blocks;
 * - the discharge cut-off (the upper limit), with every tile dispatched.
 * A mutation that breaks only the resolving block's redo fails the first test (found in review).
 */
import { describe, expect, test } from 'vitest';
import { laneState, useGpu } from '../helpers/gpu';
import { fig4cProblem as problem, firstStepParams as params } from '../helpers/sim';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem, maxStableDt, reachableRange, stepParams, type Problem, type StepParams } from '../../src/solver/problem';
import { GpuBatch, type GpuSolver } from '../../src/solver/gpu';
import { OUTSIDE_Q } from '../../src/solver/quanta';

const gpu = useGpu();
const gpuQ = (lane: GpuSolver) => laneState(gpu(), lane);
function firstDiff(a: Int32Array, b: Int32Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : a.length;
}
const cutoffProblem = (cur = 3000) => problem({
  material: { capacity_mAh_g: 275, diffusivity: { preset: 'constant', D_m2_s: 3e-15 } },
  protocol: [{ step: 'charge', current_mA_g: cur, duration_min: 60 }],
  cutoff: { surfaceTheta: 0.6 },
});
const init = (p: Problem) => Int32Array.from(p.grid.inside, (v) => (v ? 0 : OUTSIDE_Q));

describe('K steps per dispatch = one step per dispatch, bit for bit', () => {
  test('a stop on every sub-step position of blocks 0..2 of a submit and of its resolving block (cut-off and guard), K = 2, 3, 5, 8', async () => {
    const p = await cutoffProblem();
    for (const over of [{}, { guardAboveQ: Math.round(0.1 * 2 ** 28) }] as Partial<StepParams>[]) {
      const par = params(p, over);
      const ref = await GpuBatch.create(gpu(), [p]);
      ref.lanes[0].setStep(par);
      const S = (await ref.lanes[0].advance(100000)).steps;
      for (const K of [2, 3, 5, 8]) {
        const blk = await GpuBatch.create(gpu(), [p], { stepsPerDispatch: K });
        const bad: string[] = [];
        for (let a = Math.max(1, S - 3 * K - 2); a < S + 2; a++) {
          for (const l of [ref.lanes[0], blk.lanes[0]]) { l.writeState(init(p)); l.setStep(par); }
          const r1 = [await ref.lanes[0].advance(a), await ref.lanes[0].advance(1000)];
          const r2 = [await blk.lanes[0].advance(a), await blk.lanes[0].advance(1000)];
          const d = firstDiff(await gpuQ(ref.lanes[0]), await gpuQ(blk.lanes[0]));
          if (JSON.stringify(r1) !== JSON.stringify(r2) || d >= 0) bad.push(`K=${K} a=${a}: ${JSON.stringify(r1)} vs ${JSON.stringify(r2)} diff@${d}`);
        }
        expect(bad, JSON.stringify(over)).toEqual([]);
        blk.lanes[0].destroy();
      }
      ref.lanes[0].destroy();
    }
  }, 300000);

  test('one-step submits to the stop, K = 3, 8', async () => {
    const p = await cutoffProblem();
    const par = params(p);
    const ref = await GpuBatch.create(gpu(), [p]);
    const blks = await Promise.all([3, 8].map((k) => GpuBatch.create(gpu(), [p], { stepsPerDispatch: k })));
    const lanes = [ref.lanes[0], ...blks.map((b) => b.lanes[0])];
    for (const l of lanes) l.setStep(par);
    for (let i = 0; i < 400; i++) {
      const rs = [];
      for (const l of lanes) rs.push(await l.advance(1));
      expect(rs[1], `step ${i}`).toEqual(rs[0]);
      expect(rs[2], `step ${i}`).toEqual(rs[0]);
      const q = await gpuQ(lanes[0]);
      for (const l of lanes.slice(1)) expect(firstDiff(q, await gpuQ(l)), `step ${i}`).toBe(-1);
      if (rs[0].stopped && i > 200) break;
    }
    for (const l of lanes) l.destroy();
  }, 300000);

  test('stop around the 4096-step submit boundary', async () => {
    const p = await cutoffProblem(200);
    const par = params(p);
    const ref = await GpuBatch.create(gpu(), [p]);
    ref.lanes[0].setStep(par);
    const S = (await ref.lanes[0].advance(100000)).steps;
    expect(S).toBeGreaterThan(4200);
    for (const K of [3]) {
      const blk = await GpuBatch.create(gpu(), [p], { stepsPerDispatch: K });
      const bad: string[] = [];
      for (const j of [-K - 1, -1, 0, 1, K]) {
        const a = S - 4096 + j; // the stop is step 4096 − j of the second advance
        for (const l of [ref.lanes[0], blk.lanes[0]]) { l.writeState(init(p)); l.setStep(par); }
        const r1 = [await ref.lanes[0].advance(a), await ref.lanes[0].advance(100000)];
        const r2 = [await blk.lanes[0].advance(a), await blk.lanes[0].advance(100000)];
        const d = firstDiff(await gpuQ(ref.lanes[0]), await gpuQ(blk.lanes[0]));
        if (JSON.stringify(r1) !== JSON.stringify(r2) || d >= 0) bad.push(`K=${K} j=${j}: ${JSON.stringify(r1)} vs ${JSON.stringify(r2)} diff@${d}`);
      }
      expect(bad).toEqual([]);
      blk.lanes[0].destroy();
    }
    ref.lanes[0].destroy();
  }, 600000);

  test('a batch whose lanes sit out rounds, rejoin from three buffers and stop in different blocks', async () => {
    const octagon = [[1.2, 0.5], [0.5, 1.2], [-0.5, 1.2], [-1.2, 0.5], [-1.2, -0.5], [-0.5, -1.2], [0.5, -1.2], [1.2, -0.5]];
    const ps = await Promise.all([
      cutoffProblem(3000),
      cutoffProblem(2000),
      problem({ particle: { shape: 'polygon', vertices_um: octagon }, initialTheta: 0.9 }),
      cutoffProblem(2500),
    ]);
    for (const K of [3, 4, 7]) {
      const ref = await GpuBatch.create(gpu(), ps);
      const blk = await GpuBatch.create(gpu(), ps, { stepsPerDispatch: K });
      ps.forEach((p, i) => { ref.lanes[i].setStep(params(p)); blk.lanes[i].setStep(params(p)); });
      // staggered requests: rounds of different members
      const plan = [[7, 100, 13, 29], [5, 1, 50, 2], [11, 17, 3, 40], [60, 9, 33, 1], [100, 100, 100, 100], [31, 2, 77, 5], [300, 300, 300, 300]];
      for (const [r, ns] of plan.entries()) {
        const got = await Promise.all(blk.lanes.map((l, i) => l.advance(ns[i])));
        const want = await Promise.all(ref.lanes.map((l, i) => l.advance(ns[i])));
        expect(got, `K=${K} round ${r}`).toEqual(want);
        for (const i of ps.keys()) expect(firstDiff(await gpuQ(ref.lanes[i]), await gpuQ(blk.lanes[i])), `K=${K} round ${r} lane ${i}`).toBe(-1);
      }
      for (const l of [...ref.lanes, ...blk.lanes]) l.destroy();
    }
  }, 300000);
  test('discharge cut-off, all tiles, every stop position', async () => {
    const p = await buildProblem(resolveConfig({ ...presetConfig('fig4c'), grid: { spacing_um: 0.05 }, initialTheta: 0.1,
      material: { capacity_mAh_g: 275, diffusivity: { preset: 'constant', D_m2_s: 3e-15 } },
      protocol: [{ step: 'discharge', current_mA_g: 3000, duration_min: 60 }], cutoff: { surfaceThetaMax: 0.5 } }));
    const par: StepParams = stepParams(p, p.config.protocol[0], maxStableDt(p, reachableRange(p)));
    const start = init(p);
    const ref = await GpuBatch.create(gpu(), [p]);
    ref.lanes[0].setStep(par);
    const R = await ref.lanes[0].advance(100000);
    expect(R.stopped).toBe(true);
    for (const K of [4, 6]) {
      const blk = await GpuBatch.create(gpu(), [p], { stepsPerDispatch: K, tiles: 'all' });
      const bad: string[] = [];
      for (let a = R.steps - 2 * K - 1; a <= R.steps; a++) {
        for (const l of [ref.lanes[0], blk.lanes[0]]) { l.writeState(start); l.setStep(par); }
        const r1 = [await ref.lanes[0].advance(a), await ref.lanes[0].advance(1000)];
        const r2 = [await blk.lanes[0].advance(a), await blk.lanes[0].advance(1000)];
        const q1 = await gpuQ(ref.lanes[0]), q2 = await gpuQ(blk.lanes[0]);
        if (JSON.stringify(r1) !== JSON.stringify(r2) || !(firstDiff(q1, q2) === -1)) bad.push(`K=${K} a=${a} ${JSON.stringify(r1)} ${JSON.stringify(r2)}`);
      }
      expect(bad).toEqual([]);
      blk.lanes[0].destroy();
    }
    ref.lanes[0].destroy();
  }, 300000);
});
