/**
 * index.html for an output folder: a plain static page (no scripts, relative links) with a table of
 * key numbers, every PNG in the folder with a caption, and links to the data files. It lists what is
 * in the folder when it is written, so every picture shown and every file linked exists.
 */
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface IndexPage {
  /** page heading, e.g. 'ionflux simulate: fig4c' */
  title: string;
  /** a line under the heading */
  subtitle?: string;
  /** the run's warnings (also on stderr and in summary.json), shown under the heading */
  warnings?: string[];
  /** key numbers, label and value */
  table: [string, string][];
  /** further tables after the summary, e.g. one row per particle */
  tables?: { title: string; header: string[]; rows: string[][] }[];
  /** caption of a file from its path relative to the folder ('/'-separated); '' for none */
  caption: (relPath: string) => string;
  /** one line about a data file (CSV, JSON, NPY, TIFF …); '' for none */
  describe: (relPath: string) => string;
  /** PNGs in this order first (relative paths); the rest follow in name order */
  order?: string[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const href = (rel: string) => rel.split('/').map(encodeURIComponent).join('/');

/** Every file under `dir` (relative, '/'-separated, sorted), leaving out dot files and index.html. */
export async function listOutputFiles(dir: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(path.join(dir, sub), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listOutputFiles(dir, rel)));
    else if (e.isFile() && rel !== 'index.html') out.push(rel);
  }
  return out;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** The page's HTML for the files `files` (relative paths) with their sizes in bytes. */
export function indexHtml(page: IndexPage, files: { rel: string; bytes: number }[]): string {
  const pngs = files.filter((f) => f.rel.toLowerCase().endsWith('.png')).map((f) => f.rel);
  const first = (page.order ?? []).filter((r) => pngs.includes(r));
  const images = [...first, ...pngs.filter((r) => !first.includes(r))];
  const data = files.filter((f) => !f.rel.toLowerCase().endsWith('.png'));
  const lines = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${esc(page.title)}</title>`,
    '<style>',
    'body { font-family: sans-serif; margin: 2em; max-width: 1400px; color: #111; }',
    'table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }',
    'td.v { font-family: monospace; } figure { display: inline-block; vertical-align: top; margin: 0 1.5em 1.5em 0; }',
    'figure img { max-width: 100%; border: 1px solid #ddd; } figcaption { max-width: 640px; font-size: 0.9em; }',
    '.warnings { background: #fff4e0; border-left: 4px solid #e69500; padding: 0.4em 1em; max-width: 1100px; }',
    '</style>',
    '</head>',
    '<body>',
    `<h1>${esc(page.title)}</h1>`,
  ];
  if (page.subtitle) lines.push(`<p>${esc(page.subtitle)}</p>`);
  if (page.warnings?.length) {
    lines.push(`<div class="warnings"><h2>Warnings (${page.warnings.length})</h2>`, '<ul>');
    for (const w of page.warnings) lines.push(`<li>${esc(w)}</li>`);
    lines.push('</ul></div>');
  }
  if (page.table.length) {
    lines.push('<h2>Summary</h2>', '<table>');
    for (const [k, v] of page.table) lines.push(`<tr><th>${esc(k)}</th><td class="v">${esc(v)}</td></tr>`);
    lines.push('</table>');
  }
  for (const t of page.tables ?? []) {
    lines.push(`<h2>${esc(t.title)}</h2>`, '<table>', `<tr>${t.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`);
    for (const r of t.rows) lines.push(`<tr>${r.map((c) => `<td class="v">${esc(c)}</td>`).join('')}</tr>`);
    lines.push('</table>');
  }
  if (images.length) {
    lines.push('<h2>Pictures</h2>');
    for (const rel of images) {
      const cap = page.caption(rel);
      lines.push(`<figure><a href="${href(rel)}"><img src="${href(rel)}" alt="${esc(rel)}"></a><figcaption><code>${esc(rel)}</code>${cap ? ` — ${esc(cap)}` : ''}</figcaption></figure>`);
    }
  }
  if (data.length) {
    lines.push('<h2>Data files</h2>', '<table>', '<tr><th>file</th><th>size</th><th>content</th></tr>');
    for (const f of data) lines.push(`<tr><td><a href="${href(f.rel)}">${esc(f.rel)}</a></td><td>${size(f.bytes)}</td><td>${esc(page.describe(f.rel))}</td></tr>`);
    lines.push('</table>');
  }
  lines.push('<p><small>Written by ionflux. Open the PNGs at full size by clicking them.</small></p>', '</body>', '</html>');
  return lines.join('\n') + '\n';
}

/** Writes `dir`/index.html for the files now in `dir` (call it last). */
export async function writeIndexHtml(dir: string, page: IndexPage): Promise<void> {
  const rels = await listOutputFiles(dir);
  const files = await Promise.all(rels.map(async (rel) => ({ rel, bytes: (await stat(path.join(dir, rel))).size })));
  await writeFile(path.join(dir, 'index.html'), indexHtml(page, files));
}
