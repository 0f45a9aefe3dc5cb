import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { HubError } from '../core/errors.js';

/**
 * Replay protection for signed hub-to-hub messages: a message id plus a timestamp window.
 *
 * A message is judged against the window first: sent more than `windowMs` ago it is `stale`, sent more
 * than `windowMs` ahead of our clock it is `future`, and either way it is refused *without being
 * remembered*, so a flood of old or forged timestamps costs no memory. A message inside the window is
 * remembered until the moment it would turn stale anyway (sentAt + window), and a second message with
 * the same id before then is `replayed`. After that moment its id may be forgotten: any copy of it is
 * stale by then. Memory is therefore bounded by (messages per window) x (id size).
 *
 * This is sound only because `sentAt` is covered by the message's signature: an attacker cannot move a
 * captured message's timestamp forward to slip past the window. The caller verifies the signature first.
 *
 * Message ids need only be unique per sender: a caller that cannot rule out two senders choosing the
 * same id passes `${client} ${messageId}` as the id.
 *
 * Two stores, one behaviour (one test suite runs against both):
 * - `sqliteReplayGuard`: one SQLite file, for a single-node hub (several processes may share the file).
 * - `redisReplayGuard`: Redis, for several hub processes; `SET NX PX` makes "first one wins" atomic
 *   across all of them, and Redis forgets the id by itself when the TTL runs out.
 */

export type ReplayVerdict = { ok: true } | { ok: false; code: 'replayed' | 'stale' | 'future'; reason: string };

export interface ReplayGuard {
  /** `now` is for tests and for callers that already read the clock; default: the current time. */
  check(messageId: string, sentAt: Date, now?: Date): Promise<ReplayVerdict>;
  close(): Promise<void>;
}

export interface ReplayWindowOptions {
  /** How far a message's timestamp may lie from our clock, either way (default 5 min). */
  windowMs?: number;
}

export interface SqliteReplayGuardOptions extends ReplayWindowOptions {
  /** Path of the database file, or ':memory:'. */
  file: string;
}

export interface RedisReplayGuardOptions extends ReplayWindowOptions {
  url: string;
  /** Key prefix; ids live at `<prefix>:replay:<message id>` (default 'lienthong'). */
  prefix?: string;
}

export const DEFAULT_REPLAY_WINDOW_MS = 5 * 60 * 1000;
const MIN_REDIS_TTL_MS = 1000;

/** Longest message id accepted: the memory bound above assumes ids of bounded size. */
export const MAX_MESSAGE_ID_LENGTH = 256;

/** Most expired ids one sweep deletes: small, so that a sweep never holds the write lock for long. */
const SWEEP_BATCH = 256;
/**
 * A sweep runs after this many remembered ids. Each sweep may delete SWEEP_BATCH ids, four times what
 * was added since the last one, so the sweeper outpaces any steady arrival rate and the table stays
 * near one window's worth of ids.
 */
const SWEEP_EVERY = 64;

// ---------------------------------------------------------------------------------------------
// the window, shared by both stores
// ---------------------------------------------------------------------------------------------

type WindowJudgement = { fresh: true; rememberUntilMs: number } | { fresh: false; verdict: ReplayVerdict };

function resolveWindow(windowMs: number | undefined): number {
  const window = windowMs ?? DEFAULT_REPLAY_WINDOW_MS;
  if (!Number.isSafeInteger(window) || window <= 0) {
    throw new HubError('server.config', 'Cửa sổ chống phát lại không hợp lệ / invalid replay window', {
      status: 500,
      detail: [{ field: 'windowMs', reason: 'give a positive whole number of milliseconds', code: 'bad-window' }],
    });
  }
  return window;
}

function badInput(field: string, reason: string, code: string): HubError {
  return new HubError('client.bad-request', `Mã thông điệp hoặc thời điểm gửi không hợp lệ / invalid message id or sending time: ${reason}`, {
    status: 400,
    detail: [{ field, reason, code }],
  });
}

function requireValidInput(messageId: unknown, sentAt: unknown, now: unknown): void {
  if (typeof messageId !== 'string' || messageId.length === 0) throw badInput('messageId', 'the message id must be a non-empty string', 'empty-message-id');
  if (messageId.length > MAX_MESSAGE_ID_LENGTH) throw badInput('messageId', `the message id must be at most ${MAX_MESSAGE_ID_LENGTH} characters`, 'message-id-too-long');
  if (!(sentAt instanceof Date) || Number.isNaN(sentAt.getTime())) throw badInput('sentAt', 'the sending time must be a valid date', 'bad-sent-at');
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw badInput('now', 'the current time must be a valid date', 'bad-now');
}

