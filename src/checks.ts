/**
 * Checks of a library caller's arguments (the array-level functions a script calls directly): each
 * failure is a UserError naming the argument, the bad value as written (NaN as NaN, a string in
 * quotes) and what is allowed. The CLI's parsers check its flags before these are reached.
 */
import { UserError } from './errors';

/** A value as the caller wrote it: NaN and ±Infinity by name (JSON prints them as null), strings quoted. */
export function show(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (v === undefined || v === null || typeof v !== 'object') return String(v);
  try { return JSON.stringify(v); } catch { return String(v); }
}

export interface NumberRule { min?: number; max?: number; above?: number; integer?: boolean }

/** `v` if it is a finite number within the rule, else a UserError: "`name` = v is not allowed: …". */
export function checkNumber(name: string, v: unknown, rule: NumberRule = {}): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (!rule.integer || Number.isInteger(v))
    && (rule.min === undefined || v >= rule.min) && (rule.max === undefined || v <= rule.max) && (rule.above === undefined || v > rule.above);
  if (ok) return v as number;
  const parts = [rule.integer ? 'a whole number' : 'a finite number'];
  if (rule.above !== undefined) parts.push(`> ${rule.above}`);
  if (rule.min !== undefined) parts.push(`≥ ${rule.min}`);
  if (rule.max !== undefined) parts.push(`≤ ${rule.max}`);
  throw new UserError(`${name} = ${show(v)} is not allowed: use ${parts.join(' ')}`);
}

/** `v` if it is one of `allowed`, else a UserError listing them. */
export function checkOneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw new UserError(`${name} = ${show(v)} is not allowed: use one of ${allowed.join(', ')}`);
}

/** An image of `length` values must hold width × height pixels. */
export function checkPixels(name: string, length: number, width: number, height: number): void {
  if (length !== width * height) throw new UserError(`${name} has ${length} values, but width × height is ${width}×${height} = ${width * height}: give an image of that size (row-major)`);
}

/** Width and height of an image: positive whole numbers. */
export function checkSize(width: unknown, height: unknown, what = 'image'): void {
  if (!(Number.isInteger(width) && (width as number) >= 1 && Number.isInteger(height) && (height as number) >= 1)) {
    throw new UserError(`${what} size ${show(width)}×${show(height)} is not allowed: width and height must be positive whole numbers`);
  }
}
