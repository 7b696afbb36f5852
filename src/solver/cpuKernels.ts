/**
 * The two bulk loops of one CPU step, as self-contained functions of their arguments only: the main
 * thread calls them directly, and the helper thread of CpuSolver (cpuThreads.ts) gets their source
 * text, so both threads run the very same code. State: fixed-point quanta (see quanta.ts).
 */

/** Φ̃ of every cell in runs [k0, k1) (pairs of linear indices [start, end) in `runs`). */
export function phiRuns(q: Int32Array, phi: Float32Array, runs: Int32Array, k0: number, k1: number, table: Float32Array, N: number, theta0: number, invQuanta: number): void {
  for (let k = k0; k < k1; k += 2) {
    for (let i = runs[k], e = runs[k + 1]; i < e; i++) {
      const x = (theta0 - q[i] * invQuanta) * N;
      let j = x | 0; // truncation; for x < 0 the clamp gives j = 0 and x − j extrapolates
      j = j < 0 ? 0 : j > N - 1 ? N - 1 : j;
      const a = table[j];
      phi[i] = a + (x - j) * (table[j + 1] - a);
    }
  }
}

/**
 * q_i ← q_i − Σ_nbrs trunc(rQ·(Φ̃_j − Φ̃_i)) for the cells in runs [k0, k1), rQ = r·QUANTA. Outside
 * cells hold Φ̃ = NaN, and (NaN | 0) = 0: no flux through the wall here.
 */
export function stencilRuns(q: Int32Array, out: Int32Array, phi: Float32Array, runs: Int32Array, k0: number, k1: number, rQ: number, nx: number): void {
  for (let k = k0; k < k1; k += 2) {
    for (let i = runs[k], e = runs[k + 1]; i < e; i++) {
      const c = phi[i];
      out[i] = q[i] - ((rQ * (phi[i - 1] - c)) | 0) - ((rQ * (phi[i + 1] - c)) | 0) - ((rQ * (phi[i - nx] - c)) | 0) - ((rQ * (phi[i + nx] - c)) | 0);
    }
  }
}
