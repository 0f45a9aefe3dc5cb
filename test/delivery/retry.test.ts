import { describe, expect, it } from 'vitest';
import { checkPolicy, decide, DEFAULT_RETRY_POLICY, formatDuration, parseDuration, parseRetryAfter, resolvePolicy, type RetryPolicy } from '../../src/delivery/retry.js';

const T0 = Date.UTC(2026, 0, 15, 8, 0, 0);

describe('parseDuration', () => {
  it('reads units, compounds, decimals and plain milliseconds', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('2s')).toBe(2_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('5min')).toBe(300_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1h 30m')).toBe(5_400_000);
    expect(parseDuration(' 1.5s ')).toBe(1_500);
    expect(parseDuration('1500')).toBe(1_500);
    expect(parseDuration(1500)).toBe(1_500);
    expect(parseDuration(0)).toBe(0);
  });

  it('throws on garbage, negatives and infinities', () => {
    for (const bad of ['', 'abc', '5x', '5 mins', '-1s', '1.2.3s', 's', '1h-', 'Infinity']) expect(() => parseDuration(bad), bad).toThrow(/bad duration/);
    for (const bad of [-1, Infinity, NaN]) expect(() => parseDuration(bad)).toThrow(/bad duration/);
    expect(() => parseDuration(undefined as unknown as string)).toThrow(/bad duration/);
  });

  it('formats durations for messages', () => {
    expect(formatDuration(86_400_000)).toBe('24 h');
    expect(formatDuration(2 * 86_400_000)).toBe('2 d');
    expect(formatDuration(5 * 60_000)).toBe('5 min');
    expect(formatDuration(1_500)).toBe('1.5 s');
    expect(formatDuration(250)).toBe('250 ms');
    expect(formatDuration(2 * 3_600_000)).toBe('2 h');
  });
});

describe('resolvePolicy', () => {
  it('starts from the defaults', () => {
    expect(resolvePolicy()).toEqual(DEFAULT_RETRY_POLICY);
    expect(DEFAULT_RETRY_POLICY).toMatchObject({ maxAttempts: 8, initialDelayMs: 1_000, multiplier: 2, maxDelayMs: 300_000, jitter: 0.2, maxElapsedMs: 86_400_000 });
    expect(DEFAULT_RETRY_POLICY.retryOnStatus).toEqual([408, 425, 429, 500, 502, 503, 504]);
    expect(DEFAULT_RETRY_POLICY.retryOnErrorTypes).toEqual(['transport.timeout', 'transport.unreachable', 'transport.failed', 'transport.auth-unavailable', 'transport.peer-rejected-retryable', 'transport.peer-fault-server']);
  });

  it('lets later layers override earlier ones, field by field; lists are replaced whole', () => {
    const policy = resolvePolicy(
      { maxAttempts: 5, initialDelay: '2s', retryOn: { status: [503] } }, // hub
      undefined,
      { maxDelay: '10m', jitter: 0 }, // connector
      { maxAttempts: 3, retryOn: { errorTypes: ['transport.timeout'] } }, // operation
    );
    expect(policy).toEqual({ ...DEFAULT_RETRY_POLICY, maxAttempts: 3, initialDelayMs: 2_000, maxDelayMs: 600_000, jitter: 0, retryOnStatus: [503], retryOnErrorTypes: ['transport.timeout'] });
  });

  it('does not share the default lists (a caller mutating a policy cannot change the defaults)', () => {
    const policy = resolvePolicy();
    policy.retryOnStatus.push(418);
    expect(DEFAULT_RETRY_POLICY.retryOnStatus).not.toContain(418);
  });

  it('throws when the resolved policy is unusable, naming every problem', () => {
    expect(() => resolvePolicy({ initialDelay: '10m' })).toThrow(/maxDelay \(5 min\) is shorter than initialDelay \(10 min\)/);
    expect(() => resolvePolicy({ maxAttempts: 0, jitter: 2 })).toThrow(/maxAttempts.*; jitter/);
    expect(() => resolvePolicy({ maxDelay: 'soon' })).toThrow(/maxDelay: bad duration "soon"/);
  });
});

