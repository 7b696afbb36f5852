#!/usr/bin/env node
// Entry point of `npx ionflux`: runs the CLI bundle that `npm install` (script "prepare") builds.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(bundle)) {
  console.error('ionflux: dist/cli.js is missing; run `npm install` (or `npm run build`) in the ionflux folder first');
  process.exit(1);
}
const { main } = await import(bundle);
process.exitCode = await main(process.argv.slice(2));
