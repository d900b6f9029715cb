import { isOrdealError } from '../../core/errors.js';

/** The code and message of the OrdealError `action` throws (or rejects with); anything else fails the test. */
export async function thrown(action: () => unknown): Promise<{ code: string; message: string }> {
  try {
    await action();
  } catch (error) {
    if (isOrdealError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected an error');
}
