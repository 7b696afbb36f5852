/**
 * The CPU step in WebAssembly (SIMD where the engine has it): the fused pass of cpuKernels.ts
 * (fusedRows: two rolling Φ̃ rows, each face flux once), bit-identical to phiRuns + stencilRuns.
 * Bit-identity: the same IEEE float64 operations in the same order (convert, mul, sub, mul; the
 * table lookup a + (x − j)·(b − a) with b − a tabulated as that very float64 difference; add; one
 * rounding to float32 by f32.demote_f64, which rounds to nearest even as a Float32Array store does),
 * and the same integers: i32.trunc_sat_f64_s equals ToInt32 (`| 0`) for |v| < 2³¹ and NaN → 0, and
 * int32 additions wrap as the Int32Array store of the JS sum does. |v| < 2³¹ is checked, not assumed:
 * the kernel returns max |Φ̃| of the pass, every flux is |rQ·(Φ̃_j − Φ̃_i)| ≤ rQ·2·max |Φ̃|, and a step
 * where that bound reaches 2³¹ is recomputed by the JS kernel (in practice |Φ̃| ≲ 1, rQ ≤ 2²⁶).
 * j = trunc(x) of x = (θ0 − ξ)·N, |ξ| < 8: |x| < 9N ≪ 2³¹, where trunc_sat and `| 0` agree too.
 *
 * SIMD (4 cells per iteration, float64 math in two f64x2 halves): the Φ̃ loop converts, clamps and
 * interpolates 4 cells at once, the lookup being 4 scalar 16-byte loads of (a, b − a) pairs; the
 * stencil loop computes 4 horizontal and 4 vertical fluxes (loads, promote, sub, mul,
 * trunc_sat_zero) and the left neighbour's flux by one shuffle from the previous vector. Row ends
 * run a scalar copy of the same arithmetic (no store beyond a span).
 *
 * Memory: the solver's two state buffers live in the module's memory (shared when threads are
 * possible), so a step copies nothing. Layout (byte offsets, 16-aligned): q0, q1, row table,
 * lookup pairs, then per thread two Φ̃ rows (nx + 8 float32), the V row and a spare output row.
 */
import { assembleModule, FuncBuilder } from '../wasm/asm';
import { fusedRows, ROW_STRIDE, rowTable } from './cpuKernels';
import { newWorker } from './workerFlags';
import { pacerSettings, ThreadPacer } from './threadPacer';

/** Which loop body the module gets: 4-wide SIMD with scalar row ends, or scalar only. */
export type WasmFlavour = 'simd' | 'scalar';

const OUTSIDE_Q = 0x7fffffff;
const NAN_F32 = 0x7fc00000;
/** byte shuffles: low 64 bits of both operands; high 64 bits of both; high half moved low */
const LOWLOW = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const HIGHHIGH = [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31];
const HIGH = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** [a3, b0, b1, b2]: the previous vector's last lane, then this one's first three */
const SHIFT1 = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];

/**
 * phi(qRow, c0, c1, dst, tab, θ0, 1/QUANTA, N) → max |Φ̃|: Φ̃ of the cells c0 ≤ c < c1 of one grid row
 * (q at byte qRow), into the float32 row at dst (NaN where q = OUTSIDE_Q). tab: N (a, b − a) float64 pairs.
 */
function phiFunction(simd: boolean): FuncBuilder {
  const f = new FuncBuilder('phi', [['qrow', 'i32'], ['c0', 'i32'], ['c1', 'i32'], ['dst', 'i32'], ['tab', 'i32'], ['theta0', 'f64'], ['invQ', 'f64'], ['N', 'i32']], ['f32']);
  f.locals({ c: 'i32', v: 'i32', j: 'i32', at: 'i32', x: 'f64', Nf: 'f64', p: 'f32', m: 'f32' });
  f.get('N').op('f64.convert_i32_s').set('Nf');
  f.get('c0').set('c');
  if (simd) {
    f.locals({ thv: 'v128', iqv: 'v128', nv: 'v128', nm1: 'v128', zero: 'v128', outv: 'v128', nanv: 'v128', tabv: 'v128', acc: 'v128', qv: 'v128', xl: 'v128', xh: 'v128', jv: 'v128', av: 'v128', p0: 'v128', p1: 'v128', p2: 'v128', p3: 'v128', ph: 'v128' });
    f.get('theta0').op('f64x2.splat').set('thv');
    f.get('invQ').op('f64x2.splat').set('iqv');
    f.get('Nf').op('f64x2.splat').set('nv');
    f.get('N').i32(1).op('i32.sub', 'i32x4.splat').set('nm1');
    f.i32(0).op('i32x4.splat').tee('zero').set('acc');
    f.i32(OUTSIDE_Q).op('i32x4.splat').set('outv');
    f.i32(NAN_F32).op('i32x4.splat').set('nanv');
    f.get('tab').op('i32x4.splat').set('tabv');
    f.block().loop();
    f.get('c').i32(4).op('i32.add').get('c1').op('i32.gt_s').brIf(1);
    f.get('qrow').get('c').i32(2).op('i32.shl', 'i32.add').mem('v128.load').set('qv');
    // x = (θ0 − q·invQ)·N, two cells per f64x2
    f.get('thv', 'qv').op('f64x2.convert_low_i32x4_s').get('iqv').op('f64x2.mul', 'f64x2.sub').get('nv').op('f64x2.mul').set('xl');
    f.get('thv', 'qv', 'qv').shuffle(HIGH).op('f64x2.convert_low_i32x4_s').get('iqv').op('f64x2.mul', 'f64x2.sub').get('nv').op('f64x2.mul').set('xh');
    // j = clamp(trunc x, 0, N − 1) for the 4 cells
    f.get('xl').op('i32x4.trunc_sat_f64x2_s_zero').get('xh').op('i32x4.trunc_sat_f64x2_s_zero').shuffle(LOWLOW);
    f.get('zero').op('i32x4.max_s').get('nm1').op('i32x4.min_s').set('jv');
    // the (a, b − a) pairs at tab + 16·j
    f.get('jv').i32(4).op('i32x4.shl').get('tabv').op('i32x4.add').set('av');
    f.get('av').lane(0).mem('v128.load').set('p0');
    f.get('av').lane(1).mem('v128.load').set('p1');
    f.get('av').lane(2).mem('v128.load').set('p2');
    f.get('av').lane(3).mem('v128.load').set('p3');
    // Φ̃ = f32(a + (x − j)·(b − a))
    f.get('p0', 'p1').shuffle(LOWLOW).get('xl', 'jv').op('f64x2.convert_low_i32x4_s', 'f64x2.sub').get('p0', 'p1').shuffle(HIGHHIGH).op('f64x2.mul', 'f64x2.add', 'f32x4.demote_f64x2_zero');
    f.get('p2', 'p3').shuffle(LOWLOW).get('xh', 'jv', 'jv').shuffle(HIGH).op('f64x2.convert_low_i32x4_s', 'f64x2.sub').get('p2', 'p3').shuffle(HIGHHIGH).op('f64x2.mul', 'f64x2.add', 'f32x4.demote_f64x2_zero');
    f.shuffle(LOWLOW).set('ph');
    // NaN outside; max |Φ̃| (pmax keeps the accumulator where the lane is NaN)
    f.get('nanv', 'ph', 'qv', 'outv').op('i32x4.eq', 'v128.bitselect').set('ph');
    f.get('acc', 'ph').op('f32x4.abs', 'f32x4.pmax').set('acc');
    f.get('dst').get('c').i32(2).op('i32.shl', 'i32.add').get('ph').mem('v128.store');
    f.get('c').i32(4).op('i32.add').set('c');
    f.br(0).op('end', 'end');
    f.get('acc').laneF32(0).get('acc').laneF32(1).op('f32.max').get('acc').laneF32(2).op('f32.max').get('acc').laneF32(3).op('f32.max').set('m');
  }
  // scalar cells (the row end, or every cell)
  f.block().loop();
  f.get('c', 'c1').op('i32.ge_s').brIf(1);
  f.get('qrow').get('c').i32(2).op('i32.shl', 'i32.add').mem('i32.load').tee('v').i32(OUTSIDE_Q).op('i32.eq');
  f.if();
  f.get('dst').get('c').i32(2).op('i32.shl', 'i32.add').f32bits(NAN_F32).mem('f32.store');
  f.op('else');
  f.get('theta0', 'v').op('f64.convert_i32_s').get('invQ').op('f64.mul', 'f64.sub').get('Nf').op('f64.mul').tee('x');
  f.op('i32.trunc_sat_f64_s').set('j');
  f.i32(0).get('j').get('j').i32(0).op('i32.lt_s', 'select').set('j');
  f.get('N').i32(1).op('i32.sub').get('j').get('j').get('N').i32(1).op('i32.sub', 'i32.gt_s', 'select').set('j');
  f.get('tab').get('j').i32(4).op('i32.shl', 'i32.add').set('at');
  f.get('at').mem('f64.load').get('x', 'j').op('f64.convert_i32_s', 'f64.sub').get('at').mem('f64.load', 8).op('f64.mul', 'f64.add', 'f32.demote_f64').set('p');
  f.get('dst').get('c').i32(2).op('i32.shl', 'i32.add').get('p').mem('f32.store');
  f.get('m', 'p').op('f32.abs', 'f32.max').set('m');
  f.op('end');
  f.get('c').i32(1).op('i32.add').set('c');
  f.br(0).op('end', 'end');
  f.get('m');
  return f;
}

