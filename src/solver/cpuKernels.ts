/**
 * The two bulk loops of one CPU step, as self-contained functions of their arguments only: the main
 * thread calls them directly, and the helper thread of CpuSolver (cpuThreads.ts) gets their source
 * text, so both threads run the very same code.
 */

/** Φ̃ of every cell in runs [k0, k1) (pairs of linear indices [start, end) in `runs`). */
export function phiRuns(xi: Float32Array, phi: Float32Array, runs: Int32Array, k0: number, k1: number, table: Float32Array, N: number, theta0: number): void {
  for (let k = k0; k < k1; k += 2) {
    for (let i = runs[k], e = runs[k + 1]; i < e; i++) {
      const x = (theta0 - xi[i]) * N;
      let j = x | 0; // truncation; for x < 0 the clamp gives j = 0 and x − j extrapolates
      j = j < 0 ? 0 : j > N - 1 ? N - 1 : j;
      const a = table[j];
      phi[i] = a + (x - j) * (table[j + 1] - a);
    }
  }
}

/** ξ_i ← ξ_i − r·(Σ_nbrs Φ̃_j − n_i·Φ̃_i) for the cells in runs [k0, k1); Φ̃ = 0 outside. */
export function stencilRuns(xi: Float32Array, out: Float32Array, phi: Float32Array, nIn: Float32Array, runs: Int32Array, k0: number, k1: number, r: number, nx: number): void {
  for (let k = k0; k < k1; k += 2) {
    for (let i = runs[k], e = runs[k + 1]; i < e; i++) {
      out[i] = xi[i] - r * (phi[i - 1] + phi[i + 1] + phi[i - nx] + phi[i + nx] - nIn[i] * phi[i]);
    }
  }
}
