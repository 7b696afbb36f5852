/**
 * The demo's one state object: what the URL hash holds, what the controls edit, and what becomes the
 * simulation config (SPEC §3) that `ionflux simulate --config` reproduces. Plain data, no DOM.
 *
 * Hash format (URLSearchParams after '#'): preset, shape (disk | ellipse | polygon; absent = disk),
 * axes (ellipse: a_b_angleDeg, full axes in µm), poly (polygon: vertices x_y in µm joined by ~), d (diameter µm), h (grid spacing µm), knee
 * (θ*, log10 D_hi, log10 D_lo as "0.85_-15_-16.5"), dif (diffusivity preset: knee, colclasure-nmc532,
 * oregan2022-nmc811, constant; absent = knee), logD (constant: log10 D in m²/s), i (current mA/g), t (charge
 * minutes), rest (rest minutes), dis (then discharge minutes at the same current), cut (cut-off θs), norm (total-current | clean-flux), seg (blocked arcs
 * "from_to_eta" joined by "~", degrees ccw from +x), brush (η of the brush), speed (simulated s per
 * wall s), view (theta | diff), play (1 | 0), budget (steps per frame; absent or 0: adaptive), trace (trace interval in s, default 10). An unknown key, a part that is not key=value, or a
 * value that does not parse is reported (parseHash returns the message) and the default kept.
 */
import { presetConfig, PRESETS, type SurfaceSegment } from '../src/browser';
import { polygonArea, selfIntersection } from '../src/model/geometry';

export type ViewName = 'theta' | 'diff';
export type ShapeName = 'disk' | 'ellipse' | 'polygon';
export const SHAPES: ShapeName[] = ['disk', 'ellipse', 'polygon'];

export interface DemoState {
  preset: string;
  /** the particle's shape (SPEC §3 names); a mask image or an observed particle becomes a polygon */
  shape: ShapeName;
  diameter_um: number;
  /** ellipse: full axis lengths, µm, and the angle of the first axis, degrees ccw from +x */
  ellipseA_um: number;
  ellipseB_um: number;
  ellipseAngleDeg: number;
  /** polygon: vertices, µm (x right, y up), centred on their centroid */
  vertices_um: [number, number][];
  /** where the polygon came from (drawn, a mask file, an observed particle), for the page's text */
  shapeSource: string;
  spacing_um: number;
  /** SPEC §1's diffusivity preset; the knee's parameters below, log10 D for "constant" */
  diffusivity: DiffusivityName;
  log10DConst: number;
  thetaKnee: number;
  log10DHigh: number;
  log10DLow: number;
  current_mA_g: number;
  charge_min: number;
  rest_min: number;
  /** then a discharge at the same current, min (0: none); it stops at cutoff.surfaceThetaMax (1.0) */
  discharge_min: number;
  cutoff: number;
  normalize: 'total-current' | 'clean-flux';
  segments: SurfaceSegment[];
  /** η painted by the brush */
  brushEta: number;
  /** simulated seconds per wall-clock second */
  speed: number;
  view: ViewName;
  playing: boolean;
  /** steps per animation frame: 0 = adapt to keep ≥ 30 frames/s, else fixed (benchmarks, tests) */
  budget: number;
  /** trace interval, s (output.traceInterval_s) */
  traceInterval_s: number;
}

export type DiffusivityName = 'knee' | 'colclasure-nmc532' | 'oregan2022-nmc811' | 'constant';
export const DIFFUSIVITIES: DiffusivityName[] = ['knee', 'colclasure-nmc532', 'oregan2022-nmc811', 'constant'];

export const DEFAULT_PRESET = 'fig4c';
export const SPEED_MAX = 1200;