/**
 * step(q, out, rows, r0, r1, halo, tab, θ0, 1/QUANTA, N, rQ, nx, phiA, phiB, fv, spare) → max |Φ̃|:
 * fusedRows (cpuKernels.ts) on byte offsets; `phi` is function 0.
 */
function stepFunction(simd: boolean): FuncBuilder {
  const f = new FuncBuilder('step', [['q', 'i32'], ['out', 'i32'], ['rows', 'i32'], ['r0', 'i32'], ['r1', 'i32'], ['halo', 'i32'], ['tab', 'i32'], ['theta0', 'f64'], ['invQ', 'f64'], ['N', 'i32'], ['rQ', 'f64'], ['nx', 'i32'], ['phiA', 'i32'], ['phiB', 'i32'], ['fv', 'i32'], ['spare', 'i32']], ['f32']);
  f.locals({ start: 'i32', y: 'i32', t: 'i32', cur: 'i32', nxt: 'i32', c: 'i32', e: 'i32', qb: 'i32', ob: 'i32', rb: 'i32', left: 'i32', h: 'i32', vv: 'i32', a: 'i32', m: 'f32', p: 'f64' });
  const phiCall = (row: () => void, t: () => void, o0: number, dst: string) => {
    row(); t(); f.mem('i32.load', o0); t(); f.mem('i32.load', o0 + 4);
    f.get(dst, 'tab', 'theta0', 'invQ', 'N').call(0);
  };
  const zeroRange = (o: number) => {
    f.get('t').mem('i32.load', o).set('c');
    f.get('t').mem('i32.load', o + 4).set('e');
    f.block().loop();
    f.get('c', 'e').op('i32.ge_s').brIf(1);
    f.get('fv').get('c').i32(2).op('i32.shl', 'i32.add').i32(0).mem('i32.store');
    f.get('c').i32(1).op('i32.add').set('c');
    f.br(0).op('end', 'end');
  };
  f.get('r0', 'halo').op('i32.sub').set('start');
  f.get('start', 'r1').op('i32.ge_s').if().f32bits(0).op('return', 'end');
  // the V row starts at 0 (a band without halo starts below an empty row)
  f.i32(0).set('c');
  f.block().loop();
  f.get('c', 'nx').op('i32.ge_s').brIf(1);
  f.get('fv').get('c').i32(2).op('i32.shl', 'i32.add').i32(0).mem('i32.store');
  f.get('c').i32(1).op('i32.add').set('c');
  f.br(0).op('end', 'end');
  f.get('nx').i32(2).op('i32.shl').set('rb'); // bytes per grid row
  f.get('phiA').set('cur');
  f.get('phiB').set('nxt');
  // Φ̃ of row `start`, on the columns planned at row start − 1
  f.get('rows').get('start').i32(1).op('i32.sub').i32(4 * ROW_STRIDE).op('i32.mul', 'i32.add').set('t');
  phiCall(() => f.get('q').get('start', 'rb').op('i32.mul', 'i32.add'), () => f.get('t'), 8, 'cur');
  f.set('m');
  f.get('start').set('y');
  f.block().loop();
  f.get('rows').get('y').i32(4 * ROW_STRIDE).op('i32.mul', 'i32.add').set('t');
  // Φ̃ of row y + 1
  phiCall(() => f.get('q').get('y').i32(1).op('i32.add').get('rb').op('i32.mul', 'i32.add'), () => f.get('t'), 8, 'nxt');
  f.get('m').op('f32.max').set('m');
  // the stencil of row y (the halo row's cells go to the spare row)
  f.get('q').get('y', 'rb').op('i32.mul', 'i32.add').set('qb');
  f.get('spare').get('out').get('y', 'rb').op('i32.mul', 'i32.add').get('halo').get('y', 'start').op('i32.eq', 'i32.and', 'select').set('ob');
  f.get('t').mem('i32.load').set('c');
  f.get('t').mem('i32.load', 4).set('e');
  f.i32(0).set('left');
  if (simd) {
    f.locals({ rqv: 'v128', cl: 'v128', ch: 'v128', H: 'v128', V: 'v128', Hprev: 'v128' });
    f.get('rQ').op('f64x2.splat').set('rqv');
    f.i32(0).op('i32x4.splat').set('Hprev');
    f.block().loop();
    f.get('c').i32(4).op('i32.add').get('e').op('i32.gt_s').brIf(1);
    f.get('cur').get('c').i32(2).op('i32.shl', 'i32.add').set('a');
    f.get('a').mem('v128.load64_zero').op('f64x2.promote_low_f32x4').set('cl');
    f.get('a').mem('v128.load64_zero', 8).op('f64x2.promote_low_f32x4').set('ch');
    // H = trunc(rQ·(Φ̃_{c+1} − Φ̃_c)), V = trunc(rQ·(Φ̃'_c − Φ̃_c)) for 4 cells
    f.get('rqv').get('a').mem('v128.load64_zero', 4).op('f64x2.promote_low_f32x4').get('cl').op('f64x2.sub', 'f64x2.mul', 'i32x4.trunc_sat_f64x2_s_zero');
    f.get('rqv').get('a').mem('v128.load64_zero', 12).op('f64x2.promote_low_f32x4').get('ch').op('f64x2.sub', 'f64x2.mul', 'i32x4.trunc_sat_f64x2_s_zero');
    f.shuffle(LOWLOW).set('H');
    f.get('nxt').get('c').i32(2).op('i32.shl', 'i32.add').set('a');
    f.get('rqv').get('a').mem('v128.load64_zero').op('f64x2.promote_low_f32x4').get('cl').op('f64x2.sub', 'f64x2.mul', 'i32x4.trunc_sat_f64x2_s_zero');
    f.get('rqv').get('a').mem('v128.load64_zero', 8).op('f64x2.promote_low_f32x4').get('ch').op('f64x2.sub', 'f64x2.mul', 'i32x4.trunc_sat_f64x2_s_zero');
    f.shuffle(LOWLOW).set('V');
    // out = q − H + H_left − V + V_above
    f.get('fv').get('c').i32(2).op('i32.shl', 'i32.add').set('a');
    f.get('ob').get('c').i32(2).op('i32.shl', 'i32.add');
    f.get('qb').get('c').i32(2).op('i32.shl', 'i32.add').mem('v128.load').get('H').op('i32x4.sub').get('Hprev', 'H').shuffle(SHIFT1).op('i32x4.add').get('V').op('i32x4.sub').get('a').mem('v128.load').op('i32x4.add');
    f.mem('v128.store');
    f.get('a', 'V').mem('v128.store');
    f.get('H').set('Hprev');
    f.get('c').i32(4).op('i32.add').set('c');
    f.br(0).op('end', 'end');
    f.get('Hprev').lane(3).set('left');
  }
  f.block().loop();
  f.get('c', 'e').op('i32.ge_s').brIf(1);
  f.get('cur').get('c').i32(2).op('i32.shl', 'i32.add').tee('a').mem('f32.load').op('f64.promote_f32').set('p');
  f.get('rQ').get('a').mem('f32.load', 4).op('f64.promote_f32').get('p').op('f64.sub', 'f64.mul', 'i32.trunc_sat_f64_s').set('h');
  f.get('rQ').get('nxt').get('c').i32(2).op('i32.shl', 'i32.add').mem('f32.load').op('f64.promote_f32').get('p').op('f64.sub', 'f64.mul', 'i32.trunc_sat_f64_s').set('vv');
  f.get('fv').get('c').i32(2).op('i32.shl', 'i32.add').set('a');
  f.get('ob').get('c').i32(2).op('i32.shl', 'i32.add');
  f.get('qb').get('c').i32(2).op('i32.shl', 'i32.add').mem('i32.load').get('h').op('i32.sub').get('left').op('i32.add').get('vv').op('i32.sub').get('a').mem('i32.load').op('i32.add');
  f.mem('i32.store');
  f.get('a', 'vv').mem('i32.store');
  f.get('h').set('left');
  f.get('c').i32(1).op('i32.add').set('c');
  f.br(0).op('end', 'end');
  zeroRange(16);
  zeroRange(24);
  f.get('cur').get('nxt').set('cur').set('nxt');
  f.get('y').i32(1).op('i32.add').tee('y').get('r1').op('i32.lt_s').brIf(0);
  f.op('end', 'end');
  f.get('m');
  return f;
}

