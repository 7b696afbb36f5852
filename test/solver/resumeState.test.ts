/**
 * Solver.readState / writeState: a checkpoint of the exact fixed-point state. The live demo resumes
 * a run from it after a lost WebGPU device (demo/main.ts), so a solver given a read-back state must
 * continue bit for bit as the uninterrupted run does — on the GPU (lavapipe here), on the CPU
 * reference, and from a GPU checkpoint into a fresh GPU batch — and a state of another grid or
 * particle must be refused with a message naming what does not match.
 */
import { describe, expect, test } from 'vitest';
import { useGpu } from '../helpers/gpu';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem, maxStableDt, reachableRange, stepParams, type Problem } from '../../src/solver/problem';
import { GpuSolver } from '../../src/solver/gpu';
import { CpuSolver } from '../../src/solver/cpu';
import { OUTSIDE_Q } from '../../src/solver/quanta';
import type { Solver } from '../../src/solver/types';

const gpu = useGpu();

const raw = { ...presetConfig('fig4c'), grid: { spacing_um: 0.08 }, protocol: [{ step: 'charge', current_mA_g: 400, duration_min: 5 }] };

function params(problem: Problem) {
  return stepParams(problem, problem.config.protocol[0], maxStableDt(problem, reachableRange(problem)));
}

/** n1 steps, a checkpoint, n2 more: the state at the checkpoint and at the end */
async function uninterrupted(s: Solver, problem: Problem, n1: number, n2: number) {
  s.setStep(params(problem));
  expect((await s.advance(n1)).steps).toBe(n1);
  const mid = await s.readState();
  expect((await s.advance(n2)).steps).toBe(n2);
  return { mid, end: await s.readState() };
}

async function resumed(s: Solver, problem: Problem, mid: Int32Array, n2: number) {
  s.writeState(mid);
  s.setStep(params(problem));
  expect((await s.advance(n2)).steps).toBe(n2);
  return s.readState();
}

describe('a solver resumed from a read-back state continues bit-identically', () => {
  test('GpuSolver → a fresh GpuSolver (another batch), odd and even step counts', async () => {
    const problem = await buildProblem(resolveConfig(raw));
    const g = gpu();
    for (const [n1, n2] of [[37, 50], [40, 23]]) {
      const a = await GpuSolver.create(g, problem);
      const b = await GpuSolver.create(g, problem);
      try {
        const { mid, end } = await uninterrupted(a, problem, n1, n2);
        // the run moved: not a uniform field (a broken resume would pass on one)
        const inside = Array.from(mid).filter((v) => v !== OUTSIDE_Q);
        expect(Math.max(...inside)).toBeGreaterThan(Math.min(...inside));
        const again = await resumed(b, problem, mid, n2);
        expect(again).toEqual(end);
        expect(await b.field()).toEqual(await a.field());
        expect(await b.stats()).toEqual(await a.stats());
      } finally {
        a.destroy();
        b.destroy();
      }
    }
  });

  test('CpuSolver → a fresh CpuSolver', async () => {
    const problem = await buildProblem(resolveConfig(raw));
    const { mid, end } = await uninterrupted(new CpuSolver(problem), problem, 41, 30);
    expect(await resumed(new CpuSolver(problem), problem, mid, 30)).toEqual(end);
  });

  test('a state of another grid or particle is refused, naming the mismatch', async () => {
    const problem = await buildProblem(resolveConfig(raw));
    const other = await buildProblem(resolveConfig({ ...raw, grid: { spacing_um: 0.1 } }));
    const q = await new CpuSolver(other).readState();
    const g = gpu();
    const s = await GpuSolver.create(g, problem);
    try {
      expect(() => s.writeState(q)).toThrow(/GpuSolver\.writeState: the state has \d+ cells and the grid \d+/);
      const own = await s.readState();
      const bad = own.slice();
      bad[0] = 0; // a corner cell, outside the disk
      expect(() => s.writeState(bad)).toThrow(/cell 0 is outside the particle but the state has q = 0/);
      expect(() => new CpuSolver(problem).writeState(bad)).toThrow(/CpuSolver\.writeState: cell 0 is outside/);
    } finally {
      s.destroy();
    }
  });
});
