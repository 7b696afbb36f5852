/**
 * The published package, from the outside: `npm pack` a copy of the project (its `prepare` builds
 * dist/ there, so this file never rewrites the dist/ that the CLI tests are using), install the
 * tarball into a fresh project from the npm cache, and run README.md's "Library" examples there as
 * written — extracted from the README itself, so that README and test cannot drift — in Node and
 * bundled by Vite for a browser (run in headless Chromium where Debian's chromium is installed);
 * type-check a consumer against the installed declarations under both Node's and a bundler's rules.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'vite';
import type { Server } from 'node:http';
import { writeSynthMovie, type SynthOptions } from '../helpers/synthMovie';
import { haveChromium, launchChromium, serveStatic } from '../helpers/browser';

const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-pack-'));
const copy = path.join(tmp, 'ionflux'); // the project as a user checks it out, node_modules shared
const app = path.join(tmp, 'app'); // the consumer
const timings: Record<string, number> = {};
let tarball = '';
let packed: string[] = [];
let examples: Record<string, string> = {};
let installLog = '';

afterAll(() => {
  console.log(`package test timings (s): ${JSON.stringify(timings)}`);
  rmSync(tmp, { recursive: true, force: true });
});

async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Number(((performance.now() - t0) / 1000).toFixed(1));
  }
}

async function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  try {
    return await exec(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`);
  }
}

/** The fenced blocks tagged with a file name (```js simulate.mjs) of README.md's "Library" section. */
function readmeExamples(): Record<string, string> {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Library\n'), readme.indexOf('\n## ', readme.indexOf('\n## Library\n') + 5));
  const out: Record<string, string> = {};
  for (const m of section.matchAll(/^```js ([\w.-]+)\n([\s\S]*?)^```$/gm)) out[m[1]] = m[2];
  return out;
}

const R = 14;
const shrinking = (s: number) => R * Math.sqrt(Math.max(0, 1 - s));
// two particles, the right-hand one's Li-rich core drifts off-centre (asymmetric): as test/cli/analyze
const movie: SynthOptions = {
  width: 96, height: 56, frames: 10, noise: 8, seed: 2,
  particles: [
    { cx: 26, cy: 28, radius_px: R, coreRadius: shrinking },
    { cx: 68, cy: 27, radius_px: R, coreRadius: shrinking, coreOffset: (_f, s) => [0.9 * (R - shrinking(s)), 0] },
  ],
};

/** Not from the README: `auto` passes a software adapter over, so this one insists on the GPU and compares. */
const GPU_SCRIPT = `
import { presetConfig, applySet, resolveConfig, buildProblem, selectBackend, createSolver, runSimulation } from 'ionflux';
const raw = presetConfig('fig4c');
applySet(raw, 'grid.spacing_um=0.06');
applySet(raw, 'protocol=[{"step":"charge","current_mA_g":100,"duration_min":5}]');
applySet(raw, 'snapshots_min=[5]');
const problem = await buildProblem(resolveConfig(raw));
const fields = [];
for (const request of ['gpu', 'cpu']) {
  const backend = await selectBackend(request);
  const solver = await createSolver(problem, backend);
  fields.push((await runSimulation(problem, solver)).snapshots[0].field);
  solver.destroy();
  backend.gpu?.device.destroy();
}
let maxAbs = 0;
for (let i = 0; i < fields[0].length; i++) if (!Number.isNaN(fields[1][i])) maxAbs = Math.max(maxAbs, Math.abs(fields[0][i] - fields[1][i]));
console.log(JSON.stringify({ maxAbs, n: fields[0].length }));
`;

