import { describe, expect, it } from 'vitest';
import { ERRORS, EXIT, OrdealError, type ErrorCode } from '../harness/errors.js';

describe('error catalogue', () => {
  it('has stable ORDEAL_ERR_* codes, documented exit codes and a hint for each', () => {
    const exitCodes = new Set<number>(Object.values(EXIT));
    for (const [code, entry] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^ORDEAL_ERR_[A-Z_]+$/);
      expect(exitCodes.has(entry.exitCode)).toBe(true);
      expect(entry.hint.length).toBeGreaterThan(10);
    }
  });

  it('formats code, message and hint, and keeps the cause', () => {
    const cause = new Error('root');
    const error = new OrdealError('ORDEAL_ERR_TARGET_UNREACHABLE' satisfies ErrorCode, 'no answer', { cause });
    expect(error.exitCode).toBe(3);
    expect(error.cause).toBe(cause);
    expect(error.format()).toMatch(/^ORDEAL_ERR_TARGET_UNREACHABLE: no answer\n {2}\S/);
  });
});
