/**
 * The batched GPU solver: lanes of one GpuBatch, each driven by its own runSimulation at the same
 * time, give exactly what each problem gives alone on a batch of one — the same int32 state, so the
 * same trace, fields, step counts and stop reasons bit for bit (the lanes share dispatches, never
 * data) — and agree with the CPU reference within gpuVsCpu.test.ts's tolerance. Lanes differ in
 * current, surface η, D(θ) (so Δt and the step counts per output), cut-off, protocol and mask.
 */
import { resolveCellsPerInvocation } from '../../src/kernels/diffusionStep';
import { describe, expect, test } from 'vitest';
import { compareArrays, useGpu } from '../helpers/gpu';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem, maxStableDt, reachableRange, stepParams, type Problem } from '../../src/solver/problem';
import { CpuSolver } from '../../src/solver/cpu';
import { GpuBatch, GpuSolver } from '../../src/solver/gpu';
import { runSimulation, type RunResult } from '../../src/solver/run';
import type { Solver } from '../../src/solver/types';

const gpu = useGpu();
/** gpuVsCpu.test.ts's tolerance on θ */
const TOL = 2e-6;

/** fig4c's 2.4 µm particle on a coarse 42×42 grid, with `over` on top */
const config = (over: Record<string, unknown>) => ({
  ...presetConfig('fig4c'),
  grid: { spacing_um: 0.06 },
  protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 3 }],
  snapshots_min: [1, 3],
  ...over,
});
const OCTAGON = [[1.2, 0.5], [0.5, 1.2], [-0.5, 1.2], [-1.2, 0.5], [-1.2, -0.5], [-0.5, -1.2], [0.5, -1.2], [1.2, -0.5]];

const LANES: Record<string, Record<string, unknown>> = {
  'fig4c: knee D, a 90° arc at η = 0.3': config({}),
  'twice the current, two η arcs': config({
    surface: { normalize: 'total-current', segments: [{ fromDeg: 135, toDeg: 225, eta: 0.3 }, { fromDeg: -30, toDeg: 30, eta: 0.6 }] },
    protocol: [{ step: 'charge', current_mA_g: 200, duration_min: 3 }],
  }),
  'constant D (another Δt), high current to its cut-off': config({
    material: { capacity_mAh_g: 275, diffusivity: { preset: 'constant', D_m2_s: 3e-15 } },
    protocol: [{ step: 'charge', current_mA_g: 3000, duration_min: 3 }],
    cutoff: { surfaceTheta: 0.6 },
    snapshots_min: [0.5],
  }),
  'an octagon (other mask, same grid), O\'Regan D, charge / rest / discharge': config({
    particle: { shape: 'polygon', vertices_um: OCTAGON },
    material: { diffusivity: { preset: 'oregan2022-nmc811' } },
    initialTheta: 0.9,
    surface: { normalize: 'clean-flux', segments: [{ fromDeg: -60, toDeg: 60, eta: 0.1 }] },
    protocol: [{ step: 'charge', current_mA_g: 200, duration_min: 1 }, { step: 'rest', duration_min: 0.5 }, { step: 'discharge', current_mA_g: 150, duration_min: 1 }],
    snapshots_min: [1, 2],
  }),
};

async function problems(raws: Record<string, unknown>[]): Promise<Problem[]> {
  return Promise.all(raws.map((raw) => buildProblem(resolveConfig(raw))));
}

/** Each lane's run as its own coroutine, all at once; a lane is destroyed as soon as its run ends. */
async function runBatched(ps: Problem[], onDone?: (lane: number) => void): Promise<RunResult[]> {
  const batch = await GpuBatch.create(gpu(), ps);
  return Promise.all(batch.lanes.map(async (lane, i) => {
    try {
      return await runSimulation(ps[i], lane);
    } finally {
      lane.destroy();
      onDone?.(i);
    }
  }));
}

async function runAlone(p: Problem, solver?: Solver): Promise<RunResult> {
  const s = solver ?? await GpuSolver.create(gpu(), p);
  try {
    return await runSimulation(p, s);
  } finally {
    s.destroy();
  }
}

