import { defineConfig } from 'vitest/config';
import type { Plugin } from 'vite';
import { builtinModules } from 'node:module';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pkg from './package.json' with { type: 'json' };

// One config for the CLI bundle, the two library bundles and the tests; `--mode` picks the build
// (`npm run build` runs all three, then the .d.ts files: see package.json "build").
//   vite build                → dist/cli.js        the CLI (bin/ionflux.js imports it)
//   vite build --mode lib     → dist/lib/index.js  `import … from 'ionflux'` in Node
//   vite build --mode browser → dist/lib/browser.js the same in a browser bundle (no file system)
//   vite build --mode demo    → dist/demo/          the live demo page (demo/, `npm run build:demo`);
//   vite --mode demo          serves it             (`npm run demo`)
// All are built so that the WGSL files imported with `?raw` are inlined; the packages in
// "dependencies" and "optionalDependencies" (the native `webgpu`) stay external, so that a
// consumer's bundler or Node resolves them once. The library's source maps point into src/ (which the
// package ships) rather than embedding a second copy of it.

const ROOT = path.dirname(fileURLToPath(import.meta.url));

const dependencies = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies)];
const isExternal = (id: string) =>
  id.startsWith('node:') || builtinModules.includes(id) || dependencies.some((d) => id === d || id.startsWith(`${d}/`));

// In the browser bundle the Node-only modules that the code reaches only behind a runtime check
// (worker threads for the CPU paths, a particle mask read from an image file) become small stand-ins,
// so that a consumer's bundler never sees `node:*` or the file readers.
const NODE_ONLY_STANDINS: Record<string, string> = {
  // src/imaging/processor.ts asks for availableParallelism() before starting helpers: 1 = no helpers
  'node:os': 'export const availableParallelism = () => 1; export const cpus = () => [{}]; export default { availableParallelism, cpus };',
  // reached only where `process.versions.node` exists (src/solver/cpu.ts) or inside a try (processor.ts)
  'node:worker_threads': "export class Worker { constructor() { throw new Error('worker threads need Node'); } } export const workerData = undefined;",
  // src/gpu/backend.ts lists /dev only where `process.platform` is 'linux' (never in a browser)
  'node:fs': "export const readdirSync = () => { throw new Error('no file system in a browser'); };",
};
const MASK_STANDIN =
  "export async function outlineFromMaskFile(file) { throw new Error(`particle.file = '${file}': particle.shape 'mask' reads an image file, which needs Node; in a browser give the outline as particle.shape 'polygon' with vertices_um`); }";

function browserStandins(): Plugin {
  return {
    name: 'ionflux-browser-standins',
    enforce: 'pre',
    resolveId(source) {
      if (source in NODE_ONLY_STANDINS) return `\0standin:${source}`;
      if (/(^|\/)model\/maskOutline(\.ts)?$/.test(source)) return '\0standin:maskOutline';
      return null;
    },
    load(id) {
      if (!id.startsWith('\0standin:')) return null;
      const name = id.slice('\0standin:'.length);
      return name === 'maskOutline' ? MASK_STANDIN : NODE_ONLY_STANDINS[name];
    },
  };
}

/**
 * Empties the CLI build's output folder before it builds, as `emptyOutDir` would, except that in
 * the project's own dist/ it keeps dist/demo/ (`npm run build:demo` writes the static demo site
 * there; the library builds must not wipe it). Another --outDir is emptied whole.
 */
function cleanOutDirExceptDemo(): Plugin {
  let outDir = '';
  return {
    name: 'ionflux-clean-outdir',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    buildStart() {
      let entries: string[] = [];
      try { entries = readdirSync(outDir); } catch { return; }
      const keep = outDir === path.resolve(ROOT, 'dist') ? 'demo' : null;
      for (const e of entries) if (e !== keep) rmSync(path.join(outDir, e), { recursive: true, force: true });
    },
  };
}

const test = {
  include: ['test/**/*.test.ts'],
  // Dawn is a native addon: a crash must take down one test file, not the runner.
  pool: 'forks',
  testTimeout: 120_000,
  hookTimeout: 60_000,
};

export default defineConfig(({ mode }) => {
  if (mode === 'demo') {
    // The demo is a browser app over src/ (it imports the library's modules directly, so the WGSL
    // files come in with `?raw` and the Node-only modules take the same stand-ins as the browser
    // bundle, in the page and in the CPU fallback's Web Worker).
    return {
      root: path.resolve(ROOT, 'demo'),
      base: './',
      plugins: [browserStandins()],
      worker: { format: 'es' as const, plugins: () => [browserStandins()] },
      server: { host: '127.0.0.1', fs: { allow: [ROOT] } },
      preview: { host: '127.0.0.1' },
      build: {
        outDir: path.resolve(ROOT, 'dist/demo'),
        emptyOutDir: true, // its own folder only
        target: 'es2022',
        sourcemap: true,
        chunkSizeWarningLimit: 2000,
      },
    };
  }
  if (mode === 'lib') {
    return {
      build: {
        ssr: 'src/index.ts',
        outDir: 'dist/lib',
        target: 'node20',
        emptyOutDir: false, // shared with the browser bundle; `npm run build` clears dist/ first
        sourcemap: true,
        minify: false,
        rollupOptions: { external: isExternal, output: { entryFileNames: 'index.js', format: 'es', codeSplitting: false, sourcemapExcludeSources: true } },
      },
    };
  }
  if (mode === 'browser') {
    return {
      plugins: [browserStandins()],
      build: {
        outDir: 'dist/lib',
        target: 'es2022',
        emptyOutDir: false,
        sourcemap: true,
        minify: false,
        lib: { entry: 'src/browser.ts', formats: ['es'], fileName: () => 'browser.js' },
        // node:* is not external here: the stand-ins above take it
        rollupOptions: { external: (id) => !(id in NODE_ONLY_STANDINS) && isExternal(id), output: { codeSplitting: false, sourcemapExcludeSources: true } },
      },
    };
  }
  return {
    plugins: [cleanOutDirExceptDemo()],
    ssr: { noExternal: ['zod', 'commander', 'pngjs'] },
    build: {
      ssr: 'src/cli/main.ts',
      outDir: 'dist',
      target: 'node20',
      emptyOutDir: false, // cleanOutDirExceptDemo() empties it, but dist/demo/

      sourcemap: true,
      rollupOptions: { output: { entryFileNames: 'cli.js', format: 'es' } },
    },
    test,
  };
});
