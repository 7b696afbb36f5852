/**
 * Node flags for ionflux's worker threads: undefined (inherit the parent's, which Node accepts
 * whatever they are) unless the parent has --input-type, else the parent's less --input-type. The
 * helpers' source is CommonJS evaluated with `eval: true`; a parent started as `node --input-type=module
 * -e …` (how a script runs an ES module inline) would hand that flag down and leave `require`
 * undefined. A list given explicitly must not hold V8 options (`node --max-old-space-size=8192
 * bin/ionflux.js …`: ERR_WORKER_INVALID_EXEC_ARGV), so those are dropped from it.
 */
export function workerExecArgv(): string[] | undefined {
  const argv = process.execArgv;
  if (!argv.some((a) => a === '--input-type' || a.startsWith('--input-type='))) return undefined;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--input-type') { i++; continue; }
    if (argv[i].startsWith('--input-type=')) continue;
    if (isV8Option(argv[i])) continue;
    out.push(argv[i]);
  }
  return out;
}

/** Node's own options are those it lists (process.allowedNodeEnvironmentFlags) less the V8 ones it forwards. */
const V8_IN_NODE_OPTIONS = ['--max-old-space-size', '--max-semi-space-size', '--stack-trace-limit', '--huge-max-old-generation-size', '--jitless', '--abort-on-uncaught-exception', '--disallow-code-generation-from-strings', '--interpreted-frames-native-stack', '--perf-basic-prof', '--perf-basic-prof-only-functions', '--perf-prof', '--perf-prof-unwinding-info', '--expose-gc'];
function isV8Option(arg: string): boolean {
  const name = arg.split('=')[0].replace(/_/g, '-');
  return V8_IN_NODE_OPTIONS.includes(name) || !process.allowedNodeEnvironmentFlags.has(name.replace(/^--no-/, '--')) && !process.allowedNodeEnvironmentFlags.has(name);
}
