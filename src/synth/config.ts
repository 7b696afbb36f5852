/**
 * The `synth` section of a config (docs/synth.md): the movie's frames, camera and the particles in
 * its field of view, each particle a full simulation config of its own — the top-level config, or a
 * preset, with a particle's own keys merged over it. Everything is checked before anything runs,
 * with one-line messages naming the key, the value and what is allowed.
 */
import { ConfigError, presetConfig, PRESETS, resolveConfig, SHAPE_KEYS, type SimulationConfig } from '../model/config';

export type SynthSettings = NonNullable<SimulationConfig['synth']>;

/** One particle of the field: its resolved config and where its centre of mass sits (null: the field's centre). */
export interface SynthParticleSetup {
  /** position in synth.particles (0 for the implicit single particle) */
  index: number;
  config: SimulationConfig;
  /** centre of mass, µm from the field's top-left corner, x right, y down (analyze's image coordinates) */
  position_um: [number, number] | null;
  /** the key naming this particle in messages: `synth.particles[1]`, or `particle` */
  key: string;
}

export interface SynthSetup {
  /** the top-level config, resolved (its synth section filled in) */
  base: SimulationConfig;
  synth: SynthSettings;
  particles: SynthParticleSetup[];
  /** frame times, s: 0, frame_s, 2·frame_s, … (frame 0 = the state at t = 0) */
  times_s: number[];
}

/** keys every particle shares with the top-level config: one cell current, one microscope, one camera */
const SHARED_KEYS = ['protocol', 'optics', 'output', 'snapshots_min', 'synth'];

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * `over` merged into a copy of `base`: objects key by key, arrays and values replaced. A particle
 * override that names a different shape replaces the particle object whole (the old shape's keys
 * would not fit the new one).
 */
export function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    const b = out[k];
    if (k === 'particle' && isPlainObject(v) && isPlainObject(b) && typeof v.shape === 'string' && v.shape !== (b.shape ?? 'disk')) {
      const kept = structuredClone(b);
      for (const key of SHAPE_KEYS[(b.shape as string) ?? 'disk'] ?? []) delete kept[key];
      delete kept.shape;
      out[k] = { ...kept, ...structuredClone(v) };
    } else if (isPlainObject(v) && isPlainObject(b)) out[k] = mergeConfig(b, v);
    else out[k] = structuredClone(v);
  }
  return out;
}

/**
 * Resolves the config of `ionflux synth` (the raw object after --set): the top-level config with its
 * synth section (defaults filled in when absent), every particle's full config, and the frame times.
 * Throws ConfigError (one line per problem; the first names the key, the value and what is allowed).
 */
export function resolveSynthConfig(raw: Record<string, unknown>, source = 'config'): SynthSetup {
  if (!isPlainObject(raw)) throw new ConfigError(`${source}: expected a JSON object at the top level, got ${JSON.stringify(raw)}`);
  const withSynth = { ...raw, synth: raw.synth === undefined ? {} : raw.synth };
  const base = resolveConfig(withSynth, source);
  const synth = base.synth as SynthSettings;
  const fail = (msg: string): never => { throw new ConfigError(`${source}: ${msg}`); };

  // frames: 0, frame_s, …, to the end of the protocol unless synth.frames says how many
  const total_s = base.protocol.reduce((a, s) => a + s.duration_min * 60, 0);
  const fitting = Math.floor(total_s / synth.frame_s + 1e-9) + 1;
  if (synth.frame_s > total_s) fail(`synth.frame_s = ${synth.frame_s} is not allowed: the protocol lasts ${total_s} s, so a movie would hold only frame 0; use a frame interval up to ${total_s} s`);
  const frames = synth.frames ?? fitting;
  if (frames > fitting) fail(`synth.frames = ${frames} is not allowed at synth.frame_s = ${synth.frame_s}: frame ${frames - 1} would be at t = ${(frames - 1) * synth.frame_s} s, past the end of the protocol (${total_s} s); use at most ${fitting} frames (or a shorter frame_s)`);
  if (frames < 2) fail(`synth.frames = ${frames} is not allowed: a movie needs frame 0 (the reference, t = 0) and at least one more; use 2 … ${fitting}`);
  const times_s = Array.from({ length: frames }, (_, i) => i * synth.frame_s);

  // the particles: each a whole config, sharing the protocol, optics and output
  const rawBase: Record<string, unknown> = structuredClone(raw);
  delete rawBase.synth;
  const list = synth.particles ?? [{}];
  const several = list.length > 1;
  const particles = list.map((p, i): SynthParticleSetup => {
    const key = synth.particles ? `synth.particles[${i}]` : 'particle';
    if (several && !p.position_um) fail(`${key}.position_um is missing: with ${list.length} particles in the field each needs its centre of mass, [x, y] in µm from the field's top-left corner (y down)`);
    const over = p.config ?? {};
    for (const k of SHARED_KEYS) {
      if (k in over) fail(`${key}.config.${k} is not allowed: the particles of one movie share the top-level ${k} (one cell current, one microscope and camera); set it at the top level, or make separate movies`);
    }
    let start = rawBase;
    if (p.preset !== undefined) {
      if (!Object.hasOwn(PRESETS, p.preset)) fail(`${key}.preset = ${JSON.stringify(p.preset)} is not allowed: use one of ${Object.keys(PRESETS).join(', ')}`);
      start = presetConfig(p.preset);
      for (const k of SHARED_KEYS) {
        delete start[k];
        if (k in rawBase) start[k] = structuredClone(rawBase[k]);
      }
    }
    const merged = mergeConfig(start, over);
    delete merged.synth;
    const config = resolveConfig(merged, `${source}: ${key}`);
    if (!synth.particles) return { index: i, config, position_um: null, key };
    return { index: i, config, position_um: p.position_um ? [p.position_um[0], p.position_um[1]] : null, key };
  });
  return { base, synth, particles, times_s };
}
