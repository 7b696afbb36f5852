/**
 * Starting ionflux's worker threads with the parent's Node flags. The helpers' source is CommonJS
 * evaluated with `eval: true`; a parent started as `node --input-type=module -e …` (how a script runs
 * an ES module inline) would hand that flag down and leave `require` undefined, so then the flags are
 * given explicitly, less --input-type. Otherwise the worker inherits them (Node accepts any there).
 */
type WorkerClass = typeof import('node:worker_threads').Worker;

/** The parent's flags less --input-type, or undefined (inherit them) when it has none. */
export function workerExecArgv(): string[] | undefined {
  const argv = process.execArgv;
  if (!argv.some((a) => a === '--input-type' || a.startsWith('--input-type='))) return undefined;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--input-type') { i++; continue; }
    if (argv[i].startsWith('--input-type=')) continue;
    out.push(argv[i]);
  }
  return out;
}

/**
 * `new Worker(source, { eval: true, … })` with workerExecArgv(). An explicit list may hold options that
 * Node refuses in a worker (V8 options such as --max-old-space-size=8192, process-wide ones such as
 * --title: ERR_WORKER_INVALID_EXEC_ARGV); then the worker starts with none, which none of ionflux's
 * workers needs.
 */
export function newWorker(Worker: WorkerClass, source: string, options: { workerData?: unknown } = {}): InstanceType<WorkerClass> {
  const execArgv = workerExecArgv();
  try {
    return new Worker(source, { eval: true, execArgv, ...options });
  } catch (e) {
    if (execArgv === undefined || (e as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    return new Worker(source, { eval: true, execArgv: [], ...options });
  }
}
