/**
 * Output folders, written so that ionflux never loses a user's file.
 *
 * - A command computes into a sibling staging folder (`OUT.partial-PID`) and moves the files into
 *   `OUT` only when every one is complete: a failure, Ctrl-C or a crash never leaves a half-written
 *   result where the user looks for one.
 * - Every output folder holds a manifest (`.ionflux-output`, JSON) of the files ionflux wrote there,
 *   with their sizes, modification times and (up to 64 MiB) SHA-256. A later run into the same folder
 *   deletes or overwrites only files in that manifest that are still exactly as written; files the user
 *   added or edited are kept, and a new file that would land on one of them is refused.
 * - A run refuses when one of its inputs (config, movie, mask, capacity file) is a file it would
 *   replace, and says what it replaced and what it kept.
 * - A lock (`OUT.ionflux-lock`) refuses a second run into the same folder; locks and staging folders
 *   left by a killed run (its process is gone) are cleaned up by the next run, which says so.
 * - The path is checked, and the free space estimated, before any long computation.
 *
 * The commit itself is synchronous (no signal handler can run in the middle of it) and journalled:
 * before it moves anything, the manifest lists the old and the new files together, so that even a
 * SIGKILL half-way leaves a folder whose every ionflux file a later run recognises.
 */
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync,
  rmdirSync, rmSync, statfsSync, statSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describeFsError, EnvironmentError, errnoCause, EXIT, isErrnoError, UserError } from '../errors';

/** The manifest written into every output folder. */
export const OUTPUT_MARKER = '.ionflux-output';
const STAGING_MARKER = '.ionflux-staging';
const HASH_LIMIT = 64 * 2 ** 20;

/** A problem with `--out` that the user can fix (exit 1). */
export class OutputDirError extends UserError {}

export interface FileRecord { size: number; mtimeMs: number; sha256?: string }
interface Manifest { ionflux: 1; command: string; written: string; state: 'complete' | 'replacing'; files: Record<string, FileRecord> }

export interface OutputOptions {
  /** the files the command reads, e.g. `{ flag: '--config', path }`: refused if this run would replace one */
  inputs?: { flag: string; path: string }[];
  /** about how many bytes the command will write; refused up front when the disk has less free */
  estimatedBytes?: number;
  /** e.g. 'simulate', recorded in the manifest */
  command?: string;
  /** where notices go (stale folders removed, files replaced/kept); default stderr */
  log?: (line: string) => void;
  /** what to add to the line a signal prints, e.g. where the work done so far is kept for a resume (asked then) */
  stopNote?: () => string | undefined;
}

export interface OutputReport {
  dir: string;
  /** the folder did not exist before */
  created: boolean;
  /** earlier ionflux files overwritten by this run's files of the same name */
  replaced: string[];
  /** earlier ionflux files this run does not write again, deleted */
  removed: string[];
  /** files in the folder that ionflux did not write (or that were changed since), left alone */
  kept: string[];
}

// ---------------------------------------------------------------------------------------------
// stage 1: the path

const VIRTUAL_ROOTS = ['/proc', '/sys', '/dev'];

function checkPath(target: string, flag: string): void {
  for (const root of VIRTUAL_ROOTS) {
    if (target === root || target.startsWith(`${root}/`)) throw new OutputDirError(`${flag} '${target}' is inside ${root}, a virtual file system of the kernel: choose a folder on a disk`);
  }
  // the nearest existing ancestor must be a folder (--out below a regular file)
  let p = target;
  for (;;) {
    const st = lstatOrNull(p);
    if (st) {
      if (p === target && !statOrNull(p)?.isDirectory() && !(st.isSymbolicLink() && !statOrNull(p))) throw new OutputDirError(`${flag} '${target}' is an existing file: give a folder (new, empty, or an earlier ionflux output)`);
      if (p === target && st.isSymbolicLink() && !statOrNull(p)) throw new OutputDirError(`${flag} '${target}' is a symbolic link to nothing: remove it or choose another folder`);
      if (p !== target) {
        const real = statOrNull(p);
        if (!real?.isDirectory()) throw new OutputDirError(`${flag} '${target}' lies below '${p}', which is a file, not a folder`);
      }
      return;
    }
    const parent = path.dirname(p);
    if (parent === p) return;
    p = parent;
  }
}

