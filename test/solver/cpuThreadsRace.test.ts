/**
 * The two-thread handshake under stress (issue 7): thousands of short steps on a small grid, forced
 * onto two threads, with a test-only pause between each thread's test of a control word and its
 * wait on it, and the main thread late in publishing its Φ̃. A handshake that waits on a freshly
 * re-loaded value (a lost wakeup) sleeps forever on the worker side or a full wait timeout on the
 * main side; one that waits on the value it tested finishes in well under a second.
 */
import { expect, test } from 'vitest';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem, stepParams } from '../../src/solver/problem';
import { CpuSolver } from '../../src/solver/cpu';
import { PACER_DEFAULTS } from '../../src/solver/threadPacer';
import type { HandshakeTestHooks } from '../../src/solver/cpuThreads';

const STEPS = 3000;

test(`${STEPS} two-thread handshakes with a pause inside each wait: no lost wakeup, same state as one thread`, async () => {
  const raw = presetConfig('fig4c');
  raw.particle = { shape: 'disk', diameter_um: 1 };
  raw.grid = { spacing_um: 0.04 };
  const problem = await buildProblem(resolveConfig(raw));
  const step = problem.config.protocol[0];
  const one = new CpuSolver(problem);
  const two = await CpuSolver.create(problem, { threads: true, kernel: 'split', handshakeTestHooks: { pauseInWait_us: 300, delayPhiDone_us: 100 } });
  expect(two.backend).toMatch(/2 threads/);
  try {
    const params = stepParams(problem, { ...step, step: 'charge', current_mA_g: 100 }, 0.01);
    one.setStep(params);
    two.setStep(params);
    const t0 = performance.now();
    const b = await two.advance(STEPS);
    const wall_s = (performance.now() - t0) / 1000;
    const a = await one.advance(STEPS);
    expect(b.steps).toBe(a.steps);
    const fa = await one.field(), fb = await two.field();
    let same = 0;
    for (let k = 0; k < fa.length; k++) if (Object.is(fa[k], fb[k])) same++;
    expect(same).toBe(fa.length);
    // 3000 steps with 2 × 0.3 ms pauses: ~2 s; a lost wakeup on the main side costs a whole wait timeout
    expect(wall_s).toBeLessThan(15);
  } finally {
    two.destroy();
  }
}, 30_000);

async function smallProblem() {
  const raw = presetConfig('fig4c');
  raw.particle = { shape: 'disk', diameter_um: 1 };
  raw.grid = { spacing_um: 0.04 };
  const problem = await buildProblem(resolveConfig(raw));
  return { problem, params: stepParams(problem, { ...problem.config.protocol[0], step: 'charge', current_mA_g: 100 }, 0.01) };
}

/** A one-thread and a two-thread wasm solver of smallProblem (the second with `hooks`), both set to its step; destroyed after `body`. */
async function oneAndTwo(hooks: HandshakeTestHooks, body: (one: CpuSolver, two: CpuSolver) => Promise<void>): Promise<void> {
  const { problem, params } = await smallProblem();
  const one = await CpuSolver.create(problem, { threads: false, kernel: 'wasm' });
  const two = await CpuSolver.create(problem, { threads: true, kernel: 'wasm', handshakeTestHooks: hooks });
  try {
    one.setStep(params);
    two.setStep(params);
    await body(one, two);
  } finally {
    one.destroy();
    two.destroy();
  }
}

test('a helper thread that fails mid-run is a clear error, not a hang', async () => {
  const { problem, params } = await smallProblem();
  const two = await CpuSolver.create(problem, { threads: true, kernel: 'split', handshakeTestHooks: { helperFailAtStep: 5 } });
  try {
    two.setStep(params);
    await expect(two.advance(100)).rejects.toThrow(/helper thread failed: .*test failure at step 5/);
  } finally {
    two.destroy();
  }
});

test('while a slow helper computes, the main thread gives the event loop turns (Ctrl-C handlers run)', async () => {
  const { problem, params } = await smallProblem();
  const two = await CpuSolver.create(problem, { threads: true, kernel: 'split', handshakeTestHooks: { helperDelay_us: 400_000 } });
  try {
    two.setStep(params);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const t0 = performance.now();
    await two.advance(3);
    clearInterval(timer);
    // 3 steps of 0.4 s each; the first 0.2 s of each wait synchronously, the rest with event-loop
    // turns, in which the 20 ms timer fires (a thread that blocked the whole step: no tick at all)
    expect(performance.now() - t0).toBeGreaterThan(1100);
    expect(ticks).toBeGreaterThanOrEqual(3);
  } finally {
    two.destroy();
  }
});

