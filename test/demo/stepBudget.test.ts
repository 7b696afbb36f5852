/** The page's step budget (demo/sim/stepBudget.ts): steps per frame from the step cost and the frame rate. */
import { expect, test } from 'vitest';
import { FRAME_GPU_MS, MAX_STEPS, StepBudget } from '../../demo/sim/stepBudget';

test('the first budget fits the frame\'s GPU time at the measured cost; a long advance cuts it at once', () => {
  const b = new StepBudget();
  expect(b.steps(0)).toBe(1); // nothing measured yet: one step
  b.record(1, 0.5, 10); // 0.5 ms per step
  expect(b.steps(11)).toBe(Math.floor(FRAME_GPU_MS / 0.5));
  b.record(24, 1200, 700); // the machine got busy: 50 ms per step, 1.2 s held
  expect(b.n).toBe(5); // 24 × 250 / 1200
  const g = new StepBudget();
  g.record(1, 0.001, 0); // a real GPU
  expect(g.n).toBe(MAX_STEPS);
});

test('the frame rate steers it: fewer steps, then rests, under 33 frames/s; less rest, then more steps, over 40', () => {
  const b = new StepBudget();
  b.record(1, 1, 0);
  expect(b.n).toBe(12);
  b.observeFps(20);
  expect(b.n).toBe(8);
  for (let i = 0; i < 6; i++) b.observeFps(20);
  expect(b.n).toBe(1);
  expect(b.restFactor).toBeGreaterThan(0);
  const rest = b.restFactor;
  b.record(1, 80, 1000);
  expect(b.steps(1000 + rest * 80 - 1)).toBe(0); // the GPU left idle for rest × 80 ms
  expect(b.steps(1000 + rest * 80)).toBe(1);
  b.observeFps(35); // in the band: kept
  expect(b.restFactor).toBe(rest);
  for (let i = 0; i < 20 && b.restFactor > 0; i++) b.observeFps(55);
  expect(b.restFactor).toBe(0);
  expect(b.n).toBe(1);
  b.observeFps(55);
  expect(b.n).toBe(2);
});
