/**
 * The library's array-level functions refuse what a script might pass by mistake (a wrong size, a
 * NaN, a string, a typo in an option) with a UserError naming the argument, the value as written and
 * what is allowed — instead of a result computed from it or a TypeError deep inside.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UserError } from '../../src/errors';
import { show } from '../../src/checks';
import { unreactedStats } from '../../src/observables/unreacted';
import { diffMapCpu } from '../../src/imaging/diffmap';
import { segmentParticles } from '../../src/imaging/segment';
import { estimateDrift } from '../../src/imaging/drift';
import { classifyParticle } from '../../src/imaging/classify';
import { analyzeMovie } from '../../src/imaging/analyze';
import { createCpuProcessor } from '../../src/imaging/processor';
import { createCamera, forwardModel } from '../../src/optics/forward';
import { compareParticles } from '../../src/compare/compare';
import { fitSurface } from '../../src/fit/fit';
import { openMovie } from '../../src/io/movie';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem } from '../../src/solver/problem';
import { createSolver } from '../../src/solver';
import { writeSynthMovie } from '../helpers/synthMovie';

/** the UserError `f` throws (or rejects with) */
async function refusal(f: () => unknown): Promise<string> {
  let err: unknown;
  try { await f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(UserError);
  return (err as Error).message;
}

describe('arguments of the array-level functions', () => {
  it('show() writes values as the caller wrote them (JSON would print NaN as null)', () => {
    expect([show(NaN), show(-Infinity), show('0.05'), show([NaN, 0]), show(undefined), show({ a: 1 })]).toEqual(['NaN', '-Infinity', "'0.05'", '[NaN, 0]', 'undefined', '{"a":1}']);
  });

  it('unreactedStats, diffMapCpu, segmentParticles, estimateDrift, classifyParticle', async () => {
    const diff = new Float32Array(12), mask = new Uint8Array(12).fill(1);
    expect(await refusal(() => unreactedStats(diff, mask, 4, -1))).toBe('unreactedStats: pixel_um = -1 is not allowed: use a finite number > 0');
    expect(await refusal(() => unreactedStats(diff, mask, 4, NaN))).toBe('unreactedStats: pixel_um = NaN is not allowed: use a finite number > 0');
    expect(await refusal(() => unreactedStats(diff, mask, 5, 0.1))).toMatch(/^unreactedStats: diff has 12 values and mask 12: both must be the same image, whole rows of width 5$/);
    expect(await refusal(() => unreactedStats(diff, new Uint8Array(10), 4, 0.1))).toMatch(/^unreactedStats: diff has 12 values and mask 10/);
    expect(await refusal(() => unreactedStats(diff, mask, 4, 0.1, NaN))).toBe('unreactedStats: threshold = NaN is not allowed: use a finite number');
    expect(unreactedStats(diff, mask, 4, 0.1).unreactedFraction).toBe(1);
    const ref = new Float32Array(12).fill(100);
    expect(await refusal(() => diffMapCpu(new Uint16Array(12), ref, 4, 3, { shift: [NaN, 0] }))).toBe('shift = [NaN, 0] is not allowed: it must be [dx, dy], two finite numbers of pixels');
    expect(await refusal(() => diffMapCpu(new Uint16Array(11), ref, 4, 3))).toBe('frame has 11 values, but width × height is 4×3 = 12: give an image of that size (row-major)');
    const img = new Float32Array(64 * 64);
    expect(await refusal(() => segmentParticles(img, 64, 64, { pixel_um: 0 }))).toBe('segmentParticles: pixel_um = 0 is not allowed: use a finite number > 0');
    expect(await refusal(() => segmentParticles(img, 64, 69, { pixel_um: 0.1 }))).toMatch(/^segmentParticles: reference has 4096 values, but width × height is 64×69/);
    expect(await refusal(() => estimateDrift(new Float32Array(88 * 88), new Float32Array(100), 88, 88))).toMatch(/^drift: frame has 100 values, but width × height is 88×88 = 7744/);
    expect(await refusal(() => classifyParticle([0.1, 0.2], [1]))).toBe('classifyParticle: comOffsetRel has 2 frames and unreactedFraction 1: give one value per frame in each');
  });

  it('createCamera and forwardModel', async () => {
    const problem = await buildProblem(resolveConfig({ ...presetConfig('fig4a'), grid: { spacing_um: 0.1 } }));
    const optics = problem.config.optics;
    expect(await refusal(() => createCamera(problem.grid, { ...optics, pixel_um: -0.05 }))).toBe('createCamera: optics.pixel_um = -0.05 is not allowed: use a finite number > 0');
    expect(await refusal(() => createCamera(problem.grid, { ...optics, psfSigma_um: NaN }))).toBe('createCamera: optics.psfSigma_um = NaN is not allowed: use a finite number ≥ 0');
    const camera = createCamera(problem.grid, optics);
    expect(await refusal(() => forwardModel(new Float32Array(10), camera, 1))).toMatch(/^forwardModel: theta has 10 values, but the camera's grid is \d+×\d+ = \d+ cells/);
    expect(await refusal(() => forwardModel(new Float32Array(problem.grid.nx * problem.grid.ny), camera, NaN))).toBe('forwardModel: theta0 = NaN is not allowed: use a finite number');
  });

  it('createSolver options', async () => {
    const problem = await buildProblem(resolveConfig({ ...presetConfig('fig4a'), grid: { spacing_um: 0.1 } }));
    const cpu = { kind: 'cpu' as const, label: 'cpu' };
    // checked whatever the backend, so a script written on a laptop does not fail first on the GPU machine
    expect(await refusal(() => createSolver(problem, cpu, { stepsPerDispatch: 0 }))).toBe('createSolver: stepsPerDispatch = 0 is not allowed: use a whole number ≥ 1 ≤ 8');
    expect(await refusal(() => createSolver(problem, cpu, { stepsPerDispatch: NaN }))).toBe('createSolver: stepsPerDispatch = NaN is not allowed: use a whole number ≥ 1 ≤ 8');
    const solver = await createSolver(problem, cpu, { stepsPerDispatch: 4 });
    expect(solver.constructor.name).toBe('CpuSolver');
    solver.destroy();
  });

  it('analyzeMovie, compareParticles and fitSurface options', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ionflux-args-'));
    const file = path.join(dir, 'movie.tif');
    await writeSynthMovie(file, { width: 48, height: 40, frames: 3, particles: [{ cx: 24, cy: 20, radius_px: 10 }] }, { pixel_um: 0.1, frame_s: 1 });
    const movie = await openMovie(file);
    try {
      const cpu = (o: Parameters<typeof createCpuProcessor>[0]) => createCpuProcessor(o);
      expect(await refusal(() => analyzeMovie(movie, dir, cpu, { threshold: '0.05' as never }))).toBe("--threshold = '0.05' is not allowed: use a number (ΔI/I0, the paper uses 0.05)");
      expect(await refusal(() => analyzeMovie(movie, dir, cpu, { lineAngleDeg: NaN }))).toBe('--line-angle (lineAngleDeg) = NaN is not allowed: use a finite number');
      expect(await refusal(() => analyzeMovie(movie, dir, cpu, { kymoAxis: 'bogus' as never }))).toBe("--kymo-axis (kymoAxis) = 'bogus' is not allowed: use one of auto, time, capacity");
    } finally {
      await movie.close();
    }
    expect(await refusal(() => compareParticles(null as never, null as never))).toMatch(/^compareParticles: the observed side is null: give readObservedParticle\(movie\)'s result$/);
    expect(await refusal(() => fitSurface({} as never, { model: 'arc' } as never))).toMatch(/^fitSurface: options\.runner is missing: give cpuBatchRunner\(\)/);
    expect(await refusal(() => fitSurface({} as never, { runner: { label: 'x', run: async () => [] }, generations: 0 }))).toBe('fitSurface: options.generations (--generations) = 0 is not allowed: use a whole number ≥ 1');
  });
});
