/**
 * Progress on stderr: a redrawn bar on a TTY, a plain line every few seconds otherwise (logs, CI).
 * Results never go here; they go to files.
 */
export interface Progress {
  /** fraction in [0, 1] and a short status text */
  update(fraction: number, status?: string): void;
  done(status?: string): void;
}

export function createProgress(label: string, options: { stream?: NodeJS.WriteStream; quiet?: boolean; intervalMs?: number } = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return { update() {}, done() {} };
  const tty = Boolean(stream.isTTY);
  const interval = options.intervalMs ?? (tty ? 100 : 5000);
  const start = Date.now();
  let last = 0;
  let lastLine = '';
  const line = (f: number, status: string) => {
    const pct = Math.max(0, Math.min(1, f));
    const elapsed = (Date.now() - start) / 1000;
    const eta = pct > 0.01 ? ` eta ${Math.max(0, elapsed * (1 / pct - 1)).toFixed(0)}s` : '';
    if (!tty) return `${label}: ${(pct * 100).toFixed(0)}% ${status} (${elapsed.toFixed(0)}s${eta})`;
    const width = 28;
    const full = Math.round(pct * width);
    return `${label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${(pct * 100).toFixed(0).padStart(3)}% ${status}${eta}`;
  };
  return {
    update(fraction, status = '') {
      const now = Date.now();
      if (now - last < interval) return;
      // The first line appears only after a second: short runs stay quiet.
      if (now - start < 1000) return;
      last = now;
      lastLine = line(fraction, status);
      stream.write(tty ? `\r${lastLine}\x1b[K` : `${lastLine}\n`);
    },
    done(status = 'done') {
      if (!lastLine) return;
      const text = line(1, status);
      stream.write(tty ? `\r${text}\x1b[K\n` : `${text}\n`);
    },
  };
}
