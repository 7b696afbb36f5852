/**
 * The forward model's separable gather (forward.ts separableGather) in WebAssembly SIMD: two float64
 * lanes per instruction, each lane one output's sum taken in the same order as the JS loop (acc = 0,
 * then acc + w[k]·x[k] for k = 0, 1, …; wasm has no fused multiply-add), so the images are the same
 * bits (test/optics/forward.test.ts). The row pass runs two grid rows per vector on a column-major
 * copy of the field, the column pass two neighbouring pixels of a camera row.
 *
 * Why: a trace row of a run is one forward model, ~0.5 ms warm in JS on fig4c's camera and several
 * ms while V8 is still compiling it; a run of 121 trace rows spent ~70 ms there.
 */
import { assembleModule, FuncBuilder } from '../wasm/asm';

/** what the gather reads of a camera: its weights and which pixels and rows it computes */
export interface GatherLayout {
  width: number;
  height: number;
  nx: number;
  ny: number;
  wx: { starts: Int32Array; weights: Float64Array[] };
  wy: { starts: Int32Array; weights: Float64Array[] };
  /** the camera columns of the row pass */
  cols: Int32Array;
  /** [first, end) grid rows of the row pass */
  rows: [number, number];
  /** per camera row: [first, end) pixels of the column pass */
  spans: Int32Array;
}

type RowPass = (uT: number, ny: number, tmp: number, width: number, cols: number, nCols: number, r0: number, r1: number, wts: number) => void;
type ColPass = (tmp: number, width: number, dst: number, rows: number, nRows: number, wts: number) => void;

let gatherModule: WebAssembly.Module | null | undefined;

/**
 * One camera's gather: its weights, tables and buffers in one wasm memory. `load(u)` takes a
 * row-major field (nx × ny, float64), `run()` leaves blur(u) at the plan's pixels in `out`
 * (row-major width × height; other pixels 0).
 */
export class WasmGather {
  readonly out: Float64Array;
  private readonly uT: Float64Array;
  private readonly at: { uT: number; tmp: number; out: number; cols: number; rows: number; wts: number };
  private readonly rowPass: RowPass;
  private readonly colPass: ColPass;

  private constructor(private readonly g: GatherLayout, mod: WebAssembly.Module) {
    const { width, height, nx, ny, wx, wy, cols, spans } = g;
    // weights of the columns in the plan, then of the rows with a span; per column (p, j0, at, n), per row (q, i0, at, n, p0, p1)
    const colInfo = new Int32Array(4 * cols.length);
    const rowList: number[] = [];
    for (let q = 0; q < height; q++) if (spans[2 * q + 1] > spans[2 * q]) rowList.push(q);
    const rowInfo = new Int32Array(6 * rowList.length);
    let nW = 0;
    for (const p of cols) nW += wx.weights[p].length;
    for (const q of rowList) nW += wy.weights[q].length;
    // bytes: the column-major field (one spare row: a vector's second lane may read past the last
    // row), the row pass's output (+ 1 spare: the second lane past a row's last pixel), the image
    const sizes = { uT: 8 * (nx * ny + 2), tmp: 8 * (ny * width + 2), out: 8 * width * height, cols: colInfo.byteLength, rows: rowInfo.byteLength, wts: 8 * nW };
    let offset = 0;
    const place = (bytes: number) => { const a = offset; offset += Math.ceil(bytes / 16) * 16; return a; };
    this.at = { uT: place(sizes.uT), tmp: place(sizes.tmp), out: place(sizes.out), cols: place(sizes.cols), rows: place(sizes.rows), wts: place(sizes.wts) };
    const pages = Math.max(1, Math.ceil(offset / 65536));
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const buf = memory.buffer;
    const weights = new Float64Array(buf, this.at.wts, nW);
    let w = 0;
    cols.forEach((p, c) => {
      colInfo.set([p, wx.starts[p], w, wx.weights[p].length], 4 * c);
      weights.set(wx.weights[p], w);
      w += wx.weights[p].length;
    });
    rowList.forEach((q, r) => {
      rowInfo.set([q, wy.starts[q], w, wy.weights[q].length, spans[2 * q], spans[2 * q + 1]], 6 * r);
      weights.set(wy.weights[q], w);
      w += wy.weights[q].length;
    });
    new Int32Array(buf, this.at.cols, colInfo.length).set(colInfo);
    new Int32Array(buf, this.at.rows, rowInfo.length).set(rowInfo);
    this.uT = new Float64Array(buf, this.at.uT, nx * ny);
    this.out = new Float64Array(buf, this.at.out, width * height);
    const ex = new WebAssembly.Instance(mod, { e: { m: memory } }).exports;
    this.rowPass = ex.rowPass as RowPass;
    this.colPass = ex.colPass as ColPass;
    this.nRows = rowList.length;
  }

