/**
 * The fused CPU steps (JS fusedRows and the WebAssembly kernel, SIMD and scalar, runs and bounding-box
 * spans, one band or two with a halo row, with and without a helper thread) give exactly the int32
 * state of the split JS kernels (phiRuns + stencilRuns), on random fields, a disk, a concave outline
 * with rows of several runs, tiny rows, and through a whole run with a cut-off.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem, type Problem } from '../../src/solver/problem';
import { fusedRows, phiRuns, rowTable, stencilRuns } from '../../src/solver/cpuKernels';
import { WasmStepper, wasmSimdAvailable } from '../../src/solver/cpuWasm';
import { CpuSolver, type CpuKernel } from '../../src/solver/cpu';
import { runSimulation } from '../../src/solver/run';
import { INV_QUANTA, OUTSIDE_Q, QUANTA } from '../../src/solver/quanta';

async function problemOf(particle: Record<string, unknown>, spacing_um: number): Promise<Problem> {
  const raw = presetConfig('fig4c');
  raw.particle = particle as typeof raw.particle;
  raw.grid = { spacing_um };
  return buildProblem(resolveConfig(raw));
}

const shapes: [string, Record<string, unknown>, number][] = [
  ['disk', { shape: 'disk', diameter_um: 2.4 }, 0.037],
  // a C: rows of two runs, and row lengths of every remainder mod 4
  ['C shape', { shape: 'polygon', vertices_um: [[0, 0], [2, 0], [2, 0.5], [0.6, 0.5], [0.6, 1.5], [2, 1.5], [2, 2], [0, 2]] }, 0.043],
  ['tiny ellipse', { shape: 'ellipse', axes_um: [0.5, 0.3], angleDeg: 20 }, 0.05],
];

function runsOf(p: Problem): Int32Array {
  const { nx, ny, inside } = p.grid;
  const runs: number[] = [];
  for (let y = 0; y < ny; y++) {
    let start = -1;
    for (let c = 0; c <= nx; c++) {
      const i = y * nx + c, ins = c < nx && inside[i] === 1;
      if (ins && start < 0) start = i;
      else if (!ins && start >= 0) { runs.push(start, i); start = -1; }
    }
  }
  return Int32Array.from(runs);
}

/**
 * Random θ in [lo, hi] on every inside cell (neighbours far apart: large fluxes of both signs; beyond
 * [0, 1] the table is extrapolated, j clamped to 0 or N − 1).
 */
function randomState(p: Problem, seed: number, lo = 0, hi = 1): Int32Array {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const q = new Int32Array(p.grid.nx * p.grid.ny).fill(OUTSIDE_Q);
  for (let i = 0; i < q.length; i++) if (p.grid.inside[i]) q[i] = Math.round((p.theta0 - (lo + (hi - lo) * rnd())) * QUANTA);
  return q;
}

/** One step of the split kernels (the reference). */
function referenceStep(p: Problem, q: Int32Array, rQ: number): Int32Array {
  const runs = runsOf(p), out = q.slice();
  const phi = new Float32Array(q.length).fill(NaN);
  phiRuns(q, phi, runs, 0, runs.length, p.table.phi, p.table.N, p.theta0, INV_QUANTA);
  stencilRuns(q, out, phi, runs, 0, runs.length, rQ, p.grid.nx);
  return out;
}

