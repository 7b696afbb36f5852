import { defineConfig } from 'vitest/config';

// One config for the CLI bundle and the tests. The CLI is built as a Node (SSR) bundle so that the
// WGSL files imported with `?raw` are inlined; node_modules (the native `webgpu` package included)
// stay external.
export default defineConfig({
  build: {
    ssr: 'src/cli/main.ts',
    outDir: 'dist',
    target: 'node20',
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: { output: { entryFileNames: 'cli.js', format: 'es' } },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Dawn is a native addon: a crash must take down one test file, not the runner.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