/** The demo state of one of the library's presets (PRESETS). */
export function stateFromPreset(name: string, base?: Partial<DemoState>): DemoState {
  const raw = presetConfig(name) as {
    particle: { diameter_um: number }; grid: { spacing_um: number };
    material: { diffusivity: { preset?: string; D_m2_s?: number; thetaKnee?: number; log10DHigh?: number; log10DLow?: number } };
    surface: { normalize: DemoState['normalize']; segments: SurfaceSegment[] };
    protocol: { step: string; current_mA_g?: number; duration_min: number }[];
    cutoff: { surfaceTheta: number };
  };
  const charge = raw.protocol.find((s) => s.step === 'charge');
  const rest = raw.protocol.find((s) => s.step === 'rest');
  const discharge = raw.protocol.find((s) => s.step === 'discharge');
  const dif = raw.material.diffusivity;
  return {
    preset: name,
    shape: 'disk',
    diameter_um: raw.particle.diameter_um,
    ellipseA_um: base?.ellipseA_um ?? 2.4,
    ellipseB_um: base?.ellipseB_um ?? 1.6,
    ellipseAngleDeg: base?.ellipseAngleDeg ?? 0,
    vertices_um: base?.vertices_um?.map((v) => [v[0], v[1]] as [number, number]) ?? [],
    shapeSource: base?.shapeSource ?? '',
    spacing_um: raw.grid.spacing_um,
    diffusivity: (DIFFUSIVITIES as string[]).includes(dif.preset ?? 'knee') ? (dif.preset ?? 'knee') as DiffusivityName : 'knee',
    log10DConst: dif.D_m2_s ? Math.log10(dif.D_m2_s) : -15,
    thetaKnee: raw.material.diffusivity.thetaKnee ?? 0.85,
    log10DHigh: raw.material.diffusivity.log10DHigh ?? -15,
    log10DLow: raw.material.diffusivity.log10DLow ?? -16.5,
    current_mA_g: charge?.current_mA_g ?? 100,
    charge_min: charge?.duration_min ?? 20,
    rest_min: rest?.duration_min ?? 0,
    discharge_min: discharge?.duration_min ?? 0,
    cutoff: raw.cutoff.surfaceTheta,
    normalize: raw.surface.normalize,
    segments: raw.surface.segments.map((s) => ({ ...s })),
    brushEta: base?.brushEta ?? 0.3,
    speed: base?.speed ?? 60,
    view: base?.view ?? 'theta',
    playing: base?.playing ?? true,
    budget: base?.budget ?? 0,
    traceInterval_s: base?.traceInterval_s ?? 10,
  };
}

export function defaultState(): DemoState {
  return stateFromPreset(DEFAULT_PRESET);
}

/**
 * The raw simulation config of a state (SPEC §3; resolveConfig fills the rest). Trace every 10 s,
 * no snapshots: the page shows the field live instead.
 */
export function rawConfig(s: DemoState): Record<string, unknown> {
  const protocol: Record<string, unknown>[] = [{ step: 'charge', current_mA_g: s.current_mA_g, duration_min: s.charge_min }];
  if (s.rest_min > 0) protocol.push({ step: 'rest', duration_min: s.rest_min });
  if (s.discharge_min > 0) protocol.push({ step: 'discharge', current_mA_g: s.current_mA_g, duration_min: s.discharge_min });
  return {
    particle: particleConfig(s),
    grid: { spacing_um: s.spacing_um },
    material: { capacity_mAh_g: 275.0, diffusivity: diffusivityConfig(s) },
    initialTheta: 1.0,
    surface: { normalize: s.normalize, segments: s.segments.map((g) => ({ ...g })) },
    protocol,
    cutoff: { surfaceTheta: s.cutoff },
    snapshots_min: [],
    output: { traceInterval_s: s.traceInterval_s },
  };
}

/** SPEC §1's material.diffusivity of the state */
export function diffusivityConfig(s: DemoState): Record<string, unknown> {
  if (s.diffusivity === 'knee') return { preset: 'knee', thetaKnee: s.thetaKnee, log10DHigh: s.log10DHigh, log10DLow: s.log10DLow };
  if (s.diffusivity === 'constant') return { preset: 'constant', D_m2_s: Number((10 ** s.log10DConst).toPrecision(6)) };
  return { preset: s.diffusivity };
}

/** the keys the hash may hold */
export const HASH_KEYS = ['preset', 'shape', 'axes', 'poly', 'd', 'h', 'knee', 'dif', 'logD', 'i', 't', 'rest', 'dis', 'cut', 'norm', 'seg', 'brush', 'speed', 'view', 'play', 'budget', 'trace'];

const num = (v: number) => String(Number(v.toPrecision(6)));

