/**
 * The fused GPU step (one dispatch per step: diffusion, wall flux, θs and the stop decision through
 * three rotating step slots; only the tiles holding particle cells dispatched), bit for bit:
 * - against a float32 model of the kernel in TS (f32Step below: every WGSL operation rounded with
 *   Math.fround, truncation and i32 wrap as in WGSL): the same int32 state after every advance;
 * - against the CPU reference (src/solver/cpu.ts): the same step counts and the same stop step and
 *   reason. (Its fields agree within gpuVsCpu.test.ts's tolerance, not bit for bit: the CPU takes
 *   each face flux in float64, the WGSL in float32, so a flux near a whole quantum may truncate to
 *   the neighbouring integer: ~1–2 % of cells differ by one float32 step of θ after 100 steps. The
 *   three-dispatch kernel before this one did exactly the same: its states hashed equal to the fused
 *   kernel's, 1–5000 steps, two grids and a run to its cut-off.)
 * Advances of awkward lengths cross the slot rotation and the submit boundaries (≤ 4096 steps per
 * submit); the cut-off is reached inside a submit; the θ-range guard stops a run; dispatching every
 * tile of the grid or only the particle's gives the same state.
 * Temporal blocking (several steps per dispatch, shaders/diffusion_block.wgsl) is held to the same
 * model: block sizes that do and do not divide the advances, a stop on a block's last sub-step
 * (k = 2: the block stands) and inside one (k ≥ 3: the next dispatch redoes it from its input), and
 * lanes of one batch stopping in different blocks.
 */
import { describe, expect, test } from 'vitest';
import { laneState, useGpu } from '../helpers/gpu';
import { fig4cProblem as problem, firstStepParams as params } from '../helpers/sim';
import type { Problem, StepParams } from '../../src/solver/problem';
import { CpuSolver } from '../../src/solver/cpu';
import { GpuBatch } from '../../src/solver/gpu';
import { OUTSIDE_Q, wallQuanta } from '../../src/solver/quanta';
import { GPU_COUNT_MAX_WORKGROUPS, resolveCellsPerInvocation, resolveStepCounter, SOFTWARE_CELLS_PER_INVOCATION, stepTiling, tileWallTable } from '../../src/kernels/diffusionStep';
import type { AdvanceResult } from '../../src/solver/types';
import type { GpuSolver } from '../../src/solver/gpu';

const gpu = useGpu();

