import { test } from 'vitest';
import { serveDemo, launch, openDemo, metrics } from './harness';
test('smoke', async () => {
  const site = await serveDemo();
  const browser = await launch(process.env.NOGPU ? (await import('./harness')).NO_WEBGPU_ARGS : undefined);
  try {
    const { page, errors } = await openDemo(browser, site.url, process.env.HASH ?? 'play=0');
    await page.waitForTimeout(1000);
    const r = await page.evaluate(async () => {
      const app = (window as any).ionfluxDemo.app; app.noRender = true; await new Promise(r => setTimeout(r, 500));
      const out: Record<string, number> = {};
      for (const k of [1, 1, 10, 100, 1000]) {
        const t0 = performance.now();
        await app.run.solver.advance(k);
        out[`adv${k}`] = performance.now() - t0;
      }
      const t0 = performance.now();
      await app.run.solver.stats();
      out.stats = performance.now() - t0;
      const t1 = performance.now();
      await app.run.solver.optics(app.run.camera, 0.05);
      out.optics = performance.now() - t1;
      return out;
    });
    console.log(JSON.stringify(r));
    const m = await metrics(page);
    console.log(JSON.stringify(m.bench), m.frames);
    console.log('errors', errors);
  } finally { await browser.close(); await site.close(); }
}, 120_000);