/**
 * walls(out, idx, qu, offs, count, tab, θ0, 1/QUANTA, N, sf, gAbove, gBelow, check, res) → guard:
 * the wall flux and the stop test of CpuSolver.advance after a step, the same operations in the
 * same order as its JS loop: out[idx[w]] += qu[w] (int32, wrapping); guard |= the new value outside
 * [gBelow, gAbove]; where `check`, Φ̃s = f32(a + (x − j)·(b − a)) − sf·offs[w] of the new value
 * (offs float64), its min and max (NaN-free: compares, as the JS `<` and `>`) stored at res, res + 8.
 */
function wallsFunction(): FuncBuilder {
  const f = new FuncBuilder('walls', [['out', 'i32'], ['idx', 'i32'], ['qu', 'i32'], ['offs', 'i32'], ['count', 'i32'], ['tab', 'i32'], ['theta0', 'f64'], ['invQ', 'f64'], ['N', 'i32'], ['sf', 'f64'], ['gAbove', 'i32'], ['gBelow', 'i32'], ['check', 'i32'], ['res', 'i32']], ['i32']);
  f.locals({ w: 'i32', at: 'i32', v: 'i32', j: 'i32', guard: 'i32', x: 'f64', ps: 'f64', mn: 'f64', mx: 'f64', Nf: 'f64' });
  f.get('N').op('f64.convert_i32_s').set('Nf');
  f.f64(Infinity).set('mn');
  f.f64(-Infinity).set('mx');
  f.block().loop();
  f.get('w', 'count').op('i32.ge_s').brIf(1);
  // v = out[i] + qu[w], stored; the range guard
  f.get('out').get('idx').get('w').i32(2).op('i32.shl', 'i32.add').mem('i32.load').i32(2).op('i32.shl', 'i32.add').set('at');
  f.get('at').mem('i32.load').get('qu').get('w').i32(2).op('i32.shl', 'i32.add').mem('i32.load').op('i32.add').set('v');
  f.get('at', 'v').mem('i32.store');
  f.get('guard').get('v', 'gAbove').op('i32.gt_s').get('v', 'gBelow').op('i32.lt_s', 'i32.or', 'i32.or').set('guard');
  f.get('check').if();
  f.get('theta0', 'v').op('f64.convert_i32_s').get('invQ').op('f64.mul', 'f64.sub').get('Nf').op('f64.mul').tee('x');
  f.op('i32.trunc_sat_f64_s').set('j');
  f.i32(0).get('j').get('j').i32(0).op('i32.lt_s', 'select').set('j');
  f.get('N').i32(1).op('i32.sub').get('j').get('j').get('N').i32(1).op('i32.sub', 'i32.gt_s', 'select').set('j');
  f.get('tab').get('j').i32(4).op('i32.shl', 'i32.add').set('at');
  f.get('at').mem('f64.load').get('x', 'j').op('f64.convert_i32_s', 'f64.sub').get('at').mem('f64.load', 8).op('f64.mul', 'f64.add', 'f32.demote_f64', 'f64.promote_f32');
  f.get('sf').get('offs').get('w').i32(3).op('i32.shl', 'i32.add').mem('f64.load').op('f64.mul', 'f64.sub').set('ps');
  f.get('ps', 'mn', 'ps', 'mn').op('f64.lt', 'select').set('mn');
  f.get('ps', 'mx', 'ps', 'mx').op('f64.gt', 'select').set('mx');
  f.op('end');
  f.get('w').i32(1).op('i32.add').set('w');
  f.br(0).op('end', 'end');
  f.get('res', 'mn').mem('f64.store');
  f.get('res', 'mx').mem('f64.store', 8);
  f.get('guard');
  return f;
}

