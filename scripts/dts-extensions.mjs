#!/usr/bin/env node
/**
 * `npm run build`, after tsc: gives the relative imports of the emitted declarations (dist/types)
 * their file names ('./problem' → './problem.js', './solver' → './solver/index.js'). The sources
 * import without extensions (Vite resolves them), but a consumer whose tsconfig says
 * "moduleResolution": "nodenext" resolves a .d.ts of a "type": "module" package by Node's ESM rules,
 * which take no extensionless paths. Idempotent.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? 'dist/types');

function withExtension(file, spec) {
  if (/\.(js|mjs|cjs|json)$/.test(spec)) return spec;
  const target = path.resolve(path.dirname(file), spec);
  if (existsSync(`${target}.d.ts`)) return `${spec}.js`;
  if (existsSync(path.join(target, 'index.d.ts'))) return `${spec}/index.js`;
  throw new Error(`${file}: import '${spec}' matches no declaration file in ${root}`);
}

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) walk(file);
    else if (name.endsWith('.d.ts')) {
      const text = readFileSync(file, 'utf8');
      const fixed = text.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*)\2/g, (_, head, q, spec) => `${head}${q}${withExtension(file, spec)}${q}`);
      if (fixed !== text) writeFileSync(file, fixed);
    }
  }
}

walk(root);
