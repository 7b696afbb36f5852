/**
 * The helper thread's pacing (src/solver/threadPacer.ts) on made-up clocks: two threads that get two
 * cores keep the helper; two that share one go to one thread for spells that double while the cores
 * stay busy, and come back when they are free; windows without a helper chunk, or across a pause,
 * decide nothing.
 */
import { describe, expect, test } from 'vitest';
import { PACER_DEFAULTS, pacerSettings, ThreadPacer } from '../../src/solver/threadPacer';

/** A machine: wall clock and process CPU clock (ms); `cores` is the CPU per second the process gets. */
function machine() {
  const m = { now: 0, cpu: 0, cores: 2 };
  return m;
}

/**
 * Runs `steps` steps of `step_ms` each on `pacer`, one after the other; on two threads the helper
 * takes `theirs` chunks a step. Returns how many were offered to the helper.
 */
function run(pacer: ThreadPacer, m: ReturnType<typeof machine>, steps: number, step_ms: number, theirs = 1, gap_ms = 0, solo_ms = step_ms): number {
  let together = 0;
  for (let s = 0; s < steps; s++) {
    m.now += gap_ms;
    const begin = m.now;
    const two = pacer.useHelper(begin);
    m.now += two ? step_ms : solo_ms;
    // alone, this process uses one core; together, what the machine gives it
    m.cpu += (two ? step_ms * m.cores : solo_ms) + gap_ms;
    if (two) {
      together++;
      pacer.stepTogether(begin, m.now, theirs);
    } else {
      pacer.stepAlone(begin, m.now);
    }
  }
  return together;
}

test('two threads with a core each keep the helper', () => {
  const m = machine();
  const p = new ThreadPacer(() => m.cpu);
  expect(run(p, m, 10_000, 0.025)).toBe(10_000);
  expect(p.soloSteps).toBe(0);
  expect(p.spells).toBe(0);
  expect(p.lastCores).toBeCloseTo(2, 6);
});

test('two threads sharing a core step alone, retry after spells that double, and take the helper back once the core is free', () => {
  const m = machine();
  m.cores = 1;
  const p = new ThreadPacer(() => m.cpu);
  // two windows (each ≥ 32 steps and 20 ms) on two threads, then the first spell alone
  const step = 0.0625; // exact in binary: the window's end falls on a step
  const firstWindow = Math.ceil(PACER_DEFAULTS.window_ms / step) + 1;
  expect(run(p, m, firstWindow, step)).toBe(firstWindow);
  expect(p.alone, 'one window below is a hiccup').toBe(false);
  expect(run(p, m, firstWindow, step)).toBe(firstWindow);
  expect(p.alone).toBe(true);
  expect(p.spells).toBe(1);
  expect(p.lastCores).toBeCloseTo(1, 6);
  // alone for 50 ms, then a retry, which fails on its first window: alone for 100 ms, …
  const spellSteps = (ms: number) => Math.ceil(ms / step);
  expect(run(p, m, spellSteps(50), step)).toBe(0);
  const retry = run(p, m, firstWindow, step);
  expect(retry).toBe(firstWindow);
  expect(p.spells).toBe(2);
  expect(run(p, m, spellSteps(100) - 1, step)).toBe(0); // the second spell is twice as long
  expect(p.alone).toBe(true);
  // many failed retries: the spell stops at maxSpell_ms, so the share of steps on two threads stays small
  const t0 = m.now;
  const together = run(p, m, 400_000, step);
  expect(together / 400_000).toBeLessThan(0.05);
  expect(m.now - t0).toBeGreaterThan(10 * PACER_DEFAULTS.maxSpell_ms);
  // the other work ends: the next retry keeps the helper, and the spells start short again
  m.cores = 2;
  // (one thread now takes twice as long a step as two: the spells' timing of one thread is no bar)
  run(p, m, Math.ceil(PACER_DEFAULTS.maxSpell_ms / step) + 2 * firstWindow, step, 1, 0, 2 * step);
  expect(p.alone).toBe(false);
  expect(p.lastCores).toBeCloseTo(2, 6);
  const spells = p.spells;
  m.cores = 1;
  let busySteps = 0;
  while (p.spells === spells) { run(p, m, 1, step); busySteps++; }
  expect(busySteps, 'two windows below, not one').toBeGreaterThan(firstWindow);
  expect(busySteps).toBeLessThanOrEqual(3 * firstWindow);
  const before = m.now;
  while (p.alone) run(p, m, 1, step);
  expect(m.now - before).toBeLessThanOrEqual(PACER_DEFAULTS.minSpell_ms + step);
});

test('a window in which the helper took no chunk, or one broken by pauses, decides nothing', () => {
  const m = machine();
  m.cores = 1;
  const p = new ThreadPacer(() => m.cpu);
  // the helper is booting (or off the CPU before it claims): the main thread did every chunk
  expect(run(p, m, 5_000, 0.05, 0)).toBe(5_000);
  expect(p.spells).toBe(0);
  // steps with a pause before each (trace rows, outputs): the window restarts, never judged
  expect(run(p, m, 5_000, 0.05, 1, PACER_DEFAULTS.maxGap_ms + 0.1)).toBe(5_000);
  expect(p.spells).toBe(0);
  expect(p.lastCores).toBeNaN();
  // short pauses do not break a window
  run(p, m, 2_000, 0.05, 1, 0.3);
  expect(p.spells).toBeGreaterThan(0);
});