function judgeWindow(sentAtMs: number, nowMs: number, windowMs: number): WindowJudgement {
  const seconds = Math.round(windowMs / 1000);
  if (nowMs - sentAtMs > windowMs) {
    return { fresh: false, verdict: { ok: false, code: 'stale', reason: `the message was sent more than ${seconds} s ago; send a new message` } };
  }
  if (sentAtMs - nowMs > windowMs) {
    return { fresh: false, verdict: { ok: false, code: 'future', reason: `the message is dated more than ${seconds} s ahead of the hub's clock; check the sender's clock` } };
  }
  // +1: the message is still fresh at exactly sentAt + window, so it must be remembered through that millisecond.
  return { fresh: true, rememberUntilMs: sentAtMs + windowMs + 1 };
}

const REPLAYED: ReplayVerdict = { ok: false, code: 'replayed', reason: 'a message with this id was already accepted; a resent message needs a new id' };
const OK: ReplayVerdict = { ok: true };

function closedError(): HubError {
  return new HubError('server.closed', 'Bộ chống phát lại đã đóng / the replay guard is closed', { status: 503 });
}

// ---------------------------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------------------------

const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS replay_seen (
  message_id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS replay_seen_expiry ON replay_seen (expires_at);
`;

/**
 * Durability: WAL with synchronous=NORMAL. A remembered id survives a crash of the hub process; an
 * operating-system crash or power cut may lose the last moments' ids, so a message replayed inside
 * the window right after such a restart could pass. That is the price of not paying an fsync per
 * inbound message; signatures and idempotency keys still stand behind this guard.
 */
export function sqliteReplayGuard(options: SqliteReplayGuardOptions): ReplayGuard {
  const windowMs = resolveWindow(options.windowMs);
  const { file } = options;
  if (file !== ':memory:' && file !== '' && !file.startsWith('file:')) mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SQLITE_SCHEMA);

  // Insert-if-absent in one statement, so two connections (or processes) cannot both win. An expired
  // row that the sweeper has not reached yet does not count as "seen": the upsert takes it over.
  const remember = db.prepare<{ id: string; expiresAt: number; now: number }>(
    `INSERT INTO replay_seen (message_id, expires_at) VALUES (@id, @expiresAt)
     ON CONFLICT (message_id) DO UPDATE SET expires_at = excluded.expires_at WHERE replay_seen.expires_at <= @now`,
  );
  const sweep = db.prepare<[number]>(
    `DELETE FROM replay_seen WHERE message_id IN (SELECT message_id FROM replay_seen WHERE expires_at <= ? LIMIT ${SWEEP_BATCH})`,
  );

  let rememberedSinceSweep = 0;
  let closed = false;

  return {
    async check(messageId, sentAt, now = new Date()) {
      if (closed) throw closedError();
      requireValidInput(messageId, sentAt, now);
      const nowMs = now.getTime();
      const judgement = judgeWindow(sentAt.getTime(), nowMs, windowMs);
      if (!judgement.fresh) return judgement.verdict;
      const won = remember.run({ id: messageId, expiresAt: judgement.rememberUntilMs, now: nowMs }).changes === 1;
      if (!won) return REPLAYED;
      if (++rememberedSinceSweep >= SWEEP_EVERY) {
        rememberedSinceSweep = 0;
        sweep.run(nowMs);
      }
      return OK;
    },

    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

export function redisReplayGuard(options: RedisReplayGuardOptions): ReplayGuard {
  const windowMs = resolveWindow(options.windowMs);
  const keyPrefix = `${options.prefix ?? 'lienthong'}:replay:`;
  // A check fails after a few reconnection tries rather than hold an inbound message forever; the
  // caller then refuses the message (fail closed), because an unchecked message may be a replay.
  const redis = new Redis(options.url, { maxRetriesPerRequest: 2 });
  // Connection trouble surfaces as a failed check; without a listener ioredis would print every retry.
  redis.on('error', () => {});
  let closed = false;

  return {
    async check(messageId, sentAt, now = new Date()) {
      if (closed) throw closedError();
      requireValidInput(messageId, sentAt, now);
      const nowMs = now.getTime();
      const judgement = judgeWindow(sentAt.getTime(), nowMs, windowMs);
      if (!judgement.fresh) return judgement.verdict;
      let answer: string | null;
      try {
        // Redis counts the expiry in real time; a floor of a second keeps an id at the window's very edge from
        // being forgotten before the same moment's repeat is checked (it is stale by then anyway).
        answer = await redis.set(keyPrefix + messageId, '1', 'PX', Math.max(Math.min(MIN_REDIS_TTL_MS, windowMs / 2), judgement.rememberUntilMs - nowMs), 'NX');
      } catch (error) {
        throw new HubError('server.unavailable', 'Không kiểm tra được chống phát lại (Redis) / cannot check for replays: Redis is unavailable', { status: 503, cause: error });
      }
      return answer === 'OK' ? OK : REPLAYED;
    },

    async close() {
      if (closed) return;
      closed = true;
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}
