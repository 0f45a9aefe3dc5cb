import { HubError, toHubError } from '../../core/errors.js';

/** A credential fetched on demand, cached for its lifetime, fetched by one request however many callers wait. */
export class CredentialCache<T> {
  private current?: { value: T; expiresAt: number; ref: number };
  private pending?: Promise<{ value: T; ref: number }>;
  private generation = 0;

  constructor(
    private readonly fetch: () => Promise<{ value: T; lifetimeMs: number }>,
    private readonly now: () => number,
  ) {}

  async get(): Promise<{ value: T; ref: number }> {
    const c = this.current;
    if (c && this.now() < c.expiresAt) return c;
    this.pending ??= this.fetch()
      .then(({ value, lifetimeMs }) => (this.current = { value, expiresAt: this.now() + lifetimeMs, ref: ++this.generation }))
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** Drop the credential identified by `ref`, unless a newer one has replaced it already. */
  invalidate(ref: number): void {
    if (this.current?.ref === ref) this.current = undefined;
  }
}

/**
 * A login or token endpoint that is down, overloaded or rate-limiting has not refused our credentials:
 * that is worth retrying (transport.auth-unavailable), unlike a refusal (transport.auth-failed).
 */
export function authEndpointFailed(peer: string, status: number, what: string): HubError {
  if (status >= 500 || status === 429 || status === 408) {
    return new HubError('transport.auth-unavailable', `Máy chủ xác thực của ${peer} tạm không phục vụ / the ${what} endpoint of ${peer} is unavailable (HTTP ${status})`, {
      detail: [{ reason: `${what} answered HTTP ${status}`, code: `http-${status}` }],
    });
  }
  return authFailed(peer, `${what} answered HTTP ${status}`, `${what}-refused`);
}

/** A token endpoint that cannot be reached or does not answer in time: retried like any outage. */
export function authEndpointUnreachable(peer: string, what: string, error: unknown): HubError {
  const cause = toHubError(error);
  if (cause.type !== 'transport.unreachable' && cause.type !== 'transport.timeout') return cause;
  return new HubError('transport.auth-unavailable', `Máy chủ xác thực của ${peer} không liên lạc được / the ${what} endpoint of ${peer} cannot be reached`, {
    detail: [{ reason: `${what} endpoint: ${cause.type === 'transport.timeout' ? 'no answer in time' : 'connection failed'}`, code: cause.type === 'transport.timeout' ? `${what}-timeout` : `${what}-unreachable` }],
    cause: error,
  });
}

export function authFailed(peer: string, reason: string, code: string): HubError {
  return new HubError('transport.auth-failed', `Xác thực với ${peer} thất bại / authentication with ${peer} failed`, {
    detail: [{ reason, code }],
  });
}

/** Parse a small JSON object answer, or undefined when it is not one. */
export function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