/** The module's bytes (built once per flavour and memory kind). */
const built = new Map<string, Uint8Array<ArrayBuffer>>();
export function stepModuleBytes(flavour: WasmFlavour, shared: boolean): Uint8Array<ArrayBuffer> {
  const key = `${flavour}/${shared}`;
  let b = built.get(key);
  if (!b) {
    b = assembleModule([phiFunction(flavour === 'simd'), stepFunction(flavour === 'simd'), wallsFunction()], { shared });
    built.set(key, b);
  }
  return b;
}

/** The wall step's parameters (CpuSolver's step parameters; see walls()). */
export interface WallStep { surfaceFactor: number; guardAboveQ: number; guardBelowQ: number; check: boolean }

/**
 * Where each chunk's wall cells sit in the wall list: chunk k (rows r0 … r1 − 1) owns the cells with
 * r0·nx ≤ index < r1·nx, a run of the list when it is in row order (as gridGeometry makes it). Null
 * when it is not, or there are no walls: the wall step then stays on the main thread, after the chunks.
 */
function wallSlices(index: ArrayLike<number> | undefined, chunks: Int32Array, nx: number): Int32Array | null {
  if (!index || index.length === 0) return null;
  for (let w = 1; w < index.length; w++) if (index[w] <= index[w - 1]) return null;
  const n = chunks.length / 2, out = new Int32Array(n + 1);
  let w = 0;
  for (let k = 0; k < n; k++) {
    while (w < index.length && index[w] < chunks[2 * k] * nx) w++;
    if (k === 0 && w > 0) return null; // a wall cell above the first chunk: no chunk would do it
    out[k] = w;
  }
  while (w < index.length && index[w] < chunks[2 * n - 1] * nx) w++;
  if (w !== index.length) return null; // a wall cell below the last chunk
  out[n] = w;
  return out;
}

type StepFn = (q: number, out: number, rows: number, r0: number, r1: number, halo: number, tab: number, theta0: number, invQ: number, N: number, rQ: number, nx: number, phiA: number, phiB: number, fv: number, spare: number) => number;
type WallsFn = (out: number, idx: number, qu: number, offs: number, count: number, tab: number, theta0: number, invQ: number, N: number, sf: number, gAbove: number, gBelow: number, check: number, res: number) => number;

/** One thread's scratch rows (byte offsets in the memory). */
interface Scratch { phiA: number; phiB: number; fv: number; spare: number }

/** The grid and table a stepper needs (a Problem's, see problem.ts). */
export interface WasmGrid {
  inside: Uint8Array; nx: number; ny: number; cells: number;
  /** the wall cells (linear indices) and their surface offsets: `walls()` needs them */
  walls?: { index: ArrayLike<number>; surfaceOffset_m: ArrayLike<number> };
}

export interface WasmStepOptions {
  /** 'simd' (default) or 'scalar' */
  flavour?: WasmFlavour;
  /** the stencil spans: 'runs' (default: first to last inside cell of each row) or 'rect' (the bounding box) */
  mode?: 'runs' | 'rect';
  /** a shared memory (needed for a helper thread) */
  shared?: boolean;
}

// control words: 0 step generation (main → helper), 2 quit, 3 failed (message length), 4 the chunk
// claim word (the step's tag << 8 | the next chunk), 5 chunks completed in this step; params
// (float64): 0 which state buffer is current, 1 rQ, 2–5 the wall step's surface factor, guard above
// and below (quanta) and stop test (1/0), 6 whether the chunks do their wall cells (1/0), 7 (tests)
// how long the helper sleeps after it claims a chunk, µs, then per chunk k: P_MAX + k its max |Φ̃|,
// P_MAX + n + k its wall cells' range guard (1/0)
const P_SF = 2, P_ABOVE = 3, P_BELOW = 4, P_CHECK = 5, P_WALLS = 6, P_OFF_CPU = 7, P_MAX = 8;
const WAIT_SLICE_MS = 20, SYNC_WAIT_MS = 200, SPIN_MS = 0.2, STALL_LIMIT_MS = 120_000, MESSAGE_BYTES = 512;
/**
 * Chunks of rows per step with two threads, taken in turn (a thread slowed by other work takes
 * fewer): an even number, at most CHUNKS, at least 2, about CHUNK_ROWS rows each — every chunk recomputes the Φ̃ and
 * vertical fluxes of the row above it, so short chunks cost a larger share (measured, fig4c's 122²:
 * 2 threads / 1 thread 1.44× with 2 chunks, 1.29× with 8, 1.19× with 16).
 */
