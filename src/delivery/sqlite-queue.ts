import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { sealEach, type Sealer } from '../core/seal.js';
import { leaseLost, PAYLOAD_DROPPED, unsealableReason } from './errors.js';
import { idempotencyKeysOf, UNSEALABLE_PAYLOAD, type Accepted, type AcceptMessage, type DeadLetter, type DeadLetterFilter, type Delivery, type DeliveryState, type QueueCounts, type QueueDriver } from './types.js';

/**
 * The embedded queue: one SQLite file (better-sqlite3, WAL), for a single-node hub.
 *
 * Design:
 * - One table `delivery`: queued, active and dead deliveries (plus payload-less tombstones of discarded
 *   ones). `seq` is an AUTOINCREMENT rowid, so it only ever grows: a replayed dead letter is deleted and
 *   inserted again, getting a new, larger seq, which puts it at the back of its key's line.
 * - Per-key FIFO is kept with a `head` flag: exactly one unfinished delivery per (destination,
 *   orderingKey), the lowest seq, has head = 1 (every unordered delivery is its own head). Accept sets it
 *   for a delivery whose key has nothing unfinished; finishing a head (complete, dead-letter) passes it
 *   to the next unfinished one of the key. Claiming is then a range scan of a partial index over heads
 *   only, ordered by `due_at` (available_at while waiting, lease expiry while active), so a claim costs
 *   O(limit) however long the queue behind blocked keys grows, and an expired lease comes back by itself.
 *   "Oldest first" therefore means "due the longest", seq breaking ties: a retry that fell due before a
 *   fresh acceptance goes first, as in BullMQ's delayed → wait promotion.
 * - An accept that asks for leases inserts the heads it may lease as active, leased to the accepting
 *   worker (due at the lease's expiry, like a claimed row), which saves that worker a claim per delivery.
 * - Delivered deliveries are deleted (the message log keeps the history). Payloads are stored sealed.
 * - Writes are group-committed (see `write` below) in IMMEDIATE transactions with synchronous=FULL: when
 *   `accept` resolves, the rows are on disk (WAL fsynced), power failure included.
 * - Idempotency keys live in their own table with an expiry and the fingerprint of what was submitted under them
 *   (NULL: any repeat is a duplicate); expired keys are swept lazily, a batch at a time, during accepts.
 * - Schema versions (PRAGMA user_version): 1, then 2 added idempotency.fingerprint (migrated on open).
 *
 * Several driver instances (or processes) may open the same file: writers are serialised by SQLite's
 * lock (busy_timeout 5 s), and claim's read-then-mark runs in one IMMEDIATE transaction, so a delivery is
 * leased to one claimer at a time.
 */
export interface SqliteQueueOptions {
  /** Path of the database file, or ':memory:'. */
  file: string;
  sealer: Sealer;
  now?: () => number;
  /** Default idempotency-key lifetime when accept gives none (default 24 h). */
  idempotencyTtlMs?: number;
  /**
   * How long the first write of a group waits for others before their shared commit (default 0: the
   * writes of one event-loop turn). A few milliseconds turn a busy hub's thousands of commits a second,
   * each an fsync, into hundreds.
   */
  commitWindowMs?: number;
}

export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** Most deliveries one claim hands out. */
const MAX_CLAIM = 1_000;

const UNFINISHED = `state IN ('ready','delayed','active')`;

