/**
 * The StepUniforms struct of shaders/kirchhoff.wgsl (one per lane of a batch, in a storage array),
 * written from one preallocated staging buffer per lane. Offsets are fixed here once;
 * test/kernels/stepUniforms.test.ts checks them against the WGSL text.
 */
import type { StepParams } from '../solver/problem';

export const STEP_UNIFORM_FIELDS = [
  'nx', 'ny', 'tableN', 'nWalls', 'theta0', 'r', 'fluxPerStep', 'surfaceFactor',
  'stopBelowPhi', 'stopAbovePhi', 'checkBelow', 'checkAbove', 'applyFlux', 'tableOffset', 'wallOffset', 'quantaOffset',
] as const;
export const STEP_UNIFORMS_BYTES = STEP_UNIFORM_FIELDS.length * 4; // 64: every field is one 4-byte scalar

const U32 = new Set(['nx', 'ny', 'tableN', 'nWalls', 'checkBelow', 'checkAbove', 'applyFlux', 'tableOffset', 'wallOffset', 'quantaOffset']);

export interface StepUniformValues {
  nx: number; ny: number; tableN: number; nWalls: number; theta0: number;
  /** where the lane's Φ̃ table, wall cells and wall quanta start in the batch's shared buffers */
  tableOffset: number; wallOffset: number; quantaOffset: number;
  params: StepParams;
  applyFlux: boolean;
}

/** Writes the uniforms into `view` (little-endian, as WGSL reads them) and returns it. */
export function packStepUniforms(view: DataView, v: StepUniformValues): DataView {
  const p = v.params;
  const checkBelow = p.stopBelowPhi > -Infinity;
  const checkAbove = p.stopAbovePhi < Infinity;
  const values: Record<(typeof STEP_UNIFORM_FIELDS)[number], number> = {
    nx: v.nx, ny: v.ny, tableN: v.tableN, nWalls: v.nWalls, theta0: v.theta0,
    r: p.r, fluxPerStep: p.fluxPerStep, surfaceFactor: p.surfaceFactor,
    // WGSL compilers may assume no infinities: disabled checks carry a flag and a finite value
    stopBelowPhi: checkBelow ? p.stopBelowPhi : 0, stopAbovePhi: checkAbove ? p.stopAbovePhi : 0,
    checkBelow: checkBelow ? 1 : 0, checkAbove: checkAbove ? 1 : 0, applyFlux: v.applyFlux ? 1 : 0,
    tableOffset: v.tableOffset, wallOffset: v.wallOffset, quantaOffset: v.quantaOffset,
  };
  STEP_UNIFORM_FIELDS.forEach((name, k) => {
    if (U32.has(name)) view.setUint32(4 * k, values[name], true);
    else view.setFloat32(4 * k, values[name], true);
  });
  return view;
}