// generous limits: `npm test` runs many files at once on a 2-core machine (alone: ~60 s in all)
beforeAll(async () => {
  examples = readmeExamples();
  // a copy of what `git clone` gives (no dist/, no out/), with the installed node_modules
  mkdirSync(copy);
  for (const f of ['package.json', 'package-lock.json', 'README.md', 'LICENSE', 'docs', 'vite.config.ts', 'tsconfig.json', 'tsconfig.types.json', 'src', 'shaders', 'bin', 'bench', 'scripts']) {
    if (existsSync(path.join(ROOT, f))) cpSync(path.join(ROOT, f), path.join(copy, f), { recursive: true, filter: (p) => !p.includes(`${path.sep}results${path.sep}`) });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  const pkgDir = path.join(tmp, 'pkg');
  mkdirSync(pkgDir);
  await timed('npm pack (with prepare: the build)', () => sh('npm', ['pack', '--pack-destination', pkgDir, '--json'], copy).then((r) => {
    // the JSON comes last; the build before it may print '[' (colour codes when CI sets FORCE_COLOR, …)
    const json = r.stdout.slice(r.stdout.search(/^\[\s*$/m));
    const info = JSON.parse(json)[0];
    packed = info.files.map((f: { path: string }) => f.path);
    timings['tarball kB'] = Math.round(info.size / 1000);
  }));
  tarball = path.join(pkgDir, readdirSync(pkgDir).find((f) => f.endsWith('.tgz'))!);

  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  // from the npm cache that `npm ci` filled: no network needed
  const r = await timed('npm install tarball', () => sh('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], app));
  installLog = r.stdout + r.stderr;
  for (const [name, code] of Object.entries(examples)) writeFileSync(path.join(app, name), code);
  writeFileSync(path.join(app, 'gpu.mjs'), GPU_SCRIPT);
}, 240_000);

test('the tarball holds the builds and declarations, no tests, fixtures or outputs', () => {
  // the docs that messages and --help point at (docs/config.md, docs/physics.md …) and the licence ship too
  for (const f of ['dist/cli.js', 'dist/lib/index.js', 'dist/lib/browser.js', 'dist/types/index.d.ts', 'dist/types/browser.d.ts', 'bin/ionflux.js', 'package.json', 'README.md', 'LICENSE', 'docs/config.md', 'docs/physics.md', 'docs/analyze.md']) {
    expect(packed).toContain(f);
  }
  expect(packed.filter((f) => /^(test|out|bench|node_modules|\.device|\.gl)\//.test(f) || /\.(tif|tiff|npy|h5)$/.test(f))).toEqual([]);
  // what a consumer's bundler reads for a browser: no node:* module, in any quoting, behind any comment
  const browserJs = readFileSync(path.join(ROOT, 'dist/lib/browser.js'), 'utf8');
  expect(browserJs).not.toMatch(/(\bfrom\s*|\bimport\s*\((\s|\/\*[^*]*\*\/)*)["'`]node:/);
  // a guard against packing what should not ship (movies, outputs): 2.0 MB on 2026-12-03, of which
  // the source maps and the sources they point at (for readable stacks) are ~60 % unpacked
  expect(timings['tarball kB']).toBeLessThan(2500);
}, 240_000);

test('installing the tarball does not build again (prepare runs in the source project only)', () => {
  // `prepare` is `npm run build`, which needs vite: the consumer has none. With --foreground-scripts
  // npm prints a "> pkg@version script" line for each script it runs (webgpu's postinstall shows up);
  // none for ionflux's prepare: npm runs it for git and folder dependencies, not for tarballs.
  // (npm 11 still names it in its "install scripts not yet covered by allowScripts" notice.)
  expect(existsSync(path.join(app, 'node_modules', 'vite'))).toBe(false);
  expect(installLog).toMatch(/> webgpu@[\d.]+ postinstall/);
  expect(installLog).not.toMatch(/> ionflux@[\d.]+ prepare|vite build/);
  const installed = path.join(app, 'node_modules', 'ionflux', 'dist', 'lib', 'index.js');
  expect(readFileSync(installed, 'utf8')).toBe(readFileSync(path.join(copy, 'dist', 'lib', 'index.js'), 'utf8'));
  expect(timings['npm install tarball']).toBeLessThan(60);
}, 240_000);

test('the README has the simulate and analyze examples, importing from the package name', () => {
  expect(Object.keys(examples).sort()).toEqual(['analyze.mjs', 'simulate.mjs']);
  for (const code of Object.values(examples)) {
    expect(code).toMatch(/from 'ionflux';/);
    expect(code).not.toMatch(/from '\.{1,2}\//);
  }
}, 240_000);

test('README simulate example runs in Node from the installed package', async () => {
  const { stdout } = await timed('node simulate.mjs', () => sh('node', ['simulate.mjs'], app));
  // 5 min at 100 mA/g of 275 mAh/g: mean θ = 1 − 100·(5/60)/275 = 0.96970 (conservation); the core
  // sits off-centre, away from the blocked quarter (fig4c: 0.12 µm at 5 min)
  const m = stdout.match(/^(gpu|cpu) .*: (\d+) steps, mean θ ([\d.]+), core offset ([\d.]+) µm$/m);
  expect(m, stdout).not.toBeNull();
  expect(Number(m![2])).toBeGreaterThan(100);
  expect(Number(m![3])).toBeCloseTo(1 - (100 * 5) / 60 / 275, 4);
  expect(Number(m![4])).toBeGreaterThan(0.05);
}, 240_000);

test('the installed bundle runs the WGSL kernels (backend gpu) and matches the CPU reference', async () => {
  const { stdout } = await timed('node gpu.mjs', () => sh('node', ['gpu.mjs'], app));
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!);
  expect(r.n).toBeGreaterThan(1000);
  expect(r.maxAbs).toBeLessThanOrEqual(2e-6);
}, 240_000);

test('README analyze example runs in Node on a movie, writing its folder', async () => {
  await writeSynthMovie(path.join(app, 'movie.tif'), movie, { pixel_um: 0.08, frame_s: 30 });
  const { stdout } = await timed('node analyze.mjs', () => sh('node', ['analyze.mjs'], app));
  expect(stdout).toMatch(/^2 particles in 10 frames, asymmetric fraction 0\.5$/m);
  expect(stdout.match(/^particle \d: asymmetric (true|false)$/gm)?.map((l) => l.endsWith('true')).sort()).toEqual([false, true]);
  const summary = JSON.parse(readFileSync(path.join(app, 'analysis', 'summary.json'), 'utf8'));
  expect(summary).toMatchObject({ frames: 10, width: 96, height: 56, pixel_um: 0.08, particles: 2 });
  expect(readdirSync(path.join(app, 'analysis'))).toEqual(expect.arrayContaining(['diff.tif', 'traces.csv', 'montage.png', 'particle_2']));
}, 240_000);

test('a TypeScript consumer type-checks against the installed declarations (nodenext and bundler)', async () => {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  writeFileSync(path.join(app, 'consumer.ts'), `
import { presetConfig, resolveConfig, buildProblem, selectBackend, createSolver, runSimulation, analyzeMovie, openMovie,
  createCpuProcessor, diffMapCpu, segmentParticles, createCamera, forwardModel, writeSimulationOutputs, encodeNpy,
  type SimulationConfig, type RunResult, type AnalyzeOptions, type Backend, type FrameProcessorOptions } from 'ionflux';
const config: SimulationConfig = resolveConfig(presetConfig('fig4a'));
const problem = await buildProblem(config);
const backend: Backend = await selectBackend('cpu');
const result: RunResult = await runSimulation(problem, await createSolver(problem, backend));
const theta: Float32Array = result.snapshots[0].field;
const camera = createCamera(problem.grid, config.optics);
const image = forwardModel(theta, camera, problem.theta0);
const diff: Float32Array = diffMapCpu(new Uint16Array(4), new Float32Array(4), 2, 2);
const seg = segmentParticles(image.diff, image.width, image.height, { pixel_um: 0.05 });
const options: AnalyzeOptions = { pixel_um: seg.particles.length, frame_s: diff.length };
const factory = (o: FrameProcessorOptions) => createCpuProcessor(o);
await analyzeMovie(await openMovie('movie.tif'), 'out', factory, options);
await writeSimulationOutputs('out', problem, result, backend.label);
const npy: Uint8Array = encodeNpy(theta, [problem.grid.ny, problem.grid.nx]);
// @ts-expect-error: a wrong argument type must be an error, so the types are not 'any'
resolveConfig(presetConfig(42));
export { npy };
`);
  writeFileSync(path.join(app, 'web.ts'), `
import { buildProblem, presetConfig, resolveConfig, selectBackend, type Backend } from 'ionflux/browser';
// @ts-expect-error: the browser entry has no file readers
import { openMovie } from 'ionflux/browser';
const backend: Backend = await selectBackend('auto');
const device: GPUDevice | undefined = backend.gpu?.device;
export const problem = await buildProblem(resolveConfig(presetConfig('fig4c')));
export { device };
`);
  // skipLibCheck false: our .d.ts files are checked too (skipDefaultLibCheck spares only TypeScript's lib.*.d.ts)
  const common = { strict: true, skipLibCheck: false, skipDefaultLibCheck: true, noEmit: true, target: 'es2022', lib: ['es2022', 'dom'], typeRoots: [path.join(ROOT, 'node_modules', '@types'), path.join(app, 'node_modules', '@types')] };
  writeFileSync(path.join(app, 'tsconfig.node.json'), JSON.stringify({ compilerOptions: { ...common, module: 'nodenext', moduleResolution: 'nodenext', types: ['node'] }, files: ['consumer.ts'] }));
  // a browser app: no Node types at all
  writeFileSync(path.join(app, 'tsconfig.web.json'), JSON.stringify({ compilerOptions: { ...common, module: 'esnext', moduleResolution: 'bundler', types: [] }, files: ['web.ts'] }));
  // one after the other: on a shared 2-core machine two at once are slower than that
  await timed('tsc consumer (nodenext)', () => sh('node', [tsc, '-p', 'tsconfig.node.json'], app));
  await timed('tsc consumer (bundler, browser)', () => sh('node', [tsc, '-p', 'tsconfig.web.json'], app));
}, 240_000);

test('README simulate example bundled by Vite for a browser: no node:* modules, no webgpu package; runs in Chromium, the GPU kernels too', async () => {
  const html = (script: string) => `<!doctype html><meta charset="utf-8"><script type="module" src="./${script}"></script>`;
  writeFileSync(path.join(app, 'index.html'), html('simulate.mjs'));
  writeFileSync(path.join(app, 'gpu.html'), html('gpu.mjs'));
  const outDir = path.join(app, 'web');
  const warnings: string[] = [];
  await timed('vite build (consumer, browser)', () => build({
    root: app, configFile: false, logLevel: 'warn',
    customLogger: { info() {}, warn: (m) => warnings.push(m), warnOnce: (m) => warnings.push(m), error: (m) => warnings.push(m), clearScreen() {}, hasErrorLogged: () => false, hasWarned: false },
    build: { outDir, emptyOutDir: true, target: 'es2022', rollupOptions: { input: [path.join(app, 'index.html'), path.join(app, 'gpu.html')] } },
  }));
  expect(warnings.filter((w) => /externalized for browser|node:|webgpu/i.test(w))).toEqual([]);
  const js = readdirSync(path.join(outDir, 'assets')).filter((f) => f.endsWith('.js')).map((f) => readFileSync(path.join(outDir, 'assets', f), 'utf8')).join('\n');
  expect(js).toContain('@group('); // the WGSL kernels came along, inlined
  expect(js).not.toContain('__vite-browser-external');
  // module syntax only: the worker sources (strings, never run in a browser) name node:worker_threads
  expect(js).not.toMatch(/(\bfrom\s*|\bimport\s*\((\s|\/\*[^*]*\*\/)*)["'`]node:/);
  // the Node-only `import(name)` of device.ts may be folded to import(`webgpu`) by the consumer's
  // minifier; it is never reached in a browser (navigator.gpu comes first). A static import would be.
  expect(js).not.toMatch(/(\bfrom\s*|\bimport\s*\(\s*)["']webgpu["']/);
  expect(js).not.toMatch(/dawn\.node|createRequire|readFile/);
  // the browser build is the narrower one: a file reader is a build error there, not a runtime one
  writeFileSync(path.join(app, 'node-only.mjs'), "import { openMovie } from 'ionflux';\nconsole.log(openMovie);\n");
  await expect(build({
    root: app, configFile: false, logLevel: 'silent',
    build: { outDir: path.join(app, 'web-bad'), target: 'es2022', rollupOptions: { input: path.join(app, 'node-only.mjs') } },
  })).rejects.toThrow(/"openMovie" is not exported by "[^"]*node_modules\/ionflux\/dist\/lib\/browser\.js"/);
  if (!haveChromium()) return; // the browser run needs Debian's chromium (.ci/run installs it)

  let server: Server | undefined;
  const browser = await launchChromium();
  /** the first console line of `file` matching `pattern`, failing on page errors or after 90 s */
  const consoleLine = async (url: string, pattern: RegExp): Promise<string> => {
    const page = await browser.newPage();
    const errors: string[] = [];
    const text = new Promise<string>((resolve, reject) => {
      page.on('console', (m) => { if (pattern.test(m.text())) resolve(m.text()); });
      page.on('pageerror', (e) => { errors.push(String(e)); reject(new Error(`page error at ${url}: ${e}`)); });
      setTimeout(() => reject(new Error(`no result from ${url} in 90 s`)), 90_000);
    });
    await page.goto(url);
    const line = await text;
    await page.close();
    expect(errors).toEqual([]);
    return line;
  };
  try {
    const served = await serveStatic(outDir);
    server = served.server;
    const text = await timed('Chromium run (README)', () => consoleLine(served.url, /steps, mean θ/));
    const m = text.match(/^(gpu|cpu) .*: (\d+) steps, mean θ ([\d.]+), core offset ([\d.]+) µm$/);
    expect(m, text).not.toBeNull();
    expect(Number(m![3])).toBeCloseTo(1 - (100 * 5) / 60 / 275, 4);
    expect(Number(m![4])).toBeGreaterThan(0.05);
    // navigator.gpu (SwiftShader) from the installed browser bundle, against its CPU reference
    const r = JSON.parse(await timed('Chromium run (gpu)', () => consoleLine(`${served.url}gpu.html`, /maxAbs/)));
    expect(r.n).toBeGreaterThan(1000);
    expect(r.maxAbs).toBeLessThanOrEqual(2e-6);
  } finally {
    await browser.close();
    server?.close();
  }
}, 240_000);