  private readonly nRows: number;

  /** The gather for a camera layout, or null where the engine has no WebAssembly SIMD. */
  static create(g: GatherLayout): WasmGather | null {
    return WasmGather.available() ? new WasmGather(g, gatherModule as WebAssembly.Module) : null;
  }

  /** Whether the engine runs the kernel (false: forwardModel gathers in JS). */
  static available(): boolean {
    if (gatherModule === undefined) {
      const bytes = gatherModuleBytes();
      gatherModule = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    }
    return gatherModule !== null;
  }

  /** Σ_j wx·u over the rows, then Σ_k wy·(that) down the columns, for a row-major u (nx × ny); the image in `out`. */
  run(u: Float64Array): Float64Array {
    const { nx, ny, width } = this.g;
    const uT = this.uT;
    for (let i = 0; i < ny; i++) for (let j = 0, at = i * nx; j < nx; j++) uT[j * ny + i] = u[at + j];
    const a = this.at;
    this.rowPass(a.uT, ny, a.tmp, width, a.cols, this.g.cols.length, this.g.rows[0], this.g.rows[1], a.wts);
    this.colPass(a.tmp, width, a.out, a.rows, this.nRows, a.wts);
    return this.out;
  }
}

/**
 * rowPass: for each column entry (p, j0, at, n) and grid rows i, i + 1 from r0 to r1:
 *   tmp[i·width + p] = Σ_k w[at + k]·uT[(j0 + k)·ny + i]  (the second lane for i + 1, stored if i + 1 < r1)
 * colPass: for each row entry (q, i0, at, n, p0, p1) and pixels p, p + 1 from p0 to p1:
 *   out[q·width + p] = Σ_k w[at + k]·tmp[(i0 + k)·width + p]
 * Addresses in bytes; w is the weights table at `wts`.
 */