/** The state as a URL hash (without '#'). */
export function encodeHash(s: DemoState): string {
  const p = new URLSearchParams();
  p.set('preset', s.preset);
  if (s.shape !== 'disk') p.set('shape', s.shape);
  if (s.shape === 'ellipse') p.set('axes', [s.ellipseA_um, s.ellipseB_um, s.ellipseAngleDeg].map(num).join('_'));
  // vertices in full (a drawn polygon's are rounded to 0.1 pm, a traced mask's are not): the link
  // rebuilds the same cells — a traced outline's vertices and the cell centres can lie on one
  // lattice, where any rounding moves cells in or out
  if (s.shape === 'polygon') p.set('poly', s.vertices_um.map((v) => v.map(String).join('_')).join('~'));
  p.set('d', num(s.diameter_um));
  p.set('h', num(s.spacing_um));
  if (s.diffusivity !== 'knee') p.set('dif', s.diffusivity);
  if (s.diffusivity === 'constant') p.set('logD', num(s.log10DConst));
  p.set('knee', [s.thetaKnee, s.log10DHigh, s.log10DLow].map(num).join('_'));
  p.set('i', num(s.current_mA_g));
  p.set('t', num(s.charge_min));
  p.set('rest', num(s.rest_min));
  if (s.discharge_min > 0) p.set('dis', num(s.discharge_min));
  p.set('cut', num(s.cutoff));
  p.set('norm', s.normalize);
  p.set('seg', s.segments.map((g) => [g.fromDeg, g.toDeg, g.eta].map(num).join('_')).join('~'));
  p.set('brush', num(s.brushEta));
  p.set('speed', num(s.speed));
  p.set('view', s.view);
  p.set('play', s.playing ? '1' : '0');
  if (s.budget) p.set('budget', String(s.budget));
  if (s.traceInterval_s !== 10) p.set('trace', num(s.traceInterval_s));
  return p.toString();
}

/**
 * The state a hash describes (starting from its preset, else fig4c) and one message per value that
 * does not parse or is out of range (each names the key, the value and what is allowed; the default
 * is kept for it).
 */
