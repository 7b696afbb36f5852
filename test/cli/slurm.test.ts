/**
 * Sweeps on a real Slurm (a private single-node cluster on 127.0.0.1: test/helpers/slurm.ts), through
 * the job scripts a cluster user gets (examples/slurm/): an array of shards plus the dependent merge
 * gives the table of one unsharded `ionflux sweep`, and a shard stopped by `scancel` part-way and
 * resubmitted keeps its finished runs. Every wait is bounded and every check is on the files the jobs
 * wrote, never on sbatch's exit code (SLURM.md pitfalls 5–6).
 *
 * Without root or Slurm installed (`bash scripts/setup-slurm.sh`) the tests are skipped with the
 * reason, and fail under CI.
 *
 *   npx vitest run test/cli/slurm.test.ts                            everything (~1 min)
 *   npx vitest run test/cli/slurm.test.ts -t 'slurm harness'         the cluster and the job scripts, with a stand-in ionflux
 *   npx vitest run test/cli/slurm.test.ts -t 'ionflux sweep on Slurm' the real `ionflux sweep` and `sweep merge`
 */
import { afterAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildCli } from '../helpers/builtCli';
import { useSlurm, type SlurmCluster } from '../helpers/slurm';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLES = path.join(ROOT, 'examples', 'slurm');
const SUBMIT = path.join(EXAMPLES, 'submit.sh');
const EXAMPLE_SPEC = path.join(EXAMPLES, 'example-spec.json');

const slurm = useSlurm();
const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-slurm-test-'));
chmodSync(tmp, 0o755);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const read = (file: string) => readFileSync(file, 'utf8');

/** a job's log files, for failure messages */
function jobLogs(dir: string): string {
  if (!existsSync(dir)) return `(no ${dir})`;
  return readdirSync(dir).filter((f) => statSync(path.join(dir, f)).isFile()).sort().map((f) => `--- ${f} ---\n${read(path.join(dir, f)).trimEnd().split('\n').slice(-12).join('\n')}`).join('\n');
}

/** submit.sh SPEC OUT TASKS …; returns the two job ids it printed */
function submit(c: SlurmCluster, args: string[], env: NodeJS.ProcessEnv): { array: string; merge: string; stdout: string } {
  const r = c.client('bash', [SUBMIT, ...args], { cwd: tmp, env });
  if (r.status !== 0) throw new Error(`submit.sh ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}${r.stdout}`);
  const array = /^array job: (\d+)/m.exec(r.stdout)?.[1];
  const merge = /^merge job: (\d+)/m.exec(r.stdout)?.[1];
  if (!array || !merge) throw new Error(`submit.sh printed no job ids: ${r.stdout}`);
  return { array, merge, stdout: r.stdout };
}

