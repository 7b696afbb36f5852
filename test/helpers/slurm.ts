/**
 * A real single-node Slurm for tests: munge + slurmctld + slurmd on 127.0.0.1, started per test file
 * and stopped afterwards (the measured recipe and its pitfalls: ../shared/SLURM.md).
 *
 * Nothing outside one private folder is written: slurm.conf, the controller's state, slurmd's spool,
 * pid and log files all live in `$TMPDIR/ionflux-slurm-cluster-XXXXXX/`, the daemons and the clients are
 * pointed at it (`-f`, SLURM_CONF), and the ports are free ones picked at start, never 6817/6818, so
 * a real Slurm on a developer's machine is neither read nor disturbed. /etc/slurm is never touched.
 * Munge: a munged that already answers on the system socket is used as it is; otherwise a private one
 * is started as the munge user on a socket in the folder (slurm.conf `AuthInfo=socket=…`), with
 * Debian's key /etc/munge/munge.key, which is created (1 KiB of urandom, munge:munge 0400) only if
 * the machine has none and never replaced.
 *
 * Only what this file started is stopped, by pid: jobs are cancelled, `scontrol shutdown` stops both
 * Slurm daemons, the private munged is stopped, the folder removed. A folder left by a test process
 * that was killed is cleaned up (its daemons stopped) by the next start.
 *
 * Needs root (slurmd runs jobs as their users) and Debian's slurmctld, slurmd, slurm-client and munge
 * (`bash scripts/setup-slurm.sh`). When any of that is missing, or a daemon does not come up, start
 * returns the reason with the end of the relevant log; `useSlurm` then fails the test under CI and
 * skips it, saying why, elsewhere.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, type TestContext } from 'vitest';

const DIR_PREFIX = 'ionflux-slurm-cluster-';
const NODE_NAME = 'ionflux-node';
export const PARTITION = 'ionflux';
const SYSTEM_MUNGE_SOCKET = '/run/munge/munge.socket.2';
const MUNGE_KEY = '/etc/munge/munge.key';
const CLIENT_TIMEOUT_MS = 20_000;
const DAEMONS = ['slurmctld', 'slurmd', 'munged'];

export interface SlurmJob {
  id: string;
  /** JobState from `scontrol show job` (COMPLETED, FAILED, CANCELLED, PENDING, …); one per array task */
  states: string[];
  /** the Reason field of the first record (e.g. DependencyNeverSatisfied) */
  reason: string;
}

export interface SlurmCluster {
  /** the private folder: slurm.conf, state, spool, logs */
  dir: string;
  conf: string;
  ports: { slurmctld: number; slurmd: number };
  /** environment for Slurm clients and for the jobs they submit: no SLURM_ and SBATCH_ variables of the caller's, SLURM_CONF set */
  env: NodeJS.ProcessEnv;
  /** runs a Slurm client (sbatch, squeue, scontrol, scancel …) against this cluster, under a timeout */
  client(cmd: string, args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): SpawnSyncReturns<string>;
  /** `sbatch --parsable args…`; returns the job id, throws with sbatch's stderr if it refused */
  sbatch(args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): string;
  /** the job's (or every array task's) state, from `scontrol show job` (there is no accounting: SLURM.md pitfall 7) */
  job(id: string): SlurmJob;
  /** resolves when none of `ids` is pending or running any more; throws after `timeout_ms` with squeue's view */
  waitForJobs(ids: string[], timeout_ms: number): Promise<void>;
  /** the last `lines` lines of slurmctld.log and slurmd.log, for failure messages */
  logs(lines?: number): string;
  /** cancels what is left, shuts the daemons down and removes the folder; safe to call twice */
  stop(): void;
}

