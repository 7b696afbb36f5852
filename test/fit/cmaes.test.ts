/** The ask/tell CMA-ES on known optima: a shifted, ill-conditioned quadratic and Rosenbrock's valley. */
import { describe, expect, test } from 'vitest';
import { Cmaes, minimizeCmaes } from '../../src/fit/cmaes';

const batch = (f: (x: number[]) => number) => async (xs: number[][]) => xs.map(f);

describe('CMA-ES', () => {
  test('a shifted ellipsoid (condition 10⁴) in 4-D: the minimum to 1e-6', async () => {
    const c = [1, -2, 0.5, 3];
    const f = (x: number[]) => x.reduce((a, v, i) => a + 10 ** ((4 * i) / 3) * (v - c[i]) ** 2, 0);
    const r = await minimizeCmaes(batch(f), { x0: [0, 0, 0, 0], sigma0: 1, maxGenerations: 400, tolX: 1e-9, seed: 3 });
    r.bestX.forEach((v, i) => expect(Math.abs(v - c[i])).toBeLessThan(1e-6));
    expect(r.converged).toBe(true);
  });
  test('Rosenbrock in 2-D: (1, 1) from (−1.2, 1)', async () => {
    const f = ([x, y]: number[]) => 100 * (y - x * x) ** 2 + (1 - x) ** 2;
    const r = await minimizeCmaes(batch(f), { x0: [-1.2, 1], sigma0: 0.5, maxGenerations: 500, tolX: 1e-10, seed: 1 });
    expect(Math.abs(r.bestX[0] - 1)).toBeLessThan(1e-5);
    expect(Math.abs(r.bestX[1] - 1)).toBeLessThan(1e-5);
    expect(r.bestCost).toBeLessThan(1e-10);
  });
  test('ask/tell is deterministic for a seed, and failed candidates (Infinity) are ranked last', () => {
    const run = () => {
      const es = new Cmaes({ x0: [0, 0], sigma0: 1, seed: 9, population: 6 });
      for (let g = 0; g < 20; g++) {
        const xs = es.ask();
        es.tell(xs.map(([x, y]) => (x > 2 ? Infinity : (x - 1) ** 2 + (y + 1) ** 2)));
      }
      return es.state();
    };
    const a = run(), b = run();
    expect(a.bestX).toEqual(b.bestX);
    expect(Math.abs(a.bestX[0] - 1)).toBeLessThan(0.05);
    expect(a.evaluations).toBe(120);
  });
});
