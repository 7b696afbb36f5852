/**
 * `ionflux synth` as a library: simulate every particle of the field with snapshots at the frame
 * times, render each frame through the forward model and the sensor (src/synth/scene.ts), and
 * collect the truth (the forward model's metrics of each particle at each frame, SPEC §7) and the
 * capacity record that `analyze --capacity` reads. Nothing here touches files (writeSynthOutputs in
 * src/io/synthOutput.ts writes the folder), so it runs in a browser too.
 */
import { ConfigError, OPTICS_PRESETS, type SimulationConfig } from '../model/config';
import { buildProblem, type Problem } from '../solver/problem';
import { runSimulation, type RunResult } from '../solver/run';
import { CpuSolver } from '../solver/cpu';
import type { Solver } from '../solver/types';
import { VERSION } from '../version';
import { resolveSynthConfig, type SynthSettings, type SynthSetup } from './config';
import { createSynthScene, type SynthCamera, type SynthScene } from './scene';

/** Everything checked and built before any simulation runs: the configs, the grids and the field of view. */
export interface PreparedSynth {
  setup: SynthSetup;
  /** one per particle, input order (synth.particles) */
  problems: Problem[];
  scene: SynthScene;
}

/** truth.json (SPEC §7), with a few additions (marked) */
export interface SynthTruth {
  frames: number;
  pixel_um: number;
  frame_s: number;
  /** added: the frame's size, pixels */
  width: number;
  height: number;
  /** added: frame times, s (frame i at i·frame_s) */
  times_s: number[];
  /** added: charge passed at each frame (particle 1 of synth.particles, the capacity.csv record) */
  capacity_mAh_g: number[];
  /** added: the resolved synth section and optics (camera, noise, seed) */
  synth: SynthSettings;
  optics: SimulationConfig['optics'];
  /** added: how the truth was measured */
  method: string;
  particles: SynthTruthParticle[];
  warnings: string[];
  version: string;
}

export interface SynthTruthParticle {
  /** analyze's id for this particle (raster order of the first pixel of its mask) */
  id: number;
  /** added: its position in synth.particles */
  index: number;
  /** centre of mass, µm, image coordinates (x right, y down from the top-left corner; SPEC §6) */
  centroidX_um: number;
  centroidY_um: number;
  /** added */
  area_um2: number;
  eqRadius_um: number;
  /** per frame; null when nothing is unreacted */
  comOffset_um: (number | null)[];
  /** added: comOffset_um / R_eq of the pixel mask */
  comOffsetRel: (number | null)[];
  unreactedFraction: number[];
  /** added: mean ΔI/I0 over the particle's mask */
  meanDiff: number[];
  /** added: ⟨θ⟩ over the grid */
  meanTheta: number[];
  /** added */
  stopReason: RunResult['stopReason'];
  /** the particle's full resolved simulation config (snapshots_min = the frame times) */
  config: SimulationConfig;
}

export interface SynthMovie {
  width: number;
  height: number;
  pixel_um: number;
  frame_s: number;
  times_s: number[];
  /** the 16-bit frames, row-major; frame 0 is the state at t = 0 */
  frames: Uint16Array[];
  truth: SynthTruth;
  /** the capacity.csv record: time_s, capacity_mAh_g (particle 1's simulation) */
  capacity: { time_s: number[]; capacity_mAh_g: number[] };
  scene: SynthScene;
  /** each particle's simulation, input order */
  runs: { problem: Problem; result: RunResult }[];
  /** pixels clipped at 65535 over all frames */
  saturatedPixels: number;
  warnings: string[];
}

export interface SynthesizeOptions {
  /** resolves particle mask files (Node) */
  baseDir?: string;
  /** the solver for each particle's problem; default the CPU reference */
  createSolver?: (problem: Problem) => Promise<Solver> | Solver;
  onProgress?: (fraction: number, status: string) => void;
  signal?: AbortSignal;
  warn?: (message: string) => void;
}

/** The camera of a resolved synth setup: optics from the config, the sensor from the synth section. */
export function synthCamera(base: SimulationConfig, synth: SynthSettings): SynthCamera {
  let fov: [number, number] | null = null;
  if (synth.fieldOfView_px === 'sensor') {
    const preset = base.optics.preset;
    const sensor = preset ? OPTICS_PRESETS[preset].sensor_px : null;
    if (!sensor) throw new ConfigError(`synth.fieldOfView_px = "sensor" is not allowed with optics.preset = ${preset ? JSON.stringify(preset) : '(none)'}: only a rig preset has a fixed sensor (optics.preset "rig": 1920×1200); give [width, height] in pixels`);
    fov = [sensor[0], sensor[1]];
  } else if (synth.fieldOfView_px) fov = [synth.fieldOfView_px[0], synth.fieldOfView_px[1]];
  return {
    pixel_um: base.optics.pixel_um,
    psfSigma_um: base.optics.psfSigma_um,
    fieldOfView_px: fov,
    margin_um: synth.margin_um,
    photons: synth.photons,
    background: synth.background,
    texture: { ...synth.texture },
    noise: { ...synth.noise },
    seed: synth.seed,
  };
}