function sameInts(a: Int32Array, b: Int32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The GPU lane's int32 state (what its ξ buffer holds). */
const gpuQ = (lane: GpuSolver) => laneState(gpu(), lane);

const f = Math.fround;

/**
 * A float32 model of one step of shaders/diffusion_step.wgsl on one lane, in place on `q`: the same
 * operations in the same order, each rounded to float32 as WGSL does (no fused multiply-adds).
 * Returns the stop reason after the step (0 running, 1 cut-off, 2 θ-range guard).
 */
function f32Step(p: Problem, par: StepParams, q: Int32Array, quanta: Int32Array): 0 | 1 | 2 {
  const { nx, ny, walls } = p.grid;
  const table = p.table.phi, N = p.table.N;
  const theta0 = f(p.theta0), rq = f(f(par.r) * 2 ** 28), sf = f(par.surfaceFactor);
  const phi = (v: number) => {
    const theta = f(theta0 - f(v) * 2 ** -28);
    const x = f(theta * N);
    const j = Math.min(Math.max(Math.floor(x), 0), N - 1);
    const a = table[j];
    return f(a + f(f(x - j) * f(table[j + 1] - a)));
  };
  const ph = new Float64Array(nx * ny);
  for (let i = 0; i < nx * ny; i++) ph[i] = q[i] === OUTSIDE_Q ? NaN : phi(q[i]);
  const out = q.slice();
  for (let y = 1; y < ny - 1; y++) {
    for (let x = 1; x < nx - 1; x++) {
      const i = y * nx + x;
      if (q[i] === OUTSIDE_Q) continue;
      let acc = 0;
      const pc = ph[i];
      // west, east, north, south: the kernel's order (i32 sums wrap, so order would not matter anyway)
      if (ph[i - 1] === ph[i - 1]) acc = (acc + Math.trunc(f(rq * f(ph[i - 1] - pc)))) | 0;
      if (ph[i + 1] === ph[i + 1]) acc = (acc + Math.trunc(f(rq * f(ph[i + 1] - pc)))) | 0;
      if (ph[i - nx] === ph[i - nx]) acc = (acc + Math.trunc(f(rq * f(ph[i - nx] - pc)))) | 0;
      if (ph[i + nx] === ph[i + nx]) acc = (acc + Math.trunc(f(rq * f(ph[i + nx] - pc)))) | 0;
      out[i] = (q[i] - acc) | 0;
    }
  }
  let minS = Infinity, maxS = -Infinity, guard = false;
  const gAbove = par.guardAboveQ ?? 0x7fffffff, gBelow = par.guardBelowQ ?? -0x80000000;
  walls.index.forEach((cell, k) => {
    const v = (out[cell] = (out[cell] + quanta[k]) | 0);
    if (v > gAbove || v < gBelow) guard = true;
    const ps = f(phi(v) - f(sf * f(walls.surfaceOffset_m[k])));
    minS = Math.min(minS, ps);
    maxS = Math.max(maxS, ps);
  });
  q.set(out);
  if (guard) return 2;
  return minS <= f(par.stopBelowPhi) || maxS >= f(par.stopAbovePhi) ? 1 : 0;
}

/** The model of a lane from setStep on: advance(n) like a Solver's, on an int32 state. */
function f32Lane(p: Problem, par: StepParams) {
  const q = Int32Array.from(p.grid.inside, (v) => (v ? 0 : OUTSIDE_Q));
  const quanta = wallQuanta(p.grid.walls.fluxWeight, par.fluxPerStep);
  let stop: 0 | 1 | 2 = 0;
  return {
    q,
    advance(n: number): AdvanceResult {
      if (stop) return { steps: 0, stopped: true, reason: stop === 2 ? 'range' : 'cutoff' };
      for (let s = 0; s < n; s++) {
        stop = f32Step(p, par, q, quanta);
        if (stop) return { steps: s + 1, stopped: true, reason: stop === 2 ? 'range' : 'cutoff' };
      }
      return { steps: n, stopped: false, reason: undefined };
    },
  };
}

describe('fused GPU step = CPU reference, bit for bit', () => {
  test.each([
    { size: 16, cells: 1 as const, per: 8, empty: true },
    { size: 32, cells: 4 as const, per: 4, empty: false },
  ])('the tile tables ($size-cell tiles): particle tiles cover every inside cell, walls grouped by tile keep their numbers', async ({ size, cells, per, empty }) => {
    const p = await problem({}, 0.02); // 122² grid: 8×8 tiles of 16 cells, 4×4 of 32
    const { nx, ny, inside, walls } = p.grid;
    const t = stepTiling(nx, ny, [inside], 'particle', cells);
    const all = per * per;
    const tileOf = (i: number) => Math.floor(Math.floor(i / nx) / size) * per + Math.floor((i % nx) / size);
    expect([t.tile, t.tilesX, t.tilesY]).toEqual([size, per, per]);
    // exactly the tiles that hold a particle cell: 16-cell corner tiles hold none (32-cell ones reach into the disk)
    const holding = new Set<number>();
    for (let i = 0; i < nx * ny; i++) if (inside[i]) holding.add(tileOf(i));
    expect([...t.tiles]).toEqual([...holding].sort((a, b) => a - b));
    expect(t.tiles.length < all).toBe(empty);
    expect(stepTiling(nx, ny, [inside], 'all', cells).tiles.length).toBe(all);
    const w = tileWallTable(nx, t, walls.index);
    expect(w.start[all]).toBe(walls.index.length);
    expect([...w.order].sort((a, b) => a - b)).toEqual([...walls.index.keys()]);
    for (let tile = 0; tile < all; tile++) {
      for (let j = w.start[tile]; j < w.start[tile + 1]; j++) expect(tileOf(walls.index[w.order[j]])).toBe(tile);
    }
    // a cell listed twice would share a workgroup slot in the kernel: refused
    expect(() => tileWallTable(nx, t, Uint32Array.from([...walls.index, walls.index[3]]))).toThrow(/listed twice/);
  });

  test("cells per invocation: 'auto' takes more on a software adapter with one step per dispatch, else 1; bad values refused", async () => {
    expect(resolveCellsPerInvocation('auto', 1, true)).toBe(SOFTWARE_CELLS_PER_INVOCATION);
    expect(SOFTWARE_CELLS_PER_INVOCATION).toBeGreaterThan(1);
    expect(resolveCellsPerInvocation('auto', 1, false)).toBe(1);
    expect(resolveCellsPerInvocation('auto', 4, true)).toBe(1);
    expect(resolveCellsPerInvocation(1, 1, true)).toBe(1);
    expect(resolveCellsPerInvocation(2, 1, false)).toBe(2);
    const p = await problem({}, 0.03);
    const batch = await GpuBatch.create(gpu(), [p]);
    expect(batch.cellsPerInvocation).toBe(resolveCellsPerInvocation('auto', 1, gpu().report.software));
    batch.lanes[0].destroy();
    await expect(GpuBatch.create(gpu(), [p], { cellsPerInvocation: 3 as 2 })).rejects.toThrow(/cellsPerInvocation = 3: allowed are 1, 2, 4, 8 and 'auto'/);
    await expect(GpuBatch.create(gpu(), [p], { cellsPerInvocation: 4, stepsPerDispatch: 4 })).rejects.toThrow(/cellsPerInvocation = 4 is for one step per dispatch/);
  });

  test("'auto' step counting: on the GPU for small dispatches, by the host past the crossover and on a software adapter", async () => {
    expect(resolveStepCounter('auto', 1, false)).toBe('gpu');
    expect(resolveStepCounter('auto', GPU_COUNT_MAX_WORKGROUPS, false)).toBe('gpu');
    expect(resolveStepCounter('auto', GPU_COUNT_MAX_WORKGROUPS + 1, false)).toBe('host');
    expect(resolveStepCounter('auto', 1, true)).toBe('host');
    expect(resolveStepCounter('gpu', 1e6, true)).toBe('gpu');
    expect(resolveStepCounter('host', 1, false)).toBe('host');
    // a real batch takes the rule with its adapter: 82² has 32 particle tiles
    const batch = await GpuBatch.create(gpu(), [await problem({}, 0.03)]);
    expect(batch.stepCounter).toBe(resolveStepCounter('auto', 32, gpu().report.software));
    batch.lanes[0].destroy();
  });

  test('advances of awkward lengths (slot rotation, submit boundaries), particle tiles and all tiles, steps counted on the GPU or by the host, 1–8 cells per invocation', async () => {
    // 82² (6×6 tiles of 16 cells, the corner ones without particle cells; 3×3 of 32, all holding some; the
    // star test below has empty 32-cell tiles), charging without a cut-off
    const p = await problem({}, 0.03);
    const par = params(p, { stopBelowPhi: -Infinity, stopAbovePhi: Infinity });
    const cpu = await CpuSolver.create(p);
    const model = f32Lane(p, par);
    const fused = await GpuBatch.create(gpu(), [p], { stepCounter: 'gpu', cellsPerInvocation: 1 });
    const variants = await Promise.all([
      { tiles: 'all', stepCounter: 'gpu', cellsPerInvocation: 1 },
      { stepCounter: 'host', cellsPerInvocation: 1 },
      { stepCounter: 'gpu', cellsPerInvocation: 4 },
      { tiles: 'all', stepCounter: 'gpu', cellsPerInvocation: 4 },
      { stepCounter: 'host', cellsPerInvocation: 2 },
      { stepCounter: 'host', cellsPerInvocation: 8 },
    ].map((o) => GpuBatch.create(gpu(), [p], o as Parameters<typeof GpuBatch.create>[2])));
    expect([fused, ...variants].map((b) => `${b.stepCounter} ${b.cellsPerInvocation}`)).toEqual(['gpu 1', 'gpu 1', 'host 1', 'gpu 4', 'gpu 4', 'host 2', 'host 8']);
    const blocked = await Promise.all([3, 8].map((k) => GpuBatch.create(gpu(), [p], { stepsPerDispatch: k })));
    expect(blocked.map((b) => [b.stepsPerDispatch, b.cellsPerInvocation])).toEqual([[3, 1], [8, 1]]);
    const lanes = [fused.lanes[0], ...variants.map((b) => b.lanes[0]), ...blocked.map((b) => b.lanes[0])];
    try {
      for (const s of [cpu, ...lanes]) s.setStep(par);
      for (const n of [1, 2, 3, 4, 5, 7, 255, 256, 257, 4097]) {
        const want = await cpu.advance(n);
        expect(model.advance(n)).toEqual(want);
        for (const lane of lanes) expect(await lane.advance(n)).toEqual(want);
        const q = await gpuQ(lanes[0]);
        expect(sameInts(q, model.q), `after ${n}`).toBe(true);
        for (const lane of lanes.slice(1)) expect(sameInts(await gpuQ(lane), q), `after ${n}, ${lane.backend}`).toBe(true);
        const [sc, sg] = [await cpu.stats(), await lanes[0].stats()];
        expect(sg.minSurfaceTheta).toBeCloseTo(sc.minSurfaceTheta, 6);
        expect(sg.maxSurfaceTheta).toBeCloseTo(sc.maxSurfaceTheta, 6);
        expect(sg.meanTheta).toBeCloseTo(sc.meanTheta, 9);
      }
      // the state moved: a kernel that did nothing would pass the comparisons above
      expect(p.theta0 - (await cpu.stats()).meanTheta).toBeGreaterThan(1e-3);
      expect(fused.hostCost.dispatches).toBeLessThan(fused.hostCost.steps + 2 * fused.hostCost.submits);
      // 8 steps per dispatch: ⌈m/8⌉ blocks + 2 per submit of m steps
      expect(blocked[1].hostCost.dispatches).toBeLessThan(blocked[1].hostCost.steps / 8 + 3 * blocked[1].hostCost.submits);
    } finally {
      cpu.destroy();
      for (const l of lanes) l.destroy();
    }
  });

  test('the cut-off inside a submit and the θ-range guard: same stop step and reason as the CPU', async () => {
    const material = { capacity_mAh_g: 275, diffusivity: { preset: 'constant', D_m2_s: 3e-15 } };
    const p = await problem({ material, protocol: [{ step: 'charge', current_mA_g: 3000, duration_min: 3 }], cutoff: { surfaceTheta: 0.6 } });
    const pd = await problem({
      material, initialTheta: 0.4, protocol: [{ step: 'discharge', current_mA_g: 3000, duration_min: 3 }], cutoff: { surfaceTheta: 0.2, surfaceThetaMax: 0.98 },
    });
    // a guard limit that trips on the cut-off's own step: the largest wall q of the steps before it
    const cutoffAt = f32Lane(p, params(p)).advance(20000).steps;
    const probe = f32Lane(p, params(p));
    let before = -Infinity;
    for (let s = 1; s < cutoffAt; s++) {
      probe.advance(1);
      for (const i of p.grid.walls.index) before = Math.max(before, probe.q[i]);
    }
    const cases: { name: string; p: Problem; over: Partial<StepParams>; reason: AdvanceResult['reason']; steps?: number }[] = [
      { name: 'cut-off', p, over: {}, reason: 'cutoff' },
      // a guard limit that the wall cells reach long before the cut-off
      { name: 'range guard', p, over: { guardAboveQ: Math.round(0.1 * 2 ** 28) }, reason: 'range' },
      // both on one step: the guard is the reason (its test comes first)
      { name: 'range guard and cut-off on one step', p, over: { guardAboveQ: before }, reason: 'range', steps: cutoffAt },
      // discharge: the lower guard limit (θ of a wall cell 0.1 above θ0), long before the upper cut-off
      { name: 'lower range guard (discharge)', p: pd, over: { guardBelowQ: -Math.round(0.1 * 2 ** 28) }, reason: 'range' },
    ];
    const variants = [
      { label: 'steps counted by the gpu, 1 cell per invocation', options: { stepCounter: 'gpu' as const, cellsPerInvocation: 1 as const } },
      { label: 'steps counted by the host, 4 cells per invocation', options: { stepCounter: 'host' as const, cellsPerInvocation: 4 as const } },
      // the last piece stops on its 2nd step: a block's last sub-step (k = 2), inside a block (k = 5)
      ...[2, 5].map((k) => ({ label: `${k} steps per dispatch`, options: { stepsPerDispatch: k } })),
    ];
    for (const c of cases.flatMap((k) => variants.map((v) => ({ ...k, name: `${k.name}, ${v.label}`, options: v.options })))) {
      const p = c.p;
      const par = params(p, c.over);
      const cpu = await CpuSolver.create(p);
      const model = f32Lane(p, par);
      const batch = await GpuBatch.create(gpu(), [p], c.options);
      const lane = batch.lanes[0];
      try {
        cpu.setStep(par);
        lane.setStep(par);
        const want = await cpu.advance(20000);
        expect(model.advance(20000), c.name).toEqual(want);
        expect(want.stopped, c.name).toBe(true);
        expect(want.reason, c.name).toBe(c.reason);
        expect(want.steps, c.name).toBeGreaterThan(10);
        if (c.steps !== undefined) expect(want.steps, c.name).toBe(c.steps);
        // in three pieces: the stop falls inside the last one, steps after it are no-ops
        const a = await lane.advance(Math.floor(want.steps / 3));
        const b = await lane.advance(want.steps - Math.floor(want.steps / 3) - 2);
        const last = await lane.advance(20000);
        expect([a.stopped, b.stopped], c.name).toEqual([false, false]);
        expect(last, c.name).toEqual({ steps: 2, stopped: true, reason: c.reason });
        expect(sameInts(await gpuQ(lane), model.q), c.name).toBe(true);
        // a stopped lane stays stopped and unchanged
        expect(await lane.advance(5), c.name).toEqual({ steps: 0, stopped: true, reason: c.reason });
        expect(sameInts(await gpuQ(lane), model.q), c.name).toBe(true);
      } finally {
        cpu.destroy();
        lane.destroy();
      }
    }
  });

  test.each([
    { label: 'steps counted by the gpu, 1 cell per invocation', options: { stepCounter: 'gpu' as const, cellsPerInvocation: 1 as const } },
    { label: 'steps counted by the host, 4 cells per invocation', options: { stepCounter: 'host' as const, cellsPerInvocation: 4 as const } },
    { label: '4 steps per dispatch', options: { stepsPerDispatch: 4 } },
  ])('a batch of lanes with different masks, one stopping early, each = the CPU ($label)', async ({ options }) => {
    const octagon = [[1.2, 0.5], [0.5, 1.2], [-0.5, 1.2], [-1.2, 0.5], [-1.2, -0.5], [-0.5, -1.2], [0.5, -1.2], [1.2, -0.5]];
    const ps = await Promise.all([
      problem({ protocol: [{ step: 'charge', current_mA_g: 3000, duration_min: 3 }], cutoff: { surfaceTheta: 0.6 } }),
      problem({ particle: { shape: 'polygon', vertices_um: octagon }, initialTheta: 0.9 }),
      problem({ surface: { normalize: 'total-current', segments: [{ fromDeg: 135, toDeg: 225, eta: 0.3 }, { fromDeg: -30, toDeg: 30, eta: 0.6 }] } }),
    ]);
    const batch = await GpuBatch.create(gpu(), ps, options);
    expect(batch.stepCounter).toBe(options.stepCounter ?? 'host');
    expect(batch.cellsPerInvocation).toBe(options.cellsPerInvocation ?? 1);
    const cpus = await Promise.all(ps.map((p) => CpuSolver.create(p)));
    try {
      const pars = ps.map((p) => params(p));
      ps.forEach((_, i) => { batch.lanes[i].setStep(pars[i]); cpus[i].setStep(pars[i]); });
      const n = 3000;
      const got = await Promise.all(batch.lanes.map((l) => l.advance(n)));
      const want = await Promise.all(cpus.map((c) => c.advance(n)));
      expect(got).toEqual(want);
      expect(want[0].stopped).toBe(true);
      expect(want[1].stopped || want[2].stopped).toBe(false);
      for (const i of ps.keys()) {
        const model = f32Lane(ps[i], pars[i]);
        expect(model.advance(n)).toEqual(want[i]);
        expect(sameInts(await gpuQ(batch.lanes[i]), model.q), `lane ${i}`).toBe(true);
      }
    } finally {
      for (const s of [...cpus, ...batch.lanes]) s.destroy();
    }
  });
  test('a tile with more wall cells than invocations (32×32-cell tiles of 256, 64 or 16 invocations: the marking takes rounds) = the model and the CPU', async () => {
    // a star of 48 thin spikes: near its hub most cells of a tile are wall cells
    const vertices_um = Array.from({ length: 96 }, (_, i) => {
      const a = (Math.PI * i) / 48, r = i % 2 ? 0.25 : 1.1;
      return [r * Math.cos(a), r * Math.sin(a)];
    });
    const p = await problem({ particle: { shape: 'polygon', vertices_um } }, 0.01);
    const { nx, ny, inside, walls } = p.grid;
    const t = stepTiling(nx, ny, [inside], 'particle', 2);
    const w = tileWallTable(nx, t, walls.index);
    const most = Math.max(...w.start.slice(1).map((v, k) => v - w.start[k]));
    expect(most).toBeGreaterThan(256);
    // and tiles without particle cells, which only the all-tiles variant dispatches
    expect(t.tiles.length).toBeLessThan(t.tilesX * t.tilesY);
    const par = params(p, { stopBelowPhi: -Infinity, stopAbovePhi: Infinity });
    const cpu = await CpuSolver.create(p);
    const model = f32Lane(p, par);
    const batches = await Promise.all([
      ...([1, 2, 4, 8] as const).map((c) => ({ cellsPerInvocation: c, stepCounter: 'host' as const })),
      { cellsPerInvocation: 4 as const, stepCounter: 'gpu' as const, tiles: 'all' as const },
    ].map((o) => GpuBatch.create(gpu(), [p], o)));
    try {
      cpu.setStep(par);
      for (const b of batches) b.lanes[0].setStep(par);
      for (const n of [1, 50, 200]) {
        const want = await cpu.advance(n);
        expect(model.advance(n)).toEqual(want);
        for (const b of batches) {
          expect(await b.lanes[0].advance(n)).toEqual(want);
          expect(sameInts(await gpuQ(b.lanes[0]), model.q), `after ${n}, ${b.cellsPerInvocation} cells per invocation`).toBe(true);
        }
      }
      // the wall flux arrived: every wall cell moved (a kernel that skipped the later rounds would leave some unchanged)
      for (const i of walls.index) expect(model.q[i]).not.toBe(0);
    } finally {
      cpu.destroy();
      for (const b of batches) b.lanes[0].destroy();
    }
  });
});