/** The queue schema version this code writes (PRAGMA user_version); see the migrations in openSqliteQueue. */
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS delivery (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  id               TEXT NOT NULL UNIQUE,
  message_id       TEXT NOT NULL,
  route_id         TEXT NOT NULL,
  destination      TEXT NOT NULL,
  ordering_key     TEXT NOT NULL,
  payload          TEXT NOT NULL,
  accepted_at      INTEGER NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('ready','delayed','active','dead','discarded')),
  head             INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  available_at     INTEGER NOT NULL,
  due_at           INTEGER NOT NULL,
  first_attempt_at INTEGER,
  last_error       TEXT,
  lease            TEXT,
  worker_id        TEXT,
  dead_at          INTEGER,
  reason           TEXT,
  discarded_at     INTEGER,
  discard_reason   TEXT
);
CREATE INDEX IF NOT EXISTS delivery_claimable ON delivery (due_at, seq) WHERE head = 1;
CREATE INDEX IF NOT EXISTS delivery_key ON delivery (destination, ordering_key, seq) WHERE ${UNFINISHED};
CREATE INDEX IF NOT EXISTS delivery_dead ON delivery (dead_at, seq) WHERE state = 'dead';
CREATE INDEX IF NOT EXISTS delivery_message ON delivery (message_id);
CREATE TABLE IF NOT EXISTS idempotency (
  key         TEXT PRIMARY KEY,
  message_id  TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  fingerprint TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency (expires_at);
`;

interface Row {
  seq: number;
  id: string;
  message_id: string;
  route_id: string;
  destination: string;
  ordering_key: string;
  payload: string;
  accepted_at: number;
  state: DeliveryState;
  head: number;
  attempts: number;
  available_at: number;
  due_at: number;
  first_attempt_at: number | null;
  last_error: string | null;
  lease: string | null;
  worker_id: string | null;
  dead_at: number | null;
  reason: string | null;
}

/**
 * Brings the file to SCHEMA_VERSION, in one IMMEDIATE transaction (another process may be opening it at the same time:
 * it waits, then finds the work done). 0: a new file (or one from before versions). 1 → 2: idempotency.fingerprint.
 */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    const columns = (db.pragma('table_info(idempotency)') as Array<{ name: string }>).map((c) => c.name);
    if (!columns.includes('fingerprint')) db.exec('ALTER TABLE idempotency ADD COLUMN fingerprint TEXT');
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

export function openSqliteQueue(opts: SqliteQueueOptions): QueueDriver {
  const { sealer } = opts;
  const now = opts.now ?? Date.now;
  const defaultTtl = opts.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
  const commitWindowMs = opts.commitWindowMs ?? 0;
  if (opts.file !== ':memory:' && opts.file !== '' && !opts.file.startsWith('file:')) mkdirSync(dirname(opts.file), { recursive: true });
  const db = new Database(opts.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = OFF');
  // Every grouped write is a savepoint: its journal stays in memory instead of a temp file written page by page.
  db.pragma('temp_store = MEMORY');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    db.close();
    throw new Error(`${opts.file}: queue schema version ${version} is newer than this lienthong understands (${SCHEMA_VERSION})`);
  }
  if (version < SCHEMA_VERSION) migrate(db);

  const s = {
    idemGet: db.prepare<[string], { message_id: string; expires_at: number; fingerprint: string | null }>('SELECT message_id, expires_at, fingerprint FROM idempotency WHERE key = ?'),
    idemPut: db.prepare<[string, string, number, string | null]>('INSERT OR REPLACE INTO idempotency (key, message_id, expires_at, fingerprint) VALUES (?, ?, ?, ?)'),
    idemSweep: db.prepare<[number]>('DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE expires_at <= ? LIMIT 500)'),
    keyBusy: db.prepare<[string, string], { one: number }>(`SELECT 1 AS one FROM delivery WHERE destination = ? AND ordering_key = ? AND ${UNFINISHED} LIMIT 1`),
    insert: db.prepare(
      `INSERT INTO delivery (id, message_id, route_id, destination, ordering_key, payload, accepted_at, state, head, attempts, available_at, due_at, last_error)
       VALUES (@id, @messageId, @routeId, @destination, @orderingKey, @payload, @acceptedAt, 'ready', @head, 0, @now, @now, @lastError)`,
    ),
    insertLeased: db.prepare(
      `INSERT INTO delivery (id, message_id, route_id, destination, ordering_key, payload, accepted_at, state, head, attempts, available_at, due_at, first_attempt_at, lease, worker_id)
       VALUES (@id, @messageId, @routeId, @destination, @orderingKey, @payload, @acceptedAt, 'active', 1, 0, @now, @leaseUntil, @now, @lease, @workerId)`,
    ),
    claimable: db.prepare<[number, number], Row>('SELECT * FROM delivery WHERE head = 1 AND due_at <= ? ORDER BY due_at, seq LIMIT ?'),
    markActive: db.prepare<[string, string, number, number, number]>(
      `UPDATE delivery SET state = 'active', lease = ?, worker_id = ?, due_at = ?, first_attempt_at = coalesce(first_attempt_at, ?) WHERE seq = ?`,
    ),
    byId: db.prepare<[string], Row>('SELECT * FROM delivery WHERE id = ?'),
    leased: db.prepare<[string, string], Row>(`SELECT * FROM delivery WHERE id = ? AND state = 'active' AND lease = ?`),
    extend: db.prepare<[number, string, string]>(`UPDATE delivery SET due_at = ? WHERE id = ? AND state = 'active' AND lease = ?`),
    release: db.prepare<[number, string, string]>(`UPDATE delivery SET state = 'ready', due_at = ?, lease = NULL, worker_id = NULL WHERE id = ? AND state = 'active' AND lease = ?`),
    remove: db.prepare<[number]>('DELETE FROM delivery WHERE seq = ?'),
    delay: db.prepare<[number, number, string, number]>(
      `UPDATE delivery SET state = 'delayed', attempts = attempts + 1, available_at = ?, due_at = ?, last_error = ?, lease = NULL, worker_id = NULL WHERE seq = ?`,
    ),
    kill: db.prepare<[number, number, string, number]>(
      `UPDATE delivery SET state = 'dead', head = 0, attempts = attempts + ?, dead_at = ?, reason = ?, lease = NULL, worker_id = NULL WHERE seq = ?`,
    ),
    promote: db.prepare<[string, string]>(
      `UPDATE delivery SET head = 1 WHERE seq = (SELECT seq FROM delivery WHERE destination = ? AND ordering_key = ? AND ${UNFINISHED} ORDER BY seq LIMIT 1)`,
    ),
    dead: db.prepare<[string], Row>(`SELECT * FROM delivery WHERE id = ? AND state = 'dead'`),
    discard: db.prepare<[number, string, string]>(`UPDATE delivery SET state = 'discarded', payload = '', discarded_at = ?, discard_reason = ? WHERE id = ? AND state = 'dead'`),
    expiredDead: db.prepare<[number, number], Pick<Row, 'seq' | 'id' | 'message_id' | 'destination' | 'dead_at'>>(
      `SELECT seq, id, message_id, destination, dead_at FROM delivery WHERE state = 'dead' AND dead_at < ? ORDER BY dead_at, seq LIMIT ?`,
    ),
    expiredTombstones: db.prepare<[number, number]>(
      `DELETE FROM delivery WHERE seq IN (SELECT seq FROM delivery WHERE state = 'discarded' AND discarded_at < ? LIMIT ?)`,
    ),
    dropDeadPayloads: db.prepare<[number, number]>(
      `UPDATE delivery SET payload = '' WHERE seq IN (SELECT seq FROM delivery WHERE state = 'dead' AND dead_at < ? AND payload != '' LIMIT ?)`,
    ),
    counts: db.prepare<[number, number], QueueCounts>(
      `SELECT
         coalesce(sum(state IN ('ready','delayed') AND available_at <= ?), 0) AS ready,
         coalesce(sum(state IN ('ready','delayed') AND available_at > ?), 0) AS delayed,
         coalesce(sum(state = 'active'), 0) AS active,
         coalesce(sum(state = 'dead'), 0) AS dead
       FROM delivery WHERE state != 'discarded'`,
    ),
  };

  const listStatements = new Map<string, Database.Statement<Record<string, unknown>, Row>>();
  let acceptsSinceSweep = 0;

  const toDelivery = (row: Row, payload: string): Delivery => {
    const delivery: Delivery = {
      id: row.id,
      messageId: row.message_id,
      routeId: row.route_id,
      destination: row.destination,
      orderingKey: row.ordering_key,
      payload,
      acceptedAt: row.accepted_at,
      state: row.state,
      attempts: row.attempts,
      availableAt: row.available_at,
    };
    if (row.first_attempt_at !== null) delivery.firstAttemptAt = row.first_attempt_at;
    if (row.last_error !== null) delivery.lastError = row.last_error;
    if (row.lease !== null) delivery.lease = row.lease;
    return delivery;
  };
  // A payload that does not open (data key changed) must not make the entry, or the page it is on, unreachable.
  const toDead = (row: Row): DeadLetter => {
    const dead = { deadAt: row.dead_at ?? 0, reason: row.reason ?? '' };
    if (row.payload === '') return { ...toDelivery(row, UNSEALABLE_PAYLOAD), ...dead, unsealable: PAYLOAD_DROPPED };
    try {
      return { ...toDelivery(row, sealer.open(row.payload, row.message_id)), ...dead };
    } catch (error) {
      return { ...toDelivery(row, UNSEALABLE_PAYLOAD), ...dead, unsealable: unsealableReason(error) };
    }
  };

  const headOf = (destination: string, orderingKey: string): number => (orderingKey === '' || !s.keyBusy.get(destination, orderingKey) ? 1 : 0);
  const passHead = (row: Row) => {
    if (row.ordering_key !== '') s.promote.run(row.destination, row.ordering_key);
  };

  const acceptTx = db.transaction((message: AcceptMessage, sealed: string[], at: number): Accepted => {
    // Every key is looked at before anything is written: a duplicate under any key wins, then a conflict under any.
    const keys = idempotencyKeysOf(message);
    let conflictWith: string | undefined;
    for (const { key, fingerprint } of keys) {
      const seen = s.idemGet.get(key);
      if (!seen || seen.expires_at <= at) continue;
      if (fingerprint && seen.fingerprint && fingerprint !== seen.fingerprint) conflictWith ??= seen.message_id;
      else return { messageId: seen.message_id, duplicate: true };
    }
    if (conflictWith !== undefined) return { messageId: conflictWith, duplicate: false, conflict: true };
    for (const { key, fingerprint } of keys) s.idemPut.run(key, message.messageId, at + (message.idempotencyTtlMs ?? defaultTtl), fingerprint ?? null);
    const leased: Array<{ id: string; lease: string }> = [];
    const { lease } = message;
    message.deliveries.forEach((d, i) => {
      const row = { id: d.id, messageId: d.messageId, routeId: d.routeId, destination: d.destination, orderingKey: d.orderingKey, payload: sealed[i], acceptedAt: d.acceptedAt, now: at };
      const head = headOf(d.destination, d.orderingKey);
      if (lease && head === 1 && leased.length < lease.limit) {
        const token = randomUUID();
        s.insertLeased.run({ ...row, leaseUntil: at + lease.leaseMs, lease: token, workerId: lease.workerId });
        leased.push({ id: d.id, lease: token });
      } else {
        s.insert.run({ ...row, head, lastError: null });
      }
    });
    if (++acceptsSinceSweep >= 256) {
      acceptsSinceSweep = 0;
      s.idemSweep.run(at);
    }
    return leased.length ? { messageId: message.messageId, duplicate: false, leased } : { messageId: message.messageId, duplicate: false };
  });

  const claimTx = db.transaction((workerId: string, limit: number, leaseMs: number, at: number): Delivery[] => {
    const claimed: Delivery[] = [];
    for (const row of s.claimable.all(at, limit)) {
      // A payload that does not open is leased all the same, flagged: the worker dead-letters it through its usual path
      // (message log event, warning, metric), so that its message settles instead of staying "accepted".
      let payload: string;
      let unsealable: string | undefined;
      try {
        payload = sealer.open(row.payload, row.message_id);
      } catch (error) {
        payload = UNSEALABLE_PAYLOAD;
        unsealable = unsealableReason(error);
      }
      const lease = randomUUID();
      const until = at + leaseMs;
      s.markActive.run(lease, workerId, until, at, row.seq);
      const delivery = toDelivery({ ...row, state: 'active', lease, first_attempt_at: row.first_attempt_at ?? at }, payload);
      claimed.push(unsealable === undefined ? delivery : { ...delivery, unsealable });
    }
    return claimed;
  });

  const leasedOrThrow = (id: string, lease: string): Row => {
    const row = s.leased.get(id, lease);
    if (!row) throw leaseLost(id);
    return row;
  };

  const completeTx = db.transaction((id: string, lease: string) => {
    const row = leasedOrThrow(id, lease);
    s.remove.run(row.seq);
    passHead(row);
  });
  const retryTx = db.transaction((id: string, lease: string, availableAt: number, error: string) => {
    const row = leasedOrThrow(id, lease);
    s.delay.run(availableAt, availableAt, error, row.seq);
  });
  const deadTx = db.transaction((id: string, lease: string, reason: string, at: number) => {
    const row = leasedOrThrow(id, lease);
    s.kill.run(1, at, reason, row.seq);
    passHead(row);
  });
  const purgeDeadTx = db.transaction((payloadBefore: number, deadBefore: number, limit: number) => {
    const expired = s.expiredDead.all(deadBefore, limit);
    for (const row of expired) s.remove.run(row.seq);
    s.expiredTombstones.run(deadBefore, limit);
    const payloadsDropped = s.dropDeadPayloads.run(payloadBefore, limit).changes;
    return { payloadsDropped, removed: expired.map((r) => ({ id: r.id, messageId: r.message_id, destination: r.destination, deadAt: r.dead_at ?? 0 })) };
  });
  const replayTx = db.transaction((ids: string[], at: number): number => {
    let moved = 0;
    for (const id of new Set(ids)) {
      const row = s.dead.get(id);
      // A dead letter whose payload retention dropped stays dead: there is nothing left to deliver.
      if (!row || row.payload === '') continue;
      s.remove.run(row.seq);
      s.insert.run({
        id: row.id, messageId: row.message_id, routeId: row.route_id, destination: row.destination, orderingKey: row.ordering_key,
        payload: row.payload, acceptedAt: row.accepted_at, head: headOf(row.destination, row.ordering_key), now: at, lastError: row.last_error,
      });
      moved++;
    }
    return moved;
  });

  // Group commit: the writes that arrive within one event-loop turn (or commitWindowMs) run as savepoints
  // inside one IMMEDIATE transaction, so they share one commit. Each caller's promise settles only after
  // that commit, with its own result or error: a failing write rolls back to its savepoint and does not
  // take the others with it. Unless SQLite rolled the whole transaction back itself (SQLITE_FULL, SQLITE_IOERR,
  // SQLITE_NOMEM): the writes before it are undone too, those after it would each commit alone, and the final
  // COMMIT would fail with "no transaction is active". Every write of the batch then fails with that first error.
  //
  // Durability is per kind of write. An acceptance (and a replay or dead-lettering, which operators act
  // on) is fsynced before its promise settles (synchronous=FULL), power failure included. Claims,
  // completions and retries are not waited on for the disk: after a crash a lost one only hands a
  // delivery out again (at-least-once; peers get the delivery id as idempotency key), never loses one,
  // and the next durable commit fsyncs the log they were written to anyway. A busy hub's commits are
  // mostly of that kind, so this removes most of its fsyncs.
  interface Write { run: () => unknown; durable: boolean; ok?: boolean; result?: unknown; error?: unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }
  let pending: Write[] = [];
  let flushing = false;
  const batchTx = db.transaction((writes: Write[]) => {
    for (const write of writes) {
      try {
        write.result = write.run();
        write.ok = true;
      } catch (error) {
        if (!db.inTransaction) throw error;
        write.error = error;
      }
    }
  });
  const flush = () => {
    flushing = false;
    const writes = pending;
    pending = [];
    // close() flushes what is pending before it closes the database; the flush it pre-empted finds nothing to do.
    if (writes.length === 0) return;
    const durable = writes.some((w) => w.durable);
    try {
      if (!durable) db.pragma('synchronous = NORMAL');
      batchTx.immediate(writes);
    } catch (error) {
      for (const write of writes) write.reject(error);
      return;
    } finally {
      if (!durable) db.pragma('synchronous = FULL');
    }
    for (const write of writes) {
      if (write.ok) write.resolve(write.result);
      else write.reject(write.error);
    }
  };
  const write = <T>(run: () => T, durable = false): Promise<T> => new Promise<T>((resolve, reject) => {
    pending.push({ run, durable, resolve: resolve as (value: unknown) => void, reject });
    if (!flushing) {
      flushing = true;
      if (commitWindowMs > 0) setTimeout(flush, commitWindowMs);
      else setImmediate(flush);
    }
  });

  let closed = false;
  const live = () => {
    if (closed) throw new Error('the delivery queue is closed');
  };

  return {
    kind: 'embedded',

    async accept(message) {
      live();
      const sealed = sealEach(sealer, message.deliveries.map((d) => d.payload), message.messageId);
      return write(() => acceptTx(message, sealed, now()), true);
    },

    async claim(workerId, limit, leaseMs) {
      live();
      if (limit <= 0) return [];
      return write(() => claimTx(workerId, Math.min(Math.floor(limit), MAX_CLAIM), leaseMs, now()));
    },

    async extend(id, lease, leaseMs) {
      live();
      return s.extend.run(now() + leaseMs, id, lease).changes === 1;
    },

    async release(id, lease) {
      live();
      return write(() => s.release.run(now(), id, lease).changes === 1, true);
    },

    async complete(id, lease) {
      live();
      await write(() => completeTx(id, lease));
    },

    async retryLater(id, lease, availableAt, error) {
      live();
      await write(() => retryTx(id, lease, availableAt, error));
    },

    async deadLetter(id, lease, reason) {
      live();
      await write(() => deadTx(id, lease, reason, now()), true);
    },

    async listDead(filter: DeadLetterFilter = {}) {
      live();
      const where = [`state = 'dead'`];
      const params: Record<string, unknown> = { limit: Math.max(0, Math.floor(filter.limit ?? 100)), offset: Math.max(0, Math.floor(filter.offset ?? 0)) };
      if (filter.destination !== undefined) { where.push('destination = @destination'); params.destination = filter.destination; }
      if (filter.routeId !== undefined) { where.push('route_id = @routeId'); params.routeId = filter.routeId; }
      if (filter.messageId !== undefined) { where.push('message_id = @messageId'); params.messageId = filter.messageId; }
      if (filter.orderingKey !== undefined) { where.push('ordering_key = @orderingKey'); params.orderingKey = filter.orderingKey; }
      if (filter.since !== undefined) { where.push('dead_at >= @since'); params.since = filter.since; }
      const sql = `SELECT * FROM delivery WHERE ${where.join(' AND ')} ORDER BY dead_at, seq LIMIT @limit OFFSET @offset`;
      let statement = listStatements.get(sql);
      if (!statement) listStatements.set(sql, (statement = db.prepare<Record<string, unknown>, Row>(sql)));
      return statement.all(params).map(toDead);
    },

    async getDead(id) {
      live();
      const row = s.dead.get(id);
      return row ? toDead(row) : undefined;
    },

    async replay(ids) {
      live();
      if (!ids.length) return 0;
      return write(() => replayTx(ids, now()), true);
    },

    async discard(id, reason) {
      live();
      return s.discard.run(now(), reason, id).changes === 1;
    },

    async purgeDead({ payloadBefore, deadBefore, limit }) {
      live();
      return write(() => purgeDeadTx(payloadBefore, deadBefore, Math.max(1, Math.floor(limit))), true);
    },

    async counts() {
      live();
      const at = now();
      return { ...s.counts.get(at, at)! };
    },

    async close() {
      if (closed) return;
      closed = true;
      if (pending.length) flush();
      db.close();
    },
  };
}
