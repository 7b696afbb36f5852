/**
 * The bulk loops of one CPU step, as self-contained functions of their arguments only: the main
 * thread calls them directly, and the helper thread of CpuSolver (cpuThreads.ts) gets their source
 * text, so both threads run the very same code. State: fixed-point quanta (see quanta.ts).
 * phiRuns + stencilRuns are the reference ("split": a grid-sized Φ̃ array, then the stencil);
 * fusedRows is the same step in one pass (the JS fallback of the WebAssembly kernel, cpuWasm.ts,
 * which follows it line by line).
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

/** Int32 entries per row in a row table (see rowTable). */
export const ROW_STRIDE = 8;

/**
 * The per-row plan of the fused step (fusedRows, and the wasm kernel of cpuWasm.ts), ROW_STRIDE
 * int32 per grid row y, columns as [start, end):
 *   0–1 the stencil span of row y: 'runs' = first to last inside cell of the row, 'rect' = the
 *       particle's bounding box on every row it touches (empty rows: 0, 0);
 *   2–3 the columns where Φ̃ of row y+1 is computed during row y's pass: both rows' spans and one
 *       more on the right (the horizontal flux of a span's last cell reads Φ̃ one past it), so that
 *       every Φ̃ a stencil reads was written for its own row (the rolling rows are reused);
 *   4–7 two column ranges of the vertical-flux row to zero after row y's pass: where row y+1 has
 *       cells and row y none (that flux is 0: its upper cell is outside).
 * Rows 0 and ny−1 hold no inside cells (buildGrid keeps one outside cell on every side).
 */
export function rowTable(inside: Uint8Array, nx: number, ny: number, mode: 'runs' | 'rect'): Int32Array {
  const span = new Int32Array(2 * ny);
  let x0 = nx, x1 = 0;
  for (let y = 0; y < ny; y++) {
    let s = -1, e = -1;
    for (let c = 0; c < nx; c++) if (inside[y * nx + c]) { if (s < 0) s = c; e = c + 1; }
    if (s >= 0) { span[2 * y] = s; span[2 * y + 1] = e; x0 = Math.min(x0, s); x1 = Math.max(x1, e); }
  }
  if (mode === 'rect') for (let y = 0; y < ny; y++) if (span[2 * y + 1] > 0) { span[2 * y] = x0; span[2 * y + 1] = x1; }
  const t = new Int32Array(ROW_STRIDE * ny);
  const empty = (y: number) => y < 0 || y >= ny || span[2 * y + 1] === 0;
  for (let y = 0; y < ny; y++) {
    const s = span[2 * y], e = span[2 * y + 1];
    t[ROW_STRIDE * y] = s; t[ROW_STRIDE * y + 1] = e;
    if (y + 1 < ny) {
      const s1 = span[2 * y + 2], e1 = span[2 * y + 3];
      let a = nx, b = 0;
      if (!empty(y)) { a = Math.min(a, s); b = Math.max(b, e + 1); }
      if (!empty(y + 1)) { a = Math.min(a, s1); b = Math.max(b, e1 + 1); }
      if (a < b) { t[ROW_STRIDE * y + 2] = a; t[ROW_STRIDE * y + 3] = b; }
      if (!empty(y + 1)) {
        if (empty(y)) { t[ROW_STRIDE * y + 4] = s1; t[ROW_STRIDE * y + 5] = e1; }
        else {
          t[ROW_STRIDE * y + 4] = s1; t[ROW_STRIDE * y + 5] = Math.max(s1, Math.min(e1, s));
          t[ROW_STRIDE * y + 6] = Math.min(e1, Math.max(s1, e)); t[ROW_STRIDE * y + 7] = e1;
        }
      }
    }
  }
  return t;
}

/**
 * One whole step (Φ̃ and stencil fused) for the grid rows [r0, r1), bit-identical to phiRuns +
 * stencilRuns: Φ̃ is computed once per cell into two rolling rows (`phiA`, `phiB`, nx + 8 float32,
 * NaN-filled when allocated) instead of a grid-sized array, and each face flux is computed once
 * (the quanta.ts symmetry: trunc(rQ·(Φ̃_i − Φ̃_j)) = −trunc(rQ·(Φ̃_j − Φ̃_i)) exactly, as IEEE
 * subtraction and multiplication are sign-symmetric and ToInt32 is odd modulo 2³²):
 *   out_i = q_i − H_i + H_{i−1} − V_i + V_{i−nx},  H_i = trunc(rQ·(Φ̃_{i+1} − Φ̃_i)), V_i = trunc(rQ·(Φ̃_{i+nx} − Φ̃_i)),
 * with the row above's V in `fv` (nx int32). Outside cells (q = OUTSIDE_Q 0x7fffffff) get Φ̃ = NaN,
 * whose fluxes truncate to 0 (an inside cell never holds that q: it is ξ ≈ 8, beyond the fixed-point
 * range |ξ| < 8 of quanta.ts). `halo`: also run row r0 − 1, writing its cells into `spare` (nx int32)
 * instead of `out` — its V row is what row r0 needs (a thread's band starting inside the grid).
 * `rows`: rowTable. Self-contained (the helper thread of cpuWasm.ts gets its source text).
 */
export function fusedRows(q: Int32Array, out: Int32Array, rows: Int32Array, r0: number, r1: number, halo: boolean, table: Float32Array, N: number, theta0: number, invQuanta: number, rQ: number, nx: number, phiA: Float32Array, phiB: Float32Array, fv: Int32Array, spare: Int32Array): void {
  const start = halo ? r0 - 1 : r0;
  if (start >= r1) return;
  // Φ̃ of grid row `row` into `dst` on the columns [c0, c1)
  const phiRow = (row: number, c0: number, c1: number, dst: Float32Array) => {
    for (let c = c0, b = row * nx; c < c1; c++) {
      const v = q[b + c];
      if (v === 0x7fffffff) { dst[c] = NaN; continue; }
      const x = (theta0 - v * invQuanta) * N;
      let j = x | 0;
      j = j < 0 ? 0 : j > N - 1 ? N - 1 : j;
      const a = table[j];
      dst[c] = a + (x - j) * (table[j + 1] - a);
    }
  };
  fv.fill(0);
  let cur = phiA, nxt = phiB;
  phiRow(start, rows[8 * start - 6], rows[8 * start - 5], cur); // the columns planned at row start − 1
  for (let y = start; y < r1; y++) {
    const t = 8 * y;
    phiRow(y + 1, rows[t + 2], rows[t + 3], nxt);
    const o = halo && y === start ? spare : out, ob = halo && y === start ? 0 : y * nx, b = y * nx;
    let left = 0;
    for (let c = rows[t], e = rows[t + 1]; c < e; c++) {
      const p = cur[c];
      const h = (rQ * (cur[c + 1] - p)) | 0;
      const v = (rQ * (nxt[c] - p)) | 0;
      o[ob + c] = q[b + c] - h + left - v + fv[c];
      fv[c] = v;
      left = h;
    }
    for (let c = rows[t + 4]; c < rows[t + 5]; c++) fv[c] = 0;
    for (let c = rows[t + 6]; c < rows[t + 7]; c++) fv[c] = 0;
    const sw = cur; cur = nxt; nxt = sw;
  }
}
