/**
 * The bench table's speed-up column: ratios in the direction of `better`, and none against (or of) a
 * row without a figure — a skipped peer says why in its note instead of printing `NaN×`.
 */
import { expect, test } from 'vitest';
import { formatTable, type BenchRow } from '../../bench/harness';

const row = (id: string, backend: string, value: number, ratioTo?: string[]): BenchRow =>
  ({ id, case: 'c', backend, size: 's', value, unit: 's', better: 'lower', ratioTo });

test('speed-ups of lower-is-better rows, skipped peers left out', () => {
  const table = formatTable([
    row('ours', 'ionflux', 0.5, ['np', 'nb', 'gone']),
    row('np', 'numpy', 1.0),
    row('nb', 'numba', NaN),
    row('skipped', 'ionflux-gpu', NaN, ['np']),
  ]);
  const lines = table.split('\n');
  const ours = lines.find((l) => l.includes('ionflux ')) as string;
  expect(ours).toContain('2.00× vs numpy');
  expect(ours).not.toContain('vs numba');
  expect(table).not.toContain('NaN×');
  expect(lines.find((l) => l.includes('ionflux-gpu'))).not.toContain('×');
});

test('higher-is-better rows divide the other way', () => {
  const table = formatTable([{ ...row('a', 'gpu', 300, ['b']), better: 'higher' }, { ...row('b', 'cpu', 100), better: 'higher' }]);
  expect(table).toContain('3.00× vs cpu');
});