describe('slurm harness (no ionflux sweep needed)', () => {
  test('a 3-task array and an afterok dependent run; a failed task cancels its dependent instead of leaving it pending', async (ctx) => {
    const c = slurm(ctx);
    const t0 = Date.now();
    const dir = path.join(tmp, 'harness');
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    const node = JSON.stringify(process.execPath);
    const common = [`--chdir=${dir}`, '--cpus-per-task=1', '--mem=100M'];

    // each task writes what the Slurm environment tells it (the shard contract of `ionflux sweep`)
    const shard = `${node} -e 'const e = process.env; require("fs").writeFileSync("task-" + e.SLURM_ARRAY_TASK_ID + ".txt", [e.SLURM_ARRAY_TASK_ID, e.SLURM_ARRAY_TASK_MIN, e.SLURM_ARRAY_TASK_COUNT].join(" "))'`;
    const merge = `${node} -e 'const fs = require("fs"); fs.writeFileSync("merged.txt", fs.readdirSync(".").filter((f) => f.startsWith("task-")).sort().map((f) => fs.readFileSync(f, "utf8")).join("\\n"))'`;
    const jid = c.sbatch([...common, '--array=0-2', `--output=${dir}/logs/%A_%a.out`, '--wrap', shard]);
    const mid = c.sbatch([...common, `--dependency=afterok:${jid}`, '--kill-on-invalid-dep=yes', `--output=${dir}/logs/merge-%j.out`, '--wrap', merge]);
    await c.waitForJobs([jid, mid], 60_000);
    const merged = path.join(dir, 'merged.txt');
    expect(existsSync(merged), `no merged.txt; jobs ${JSON.stringify([c.job(jid), c.job(mid)])}\n${jobLogs(path.join(dir, 'logs'))}\n${c.logs()}`).toBe(true);
    expect(read(merged).split('\n')).toEqual(['0 0 3', '1 0 3', '2 0 3']);
    expect(c.job(jid).states).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect(c.job(mid).states).toEqual(['COMPLETED']);

    // task 1 fails: the merge is cancelled (kill-on-invalid-dep), not PENDING forever, and writes nothing
    const failDir = path.join(dir, 'fail');
    mkdirSync(failDir);
    const jid2 = c.sbatch([...common, `--chdir=${failDir}`, '--array=0-2', `--output=${dir}/logs/%A_%a.out`, '--wrap', `[ "$SLURM_ARRAY_TASK_ID" != 1 ] || exit 3; touch task-$SLURM_ARRAY_TASK_ID`]);
    const mid2 = c.sbatch([...common, `--chdir=${failDir}`, `--dependency=afterok:${jid2}`, '--kill-on-invalid-dep=yes', `--output=${dir}/logs/merge-%j.out`, '--wrap', 'touch merged']);
    await c.waitForJobs([jid2, mid2], 60_000);
    expect(c.job(jid2).states.sort()).toEqual(['COMPLETED', 'COMPLETED', 'FAILED']);
    expect(c.job(mid2).states).toEqual(['CANCELLED']);
    expect(readdirSync(failDir).sort()).toEqual(['task-0', 'task-2']);
    console.log(`slurm harness: ${((Date.now() - t0) / 1000).toFixed(1)} s for both arrays and their dependents`);
  }, 150_000);

  test('examples/slurm/submit.sh: array tasks get SPEC, OUT, their shard folder and the sweep options; the merge gets every shard', async (ctx) => {
    const c = slurm(ctx);
    // a stand-in for `ionflux` that records how the job scripts call it
    const fake = path.join(tmp, 'fake-ionflux.mjs');
    writeFileSync(fake, `import { mkdirSync, writeFileSync } from 'node:fs';
const argv = process.argv.slice(2);
const out = argv[argv.indexOf('--out') + 1];
mkdirSync(out, { recursive: true });
const e = process.env;
writeFileSync(out + '/call.json', JSON.stringify({ argv, task: e.SLURM_ARRAY_TASK_ID, min: e.SLURM_ARRAY_TASK_MIN, count: e.SLURM_ARRAY_TASK_COUNT, spec: e.SPEC }));
`);
    const out = path.join(tmp, 'fake-out');
    const env = { IONFLUX_CMD: `${process.execPath} ${fake}` };
    const ids = submit(c, [EXAMPLE_SPEC, out, '3', '--cpus-per-task=1', '--mem=100M', '--', '--backend', 'cpu', '--quiet'], env);
    await c.waitForJobs([ids.array, ids.merge], 60_000);
    const merged = path.join(out, 'merged', 'call.json');
    expect(existsSync(merged), `no merged/call.json; ${JSON.stringify([c.job(ids.array), c.job(ids.merge)])}\n${jobLogs(path.join(out, 'logs'))}`).toBe(true);
    for (const k of [0, 1, 2]) {
      const call = JSON.parse(read(path.join(out, `shard-${k}`, 'call.json')));
      expect(call).toEqual({ argv: ['sweep', '--spec', EXAMPLE_SPEC, '--out', path.join(out, `shard-${k}`), '--backend', 'cpu', '--quiet'], task: String(k), min: '0', count: '3', spec: EXAMPLE_SPEC });
    }
    const mergeCall = JSON.parse(read(merged));
    expect(mergeCall.argv).toEqual(['sweep', 'merge', ...[0, 1, 2].map((k) => path.join(out, `shard-${k}`)), '--out', path.join(out, 'merged')]);
    expect(c.job(ids.merge).states).toEqual(['COMPLETED']);

    // resubmitting some tasks only: SHARD_COUNT gives the shard explicitly (a partial array has another TASK_COUNT)
    const part = path.join(tmp, 'fake-part');
    mkdirSync(part);
    const jid = c.sbatch(['--cpus-per-task=1', '--mem=100M', '--array=1', `--output=${part}/%A_%a.out`, path.join(EXAMPLES, 'sweep-array.sbatch'), '--backend', 'cpu'],
      { cwd: tmp, env: { ...env, SPEC: EXAMPLE_SPEC, OUT: part, SHARD_COUNT: '3' } });
    await c.waitForJobs([jid], 60_000);
    const partCall = path.join(part, 'shard-1', 'call.json');
    expect(existsSync(partCall), `no ${partCall}\n${jobLogs(part)}`).toBe(true);
    expect(JSON.parse(read(partCall)).argv).toEqual(['sweep', '--spec', EXAMPLE_SPEC, '--out', path.join(part, 'shard-1'), '--shard-index', '1', '--shard-count', '3', '--backend', 'cpu']);
  }, 150_000);
});