export function parseHash(hash: string): { state: DemoState; errors: string[] } {
  const errors: string[] = [];
  const text = hash.replace(/^#/, '');
  let p: URLSearchParams;
  try {
    // decodeURIComponent throws on a malformed escape (e.g. "%zz"): URLSearchParams would not
    decodeURIComponent(text);
    p = new URLSearchParams(text);
  } catch {
    return { state: defaultState(), errors: [`the URL hash '#${text.slice(0, 60)}' does not parse (a malformed %-escape): showing the ${DEFAULT_PRESET} defaults`] };
  }
  const bad = text.split('&').filter((part) => part && !part.includes('='));
  if (bad.length) {
    errors.push(`the URL hash part '${bad[0].slice(0, 40)}' does not parse (expected key=value pairs such as #preset=fig4c&i=100): ignored`);
  }
  for (const key of new Set(p.keys())) {
    if (key && !HASH_KEYS.includes(key) && !bad.includes(key)) errors.push(`'${key.slice(0, 40)}' in the URL hash is not a demo setting (use ${HASH_KEYS.join(', ')}): ignored`);
  }
  let preset = p.get('preset') ?? DEFAULT_PRESET;
  if (!(preset in PRESETS)) {
    errors.push(`preset = '${preset}' in the URL is not a preset: use one of ${Object.keys(PRESETS).join(', ')}`);
    preset = DEFAULT_PRESET;
  }
  const s = stateFromPreset(preset);
  const number = (key: string, what: string, lo: number, hi: number, set: (v: number) => void, loOpen = false) => {
    const raw = p.get(key);
    if (raw === null) return;
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || v < lo || v > hi || (loOpen && v === lo)) {
      errors.push(`${key} = '${raw}' in the URL (${what}) is not allowed: give a number in ${loOpen ? '(' : '['}${lo}, ${hi}]`);
      return;
    }
    set(v);
  };
  number('d', 'particle diameter, µm', 0, 50, (v) => (s.diameter_um = v), true);
  number('h', 'grid spacing, µm', 0, 1, (v) => (s.spacing_um = v), true);
  number('i', 'current, mA/g', 0, 5000, (v) => (s.current_mA_g = v), true);
  number('t', 'charge duration, min', 0, 10000, (v) => (s.charge_min = v), true);
  number('rest', 'rest duration, min', 0, 10000, (v) => (s.rest_min = v));
  number('dis', 'discharge duration after the rest, min', 0, 10000, (v) => (s.discharge_min = v));
  number('logD', 'log10 of the constant diffusivity, m²/s', -25, -5, (v) => (s.log10DConst = v));
  const dif = p.get('dif');
  if (dif !== null) {
    if ((DIFFUSIVITIES as string[]).includes(dif)) s.diffusivity = dif as DiffusivityName;
    else errors.push(`dif = '${dif}' in the URL is not a diffusivity preset: use ${DIFFUSIVITIES.join(', ')}`);
  }
  number('cut', 'cut-off surface θ', 0, 1, (v) => (s.cutoff = v));
  number('brush', 'brush η', 0, 1, (v) => (s.brushEta = v));
  number('speed', 'simulated s per s', 0, SPEED_MAX, (v) => (s.speed = v), true);
  number('trace', 'trace interval, s', 0, 3600, (v) => (s.traceInterval_s = v), true);
  number('budget', 'steps per frame, 0 = adaptive', 0, 100000, (v) => (s.budget = Math.round(v)));
  const knee = p.get('knee');
  if (knee !== null) {
    const k = knee.split('_').map(Number);
    if (k.length !== 3 || k.some((v) => !Number.isFinite(v)) || !(k[0] > 0 && k[0] < 1) || k.slice(1).some((v) => v < -25 || v > -5)) {
      errors.push(`knee = '${knee}' in the URL is not allowed: give θ*_log10DHigh_log10DLow with 0 < θ* < 1 and log10 D in [-25, -5] (e.g. 0.85_-15_-16.5)`);
    } else [s.thetaKnee, s.log10DHigh, s.log10DLow] = k;
  }
  const norm = p.get('norm');
  if (norm !== null) {
    if (norm === 'total-current' || norm === 'clean-flux') s.normalize = norm;
    else errors.push(`norm = '${norm}' in the URL is not allowed: use total-current or clean-flux`);
  }
  const seg = p.get('seg');
  if (seg !== null) {
    const segs: SurfaceSegment[] = [];
    let ok = true;
    for (const part of seg.split('~').filter((x) => x)) {
      const v = part.split('_').map(Number);
      if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) {
        errors.push(`seg = '${part}' in the URL does not parse: give blocked arcs as fromDeg_toDeg_eta joined by ~ (e.g. 135_225_0.3)`);
        ok = false;
      } else if (v[2] < 0 || v[2] > 1) {
        errors.push(`seg = '${part}' in the URL has η = ${v[2]}: η must lie in [0, 1] (0 = fully blocked, 1 = clean)`);
        ok = false;
      } else segs.push({ fromDeg: v[0], toDeg: v[1], eta: v[2] });
    }
    if (ok) s.segments = segs;
  }
  const shape = p.get('shape');
  if (shape !== null) {
    if ((SHAPES as string[]).includes(shape)) s.shape = shape as ShapeName;
    else errors.push(`shape = '${shape}' in the URL is not allowed: use ${SHAPES.join(', ')} (a mask image becomes a polygon)`);
  }
  const axes = p.get('axes');
  if (axes !== null) {
    const v = axes.split('_').map(Number);
    if (v.length !== 3 || v.some((x) => !Number.isFinite(x)) || !(v[0] > 0 && v[0] <= 50 && v[1] > 0 && v[1] <= 50)) {
      errors.push(`axes = '${axes}' in the URL is not allowed: give the ellipse's full axes and angle as a_b_angleDeg with 0 < a, b ≤ 50 µm (e.g. 2.4_1.6_30)`);
      if (s.shape === 'ellipse') s.shape = 'disk';
    } else [s.ellipseA_um, s.ellipseB_um, s.ellipseAngleDeg] = v;
  }
  const poly = p.get('poly');
  if (poly !== null) {
    const verts = poly.split('~').filter((x) => x).map((part) => part.split('_').map(Number));
    const problem = verts.length < 3 ? `it has ${verts.length} vertices, a polygon needs at least 3`
      : verts.some((v) => v.length !== 2 || v.some((x) => !Number.isFinite(x) || Math.abs(x) > 50)) ? 'a vertex is not x_y with |x|, |y| ≤ 50 µm'
      : polygonProblem(verts as [number, number][]);
    if (problem) {
      errors.push(`poly = '${poly.slice(0, 60)}${poly.length > 60 ? '…' : ''}' in the URL is not allowed (${problem}): give vertices x_y in µm joined by ~ (e.g. -1_-1~1_-1~0_1)`);
      if (s.shape === 'polygon') s.shape = 'disk';
    } else s.vertices_um = verts as [number, number][];
  } else if (s.shape === 'polygon') {
    errors.push(`shape = polygon in the URL needs poly (its vertices x_y in µm joined by ~): showing a disk`);
    s.shape = 'disk';
  }
  const view = p.get('view');
  if (view !== null) {
    if (view === 'theta' || view === 'diff') s.view = view;
    else errors.push(`view = '${view}' in the URL is not allowed: use theta or diff`);
  }
  const play = p.get('play');
  if (play !== null) s.playing = play !== '0';
  return { state: s, errors };
}