/**
 * Resolves (when given a raw config), builds every particle's problem and places the particles in
 * the field: all the checks, none of the simulation. Throws ConfigError (or the problem builder's
 * Error) for bad input.
 */
export async function prepareSynth(input: SynthSetup | Record<string, unknown>, options: { baseDir?: string; source?: string } = {}): Promise<PreparedSynth> {
  const setup = isSetup(input) ? input : resolveSynthConfig(input, options.source);
  const problems: Problem[] = [];
  for (const p of setup.particles) {
    p.config.snapshots_min = setup.times_s.map((t) => t / 60);
    try {
      problems.push(await buildProblem(p.config, { baseDir: options.baseDir }));
    } catch (e) {
      throw new ConfigError(`${setup.particles.length > 1 || p.key !== 'particle' ? `${p.key}: ` : ''}${(e as Error).message}`);
    }
  }
  const scene = createSynthScene(
    problems.map((pr, i) => ({
      grid: pr.grid, theta0: pr.theta0, kappa: pr.config.optics.kappa, threshold: pr.config.optics.unreactedThreshold,
      position_um: setup.particles[i].position_um, key: setup.particles[i].key,
    })),
    synthCamera(setup.base, setup.synth),
  );
  return { setup, problems, scene };
}

function isSetup(v: unknown): v is SynthSetup {
  return !!v && typeof v === 'object' && 'particles' in v && 'times_s' in v && 'base' in v && Array.isArray((v as SynthSetup).times_s);
}

function isPrepared(v: unknown): v is PreparedSynth {
  return !!v && typeof v === 'object' && 'scene' in v && 'problems' in v && 'setup' in v;
}

/**
 * A synthetic operando movie (SPEC §7): every particle simulated with snapshots at the frame times,
 * rendered through the forward model and the sensor. `input`: a raw config (with an optional synth
 * section; --set already applied), a resolved SynthSetup, or a PreparedSynth. Frames past the end
 * of a run that stopped early (the cut-off) are left out, with a warning.
 */