function lstatOrNull(p: string) { try { return lstatSync(p); } catch { return null; } }
function statOrNull(p: string) { try { return statSync(p); } catch { return null; } }

function envError(e: unknown, what: string): never {
  if (isErrnoError(e)) throw new EnvironmentError(describeFsError(e, what));
  throw e;
}

// ---------------------------------------------------------------------------------------------
// stage 2: the lock, and what killed runs left behind

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

interface Owner { pid: number; host: string; started: string; slurmJob?: string }
// under Slurm, a requeued task keeps its job id and usually lands on another node: its own lock is stale
const slurmJob = () => (typeof process !== 'undefined' ? process.env.SLURM_JOB_ID : undefined);
const me = (): Owner => ({ pid: process.pid, host: hostname(), started: new Date().toISOString(), ...(slurmJob() ? { slurmJob: slurmJob() } : {}) });
function readOwner(file: string): Owner | null {
  try { return JSON.parse(readFileSync(file, 'utf8')) as Owner; } catch { return null; }
}
/** gone: written on this machine by a process that no longer runs */
const ownerGone = (o: Owner | null) => o !== null && o.pid !== process.pid && (o.host === hostname() ? !pidAlive(o.pid) : Boolean(o.slurmJob) && o.slurmJob === slurmJob());

/**
 * Takes `TARGET.ionflux-lock` for this process (a stale one, whose process is gone, is removed and
 * said so); returns its path. EnvironmentError when another live run holds it.
 */