describe('checkPolicy', () => {
  it('accepts sensible layers, including an empty one', () => {
    expect(checkPolicy({})).toEqual([]);
    expect(checkPolicy({ maxAttempts: 1 })).toEqual([]);
    expect(checkPolicy({ maxAttempts: 12, initialDelay: '500ms', multiplier: 1.5, maxDelay: '10m', jitter: 0.1, maxElapsed: '2d', retryOn: { status: [503], errorTypes: ['transport.timeout'] } })).toEqual([]);
  });

  it('finds unbounded and nonsensical values, typos and bad durations', () => {
    const problems = (config: object) => checkPolicy(config as never).join('\n');
    expect(problems({ maxAttempts: 0 })).toMatch(/maxAttempts must be a whole number of at least 1/);
    expect(problems({ maxAttempts: Infinity })).toMatch(/maxAttempts must be a whole number/);
    expect(problems({ maxAttempts: 2.5 })).toMatch(/maxAttempts must be a whole number/);
    expect(problems({ maxAttempts: '3' })).toMatch(/maxAttempts must be a number/);
    expect(problems({ multiplier: 0.5 })).toMatch(/multiplier must be a finite number ≥ 1/);
    expect(problems({ jitter: 1.5 })).toMatch(/jitter is a fraction between 0 and 1/);
    expect(problems({ jitter: -0.1 })).toMatch(/jitter/);
    expect(problems({ maxDelay: '500ms' })).toMatch(/maxDelay \(500 ms\) is shorter than initialDelay \(1 s\)/);
    expect(problems({ initialDelay: 'soon' })).toMatch(/initialDelay: bad duration "soon"/);
    expect(problems({ maxElapsed: 0 })).toMatch(/maxElapsed must be a positive duration/);
    expect(problems({ maxElapsed: '1s' })).toMatch(/initialDelay \(1 s\) is not shorter than maxElapsed \(1 s\)/);
    expect(problems({ maxAttempt: 3 })).toMatch(/unknown field "maxAttempt"/);
    expect(problems({ retryOn: { statuses: [500] } })).toMatch(/unknown field "retryOn.statuses"/);
    expect(problems({ retryOn: { status: [600, 'x'] } })).toMatch(/600 is not an HTTP status code[\s\S]*"x" is not an HTTP status code/);
    expect(problems({ retryOn: { errorTypes: ['timeout'] } })).toMatch(/"timeout" is not an error type/);
    expect(problems({ retryOn: { status: 503 } })).toMatch(/retryOn.status must be a list/);
  });

  it('checks a layer against the layers below it', () => {
    const base = resolvePolicy({ maxDelay: '1m' });
    expect(checkPolicy({ initialDelay: '2m' }, base).join()).toMatch(/maxDelay \(1 min\) is shorter than initialDelay \(2 min\)/);
  });
});

