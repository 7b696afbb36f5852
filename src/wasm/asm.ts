/**
 * A tiny WebAssembly assembler: just enough to write the CPU step kernel (solver/cpuWasm.ts), the
 * forward model's gather (optics/gatherWasm.ts) and the PNG filter (render/png.ts) as readable
 * instructions instead of committed byte arrays, and to build
 * their modules when first needed
 * (microseconds; no build step, no dependency, and the bytes cannot drift from their source).
 * One module: an imported memory `e.m`, functions with i32/f64/f32/v128 parameters and locals,
 * each exported under its name. Opcodes: the WebAssembly 2.0 core and fixed-width SIMD tables.
 */

export type ValType = 'i32' | 'f32' | 'f64' | 'v128';
const TYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

function uleb(v: number, out: number[]): void {
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

function sleb(v: number, out: number[]): void {
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) { out.push(b); return; }
    out.push(b | 0x80);
  }
}

/** Plain opcodes (no immediates). */
const OPS = {
  'i32.eqz': [0x45], 'i32.eq': [0x46], 'i32.ne': [0x47], 'i32.lt_s': [0x48], 'i32.gt_s': [0x4a], 'i32.le_s': [0x4c], 'i32.ge_s': [0x4e],
  'f32.gt': [0x5e], 'f32.abs': [0x8b], 'f32.max': [0x97], 'f64.lt': [0x63], 'f64.gt': [0x64],
  'i32.add': [0x6a], 'i32.sub': [0x6b], 'i32.mul': [0x6c], 'i32.and': [0x71], 'i32.or': [0x72], 'i32.shl': [0x74],
  'f64.add': [0xa0], 'f64.sub': [0xa1], 'f64.mul': [0xa2],
  'f64.convert_i32_s': [0xb7], 'f32.demote_f64': [0xb6], 'f64.promote_f32': [0xbb],
  'i32.trunc_sat_f64_s': [0xfc, 0x02],
  select: [0x1b], drop: [0x1a], return: [0x0f], else: [0x05], end: [0x0b],
} as const;

/** SIMD opcodes without immediates (0xfd prefix, LEB128 code). */
const SIMD = {
  'i32x4.splat': 0x11, 'f32x4.splat': 0x13, 'f64x2.splat': 0x14,
  'i16x8.le_s': 0x33, 'i32x4.eq': 0x37, 'v128.and': 0x4e, 'v128.bitselect': 0x52,
  'i8x16.narrow_i16x8_u': 0x66, 'i8x16.sub': 0x71,
  'i16x8.abs': 0x80, 'i16x8.add': 0x8e, 'i16x8.sub': 0x91,
  'f32x4.demote_f64x2_zero': 0x5e, 'f64x2.promote_low_f32x4': 0x5f,
  'i32x4.shl': 0xab, 'i32x4.add': 0xae, 'i32x4.sub': 0xb1, 'i32x4.min_s': 0xb6, 'i32x4.max_s': 0xb8,
  'f32x4.abs': 0xe0, 'f32x4.pmax': 0xeb,
  'f64x2.add': 0xf0, 'f64x2.sub': 0xf1, 'f64x2.mul': 0xf2,
  'i32x4.trunc_sat_f64x2_s_zero': 0xfc, 'f64x2.convert_low_i32x4_s': 0xfe,
} as const;

/** Memory instructions: [prefix, code, natural alignment log2] */
const MEM = {
  'i32.load': [-1, 0x28, 2], 'f32.load': [-1, 0x2a, 2], 'f64.load': [-1, 0x2b, 3],
  'i32.store': [-1, 0x36, 2], 'f32.store': [-1, 0x38, 2], 'f64.store': [-1, 0x39, 3],
  'v128.load': [0xfd, 0x00, 4], 'v128.store': [0xfd, 0x0b, 4], 'v128.load64_zero': [0xfd, 0x5d, 3],
  'i16x8.load8x8_u': [0xfd, 0x02, 3],
} as const;

export type Op = keyof typeof OPS | keyof typeof SIMD;

/** The body of one function: call methods in stack order; locals by name. */
export class FuncBuilder {
  readonly code: number[] = [];
  private readonly index = new Map<string, number>();
  private readonly localTypes: ValType[] = [];

  constructor(readonly name: string, readonly params: [string, ValType][], readonly results: ValType[]) {
    params.forEach(([n], i) => this.index.set(n, i));
  }

  /** Declares locals (name: type). */
  locals(spec: Record<string, ValType>): this {
    for (const [n, t] of Object.entries(spec)) {
      this.index.set(n, this.params.length + this.localTypes.length);
      this.localTypes.push(t);
    }
    return this;
  }

