/** index.html: every PNG shown, every link to a file that exists, text escaped, no scripts. */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listOutputFiles, writeIndexHtml } from '../../src/render/htmlIndex';

const dir = mkdtempSync(path.join(tmpdir(), 'ionflux-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeIndexHtml', () => {
  it('lists the folder: pictures with captions, data files linked, in the given order', async () => {
    mkdirSync(path.join(dir, 'particle_1'));
    for (const f of ['b.png', 'a.png', 'particle_1/kymograph.png', 'particle_1/kymograph.csv', 'trace.csv', 'odd name & <x>.csv', '.ionflux-output']) writeFileSync(path.join(dir, f), 'x');
    await writeIndexHtml(dir, {
      title: 'ionflux simulate: <run>',
      table: [['time (min)', '20']],
      caption: (rel) => (rel === 'b.png' ? 'θ at 5 min' : ''),
      describe: (rel) => (rel === 'trace.csv' ? 'the trace' : ''),
      order: ['b.png'],
    });
    const html = readFileSync(path.join(dir, 'index.html'), 'utf8');
    expect(html).toContain('<title>ionflux simulate: &lt;run&gt;</title>');
    expect(html).toContain('<tr><th>time (min)</th><td class="v">20</td></tr>');
    const imgs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => decodeURIComponent(m[1]));
    expect(imgs).toEqual(['b.png', 'a.png', 'particle_1/kymograph.png']);
    expect(html).toContain('θ at 5 min');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => decodeURIComponent(m[1]));
    for (const r of refs) expect(existsSync(path.join(dir, r)), r).toBe(true);
    expect(refs).toContain('odd name & <x>.csv');
    expect(refs).not.toContain('.ionflux-output');
    expect(refs).not.toContain('index.html');
    expect(html).toContain('odd name &amp; &lt;x&gt;.csv');
    expect(html).not.toMatch(/<script/i);
    expect(await listOutputFiles(dir)).not.toContain('index.html');
  });

  it('shows the run\'s warnings under the heading, escaped; none: no section', async () => {
    const d = path.join(dir, 'warned');
    mkdirSync(d);
    await writeIndexHtml(d, { title: 't', warnings: ['the pixel size <1 µm> is a default', 'second'], table: [], caption: () => '', describe: () => '' });
    const html = readFileSync(path.join(d, 'index.html'), 'utf8');
    expect(html).toContain('<h2>Warnings (2)</h2>');
    expect(html).toContain('<li>the pixel size &lt;1 µm&gt; is a default</li>');
    expect(html.indexOf('Warnings')).toBeLessThan(html.indexOf('</h1>') + 200);
    await writeIndexHtml(d, { title: 't', warnings: [], table: [], caption: () => '', describe: () => '' });
    expect(readFileSync(path.join(d, 'index.html'), 'utf8')).not.toContain('Warnings');
  });
});

