/**
 * fit's protocol from a charge record (src/fit/fit.ts protocolOfRecord): a record of one charge —
 * exact, noisy, rounded, rippled or starting late — is one charge (null: the least-squares slope as
 * before); a charge then a rest, or a charge, rest and discharge, are their steps, noisy or not.
 */
import { expect, test } from 'vitest';
import { protocolOfRecord, protocolOfSamples } from '../../src/fit/fit';

/** a record sampled every dt_s from a piecewise current (mA/g) program, with noise σ (mAh/g) and rounding */
function record(program: [number, number][], dt_s: number, opts: { sigma?: number; round?: number; ripple?: number; seed?: number } = {}) {
  let seed = opts.seed ?? 1;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const total = program.reduce((a, [, min]) => a + min * 60, 0);
  const times: number[] = [], cap: number[] = [];
  let c = 0, t = 0;
  const currentAt = (tt: number) => { let e = 0; for (const [i, min] of program) { e += min * 60; if (tt < e) return i; } return program[program.length - 1][0]; };
  for (let k = 0; t <= total + 1e-9; k++, t = k * dt_s) {
    if (k > 0) { const i = currentAt(t - dt_s / 2) * (1 + (opts.ripple ?? 0) * Math.sin(k)); c += (i * dt_s) / 3600; }
    let v = c + (opts.sigma ?? 0) * gauss();
    if (opts.round) v = Math.round(v / opts.round) * opts.round;
    times.push(t); cap.push(v);
  }
  return { times, cap, last: times.length - 1 };
}

const of = (r: ReturnType<typeof record>) => protocolOfRecord(r.times, r.cap, 0, r.last);

test('one charge, however the record is measured, is one charge (null)', () => {
  expect(of(record([[70, 20]], 10))).toBeNull();
  expect(of(record([[70, 20]], 10, { sigma: 0.01 }))).toBeNull();
  expect(of(record([[70, 20]], 10, { sigma: 0.02 }))).toBeNull();
  expect(of(record([[70, 20]], 10, { ripple: 0.1 }))).toBeNull();
  expect(of(record([[20, 20]], 10, { round: 0.01 }))).toBeNull();
  expect(of(record([[2, 20]], 10, { round: 0.01 }))).toBeNull();
  // the current starting 5 s after the reference frame
  expect(of(record([[0, 5 / 60], [70, 20]], 10))).toBeNull();
});

test('a charge then a rest, and a charge, rest and discharge, are their steps, noisy or not', () => {
  const steps = (p: ReturnType<typeof of>) => p?.map((s) => [s.step, s.current_mA_g === undefined ? null : Math.round(s.current_mA_g), Math.round(s.duration_min * 10) / 10]);
  expect(steps(of(record([[70, 20], [0, 10]], 60)))).toEqual([['charge', 70, 20], ['rest', null, 10]]);
  // with noise the boundaries may move by an interval or two (of 10 or 30 s)
  const near = (p: ReturnType<typeof of>, want: [string, number | null, number][]) => {
    expect(p?.map((s) => s.step)).toEqual(want.map((w) => w[0]));
    p!.forEach((s, k) => {
      expect(Math.abs(s.duration_min - want[k][2]), `step ${k} duration`).toBeLessThan(0.5);
      if (want[k][1] !== null) expect(Math.abs((s.current_mA_g as number) / (want[k][1] as number) - 1), `step ${k} current`).toBeLessThan(0.03);
    });
  };
  near(of(record([[70, 20], [0, 10]], 10, { sigma: 0.01, seed: 3 })), [['charge', 70, 20], ['rest', null, 10]]);
  near(of(record([[70, 20], [0, 10]], 10, { sigma: 0.01, round: 0.01, seed: 4 })), [['charge', 70, 20], ['rest', null, 10]]);
  near(of(record([[100, 10], [0, 5], [-50, 10]], 30, { sigma: 0.005, seed: 5 })), [['charge', 100, 10], ['rest', null, 5], ['discharge', 50, 10]]);
});

