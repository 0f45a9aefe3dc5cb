import { expect } from 'vitest';
import { HubError } from '../../src/core/errors.js';

/** Read one request header from a MockAgent reply callback, whatever shape undici handed over. */
export function header(opts: { headers?: unknown }, name: string): string | undefined {
  const h = opts.headers as Record<string, string> | Headers | undefined;
  if (!h) return undefined;
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name) ?? undefined;
  const key = Object.keys(h).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : (h as Record<string, string>)[key];
}

/** The HubError a promise rejects with (fails the test when it resolves or throws something else). */
export async function rejection(p: Promise<unknown>): Promise<HubError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}