export function takeLock(target: string, flag: string, log: (l: string) => void): string {
  const lock = `${target}.ionflux-lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, JSON.stringify(me()) + '\n');
      closeSync(fd);
      return lock;
    } catch (e) {
      if (!isErrnoError(e) || e.code !== 'EEXIST') envError(e, `${flag} '${target}': cannot create the lock file '${lock}'`);
      const owner = readOwner(lock);
      if (ownerGone(owner)) {
        rmSync(lock, { force: true });
        log(`removed a stale lock '${path.basename(lock)}' left by an ionflux run (pid ${owner!.pid}) that no longer runs`);
        continue;
      }
      const who = owner ? `pid ${owner.pid} on ${owner.host}, since ${owner.started}` : 'unknown owner';
      throw new EnvironmentError(`${flag} '${target}' is in use by another ionflux run (${who}): wait for it to finish, or choose another folder (if no such run exists, delete '${lock}')`);
    }
  }
  throw new EnvironmentError(`${flag} '${target}': could not take the lock '${lock}'`);
}

function removeStalePartials(target: string, log: (l: string) => void): void {
  const dir = path.dirname(target);
  const prefix = `${path.basename(target)}.partial-`;
  let names: string[] = [];
  try { names = readdirSync(dir); } catch { return; }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const p = path.join(dir, n);
    const owner = readOwner(path.join(p, STAGING_MARKER));
    if (!ownerGone(owner)) continue; // not ours, or its run is still going
    try {
      rmSync(p, { recursive: true, force: true });
      log(`removed '${n}', the unfinished output of an interrupted ionflux run (pid ${owner!.pid})`);
    } catch { /* leave it; not worth failing this run for */ }
  }
}

// ---------------------------------------------------------------------------------------------
// stage 3: what is in the folder, and which of it ionflux may replace

/** Every file below `dir`, as relative '/'-separated paths (folders are not listed). */
function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const ent of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) out.push(...listFiles(dir, r));
    else out.push(r);
  }
  return out;
}

function sha256(file: string): string {
  const h = createHash('sha256');
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally { closeSync(fd); }
  return h.digest('hex');
}

function record(file: string): FileRecord {
  const st = statSync(file);
  return { size: st.size, mtimeMs: st.mtimeMs, ...(st.size <= HASH_LIMIT ? { sha256: sha256(file) } : {}) };
}

/** still exactly as ionflux wrote it */
function unchanged(file: string, r: FileRecord): boolean {
  const st = lstatOrNull(file);
  if (!st || !st.isFile() || st.size !== r.size) return false;
  if (r.sha256) return sha256(file) === r.sha256;
  return Math.abs(st.mtimeMs - r.mtimeMs) < 1;
}

interface Existing {
  exists: boolean;
  /** an output of ionflux before manifests (a plain-text marker): same-named files may be overwritten, nothing deleted */
  legacy: boolean;
  /** files ionflux wrote there that are still as written: these may be replaced or removed */
  ours: Set<string>;
  /** everything else in the folder */
  others: string[];
  /** the command whose output the folder holds (its manifest's), or null (none yet, or a plain-text marker) */
  command: string | null;
}

function inspect(target: string, flag: string): Existing {
  const st = statOrNull(target);
  if (!st) return { exists: false, legacy: false, ours: new Set(), others: [], command: null };
  let files: string[];
  try { files = listFiles(target); } catch (e) { envError(e, `${flag} '${target}' cannot be read`); }
  if (!files.length && !readdirSync(target).length) return { exists: true, legacy: false, ours: new Set(), others: [], command: null };
  if (!files.includes(OUTPUT_MARKER)) {
    const top = readdirSync(target).sort();
    // a sweep's folder has its own bookkeeping (src/sweep/folder.ts, sweep.json), not this manifest
    if (top.includes('sweep.json')) throw new OutputDirError(`${flag} '${target}' holds a sweep (sweep.json): it is written and resumed by \`ionflux sweep\` only; choose another folder`);
    const owner = enclosingOutput(target);
    if (owner) throw new OutputDirError(`${flag} '${target}' is part of the output of \`ionflux ${owner.command}\` in '${owner.dir}' (its ${path.relative(owner.dir, target)}${path.sep} folder): ionflux replaces a command's output only as a whole, from its own folder; choose another folder`);
    throw new OutputDirError(`${flag} '${target}' is a folder with other files (${top.slice(0, 3).join(', ')}${top.length > 3 ? ', …' : ''}) and no ionflux output: ionflux writes only into new or empty folders or its own earlier outputs; choose a new folder`);
  }
  let manifest: Manifest | null = null;
  try {
    const m = JSON.parse(readFileSync(path.join(target, OUTPUT_MARKER), 'utf8'));
    if (m && typeof m === 'object' && m.files && typeof m.files === 'object') manifest = m as Manifest;
  } catch { /* the plain-text marker of the first ionflux 0.1 builds */ }
  const ours = new Set<string>([OUTPUT_MARKER]);
  if (manifest) {
    for (const [rel, r] of Object.entries(manifest.files)) {
      if (rel.includes('..') || path.isAbsolute(rel)) continue; // a hand-edited manifest cannot reach outside
      if (unchanged(path.join(target, rel), r)) ours.add(rel);
    }
  }
  return { exists: true, legacy: !manifest, ours, others: files.filter((f) => !ours.has(f)), command: manifest && typeof manifest.command === 'string' ? manifest.command : null };
}

/**
 * The ionflux output folder, above `target`, whose manifest lists files inside it (fit's compare/),
 * or null: such a subfolder holds ionflux's files but no marker of its own.
 */
function enclosingOutput(target: string): { dir: string; command: string } | null {
  const abs = path.resolve(target);
  for (let dir = path.dirname(abs), depth = 0; dir !== path.dirname(dir) && depth < 8; dir = path.dirname(dir), depth++) {
    let m: unknown;
    try { m = JSON.parse(readFileSync(path.join(dir, OUTPUT_MARKER), 'utf8')); } catch { continue; }
    const files = (m as Partial<Manifest>)?.files;
    if (!files || typeof files !== 'object') return null;
    const prefix = path.relative(dir, abs).split(path.sep).join('/') + '/';
    if (!Object.keys(files).some((f) => f.startsWith(prefix))) return null;
    const command = (m as Partial<Manifest>).command;
    return { dir, command: typeof command === 'string' ? command : 'ionflux' };
  }
  return null;
}