test('a charge whose current changes is one step per current, noisy or not; a change within 15 % is not split', () => {
  const steps = (p: ReturnType<typeof of>) => p?.map((s) => [s.step, s.current_mA_g === undefined ? null : Math.round(s.current_mA_g), Math.round(s.duration_min * 10) / 10]);
  expect(steps(of(record([[50, 10], [150, 10]], 30)))).toEqual([['charge', 50, 10], ['charge', 150, 10]]);
  expect(steps(of(record([[100, 10], [50, 5], [200, 5]], 30)))).toEqual([['charge', 100, 10], ['charge', 50, 5], ['charge', 200, 5]]);
  const noisy = of(record([[50, 10], [150, 10], [0, 5]], 10, { sigma: 0.01, round: 0.01, seed: 7 }))!;
  expect(noisy.map((s) => s.step)).toEqual(['charge', 'charge', 'rest']);
  expect(Math.abs(noisy[0].duration_min - 10)).toBeLessThan(0.5);
  expect(Math.abs((noisy[0].current_mA_g as number) / 50 - 1)).toBeLessThan(0.03);
  expect(Math.abs((noisy[1].current_mA_g as number) / 150 - 1)).toBeLessThan(0.03);
  expect(steps(of(record([[-40, 10], [-120, 10]], 30)))).toEqual([['discharge', 40, 10], ['discharge', 120, 10]]);
  expect(steps(of(record([[20, 30], [25, 30]], 30, { sigma: 0.02, seed: 9 })))).toEqual([['charge', 20, 30], ['charge', 25, 30]]);
  expect(of(record([[100, 10], [110, 10]], 30))).toBeNull();
  expect(of(record([[100, 10], [110, 10]], 10, { sigma: 0.02, seed: 8 }))).toBeNull();
});

test('a noisy rest is one rest: a stretch is a charge only where its charge stands out of the noise (the σ of the record)', () => {
  // σ = 0.02 mAh/g every 10 s: the rate between two frames scatters by ±10 mA/g around 0 in the rest
  for (let seed = 1; seed <= 10; seed++) {
    expect(of(record([[70, 20], [0, 10]], 10, { sigma: 0.02, seed }))?.map((s) => s.step), `seed ${seed}`).toEqual(['charge', 'rest']);
  }
});

test('found in review: a slow charge under heavy noise stays one charge; a dip and a short rest in a slow charge are found', () => {
  const steps = (p: ReturnType<typeof of>) => p?.map((s) => [s.step, s.current_mA_g === undefined ? null : Math.round(s.current_mA_g), Math.round(s.duration_min)]);
  for (let seed = 1; seed <= 10; seed++) {
    // 10 mA/g, 1-minute frames, σ = 0.3 mAh/g (each frame adds 0.17 mAh/g: the noise is larger)
    expect(of(record([[10, 60]], 60, { sigma: 0.3, seed })), `seed ${seed}`).toBeNull();
    // 10 mA/g, 5 minutes of rest, 10 mA/g: the rest is 5 intervals of 1 minute
    expect(steps(of(record([[10, 20], [0, 5], [10, 20]], 60, { sigma: 0.01, seed }))), `seed ${seed}`).toEqual([['charge', 10, 20], ['rest', null, 5], ['charge', 10, 20]]);
  }
  // 100 → 50 → 100 mA/g: no single split has halves of unlike slopes that fit well, three lines do
  expect(steps(of(record([[100, 20], [50, 20], [100, 20]], 60)))).toEqual([['charge', 100, 20], ['charge', 50, 20], ['charge', 100, 20]]);
});

test('found in a trial: a 2-minute rest between 1-minute frames is found in the charge record\'s own samples', () => {
  // the record every 10 s: 100 mA/g for 8 min, 2 min of rest, 100 mA/g for 10 min; frames every 60 s
  const r = record([[100, 8], [0, 2], [100, 10]], 10);
  const frames = r.times.filter((t) => t % 60 === 0);
  const atFrames = frames.map((t) => r.cap[r.times.indexOf(t)]);
  const obs = { times_s: frames, capacity_mAh_g: atFrames, capacityRecord: { time_s: r.times, capacity_mAh_g: r.cap } };
  const steps = (p: ReturnType<typeof of>) => p?.map((s) => [s.step, s.current_mA_g === undefined ? null : Math.round(s.current_mA_g), Math.round(s.duration_min * 10) / 10]);
  expect(steps(protocolOfSamples(obs, 0, frames.length - 1))).toEqual([['charge', 100, 8], ['rest', null, 2], ['charge', 100, 10]]);
  // at the frames alone the rest is 2 intervals, under the 3 a step needs
  expect(steps(protocolOfSamples({ ...obs, capacityRecord: null }, 0, frames.length - 1))).not.toEqual([['charge', 100, 8], ['rest', null, 2], ['charge', 100, 10]]);
});
