import { expect } from 'vitest';
import { HubError } from '../../src/core/errors.js';

/** The HubError `action` throws (the test fails if it throws nothing, or something else). */
export function thrown(action: () => unknown): HubError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return error as HubError;
  }
  throw new Error('expected a HubError');
}

/** The HubError `promise` rejects with (the test fails if it resolves, or rejects with something else). */
export async function rejection(promise: Promise<unknown>): Promise<HubError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return error as HubError;
  }
  throw new Error('expected a HubError');
}