/**
 * A folder holding another command's output is refused: `simulate --out` pointed by mistake at the
 * folder of an hour-long `analyze` would otherwise replace its maps and particle folders (ionflux
 * wrote them, so the manifest allows it, but the user did not ask for it). A command replaces its
 * own earlier output only.
 */
function checkSameCommand(target: string, flag: string, existing: Existing, command: string): void {
  // ('ionflux': a library call without options.command — a command of its own, like the others)
  if (!existing.command || existing.command === command) return;
  const files = [...existing.ours].filter((f) => f !== OUTPUT_MARKER);
  if (!files.length) return;
  const who = (c: string) => (c === 'ionflux' ? 'a library call (writeOutputDir without options.command)' : `\`ionflux ${c}\``);
  throw new OutputDirError(`${flag} '${target}' holds the output of ${who(existing.command)} (${files.length} file${files.length === 1 ? '' : 's'}: ${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}); ${who(command)} replaces only its own earlier output: choose another folder`);
}

function realOrResolved(p: string): string {
  try { return realpathSync(p); } catch { return path.resolve(p); }
}

function checkInputs(target: string, flag: string, existing: Existing, inputs: { flag: string; path: string }[]): void {
  if (!existing.exists) return;
  const realTarget = realOrResolved(target);
  for (const input of inputs) {
    const real = realOrResolved(input.path);
    const rel = path.relative(realTarget, real);
    if (rel.startsWith('..') || path.isAbsolute(rel)) continue;
    const relPosix = rel.split(path.sep).join('/');
    const replaced = rel === '' || existing.legacy || [...existing.ours].some((f) => f === relPosix || f.startsWith(`${relPosix}/`));
    if (replaced) {
      throw new OutputDirError(`${input.flag} '${input.path}' lies inside ${flag} '${target}' and was written there by an earlier ionflux run, which this run would replace: move it out of the folder, or choose another ${flag}`);
    }
  }
}

/**
 * Files this process reads as inputs through the library (an open movie until it is closed; a capacity
 * record or a mask image once read): writeOutputDir never replaces one, as the CLI's `inputs` — a
 * script that analyses a synth folder's movie into that folder would otherwise delete the movie.
 */
const heldInputs = new Map<string, { what: string; holds: number }>();

/** Notes `file` as an input of this process (`what`: e.g. 'the open movie'); returns its release. */
export function holdInput(file: string, what: string): () => void {
  const key = path.resolve(file);
  const h = heldInputs.get(key) ?? { what, holds: 0 };
  h.holds++;
  heldInputs.set(key, h);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--h.holds <= 0) heldInputs.delete(key);
  };
}

