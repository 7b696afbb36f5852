/** The message of the UserError that `p` rejects with (one line), or a failed test. */
import { expect } from 'vitest';
import { UserError } from '../../src/errors';

export async function userError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected a UserError');
}