describe('decide', () => {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, jitter: 0 };

  it('retries retryable failures with exponential, capped delays', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((n) => decide(policy, { errorType: 'transport.timeout' }, n, T0, T0));
    expect(delays.map((d) => (d.action === 'retry' ? d.delayMs : d.action))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000]);
    const capped = decide({ ...policy, maxAttempts: 20 }, { errorType: 'transport.timeout' }, 12, T0, T0);
    expect(capped).toEqual({ action: 'retry', at: T0 + 300_000, delayMs: 300_000 });
  });

  it('retries on a retryable HTTP status even under a non-listed error type', () => {
    expect(decide(policy, { errorType: 'transport.peer-error', httpStatus: 503 }, 1, T0, T0)).toEqual({ action: 'retry', at: T0 + 1_000, delayMs: 1_000 });
  });

  it('spreads delays by ±jitter, never beyond maxDelay', () => {
    const jittery: RetryPolicy = { ...DEFAULT_RETRY_POLICY, jitter: 0.2 };
    const low = decide(jittery, { errorType: 'transport.timeout' }, 3, T0, T0, () => 0);
    const high = decide(jittery, { errorType: 'transport.timeout' }, 3, T0, T0, () => 0.999999);
    expect(low).toMatchObject({ action: 'retry', delayMs: 3_200 });
    expect(high).toMatchObject({ action: 'retry', delayMs: 4_800 });
    const atCap = decide({ ...jittery, maxAttempts: 30 }, { errorType: 'transport.timeout' }, 20, T0, T0, () => 0.999999);
    expect(atCap).toMatchObject({ action: 'retry', delayMs: 300_000 });
    for (let i = 0; i < 200; i++) {
      const d = decide(jittery, { errorType: 'transport.timeout' }, 2, T0, T0);
      if (d.action !== 'retry') throw new Error('expected a retry');
      expect(d.delayMs).toBeGreaterThanOrEqual(1_600);
      expect(d.delayMs).toBeLessThanOrEqual(2_400);
    }
  });

  it('honours Retry-After, even beyond maxDelay', () => {
    expect(decide(policy, { errorType: 'transport.peer-error', httpStatus: 429, retryAfterMs: 30_000 }, 1, T0, T0)).toEqual({ action: 'retry', at: T0 + 30_000, delayMs: 30_000 });
    expect(decide(policy, { errorType: 'transport.peer-error', httpStatus: 503, retryAfterMs: 600_000 }, 1, T0, T0)).toMatchObject({ action: 'retry', delayMs: 600_000 });
    // a shorter Retry-After does not shorten the backoff
    expect(decide(policy, { errorType: 'transport.timeout', retryAfterMs: 10 }, 3, T0, T0)).toMatchObject({ delayMs: 4_000 });
  });

  it('dead-letters permanent and non-retryable failures at once, saying which', () => {
    expect(decide(policy, { errorType: 'transport.peer-error', httpStatus: 400, permanent: true }, 1, T0, T0)).toEqual({ action: 'dead-letter', reason: 'permanent error transport.peer-error (HTTP 400)' });
    expect(decide(policy, { errorType: 'transport.timeout', permanent: true }, 1, T0, T0)).toEqual({ action: 'dead-letter', reason: 'permanent error transport.timeout' });
    expect(decide(policy, { errorType: 'transport.peer-error', httpStatus: 404 }, 1, T0, T0)).toEqual({ action: 'dead-letter', reason: 'error transport.peer-error (HTTP 404) is not retryable under the retry policy' });
    expect(decide(policy, { errorType: 'mapping.failed' }, 1, T0, T0)).toMatchObject({ action: 'dead-letter' });
  });

  it('gives up after maxAttempts', () => {
    expect(decide(policy, { errorType: 'transport.timeout' }, 7, T0, T0)).toMatchObject({ action: 'retry' });
    expect(decide(policy, { errorType: 'transport.timeout' }, 8, T0, T0)).toEqual({ action: 'dead-letter', reason: 'gave up after 8 attempts' });
    expect(decide({ ...policy, maxAttempts: 1 }, { errorType: 'transport.timeout' }, 1, T0, T0)).toEqual({ action: 'dead-letter', reason: 'gave up after 1 attempt (the retry policy allows no retry)' });
  });

  it('never schedules a retry beyond the maxElapsed budget', () => {
    const now = T0 + 86_400_000 - 500;
    expect(decide(policy, { errorType: 'transport.timeout' }, 2, T0, now)).toEqual({ action: 'dead-letter', reason: 'gave up: 24 h budget spent (2 attempts made)' });
    expect(decide(policy, { errorType: 'transport.timeout' }, 2, T0, T0 + 86_400_000 - 2_000)).toMatchObject({ action: 'retry', delayMs: 2_000 });
    expect(decide(policy, { errorType: 'transport.peer-error', httpStatus: 503, retryAfterMs: 2 * 86_400_000 }, 1, T0, T0)).toEqual({
      action: 'dead-letter',
      reason: 'gave up: the peer asked to retry after 2 d, beyond the 24 h budget (1 attempt made)',
    });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(['5', '9'], now)).toBe(5_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:27:00 GMT', now)).toBe(0);
  });
  it('ignores what is absent or unreadable', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
