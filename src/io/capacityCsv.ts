/**
 * The cycler's record for `analyze --capacity FILE` (SPEC §6): a CSV with a header naming at least
 * `time_s` and `capacity_mAh_g` (charge passed, mAh per g of active material) and optionally
 * `voltage_V`, in any column order; other columns are ignored. Commas separate fields; blank lines and
 * lines starting with `#` are skipped. Time must increase strictly. Values at frame times are
 * interpolated linearly; frames outside the record's time range get NaN (written as empty cells), not
 * an extrapolation. No Node modules here (the demo parses a dropped file's text); readCapacityFile in
 * src/io/capacity.ts reads a file.
 */
import { UserError } from '../errors';

export interface CapacityRecord {
  path: string;
  time_s: Float64Array;
  capacity_mAh_g: Float64Array;
  /** null when the file has no voltage_V column */
  voltage_V: Float64Array | null;
}

/** Parses capacity CSV text; `name` is used in error messages. Throws UserError on bad input. */
export function parseCapacityCsv(text: string, name: string): CapacityRecord {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let lineNo = 0;
  let header: string[] | null = null;
  const rows: { line: number; cells: string[] }[] = [];
  for (const raw of lines) {
    lineNo++;
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const cells = line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (!header) header = cells;
    else rows.push({ line: lineNo, cells });
  }
  if (!header) throw new UserError(`capacity file ${name} is empty: expected a header with time_s and capacity_mAh_g`);
  const col = (n: string) => header!.indexOf(n);
  const it = col('time_s'), ic = col('capacity_mAh_g'), iv = col('voltage_V');
  const missing = [it < 0 ? 'time_s' : '', ic < 0 ? 'capacity_mAh_g' : ''].filter((s) => s);
  if (missing.length) {
    throw new UserError(`capacity file ${name} has columns [${header.join(', ')}] but needs ${missing.join(' and ')} (optional voltage_V)`);
  }
  if (rows.length < 1) throw new UserError(`capacity file ${name} has a header but no data rows`);
  const n = rows.length;
  const time_s = new Float64Array(n), capacity = new Float64Array(n);
  const voltage = iv >= 0 ? new Float64Array(n) : null;
  const num = (row: { line: number; cells: string[] }, i: number, what: string, allowEmpty: boolean) => {
    const s = row.cells[i];
    if ((s === undefined || s === '') && allowEmpty) return NaN;
    const v = s === undefined || s === '' ? NaN : Number(s);
    if (!Number.isFinite(v)) throw new UserError(`capacity file ${name}, line ${row.line}: ${what} = '${s ?? ''}' is not a number`);
    return v;
  };
  rows.forEach((row, k) => {
    time_s[k] = num(row, it, 'time_s', false);
    capacity[k] = num(row, ic, 'capacity_mAh_g', false);
    if (voltage) voltage[k] = num(row, iv, 'voltage_V', true);
    if (k > 0 && !(time_s[k] > time_s[k - 1])) {
      throw new UserError(`capacity file ${name}, line ${row.line}: time_s = ${time_s[k]} does not increase (previous ${time_s[k - 1]}); rows must be in time order`);
    }
  });
  return { path: name, time_s, capacity_mAh_g: capacity, voltage_V: voltage };
}

/** Linear interpolation of `values` (given at increasing `times`) at `t`; NaN outside the range. */
export function interpolateAt(times: Float64Array, values: Float64Array, t: number): number {
  const n = times.length;
  if (!Number.isFinite(t) || n === 0 || t < times[0] || t > times[n - 1]) return NaN;
  if (n === 1) return values[0];
  let lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= t) lo = mid; else hi = mid;
  }
  const f = (t - times[lo]) / (times[hi] - times[lo]);
  const a = values[lo], b = values[hi];
  if (Number.isNaN(a) || Number.isNaN(b)) return f < 0.5 ? a : b;
  return a + f * (b - a);
}

/** Capacity (and voltage) at each frame time. */
export function capacityAtFrames(record: CapacityRecord, frameTimes_s: number[]): { capacity_mAh_g: number[]; voltage_V: number[] | null } {
  return {
    capacity_mAh_g: frameTimes_s.map((t) => interpolateAt(record.time_s, record.capacity_mAh_g, t)),
    voltage_V: record.voltage_V ? frameTimes_s.map((t) => interpolateAt(record.time_s, record.voltage_V!, t)) : null,
  };
}
