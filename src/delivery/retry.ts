/**
 * Retry policy, in Camel's vocabulary (redelivery policy → dead letter channel): how many attempts, how
 * long to wait between them (exponential backoff with jitter, capped), which failures deserve another
 * try, and the overall time budget after which a delivery is dead-lettered whatever its attempt count.
 *
 * Layers resolve defaults < hub `delivery.retry` < connector `retry` < operation `retry`; each layer
 * overrides only the fields it sets (`retryOn.status` / `retryOn.errorTypes` replace the lists whole).
 * `checkPolicy` finds the nonsensical and the unbounded at load (`lienthong check`), never at the first message.
 */
import { ERROR_TYPES } from '../core/error-types.js';
import { closest } from '../core/suggest.js';

export interface RetryPolicy {
  /** Total attempts including the first; 1 = no retry. */
  maxAttempts: number;
  initialDelayMs: number;
  multiplier: number;
  maxDelayMs: number;
  /** 0..1: each delay is spread uniformly over ±jitter of itself. */
  jitter: number;
  /** Budget from the first attempt; no retry is scheduled beyond it. */
  maxElapsedMs: number;
  retryOnStatus: number[];
  retryOnErrorTypes: string[];
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 8,
  initialDelayMs: SECOND,
  multiplier: 2,
  maxDelayMs: 5 * MINUTE,
  jitter: 0.2,
  maxElapsedMs: DAY,
  retryOnStatus: Object.freeze([408, 425, 429, 500, 502, 503, 504]) as number[],
  retryOnErrorTypes: Object.freeze(['transport.timeout', 'transport.unreachable', 'transport.failed', 'transport.auth-unavailable', 'transport.peer-rejected-retryable', 'transport.peer-fault-server']) as string[],
}) as RetryPolicy;

const UNITS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, min: MINUTE, h: HOUR, d: DAY };

/**
 * `250ms`, `2s`, `5m`, `1h`, `1d`, compounds such as `1h30m`, a decimal (`1.5s`), a numeric string or a
 * number (milliseconds). Throws on anything else, negative or non-finite values included.
 */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new Error(`bad duration ${text}: give a finite, non-negative number of milliseconds`);
    return text;
  }
  if (typeof text !== 'string') throw new Error(`bad duration ${JSON.stringify(text)}: use e.g. 250ms, 2s, 5m, 1h, 1d or a number of milliseconds`);
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const part = /(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let consumed = 0;
  for (let m = part.exec(trimmed); m; m = part.exec(trimmed)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched++;
    consumed = part.lastIndex;
    while (trimmed[part.lastIndex] === ' ') part.lastIndex++;
  }
  if (!matched || consumed !== trimmed.length || !Number.isFinite(total)) {
    throw new Error(`bad duration "${text}": use e.g. 250ms, 2s, 5m, 1h, 1d, 1h30m or a number of milliseconds`);
  }
  return total;
}

/** Human form of a duration for messages: `24 h`, `5 min`, `1.5 s`, `250 ms`. */
export function formatDuration(ms: number): string {
  const round = (n: number) => String(Math.round(n * 10) / 10);
  if (ms >= 2 * DAY && ms % DAY === 0) return `${ms / DAY} d`;
  if (ms >= HOUR) return `${round(ms / HOUR)} h`;
  if (ms >= MINUTE) return `${round(ms / MINUTE)} min`;
  if (ms >= SECOND) return `${round(ms / SECOND)} s`;
  return `${Math.round(ms)} ms`;
}

export interface RetryPolicyConfig {
  maxAttempts?: number;
  initialDelay?: string | number;
  multiplier?: number;
  maxDelay?: string | number;
  jitter?: number;
  maxElapsed?: string | number;
  retryOn?: { status?: number[]; errorTypes?: string[] };
}

const CONFIG_KEYS = new Set(['maxAttempts', 'initialDelay', 'multiplier', 'maxDelay', 'jitter', 'maxElapsed', 'retryOn']);
const RETRY_ON_KEYS = new Set(['status', 'errorTypes']);

/** Later layers override earlier ones. Throws (with every problem in the message) when the result is unusable. */
export function resolvePolicy(...layers: Array<RetryPolicyConfig | undefined>): RetryPolicy {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, retryOnStatus: [...DEFAULT_RETRY_POLICY.retryOnStatus], retryOnErrorTypes: [...DEFAULT_RETRY_POLICY.retryOnErrorTypes] };
  const problems: string[] = [];
  const duration = (value: string | number, field: string, fallback: number): number => {
    try {
      return parseDuration(value);
    } catch (error) {
      problems.push(`${field}: ${(error as Error).message}`);
      return fallback;
    }
  };
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.maxAttempts !== undefined) policy.maxAttempts = layer.maxAttempts;
    if (layer.initialDelay !== undefined) policy.initialDelayMs = duration(layer.initialDelay, 'initialDelay', policy.initialDelayMs);
    if (layer.multiplier !== undefined) policy.multiplier = layer.multiplier;
    if (layer.maxDelay !== undefined) policy.maxDelayMs = duration(layer.maxDelay, 'maxDelay', policy.maxDelayMs);
    if (layer.jitter !== undefined) policy.jitter = layer.jitter;
    if (layer.maxElapsed !== undefined) policy.maxElapsedMs = duration(layer.maxElapsed, 'maxElapsed', policy.maxElapsedMs);
    if (layer.retryOn?.status !== undefined) policy.retryOnStatus = [...layer.retryOn.status];
    if (layer.retryOn?.errorTypes !== undefined) policy.retryOnErrorTypes = [...layer.retryOn.errorTypes];
  }
  problems.push(...policyProblems(policy));
  if (problems.length) throw new Error(problems.join('; '));
  return policy;
}