function checkFreeSpace(target: string, flag: string, bytes: number | undefined): void {
  if (!bytes) return;
  let p = target;
  while (!existsSync(p)) p = path.dirname(p);
  let free: number;
  try {
    const s = statfsSync(p);
    free = Number(s.bavail) * Number(s.bsize);
  } catch { return; }
  const need = bytes * 1.05 + 64 * 1024;
  if (free < need) {
    const mb = (b: number) => (b < 2 ** 20 ? `${Math.round(b / 1024)} KiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);
    throw new EnvironmentError(`${flag} '${target}': the disk has ${mb(free)} free, but this run writes about ${mb(need)}: free some space or choose a folder on another disk`);
  }
}

/** An existing folder must take new files (read-only, immutable, or owned by someone else): found now, not after the run. */
function probeWritable(target: string, flag: string): void {
  const probe = path.join(target, `.ionflux-probe-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch (e) { envError(e, `${flag} '${target}' does not take new files`); }
}

// ---------------------------------------------------------------------------------------------
// stage 4: the commit

function writeManifest(file: string, command: string, files: Record<string, FileRecord>, state: Manifest['state']): void {
  const m: Manifest = { ionflux: 1, command, written: new Date().toISOString(), state, files };
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(m, null, 1) + '\n');
  renameSync(tmp, file);
}

function removeEmptyDirs(root: string, rels: Iterable<string>): void {
  const dirs = new Set<string>();
  for (const r of rels) for (let d = path.posix.dirname(r); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try { rmdirSync(path.join(root, d)); } catch { /* not empty: holds a user's file */ }
  }
}

function commit(target: string, staging: string, existing: Existing, command: string, flag: string): OutputReport {
  const newFiles = listFiles(staging).filter((f) => f !== STAGING_MARKER && f !== OUTPUT_MARKER);
  const records: Record<string, FileRecord> = {};
  for (const f of newFiles) records[f] = record(path.join(staging, f));
  rmSync(path.join(staging, STAGING_MARKER), { force: true });
  writeManifest(path.join(staging, OUTPUT_MARKER), command, records, 'complete');

  if (!existing.exists) {
    mkdirSync(path.dirname(target), { recursive: true });
    renameSync(staging, target);
    return { dir: target, created: true, replaced: [], removed: [], kept: [] };
  }
  if (!statOrNull(target)) {
    // an empty folder the user removed meanwhile: nothing to replace
    renameSync(staging, target);
    return { dir: target, created: true, replaced: [], removed: [], kept: [] };
  }
  // a legacy folder (marker without manifest): same-named files were ionflux's, nothing else is touched
  const collision = newFiles.filter((f) => lstatOrNull(path.join(target, f)) && !(existing.ours.has(f) || existing.legacy));
  if (collision.length) {
    const keep = `${target}.new-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(staging, keep);
    throw new OutputDirError(`${flag} '${target}' holds ${collision.slice(0, 3).join(', ')}${collision.length > 3 ? ', …' : ''}, not written by ionflux (or changed since): nothing there was replaced; this run's result is in '${keep}'`);
  }
  // journal: from here on, the manifest in the folder names the old and the new files together
  const oldOurs = [...existing.ours].filter((f) => f !== OUTPUT_MARKER);
  const journal: Record<string, FileRecord> = {};
  for (const f of oldOurs) { const st = statOrNull(path.join(target, f)); if (st) journal[f] = { size: st.size, mtimeMs: st.mtimeMs }; }
  Object.assign(journal, records);
  writeManifest(path.join(target, OUTPUT_MARKER), command, journal, 'replacing');

  const newSet = new Set(newFiles);
  const removed = oldOurs.filter((f) => !newSet.has(f));
  for (const f of removed) rmSync(path.join(target, f), { force: true });
  const replaced: string[] = [];
  for (const f of newFiles) {
    const to = path.join(target, f);
    if (lstatOrNull(to)) replaced.push(f);
    mkdirSync(path.dirname(to), { recursive: true });
    renameSync(path.join(staging, f), to);
  }
  renameSync(path.join(staging, OUTPUT_MARKER), path.join(target, OUTPUT_MARKER));
  removeEmptyDirs(target, removed);
  rmSync(staging, { recursive: true, force: true });
  const kept = existing.others.filter((f) => !newSet.has(f));
  return { dir: target, created: false, replaced, removed, kept };
}

// ---------------------------------------------------------------------------------------------

let active: { staging: string; lock: string; target: string; stopNote?: () => string | undefined } | null = null;

function note(stopNote: (() => string | undefined) | undefined): string {
  try { const n = stopNote?.(); return n ? `; ${n}` : ''; } catch { return ''; }
}

/** What a signal leaves: the staging folder and the lock removed, the folder as it was. */
function onSignal(signal: NodeJS.Signals): void {
  const a = active;
  if (a) {
    let left = '';
    try {
      rmSync(a.staging, { recursive: true, force: true, maxRetries: 3 });
    } catch (e) {
      // the next run into the folder removes it (its process is gone): say so rather than hide it
      left = `; the unfinished '${path.basename(a.staging)}' could not be removed (${isErrnoError(e) ? errnoCause(e) : String(e)}) and will be by the next run`;
    }
    try { unlinkSync(a.lock); } catch { /* exiting anyway */ }
    process.stderr.write(`ionflux: stopped by ${signal}: nothing was written to '${a.target}' (what was there before is unchanged)${left}${note(a.stopNote)}\n`);
  } else {
    process.stderr.write(`ionflux: stopped by ${signal}\n`);
  }
  process.exit(signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
}

/**
 * Runs `write(staging)` into a fresh staging folder and moves its files into `dir` when it succeeds,
 * replacing only what earlier ionflux runs wrote there (module comment). Returns `write`'s result
 * and what was replaced and kept. Errors: OutputDirError (a bad --out or input), EnvironmentError
 * (disk, permissions, a lock held by another run); on any error or signal, `dir` is as it was.
 */
export async function writeOutputDir<T>(dir: string, write: (staging: string) => Promise<T>, options: OutputOptions = {}): Promise<{ value: T; output: OutputReport }> {
  const flag = '--out';
  const log = options.log ?? ((l: string) => process.stderr.write(`ionflux: ${l}\n`));
  const command = options.command ?? 'ionflux';
  if (!dir || !dir.trim()) throw new OutputDirError(`${flag} '' is empty: give a folder`);
  const target = path.resolve(dir);
  checkPath(target, flag);
  try { mkdirSync(path.dirname(target), { recursive: true }); } catch (e) { envError(e, `${flag} '${dir}': cannot create its parent folder`); }
  const lock = takeLock(target, flag, log);
  const staging = `${target}.partial-${process.pid}`;
  const release = () => { try { unlinkSync(lock); } catch { /* already gone */ } };
  try {
    removeStalePartials(target, log);
    const existing = inspect(target, flag);
    checkSameCommand(target, flag, existing, command);
    checkInputs(target, flag, existing, [...(options.inputs ?? []), ...[...heldInputs].map(([file, h]) => ({ flag: h.what, path: file }))]);
    if (existing.exists) probeWritable(target, flag);
    checkFreeSpace(target, flag, options.estimatedBytes);
    rmSync(staging, { recursive: true, force: true });
    try {
      mkdirSync(staging);
      writeFileSync(path.join(staging, STAGING_MARKER), JSON.stringify(me()) + '\n');
    } catch (e) { envError(e, `${flag} '${dir}': cannot write next to it`); }

    active = { staging, lock, target, stopNote: options.stopNote };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let result: T;
    let report: OutputReport;
    try {
      result = await write(staging);
      report = commit(target, staging, existing, command, flag);
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      if (isErrnoError(e)) {
        const cause = e.code === 'ENOSPC' || e.code === 'EDQUOT' ? `${describeFsError(e)} while writing the results` : describeFsError(e);
        throw new EnvironmentError(`${cause}; nothing was written to ${flag} '${dir}' (what was there before is unchanged)`);
      }
      throw e;
    } finally {
      active = null;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (report.replaced.length || report.removed.length) {
      const parts = [report.replaced.length ? `replaced ${report.replaced.length}` : '', report.removed.length ? `removed ${report.removed.length}` : ''].filter(Boolean).join(' and ');
      log(`${parts} file(s) of an earlier ionflux run in '${dir}'${report.removed.length ? ` (removed: ${report.removed.slice(0, 4).join(', ')}${report.removed.length > 4 ? ', …' : ''}, which this run does not write)` : ''}`);
    }
    if (report.kept.length) {
      log(`kept ${report.kept.length} file(s) in '${dir}' that this run did not write: ${report.kept.slice(0, 4).join(', ')}${report.kept.length > 4 ? ', …' : ''}`);
    }
    return { value: result, output: report };
  } finally {
    release();
  }
}

/** The files recorded in an output folder's manifest (relative paths), or null if it has none. */
export function manifestFiles(dir: string): string[] | null {
  try {
    const m = JSON.parse(readFileSync(path.join(dir, OUTPUT_MARKER), 'utf8')) as Manifest;
    return Object.keys(m.files);
  } catch { return null; }
}
