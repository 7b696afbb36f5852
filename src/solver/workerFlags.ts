/**
 * Node flags for the CPU solver's helper threads: the parent's, less --input-type. The helpers'
 * source is CommonJS evaluated with `eval: true`; a parent started as `node --input-type=module -e …`
 * (how a script runs an ES module inline) would hand that flag down and leave `require` undefined.
 */
export function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--input-type') { i++; continue; }
    if (argv[i].startsWith('--input-type=')) continue;
    out.push(argv[i]);
  }
  return out;
}
