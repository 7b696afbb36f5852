/**
 * Seeded random numbers for synthetic movies: a small, fast generator (sfc32, seeded through
 * splitmix32) with uniform, Gaussian and Poisson draws. Streams are derived from (seed, stream
 * number), so that frame f of a movie gets the same noise whatever order the frames are made in, and
 * the same seed always gives the same bytes on every platform (integer arithmetic and Math.log/exp
 * only).
 */

/** splitmix32: one well-mixed 32-bit value from a 32-bit state (seeding only) */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) >>> 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [(z ^ (z >>> 16)) >>> 0, s];
}

export interface Random {
  /** uniform in [0, 1), 32 bits */
  uniform(): number;
  /** standard normal N(0, 1) (Box–Muller, both values used) */
  normal(): number;
  /** a Poisson count of mean `lambda` ≥ 0 (exact: multiplication below 10, PTRS rejection above) */
  poisson(lambda: number): number;
}

/** The generator of stream `stream` of `seed` (both unsigned 32-bit integers). */
export function createRandom(seed: number, stream = 0): Random {
  let st = (seed >>> 0) ^ Math.imul(stream >>> 0, 0x27d4eb2d);
  let a: number, b: number, c: number;
  [a, st] = splitmix32(st);
  [b, st] = splitmix32(st);
  [c, st] = splitmix32(st);
  let d = 1; // sfc32's counter
  const next = (): number => {
    // sfc32 (Chris Doty-Humphrey's Small Fast Chaotic generator), PractRand-clean
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next(); // warm-up
  const uniform = () => next() / 4294967296;
  let spare = NaN;
  const normal = () => {
    if (spare === spare) { const s = spare; spare = NaN; return s; }
    let u = uniform();
    while (u === 0) u = uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  const poisson = (lambda: number): number => {
    if (!(lambda > 0)) return 0;
    if (lambda < 10) {
      // Knuth: multiply uniforms until the product falls below e^−λ
      const L = Math.exp(-lambda);
      let k = 0, p = uniform();
      while (p > L) { k++; p *= uniform(); }
      return k;
    }
    // PTRS, transformed rejection with squeeze (Hörmann 1993, as in NumPy's random_poisson_ptrs)
    const slam = Math.sqrt(lambda), loglam = Math.log(lambda);
    const b2 = 0.931 + 2.53 * slam;
    const a2 = -0.059 + 0.02483 * b2;
    const invalpha = 1.1239 + 1.1328 / (b2 - 3.4);
    const vr = 0.9277 - 3.6224 / (b2 - 2);
    for (;;) {
      const U = uniform() - 0.5, V = uniform();
      const us = 0.5 - Math.abs(U);
      const k = Math.floor(((2 * a2) / us + b2) * U + lambda + 0.43);
      if (us >= 0.07 && V <= vr) return k;
      if (k < 0 || (us < 0.013 && V > us)) continue;
      if (Math.log(V) + Math.log(invalpha) - Math.log(a2 / (us * us) + b2) <= -lambda + k * loglam - logFactorial(k)) return k;
    }
  };
  return { uniform, normal, poisson };
}

const LOG_FACT = (() => {
  const t = new Float64Array(256);
  for (let k = 1; k < 256; k++) t[k] = t[k - 1] + Math.log(k);
  return t;
})();

/** ln k! (a table below 256, Stirling's series above: error < 1e-12 there) */
export function logFactorial(k: number): number {
  if (k < 256) return LOG_FACT[k];
  const n = k + 1; // ln Γ(n)
  return (n - 0.5) * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * n) - 1 / (360 * n ** 3) + 1 / (1260 * n ** 5);
}
