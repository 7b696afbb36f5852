/** Runs the CLI in process (`main(argv)`), capturing what it writes to stderr. */
import { vi } from 'vitest';
import { main } from '../../src/cli/main';

export async function runCli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { stderr += String(s); return true; });
  try {
    return { code: await main(args), stderr };
  } finally {
    spy.mockRestore();
  }
}