  private idx(n: string): number {
    const i = this.index.get(n);
    if (i === undefined) throw new Error(`wasm: no local ${n} in ${this.name}`);
    return i;
  }

  /** Plain and SIMD operations, in order. */
  op(...names: Op[]): this {
    for (const n of names) {
      if (n in OPS) this.code.push(...OPS[n as keyof typeof OPS]);
      else { this.code.push(0xfd); uleb(SIMD[n as keyof typeof SIMD], this.code); }
    }
    return this;
  }
  get(...names: string[]): this { for (const n of names) { this.code.push(0x20); uleb(this.idx(n), this.code); } return this; }
  set(n: string): this { this.code.push(0x21); uleb(this.idx(n), this.code); return this; }
  tee(n: string): this { this.code.push(0x22); uleb(this.idx(n), this.code); return this; }
  i32(v: number): this { this.code.push(0x41); sleb(v | 0, this.code); return this; }
  f64(v: number): this { this.code.push(0x44, ...new Uint8Array(new Float64Array([v]).buffer)); return this; }
  f32bits(bits: number): this { this.code.push(0x43, ...new Uint8Array(new Uint32Array([bits]).buffer)); return this; }
  /** a load or store at the address on the stack plus `offset` bytes */
  mem(name: keyof typeof MEM, offset = 0): this {
    const [prefix, code, align] = MEM[name];
    if (prefix >= 0) { this.code.push(prefix); uleb(code, this.code); } else this.code.push(code);
    uleb(align, this.code); uleb(offset, this.code);
    return this;
  }
  /** v128.store64_lane: the vector's 64-bit lane `lane` to the address on the stack below it, plus `offset` */
  storeLane64(lane: number, offset = 0): this { this.code.push(0xfd, 0x5b, 3); uleb(offset, this.code); this.code.push(lane); return this; }
  /** i8x16.shuffle of the two vectors on the stack (lanes 0–15 the first, 16–31 the second) */
  shuffle(lanes: number[]): this { this.code.push(0xfd, 0x0d, ...lanes); return this; }
  /** i32x4.extract_lane */
  lane(i: number): this { this.code.push(0xfd, 0x1b, i); return this; }
  /** structured control: block / loop / if with no results */
  block(): this { this.code.push(0x02, 0x40); return this; }
  loop(): this { this.code.push(0x03, 0x40); return this; }
  if(): this { this.code.push(0x04, 0x40); return this; }
  /** if with one result */
  ifValue(t: ValType): this { this.code.push(0x04, TYPE[t]); return this; }
  br(depth: number): this { this.code.push(0x0c); uleb(depth, this.code); return this; }
  /** call function number `index` of the module */
  call(index: number): this { this.code.push(0x10); uleb(index, this.code); return this; }
  /** f32x4.extract_lane */
  laneF32(i: number): this { this.code.push(0xfd, 0x1f, i); return this; }
  brIf(depth: number): this { this.code.push(0x0d); uleb(depth, this.code); return this; }

  /** the function body: local declarations, code, end */
  body(): number[] {
    const out: number[] = [];
    uleb(this.localTypes.length, out);
    for (const t of this.localTypes) out.push(1, TYPE[t]);
    out.push(...this.code, 0x0b);
    const sized: number[] = [];
    uleb(out.length, sized);
    return [...sized, ...out];
  }
}

/** A module importing memory `e.m` (shared or not; any size up to 4 GiB) and exporting `funcs`. */
export function assembleModule(funcs: FuncBuilder[], memory: { shared: boolean }): Uint8Array<ArrayBuffer> {
  const section = (id: number, content: number[]) => { const s: number[] = [id]; uleb(content.length, s); return [...s, ...content]; };
  const vec = (items: number[][]) => { const v: number[] = []; uleb(items.length, v); for (const it of items) v.push(...it); return v; };
  const name = (s: string) => { const b = [...new TextEncoder().encode(s)]; const v: number[] = []; uleb(b.length, v); return [...v, ...b]; };
  const types = funcs.map((f) => [0x60, ...vec(f.params.map(([, t]) => [TYPE[t]])), ...vec(f.results.map((t) => [TYPE[t]]))]);
  const limits: number[] = [memory.shared ? 0x03 : 0x01];
  uleb(0, limits); uleb(65536, limits);
  const imports = vec([[...name('e'), ...name('m'), 0x02, ...limits]]);
  const funcIdx = vec(funcs.map((_, i) => { const v: number[] = []; uleb(i, v); return v; }));
  const exports = vec(funcs.map((f, i) => { const v: number[] = [...name(f.name), 0x00]; uleb(i, v); return v; }));
  const code = vec(funcs.map((f) => f.body()));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)), ...section(2, imports), ...section(3, funcIdx), ...section(7, exports), ...section(10, code)]);
}