/**
 * Problems of one configuration layer, as messages for `lienthong check`: unknown keys (typos), bad
 * durations, unbounded or nonsensical values, and relations broken once the layer sits on `base`
 * (e.g. an initialDelay above the inherited maxDelay).
 */
export function checkPolicy(config: RetryPolicyConfig, base: RetryPolicy = DEFAULT_RETRY_POLICY): string[] {
  const problems: string[] = [];
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return ['a retry policy must be a mapping (maxAttempts, initialDelay, multiplier, maxDelay, jitter, maxElapsed, retryOn)'];
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.has(key)) problems.push(`unknown field "${key}" (known: ${[...CONFIG_KEYS].join(', ')})`);
  }
  if (config.retryOn !== undefined) {
    if (config.retryOn === null || typeof config.retryOn !== 'object' || Array.isArray(config.retryOn)) problems.push('retryOn must be a mapping with status and/or errorTypes');
    else for (const key of Object.keys(config.retryOn)) if (!RETRY_ON_KEYS.has(key)) problems.push(`unknown field "retryOn.${key}" (known: status, errorTypes)`);
  }
  const merged: RetryPolicy = { ...base };
  const number = (value: unknown, field: string): number | undefined => {
    if (typeof value !== 'number' || Number.isNaN(value)) {
      problems.push(`${field} must be a number, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  };
  const duration = (value: unknown, field: string): number | undefined => {
    try {
      return parseDuration(value as string | number);
    } catch (error) {
      problems.push(`${field}: ${(error as Error).message}`);
      return undefined;
    }
  };
  if (config.maxAttempts !== undefined) merged.maxAttempts = number(config.maxAttempts, 'maxAttempts') ?? NaN;
  if (config.multiplier !== undefined) merged.multiplier = number(config.multiplier, 'multiplier') ?? NaN;
  if (config.jitter !== undefined) merged.jitter = number(config.jitter, 'jitter') ?? NaN;
  if (config.initialDelay !== undefined) merged.initialDelayMs = duration(config.initialDelay, 'initialDelay') ?? NaN;
  if (config.maxDelay !== undefined) merged.maxDelayMs = duration(config.maxDelay, 'maxDelay') ?? NaN;
  if (config.maxElapsed !== undefined) merged.maxElapsedMs = duration(config.maxElapsed, 'maxElapsed') ?? NaN;
  const retryOn = config.retryOn && typeof config.retryOn === 'object' ? config.retryOn : undefined;
  if (retryOn?.status !== undefined) {
    if (!Array.isArray(retryOn.status)) problems.push('retryOn.status must be a list of HTTP status codes');
    else merged.retryOnStatus = retryOn.status;
  }
  if (retryOn?.errorTypes !== undefined) {
    if (!Array.isArray(retryOn.errorTypes)) problems.push('retryOn.errorTypes must be a list of error types (e.g. transport.timeout)');
    else {
      merged.retryOnErrorTypes = retryOn.errorTypes;
      for (const type of retryOn.errorTypes) {
        if (ERROR_TYPES.has(type)) continue;
        const near = closest(String(type), [...ERROR_TYPES]);
        problems.push(`retryOn.errorTypes: "${String(type)}" is not an error type of the hub, so it would never match${near ? ` (did you mean ${near}?)` : ''}`);
      }
    }
  }
  // NaN marks a field already reported above; policyProblems skips those.
  problems.push(...policyProblems(merged));
  return problems;
}

function policyProblems(p: RetryPolicy): string[] {
  const problems: string[] = [];
  const ok = (n: number) => !Number.isNaN(n);
  if (ok(p.maxAttempts) && (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1)) {
    problems.push(`maxAttempts must be a whole number of at least 1 (1 = no retry), got ${p.maxAttempts}: an unbounded retry never ends in the dead-letter queue`);
  }
  if (ok(p.multiplier) && (!Number.isFinite(p.multiplier) || p.multiplier < 1)) problems.push(`multiplier must be a finite number ≥ 1 (1 = fixed delay), got ${p.multiplier}`);
  if (ok(p.jitter) && !(p.jitter >= 0 && p.jitter <= 1)) problems.push(`jitter is a fraction between 0 and 1 (e.g. 0.2 = ±20 %), got ${p.jitter}`);
  if (ok(p.maxElapsedMs) && (!Number.isFinite(p.maxElapsedMs) || p.maxElapsedMs <= 0)) problems.push(`maxElapsed must be a positive duration (e.g. 24h), got ${p.maxElapsedMs}`);
  if (ok(p.initialDelayMs) && ok(p.maxDelayMs) && p.maxDelayMs < p.initialDelayMs) {
    problems.push(`maxDelay (${formatDuration(p.maxDelayMs)}) is shorter than initialDelay (${formatDuration(p.initialDelayMs)}): raise maxDelay or lower initialDelay`);
  }
  if (ok(p.initialDelayMs) && ok(p.maxElapsedMs) && p.maxAttempts > 1 && p.initialDelayMs >= p.maxElapsedMs) {
    problems.push(`initialDelay (${formatDuration(p.initialDelayMs)}) is not shorter than maxElapsed (${formatDuration(p.maxElapsedMs)}): no retry could ever happen`);
  }
  for (const status of p.retryOnStatus) {
    if (!Number.isInteger(status) || status < 100 || status > 599) problems.push(`retryOn.status: ${JSON.stringify(status)} is not an HTTP status code`);
  }
  for (const type of p.retryOnErrorTypes) {
    if (typeof type !== 'string' || !/^[a-z]+(\.[a-z0-9-]+)+$/.test(type)) problems.push(`retryOn.errorTypes: ${JSON.stringify(type)} is not an error type (e.g. transport.timeout)`);
  }
  return problems;
}

export interface FailureFacts {
  errorType: string;
  httpStatus?: number;
  /** From the peer's Retry-After header (see parseRetryAfter). */
  retryAfterMs?: number;
  /** The failure will not go away by trying again (bad mapping, peer rejected the content, …). */
  permanent?: boolean;
}

export type RetryDecision = { action: 'retry'; at: number; delayMs: number } | { action: 'dead-letter'; reason: string };

/**
 * What to do after a failed attempt. `attemptsSoFar` counts this attempt (1 after the first failure).
 * Delay = min(maxDelay, initialDelay·multiplier^(n-1)) spread by ±jitter (never above maxDelay), and at
 * least the peer's Retry-After (which may exceed maxDelay). No retry is scheduled beyond
 * firstAttemptAt + maxElapsed: the delivery is dead-lettered instead, with the reason.
 * Reasons describe the verdict; the caller adds the last error's text.
 */
export function decide(policy: RetryPolicy, facts: FailureFacts, attemptsSoFar: number, firstAttemptAt: number, now: number, random: () => number = Math.random): RetryDecision {
  const what = `${facts.errorType}${facts.httpStatus !== undefined ? ` (HTTP ${facts.httpStatus})` : ''}`;
  if (facts.permanent) return { action: 'dead-letter', reason: `permanent error ${what}` };
  const retryable = policy.retryOnErrorTypes.includes(facts.errorType) || (facts.httpStatus !== undefined && policy.retryOnStatus.includes(facts.httpStatus));
  if (!retryable) return { action: 'dead-letter', reason: `error ${what} is not retryable under the retry policy` };
  if (attemptsSoFar >= policy.maxAttempts) {
    return { action: 'dead-letter', reason: policy.maxAttempts === 1 ? 'gave up after 1 attempt (the retry policy allows no retry)' : `gave up after ${attemptsSoFar} attempts` };
  }
  const exponent = Math.max(0, attemptsSoFar - 1);
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** exponent);
  const spread = policy.jitter > 0 ? base * policy.jitter * (2 * random() - 1) : 0;
  let delayMs = Math.max(0, Math.min(policy.maxDelayMs, base + spread));
  const askedFor = facts.retryAfterMs !== undefined && facts.retryAfterMs > delayMs;
  if (askedFor) delayMs = facts.retryAfterMs!;
  delayMs = Math.round(delayMs);
  const at = now + delayMs;
  const budgetEnd = firstAttemptAt + policy.maxElapsedMs;
  if (at > budgetEnd) {
    return {
      action: 'dead-letter',
      reason: askedFor
        ? `gave up: the peer asked to retry after ${formatDuration(delayMs)}, beyond the ${formatDuration(policy.maxElapsedMs)} budget (${attempts(attemptsSoFar)} made)`
        : `gave up: ${formatDuration(policy.maxElapsedMs)} budget spent (${attempts(attemptsSoFar)} made)`,
    };
  }
  return { action: 'retry', at, delayMs };
}

const attempts = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;

/** A Retry-After header (delay-seconds or HTTP-date) as milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | string[] | undefined, now: number): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * SECOND;
  if (!/[a-z]/i.test(value)) return undefined; // "-5", "1.5": not a valid Retry-After
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
