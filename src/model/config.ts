/**
 * The simulation config (SPEC §3): schema, defaults, presets and validation. Every invalid value is
 * rejected before anything runs, with a message naming the key, the value and what is allowed.
 */
import { ConfigError } from '../errors';
import * as z from 'zod';
import { KNEE_DEFAULTS } from './diffusivity';
import { segmentOverlapDeg, segmentSpan } from './surface';

const finite = () => z.number().refine(Number.isFinite, { message: 'expected a finite number' });
const positive = () => z.number().positive().refine(Number.isFinite, { message: 'expected a finite number' });
const point = z.tuple([finite(), finite()]);
/** Solid-state Li diffusivities span ~1e-20 … 1e-9 m²/s; outside [1e-25, 1e-5] is a unit mistake. */
const diffusivityValue = () => z.number().min(1e-25).max(1e-5);

/** The keys each particle shape takes (switching the shape with --set drops the old shape's keys). */
export const SHAPE_KEYS: Record<string, string[]> = {
  disk: ['diameter_um'],
  ellipse: ['axes_um', 'angleDeg'],
  polygon: ['vertices_um'],
  mask: ['file', 'pixel_um'],
};
/** Said when a shape's key is missing: what it is and how to give it. */
const SHAPE_KEY_HINT: Record<string, string> = {
  axes_um: 'an ellipse needs its full axis lengths [a, b] in µm, e.g. --set particle.axes_um=[2.4,1.6]',
  vertices_um: 'a polygon needs vertices_um = [[x, y], …] in µm (at least 3)',
  file: 'a mask particle needs file (a PNG/TIFF, nonzero = particle) and pixel_um',
  pixel_um: 'a mask particle needs pixel_um, the mask\'s pixel size in µm',
};

const particleSchema = z.preprocess(
  // SPEC §3 and docs/config.md: the shape defaults to a disk
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('shape' in v) ? { shape: 'disk', ...v } : v),
  z.discriminatedUnion('shape', [
  z.strictObject({ shape: z.literal('disk'), diameter_um: positive().default(2.4) }),
  z.strictObject({ shape: z.literal('ellipse'), axes_um: z.tuple([positive(), positive()]), angleDeg: finite().default(0) }),
  z.strictObject({ shape: z.literal('polygon'), vertices_um: z.array(point).min(3) }),
  z.strictObject({ shape: z.literal('mask'), file: z.string().min(1), pixel_um: positive() }),
  ]),
);

const diffusivitySchema = z.union([
  z.strictObject({
    preset: z.literal('knee'),
    thetaKnee: z.number().gt(0).lt(1).default(KNEE_DEFAULTS.thetaKnee),
    log10DHigh: z.number().min(-25).max(-5).default(KNEE_DEFAULTS.log10DHigh),
    log10DLow: z.number().min(-25).max(-5).default(KNEE_DEFAULTS.log10DLow),
  }),
  z.strictObject({ preset: z.literal('colclasure-nmc532') }),
  z.strictObject({ preset: z.literal('oregan2022-nmc811') }),
  z.strictObject({ preset: z.literal('constant'), D_m2_s: diffusivityValue() }),
  z.strictObject({
    // θ is a site occupancy: values outside [0, 1] are a unit or column mistake
    table: z.strictObject({ theta: z.array(z.number().min(0).max(1)).min(2), D_m2_s: z.array(diffusivityValue()).min(2) }),
  }),
]);

const segmentSchema = z.strictObject({ fromDeg: finite(), toDeg: finite(), eta: z.number().min(0).max(1) });

const stepSchema = z.strictObject({
  step: z.enum(['charge', 'discharge', 'rest']),
  current_mA_g: positive().optional(),
  duration_min: positive(),
});

/**
 * Optics presets (`optics.preset`): the SPEC §2 default, and the operando rigs in use (Lun et al.
 * 2025's microscopes: ~95 nm camera pixels, a PSF of σ ≈ 0.25 µm, 1920×1200-pixel frames). `sensor_px`
 * is the camera's whole frame, [width, height] (`synth.fieldOfView_px: "sensor"`); null: no fixed sensor.
 */