/** bit-for-bit equality of two float32 fields (NaN outside the particle included) */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Everything of a run but its wall-clock time, snapshot fields compared bit for bit. */
function expectSameRun(batched: RunResult, alone: RunResult): void {
  const strip = (r: RunResult) => ({ ...r, wallTime_s: 0, snapshots: r.snapshots.map((s) => ({ ...s, field: null })) });
  expect(strip(batched)).toEqual(strip(alone));
  expect(batched.snapshots.length).toBe(alone.snapshots.length);
  batched.snapshots.forEach((s, k) => expect(sameBits(s.field, alone.snapshots[k].field)).toBe(true));
}

describe('GpuBatch: lanes = batches of one = CPU reference', () => {
  test('four different lanes run concurrently give bit-identical results to each alone, and match the CPU', async () => {
    const ps = await problems(Object.values(LANES));
    expect(new Set(ps.map((p) => `${p.grid.nx}×${p.grid.ny}`)).size).toBe(1);
    // the lanes really differ: Δt, masks, and one stops at its cut-off early
    expect(new Set(ps.map((p) => maxStableDt(p, reachableRange(p)).toPrecision(6))).size).toBeGreaterThanOrEqual(3);
    expect(ps[3].grid.cells).not.toBe(ps[0].grid.cells);
    const batched = await runBatched(ps);
    for (const [i, p] of ps.entries()) {
      const alone = await runAlone(p);
      expectSameRun(batched[i], alone);
      const cpu = await runAlone(p, new CpuSolver(p));
      expect(batched[i].stopReason).toBe(cpu.stopReason);
      expect(batched[i].steps).toBe(cpu.steps);
      expect(batched[i].snapshots.length).toBe(cpu.snapshots.length);
      batched[i].snapshots.forEach((s, k) => {
        const d = compareArrays(s.field, cpu.snapshots[k].field);
        expect(d.nanMismatch).toBe(0);
        expect(d.maxAbs).toBeLessThanOrEqual(TOL);
      });
      // the field changed (a kernel that did nothing would pass the comparisons above)
      expect(p.theta0 - batched[i].snapshots[batched[i].snapshots.length - 1].meanTheta).toBeGreaterThan(1e-3);
    }
    expect(batched.map((r) => r.stopReason)).toEqual(['protocol-end', 'protocol-end', 'cutoff', 'protocol-end']);
  });

  test('a lane that reaches its cut-off early and is destroyed leaves the others unchanged', async () => {
    const raws = [LANES['constant D (another Δt), high current to its cut-off'], LANES['fig4c: knee D, a 90° arc at η = 0.3'], LANES['twice the current, two η arcs']];
    const ps = await problems(raws);
    const order: number[] = [];
    const batched = await runBatched(ps, (i) => order.push(i));
    expect(order[0]).toBe(0); // destroyed first, while the others were still stepping
    expect(batched[0].stopReason).toBe('cutoff');
    expect(batched[0].time_s).toBeLessThan(batched[1].time_s / 2);
    for (const i of [1, 2]) expectSameRun(batched[i], await runAlone(ps[i]));
  });

  test('a finished lane that is not destroyed does not hold up the others', async () => {
    const ps = await problems([LANES['constant D (another Δt), high current to its cut-off'], LANES['fig4c: knee D, a 90° arc at η = 0.3']]);
    const batch = await GpuBatch.create(gpu(), ps);
    // destroyed only after both runs: lane 0 idles from its cut-off on
    const results = await Promise.all(batch.lanes.map((lane, i) => runSimulation(ps[i], lane)));
    for (const lane of batch.lanes) lane.destroy();
    expectSameRun(results[1], await runAlone(ps[1]));
  });

  test('lanes that sit out rounds rejoin in step (ping-pong parity)', async () => {
    const ps = await problems([LANES['fig4c: knee D, a 90° arc at η = 0.3'], LANES['an octagon (other mask, same grid), O\'Regan D, charge / rest / discharge']]);
    const params = ps.map((p) => stepParams(p, p.config.protocol[0], maxStableDt(p, reachableRange(p))));
    const batch = await GpuBatch.create(gpu(), ps);
    const [a, b] = batch.lanes;
    a.setStep(params[0]);
    b.setStep(params[1]);
    // a steps 3 alone (b idles), then both step together, then a alone again: 8 and 4 steps
    expect(await a.advance(3)).toEqual({ steps: 3, stopped: false, reason: undefined });
    const [ra, rb] = await Promise.all([a.advance(5), b.advance(4)]);
    expect([ra.steps, rb.steps]).toEqual([5, 4]);
    const fields = [await a.field(), await b.field()];
    const stats = [await a.stats(), await b.stats()];
    a.destroy();
    b.destroy();
    for (const [i, steps] of [8, 4].entries()) {
      const alone = await GpuSolver.create(gpu(), ps[i]);
      alone.setStep(params[i]);
      expect((await alone.advance(steps)).steps).toBe(steps);
      expect(sameBits(fields[i], await alone.field())).toBe(true);
      expect(stats[i]).toEqual(await alone.stats());
      alone.destroy();
    }
    // and the state did move
    expect(stats[0].minTheta).toBeLessThan(1);
  });

  test('grids of different shapes are refused; maxLanes sizes a batch to the adapter and a budget', async () => {
    const [disk, ellipse] = await problems([config({}), config({ particle: { shape: 'ellipse', axes_um: [2.39, 1.8], angleDeg: 0 } })]);
    await expect(GpuBatch.create(gpu(), [disk, ellipse])).rejects.toThrow(/problems\[1\] has a 42×32 grid and problems\[0\] a 42×42 one: all lanes of a batch share one grid shape/);
    await expect(GpuBatch.create(gpu(), [])).rejects.toThrow(/problems is empty/);
    const fit = GpuBatch.maxLanes(gpu(), disk);
    const lim = gpu().device.limits;
    // the binding limits: one workgroup layer per lane; every lane's ξ in one storage buffer
    const maxBytes = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    expect(fit).toBe(Math.min(lim.maxComputeWorkgroupsPerDimension, Math.floor(maxBytes / (4 * 42 * 42))));
    // a memory budget: exactly what a batch allocates (GpuBatch.bytes = bytesPerCell · lanes · cells)
    const one = await GpuSolver.create(gpu(), disk);
    const four = await GpuBatch.create(gpu(), [disk, disk, disk, disk]);
    // the tile size ('auto' cells per invocation) sets the size of the tile tables
    const per = four.cellsPerInvocation;
    expect(per).toBe(resolveCellsPerInvocation('auto', 1, gpu().report.software));
    expect(Math.round(one.bytesPerCell * 42 * 42)).toBe(GpuBatch.bytes(disk, 1, 1, per));
    expect(Math.round(four.lanes[0].bytesPerCell * 4 * 42 * 42)).toBe(GpuBatch.bytes(disk, 4, 1, per));
    expect(GpuBatch.maxLanes(gpu(), disk, GpuBatch.bytes(disk, 4, 1, per))).toBe(4);
    expect(GpuBatch.maxLanes(gpu(), disk, GpuBatch.bytes(disk, 4, 1, per) - 1)).toBe(3);
    expect(GpuBatch.maxLanes(gpu(), disk, 1000)).toBe(0);
    // per lane at least the two int32 ξ; less than a batch of one: the four share one Φ̃ table (16 kB, 9 B per cell here)
    expect(four.lanes[0].bytesPerCell).toBeGreaterThanOrEqual(8);
    expect(four.lanes[0].bytesPerCell).toBeLessThan(one.bytesPerCell - 5);
    // temporal blocking: a third ξ buffer and the lanes' slot sets, counted the same way
    const blocked = await GpuBatch.create(gpu(), [disk, disk], { stepsPerDispatch: 4 });
    expect(blocked.lanes[0].bytesPerCell * 2 * 42 * 42).toBe(GpuBatch.bytes(disk, 2, 4));
    expect(GpuBatch.bytes(disk, 2, 4) - GpuBatch.bytes(disk, 2)).toBeGreaterThanOrEqual(4 * 2 * 42 * 42);
    expect(GpuBatch.maxLanes(gpu(), disk, GpuBatch.bytes(disk, 2, 4), 4)).toBe(2);
    await expect(GpuBatch.create(gpu(), [disk], { stepsPerDispatch: 9 })).rejects.toThrow(/stepsPerDispatch = 9: allowed are whole numbers from 1 to 8/);
    one.destroy();
    for (const lane of [...four.lanes, ...blocked.lanes]) lane.destroy();
  });
});