export type SlurmStart = { ok: true; cluster: SlurmCluster } | { ok: false; reason: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function which(cmd: string): string | null {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')]) {
    const p = path.join(dir, cmd);
    try { if (statSync(p).isFile()) return p; } catch { /* not here */ }
  }
  return null;
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${path.basename(file)})`;
  }
}

/** a port that nothing listens on now (picked by the kernel, then released) */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** the caller's environment without anything that steers Slurm clients or jobs (a test run inside a Slurm job, SBATCH_PARTITION …) */
function cleanEnv(conf: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(SLURM|SBATCH|SALLOC|SRUN|SQUEUE|SINFO|SCONTROL|SCANCEL)_/.test(k)) env[k] = v;
  env.SLURM_CONF = conf;
  return env;
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** the pid in `file` if it names a live process called `comm` (so a reused pid is never signalled) */
function daemonPid(file: string, comm: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return null;
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm ? pid : null;
  } catch {
    return null;
  }
}

async function waitGone(pids: number[], timeout_ms: number): Promise<void> {
  const t0 = Date.now();
  while (pids.some(pidAlive) && Date.now() - t0 < timeout_ms) await sleep(100);
}

/** stops the daemons of a folder whose test process is gone (killed before its afterAll), then removes it */
async function reapStale(): Promise<void> {
  let entries: string[] = [];
  try { entries = readdirSync(tmpdir()).filter((e) => e.startsWith(DIR_PREFIX)); } catch { return; }
  for (const e of entries) {
    const dir = path.join(tmpdir(), e);
    if (!existsSync(path.join(dir, 'owner.pid'))) continue; // not one of ours (or one being set up right now)
    const owner = Number(tail(path.join(dir, 'owner.pid'), 1));
    if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) continue; // another test file's cluster, still in use
    const pids = DAEMONS.map((d) => daemonPid(path.join(dir, `${d}.pid`), d)).filter((p): p is number => p !== null);
    for (const pid of pids) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
    await waitGone(pids, 10_000);
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(dir, { recursive: true, force: true });
  }
}

function mungeWorks(socket: string): boolean {
  const m = spawnSync('munge', ['-n', '-S', socket], { encoding: 'utf8', timeout: 5000 });
  if (m.status !== 0) return false;
  const u = spawnSync('unmunge', ['-S', socket], { input: m.stdout, encoding: 'utf8', timeout: 5000 });
  return u.status === 0 && /STATUS:\s+Success/.test(u.stdout);
}

function slurmConf(o: { dir: string; ports: { slurmctld: number; slurmd: number }; mungeSocket: string | null }): string {
  const cpus = availableParallelism();
  // headroom below what slurmd -C reports, or the node is drained as INVAL (SLURM.md pitfall 2)
  const memTotal_MiB = Math.floor(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024);
  const mem_MiB = Math.max(256, Math.min(memTotal_MiB - 1024, Math.floor(memTotal_MiB * 0.9)));
  const d = o.dir;
  return [
    '# written by ionflux test/helpers/slurm.ts for one test file; removed with its folder',
    'ClusterName=ionfluxtest',
    'SlurmctldHost=localhost(127.0.0.1)',
    `SlurmctldPort=${o.ports.slurmctld}`,
    `SlurmdPort=${o.ports.slurmd}`,
    'SlurmUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    ...(o.mungeSocket ? [`AuthInfo=socket=${o.mungeSocket}`] : []),
    'MpiDefault=none',
    // no cgroups in a container (SLURM.md pitfall 1)
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'JobCompType=jobcomp/none',
    'SchedulerType=sched/backfill',
    // start a job as soon as it can run (the default waits up to 3 s to batch job launches)
    'SchedulerParameters=batch_sched_delay=0',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core',
    'ReturnToService=2',
    // an afterok dependent of a failed job is cancelled rather than pending forever (pitfall 5)
    'DependencyParameters=kill_invalid_depend',
    'MailProg=/bin/true',
    'MaxArraySize=10001',
    'KillWait=5',
    `SlurmctldPidFile=${d}/slurmctld.pid`,
    `SlurmdPidFile=${d}/slurmd.pid`,
    `StateSaveLocation=${d}/state`,
    `SlurmdSpoolDir=${d}/spool`,
    `SlurmctldLogFile=${d}/slurmctld.log`,
    `SlurmdLogFile=${d}/slurmd.log`,
    `NodeName=${NODE_NAME} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_MiB} State=UNKNOWN`,
    `PartitionName=${PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP`,
    '',
  ].join('\n');
}

/**
 * Starts a private single-node Slurm (see the file comment). Returns the cluster, or the reason it
 * could not start (what is missing, the end of the daemon's log). Never throws for a missing
 * environment.
 */
export async function startSlurm(): Promise<SlurmStart> {
  if (process.platform !== 'linux') return { ok: false, reason: `Slurm test cluster needs Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'Slurm test cluster needs root (slurmd runs jobs as their users; munged as the munge user)' };
  const missing = ['slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo', 'munged', 'munge', 'unmunge', 'runuser'].filter((c) => !which(c));
  if (missing.length) return { ok: false, reason: `Slurm test cluster: not installed: ${missing.join(', ')} (install with: bash scripts/setup-slurm.sh — Debian's slurmctld slurmd slurm-client munge)` };

  await reapStale();
  const dir = mkdtempSync(path.join(tmpdir(), DIR_PREFIX));
  chmodSync(dir, 0o755); // the munge user must reach its socket folder inside
  writeFileSync(path.join(dir, 'owner.pid'), `${process.pid}\n`);
  for (const sub of ['state', 'spool']) mkdirSync(path.join(dir, sub));
  const started: { munged?: number } = {};
  let cluster: SlurmCluster | undefined;
  const fail = (reason: string): SlurmStart => {
    cluster?.stop();
    if (!cluster) rmSync(dir, { recursive: true, force: true });
    return { ok: false, reason };
  };

  // --- munge ---
  let mungeSocket: string | null = null;
  if (!mungeWorks(SYSTEM_MUNGE_SOCKET)) {
    const mdir = path.join(dir, 'munge');
    mkdirSync(mdir, { mode: 0o755 }); // munged wants its socket folder searchable by all (clients connect as any user)
    const pw = spawnSync('id', ['-u', 'munge'], { encoding: 'utf8' });
    const gr = spawnSync('id', ['-g', 'munge'], { encoding: 'utf8' });
    if (pw.status !== 0 || gr.status !== 0) return fail('Slurm test cluster: no munge user (reinstall the munge package: bash scripts/setup-slurm.sh)');
    const [uid, gid] = [Number(pw.stdout), Number(gr.stdout)];
    chownSync(mdir, uid, gid);
    if (!existsSync(MUNGE_KEY) || statSync(MUNGE_KEY).size === 0) {
      // the package creates it at install; only a machine without any key gets one (never replaced)
      mkdirSync(path.dirname(MUNGE_KEY), { recursive: true });
      const dd = spawnSync('dd', ['if=/dev/urandom', 'bs=1', 'count=1024', `of=${MUNGE_KEY}`, 'status=none']);
      if (dd.status !== 0) return fail(`Slurm test cluster: could not create ${MUNGE_KEY}`);
      chownSync(MUNGE_KEY, uid, gid);
      chmodSync(MUNGE_KEY, 0o400);
    }
    mungeSocket = path.join(mdir, 'munge.socket');
    const m = spawnSync('runuser', ['-u', 'munge', '--', which('munged')!, `--socket=${mungeSocket}`, `--key-file=${MUNGE_KEY}`,
      `--pid-file=${mdir}/munged.pid`, `--log-file=${mdir}/munged.log`, `--seed-file=${mdir}/munged.seed`], { encoding: 'utf8', timeout: 15_000 });
    const pid = daemonPid(`${mdir}/munged.pid`, 'munged');
    if (pid) { started.munged = pid; writeFileSync(path.join(dir, 'munged.pid'), `${pid}\n`); }
    if (m.status !== 0 || !mungeWorks(mungeSocket)) {
      if (pid) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
      return fail(`Slurm test cluster: munged did not start (exit ${m.status}): ${(m.stderr || '').trim()} ${tail(`${mdir}/munged.log`, 5)}`);
    }
  }

  // --- slurm.conf, slurmctld, slurmd ---
  let ports = { slurmctld: await freePort(), slurmd: await freePort() };
  while (ports.slurmd === ports.slurmctld) ports = { ...ports, slurmd: await freePort() };
  const conf = path.join(dir, 'slurm.conf');
  writeFileSync(conf, slurmConf({ dir, ports, mungeSocket }));
  const env = cleanEnv(conf);
  const client = (cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
    spawnSync(cmd, args, { encoding: 'utf8', cwd: options.cwd, env: { ...env, ...options.env, SLURM_CONF: conf }, timeout: CLIENT_TIMEOUT_MS });
  const logs = (lines = 15) => `--- slurmctld.log ---\n${tail(path.join(dir, 'slurmctld.log'), lines)}\n--- slurmd.log ---\n${tail(path.join(dir, 'slurmd.log'), lines)}`;

  let stopped = false;
  cluster = {
    dir, conf, ports, env, client, logs,
    sbatch(args, options) {
      const r = client('sbatch', ['--parsable', ...args], options);
      if (r.status !== 0) throw new Error(`sbatch ${args.join(' ')} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''}): ${r.stderr.trim()}`);
      return r.stdout.trim().split(';')[0];
    },
    job(id) {
      const r = client('scontrol', ['show', 'job', '-o', id]);
      const records = r.status === 0 ? r.stdout.trim().split('\n').filter(Boolean) : [];
      return {
        id,
        states: records.map((l) => /\bJobState=(\S+)/.exec(l)?.[1] ?? '?'),
        reason: /\bReason=(\S+)/.exec(records[0] ?? '')?.[1] ?? (r.status === 0 ? '' : r.stderr.trim()),
      };
    },
    async waitForJobs(ids, timeout_ms) {
      const t0 = Date.now();
      for (;;) {
        const r = client('squeue', ['-h', '-j', ids.join(','), '-o', '%i %T %r']);
        if (r.status === 0 && r.stdout.trim() === '') return;
        if (Date.now() - t0 > timeout_ms) throw new Error(`Slurm jobs ${ids.join(',')} still not done after ${timeout_ms} ms:\n${r.stdout}${r.stderr}\n${logs(8)}`);
        await sleep(250);
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      const ctld = daemonPid(path.join(dir, 'slurmctld.pid'), 'slurmctld');
      const slurmd = daemonPid(path.join(dir, 'slurmd.pid'), 'slurmd');
      if (ctld) {
        // jobs first (slurmstepd outlives slurmd), then both daemons
        client('scancel', ['--partition', PARTITION]);
        const t0 = Date.now();
        while (Date.now() - t0 < 10_000) {
          const q = client('squeue', ['-h', '-o', '%i']);
          if (q.status !== 0 || q.stdout.trim() === '') break;
          spawnSync('sleep', ['0.2']);
        }
        client('scontrol', ['shutdown']);
      }
      const slurmPids = [ctld, slurmd].filter((p): p is number => !!p);
      const t0 = Date.now();
      while (slurmPids.some(pidAlive) && Date.now() - t0 < 10_000) spawnSync('sleep', ['0.1']);
      for (const pid of slurmPids) if (pidAlive(pid)) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
      // munge last: the Slurm daemons authenticate their shutdown messages through it
      if (started.munged) { try { process.kill(started.munged, 'SIGTERM'); } catch { /* gone */ } }
      const pids = [...slurmPids, ...(started.munged ? [started.munged] : [])];
      const t1 = Date.now();
      while (pids.some(pidAlive) && Date.now() - t1 < 5_000) spawnSync('sleep', ['0.1']);
      for (const pid of pids) if (pidAlive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  // -i: no state from an earlier run (SLURM.md pitfall 4); -N: slurmd's node name is not the hostname (pitfall 2)
  const ctld = client(which('slurmctld')!, ['-f', conf, '-i']);
  if (ctld.status !== 0) return fail(`Slurm test cluster: slurmctld did not start (exit ${ctld.status}): ${ctld.stderr.trim()}\n${logs()}`);
  const slurmd = client(which('slurmd')!, ['-f', conf, '-N', NODE_NAME]);
  if (slurmd.status !== 0) return fail(`Slurm test cluster: slurmd did not start (exit ${slurmd.status}): ${slurmd.stderr.trim()}\n${logs()}`);
  const t0 = Date.now();
  let state = '';
  while (Date.now() - t0 < 30_000) {
    const s = client('sinfo', ['-h', '-n', NODE_NAME, '-o', '%T']);
    state = s.stdout.trim() || s.stderr.trim();
    if (s.status === 0 && /^idle/.test(state)) return { ok: true, cluster };
    if (!daemonPid(path.join(dir, 'slurmctld.pid'), 'slurmctld')) return fail(`Slurm test cluster: slurmctld exited\n${logs()}`);
    if (Date.now() - t0 > 3000 && !daemonPid(path.join(dir, 'slurmd.pid'), 'slurmd')) return fail(`Slurm test cluster: slurmd exited\n${logs()}`);
    await sleep(250);
  }
  return fail(`Slurm test cluster: node ${NODE_NAME} not idle after 30 s (sinfo: ${state})\n${logs()}`);
}

/**
 * Test set-up: one cluster per test file (started in beforeAll, stopped in afterAll). The returned
 * function gives the cluster inside a test; when it could not start, the test fails under CI
 * (`process.env.CI` set) and is skipped elsewhere, with the reason in both cases.
 */
export function useSlurm(): (ctx: TestContext) => SlurmCluster {
  let start: SlurmStart | undefined;
  beforeAll(async () => {
    start = await startSlurm();
    if (!start.ok) console.warn(`${start.reason}\n${process.env.CI ? '(CI is set: the Slurm tests fail)' : '(the Slurm tests are skipped; set CI=1 to make this a failure)'}`);
  }, 60_000);
  afterAll(() => { if (start?.ok) start.cluster.stop(); }, 60_000);
  return (ctx) => {
    if (!start) throw new Error('useSlurm: the cluster is used outside a test');
    if (start.ok) return start.cluster;
    if (process.env.CI) throw new Error(start.reason);
    return ctx.skip(start.reason);
  };
}
