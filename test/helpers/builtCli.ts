/**
 * The CLI as a real child process: the bundle is built with Vite into an ignored folder inside
 * node_modules (so it finds its packages), once per test file, and removed afterwards. Use it where
 * the process itself is under test: exit codes, signals, a second process, SIGKILL.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

export interface BuiltCli {
  /** runs `ionflux args…` to the end */
  run(args: string[], options?: { cwd?: string }): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };
  /** starts `ionflux args…` and returns the process; its stderr is collected in `stderr()` */
  start(args: string[], options?: { cwd?: string }): { child: ChildProcess; stderr: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> };
  remove(): void;
  /** the built bundle's cli.js (exports `main(argv)`), for a wrapper that another program runs */
  entry: string;
}

export function buildCli(name: string): BuiltCli {
  const dir = path.join(ROOT, 'node_modules', '.ionflux-test', `${name}-${process.pid}`);
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--outDir', dir, '--logLevel', 'error'], { cwd: ROOT, stdio: 'pipe' });
  const script = `const { main } = await import(${JSON.stringify('file://' + path.join(dir, 'cli.js'))}); process.exitCode = await main(process.argv.slice(1));`;
  const argv = (args: string[]) => ['--input-type=module', '-e', script, '--', ...args];
  return {
    entry: path.join(dir, 'cli.js'),
    run(args, options = {}) {
      const r = spawnSync(process.execPath, argv(args), { encoding: 'utf8', cwd: options.cwd });
      return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    },
    start(args, options = {}) {
      const child = spawn(process.execPath, argv(args), { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d) => { err += String(d); });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      return { child, stderr: () => err, exited };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
      try { rmdirSync(path.dirname(dir)); } catch { /* another file's build is still there */ }
    },
  };
}

/** Polls `cond` every 50 ms until it holds (or throws after `timeout_ms`). */
export async function waitFor(cond: () => boolean, timeout_ms = 30_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeout_ms) throw new Error(`timed out after ${timeout_ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
