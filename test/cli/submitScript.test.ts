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
  // an OUT below folders that do not exist yet: none of them is left
  const deep = path.join(tmp, 'a', 'b', 'c');
  expect(spawnSync('bash', [SUBMIT, spec, deep, '3'], { env, encoding: 'utf8' }).status).toBe(2);
  expect(existsSync(path.join(tmp, 'a'))).toBe(false);
});

test('sbatch taking the array but refusing the merge: exit 2, and the line names the array job and how to merge by hand', () => {
  const bin = path.join(tmp, 'bin2');
  mkdirSync(bin);
  // the first call (the array) answers a job id, the second (the merge) fails
  const count = path.join(tmp, 'calls');
  writeFileSync(path.join(bin, 'sbatch'), `#!/bin/sh
n=$(cat ${count} 2>/dev/null || echo 0); echo $((n + 1)) > ${count}
if [ "$n" = 0 ]; then echo 4242; exit 0; fi
echo "sbatch: error: Invalid account" >&2
exit 1
`);
  chmodSync(path.join(bin, 'sbatch'), 0o755);
  const spec = path.join(tmp, 'spec2.json');
  writeFileSync(spec, '{}');
  const out = path.join(tmp, 'half');
  const r = spawnSync('bash', [SUBMIT, spec, out, '2'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/submit\.sh: the array job 4242 \(2 tasks\) is submitted, but sbatch refused the merge job \(its message is above\): when the array has finished, run: ionflux sweep merge .*half\/shard-\* --out .*half\/merged \(or scancel 4242\)/);
  // the array's logs go there: kept
  expect(existsSync(path.join(out, 'logs'))).toBe(true);
});