export const OPTICS_PRESETS = {
  spec: { pixel_um: 0.05, psfSigma_um: 0.11, sensor_px: null as [number, number] | null },
  rig: { pixel_um: 0.095, psfSigma_um: 0.25, sensor_px: [1920, 1200] as [number, number] | null },
};
export type OpticsPresetName = keyof typeof OPTICS_PRESETS;

/** the defaults of the synth section (docs/synth.md) */
export const SYNTH_DEFAULTS = {
  frame_s: 30,
  margin_um: 1.0,
  photons: 20000,
  background: 0.1,
  texture: { amplitude: 0.1, correlation_um: 0.5 },
  noise: { shot: true, readNoise_e: 2, gain_e_per_adu: 1, offset_adu: 100 },
  seed: 1,
};

const synthParticleSchema = z.strictObject({
  /** the particle's centre of mass in the field, µm from the top-left corner (x right, y down) */
  position_um: z.tuple([finite(), finite()]).optional(),
  /** a preset as the particle's base instead of the top-level config */
  preset: z.string().optional(),
  /** keys of a config merged over the base (objects merged, everything else replaced) */
  config: z.record(z.string(), z.unknown()).optional(),
});

const synthSchema = z.strictObject({
  frame_s: positive().default(SYNTH_DEFAULTS.frame_s),
  frames: z.number().int().min(1).max(100000).optional(),
  fieldOfView_px: z.union([z.tuple([z.number().int().min(8).max(16384), z.number().int().min(8).max(16384)]), z.literal('sensor')]).optional(),
  margin_um: z.number().min(0).max(1000).default(SYNTH_DEFAULTS.margin_um),
  photons: z.number().positive().max(1e7).default(SYNTH_DEFAULTS.photons),
  background: z.number().min(0).max(10).default(SYNTH_DEFAULTS.background),
  texture: z
    .strictObject({ amplitude: z.number().min(0).max(0.5).default(SYNTH_DEFAULTS.texture.amplitude), correlation_um: positive().default(SYNTH_DEFAULTS.texture.correlation_um) })
    .default(SYNTH_DEFAULTS.texture),
  noise: z
    .strictObject({
      shot: z.boolean().default(SYNTH_DEFAULTS.noise.shot),
      readNoise_e: z.number().min(0).max(1e5).default(SYNTH_DEFAULTS.noise.readNoise_e),
      gain_e_per_adu: positive().default(SYNTH_DEFAULTS.noise.gain_e_per_adu),
      offset_adu: z.number().int().min(0).max(65535).default(SYNTH_DEFAULTS.noise.offset_adu),
    })
    .default(SYNTH_DEFAULTS.noise),
  seed: z.number().int().min(0).max(4294967295).default(SYNTH_DEFAULTS.seed),
  particles: z.array(synthParticleSchema).min(1).max(1000).optional(),
});

export const configSchema = z.strictObject({
  particle: particleSchema.default({ shape: 'disk', diameter_um: 2.4 }),
  grid: z.strictObject({ spacing_um: positive().default(0.02) }).default({ spacing_um: 0.02 }),
  material: z
    .strictObject({
      capacity_mAh_g: positive().default(275.0),
      diffusivity: diffusivitySchema.default({ preset: 'knee', ...KNEE_DEFAULTS }),
    })
    .default({ capacity_mAh_g: 275.0, diffusivity: { preset: 'knee', ...KNEE_DEFAULTS } }),
  initialTheta: z.number().min(0).max(1).default(1.0),
  surface: z
    .strictObject({
      normalize: z.enum(['total-current', 'clean-flux']).default('total-current'),
      segments: z.array(segmentSchema).default([]),
    })
    .default({ normalize: 'total-current', segments: [] }),
  protocol: z.array(stepSchema).min(1),
  cutoff: z
    .strictObject({ surfaceTheta: z.number().min(0).max(1).default(0.2), surfaceThetaMax: z.number().min(0).max(1).default(1.0) })
    .default({ surfaceTheta: 0.2, surfaceThetaMax: 1.0 }),
  snapshots_min: z.array(z.number().min(0).refine(Number.isFinite, { message: 'expected a finite number' })).default([]),
  optics: z
    .preprocess(
      // optics.preset fills in the rig's pixel and PSF; keys given beside it win
      (v) => {
        if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
        const name = (v as Record<string, unknown>).preset;
        const p = typeof name === 'string' && Object.hasOwn(OPTICS_PRESETS, name) ? OPTICS_PRESETS[name as OpticsPresetName] : null;
        return p ? { pixel_um: p.pixel_um, psfSigma_um: p.psfSigma_um, ...v } : v;
      },
      z.strictObject({
        preset: z.enum(Object.keys(OPTICS_PRESETS) as [OpticsPresetName, ...OpticsPresetName[]]).optional(),
        kappa: positive().default(1.0),
        psfSigma_um: z.number().min(0).default(0.11),
        pixel_um: positive().default(0.05),
        unreactedThreshold: finite().default(0.05),
      }),
    )
    .default({ kappa: 1.0, psfSigma_um: 0.11, pixel_um: 0.05, unreactedThreshold: 0.05 }),
  output: z
    .strictObject({ traceInterval_s: positive().default(10) })
    .default({ traceInterval_s: 10 }),
  /** `ionflux synth` only (docs/synth.md); simulate ignores it */
  synth: synthSchema.optional(),
});

