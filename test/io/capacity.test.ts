import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { capacityAtFrames, interpolateAt, parseCapacityCsv, readCapacityFile } from '../../src/io/capacity';
import { UserError } from '../../src/cli/errors';

function err(f: () => unknown): string {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(UserError); return (e as Error).message; }
  throw new Error('expected a UserError');
}

describe('capacity file', () => {
  it('reads columns in any order, skips comments, interpolates linearly, NaN outside', () => {
    const rec = parseCapacityCsv('# cycler export\nvoltage_V,time_s,capacity_mAh_g,step\n3.6,0,0,1\n\n4.0,100,20,1\n4.2,200,30,1\n', 'c.csv');
    expect(Array.from(rec.time_s)).toEqual([0, 100, 200]);
    const at = capacityAtFrames(rec, [0, 50, 150, 200, 250, -1]);
    expect(at.capacity_mAh_g.slice(0, 4)).toEqual([0, 10, 25, 30]);
    expect(at.capacity_mAh_g.slice(4).every(Number.isNaN)).toBe(true);
    expect(at.voltage_V![1]).toBeCloseTo(3.8, 12);
    expect(interpolateAt(Float64Array.of(5), Float64Array.of(7), 5)).toBe(7);
  });
  it('voltage is optional', () => {
    const rec = parseCapacityCsv('time_s,capacity_mAh_g\n0,0\n10,1\n', 'c.csv');
    expect(rec.voltage_V).toBeNull();
    expect(capacityAtFrames(rec, [5]).voltage_V).toBeNull();
  });
  it('names the file and what is missing or wrong', () => {
    expect(err(() => parseCapacityCsv('t,q\n0,0\n', 'run.csv'))).toBe('capacity file run.csv has columns [t, q] but needs time_s and capacity_mAh_g (optional voltage_V)');
    expect(err(() => parseCapacityCsv('time_s,voltage_V\n0,3\n', 'run.csv'))).toMatch(/needs capacity_mAh_g/);
    expect(err(() => parseCapacityCsv('', 'run.csv'))).toMatch(/is empty/);
    expect(err(() => parseCapacityCsv('time_s,capacity_mAh_g\n', 'run.csv'))).toMatch(/no data rows/);
    expect(err(() => parseCapacityCsv('time_s,capacity_mAh_g\n0,0\n1,abc\n', 'run.csv'))).toBe("capacity file run.csv, line 3: capacity_mAh_g = 'abc' is not a number");
    expect(err(() => parseCapacityCsv('time_s,capacity_mAh_g\n0,0\n0,1\n', 'run.csv'))).toMatch(/line 3: time_s = 0 does not increase/);
  });
  it('a missing file is a UserError', async () => {
    await expect(readCapacityFile('/nonexistent/cap.csv')).rejects.toThrow(/cannot be read: no such file or folder \(ENOENT\)/);
    const dir = mkdtempSync(path.join(tmpdir(), 'ionflux-cap-'));
    const f = path.join(dir, 'c.csv');
    writeFileSync(f, '\uFEFFtime_s,capacity_mAh_g\r\n0,0\r\n10,2\r\n');
    expect(Array.from((await readCapacityFile(f)).capacity_mAh_g)).toEqual([0, 2]);
  });
});