test('a window needs both its step count and its length', () => {
  const m = machine();
  m.cores = 1;
  const p = new ThreadPacer(() => m.cpu);
  // 1 ms steps: 20 ms are only 21 steps, short of 32; a window starts at the end of its first step
  run(p, m, PACER_DEFAULTS.minSteps - 1, 1);
  expect(p.lastCores).toBeNaN();
  run(p, m, 1, 1);
  expect(p.lastCores).toBe(1);
  run(p, m, PACER_DEFAULTS.minSteps - 1, 1);
  expect(p.spells).toBe(0);
  run(p, m, 1, 1);
  expect(p.spells).toBe(1);
});

test('one window with the cores busy among quiet ones is a hiccup: no spell', () => {
  const m = machine();
  const p = new ThreadPacer(() => m.cpu);
  const window = Math.ceil(PACER_DEFAULTS.window_ms / 0.0625) + 1;
  for (let k = 0; k < 50; k++) {
    m.cores = k % 2 ? 1 : 2; // every other window busy
    expect(run(p, m, window, 0.0625)).toBe(window);
  }
  expect(p.spells).toBe(0);
});

describe('speed: where the CPU test can miss a shared core (more than 2 cores), probes time one thread', () => {
  const settings = pacerSettings(16);
  test('the settings: probes every second above 2 cores, none on 2', () => {
    expect(settings.probeEvery_ms).toBe(1000);
    expect(pacerSettings(2).probeEvery_ms).toBe(0);
    expect(pacerSettings(1).probeEvery_ms).toBe(0);
  });

  test('two threads faster than one keep the helper; the probes cost a few steps in a hundred', () => {
    const m = machine();
    const p = new ThreadPacer(() => m.cpu, settings);
    const steps = 200_000; // 5 s of 25 µs steps on two threads, one thread 45 µs
    const together = run(p, m, steps, 0.025, 1, 0, 0.045);
    expect(p.spells).toBe(0);
    expect(p.soloSteps).toBe(0);
    expect(p.probeSteps).toBeGreaterThan(0);
    expect(1 - together / steps).toBeLessThan(0.01);
    expect(p.soloStep_ms).toBeCloseTo(0.045, 9);
    expect(p.togetherStep_ms).toBeCloseTo(0.025, 9);
  });

  test('a shared core that reads as 1.6 cores (4 cores shared per thread) is found by the time: one thread is faster', () => {
    const m = machine();
    m.cores = 1.6;
    const p = new ThreadPacer(() => m.cpu, settings);
    // two threads take 60 µs a step (waiting for each other), one takes 50
    run(p, m, 40_000, 0.06, 1, 0, 0.05);
    expect(p.spells).toBeGreaterThan(0);
    expect(p.soloSteps).toBeGreaterThan(0.5 * 40_000);
    // without probes (2 cores' settings) only the CPU test judges, and 1.6 passes it
    const q = new ThreadPacer(() => m.cpu, PACER_DEFAULTS);
    run(q, m, 40_000, 0.06, 1, 0, 0.05);
    expect(q.spells).toBe(0);
  });

  test('two threads only a little faster (less than the margin) are not worth a second core', () => {
    const m = machine();
    const p = new ThreadPacer(() => m.cpu, settings);
    run(p, m, 100_000, 0.047, 1, 0, 0.05); // 6 % faster
    expect(p.spells).toBeGreaterThan(0);
    const r = new ThreadPacer(() => m.cpu, settings);
    run(r, m, 100_000, 0.04, 1, 0, 0.05); // 20 % faster
    expect(r.spells).toBe(0);
  });

  test('steps in bursts between pauses (short trace intervals) still time one thread: a probe ends, the helper comes back', () => {
    const m = machine();
    const p = new ThreadPacer(() => m.cpu, settings);
    let together = 0, steps = 0;
    for (let b = 0; b < 1000; b++) { // bursts of 10 steps, 5 ms apart (a trace row each)
      together += run(p, m, 10, 0.3, 1, 0, 0.5);
      steps += 10;
      m.now += 5;
      m.cpu += 5;
    }
    expect(p.probeSteps).toBeGreaterThan(0);
    expect(p.soloStep_ms).toBeCloseTo(0.5, 9);
    expect(together / steps).toBeGreaterThan(0.9);
  });

  test('long steps: probes are spaced by their cost, so one thread takes a few steps in a hundred', () => {
    for (const [duo, alone] of [[6, 10], [25, 40]]) {
      const m = machine();
      const p = new ThreadPacer(() => m.cpu, settings);
      const steps = Math.round(600_000 / duo); // 10 minutes of stepping
      const together = run(p, m, steps, duo, 1, 0, alone);
      expect(p.spells, `${duo} ms`).toBe(0);
      expect(1 - together / steps, `${duo} ms steps`).toBeLessThan(0.05);
    }
  });
});

