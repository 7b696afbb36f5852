/**
 * examples/slurm/submit.sh without a working Slurm: when sbatch refuses the array job, the script
 * says so, exits 2, and leaves no empty OUT/logs behind (it used to).
 */
import { afterAll, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-submit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SUBMIT = path.resolve(__dirname, '../../examples/slurm/submit.sh');

test('sbatch refusing the array: exit 2, one line, no folder left behind (a folder of the user\'s kept as it was)', () => {
  const bin = path.join(tmp, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'sbatch'), '#!/bin/sh\necho "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2\nexit 1\n');
  chmodSync(path.join(bin, 'sbatch'), 0o755);
  const spec = path.join(tmp, 'spec.json');
  writeFileSync(spec, '{}');
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  const out = path.join(tmp, 'new-out');
  const r = spawnSync('bash', [SUBMIT, spec, out, '3'], { env, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/Invalid partition name/);
  expect(r.stderr).toMatch(/submit\.sh: sbatch refused the array job \(its message is above\); nothing was submitted/);
  expect(existsSync(out)).toBe(false);
  // an OUT that existed (with the user's file) stays, without a logs/ of ours
  const mine = path.join(tmp, 'mine');
  mkdirSync(mine);
  writeFileSync(path.join(mine, 'notes.txt'), 'x');
  expect(spawnSync('bash', [SUBMIT, spec, mine, '3'], { env, encoding: 'utf8' }).status).toBe(2);
  expect(readdirSync(mine)).toEqual(['notes.txt']);
});
