/**
 * fit's journal beside --out (src/fit/output.ts fileJournal): a fit resumes its own journal, and
 * the journal of another fit (other settings) is kept beside, never overwritten.
 */
import { afterAll, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileJournal } from '../../src/fit/output';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-journal-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('the same fit resumes; another fit keeps the first one\'s journal beside and starts afresh', () => {
  const out = path.join(tmp, 'fit');
  const logs: string[] = [];
  const a = fileJournal(out, 'key-a', (l) => logs.push(l));
  expect(a.load().size).toBe(0);
  a.append([{ key: 'c1', cost: 1.5 } as never, { key: 'c2', cost: Infinity } as never]);
  const again = fileJournal(out, 'key-a', (l) => logs.push(l)).load();
  expect([...again.keys()]).toEqual(['c1', 'c2']);
  expect(again.get('c2')?.cost).toBe(Infinity);
  const before = readFileSync(a.path, 'utf8');
  const notices: string[] = [];
  const b = fileJournal(out, 'key-b', () => {}, (l) => notices.push(l)); // (the CLI's warning: said under --quiet too)
  expect(b.load().size).toBe(0);
  expect(notices.at(-1)).toMatch(/fit\.fit-journal\.jsonl belongs to another fit \(other input or settings\): kept as .*fit\.fit-journal\.jsonl\.other-\S+ \(rename it back to resume that fit\); starting this one afresh/);
  const aside = readdirSync(tmp).filter((f) => f.includes('.other-'));
  expect(aside).toHaveLength(1);
  expect(readFileSync(path.join(tmp, aside[0]), 'utf8')).toBe(before);
  b.append([{ key: 'd1', cost: 2 } as never]);
  expect(readFileSync(b.path, 'utf8')).toMatch(/"fitKey":"key-b"/);
  expect(existsSync(path.join(tmp, aside[0]))).toBe(true);
});
