/**
 * What the demo benchmarks (bench/demo-*.mjs) share: a static server for a built site
 * (`vite build --mode demo`, npm run build:demo → dist/demo) on 127.0.0.1, and headless Chromium
 * with WebGPU on SwiftShader (the flags of ../shared/RUNTIME.md; IONFLUX_CHROMIUM overrides the
 * browser, Debian's /usr/bin/chromium by default).
 */
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };

/** Serves the folder `root` on a free port: { server, url }. */
export function serve(root) {
  const server = createServer(async (req, res) => {
    const rel = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const file = path.join(root, rel.endsWith('/') ? `${rel}index.html` : rel);
    let body;
    try { body = await readFile(file); } catch { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${server.address().port}/` })));
}

export const SWIFTSHADER_ARGS = ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader',
  '--enable-unsafe-swiftshader', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--use-angle=swiftshader'];

/** Headless Chromium with WebGPU on SwiftShader. */
export function launchChromium() {
  return chromium.launch({ executablePath: process.env.IONFLUX_CHROMIUM ?? '/usr/bin/chromium', args: SWIFTSHADER_ARGS, headless: true });
}

/**
 * The built site in `dir` served and opened in a new page of `browser` at `#hash`, once the demo
 * says it is ready: { page, close } (close() closes the page and stops the server).
 */
export async function openSite(browser, dir, hash = '') {
  const { server, url } = await serve(dir);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const close = async () => { await page.close(); server.close(); };
  try {
    await page.goto(hash ? `${url}#${hash}` : url);
    await page.waitForFunction(() => window.ionfluxDemo?.ready === true, null, { timeout: 60_000 });
  } catch (e) {
    await close();
    throw e;
  }
  return { page, close };
}