/** A fully resolved config: every default filled in (written back into summary.json). */
export type SimulationConfig = z.infer<typeof configSchema>;
export type ProtocolStep = SimulationConfig['protocol'][number];

/** A config that fails validation: one line per problem, naming the key, the value and what is allowed. */
export { ConfigError } from '../errors';

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function show(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const s = JSON.stringify(v);
  return s === undefined ? 'undefined' : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function keyName(path: PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('') || '(top level)';
}

/**
 * Validates `input` (parsed JSON, after --set overrides) and returns the resolved config.
 * Throws ConfigError with one line per problem (the first line is the most useful one).
 */
export function resolveConfig(input: unknown, source = 'config'): SimulationConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`${source}: expected a JSON object at the top level, got ${show(input)}`);
  }
  const r = configSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((issue) => {
      const path = issue.path as PropertyKey[];
      if (issue.code === 'unrecognized_keys') {
        const keys = (issue as unknown as { keys: string[] }).keys;
        return `${source}: unknown key ${keys.map((k) => `'${keyName([...path, k])}'`).join(', ')} (see docs/config.md for the allowed keys)`;
      }
      const value = valueAt(input, path);
      const what = value === undefined ? 'is missing' : `= ${show(value)} is not allowed`;
      const last = String(path[path.length - 1]);
      const hint = value === undefined && path[0] === 'particle' && SHAPE_KEY_HINT[last]
        ? SHAPE_KEY_HINT[last]
        : value === undefined && keyName(path) === 'protocol'
          ? 'a config needs protocol, a list of steps, e.g. [{"step": "charge", "current_mA_g": 100, "duration_min": 20}]'
          : keyName(path) === 'synth.fieldOfView_px' && issue.code === 'invalid_union'
            ? 'use [width, height] in pixels (integers 8 … 16384) or "sensor" (the whole frame of optics.preset "rig", 1920×1200)'
          : keyName(path) === 'material.diffusivity' && issue.code === 'invalid_union'
            ? 'use {"preset": "knee"} (optionally with thetaKnee, log10DHigh, log10DLow), {"preset": "colclasure-nmc532"}, {"preset": "oregan2022-nmc811"}, {"preset": "constant", "D_m2_s": 1e-15} or {"table": {"theta": [...], "D_m2_s": [...]}} (docs/physics.md)'
            : issue.message.replace(/^Invalid input: /, '').replace(/^Too (small|big): /, '');
      return `${source}: ${keyName(path)} ${what}: ${hint}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const cfg = r.data;
  checkSemantics(cfg, source);
  return cfg;
}

function checkSemantics(cfg: SimulationConfig, source: string): void {
  const fail = (msg: string) => { throw new ConfigError(`${source}: ${msg}`); };
  cfg.protocol.forEach((s, i) => {
    if (s.step === 'rest' && s.current_mA_g !== undefined) fail(`protocol[${i}].current_mA_g = ${s.current_mA_g} is not allowed on a rest step (rest passes no current)`);
    if (s.step !== 'rest' && s.current_mA_g === undefined) fail(`protocol[${i}].current_mA_g is missing: a ${s.step} step needs a current in mA/g (> 0)`);
  });
  const segs = cfg.surface.segments;
  segs.forEach((s, i) => {
    if (s.toDeg - s.fromDeg > 360) fail(`surface.segments[${i}] spans ${s.toDeg - s.fromDeg}° (fromDeg = ${s.fromDeg}, toDeg = ${s.toDeg}): a segment goes once around at most; use toDeg − fromDeg in (0, 360]`);
    if (segmentSpan(s) === 0) fail(`surface.segments[${i}] spans 0° (fromDeg = ${s.fromDeg}, toDeg = ${s.toDeg}): use toDeg − fromDeg in (0, 360]`);
    for (let j = 0; j < i; j++) {
      const ov = segmentOverlapDeg(segs[j], s);
      if (ov > 1e-9) fail(`surface.segments[${i}] (${s.fromDeg}°…${s.toDeg}°) overlaps surface.segments[${j}] (${segs[j].fromDeg}°…${segs[j].toDeg}°) by ${ov.toFixed(2)}°: segments must not overlap`);
    }
  });
  if (cfg.surface.normalize === 'total-current') {
    const blocked = segs.filter((s) => s.eta === 0).reduce((a, s) => a + segmentSpan(s), 0);
    if (blocked >= 360 - 1e-9) fail('surface.segments set η = 0 on the whole surface: under surface.normalize = "total-current" no current can pass (allow some η > 0, or use "clean-flux")');
  }
  const d = cfg.material.diffusivity;
  if ('table' in d) {
    const { theta, D_m2_s } = d.table;
    if (theta.length !== D_m2_s.length) fail(`material.diffusivity.table has ${theta.length} theta values but ${D_m2_s.length} D_m2_s values: they must pair up`);
    for (let i = 1; i < theta.length; i++) if (!(theta[i] > theta[i - 1])) fail(`material.diffusivity.table.theta[${i}] = ${theta[i]} is not allowed: theta must increase strictly`);
  }
  if ('preset' in d && d.preset === 'knee' && d.log10DLow > d.log10DHigh) {
    // allowed physically but almost certainly a swap: the knee model is slow near θ = 1
    fail(`material.diffusivity.log10DLow = ${d.log10DLow} is above log10DHigh = ${d.log10DHigh}: the knee preset has its low D at θ = 1 (swap them?)`);
  }
  if (cfg.cutoff.surfaceThetaMax <= cfg.cutoff.surfaceTheta) {
    fail(`cutoff.surfaceThetaMax = ${cfg.cutoff.surfaceThetaMax} must be above cutoff.surfaceTheta = ${cfg.cutoff.surfaceTheta}`);
  }
  const sorted = [...cfg.snapshots_min].sort((a, b) => a - b);
  // files are named by whole seconds (theta_XXXXs.npy, SPEC §5): two times in one second would collide
  const seconds = sorted.map((m) => Math.round(m * 60));
  seconds.forEach((s, i) => {
    if (i > 0 && s === seconds[i - 1]) fail(`snapshots_min = ${show(cfg.snapshots_min)}: ${sorted[i - 1]} and ${sorted[i]} min both fall on ${s} s; snapshot files are named by whole seconds, so use times at least 1 s apart`);
  });
  const total_s = cfg.protocol.reduce((a, st) => a + st.duration_min * 60, 0);
  if (total_s / cfg.output.traceInterval_s > 1e5) {
    fail(`the protocol lasts ${total_s} s (the sum of protocol[].duration_min): at output.traceInterval_s = ${cfg.output.traceInterval_s} that is ${Math.round(total_s / cfg.output.traceInterval_s)} trace rows, at most 100000 are allowed (shorten the protocol or use a larger output.traceInterval_s)`);
  }
}

/**
 * Applies `--set key.path=value` overrides to a raw config object (before validation). The value is
 * parsed as JSON when it can be (numbers, arrays, objects, true/false), else taken as a string.
 */
export function applySet(raw: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set '${assignment}' is not allowed: use --set key.path=value (e.g. --set grid.spacing_um=0.01)`);
  const text = assignment.slice(eq + 1).trim();
  let value: unknown;
  try { value = JSON.parse(text); } catch { value = text; }
  setKeyPath(raw, assignment.slice(0, eq).trim(), value, `--set '${assignment}'`);
}

