import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import type { Sealer } from '../core/seal.js';
import type { AccessChangeRecord } from '../trust/access.js';
import { canonicalJson, type EvidenceBundle, type MessageFacts } from '../trust/evidence.js';
import { Checkpointer, type CheckpointerOptions, type CheckpointStats } from './checkpoints.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { CheckpointsTable, Dialect, EventsTable, MessagesTable, StoreDatabase } from './db.js';
import { exportEvidence } from './evidence-export.js';
import { accessFacts, eventFacts, messageFacts, payloadDigest, stateFacts } from './facts.js';
import { GroupCommit, type GroupCommitStats } from './group-commit.js';
import { RETENTION_REF, type JournalChain, type PendingEntry, type PreparedEntries } from './journal.js';
import { journalPurgeCandidates, purgeJournalUpTo, type PurgeCandidate } from './journal-purge.js';
import { eventRow, messageRow, SUMMARY_COLUMNS, toEvent, toSummary } from './rows.js';
import type { LogEvent, LogQuery, MessageLog, MessageRecord, MessageState, MessageSummary } from './types.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

/** Rows (or ids) per statement: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters. */
const MESSAGE_ROWS_PER_STATEMENT = 200;
const EVENT_ROWS_PER_STATEMENT = 500;
const STATE_ROWS_PER_STATEMENT = 500;
/** Messages settled per write (two reads and a few updates in the write transaction). */
const SETTLE_IDS_PER_WRITE = 200;

export interface MessageLogSettings {
  sealer: Sealer;
  payloadRetentionMs: number;
  metadataRetentionMs: number;
  batchWindowMs: number;
  maxBatch: number;
  /** Rows purged per statement/transaction, so a purge never holds the database for long. */
  purgeChunk: number;
  now: () => number;
}

/** The MessageLog plus what operators and tests want to see of it. */
export interface StoreMessageLog extends MessageLog {
  /** Group-commit counters (flushes = write transactions committed). */
  stats(): GroupCommitStats;
  /** Commits everything queued so far, without waiting for the batch window. */
  flush(): Promise<void>;
  /** This writer's chain, its head, and its checkpoints (absent without a signer). */
  audit(): { chainId: string; seq: number; hash: string; checkpoints?: CheckpointStats };
  /** Commits what is queued and signs a checkpoint of it now; rejects when no signer is configured or signing fails. */
  checkpoint(): Promise<void>;
}

/** The journal of this log: its chain, and how to sign checkpoints when a signer is configured. */
export interface LogAudit {
  chain: JournalChain;
  checkpoints?: Omit<CheckpointerOptions, 'save'>;
}

export interface RetentionFacts {
  metadataCutoff: number;
  payloadCutoff: number;
}

type WriteOp =
  | { kind: 'message'; row: Insertable<MessagesTable>; facts: MessageFacts }
  | { kind: 'state'; id: string; state: MessageState; reason: string | null; at: number }
  | { kind: 'events'; rows: Insertable<EventsTable>[] }
  /** Derives these messages' states from their events, in the write transaction (see `settle`). */
  | { kind: 'settle'; ids: string[]; result: SettleResult }
  | { kind: 'access'; record: AccessChangeRecord; at: number }
  /** A signed checkpoint's row: stored in turn with the writes (on SQLite's one connection it would starve otherwise). */
  | { kind: 'checkpoint'; row: Insertable<CheckpointsTable> }
  /** Retention about to run (so a verifier can tell purged rows from deleted ones), with access entries it carries over. */
  | { kind: 'purge'; facts: RetentionFacts; carried: PendingEntry[] };

/** What one settle write did: filled in by the transaction that commits it (again if it is retried alone). */
interface SettleResult {
  changed: number;
  /** Ids whose deliveries have ended events but no message row (yet): see `#settleAgainLater`. */
  missing: string[];
}

