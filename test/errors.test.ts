import { describe, expect, it } from 'vitest';
import { ERRORS, EXIT, OrdealError, type ErrorCode } from '../core/errors.js';

describe('error catalogue', () => {
  it('has stable ORDEAL_ERR_* codes, documented exit codes and a hint for each', () => {
    const exitCodes = new Set<number>(Object.values(EXIT));
    for (const [code, entry] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^ORDEAL_ERR_[A-Z_]+$/);
      expect(exitCodes.has(entry.exitCode)).toBe(true);
      expect(entry.hint.length).toBeGreaterThan(10);
    }
  });

  it('input errors exit 2: a bad run folder, a path that is not a report', () => {
    expect(ERRORS.ORDEAL_ERR_RUN_DIR.exitCode).toBe(EXIT.invalidInput);
    expect(ERRORS.ORDEAL_ERR_REPORT_FILE.exitCode).toBe(EXIT.invalidInput);
    expect(new OrdealError('ORDEAL_ERR_REPORT_FILE', 'runs/x: no such file or folder').format()).toMatch(/^ORDEAL_ERR_REPORT_FILE: runs\/x: no such file or folder\n {2}Pass a report\.json/);
  });

  it('formats code, message and hint, and keeps the cause', () => {
    const cause = new Error('root');
    const error = new OrdealError('ORDEAL_ERR_TARGET_UNREACHABLE' satisfies ErrorCode, 'no answer', { cause });
    expect(error.exitCode).toBe(3);
    expect(error.cause).toBe(cause);
    expect(error.format()).toMatch(/^ORDEAL_ERR_TARGET_UNREACHABLE: no answer\n {2}\S/);
  });
});
