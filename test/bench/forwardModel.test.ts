/**
 * The `forward model` bench case, --quick: one row, ms per warm frame of the CPU forward model on
 * fig4c's camera, with its mask-pixel count.
 */
import { expect, test } from 'vitest';
import { solverCases } from '../../bench/cases/solver';

test('forward model: ms per frame on fig4c’s camera', async () => {
  const c = solverCases.find((k) => k.name === 'forward model');
  if (!c) throw new Error('no bench case "forward model"');
  const rows = await c.run({ gpu: null, quick: true, log: () => {}, numpy: () => null });
  expect(rows.map((r) => r.id)).toEqual(['forward-cpu']);
  const [r] = rows;
  expect(Number.isFinite(r.value) && r.value > 0 && r.value < 1000).toBe(true);
  expect(r.unit).toBe('ms');
  expect(r.size).toBe('122² grid → 62×62 px');
  expect(r.note).toMatch(/^1804 mask pixels; median of 31 calls$/);
});
