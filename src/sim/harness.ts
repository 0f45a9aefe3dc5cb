import { createHash, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Plumbing shared by the simulators (DVCQG, EMC, the payment platform, the one-stop system; the population
 * database takes its sleeper): fault modes with an optional time limit, the control routes, idempotency-key replay,
 * bounded logs. Imports nothing from the hub: the simulators are strangers on the network.
 */

/** Failure modes every JSON simulator offers. */
export const FAULT_MODES = ['normal', 'down', 'slow', 'http-500', 'http-429'] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

export type Outcome = 'ok' | 'error' | 'duplicate' | 'rejected';

/** The last this many calls are kept by `received()`. */
export const MAX_RECEIVED = 10_000;
/** How many idempotency keys are remembered (oldest forgotten first). */
export const MAX_IDEMPOTENCY_KEYS = 10_000;
/** JSON deeper than this is refused before anything walks it recursively. */
export const MAX_DEPTH = 16;
/** Same as fastify's default, stated so nobody raises it by accident. */
export const BODY_LIMIT = 1024 * 1024;

export const PAGE_500 =
  '<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>';

/**
 * A mode with an optional expiry. Read lazily, so there is no timer to unref or clear:
 * once `forMs` has passed, the next read sees 'normal'.
 */
export class ModeClock<M extends string> {
  private mode: M;
  private until: number | undefined;

  constructor(
    private readonly allowed: readonly M[],
    private readonly normal: M,
  ) {
    this.mode = normal;
  }

  set(mode: M, forMs?: number): void {
    if (!this.allowed.includes(mode)) throw new Error(`unknown simulator mode: ${String(mode)}`);
    if (forMs !== undefined && !(Number.isFinite(forMs) && forMs > 0)) throw new Error('forMs must be a positive number of milliseconds');
    this.mode = mode;
    this.until = forMs === undefined || mode === this.normal ? undefined : Date.now() + forMs;
  }

  get current(): M {
    if (this.until !== undefined && Date.now() >= this.until) {
      this.mode = this.normal;
      this.until = undefined;
    }
    return this.mode;
  }

  /** ISO time when the current mode ends by itself, if it does. */
  get endsAt(): string | undefined {
    const mode = this.current;
    return mode === this.normal || this.until === undefined ? undefined : new Date(this.until).toISOString();
  }
}

/** Parses the `{mode, forMs?}` body of `POST /__sim/mode`; returns an error text when it is wrong. */
export function parseModeBody<M extends string>(body: unknown, allowed: readonly M[]): { mode: M; forMs?: number } | string {
  const b = isPlainObject(body) ? body : {};
  const mode = b.mode;
  const forMs = b.forMs;
  if (typeof mode !== 'string' || !allowed.includes(mode as M)) return `mode must be one of ${allowed.join(', ')}`;
  if (forMs !== undefined && (typeof forMs !== 'number' || !Number.isFinite(forMs) || forMs <= 0)) return 'forMs must be a positive number';
  return { mode: mode as M, forMs: forMs as number | undefined };
}

/** Sleeps that neither outlive close() nor keep the process alive. */
export function sleeper(signal: AbortSignal) {
  // Every concurrent sleep listens on the one signal: many listeners are the load, not a leak.
  setMaxListeners(0, signal);
  return (ms: number) => sleep(ms, undefined, { signal, ref: false });
}

/**
 * Applies a gateway-level fault before any business logic. Returns the fault's name when the request
 * has been answered (or dropped), undefined when processing should go on (normal, or after `slow`).
 *
 * - `down`: the connection is dropped without an answer (clients see "socket hang up"/ECONNRESET),
 *   as when a dead backend sits behind a TCP load balancer. The listener stays open so control routes work.
 * - `http-500`: an HTML 500 page, as a proxy in front of a crashed service sends.
 * - `http-429`: 429 with `Retry-After: 1`.
 * - `slow`: waits `slowMs` (cut short by close), then processing goes on: the effect happens even
 *   when the client has given up, as with a real slow portal.
 */
export async function applyFault(
  mode: FaultMode | string,
  req: FastifyRequest,
  reply: FastifyReply,
  wait: (ms: number) => Promise<void>,
  slowMs: number,
): Promise<'down' | 'http-500' | 'http-429' | undefined> {
  switch (mode) {
    case 'down':
      reply.hijack();
      req.raw.socket.destroy();
      return 'down';
    case 'http-500':
      reply.code(500).type('text/html; charset=utf-8').send(PAGE_500);
      return 'http-500';
    case 'http-429':
      reply.code(429).header('retry-after', '1').send({ error_code: 429, message: 'Too Many Requests' });
      return 'http-429';
    case 'slow':
      await wait(slowMs);
      return undefined;
    default:
      return undefined;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Nesting depth of a parsed JSON value, computed without recursion (so hostile input cannot blow the stack). */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > max) max = d;
    if (max > MAX_DEPTH) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** Key-order-independent JSON text. Call only on values that passed `jsonDepth`. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Constant-time string comparison (hashes first, so lengths do not leak either). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export interface CachedAnswer {
  status: number;
  body: unknown;
}

/**
 * Remembers the first answer per `idempotency-key`. A key seen again with the same body hash gets that
 * answer again; with a different body hash the request is processed as new and replaces the entry
 * (a client may legitimately reuse a key when it retries "đã tồn tại" as an update).
 */
export class IdempotencyCache {
  private readonly entries = new Map<string, { hash: string; answer: CachedAnswer }>();

  get(key: string, hash: string): CachedAnswer | undefined {
    const hit = this.entries.get(key);
    return hit && hit.hash === hash ? hit.answer : undefined;
  }

  put(key: string, hash: string, answer: CachedAnswer): void {
    this.entries.delete(key);
    if (this.entries.size >= MAX_IDEMPOTENCY_KEYS) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { hash, answer });
  }

  clear(): void {
    this.entries.clear();
  }
}

/** The `idempotency-key` header when present and sane (1..200 printable characters). */
export function idempotencyKeyOf(req: FastifyRequest): string | undefined {
  const raw = req.headers['idempotency-key'];
  const key = Array.isArray(raw) ? raw[0] : raw;
  return key && key.length <= 200 ? key : undefined;
}

export function pushBounded<T>(log: T[], item: T): void {
  if (log.length >= MAX_RECEIVED) log.shift();
  log.push(item);
}

/** Message for fastify's own 4xx errors (bad JSON, too large, wrong content type) that never echoes the body. */
export function requestErrorText(status: number): string {
  if (status === 413) return 'body too large (limit 1 MiB)';
  if (status === 415) return 'unsupported content type: send application/json';
  return 'invalid JSON body';
}

/**
 * The routes every simulator answers besides its own API: `GET /health`, `GET /__sim/received` (what it was sent),
 * `POST /__sim/reset` and `POST /__sim/mode` (`{mode, forMs?}`: fail, slow down or answer 5xx/429 for a while).
 */
export function controlRoutes<M extends string>(app: FastifyInstance, sim: { name: string; modes: ModeClock<M>; allowed: readonly M[]; received: () => unknown; reset: () => void }): void {
  app.get('/health', async () => ({ status: 'ok', simulator: sim.name, mode: sim.modes.current }));
  app.get('/__sim/received', async () => sim.received());
  app.post('/__sim/reset', async () => {
    sim.reset();
    return { reset: true };
  });
  app.post('/__sim/mode', async (req, reply) => {
    const parsed = parseModeBody(req.body, sim.allowed);
    if (typeof parsed === 'string') return reply.code(400).send({ error: parsed });
    sim.modes.set(parsed.mode, parsed.forMs);
    return { mode: sim.modes.current, until: sim.modes.endsAt };
  });
}