test(`the default kernel's own two-thread handshake (wasm SIMD): ${STEPS} short steps, same state as one thread`, async () => {
  const { problem, params } = await smallProblem();
  const one = await CpuSolver.create(problem, { threads: false, kernel: 'wasm' });
  const two = await CpuSolver.create(problem, { threads: true, kernel: 'wasm', handshakeTestHooks: { alwaysTwoThreads: true } });
  expect(two.backend).toMatch(/wasm SIMD, 2 threads/);
  try {
    one.setStep(params);
    two.setStep(params);
    // many advance() calls of few steps each: as many handshakes and restarts as the solver sees
    let a = 0, b = 0;
    for (let k = 0; k < STEPS / 10; k++) { b += (await two.advance(10)).steps; a += (await one.advance(10)).steps; }
    expect(b).toBe(a);
    const fa = await one.field(), fb = await two.field();
    let same = 0;
    for (let k = 0; k < fa.length; k++) if (Object.is(fa[k], fb[k])) same++;
    expect(same).toBe(fa.length);
  } finally {
    one.destroy();
    two.destroy();
  }
}, 30_000);

test('the wasm step never waits for a helper that took no chunk: a helper late to every step costs nothing, the state is the same', async () => {
  const { problem, params } = await smallProblem();
  const one = await CpuSolver.create(problem, { threads: false, kernel: 'wasm' });
  // the helper spins 5 ms after it sees each step begin: a main thread that waited for it every step
  // (the handshake before) would take ≥ 200 × 5 ms = 1 s; one that only waits for chunks the helper
  // has claimed finishes the steps mostly alone (~50 µs each)
  const two = await CpuSolver.create(problem, { threads: true, kernel: 'wasm', handshakeTestHooks: { helperDelay_us: 5000, alwaysTwoThreads: true } });
  try {
    one.setStep(params);
    two.setStep(params);
    const t0 = performance.now();
    const b = await two.advance(200);
    const wall_s = (performance.now() - t0) / 1000;
    const a = await one.advance(200);
    expect(b.steps).toBe(a.steps);
    expect(Array.from(await two.readState())).toEqual(Array.from(await one.readState()));
    expect(wall_s).toBeLessThan(0.5);
  } finally {
    one.destroy();
    two.destroy();
  }
});

test('a helper that is off the CPU with a chunk it claimed: the steps go to one thread, retry two, and the state is the same', async () => {
  // the helper sleeps 2 ms after every chunk it claims, as one that shares a core with the main
  // thread is taken off it: two threads then get ~0.1 s of CPU per s, and the pacer steps alone
  await oneAndTwo({ helperOffCpu_us: 2000 }, async (one, two) => {
    expect(two.pacing).not.toBeNull();
    let steps = 0;
    // at least two spells on one thread: the first, and one after a retry that found the same
    for (const t0 = performance.now(); (two.pacing?.spells ?? 0) < 2 && performance.now() - t0 < 20_000;) steps += (await two.advance(50)).steps;
    const pacing = two.pacing!;
    expect(pacing.spells).toBeGreaterThanOrEqual(2);
    expect(pacing.lastCores).toBeLessThan(PACER_DEFAULTS.minCores);
    expect(pacing.soloSteps).toBeGreaterThan(0);
    expect(two.backend).toBe('cpu (wasm SIMD, 2 threads)');
    expect(two.threadNote).toBe(`${pacing.soloSteps} of the steps ran on one thread: another process held a core, or two threads were not faster (docs/performance.md)`);
    expect((await one.advance(steps)).steps).toBe(steps);
    expect(Array.from(await two.readState())).toEqual(Array.from(await one.readState()));
  });
}, 30_000);

test('the pacer\'s probes (on by default above 2 cores) time one thread, and the state is the same', async () => {
  await oneAndTwo({ probeEvery_ms: 100 }, async (one, two) => {
    let steps = 0;
    // (a busy machine may give a spell first, which times one thread too: the probes are waited for)
    for (const t0 = performance.now(); !((two.pacing?.probeSteps ?? 0) >= PACER_DEFAULTS.minSteps && (two.pacing?.soloStep_ms ?? NaN) > 0 && (two.pacing?.togetherStep_ms ?? NaN) > 0) && performance.now() - t0 < 20_000;) steps += (await two.advance(200)).steps;
    const pacing = two.pacing!;
    expect(pacing.probeSteps).toBeGreaterThanOrEqual(PACER_DEFAULTS.minSteps);
    expect(pacing.soloStep_ms).toBeGreaterThan(0);
    expect(pacing.togetherStep_ms).toBeGreaterThan(0);
    expect((await one.advance(steps)).steps).toBe(steps);
    expect(Array.from(await two.readState())).toEqual(Array.from(await one.readState()));
  });
}, 30_000);