export async function synthesizeMovie(input: PreparedSynth | SynthSetup | Record<string, unknown>, options: SynthesizeOptions = {}): Promise<SynthMovie> {
  const prepared = isPrepared(input) ? input : await prepareSynth(input, { baseDir: options.baseDir });
  const { setup, problems, scene } = prepared;
  const warnings: string[] = [];
  const warn = (m: string) => { warnings.push(m); options.warn?.(m); };
  const runs: { problem: Problem; result: RunResult }[] = [];
  const n = problems.length;
  for (const [i, problem] of problems.entries()) {
    const solver = options.createSolver ? await options.createSolver(problem) : await CpuSolver.create(problem);
    try {
      const result = await runSimulation(problem, solver, {
        signal: options.signal,
        onProgress: (f, s) => options.onProgress?.((i + f) / n * 0.9, n > 1 ? `particle ${i + 1}/${n}: ${s}` : s),
      });
      for (const w of result.warnings) {
        // the frame-time snapshots past an early stop are reported once below, per movie
        if (!/^snapshots? at .* not taken/.test(w)) warn(n > 1 ? `${setup.particles[i].key}: ${w}` : w);
      }
      runs.push({ problem, result });
    } finally {
      solver.destroy();
    }
  }
  // each particle's field at each frame time
  const tol = (t: number) => 1e-6 * Math.max(1, t);
  const fieldsAt = runs.map(({ result }) => setup.times_s.map((t) => result.snapshots.find((s) => Math.abs(s.time_s - t) <= tol(t)) ?? null));
  let frames = setup.times_s.length;
  fieldsAt.forEach((list, i) => {
    const k = list.findIndex((s) => s === null);
    if (k >= 0 && k < frames) {
      frames = k;
      warn(`${n > 1 ? `${setup.particles[i].key} ` : ''}stopped (${runs[i].result.stopReason}) at t = ${runs[i].result.time_s.toFixed(1)} s: the movie ends with frame ${k - 1} (t = ${setup.times_s[k - 1]} s) of the ${setup.times_s.length} asked for`);
    }
  });
  if (frames < 2) throw new ConfigError(`the simulation stopped at t = ${Math.min(...runs.map((r) => r.result.time_s)).toFixed(1)} s, before frame 1 (t = ${setup.synth.frame_s} s): use a shorter synth.frame_s`);
  const times_s = setup.times_s.slice(0, frames);

  const pages: Uint16Array[] = [];
  let saturated = 0;
  for (let f = 0; f < frames; f++) {
    if (options.signal?.aborted) throw new Error('synth stopped');
    const expected = scene.expected(fieldsAt.map((list) => list[f]!.field));
    const e = scene.expose(expected, f);
    pages.push(e.frame);
    saturated += e.saturated;
    options.onProgress?.(0.9 + (0.1 * (f + 1)) / frames, `frame ${f + 1}/${frames}`);
  }
  if (saturated) warn(`${saturated} pixel(s) over all frames reached 65535 ADU and were clipped (saturated): lower synth.photons or raise synth.noise.gain_e_per_adu`);

  // the truth: the forward model's metrics of each particle, no noise, no texture (SPEC §2)
  const particles: SynthTruthParticle[] = scene.particles.map((p, i) => {
    const m = fieldsAt[i].slice(0, frames).map((s) => scene.measure(i, s!.field));
    const area_um2 = p.grid.outline.area_um2;
    return {
      id: p.id,
      index: p.index,
      centroidX_um: p.position_um[0],
      centroidY_um: p.position_um[1],
      area_um2,
      eqRadius_um: Math.sqrt(area_um2 / Math.PI),
      comOffset_um: m.map((s) => s.comOffset_um),
      comOffsetRel: m.map((s) => s.comOffsetRel),
      unreactedFraction: m.map((s) => s.unreactedFraction),
      meanDiff: m.map((s) => s.meanDiff),
      meanTheta: fieldsAt[i].slice(0, frames).map((s) => s!.meanTheta),
      stopReason: runs[i].result.stopReason,
      config: problems[i].config,
    };
  }).sort((a, b) => a.id - b.id);

  // capacity: particle 1's trace and its frame snapshots (charge passed is linear in time within a step)
  const first = runs[0].result;
  const rows = new Map<number, number>();
  for (const m of [...first.trace, ...first.snapshots]) rows.set(Number(m.time_s.toPrecision(12)), m.capacity_mAh_g);
  const capTimes = [...rows.keys()].sort((x, y) => x - y);
  const capacity = { time_s: capTimes, capacity_mAh_g: capTimes.map((t) => rows.get(t)!) };
  const truth: SynthTruth = {
    frames,
    pixel_um: scene.pixel_um,
    frame_s: setup.synth.frame_s,
    width: scene.width,
    height: scene.height,
    times_s,
    capacity_mAh_g: fieldsAt[0].slice(0, frames).map((s) => s!.capacity_mAh_g),
    synth: setup.synth,
    optics: setup.base.optics,
    method: 'forward model (SPEC §2) of each frame\'s θ field on the movie\'s own pixel grid, without noise or texture: ΔI/I0 = κ·blur(θ0 − θ)/blur(mask); unreacted = mask pixels with ΔI/I0 < optics.unreactedThreshold; COMs of pixel centres, as analyze measures them',
    particles,
    warnings,
    version: VERSION,
  };
  return {
    width: scene.width, height: scene.height, pixel_um: scene.pixel_um, frame_s: setup.synth.frame_s, times_s,
    frames: pages, truth, capacity, scene, runs, saturatedPixels: saturated, warnings,
  };
}

/**
 * Renders one simulated particle (a θ field per time) to camera frames through the forward model
 * and the sensor — for comparing a simulation with a movie (`compare`, `fit`). `fields[k]` is θ at
 * the k-th frame (NaN outside, as the solvers and theta_XXXXs.npy give it); `camera` is the synth
 * camera (synthCamera, or built by hand); the particle sits at `position_um` (image coordinates),
 * default the centre of the field. Frame k uses noise stream k of camera.seed.
 */
export function renderParticleFrames(problem: Problem, fields: Float32Array[], camera: SynthCamera, position_um: [number, number] | null = null): { scene: SynthScene; frames: Uint16Array[]; expected: Float64Array[] } {
  const scene = createSynthScene([{ grid: problem.grid, theta0: problem.theta0, kappa: problem.config.optics.kappa, threshold: problem.config.optics.unreactedThreshold, position_um, key: 'particle' }], camera);
  const expected = fields.map((f) => scene.expected([f]));
  return { scene, frames: expected.map((e, k) => scene.expose(e, k).frame), expected };
}