function firstDifference(a: Int32Array, b: Int32Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

const rQs = [0.24 * QUANTA, 0.05 * QUANTA];

describe.each(shapes)('%s', (_name, particle, spacing) => {
  let p: Problem;
  const problem = async () => (p ??= await problemOf(particle, spacing));

  test('fused JS = split JS, runs and rect spans, one band and two (halo)', async () => {
    const pr = await problem();
    const { nx, ny } = pr.grid;
    for (const mode of ['runs', 'rect'] as const) {
      const rows = rowTable(pr.grid.inside, nx, ny, mode);
      for (const [k, rQ] of rQs.entries()) {
        const q = k === 0 ? randomState(pr, 7) : randomState(pr, 8, -0.3, 1.3);
        const want = referenceStep(pr, q, rQ);
        for (const split of [0, 2, Math.floor(ny / 3), Math.floor(ny / 2) + 1, ny - 2]) {
          const out = q.slice();
          const scratch = () => [new Float32Array(nx + 8).fill(NaN), new Float32Array(nx + 8).fill(NaN), new Int32Array(nx), new Int32Array(nx)] as const;
          const bands: [number, number, boolean][] = split <= 1 ? [[1, ny - 1, false]] : [[1, split, false], [split, ny - 1, true]];
          for (const [r0, r1, halo] of bands) {
            const [a, b, fv, spare] = scratch();
            fusedRows(q, out, rows, r0, r1, halo, pr.table.phi, pr.table.N, pr.theta0, INV_QUANTA, rQ, nx, a, b, fv, spare);
          }
          expect(firstDifference(out, want), `${mode}, rQ ${rQ}, split ${split}`).toBe(-1);
        }
      }
    }
  });

  test.runIf(wasmSimdAvailable())('wasm (SIMD and scalar, runs and rect, 1 thread and 2 taking chunks of rows) = split JS, 20 chained steps', async () => {
    const pr = await problem();
    for (const flavour of ['simd', 'scalar'] as const) {
      for (const mode of ['runs', 'rect'] as const) {
        for (const shared of [false, true]) {
          const s = WasmStepper.create(pr.grid, pr.table.phi, pr.table.N, pr.theta0, INV_QUANTA, { flavour, mode, shared });
          expect(s).not.toBeNull();
          const w = s as WasmStepper;
          if (shared) await w.startHelper({ alwaysTwoThreads: true }); // the two-thread path, even on a busy machine
          expect(w.threads).toBe(shared ? 2 : 1);
          let ref = randomState(pr, 99, -0.3, 1.3);
          w.q[0].set(ref);
          w.q[1].fill(OUTSIDE_Q);
          let cur: 0 | 1 = 0;
          for (let step = 0; step < 20; step++) {
            const rQ = rQs[step % 2];
            ref = referenceStep(pr, ref, rQ);
            await w.step(cur, rQ);
            cur = (1 - cur) as 0 | 1;
            expect(firstDifference(w.q[cur], ref), `${flavour} ${mode} threads=${w.threads} step ${step}`).toBe(-1);
          }
          expect(w.jsSteps).toBe(0);
          w.stop();
        }
      }
    }
  });
});

test.runIf(wasmSimdAvailable())("wasm, 2 threads: each chunk's thread steps its own wall cells = the whole wall list after the step, on 1 thread", async () => {
  // 0.02 µm: 2 chunks; 0.01 µm: 6 chunks, each with its own run of wall cells
  for (const spacing of [0.02, 0.01]) {
    const pr = await problemOf(shapes[0][1], spacing);
    const two = WasmStepper.create(pr.grid, pr.table.phi, pr.table.N, pr.theta0, INV_QUANTA, { shared: true }) as WasmStepper;
    const one = WasmStepper.create(pr.grid, pr.table.phi, pr.table.N, pr.theta0, INV_QUANTA) as WasmStepper;
    await two.startHelper({ alwaysTwoThreads: true });
    await new Promise((resolve) => setTimeout(resolve, 200)); // the helper boots meanwhile
    const q = randomState(pr, 7, 0.2, 0.9);
    const walls = pr.grid.walls.index.length;
    const quanta = Int32Array.from({ length: walls }, (_, w) => -40_000 - ((w * 7919) % 30_000));
    for (const w of [one, two]) { w.q[0].set(q); w.q[1].fill(OUTSIDE_Q); w.setQuanta(quanta); }
    // every third step a guard inside the walls' values (it fires on some cells, and so in some
    // chunks and not others), else none
    let cur: 0 | 1 = 0, fired = 0;
    for (let step = 0; step < 300; step++) {
      const values = Array.from(pr.grid.walls.index, (i) => one.q[cur][i]).sort((a, b) => a - b);
      const guardAboveQ = step % 3 === 0 ? values[Math.floor(0.99 * values.length)] : 0x7fffffff;
      const wallStep = { surfaceFactor: 1e4 * (step % 3), guardAboveQ, guardBelowQ: -0x80000000, check: step % 4 !== 3 };
      one.step(cur, rQs[step % 2], wallStep);
      await two.step(cur, rQs[step % 2], wallStep);
      cur = (1 - cur) as 0 | 1;
      expect(firstDifference(two.q[cur], one.q[cur]), `${spacing} µm, step ${step}`).toBe(-1);
      expect(two.guard, `${spacing} µm, step ${step}: guard`).toBe(one.guard);
      expect(Array.from(two.wallRange), `${spacing} µm, step ${step}: θs range`).toEqual(Array.from(one.wallRange));
      if (one.guard) fired++;
    }
    expect(fired).toBeGreaterThan(10);
    expect(two.wallsInChunks).toBe(true);
    expect(two.helperChunks, `${spacing} µm: the helper took chunks`).toBeGreaterThan(100);
    // a flux bound over 2³¹: the step is recomputed in JS over the chunks' results, so the wall
    // cells must be stepped once more, all of them, on both steppers alike
    const wallStep = { surfaceFactor: 0, guardAboveQ: 0x7fffffff, guardBelowQ: -0x80000000, check: true };
    one.step(cur, 2 ** 33, wallStep);
    await two.step(cur, 2 ** 33, wallStep);
    cur = (1 - cur) as 0 | 1;
    expect(one.jsSteps).toBe(1);
    expect(two.jsSteps).toBe(1);
    expect(firstDifference(two.q[cur], one.q[cur]), `${spacing} µm, recomputed step`).toBe(-1);
    expect(Array.from(two.wallRange)).toEqual(Array.from(one.wallRange));
    two.stop();
  }
});

test.runIf(wasmSimdAvailable())('wasm: a flux bound over 2³¹ is recomputed in JS, still = split JS (ToInt32 wrapping)', async () => {
  const pr = await problemOf(shapes[0][1], 0.1);
  const w = WasmStepper.create(pr.grid, pr.table.phi, pr.table.N, pr.theta0, INV_QUANTA) as WasmStepper;
  const q = randomState(pr, 5), rQ = 2 ** 33; // fluxes far beyond int32: `| 0` wraps them
  w.q[0].set(q);
  w.q[1].fill(OUTSIDE_Q);
  w.step(0, rQ);
  expect(w.jsSteps).toBe(1);
  expect(firstDifference(w.q[1], referenceStep(pr, q, rQ))).toBe(-1);
});

describe('whole runs through a cut-off, bit for bit', () => {
  const solvers: CpuSolver[] = [];
  afterAll(() => { for (const s of solvers) s.destroy(); });

  test('split JS = fused JS = wasm SIMD (1 and 2 threads) = wasm scalar', async () => {
    const raw = presetConfig('aged');
    raw.grid = { spacing_um: 0.05 };
    raw.protocol = [{ step: 'charge', current_mA_g: 1500, duration_min: 60 }, { step: 'rest', duration_min: 2 }];
    raw.snapshots_min = [1, 2];
    const problem = await buildProblem(resolveConfig(raw));
    const kernels: [CpuKernel, boolean][] = [['split', false], ['js', false]];
    if (wasmSimdAvailable()) kernels.push(['wasm', false], ['wasm', true], ['wasm-scalar', false]);
    const results = [];
    for (const [kernel, threads] of kernels) {
      const s = await CpuSolver.create(problem, { kernel, threads });
      solvers.push(s);
      if (kernel === 'wasm') expect(s.backend).toBe(threads ? 'cpu (wasm SIMD, 2 threads)' : 'cpu (wasm SIMD)');
      results.push(await runSimulation(problem, s));
    }
    const a = results[0];
    expect(a.protocol[0].endReason).toBe('cutoff');
    for (const [k, b] of results.entries()) {
      expect(b.steps, kernels[k].join(' ')).toBe(a.steps);
      for (let i = 0; i < a.snapshots.length; i++) {
        const fa = a.snapshots[i].field, fb = b.snapshots[i].field;
        let same = 0;
        for (let j = 0; j < fa.length; j++) if (Object.is(fa[j], fb[j])) same++;
        expect(same, `${kernels[k].join(' ')} snapshot ${i}`).toBe(fa.length);
      }
    }
  });

  test('the default solver runs the wasm SIMD kernel where it exists', async () => {
    const pr = await problemOf(shapes[2][1], 0.05);
    const s = new CpuSolver(pr);
    solvers.push(s);
    expect(s.backend).toBe(wasmSimdAvailable() ? 'cpu (wasm SIMD)' : 'cpu (TypeScript reference)');
  });
});