// ---------------------------------------------------------------------------------------------------
// With the real `ionflux sweep` (the built CLI, as the jobs' IONFLUX_CMD).

/** a minimal CSV reader: commas, double quotes (with "" inside), one record per line */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (ch === '"') quoted = false; else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += ch;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

/** runs.csv without the columns that may differ between a sharded and an unsharded sweep */
function table(file: string): { header: string[]; rows: string[][] } {
  const [header, ...rows] = parseCsv(read(file));
  const keep = header.map((h, i) => (h === 'wallTime_s' || h === 'backend' ? -1 : i)).filter((i) => i >= 0);
  return { header: keep.map((i) => header[i]), rows: rows.map((r) => keep.map((i) => r[i])) };
}

const RESULT_COLUMNS = ['stopReason', 'time_s', 'extractedCapacity_mAh_g', 'maxComOffset_um', 'maxComOffsetRel', 'coreVanish_s', 'wallTime_s', 'backend'];

describe('ionflux sweep on Slurm', () => {
  const cli = buildCli('slurm');
  afterAll(() => cli.remove());
  // the jobs' `ionflux`: the bundle built for this test file (IONFLUX_CMD, honoured by the job scripts)
  const wrapper = path.join(tmp, 'ionflux');
  writeFileSync(path.join(tmp, 'ionflux.mjs'), `const { main } = await import(${JSON.stringify('file://' + cli.entry)});\nprocess.exitCode = await main(process.argv.slice(2));\n`);
  writeFileSync(wrapper, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(tmp, 'ionflux.mjs'))} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const env = { IONFLUX_CMD: wrapper };

  /** an unsharded sweep on this machine, outside Slurm (no SLURM_ARRAY_* in its environment) */
  function unsharded(c: SlurmCluster, spec: string, out: string): void {
    const r = spawnSync(wrapper, ['sweep', '--spec', spec, '--out', out, '--backend', 'cpu', '--quiet'], { encoding: 'utf8', env: Object.fromEntries(Object.entries(c.env).filter(([k]) => k !== 'SLURM_CONF')) });
    expect(r.status, `ionflux sweep --spec ${spec} (unsharded) failed: ${r.stderr}`).toBe(0);
    const { header } = table(path.join(out, 'runs.csv'));
    expect(header[0]).toBe('id');
    expect([...header.slice(-6)]).toEqual(RESULT_COLUMNS.filter((h) => h !== 'wallTime_s' && h !== 'backend'));
  }

  function expectMergedEquals(c: SlurmCluster, out: string, ref: string, ids: { array: string; merge: string }): void {
    const merged = path.join(out, 'merged', 'runs.csv');
    expect(existsSync(merged), `no ${merged}; jobs ${JSON.stringify([c.job(ids.array), c.job(ids.merge)])}\n${jobLogs(path.join(out, 'logs'))}`).toBe(true);
    expect(table(merged)).toEqual(table(path.join(ref, 'runs.csv')));
    const full = parseCsv(read(merged));
    expect(full[0].slice(-RESULT_COLUMNS.length)).toEqual(RESULT_COLUMNS);
  }

  test('an array of 3 shards plus the dependent merge gives the unsharded table (examples/slurm, example-spec.json)', async (ctx) => {
    const c = slurm(ctx);
    const ref = path.join(tmp, 'example-ref');
    unsharded(c, EXAMPLE_SPEC, ref);
    const out = path.join(tmp, 'example');
    const ids = submit(c, [EXAMPLE_SPEC, out, '3', '--cpus-per-task=1', '--mem=500M', '--', '--backend', 'cpu', '--quiet'], env);
    await c.waitForJobs([ids.array, ids.merge], 90_000);
    expectMergedEquals(c, out, ref, ids);
    expect(c.job(ids.array).states).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    // the shards are disjoint and together hold every run
    const shardIds = [0, 1, 2].flatMap((k) => table(path.join(out, `shard-${k}`, 'runs.csv')).rows.map((r) => r[0]));
    const refIds = table(path.join(ref, 'runs.csv')).rows.map((r) => r[0]);
    expect(shardIds.length).toBe(refIds.length);
    expect(new Set(shardIds)).toEqual(new Set(refIds));
    for (const [i, id] of shardIds.entries()) {
      const k = [0, 1, 2].find((j) => existsSync(path.join(out, `shard-${j}`, 'runs', id, 'summary.json')));
      expect(k, `run ${id} (row ${i}): no shard-*/runs/${id}/summary.json`).toBeDefined();
    }
  }, 150_000);

  test('a shard stopped by scancel part-way keeps its finished runs; resubmitting the same array finishes it without redoing them', async (ctx) => {
    const c = slurm(ctx);
    // 4 runs of a few seconds each, 2 shards, one run at a time, so that a shard can be stopped between its runs
    const spec = path.join(tmp, 'slow-spec.json');
    writeFileSync(spec, JSON.stringify({
      base: { preset: 'fig4a' },
      grid: {
        'grid.spacing_um': [0.0125],
        'protocol.0.duration_min': [10],
        'protocol.0.current_mA_g': [100, 200],
        'surface.segments': [[], [{ fromDeg: 135, toDeg: 225, eta: 0.3 }]],
      },
      outputs: { trace: true, snapshots: false },
    }));
    const ref = path.join(tmp, 'slow-ref');
    unsharded(c, spec, ref);
    const out = path.join(tmp, 'slow');
    const args = [spec, out, '2', '--cpus-per-task=1', '--mem=500M', '--', '--backend', 'cpu', '--jobs', '1', '--quiet'];
    const first = submit(c, args, env);

    const summaries = (k: number) => {
      const runs = path.join(out, `shard-${k}`, 'runs');
      return existsSync(runs) ? readdirSync(runs).filter((id) => existsSync(path.join(runs, id, 'summary.json'))).sort() : [];
    };
    // the first shard with a finished run is stopped at once, while its next run is computing
    let killed = -1;
    const t0 = Date.now();
    while (killed < 0) {
      for (const k of [0, 1]) if (summaries(k).length > 0) { killed = k; break; }
      if (killed >= 0) break;
      if (Date.now() - t0 > 60_000) throw new Error(`no shard finished a run within 60 s: ${JSON.stringify(c.job(first.array))}\n${jobLogs(path.join(out, 'logs'))}`);
      await sleep(100);
    }
    const r = c.client('scancel', [`${first.array}_${killed}`]);
    expect(r.status, r.stderr).toBe(0);
    await c.waitForJobs([first.array, first.merge], 90_000);
    expect(c.job(`${first.array}_${killed}`).states).toEqual(['CANCELLED']);
    expect(c.job(first.merge).states).toEqual(['CANCELLED']); // afterok can never be met: cancelled, not pending
    expect(existsSync(path.join(out, 'merged', 'runs.csv'))).toBe(false);

    const before = [0, 1].map(summaries);
    const stats = new Map<string, { mtimeMs: number; ino: number }>();
    for (const k of [0, 1]) for (const id of before[k]) {
      const f = path.join(out, `shard-${k}`, 'runs', id, 'summary.json');
      const s = statSync(f);
      stats.set(f, { mtimeMs: s.mtimeMs, ino: s.ino });
    }
    expect(before[killed].length).toBeGreaterThan(0);

    const second = submit(c, args, env);
    await c.waitForJobs([second.array, second.merge], 90_000);
    expectMergedEquals(c, out, ref, second);
    // the stopped shard had runs left to do, and did them now
    expect(summaries(killed).length, `shard-${killed} was already complete when it was stopped: the test did not stop it part-way`).toBeGreaterThan(before[killed].length);
    for (const [f, s] of stats) {
      const now = statSync(f);
      expect({ f, mtimeMs: now.mtimeMs, ino: now.ino }).toEqual({ f, ...s });
    }
  }, 240_000);
});
