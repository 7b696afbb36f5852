/** The StepUniforms byte layout in TS matches the struct in shaders/kirchhoff.wgsl field by field. */
import { expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { packStepUniforms, STEP_UNIFORM_FIELDS, STEP_UNIFORMS_BYTES } from '../../src/kernels/stepUniforms';

test('field order and types', () => {
  const wgsl = readFileSync(new URL('../../shaders/kirchhoff.wgsl', import.meta.url), 'utf8');
  const body = wgsl.slice(wgsl.indexOf('struct StepUniforms {'), wgsl.indexOf('}', wgsl.indexOf('struct StepUniforms {')));
  const fields = [...body.matchAll(/^\s*(\w+):\s*(u32|f32),/gm)].map((m) => [m[1], m[2]]);
  expect(fields.map((f) => f[0])).toEqual([...STEP_UNIFORM_FIELDS]);
  expect(STEP_UNIFORMS_BYTES).toBe(64); // 16 scalars: the array stride of the per-lane storage array
  const view = packStepUniforms(new DataView(new ArrayBuffer(64)), {
    nx: 7, ny: 9, tableN: 4096, nWalls: 33, theta0: 0.75, tableOffset: 8194, wallOffset: 66, quantaOffset: 70,
    params: { dt_s: 0.1, r: 0.2, fluxPerStep: 1e-4, surfaceFactor: 5, stopBelowPhi: -0.5, stopAbovePhi: Infinity },
    applyFlux: true,
  });
  const get = (name: string) => {
    const k = STEP_UNIFORM_FIELDS.indexOf(name as (typeof STEP_UNIFORM_FIELDS)[number]);
    return fields[k][1] === 'u32' ? view.getUint32(4 * k, true) : view.getFloat32(4 * k, true);
  };
  expect(get('nx')).toBe(7); expect(get('ny')).toBe(9); expect(get('nWalls')).toBe(33);
  expect(get('theta0')).toBe(0.75); expect(get('r')).toBeCloseTo(0.2, 7);
  expect(get('stopBelowPhi')).toBe(-0.5); expect(get('checkBelow')).toBe(1);
  expect(get('checkAbove')).toBe(0); expect(get('stopAbovePhi')).toBe(0); // no infinities reach WGSL
  expect(get('applyFlux')).toBe(1);
  expect(get('tableOffset')).toBe(8194); expect(get('wallOffset')).toBe(66); expect(get('quantaOffset')).toBe(70);
});
