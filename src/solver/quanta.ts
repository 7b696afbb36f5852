/**
 * The solvers' state is fixed point: q = round(ξ·QUANTA) in int32, ξ = θ0 − θ the Li extracted.
 * Each face flux is turned into whole quanta once, truncated toward zero, and the same integer leaves
 * one cell and enters the other (IEEE subtraction and multiplication are sign-symmetric and
 * truncation is odd, so both cells compute it with opposite signs): the particle's Li content changes
 * only through the wall, exactly, whatever the number of steps. Float32 state loses updates smaller
 * than half an ulp, systematically near the wall, which over 10⁵ steps amounts to 1e-4 of the charge.
 * 2²⁸ quanta per unit θ: resolution 3.7e-9 (30× finer than float32 near θ = 1), range |ξ| < 8.
 */
export const QUANTA = 2 ** 28;
export const INV_QUANTA = 1 / QUANTA;
/** q of cells outside the particle (int32 max; never reached by |ξ| < 8) */
export const OUTSIDE_Q = 0x7fffffff;

/**
 * Whole quanta added to each wall cell per step (sign included) for a flux of `perStep` θ per unit
 * fluxWeight: floor of each share, then the remaining quanta to the largest remainders, so that the
 * total per step is the rounded exact total (error ≤ ½ quantum per step for the whole particle).
 */
export function wallQuanta(fluxWeight: Float32Array, perStep: number, out: Int32Array<ArrayBuffer> = new Int32Array(fluxWeight.length)): Int32Array<ArrayBuffer> {
  const n = fluxWeight.length;
  let total = 0, floors = 0;
  const rem = new Float64Array(n);
  for (let w = 0; w < n; w++) {
    const x = perStep * fluxWeight[w] * QUANTA;
    // beyond int32 only for fluxes the θ-range guard refuses before any step (problem.ts): saturate, never wrap
    const f = Math.min(2 ** 31 - 1, Math.max(-(2 ** 31), Math.floor(x)));
    out[w] = f;
    rem[w] = x - f;
    total += x;
    floors += f;
  }
  let deficit = Math.round(total) - floors; // 0 ≤ deficit ≤ n
  if (deficit > 0) {
    const order = Array.from({ length: n }, (_, w) => w).sort((a, b) => rem[b] - rem[a]);
    for (let k = 0; k < deficit && k < n; k++) out[order[k]] += 1;
  }
  return out;
}

/**
 * θ of every cell from the fixed-point state (NaN outside the particle), float32. A plain loop:
 * Float32Array.from with a mapping callback cost ~1 ms per 15 k cells, 0.1 s of a fig4c run.
 */
export function thetaField(q: Int32Array, theta0: number): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const v = q[i];
    out[i] = v === OUTSIDE_Q ? NaN : theta0 - v * INV_QUANTA;
  }
  return out;
}

/**
 * Why `q` cannot be the state of a grid with this `inside` mask (nx·ny cells; OUTSIDE_Q exactly
 * outside the particle, |ξ| < 8 inside), or null when it can. For Solver.writeState.
 */
export function stateMismatch(q: Int32Array, inside: Uint8Array): string | null {
  if (q.length !== inside.length) return `the state has ${q.length} cells and the grid ${inside.length}: a state of another grid`;
  for (let i = 0; i < q.length; i++) {
    if ((q[i] === OUTSIDE_Q) !== (inside[i] === 0)) {
      return `cell ${i} is ${inside[i] ? 'inside' : 'outside'} the particle but the state has ${q[i] === OUTSIDE_Q ? 'the outside marker' : `q = ${q[i]}`} there: a state of another particle or mask`;
    }
  }
  return null;
}