const CHUNKS = 16, CHUNK_ROWS = 32;

/**
 * The handshake: the main thread publishes a step (params, a fresh claim word tagged with the
 * step's generation, then the generation) and both threads claim chunks with compare-and-swap on
 * the tagged word, so a helper that wakes late — or has not started yet — finds the tag changed and
 * takes nothing from a step it did not see begin. The main thread then waits only until every
 * chunk is completed (word 5): it never waits for a helper that took no chunk, so a helper thread
 * that is still booting, or descheduled by other work, costs nothing but its share.
 */
const TAG_MASK = 0x7fffff;
const helperSource = `
'use strict';
const { workerData: w } = require('node:worker_threads');
const ctrl = new Int32Array(w.ctrl), params = new Float64Array(w.params);
const n = w.chunks.length / 2, sleeper = new Int32Array(new SharedArrayBuffer(4));
/** the next chunk of the step tagged \`tag\`, or -1 (another step's word, or none left) */
function claim(tag) {
  for (;;) {
    const c = Atomics.load(ctrl, 4);
    if ((c >>> 8) !== tag || (c & 255) >= n) return -1;
    if (Atomics.compareExchange(ctrl, 4, c, c + 1) === c) return c & 255;
  }
}
let gen = 0;
try {
  const ex = new WebAssembly.Instance(w.module, { e: { m: w.memory } }).exports, step = ex.step, walls = ex.walls;
  for (;;) {
    let v;
    // spin briefly first: the next step usually comes within microseconds, and a futex wake costs ~50 µs
    for (let i = 0, until = performance.now() + ${SPIN_MS}; (v = Atomics.load(ctrl, 0)) === gen && ((++i & 63) !== 0 || performance.now() < until););
    while ((v = Atomics.load(ctrl, 0)) === gen) Atomics.wait(ctrl, 0, v); // sleeps on the value just tested
    gen = v;
    if (Atomics.load(ctrl, 2)) break;
    const tag = gen & ${TAG_MASK}, b = w.scratch, ch = w.chunks;
    if (w.delay_us > 0) for (const until = performance.now() + w.delay_us / 1000; performance.now() < until;); // tests: a late helper
    for (let k; (k = claim(tag)) >= 0;) {
      const off = params[${P_OFF_CPU}]; // tests: a helper taken off the CPU after it claimed a chunk
      if (off > 0) Atomics.wait(sleeper, 0, 0, off / 1000);
      // the parameters after the claim: a successful claim is of the step now published (even if the
      // helper slept through 2^23 generations and the tag came round again)
      const cur = params[0] | 0, rQ = params[1];
      params[${P_MAX} + k] = step(cur ? w.q1 : w.q0, cur ? w.q0 : w.q1, w.rows, ch[2 * k], ch[2 * k + 1], k > 0 ? 1 : 0, w.tab, w.theta0, w.invQ, w.N, rQ, w.nx, b.phiA, b.phiB, b.fv, b.spare);
      if (params[${P_WALLS}]) {
        // the chunk's wall cells (rows r0 … r1 − 1 of the new state): their flux, range guard and θs range
        const ws = w.wallStart, x = w.wall, w0 = ws[k];
        params[${P_MAX} + n + k] = walls(cur ? w.q0 : w.q1, x.idx + 4 * w0, x.qu + 4 * w0, x.offs + 8 * w0, ws[k + 1] - w0, w.tab, w.theta0, w.invQ, w.N, params[${P_SF}], params[${P_ABOVE}] | 0, params[${P_BELOW}] | 0, params[${P_CHECK}] | 0, x.res + 16 * (k + 1));
      }
      Atomics.add(ctrl, 5, 1);
      Atomics.notify(ctrl, 5);
    }
  }
} catch (e) {
  // the main thread may be inside Atomics.wait, where no message reaches it: the reason goes to shared memory
  const text = new TextEncoder().encode(String((e && e.stack) || e)).slice(0, ${MESSAGE_BYTES});
  new Uint8Array(w.message).set(text);
  Atomics.store(ctrl, 3, text.length || 1);
  Atomics.notify(ctrl, 5);
}
`;

type WorkerLike = { terminate(): unknown; unref(): void; on(event: string, listener: (arg: unknown) => void): unknown; once(event: string, listener: (arg: unknown) => void): unknown };

/** Whether this engine runs the SIMD kernel (WebAssembly with fixed-width SIMD). */
export function wasmSimdAvailable(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(stepModuleBytes('simd', false));
  } catch {
    return false;
  }
}

/**
 * The wasm CPU step: owns the memory holding the two state buffers (`q`), runs one step from q[cur]
 * into q[1 − cur] (no wall flux), on this thread or with one helper thread. Two threads: the rows
 * are cut into CHUNKS chunks of equal cell count that both threads take in turn from a shared
 * counter (a thread slowed by other processes takes fewer); a chunk recomputes the Φ̃ and vertical
 * fluxes of the row above it (its halo) instead of waiting for them, so there is one handshake per
 * step, at the end. While the two threads do not get a core each (another process holds one: the
 * helper is then off the CPU with a chunk the main thread waits for, or the other way round), the
 * steps run on this thread alone and the helper sleeps, with retries (threadPacer.ts).
 */
export class WasmStepper {
  readonly q: [Int32Array, Int32Array];
  readonly flavour: WasmFlavour;
  private readonly memory: WebAssembly.Memory;
  private readonly bytes: Uint8Array<ArrayBuffer>;
  /** compiled once: the helper thread instantiates the same module, so it shares the optimised code */
  private readonly module: WebAssembly.Module;
  private readonly fn: StepFn;
  private readonly wallsFn: WallsFn;
  private readonly at: { q0: number; q1: number; rows: number; tab: number };
  /** the wall list in the memory (byte offsets; count 0: no walls given) */
  private readonly wall: { idx: number; qu: number; offs: number; res: number; count: number; quanta: Int32Array; range: Float64Array; all: Float64Array };
  private readonly scratch: Scratch[];
  /** [r0, r1) row pairs: chunk k of a two-thread step */
  private readonly chunks: Int32Array;
  /** chunk k's wall cells are wall[wallStart[k] … wallStart[k + 1] − 1] (null: the list is not in row order) */
  private readonly wallStart: Int32Array | null;
  /** the range guard of the last step with walls (see step) */
  private lastGuard = false;
  /** chunks the helper thread has done, over all steps (tests and the bench: is it taking its share?) */
  helperChunks = 0;
  /** whether a step is offered to the helper (null: always; see threadPacer.ts) */
  private pacer: ThreadPacer | null = null;
  private readonly rows: Int32Array;
  private readonly nx: number;
  private readonly ny: number;
  private readonly table: Float32Array;
  private helper: { worker: WorkerLike; ctrl: Int32Array; params: Float64Array; message: Uint8Array; gen: number; failure: string | null; stopping: boolean } | null = null;
  private fallback: { phiA: Float32Array; phiB: Float32Array; fv: Int32Array; spare: Int32Array } | null = null;
  /** steps that the JS kernel recomputed (a flux bound at or over 2³¹; see the file comment) */
  jsSteps = 0;