/**
 * Sets `key` (a dotted path, list indices as numbers) of a raw config to `value` as given, NaN and
 * Infinity included (a sweep's values, which the config checks then name as written). `what` names the
 * assignment in messages.
 */
export function setKeyPath(raw: Record<string, unknown>, key: string, value: unknown, what = `'${key}'`): void {
  const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);
  const parts = key.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const bad = parts.find((p) => typeof p === 'string' && (FORBIDDEN.has(p) || p === ''));
  if (bad !== undefined) throw new ConfigError(`${what} is not allowed: '${bad}' is not a config key (e.g. --set grid.spacing_um=0.01)`);
  if (parts.length === 2 && parts[0] === 'particle' && parts[1] === 'shape') switchShape(raw, value);
  let obj: Record<string | number, unknown> = raw;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i];
    if (!Object.prototype.hasOwnProperty.call(obj, p) || obj[p] === null || typeof obj[p] !== 'object') obj[p] = typeof parts[i + 1] === 'number' ? [] : {};
    obj = obj[p] as Record<string | number, unknown>;
  }
  obj[parts[parts.length - 1]] = value;
}

/**
 * `--set particle.shape=ellipse` on a disk preset: the disk's keys (diameter_um) are dropped, so that
 * the message names what the new shape needs rather than a key the user never set.
 */