/** What needs a new problem (grid, wall weights, diffusivity table) when it changes. */
export function problemKey(s: DemoState): string {
  return JSON.stringify([particleConfig(s), s.diameter_um, s.spacing_um, diffusivityConfig(s), s.normalize, s.segments, s.cutoff]);
}

/** SPEC §3's `particle` of the state's shape: disk (diameter_um), ellipse (axes_um, angleDeg), polygon (vertices_um). */
export function particleConfig(s: DemoState): Record<string, unknown> {
  if (s.shape === 'ellipse') return { shape: 'ellipse', axes_um: [s.ellipseA_um, s.ellipseB_um], angleDeg: s.ellipseAngleDeg };
  if (s.shape === 'polygon') return { shape: 'polygon', vertices_um: s.vertices_um.map((v) => [v[0], v[1]]) };
  return { shape: 'disk', diameter_um: s.diameter_um };
}

/** The shape keys of the state for a resolved config's particle (a refused change goes back to it). */
export function shapeFromParticle(p: Record<string, unknown>, s: DemoState): Partial<DemoState> {
  if (p.shape === 'ellipse') {
    const [a, b] = p.axes_um as [number, number];
    return { shape: 'ellipse', ellipseA_um: a, ellipseB_um: b, ellipseAngleDeg: (p.angleDeg as number) ?? 0 };
  }
  if (p.shape === 'polygon') return { shape: 'polygon', vertices_um: (p.vertices_um as [number, number][]).map((v) => [v[0], v[1]]) };
  return { shape: 'disk', diameter_um: (p.diameter_um as number) ?? s.diameter_um };
}

/**
 * Why a polygon cannot be a particle (it crosses itself, or encloses no area), or null when it can:
 * the check the simulation's own config does (src/solver/problem.ts), made before anything rebuilds.
 */
export function polygonProblem(v: [number, number][]): string | null {
  if (v.length < 3) return `it has ${v.length} vertices, a polygon needs at least 3`;
  const crossing = selfIntersection(v);
  if (crossing) return `it crosses itself: edges ${crossing[0] + 1} and ${crossing[1] + 1} intersect; draw the outline once around, without crossings`;
  if (!(Math.abs(polygonArea(v)) > 1e-6)) return 'it encloses no area: give at least 3 distinct, non-collinear vertices';
  return null;
}

/**
 * Vertices centred on their centroid and rounded to 0.1 pm, so that the URL holds them exactly
 * (a coarser rounding moves the outline across a cell centre now and then: one cell more or less).
 */
export function centredVertices(v: [number, number][]): [number, number][] {
  let a = 0, cx = 0, cy = 0;
  for (let i = 0; i < v.length; i++) {
    const [x0, y0] = v[i], [x1, y1] = v[(i + 1) % v.length];
    const c = x0 * y1 - x1 * y0;
    a += c; cx += (x0 + x1) * c; cy += (y0 + y1) * c;
  }
  cx /= 3 * a; cy /= 3 * a;
  const r = (x: number) => Math.round(x * 1e7) / 1e7;
  return v.map(([x, y]) => [r(x - cx), r(y - cy)]);
}