  private constructor(grid: WasmGrid, table: Float32Array, private readonly N: number, private readonly theta0: number, private readonly invQ: number, opts: Required<WasmStepOptions>) {
    const { nx, ny } = grid, n = nx * ny;
    this.nx = nx; this.ny = ny; this.table = table; this.flavour = opts.flavour;
    this.rows = rowTable(grid.inside, nx, ny, opts.mode);
    // chunks of about equal cell count (at least 4 rows each) for two threads
    const rowCells = new Float64Array(ny);
    for (let y = 0; y < ny; y++) for (let c = 0; c < nx; c++) rowCells[y] += grid.inside[y * nx + c];
    const wanted = Math.max(2, Math.min(CHUNKS, Math.floor((ny - 2) / CHUNK_ROWS)));
    const nChunks = Math.max(1, Math.min(wanted - (wanted % 2), Math.floor((ny - 2) / 4))); // even: equal shares on a quiet machine
    const bounds = [1];
    for (let y = 1, acc = 0; y < ny - 1; y++) {
      acc += rowCells[y];
      if (bounds.length < nChunks && acc >= (grid.cells * bounds.length) / nChunks && y + 1 < ny - 1) bounds.push(y + 1);
    }
    bounds.push(ny - 1);
    this.chunks = Int32Array.from(bounds.slice(0, -1).flatMap((r0, k) => [r0, bounds[k + 1]]));
    let top = 0;
    const take = (bytes: number) => { const a = top; top += Math.ceil(bytes / 16) * 16; return a; };
    const q0 = take(4 * n + 16), q1 = take(4 * n + 16), rows = take(4 * this.rows.length), tab = take(16 * N);
    const count = grid.walls?.index.length ?? 0;
    // wall results: slot 0 the whole step's [min, max], slot k + 1 chunk k's
    const wIdx = take(4 * count), wQu = take(4 * count), wOffs = take(8 * count), wRes = take(16 * (1 + this.chunks.length / 2));
    this.scratch = Array.from({ length: opts.shared ? 2 : 1 }, () => ({ phiA: take(4 * (nx + 8)), phiB: take(4 * (nx + 8)), fv: take(4 * nx), spare: take(4 * nx) }));
    const pages = Math.ceil(top / 65536);
    this.memory = opts.shared ? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }) : new WebAssembly.Memory({ initial: pages, maximum: pages });
    this.at = { q0, q1, rows, tab };
    const buf = this.memory.buffer;
    this.wall = { idx: wIdx, qu: wQu, offs: wOffs, res: wRes, count, quanta: new Int32Array(buf, wQu, count), range: new Float64Array(buf, wRes, 2), all: new Float64Array(buf, wRes, 2 * (1 + this.chunks.length / 2)) };
    if (grid.walls) {
      new Int32Array(buf, wIdx, count).set(grid.walls.index);
      new Float64Array(buf, wOffs, count).set(grid.walls.surfaceOffset_m);
    }
    this.wallStart = wallSlices(grid.walls?.index, this.chunks, nx);
    this.q = [new Int32Array(buf, q0, n), new Int32Array(buf, q1, n)];
    new Int32Array(buf, rows, this.rows.length).set(this.rows);
    const pairs = new Float64Array(buf, tab, 2 * N);
    for (let j = 0; j < N; j++) { pairs[2 * j] = table[j]; pairs[2 * j + 1] = table[j + 1] - table[j]; } // the float64 b − a of the JS lookup
    for (const b of this.scratch) { new Float32Array(buf, b.phiA, nx + 8).fill(NaN); new Float32Array(buf, b.phiB, nx + 8).fill(NaN); }
    this.bytes = stepModuleBytes(opts.flavour, opts.shared);
    this.module = new WebAssembly.Module(this.bytes);
    const exports = new WebAssembly.Instance(this.module, { e: { m: this.memory } }).exports;
    this.fn = exports.step as StepFn;
    this.wallsFn = exports.walls as WallsFn;
  }

  /**
   * A stepper for `grid`, or null where WebAssembly (with SIMD for 'simd'; with shared memory when
   * `shared`) is unavailable. table/N/theta0: the Kirchhoff table (problem.table) and θ0.
   */
  static create(grid: WasmGrid, table: Float32Array, N: number, theta0: number, invQ: number, options: WasmStepOptions = {}): WasmStepper | null {
    const opts: Required<WasmStepOptions> = { flavour: options.flavour ?? 'simd', mode: options.mode ?? 'runs', shared: options.shared ?? false };
    if (typeof WebAssembly !== 'object') return null;
    if (opts.shared && typeof SharedArrayBuffer !== 'function') return null;
    if (!WebAssembly.validate(stepModuleBytes(opts.flavour, opts.shared))) return null;
    if (grid.nx * grid.ny * 8 > 2 ** 32 - (1 << 26)) return null; // the state must fit in 4 GiB of wasm memory
    try {
      return new WasmStepper(grid, table, N, theta0, invQ, opts);
    } catch {
      return null; // e.g. shared memory refused (a page without cross-origin isolation)
    }
  }

  /** Whether a helper thread shares the steps. */
  get threads(): number {
    return this.helper ? 2 : 1;
  }

  /**
   * Starts the helper thread (Node worker_threads; the memory must be shared). It is not awaited:
   * steps run on this thread alone until the helper has booted (~25 ms) and claims chunks.
   * Steps are offered to it while the two threads have a core each (threadPacer.ts). Tests only:
   * `helperDelay_us`, the helper spins this long after it sees a step begin; `helperOffCpu_us`, it
   * sleeps this long after it claims a chunk; `alwaysTwoThreads`, every
   * step is offered to the helper, whatever it costs; `probeEvery_ms`, the pacer's probes on one
   * thread (by default every second on machines of more than 2 cores, none on 2).
   */
  async startHelper(hooks: { helperDelay_us?: number; helperOffCpu_us?: number; alwaysTwoThreads?: boolean; probeEvery_ms?: number } = {}): Promise<void> {
    if (this.helper || this.scratch.length < 2) return;
    const { Worker } = await import('node:worker_threads');
    const nChunks = this.chunks.length / 2;
    const ctrl = new Int32Array(new SharedArrayBuffer(32)), params = new Float64Array(new SharedArrayBuffer(8 * (P_MAX + 2 * nChunks))), message = new Uint8Array(new SharedArrayBuffer(MESSAGE_BYTES));
    // CommonJS source: newWorker keeps a parent's --input-type=module from reaching it
    const worker = newWorker(Worker, helperSource, {
      workerData: {
        ctrl: ctrl.buffer, params: params.buffer, message: message.buffer, memory: this.memory, module: this.module, scratch: this.scratch[1], chunks: Array.from(this.chunks),
        q0: this.at.q0, q1: this.at.q1, rows: this.at.rows, tab: this.at.tab, theta0: this.theta0, invQ: this.invQ, N: this.N, nx: this.nx,
        wall: { idx: this.wall.idx, qu: this.wall.qu, offs: this.wall.offs, res: this.wall.res }, wallStart: Array.from(this.wallStart ?? []),
        delay_us: hooks.helperDelay_us ?? 0,
      },
    }) as unknown as WorkerLike;
    params[P_OFF_CPU] = hooks.helperOffCpu_us ?? 0;
    const { availableParallelism, cpus } = await import('node:os');
    const settings = pacerSettings(typeof availableParallelism === 'function' ? availableParallelism() : cpus().length);
    this.pacer = hooks.alwaysTwoThreads ? null : new ThreadPacer(undefined, hooks.probeEvery_ms === undefined ? settings : { ...settings, probeEvery_ms: hooks.probeEvery_ms });
    const helper = { worker, ctrl, params, message, gen: 0, failure: null as string | null, stopping: false };
    worker.on('error', (e) => { helper.failure ??= `the CPU solver's helper thread failed: ${(e as Error).message}`; });
    worker.on('exit', (code) => { if (!helper.stopping) helper.failure ??= `the CPU solver's helper thread exited (code ${code as number})`; });
    worker.unref(); // never keeps the process alive
    this.helper = helper;
  }

  private helperMessage(h: NonNullable<WasmStepper['helper']>): string | null {
    const len = Atomics.load(h.ctrl, 3);
    if (len > 0) return `the CPU solver's helper thread failed: ${new TextDecoder().decode(h.message.slice(0, Math.min(len, MESSAGE_BYTES))).split('\n')[0]}`;
    return h.failure;
  }

  /** rows [r0, r1) (`halo`: r0 − 1 as well, see fusedRows) with scratch rows `b` */
  private run(r0: number, r1: number, halo: 0 | 1, b: Scratch, cur: 0 | 1, rQ: number): number {
    const a = this.at;
    return this.fn(cur ? a.q1 : a.q0, cur ? a.q0 : a.q1, a.rows, r0, r1, halo, a.tab, this.theta0, this.invQ, this.N, rQ, this.nx, b.phiA, b.phiB, b.fv, b.spare);
  }

  /**
   * One step from q[cur] into q[1 − cur], rQ = r·QUANTA, and with `walls` the wall step after it (the
   * flux into the wall cells, the range guard and θs range of `walls()`; then `guard` and `wallRange`
   * hold the results). With the helper, each chunk's thread does the wall cells of its own rows
   * right after its stencil — the same integer additions on disjoint cells, and min/max and "or"
   * taken over the chunks are the same as over the list — so the wall step is not left on this
   * thread alone. Returns undefined when done, or a promise when the helper was slow to finish a
   * chunk it took (the step is done when it resolves; the event loop ran meanwhile).
   */
  step(cur: 0 | 1, rQ: number, walls?: WallStep): Promise<void> | undefined {
    const h = this.helper, pacer = this.pacer;
    const t0 = pacer ? performance.now() : 0;
    if (!h || (pacer && !pacer.useHelper(t0))) {
      this.check(this.run(1, this.ny - 1, 0, this.scratch[0], cur, rQ), cur, rQ);
      if (walls) this.lastGuard = this.walls((1 - cur) as 0 | 1, walls.surfaceFactor, walls.guardAboveQ, walls.guardBelowQ, walls.check);
      if (h && pacer) pacer.stepAlone(t0, performance.now());
      return undefined;
    }
    const fail = this.helperMessage(h);
    if (fail) throw new Error(fail);
    const ch = this.chunks, n = ch.length / 2, ctrl = h.ctrl, params = h.params;
    const chunked = walls !== undefined && this.wallStart !== null;
    params[0] = cur;
    params[1] = rQ;
    params[P_WALLS] = chunked ? 1 : 0;
    if (walls) {
      params[P_SF] = walls.surfaceFactor;
      params[P_ABOVE] = walls.guardAboveQ;
      params[P_BELOW] = walls.guardBelowQ;
      params[P_CHECK] = walls.check ? 1 : 0;
    }
    const gen = ++h.gen, tag = gen & TAG_MASK;
    Atomics.store(ctrl, 5, 0);
    Atomics.store(ctrl, 4, tag << 8);
    Atomics.store(ctrl, 0, gen);
    Atomics.notify(ctrl, 0);
    let mine = 0;
    for (;;) {
      const c = Atomics.load(ctrl, 4);
      if ((c & 255) >= n) break; // only this thread changes the tag
      if (Atomics.compareExchange(ctrl, 4, c, c + 1) !== c) continue;
      const k = c & 255;
      params[P_MAX + k] = this.run(ch[2 * k], ch[2 * k + 1], k > 0 ? 1 : 0, this.scratch[0], cur, rQ);
      if (chunked) params[P_MAX + n + k] = this.chunkWalls(k, (1 - cur) as 0 | 1, walls);
      Atomics.add(ctrl, 5, 1);
      mine++;
    }
    this.helperChunks += n - mine;
    if (this.waitHelper(h, n, SYNC_WAIT_MS)) {
      this.finishStep(h, n, cur, rQ, walls, chunked);
      pacer?.stepTogether(t0, performance.now(), n - mine);
      return undefined;
    }
    return this.slowStep(h, n, cur, rQ, walls, chunked).then(() => pacer?.stepTogether(t0, performance.now(), n - mine));
  }

  /** The helper's pacing (threadPacer.ts): steps on one thread, spells, the last window's cores; null without a helper or with alwaysTwoThreads. */
  get pacing(): Pick<ThreadPacer, 'soloSteps' | 'probeSteps' | 'spells' | 'lastCores' | 'soloStep_ms' | 'togetherStep_ms' | 'alone'> | null {
    return this.pacer;
  }

  /** step(), when the helper is slow to finish a chunk: waits with the event loop running, then finishes */
  private async slowStep(h: NonNullable<WasmStepper['helper']>, n: number, cur: 0 | 1, rQ: number, walls: WallStep | undefined, chunked: boolean): Promise<void> {
    const t0 = performance.now();
    while (!this.waitHelper(h, n, WAIT_SLICE_MS)) {
      await new Promise((resolve) => setTimeout(resolve, 0)); // signals and worker events run here
      if (performance.now() - t0 > STALL_LIMIT_MS) throw new Error(`the CPU solver's helper thread has not answered for ${STALL_LIMIT_MS / 1000} s; run again, or with --backend gpu`);
    }
    this.finishStep(h, n, cur, rQ, walls, chunked);
  }

  /** After every chunk of a step is done: the flux-range check, then the wall step's results (merged over the chunks, or all cells once more) */
  private finishStep(h: NonNullable<WasmStepper['helper']>, n: number, cur: 0 | 1, rQ: number, walls: WallStep | undefined, chunked: boolean): void {
    const params = h.params; // h, not this.helper: stop() may have run while the step waited
    let m = 0;
    for (let k = 0; k < n; k++) m = Math.max(m, params[P_MAX + k]);
    const recomputed = this.check(m, cur, rQ);
    if (!walls) return;
    if (!chunked || recomputed) {
      // the JS recomputation wrote the whole new state: its wall cells once more, all of them
      this.lastGuard = this.walls((1 - cur) as 0 | 1, walls.surfaceFactor, walls.guardAboveQ, walls.guardBelowQ, walls.check);
      return;
    }
    const res = this.wall.all;
    let mn = Infinity, mx = -Infinity, guard = false;
    for (let k = 0; k < n; k++) {
      mn = Math.min(mn, res[2 * (k + 1)]);
      mx = Math.max(mx, res[2 * (k + 1) + 1]);
      guard ||= params[P_MAX + n + k] !== 0;
    }
    res[0] = mn;
    res[1] = mx;
    this.lastGuard = guard;
  }

  /** Whether each chunk's thread does its own wall cells (a wall list in row order; see step). */
  get wallsInChunks(): boolean {
    return this.wallStart !== null;
  }

  /** the range guard of the last step() with walls */
  get guard(): boolean {
    return this.lastGuard;
  }

  /** chunk k's wall cells (walls() on a slice of the list), results in slot k + 1; returns the guard as 1/0 */
  private chunkWalls(k: number, out: 0 | 1, walls: WallStep): number {
    const w = this.wall, a = this.at, ws = this.wallStart as Int32Array, w0 = ws[k];
    return this.wallsFn(out ? a.q1 : a.q0, w.idx + 4 * w0, w.qu + 4 * w0, w.offs + 8 * w0, ws[k + 1] - w0, a.tab, this.theta0, this.invQ, this.N, walls.surfaceFactor, walls.guardAboveQ, walls.guardBelowQ, walls.check ? 1 : 0, w.res + 16 * (k + 1));
  }

  /** Waits up to budget_ms until all n chunks of the step are completed; throws when the helper failed. */
  private waitHelper(h: NonNullable<WasmStepper['helper']>, n: number, budget_ms: number): boolean {
    const ctrl = h.ctrl;
    // the helper is at most one chunk behind: spin a little before sleeping
    for (let i = 0, spinUntil = performance.now() + SPIN_MS; Atomics.load(ctrl, 5) !== n && ((++i & 63) !== 0 || performance.now() < spinUntil););
    const until = performance.now() + budget_ms;
    for (;;) {
      const v = Atomics.load(ctrl, 5);
      if (v === n) return true;
      const fail = this.helperMessage(h);
      if (fail) throw new Error(fail);
      const left = until - performance.now();
      if (left <= 0) return false;
      Atomics.wait(ctrl, 5, v, Math.min(WAIT_SLICE_MS, left)); // on v, the value just tested
    }
  }

  /** Whether `walls()` has the wall list (the grid passed to `create` had `walls`). */
  get hasWalls(): boolean {
    return this.wall.count > 0;
  }

  /** The wall quanta of the current step (wallQuanta of quanta.ts), one per wall cell. */
  setQuanta(quanta: Int32Array): void {
    this.wall.quanta.set(quanta);
  }

  /**
   * After a step into q[out]: the wall flux and the stop test (see wallsFunction). Returns whether the
   * range guard fired; `wallRange` then holds [min, max] of Φ̃s − sf·offset (±Infinity without `check`).
   */
  walls(out: 0 | 1, surfaceFactor: number, guardAboveQ: number, guardBelowQ: number, check: boolean): boolean {
    const w = this.wall, a = this.at;
    return this.wallsFn(out ? a.q1 : a.q0, w.idx, w.qu, w.offs, w.count, a.tab, this.theta0, this.invQ, this.N, surfaceFactor, guardAboveQ, guardBelowQ, check ? 1 : 0, w.res) !== 0;
  }

  /** [min, max] of the last `walls()` */
  get wallRange(): Float64Array {
    return this.wall.range;
  }

  /** The flux-range guard (see the file comment): recompute the step in JS when the bound fails. */
  private check(maxAbsPhi: number, cur: 0 | 1, rQ: number): boolean {
    if (Math.abs(rQ) * 2 * maxAbsPhi < 2 ** 31) return false;
    const nx = this.nx;
    this.fallback ??= { phiA: new Float32Array(nx + 8).fill(NaN), phiB: new Float32Array(nx + 8).fill(NaN), fv: new Int32Array(nx), spare: new Int32Array(nx) };
    const f = this.fallback;
    fusedRows(this.q[cur], this.q[1 - cur], this.rows, 1, this.ny - 1, false, this.table, this.N, this.theta0, this.invQ, rQ, nx, f.phiA, f.phiB, f.fv, f.spare);
    this.jsSteps++;
    return true;
  }

  stop(): void {
    const h = this.helper;
    if (!h) return;
    h.stopping = true;
    Atomics.store(h.ctrl, 2, 1);
    Atomics.store(h.ctrl, 0, ++h.gen);
    Atomics.notify(h.ctrl, 0);
    h.worker.terminate();
    this.helper = null;
  }
}