function switchShape(raw: Record<string, unknown>, shape: unknown): void {
  const particle = raw.particle;
  if (!particle || typeof particle !== 'object' || Array.isArray(particle) || typeof shape !== 'string' || !SHAPE_KEYS[shape]) return;
  const p = particle as Record<string, unknown>;
  const old = typeof p.shape === 'string' ? p.shape : 'disk';
  if (old === shape) return;
  for (const k of SHAPE_KEYS[old] ?? []) if (!SHAPE_KEYS[shape].includes(k)) delete p[k];
}

const BLOCKED_CENTRE_DEG = 180; // the left side, as the paper's particle whose Li-poor region grows from the right edge
const arc = (spanDeg: number, eta: number) => ({ fromDeg: BLOCKED_CENTRE_DEG - spanDeg / 2, toDeg: BLOCKED_CENTRE_DEG + spanDeg / 2, eta });
const fig4 = (segments: { fromDeg: number; toDeg: number; eta: number }[]) => ({
  particle: { shape: 'disk', diameter_um: 2.4 },
  grid: { spacing_um: 0.02 },
  material: { capacity_mAh_g: 275.0, diffusivity: { preset: 'knee' } },
  initialTheta: 1.0,
  surface: { normalize: 'total-current', segments },
  protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 20 }],
  cutoff: { surfaceTheta: 0.2 },
  snapshots_min: [5, 10, 15, 20],
});
const toCutoff = (base: ReturnType<typeof fig4>) => ({
  ...base,
  // long enough to reach θs = 0.2 at 100 mA/g (~215 mAh/g ≈ 130 min); the cut-off ends the step
  protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 300 }],
  snapshots_min: [5, 10, 15, 20, 30, 60, 90, 120],
});

/** The paper's simulations (Lun et al. 2025, Fig. 4 and Fig. 2e) as raw configs. */
export const PRESETS: Record<string, () => Record<string, unknown>> = {
  fig4a: () => fig4([]),
  fig4b: () => fig4([arc(90, 0.7)]),
  fig4c: () => fig4([arc(90, 0.3)]),
  fig4d: () => fig4([arc(180, 0.3)]),
  fig2e: () => ({
    ...fig4([arc(90, 0.3)]),
    protocol: [{ step: 'charge', current_mA_g: 70, duration_min: 20 }, { step: 'rest', duration_min: 10 }],
    snapshots_min: [5, 10, 15, 20, 25, 30],
  }),
  fresh: () => toCutoff(fig4([])),
  aged: () => toCutoff(fig4([arc(90, 0.3)])),
};

/**
 * A fresh copy of preset `name` (a key of PRESETS: fig4a … fig4d, fig2e, fresh, aged) as a raw config
 * object, to edit (or applySet) before resolveConfig. Throws ConfigError for an unknown name.
 */
export function presetConfig(name: string): Record<string, unknown> {
  const make = PRESETS[name];
  if (!make) throw new ConfigError(`--preset '${name}' is not allowed: use one of ${Object.keys(PRESETS).join(', ')}`);
  return structuredClone(make());
}