function gatherModuleBytes(): Uint8Array<ArrayBuffer> {
  // one dot product of n weights from wPtr against vectors at xPtr, xPtr + stride, … into `acc`
  const dot = (f: FuncBuilder) => {
    f.f64(0).op('f64x2.splat').set('acc');
    f.get('n').set('k').get('wp').set('w').get('xp').set('x');
    f.block().get('k').op('i32.eqz').brIf(0).loop();
    f.get('acc').get('w').mem('f64.load').op('f64x2.splat').get('x').mem('v128.load', 0).op('f64x2.mul', 'f64x2.add').set('acc');
    f.get('w').i32(8).op('i32.add').set('w');
    f.get('x', 'xs').op('i32.add').set('x');
    f.get('k').i32(1).op('i32.sub').tee('k').brIf(0);
    f.op('end', 'end');
  };
  const row = new FuncBuilder('rowPass', [['uT', 'i32'], ['ny', 'i32'], ['tmp', 'i32'], ['width', 'i32'], ['cols', 'i32'], ['nCols', 'i32'], ['r0', 'i32'], ['r1', 'i32'], ['wts', 'i32']], [])
    .locals({ p: 'i32', j0: 'i32', n: 'i32', wp: 'i32', i: 'i32', xp: 'i32', xs: 'i32', k: 'i32', w: 'i32', x: 'i32', o: 'i32', acc: 'v128' });
  row.get('ny').i32(8).op('i32.mul').set('xs');
  row.block().get('nCols').op('i32.eqz').brIf(0).loop();
  row.get('cols').mem('i32.load', 0).set('p');
  row.get('cols').mem('i32.load', 4).set('j0');
  row.get('cols').mem('i32.load', 8).i32(8).op('i32.mul').get('wts').op('i32.add').set('wp');
  row.get('cols').mem('i32.load', 12).set('n');
  row.get('r0').set('i');
  row.block().loop();
  row.get('i', 'r1').op('i32.ge_s').brIf(1);
  // xp = uT + (j0·ny + i)·8; o = tmp + (i·width + p)·8
  row.get('j0', 'ny').op('i32.mul').get('i').op('i32.add').i32(8).op('i32.mul').get('uT').op('i32.add').set('xp');
  dot(row);
  row.get('i', 'width').op('i32.mul').get('p').op('i32.add').i32(8).op('i32.mul').get('tmp').op('i32.add').tee('o');
  row.get('acc').storeLane64(0);
  row.get('i').i32(1).op('i32.add').get('r1').op('i32.lt_s').if().get('o', 'width').i32(8).op('i32.mul').op('i32.add').get('acc').storeLane64(1).op('end');
  row.get('i').i32(2).op('i32.add').set('i');
  row.br(0).op('end', 'end');
  row.get('cols').i32(16).op('i32.add').set('cols');
  row.get('nCols').i32(1).op('i32.sub').tee('nCols').brIf(0);
  row.op('end', 'end');

  const col = new FuncBuilder('colPass', [['tmp', 'i32'], ['width', 'i32'], ['out', 'i32'], ['rows', 'i32'], ['nRows', 'i32'], ['wts', 'i32']], [])
    .locals({ q: 'i32', i0: 'i32', n: 'i32', wp: 'i32', p: 'i32', p1: 'i32', xp: 'i32', xs: 'i32', k: 'i32', w: 'i32', x: 'i32', o: 'i32', acc: 'v128' });
  col.get('width').i32(8).op('i32.mul').set('xs');
  col.block().get('nRows').op('i32.eqz').brIf(0).loop();
  col.get('rows').mem('i32.load', 0).set('q');
  col.get('rows').mem('i32.load', 4).set('i0');
  col.get('rows').mem('i32.load', 8).i32(8).op('i32.mul').get('wts').op('i32.add').set('wp');
  col.get('rows').mem('i32.load', 12).set('n');
  col.get('rows').mem('i32.load', 16).set('p');
  col.get('rows').mem('i32.load', 20).set('p1');
  col.block().loop();
  col.get('p', 'p1').op('i32.ge_s').brIf(1);
  // xp = tmp + (i0·width + p)·8; o = out + (q·width + p)·8
  col.get('i0', 'width').op('i32.mul').get('p').op('i32.add').i32(8).op('i32.mul').get('tmp').op('i32.add').set('xp');
  dot(col);
  col.get('q', 'width').op('i32.mul').get('p').op('i32.add').i32(8).op('i32.mul').get('out').op('i32.add').tee('o');
  col.get('acc').storeLane64(0);
  col.get('p').i32(1).op('i32.add').get('p1').op('i32.lt_s').if().get('o').i32(8).op('i32.add').get('acc').storeLane64(1).op('end');
  col.get('p').i32(2).op('i32.add').set('p');
  col.br(0).op('end', 'end');
  col.get('rows').i32(24).op('i32.add').set('rows');
  col.get('nRows').i32(1).op('i32.sub').tee('nRows').brIf(0);
  col.op('end', 'end');
  return assembleModule([row, col], { shared: false });
}