/** Event kinds that end a delivery, or reopen it (`replayed`). */
const SETTLING_KINDS = ['delivered', 'dead-lettered', 'discarded', 'replayed'] as const;
/** The states settling derives from events; others (received, rejected, duplicate) are the row's own facts. */
const SETTLEABLE: ReadonlySet<string> = new Set<MessageState>(['accepted', 'delivered', 'partially-delivered', 'dead-lettered', 'discarded', 'failed']);
/** Delays before settling again a message whose events came before its row (its hub may still be writing the row). */
const MISSING_ROW_RETRY_MS = [1_000, 5_000, 30_000];

export class KyselyMessageLog implements StoreMessageLog {
  readonly dialect: Dialect;
  readonly #db: Kysely<StoreDatabase>;
  readonly #settings: MessageLogSettings;
  readonly #writer: GroupCommit<WriteOp>;
  readonly #audit: { chain: JournalChain; checkpointer?: Checkpointer };
  #closing: Promise<void> | undefined;
  readonly #retries = new Set<ReturnType<typeof setTimeout>>();

  constructor(db: Kysely<StoreDatabase>, dialect: Dialect, settings: MessageLogSettings, audit: LogAudit) {
    this.#db = db;
    this.dialect = dialect;
    this.#settings = settings;
    this.#writer = new GroupCommit<WriteOp>({
      windowMs: settings.batchWindowMs,
      maxBatch: settings.maxBatch,
      rowsOf: (op) => (op.kind === 'events' ? Math.max(1, op.rows.length) : op.kind === 'purge' ? 1 + op.carried.length : op.kind === 'settle' ? Math.max(1, op.ids.length) : 1),
      commit: (ops) => this.#commit(ops),
    });
    this.#audit = { chain: audit.chain };
    if (audit.checkpoints) this.#audit.checkpointer = new Checkpointer(audit.chain, { ...audit.checkpoints, save: (row) => this.#saveCheckpoint(row) });
  }

  /** Through the writer while it runs; once it is closed (the last checkpoint, at close), directly. */
  async #saveCheckpoint(row: Insertable<CheckpointsTable>): Promise<void> {
    if (!this.#writer.closed) return this.#writer.write({ kind: 'checkpoint', row });
    await this.#writer.close(); // waits for what it still commits
    await insertCheckpoint(this.#db, row);
  }

  /** One transaction: the writes, then their journal entries; the chain's head moves only once it committed. */
  async #commit(ops: WriteOp[]): Promise<void> {
    const { chain, checkpointer } = this.#audit;
    let prepared: PreparedEntries;
    try {
      prepared = await inTransaction(this.#db, async (trx) => {
        const at = Math.round(this.#settings.now());
        const entries = await applyWrites(trx, ops, this.dialect, at);
        return chain.append(trx, entries, at);
      });
    } catch (error) {
      chain.failed();
      throw error;
    }
    chain.committed(prepared);
    checkpointer?.committed();
  }

  // ---- writes (group-committed) ----

  recordMessage(message: MessageRecord): Promise<void> {
    let row: Insertable<MessagesTable>;
    let facts: MessageFacts;
    try {
      const sealed = message.payload === undefined ? null : this.#settings.sealer.seal(message.payload, message.id);
      row = messageRow(message, sealed, this.#settings.now());
      facts = messageFacts(row, message.payload === undefined ? undefined : payloadDigest(message.payload));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#writer.write({ kind: 'message', row, facts });
  }

  setState(messageId: string, state: MessageState, reason?: string): Promise<void> {
    return this.#writer.write({ kind: 'state', id: messageId, state, reason: reason ?? null, at: Math.round(this.#settings.now()) });
  }

  recordEvents(events: LogEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.#writer.write({ kind: 'events', rows: events.map(eventRow) });
  }

  recordAccessChange(record: AccessChangeRecord): Promise<void> {
    return this.#writer.write({ kind: 'access', record: structuredClone(record), at: Math.round(this.#settings.now()) });
  }

  // ---- access-right changes ----

  async accessChanges(): Promise<AccessChangeRecord[]> {
    const rows = await this.#db.selectFrom('access_changes').select('record').orderBy('id', 'asc').execute();
    return rows.map((row) => JSON.parse(row.record) as AccessChangeRecord);
  }

  // ---- evidence ----

  /** Seals what is written first (when a signer is configured), so the bundle's segments end at a checkpoint. */
  async exportEvidence(messageId: string): Promise<EvidenceBundle | undefined> {
    await this.#writer.flush();
    await this.#audit.checkpointer?.checkpoint().catch(() => undefined);
    return exportEvidence(this.#db, this.dialect, messageId, { sealer: this.#settings.sealer, now: this.#settings.now });
  }

  // ---- reads ----

  async search(query: LogQuery): Promise<{ items: MessageSummary[]; next?: string }> {
    const limit = clampLimit(query.limit);
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    let q = this.#db
      .selectFrom('messages')
      .select(SUMMARY_COLUMNS)
      .select((eb) => eb('payload', 'is not', null).as('has_payload'));
    if (query.dossierCode !== undefined) q = q.where('dossier_code', '=', query.dossierCode);
    if (query.correlationId !== undefined) q = q.where('correlation_id', '=', query.correlationId);
    if (query.participant !== undefined) q = q.where('participant', '=', query.participant);
    if (query.messageType !== undefined) q = q.where('message_type', '=', query.messageType);
    if (query.state !== undefined) q = q.where('state', '=', query.state);
    // Time range is half-open: from <= receivedAt < to.
    if (query.from !== undefined) q = q.where('received_at', '>=', Math.ceil(query.from));
    if (query.to !== undefined) q = q.where('received_at', '<', Math.ceil(query.to));
    // Keyset: a row-value comparison, which both SQLite and PostgreSQL turn into an index seek.
    if (after) q = q.where((eb) => eb(eb.refTuple('received_at', 'id'), '<', eb.tuple(after.receivedAt, after.id)));
    const rows = await q
      .orderBy('received_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const items = rows.slice(0, limit).map(toSummary);
    const last = items[items.length - 1];
    return rows.length > limit && last ? { items, next: encodeCursor({ receivedAt: last.receivedAt, id: last.id }) } : { items };
  }

  async history(messageId: string): Promise<{ message: MessageSummary; events: LogEvent[] } | undefined> {
    const row = await this.#db
      .selectFrom('messages')
      .select(SUMMARY_COLUMNS)
      .select((eb) => eb('payload', 'is not', null).as('has_payload'))
      .where('id', '=', messageId)
      .executeTakeFirst();
    if (!row) return undefined;
    const events = await this.#db
      .selectFrom('events')
      .selectAll()
      .where('message_id', '=', messageId)
      .orderBy('at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    const message = toSummary(row);
    return { message, events: [...rowEvents(message, events), ...events.map(toEvent)] };
  }

  /**
   * Settles the state of messages from their events: each delivery's last ending event counts (a replay reopens it),
   * in the order the events were WRITTEN (their ids), never by `at`, which is each writer's own clock. A message is
   * delivered, dead-lettered, discarded or partially delivered once every delivery ended, and accepted again while a
   * replayed one is open. The state is read and written in one write transaction, the message rows locked first on
   * PostgreSQL, so that when several hubs settle one message the last to commit read every event committed before
   * it: with each event write followed by a settle, the final state is always the one the events say.
   */
  async settle(messageIds: string[]): Promise<number> {
    const chunks: Array<Promise<SettleResult>> = [];
    for (let i = 0; i < messageIds.length; i += SETTLE_IDS_PER_WRITE) {
      const result: SettleResult = { changed: 0, missing: [] };
      chunks.push(this.#writer.write({ kind: 'settle', ids: messageIds.slice(i, i + SETTLE_IDS_PER_WRITE), result }).then(() => result));
    }
    const results = await Promise.all(chunks);
    const missing = results.flatMap((r) => r.missing);
    if (missing.length > 0) this.#settleAgainLater(missing, 0);
    return results.reduce((sum, r) => sum + r.changed, 0);
  }

  /**
   * A delivery ended before its message's row was written: the accepting hub may be writing it right now, in a
   * transaction that read the events just before these committed. Its row then says `accepted` with nothing to settle
   * it again, so it is settled again a few times shortly after (a row written later derives its state itself).
   */
  #settleAgainLater(ids: string[], attempt: number): void {
    const delay = MISSING_ROW_RETRY_MS[attempt];
    if (delay === undefined || this.#closing) return;
    const timer = setTimeout(() => {
      this.#retries.delete(timer);
      if (this.#closing) return;
      void (async () => {
        const results: SettleResult[] = [];
        for (let i = 0; i < ids.length; i += SETTLE_IDS_PER_WRITE) {
          const result: SettleResult = { changed: 0, missing: [] };
          await this.#writer.write({ kind: 'settle', ids: ids.slice(i, i + SETTLE_IDS_PER_WRITE), result });
          results.push(result);
        }
        const still = results.flatMap((r) => r.missing);
        if (still.length > 0) this.#settleAgainLater(still, attempt + 1);
      })().catch(() => undefined); // closed, or the database is away: the worker's sweep at start settles what is left
    }, delay);
    timer.unref();
    this.#retries.add(timer);
  }

  async payload(messageId: string): Promise<string | undefined> {
    const row = await this.#db.selectFrom('messages').select('payload').where('id', '=', messageId).executeTakeFirst();
    return row?.payload == null ? undefined : this.#settings.sealer.open(row.payload, messageId);
  }

  // ---- retention ----

  async purge(now: number): Promise<{ payloadsDropped: number; messagesDeleted: number }> {
    const chunk = this.#settings.purgeChunk;
    const metadataCutoff = Math.round(now - this.#settings.metadataRetentionMs);
    const payloadCutoff = Math.round(now - this.#settings.payloadRetentionMs);
    let messagesDeleted = 0;
    let payloadsDropped = 0;

    // The journal first states that retention runs, and with which cutoffs, so that a verifier can tell these
    // deletions from tampering; nothing due, nothing stated.
    const candidates = await journalPurgeCandidates(this.#db, metadataCutoff);
    if (candidates.length > 0 || (await this.#anythingDue(metadataCutoff, payloadCutoff))) {
      await this.#writer.write({ kind: 'purge', facts: { metadataCutoff, payloadCutoff }, carried: [] });
    }

    // Whole records first, so payloads about to be deleted are not rewritten needlessly.
    for (;;) {
      const ids = await this.#idsBefore(metadataCutoff, chunk, false);
      if (ids.length === 0) break;
      messagesDeleted += await inTransaction(this.#db, async (trx) => {
        await trx.deleteFrom('events').where('message_id', 'in', ids).execute();
        const result = await trx.deleteFrom('messages').where('id', 'in', ids).executeTakeFirst();
        return Number(result.numDeletedRows);
      });
      if (ids.length < chunk) break;
      await yieldToOthers();
    }
    // Events whose message is gone (or was never recorded) also age out.
    for (;;) {
      const result = await this.#db
        .deleteFrom('events')
        .where('id', 'in', (eb) => eb.selectFrom('events').select('id').where('at', '<', metadataCutoff).limit(chunk))
        .executeTakeFirst();
      if (Number(result.numDeletedRows) < chunk) break;
      await yieldToOthers();
    }
    for (;;) {
      const ids = await this.#idsBefore(payloadCutoff, chunk, true);
      if (ids.length === 0) break;
      const result = await this.#db
        .updateTable('messages')
        .set({ payload: null, payload_dropped: 1 })
        .where('id', 'in', ids)
        .where('payload', 'is not', null)
        .executeTakeFirst();
      payloadsDropped += Number(result.numUpdatedRows);
      if (ids.length < chunk) break;
      await yieldToOthers();
    }
    // Then the journal, per chain up to a signed checkpoint older than the cutoff; that checkpoint is kept as the
    // chain's new base. Access-right entries in that range are carried over first: their rows are kept forever.
    for (const candidate of candidates) await this.#purgeJournal(candidate, chunk, { metadataCutoff, payloadCutoff });
    return { payloadsDropped, messagesDeleted };
  }

  async #purgeJournal(candidate: PurgeCandidate, chunk: number, retention: RetentionFacts): Promise<void> {
    await purgeJournalUpTo(this.#db, candidate, chunk, async (carried) => {
      await this.#writer.write({ kind: 'purge', facts: retention, carried });
    });
  }

  async #anythingDue(metadataCutoff: number, payloadCutoff: number): Promise<boolean> {
    if ((await this.#idsBefore(metadataCutoff, 1, false)).length > 0) return true;
    if ((await this.#idsBefore(payloadCutoff, 1, true)).length > 0) return true;
    const event = await this.#db.selectFrom('events').select('id').where('at', '<', metadataCutoff).limit(1).executeTakeFirst();
    return event !== undefined;
  }

  async #idsBefore(cutoff: number, limit: number, withPayload: boolean): Promise<string[]> {
    let q = this.#db.selectFrom('messages').select('id').where('received_at', '<', cutoff);
    if (withPayload) q = q.where('payload', 'is not', null);
    const rows = await q.orderBy('received_at', 'asc').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  // ---- lifecycle ----

  stats(): GroupCommitStats {
    return this.#writer.stats();
  }

  flush(): Promise<void> {
    return this.#writer.flush();
  }

  audit(): { chainId: string; seq: number; hash: string; checkpoints?: CheckpointStats } {
    const { chain, checkpointer } = this.#audit;
    return { chainId: chain.chainId, ...chain.head(), ...(checkpointer ? { checkpoints: checkpointer.stats() } : {}) };
  }

  async checkpoint(): Promise<void> {
    const { checkpointer } = this.#audit;
    if (!checkpointer) throw new Error('no checkpoint signer is configured (openMessageLog audit.signer)');
    await this.#writer.flush();
    await checkpointer.checkpoint();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const timer of this.#retries) clearTimeout(timer);
      this.#retries.clear();
      try {
        await this.#writer.close();
        await this.#audit.checkpointer?.close();
      } finally {
        await this.#db.destroy();
      }
    })();
    return this.#closing;
  }
}

/**
 * The message's own facts as the first events of its history: received, then accepted, rejected or duplicate. A
 * log written by an older version stored them as events; those are kept and not repeated.
 */
function rowEvents(message: MessageSummary, stored: Array<{ kind: string }>): LogEvent[] {
  if (stored.some((e) => e.kind === 'received')) return [];
  const events: LogEvent[] = [{ messageId: message.id, at: message.receivedAt, kind: 'received', ...(message.requestBytes === undefined ? {} : { requestBytes: message.requestBytes }) }];
  if (message.state === 'rejected' || message.state === 'duplicate') events.push({ messageId: message.id, at: message.receivedAt, kind: message.state, ...(message.reason ? { reason: message.reason } : {}) });
  else if (message.deliveries > 0) events.push({ messageId: message.id, at: message.receivedAt, kind: 'accepted' });
  return events;
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIMIT;
  return Math.min(MAX_LIMIT, Math.max(1, Math.floor(limit)));
}

/**
 * `work` in one transaction, committed, or rolled back if anything in it fails. SQLite rolls a transaction back by
 * itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM): the ROLLBACK that follows then fails with "cannot
 * rollback - no transaction is active", and Kysely's transaction() would throw that in place of the error saying why
 * the write failed. The first error is the one thrown; a rollback that fails is not reported over it.
 */
async function inTransaction<T>(db: Kysely<StoreDatabase>, work: (trx: Transaction<StoreDatabase>) => Promise<T>): Promise<T> {
  const trx = await db.startTransaction().execute();
  try {
    const result = await work(trx);
    await trx.commit().execute();
    return result;
  } catch (error) {
    await trx.rollback().execute().catch(() => undefined);
    throw error;
  }
}

function yieldToOthers(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Applies a batch in order; consecutive writes of one kind share multi-row statements. Returns the journal entries
 * stating what was done, in the same order: a state change of an unknown message changed nothing and states nothing.
 */
async function applyWrites(trx: Transaction<StoreDatabase>, ops: WriteOp[], dialect: Dialect, at: number): Promise<PendingEntry[]> {
  const entries: PendingEntry[] = [];
  await lockSettled(trx, dialect, ops);
  let i = 0;
  while (i < ops.length) {
    const op = ops[i]!;
    if (op.kind === 'state') {
      // Settling a busy hub's messages sets the same state at the same millisecond for many of them: one
      // statement for such a run (a repeated id starts a new one, so that each write states its own change).
      const ids = new Set<string>();
      for (; i < ops.length && ids.size < STATE_ROWS_PER_STATEMENT; i++) {
        const next = ops[i]!;
        if (next.kind !== 'state' || next.state !== op.state || next.reason !== op.reason || next.at !== op.at || ids.has(next.id)) break;
        ids.add(next.id);
      }
      const changed = await trx.updateTable('messages').set({ state: op.state, reason: op.reason, updated_at: op.at }).where('id', 'in', [...ids]).returning('id').execute();
      const found = new Set(changed.map((row) => row.id));
      for (const id of ids) if (found.has(id)) entries.push({ kind: 'state', ref: id, facts: { ...stateFacts(id, op.state, op.reason, op.at) } });
    } else if (op.kind === 'events') {
      const rows: Insertable<EventsTable>[] = [];
      for (; i < ops.length; i++) {
        const next = ops[i]!;
        if (next.kind !== 'events') break;
        for (const row of next.rows) rows.push(row);
      }
      for (let at = 0; at < rows.length; at += EVENT_ROWS_PER_STATEMENT) {
        const chunk = rows.slice(at, at + EVENT_ROWS_PER_STATEMENT);
        const ids = await insertEvents(trx, chunk);
        chunk.forEach((row, index) => entries.push({ kind: 'event', ref: row.message_id, facts: eventFacts(ids[index]!, row) }));
      }
    } else if (op.kind === 'settle') {
      const settled = await settleIn(trx, dialect, op.ids, at);
      op.result.changed = settled.changed;
      op.result.missing = settled.missing;
      entries.push(...settled.entries);
      i++;
    } else if (op.kind === 'access') {
      const record = canonicalJson(op.record);
      const { id } = await trx.insertInto('access_changes').values({ at: accessTime(op.record, op.at), record }).returning('id').executeTakeFirstOrThrow();
      entries.push({ kind: 'access', ref: String(id), facts: { ...accessFacts(id, JSON.parse(record) as AccessChangeRecord) } });
      i++;
    } else if (op.kind === 'purge') {
      entries.push({ kind: 'purge', ref: RETENTION_REF, facts: { ...op.facts } }, ...op.carried);
      i++;
    } else if (op.kind === 'checkpoint') {
      // About the journal, not a write of the log: no entry of its own.
      await insertCheckpoint(trx, op.row);
      i++;
    } else {
      // One statement may not touch a row twice (PostgreSQL's ON CONFLICT rule): a repeated id starts a new one.
      const rows: Insertable<MessagesTable>[] = [];
      const ids = new Set<string>();
      for (; i < ops.length; i++) {
        const next = ops[i]!;
        if (next.kind !== 'message' || ids.has(next.row.id) || rows.length === MESSAGE_ROWS_PER_STATEMENT) break;
        ids.add(next.row.id);
        rows.push(next.row);
        entries.push({ kind: 'message', ref: next.row.id, facts: { ...next.facts } });
      }
      // In id order, as lockSettled locks: re-writing existing rows in another order could deadlock with another hub's settle.
      await upsertMessages(trx, [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
      // A delivery may have ended (on another hub) before this row was written, e.g. when the accepting hub's first
      // write failed and this is its retry: an accepted message's state is then derived from those events here.
      // So is a failed one whose queue may have stored its deliveries after all (see inbound.ts `unanswered`).
      const open = rows.filter((row) => (row.state === 'accepted' || row.state === 'failed') && Number(row.deliveries) > 0);
      if (open.length > 0) entries.push(...(await settleIn(trx, dialect, open.map((row) => ({ id: row.id, deliveries: row.deliveries, state: row.state })), at)).entries);
    }
  }
  return entries;
}

/** Rows locked in the order of a JavaScript sort of their ids (code points, not the database's collation). */
const BYTE_ORDER = sql`id collate "C"`;

/**
 * PostgreSQL: a batch that settles locks, first and in id order, every message row it will write, so that two hubs'
 * batches settling and writing the same messages in different orders wait for each other instead of deadlocking.
 */

async function lockSettled(trx: Transaction<StoreDatabase>, dialect: Dialect, ops: WriteOp[]): Promise<void> {
  if (dialect !== 'postgres' || !ops.some((op) => op.kind === 'settle')) return;
  const ids = new Set<string>();
  for (const op of ops) {
    if (op.kind === 'settle') for (const id of op.ids) ids.add(id);
    else if (op.kind === 'message') ids.add(op.row.id);
    else if (op.kind === 'state') ids.add(op.id);
  }
  const sorted = [...ids].sort();
  for (let i = 0; i < sorted.length; i += STATE_ROWS_PER_STATEMENT) {
    await trx.selectFrom('messages').select('id').where('id', 'in', sorted.slice(i, i + STATE_ROWS_PER_STATEMENT)).orderBy(BYTE_ORDER).forUpdate().execute();
  }
}

/**
 * Derives the states of these messages from their delivery events, in `trx`, and writes those that changed (one
 * statement per state). Given ids, the message rows are read, on PostgreSQL locked (in id order), before the events,
 * so that a concurrent settle of the same message waits, then reads what this one wrote and every event committed
 * since. Given rows, they were just written (and so locked) by `trx`; a missing row is then not reported.
 */
async function settleIn(
  trx: Transaction<StoreDatabase>,
  dialect: Dialect,
  target: string[] | Array<{ id: string; deliveries: number | string; state: string }>,
  at: number,
): Promise<{ entries: PendingEntry[]; changed: number; missing: string[] }> {
  const given = typeof target[0] === 'object';
  const unique = [...new Set(target.map((t) => (typeof t === 'string' ? t : t.id)))].sort();
  let messages: Array<{ id: string; deliveries: number | string; state: string }>;
  if (given) {
    messages = target as Array<{ id: string; deliveries: number | string; state: string }>;
  } else {
    let rows = trx.selectFrom('messages').select(['id', 'deliveries', 'state']).where('id', 'in', unique);
    if (dialect === 'postgres') rows = rows.orderBy(BYTE_ORDER).forUpdate();
    messages = await rows.execute();
  }
  const events = await trx
    .selectFrom('events')
    .select(['message_id', 'delivery_id', 'kind'])
    .where('message_id', 'in', unique)
    .where('kind', 'in', [...SETTLING_KINDS])
    // Write order: the id is an autoincrement (SQLite) or a sequence (PostgreSQL) taken when the row is inserted.
    .orderBy('id', 'asc')
    .execute();
  const ended = new Map<string, Map<string, Outcome>>();
  for (const event of events) {
    if (!event.delivery_id) continue;
    const perMessage = ended.get(event.message_id) ?? new Map<string, Outcome>();
    ended.set(event.message_id, perMessage);
    // A replay brings back a dead letter, and only that: a `replayed` written after the delivery ended otherwise (a
    // second replay that came too late, a discard, retention) re-opens nothing.
    if (event.kind === 'replayed') {
      if (perMessage.get(event.delivery_id) === 'dead') perMessage.delete(event.delivery_id);
    }
    else perMessage.set(event.delivery_id, event.kind === 'delivered' ? 'delivered' : event.kind === 'discarded' ? 'discarded' : 'dead');
  }
  const byState = new Map<MessageState, string[]>();
  for (const message of messages) {
    const outcomes = ended.get(message.id);
    if (!outcomes || !SETTLEABLE.has(message.state)) continue;
    const state = settledState(Number(message.deliveries), outcomes);
    if (state === undefined || state === message.state) continue;
    byState.set(state, [...(byState.get(state) ?? []), message.id]);
  }
  const changedIds = new Map<string, MessageState>();
  for (const [state, stateIds] of byState) {
    for (let i = 0; i < stateIds.length; i += STATE_ROWS_PER_STATEMENT) {
      const chunk = stateIds.slice(i, i + STATE_ROWS_PER_STATEMENT);
      const changed = await trx.updateTable('messages').set({ state, reason: null, updated_at: at }).where('id', 'in', chunk).returning('id').execute();
      for (const row of changed) changedIds.set(row.id, state);
    }
  }
  const entries: PendingEntry[] = [];
  for (const id of unique) {
    const state = changedIds.get(id);
    if (state !== undefined) entries.push({ kind: 'state', ref: id, facts: { ...stateFacts(id, state, null, at) } });
  }
  const found = new Set(messages.map((m) => m.id));
  const missing = given ? [] : unique.filter((id) => !found.has(id) && ended.has(id));
  return { entries, changed: changedIds.size, missing };
}

type Outcome = 'delivered' | 'dead' | 'discarded';

/**
 * A message's state from how its deliveries ended: undefined for a message without deliveries; accepted while one is
 * still under way (e.g. replayed); discarded by an operator once none is still dead.
 */
function settledState(total: number, outcomes: Map<string, Outcome>): MessageState | undefined {
  if (total <= 0) return undefined;
  if (outcomes.size < total) return 'accepted';
  const count = (outcome: Outcome) => [...outcomes.values()].filter((o) => o === outcome).length;
  const [delivered, discarded, dead] = [count('delivered'), count('discarded'), count('dead')];
  return delivered === outcomes.size ? 'delivered'
    : discarded === outcomes.size ? 'discarded'
      : delivered === 0 && dead + discarded === outcomes.size && dead > 0 ? 'dead-lettered'
        : 'partially-delivered';
}

/**
 * Inserts events and returns their ids in the order of `rows`. Both databases number the rows of one multi-row
 * INSERT in VALUES order (an implementation fact, not a documented promise), and RETURNING's own order is not
 * promised at all, so the ids are sorted. Were the numbering ever to differ, verification would report the
 * events as edited: loud, never silent.
 */
async function insertEvents(trx: Transaction<StoreDatabase>, rows: Insertable<EventsTable>[]): Promise<Array<number | string>> {
  const returned = await trx.insertInto('events').values(rows).returning('id').execute();
  if (returned.length !== rows.length) throw new Error(`inserted ${rows.length} events but ${returned.length} ids came back`);
  return returned.map((r) => Number(r.id)).sort((a, b) => a - b);
}

function insertCheckpoint(db: Kysely<StoreDatabase> | Transaction<StoreDatabase>, row: Insertable<CheckpointsTable>): Promise<unknown> {
  return db.insertInto('checkpoints').values(row).onConflict((oc) => oc.columns(['chain_id', 'seq']).doNothing()).execute();
}

/** An access change's own time (ISO 8601), else the log's clock. */
function accessTime(record: AccessChangeRecord, fallback: number): number {
  const at = Date.parse(record.at);
  return Number.isFinite(at) ? at : fallback;
}

/** Insert, or update a known id keeping its first received_at (and payload/route/dossier if not given again). */
async function upsertMessages(trx: Transaction<StoreDatabase>, rows: Insertable<MessagesTable>[]): Promise<void> {
  await trx
    .insertInto('messages')
    .values(rows)
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        message_type: eb.ref('excluded.message_type'),
        route_id: eb.fn.coalesce('excluded.route_id', 'messages.route_id'),
        participant: eb.ref('excluded.participant'),
        connector: eb.ref('excluded.connector'),
        operation: eb.ref('excluded.operation'),
        dossier_code: eb.fn.coalesce('excluded.dossier_code', 'messages.dossier_code'),
        correlation_id: eb.ref('excluded.correlation_id'),
        updated_at: eb.ref('excluded.updated_at'),
        request_bytes: eb.fn.coalesce('excluded.request_bytes', 'messages.request_bytes'),
        state: eb.ref('excluded.state'),
        deliveries: eb.ref('excluded.deliveries'),
        payload: eb.fn.coalesce('excluded.payload', 'messages.payload'),
        reason: eb.ref('excluded.reason'),
        signature: eb.fn.coalesce('excluded.signature', 'messages.signature'),
      })),
    )
    .execute();
}
