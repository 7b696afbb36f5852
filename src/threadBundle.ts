/**
 * Which file a worker thread of ionflux loads (the sweep and fit pools, analyze's drift threads):
 * the built bundle it then takes `sweepWorkerMain` / `fitWorkerMain` / `driftWorkerMain` from.
 * The library bundle (dist/lib/index.js) is one file, so that is the calling module's own file. The
 * CLI bundle is split into chunks loaded per command (dist/cli.js + dist/assets/*.js, so that
 * `ionflux simulate` does not compile the analysis and fitting code), and a chunk's exports are
 * renamed: there the entry, cli.js, registers itself here and exports the three mains under their
 * names. From the sources (vitest) there is no bundle: null, and the callers stay in this thread.
 */
let entry: string | null = null;

const isBundle = (url: string) => url.startsWith('file:') && url.endsWith('.js');

/** Called by the CLI entry with its own URL (ignored from the sources, main.ts). */
export function setThreadBundle(url: string): void {
  if (isBundle(url)) entry = url;
}

/** The bundle URL for a worker started by the module at `ownUrl` (its import.meta.url), or null. */
export function threadBundle(ownUrl: string): string | null {
  return entry ?? (isBundle(ownUrl) ? ownUrl : null);
}
