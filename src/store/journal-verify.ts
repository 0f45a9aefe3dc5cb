import { sql, type Kysely, type Transaction } from 'kysely';
import type { Sealer } from '../core/seal.js';
import type { AccessChangeRecord } from '../trust/access.js';
import {
  ROW_FIELDS,
  canonicalJson,
  chainHash,
  checkCheckpoint,
  describeSigner,
  differingFields,
  entryDigest,
  foldMessage,
  genesisHash,
  trustStoreOf,
  type Facts,
  type MessageFacts,
} from '../trust/evidence.js';
import type { TrustStore } from '../trust/trust-store.js';
import { num, type Dialect, type StoreDatabase } from './db.js';
import { checkpointRecord } from './evidence-export.js';
import { accessFacts, eventFacts, messageFacts, payloadDigest } from './facts.js';
import { RETENTION_REF } from './journal.js';
import { inSnapshot } from './snapshot.js';

/**
 * Verification of the whole journal against the log's tables, in one snapshot, streaming in pages (memory stays
 * bounded however large the log), each table read once in key order:
 *
 * 1. each chain in seq order: every digest recomputed from its facts, every hash from the previous one (from the
 *    genesis, or from the base checkpoint a purge left), seq without gaps, commit order following seq, every
 *    checkpoint matching its entry and its signature verifying (and chaining to the trust anchors, when given); and
 *    every row an entry states still present, unless retention purged it.
 * 2. every message row equal to what its entries (replayed in commit order) leave it, its payload (when the data
 *    key is given) hashing to the journaled digest, a missing payload dropped by retention only.
 * 3. every event row, 4. every access-change row equal to its entry.
 *
 * A chain cut back to one of its checkpoints, with the later checkpoints deleted, looks like a chain that ended there.
 * What can show it is checked too: a later chain's `open` entry naming an entry that is gone; on SQLite, journal
 * positions that were allocated (AUTOINCREMENT, which a rollback returns) but are missing beyond what the chains' own
 * gaps and retention explain; and, when given, a head saved earlier (`expectHead`) naming an entry that is gone or
 * changed. The report's `head` is the head to save for that comparison.
 *
 * What it cannot see, and why: docs/audit.md.
 */

export type FindingCode = 'edited' | 'inserted' | 'deleted' | 'chain-broken' | 'checkpoint-mismatch' | 'checkpoint-invalid' | 'checkpoint-untrusted';
export type AuditTable = 'messages' | 'events' | 'access_changes' | 'journal' | 'checkpoints';

export interface AuditFinding {
  code: FindingCode;
  table: AuditTable;
  /** The row's id (message id, event id, access-change id). */
  id?: string;
  chain?: string;
  seq?: number;
  detail: string;
}

export interface ChainSummary {
  chainId: string;
  /** First and last seq kept (0 when the chain is purged down to its base checkpoint). */
  firstSeq: number;
  lastSeq: number;
  entries: number;
  checkpoints: number;
  /** Entries up to here are fixed by a valid signed checkpoint (its own, or a later chain's link to it). */
  sealedUpTo: number;
  signers: string[];
  /** The hash of the entry at lastSeq ('' when the chain has neither entries nor a base checkpoint). */
  lastHash: string;
  /** The newest checkpoint of the chain that matches its entry and verifies. */
  lastCheckpoint?: { seq: number; hash: string; at: number };
  /** The chain whose `open` entry names this chain's last entry: it vouches that this chain ended there. */
  continuedBy?: string;
}

export const HEAD_FORMAT = 'lienthong-journal-head/1';

/**
 * The end of every chain as verified: what an auditor keeps outside the database and compares later (`expectHead`).
 * The store alone cannot show that a chain did not go on past its end: its checkpoints live in the same database.
 */
export interface StoreHead {
  format: typeof HEAD_FORMAT;
  /** When the head was taken (ISO 8601), for people. */
  takenAt?: string;
  chains: Array<{ chain: string; seq: number; hash: string; checkpoint?: { seq: number; hash: string; at: number } }>;
}

/** A saved head read back (from JSON); throws an Error saying what is wrong. */
export function parseStoreHead(value: unknown): StoreHead {
  const record = value as Partial<StoreHead> | null;
  if (typeof record !== 'object' || record === null || record.format !== HEAD_FORMAT || !Array.isArray(record.chains)) {
    throw new Error(`not a saved journal head (expected {"format": "${HEAD_FORMAT}", "chains": [...]})`);
  }
  for (const chain of record.chains as unknown[]) {
    const c = chain as Record<string, unknown> | null;
    if (typeof c !== 'object' || c === null || typeof c.chain !== 'string' || !Number.isSafeInteger(c.seq) || (c.seq as number) < 0 || typeof c.hash !== 'string' || !/^([0-9a-f]{64})?$/.test(c.hash)) {
      throw new Error('a chain of the saved head lacks chain, seq or hash (64 hex digits)');
    }
  }
  return record as StoreHead;
}

export interface AuditReport {
  ok: boolean;
  findings: AuditFinding[];
  /** Findings beyond maxFindings, counted but not listed. */
  omitted: number;
  notices: string[];
  chains: ChainSummary[];
  totals: { entries: number; checkpoints: number; messages: number; events: number; accessChanges: number };
  /** The end of every chain as verified, to save and compare later (expectHead). */
  head: StoreHead;
}

export interface VerifyJournalOptions {
  /** Opens payloads so their digests are checked; without it payload contents are not checked (a notice says so). */
  sealer?: Sealer;
  /** PEM trust anchors the checkpoint certificates must chain to. Without them, signatures are checked with the certificate each checkpoint carries. */
  anchors?: readonly string[];
  /** Rows per page. Default 1,000. */
  pageSize?: number;
  /** Findings listed at most. Default 1,000. */
  maxFindings?: number;
  /** A head saved earlier (the report's `head` then): every entry it names must still be there, unchanged, unless retention purged it. */
  expectHead?: StoreHead;
}

interface Retention {
  metadataCutoff: number;
  payloadCutoff: number;
}

type Reader = Transaction<StoreDatabase>;

class Findings {
  readonly list: AuditFinding[] = [];
  omitted = 0;
  constructor(readonly max: number) {}
  add(finding: AuditFinding): void {
    if (this.list.length < this.max) this.list.push(finding);
    else this.omitted++;
  }
}

interface Link {
  fromChain: string;
  fromSeq: number;
  toChain: string;
  toSeq: number;
  toHash: string;
}

interface Context {
  trx: Reader;
  page: number;
  findings: Findings;
  retention: Retention;
  trust: TrustStore | undefined;
  links: Link[];
  chains: Map<string, ChainSummary>;
  totals: AuditReport['totals'];
  reportedDeleted: Set<string>;
}

function parseFacts(text: string): Facts | undefined {
  try {
    const facts = JSON.parse(text) as unknown;
    return typeof facts === 'object' && facts !== null && !Array.isArray(facts) ? (facts as Facts) : undefined;
  } catch {
    return undefined;
  }
}

/** The highest cutoffs retention ever stated (a row older than these may be gone legitimately). */
async function retentionOf(trx: Reader): Promise<Retention> {
  const rows = await trx.selectFrom('journal').select('facts').where('ref', '=', RETENTION_REF).where('kind', '=', 'purge').execute();
  const retention: Retention = { metadataCutoff: -Infinity, payloadCutoff: -Infinity };
  for (const row of rows) {
    const facts = parseFacts(row.facts);
    if (typeof facts?.metadataCutoff === 'number') retention.metadataCutoff = Math.max(retention.metadataCutoff, facts.metadataCutoff);
    if (typeof facts?.payloadCutoff === 'number') retention.payloadCutoff = Math.max(retention.payloadCutoff, facts.payloadCutoff);
  }
  return retention;
}

async function chainIds(trx: Reader): Promise<string[]> {
  const rows = await trx
    .selectFrom('journal')
    .select('chain_id')
    .groupBy('chain_id')
    .union(trx.selectFrom('checkpoints').select('chain_id').groupBy('chain_id'))
    .execute();
  return [...new Set(rows.map((r) => r.chain_id))].sort();
}

// ------------------------------------------------------------------------------------------------
// 1. the chains
// ------------------------------------------------------------------------------------------------

/** The checkpoints of one chain in seq order, a page at a time. */
function checkpointCursor(ctx: Context, chainId: string) {
  let buffer: ReturnType<typeof checkpointRecord>[] = [];
  let after = -1;
  let done = false;
  return {
    async peek() {
      if (buffer.length === 0 && !done) {
        const rows = await ctx.trx.selectFrom('checkpoints').selectAll().where('chain_id', '=', chainId).where('seq', '>', after).orderBy('seq', 'asc').limit(ctx.page).execute();
        buffer = rows.map(checkpointRecord);
        if (rows.length < ctx.page) done = true;
        if (buffer.length > 0) after = buffer[buffer.length - 1]!.seq;
      }
      return buffer[0];
    },
    take() {
      return buffer.shift();
    },
  };
}

interface ChainState {
  summary: ChainSummary;
  /** The hash the next entry must chain from; null when unknown (after a gap). */
  previous: string | null;
  nextSeq: number;
  lastPos: number;
}

async function checkCheckpointAt(ctx: Context, state: ChainState, checkpoint: ReturnType<typeof checkpointRecord>, entryHash: string | undefined): Promise<void> {
  const { chainId } = state.summary;
  state.summary.checkpoints++;
  ctx.totals.checkpoints++;
  const at = { table: 'checkpoints' as const, chain: chainId, seq: checkpoint.seq };
  if (entryHash === undefined) {
    ctx.findings.add({ code: 'checkpoint-mismatch', ...at, detail: `checkpoint seq ${checkpoint.seq} names an entry that is not in the journal (entries deleted, the chain ends at seq ${state.summary.lastSeq})` });
  } else if (entryHash !== checkpoint.hash) {
    ctx.findings.add({ code: 'checkpoint-mismatch', ...at, detail: `the journal's hash at seq ${checkpoint.seq} differs from the signed checkpoint: entries up to it were rewritten after being signed (since seq ${state.summary.sealedUpTo})` });
  }
  const verdict = await checkCheckpoint(checkpoint, ctx.trust);
  if (verdict.signer) {
    const signer = describeSigner(verdict.signer);
    if (!state.summary.signers.includes(signer)) state.summary.signers.push(signer);
  }
  if (!verdict.ok) {
    ctx.findings.add({ code: verdict.code === 'checkpoint-untrusted' ? 'checkpoint-untrusted' : 'checkpoint-invalid', ...at, detail: verdict.reason });
    return;
  }
  if (entryHash === checkpoint.hash) {
    state.summary.sealedUpTo = Math.max(state.summary.sealedUpTo, checkpoint.seq);
    if (!state.summary.lastCheckpoint || state.summary.lastCheckpoint.seq < checkpoint.seq) state.summary.lastCheckpoint = { seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at };
  }
}

interface StatedRow {
  chain: string;
  seq: number;
  facts: Facts;
}

/** Rows a page of entries states, checked for presence in bulk (3 queries at most). */
async function checkStatedRows(ctx: Context, messages: StatedRow[], events: StatedRow[], access: StatedRow[]): Promise<void> {
  const { trx, retention, findings } = ctx;
  const present = async (table: 'messages' | 'events' | 'access_changes', ids: Array<string | number>): Promise<Set<string>> => {
    if (ids.length === 0) return new Set();
    const rows = await trx.selectFrom(table).select('id').where('id', 'in', ids as never[]).execute();
    return new Set(rows.map((r) => String(r.id)));
  };
  const deleted = (table: AuditTable, id: string, row: StatedRow, detail: string) => {
    const key = `${table}:${id}`;
    if (ctx.reportedDeleted.has(key)) return;
    ctx.reportedDeleted.add(key);
    findings.add({ code: 'deleted', table, id, chain: row.chain, seq: row.seq, detail });
  };

  const messageIds = [...new Set(messages.map((m) => String(m.facts.id)))];
  const keptMessages = await present('messages', messageIds);
  for (const row of messages) {
    const id = String(row.facts.id);
    if (keptMessages.has(id) || Number(row.facts.receivedAt) < retention.metadataCutoff) continue;
    deleted('messages', id, row, 'the journal records this message, but its row is gone and retention did not purge it');
  }

  const keptEvents = await present('events', events.map((e) => Number(e.facts.id)).filter(Number.isSafeInteger));
  const missing = events.filter((e) => !keptEvents.has(String(e.facts.id)) && !(Number(e.facts.at) < retention.metadataCutoff));
  if (missing.length > 0) {
    // Retention also deletes the events of a purged message, however recent the events: look at their messages.
    const owners = [...new Set(missing.map((e) => String(e.facts.messageId)))];
    const keptOwners = await present('messages', owners);
    const gone = owners.filter((id) => !keptOwners.has(id));
    const purgedOwners = new Set<string>();
    if (gone.length > 0) {
      const entries = await trx.selectFrom('journal').select(['ref', 'facts']).where('kind', '=', 'message').where('ref', 'in', gone).execute();
      for (const entry of entries) if (Number(parseFacts(entry.facts)?.receivedAt) < retention.metadataCutoff) purgedOwners.add(entry.ref);
    }
    for (const row of missing) {
      if (purgedOwners.has(String(row.facts.messageId))) continue;
      deleted('events', String(row.facts.id), row, `the journal records this event of message ${String(row.facts.messageId)}, but its row is gone and retention did not purge it`);
    }
  }

  const keptAccess = await present('access_changes', access.map((a) => Number(a.facts.id)).filter(Number.isSafeInteger));
  for (const row of access) {
    if (!keptAccess.has(String(row.facts.id))) deleted('access_changes', String(row.facts.id), row, 'the journal records this access-right change, but its row is gone (access changes are never purged)');
  }
}

async function verifyChain(ctx: Context, chainId: string): Promise<void> {
  const summary: ChainSummary = { chainId, firstSeq: 0, lastSeq: 0, entries: 0, checkpoints: 0, sealedUpTo: 0, signers: [], lastHash: '' };
  ctx.chains.set(chainId, summary);
  const state: ChainState = { summary, previous: genesisHash(chainId), nextSeq: 1, lastPos: -Infinity };
  const checkpoints = checkpointCursor(ctx, chainId);
  const at = (seq: number) => ({ table: 'journal' as const, chain: chainId, seq });
  let after = 0;
  let first = true;
  for (;;) {
    const rows = await ctx.trx.selectFrom('journal').selectAll().where('chain_id', '=', chainId).where('seq', '>', after).orderBy('seq', 'asc').limit(ctx.page).execute();
    const messages: StatedRow[] = [];
    const events: StatedRow[] = [];
    const access: StatedRow[] = [];
    for (const row of rows) {
      const seq = num(row.seq);
      const pos = num(row.pos);
      summary.entries++;
      ctx.totals.entries++;
      if (first) {
        first = false;
        summary.firstSeq = seq;
        if (seq > 1) await startAfterPurge(ctx, state, checkpoints, seq);
      }
      if (seq !== state.nextSeq) {
        ctx.findings.add({ code: 'deleted', ...at(state.nextSeq), detail: `entries seq ${state.nextSeq}..${seq - 1} are missing from the chain` });
        state.previous = null;
      }
      if (pos <= state.lastPos) ctx.findings.add({ code: 'chain-broken', ...at(seq), detail: `seq ${seq} was committed before seq ${seq - 1} (journal order was changed)` });
      state.lastPos = pos;

      const facts = parseFacts(row.facts);
      const digest = facts === undefined ? undefined : entryDigest({ at: num(row.at), kind: row.kind, ref: row.ref }, canonicalJson(facts));
      if (digest !== row.digest) {
        ctx.findings.add({ code: 'edited', ...at(seq), id: row.ref, detail: `the ${row.kind} entry for ${row.ref} was changed: its content no longer hashes to its digest` });
      } else if (state.previous !== null) {
        let expected: string | undefined;
        try {
          expected = chainHash(state.previous, digest);
        } catch {
          expected = undefined;
        }
        if (expected !== row.hash) ctx.findings.add({ code: 'chain-broken', ...at(seq), id: row.ref, detail: `seq ${seq} does not follow seq ${seq - 1}: an entry was inserted, removed or rewritten here` });
      }
      state.previous = /^[0-9a-f]{64}$/.test(row.hash) ? row.hash : null;
      state.nextSeq = seq + 1;
      summary.lastSeq = seq;
      summary.lastHash = row.hash;

      // checkpoints up to this entry
      for (let cp = await checkpoints.peek(); cp && cp.seq <= seq; cp = await checkpoints.peek()) {
        checkpoints.take();
        await checkCheckpointAt(ctx, state, cp, cp.seq === seq ? row.hash : undefined);
      }

      if (!facts || digest !== row.digest) continue;
      const stated = { chain: chainId, seq, facts };
      if (row.kind === 'message') messages.push(stated);
      else if (row.kind === 'event') events.push(stated);
      else if (row.kind === 'access') access.push(stated);
      else if (row.kind === 'open') {
        const head = facts.head as { chain?: unknown; seq?: unknown; hash?: unknown } | undefined;
        if (head && typeof head.chain === 'string' && typeof head.seq === 'number' && typeof head.hash === 'string') {
          ctx.links.push({ fromChain: chainId, fromSeq: seq, toChain: head.chain, toSeq: head.seq, toHash: head.hash });
        }
      }
    }
    await checkStatedRows(ctx, messages, events, access);
    if (rows.length < ctx.page) break;
    after = num(rows[rows.length - 1]!.seq);
  }
  if (first) await startAfterPurge(ctx, state, checkpoints, undefined);
  // checkpoints beyond the last entry: the tail they sealed is gone
  for (let cp = await checkpoints.peek(); cp; cp = await checkpoints.peek()) {
    checkpoints.take();
    await checkCheckpointAt(ctx, state, cp, undefined);
  }
}

/**
 * A chain whose first kept entry is past seq 1 (or that has no entry left) was cut by retention at its base
 * checkpoint: the one just before the first entry, whose hash the chain continues from. Older checkpoints left
 * behind are only checked for their signature.
 */
async function startAfterPurge(ctx: Context, state: ChainState, checkpoints: ReturnType<typeof checkpointCursor>, firstSeq: number | undefined): Promise<void> {
  const { chainId } = state.summary;
  let base: ReturnType<typeof checkpointRecord> | undefined;
  for (let cp = await checkpoints.peek(); cp && (firstSeq === undefined || cp.seq < firstSeq); cp = await checkpoints.peek()) {
    checkpoints.take();
    if (base) await checkCheckpointAt(ctx, state, base, base.hash); // an older one: its signature only
    base = cp;
  }
  const expectedBase = firstSeq === undefined ? base?.seq : firstSeq - 1;
  if (!base || base.seq !== expectedBase) {
    const upTo = firstSeq === undefined ? 'its end' : `seq ${firstSeq - 1}`;
    ctx.findings.add({ code: 'deleted', table: 'journal', chain: chainId, seq: 1, detail: `entries from seq 1 to ${upTo} are missing and no base checkpoint marks them purged` });
    state.previous = null;
    if (firstSeq !== undefined) state.nextSeq = firstSeq; // reported once, not again as a gap
    if (base) await checkCheckpointAt(ctx, state, base, base.hash);
    return;
  }
  if (!(base.at < ctx.retention.metadataCutoff)) {
    ctx.findings.add({ code: 'deleted', table: 'journal', chain: chainId, seq: base.seq, detail: `entries up to seq ${base.seq} are missing, but retention never reached that checkpoint's time` });
  }
  state.summary.lastSeq = base.seq;
  state.summary.lastHash = base.hash;
  state.nextSeq = base.seq + 1;
  state.previous = base.hash;
  await checkCheckpointAt(ctx, state, base, base.hash);
}

/** Each chain's `open` entry names the store's newest entry at that moment: it must still be there, unchanged. */
async function checkLinks(ctx: Context): Promise<void> {
  for (const link of ctx.links) {
    const target = ctx.chains.get(link.toChain);
    const purged = target !== undefined && target.firstSeq !== 0 && link.toSeq < target.firstSeq;
    if (purged || (target && target.firstSeq === 0 && link.toSeq <= target.lastSeq)) continue;
    const entry = await ctx.trx.selectFrom('journal').select('hash').where('chain_id', '=', link.toChain).where('seq', '=', link.toSeq).executeTakeFirst();
    const where = { table: 'journal' as const, chain: link.toChain, seq: link.toSeq };
    if (!entry) {
      ctx.findings.add({ code: 'deleted', ...where, detail: `chain ${link.fromChain} (seq ${link.fromSeq}) opened after this entry, which is gone` });
    } else if (entry.hash !== link.toHash) {
      ctx.findings.add({ code: 'chain-broken', ...where, detail: `chain ${link.fromChain} (seq ${link.fromSeq}) opened after this entry with another hash: the chain up to it was rewritten` });
    }
  }
  for (const link of ctx.links) {
    const target = ctx.chains.get(link.toChain);
    if (target && target.continuedBy === undefined && link.toSeq === target.lastSeq && link.toHash === target.lastHash) target.continuedBy = link.fromChain;
  }
  // A sealed `open` entry also seals the entries it names, in the other chain.
  for (let changed = true; changed; ) {
    changed = false;
    for (const link of ctx.links) {
      const from = ctx.chains.get(link.fromChain);
      const to = ctx.chains.get(link.toChain);
      if (from && to && from.sealedUpTo >= link.fromSeq && to.sealedUpTo < link.toSeq) {
        to.sealedUpTo = link.toSeq;
        changed = true;
      }
    }
  }
}

/**
 * SQLite hands out journal positions with AUTOINCREMENT: never reused, and, since sqlite_sequence is written in the
 * same transaction, a rolled-back write returns its positions. So every position up to sqlite_sequence belonged to a
 * committed entry. Retention deletes only a chain's oldest entries, up to a checkpoint, never the store's newest entry
 * (it states itself in a newer one first); a chain's inner gaps are reported by the chain itself. What is left is an
 * entry deleted from the end of a chain. (Someone who also rewrites sqlite_sequence is not seen; PostgreSQL sequences
 * skip values on rollback, so there is no such check there.)
 */
async function checkSqlitePositions(ctx: Context): Promise<void> {
  const counterTable = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name = 'sqlite_sequence'`.execute(ctx.trx);
  if (counterTable.rows.length === 0) return;
  const counter = await sql<{ seq: number | bigint }>`select seq from sqlite_sequence where name = 'journal'`.execute(ctx.trx);
  const allocated = Number(counter.rows[0]?.seq ?? 0);
  const stats = await ctx.trx.selectFrom('journal').select((eb) => [eb.fn.countAll<number | bigint>().as('n'), eb.fn.max<number | bigint | null>('pos').as('last')]).executeTakeFirst();
  const kept = Number(stats?.n ?? 0);
  const last = Number(stats?.last ?? 0);
  if (allocated > last) {
    const count = allocated - last;
    ctx.findings.add({
      code: 'deleted',
      table: 'journal',
      detail: `the newest ${count} journal entr${count === 1 ? 'y is' : 'ies are'} gone: SQLite handed out positions up to ${allocated} (sqlite_sequence), but the newest entry left is ${last === 0 ? 'none' : `at position ${last}`}; a chain was cut back at its end (with any checkpoints over the cut)`,
    });
  }
  const chains = [...ctx.chains.values()];
  if (last === 0 || chains.some((chain) => chain.firstSeq !== 1)) return; // retention cut the journal: positions below are not all kept
  const innerGaps = chains.reduce((sum, chain) => sum + (chain.lastSeq - chain.entries), 0);
  const unexplained = last - kept - innerGaps;
  if (unexplained > 0) {
    ctx.findings.add({
      code: 'deleted',
      table: 'journal',
      detail: `${unexplained} journal entr${unexplained === 1 ? 'y is' : 'ies are'} gone from the end of a chain: positions 1..${last} were all committed, ${kept} entries are left, and gaps inside the chains account for ${innerGaps}`,
    });
  }
}

/** Every entry a head saved earlier names must still be there with the same hash, unless retention purged it. */
async function checkExpectedHead(ctx: Context, expected: StoreHead): Promise<void> {
  for (const saved of expected.chains) {
    if (saved.seq === 0) continue;
    const chain = ctx.chains.get(saved.chain);
    const where = { table: 'journal' as const, chain: saved.chain, seq: saved.seq };
    const taken = expected.takenAt ? ` (taken ${expected.takenAt})` : '';
    if (!chain) {
      ctx.findings.add({ code: 'deleted', ...where, detail: `the head saved earlier${taken} names this chain up to seq ${saved.seq}, but the chain is gone whole: entries and checkpoints` });
      continue;
    }
    const entry = await ctx.trx.selectFrom('journal').select('hash').where('chain_id', '=', saved.chain).where('seq', '=', saved.seq).executeTakeFirst();
    const purged = (chain.entries > 0 && chain.firstSeq > saved.seq) || (chain.entries === 0 && chain.lastSeq >= saved.seq);
    const hash = entry?.hash ?? (purged && chain.lastSeq === saved.seq ? chain.lastHash : undefined);
    if (hash !== undefined) {
      if (hash !== saved.hash) ctx.findings.add({ code: 'chain-broken', ...where, detail: `the head saved earlier${taken} has another hash at this seq: the chain up to it was rewritten` });
      continue;
    }
    if (purged) continue; // retention cut the chain past it (its base checkpoint was checked against the recorded cutoffs)
    ctx.findings.add({
      code: 'deleted',
      ...where,
      detail: chain.lastSeq < saved.seq
        ? `the head saved earlier${taken} names seq ${saved.seq} of this chain, which now ends at seq ${chain.lastSeq}: entries ${chain.lastSeq + 1}..${saved.seq} were deleted, with any checkpoints over them`
        : `the head saved earlier${taken} names seq ${saved.seq} of this chain, and that entry is gone`,
    });
  }
}

function headOf(chains: ChainSummary[]): StoreHead {
  return {
    format: HEAD_FORMAT,
    chains: chains.map((chain) => ({ chain: chain.chainId, seq: chain.lastSeq, hash: chain.lastHash, ...(chain.lastCheckpoint ? { checkpoint: { ...chain.lastCheckpoint } } : {}) })),
  };
}

// ------------------------------------------------------------------------------------------------
// 2-4. the rows
// ------------------------------------------------------------------------------------------------

interface EntryRow {
  chain_id: string;
  seq: number | string;
  pos: number | string;
  kind: string;
  ref: string;
  facts: string;
}

async function entriesFor(trx: Reader, refs: string[], kinds: string[]): Promise<Map<string, EntryRow[]>> {
  const byRef = new Map<string, EntryRow[]>();
  if (refs.length === 0) return byRef;
  const rows = await trx
    .selectFrom('journal')
    .select(['chain_id', 'seq', 'pos', 'kind', 'ref', 'facts'])
    .where('ref', 'in', refs)
    .where('kind', 'in', kinds)
    .orderBy('pos', 'asc')
    .execute();
  for (const row of rows) {
    const list = byRef.get(row.ref) ?? [];
    list.push(row);
    byRef.set(row.ref, list);
  }
  return byRef;
}

async function verifyMessages(ctx: Context, sealer: Sealer | undefined): Promise<void> {
  let after: string | undefined;
  for (;;) {
    let q = ctx.trx.selectFrom('messages').selectAll();
    if (after !== undefined) q = q.where('id', '>', after);
    const rows = await q.orderBy('id', 'asc').limit(ctx.page).execute();
    const entries = await entriesFor(ctx.trx, rows.map((r) => r.id), ['message', 'state']);
    for (const row of rows) {
      ctx.totals.messages++;
      const own = (entries.get(row.id) ?? []).map((e) => ({ ...e, parsed: parseFacts(e.facts) ?? {} }));
      const folded = foldMessage(own.map((e) => ({ kind: e.kind, facts: e.parsed })));
      if (!folded) {
        ctx.findings.add({ code: 'inserted', table: 'messages', id: row.id, detail: 'no journal entry records this message' });
        continue;
      }
      const stored = messageFacts(row, undefined);
      const fields = differingFields(folded.facts, stored, ROW_FIELDS);
      if (fields.length > 0) {
        const by = own[folded.setBy[fields[0]!] ?? own.length - 1]!;
        ctx.findings.add({ code: 'edited', table: 'messages', id: row.id, chain: by.chain_id, seq: num(by.seq), detail: `${fields.join(', ')} differ${fields.length === 1 ? 's' : ''} from the journal` });
      }
      const payloadEntry = own[folded.setBy.payloadSha256 ?? own.length - 1]!;
      const where = { table: 'messages' as const, id: row.id, chain: payloadEntry.chain_id, seq: num(payloadEntry.seq) };
      checkPayload(ctx, folded.facts, row, sealer, where);
    }
    if (rows.length < ctx.page) break;
    after = rows[rows.length - 1]!.id;
  }
}

function checkPayload(
  ctx: Context,
  facts: MessageFacts,
  row: { payload: string | null; payload_dropped: boolean | number },
  sealer: Sealer | undefined,
  where: { table: 'messages'; id: string; chain: string; seq: number },
): void {
  if (row.payload !== null) {
    if (facts.payloadSha256 === undefined) {
      ctx.findings.add({ code: 'inserted', ...where, detail: 'the row holds a payload the journal never recorded' });
      return;
    }
    if (!sealer) return;
    let digest: string | undefined;
    try {
      digest = payloadDigest(sealer.open(row.payload, where.id));
    } catch {
      digest = undefined;
    }
    if (digest === undefined) ctx.findings.add({ code: 'edited', ...where, detail: 'the payload cannot be opened with the data key: it was changed, or sealed with another key' });
    else if (digest !== facts.payloadSha256) ctx.findings.add({ code: 'edited', ...where, detail: 'the payload differs from the one the journal recorded (its SHA-256 differs)' });
    return;
  }
  if (facts.payloadSha256 === undefined) return;
  if (!row.payload_dropped) ctx.findings.add({ code: 'deleted', ...where, detail: 'the payload is gone without retention having dropped it' });
  else if (!(facts.receivedAt < ctx.retention.payloadCutoff)) ctx.findings.add({ code: 'deleted', ...where, detail: 'the payload was dropped before its retention ended' });
}

/**
 * Events are read in id order, their entries by message (the entries' ref). A message's entries stay cached while its
 * events keep appearing in consecutive pages, so a message with many events is looked up once, not once per page.
 */
async function verifyEvents(ctx: Context): Promise<void> {
  type Entry = EntryRow & { parsed: Facts };
  let cache = new Map<string, Map<number, Entry>>();
  let after = -1;
  for (;;) {
    const rows = await ctx.trx.selectFrom('events').selectAll().where('id', '>', after).orderBy('id', 'asc').limit(ctx.page).execute();
    const owners = [...new Set(rows.map((r) => r.message_id))];
    const fetched = await entriesFor(ctx.trx, owners.filter((id) => !cache.has(id)), ['event']);
    const next = new Map<string, Map<number, Entry>>();
    for (const owner of owners) {
      let byId = cache.get(owner);
      if (!byId) {
        byId = new Map();
        for (const entry of fetched.get(owner) ?? []) {
          const parsed = parseFacts(entry.facts);
          if (parsed && typeof parsed.id === 'number') byId.set(parsed.id, { ...entry, parsed });
        }
      }
      next.set(owner, byId);
    }
    cache = next;
    for (const row of rows) {
      ctx.totals.events++;
      const id = Number(row.id);
      const entry = cache.get(row.message_id)?.get(id);
      if (!entry) {
        ctx.findings.add({ code: 'inserted', table: 'events', id: String(id), detail: `no journal entry records this event of message ${row.message_id}` });
        continue;
      }
      const stored = eventFacts(id, row) as Facts;
      const fields = [...new Set([...Object.keys(stored), ...Object.keys(entry.parsed)])].filter((key) => canonicalJson(stored[key] ?? null) !== canonicalJson(entry.parsed[key] ?? null));
      if (fields.length > 0) {
        ctx.findings.add({ code: 'edited', table: 'events', id: String(id), chain: entry.chain_id, seq: num(entry.seq), detail: `${fields.sort().join(', ')} differ${fields.length === 1 ? 's' : ''} from the journal` });
      }
    }
    if (rows.length < ctx.page) break;
    after = Number(rows[rows.length - 1]!.id);
  }
}

async function verifyAccessChanges(ctx: Context): Promise<void> {
  let after = -1;
  for (;;) {
    const rows = await ctx.trx.selectFrom('access_changes').selectAll().where('id', '>', after).orderBy('id', 'asc').limit(ctx.page).execute();
    const entries = await entriesFor(ctx.trx, rows.map((r) => String(r.id)), ['access']);
    for (const row of rows) {
      ctx.totals.accessChanges++;
      const id = String(row.id);
      const latest = entries.get(id)?.at(-1);
      if (!latest) {
        ctx.findings.add({ code: 'inserted', table: 'access_changes', id, detail: 'no journal entry records this access-right change' });
        continue;
      }
      const record = parseFacts(row.record);
      const stored = record ? canonicalJson(accessFacts(row.id, record as unknown as AccessChangeRecord)) : undefined;
      if (stored !== canonicalJson(parseFacts(latest.facts) ?? null)) {
        ctx.findings.add({ code: 'edited', table: 'access_changes', id, chain: latest.chain_id, seq: num(latest.seq), detail: 'the access-right change differs from the journal' });
      }
    }
    if (rows.length < ctx.page) break;
    after = Number(rows[rows.length - 1]!.id);
  }
}

// ------------------------------------------------------------------------------------------------

export async function verifyJournal(db: Kysely<StoreDatabase>, dialect: Dialect, options: VerifyJournalOptions = {}): Promise<AuditReport> {
  const trust = trustStoreOf(options.anchors);
  return inSnapshot(db, dialect, async (trx) => {
    const ctx: Context = {
      trx,
      page: Math.max(1, options.pageSize ?? 1000),
      findings: new Findings(Math.max(1, options.maxFindings ?? 1000)),
      retention: await retentionOf(trx),
      trust,
      links: [],
      chains: new Map(),
      totals: { entries: 0, checkpoints: 0, messages: 0, events: 0, accessChanges: 0 },
      reportedDeleted: new Set(),
    };
    for (const chainId of await chainIds(trx)) await verifyChain(ctx, chainId);
    await checkLinks(ctx);
    if (dialect === 'sqlite') await checkSqlitePositions(ctx);
    if (options.expectHead) await checkExpectedHead(ctx, options.expectHead);
    await verifyMessages(ctx, options.sealer);
    await verifyEvents(ctx);
    await verifyAccessChanges(ctx);

    const notices: string[] = [];
    const chains = [...ctx.chains.values()];
    if (ctx.totals.checkpoints === 0) {
      notices.push('no signed checkpoints: the chain shows edits by anyone who does not recompute it, but not by someone who rewrites it whole (configure a checkpoint signer)');
    }
    for (const chain of chains) {
      if (chain.lastSeq > chain.sealedUpTo && ctx.totals.checkpoints > 0) {
        notices.push(`chain ${chain.chainId}: seq ${chain.sealedUpTo + 1}..${chain.lastSeq} are not sealed by a valid signed checkpoint (written since the last one, the writer stopped before it, or its checkpoint failed above)`);
      }
    }
    if (!options.sealer) notices.push('payload contents were not checked against their digests: no data key given');
    if (!trust && ctx.totals.checkpoints > 0) notices.push('checkpoint certificates were not checked against trust anchors: none given (the signers are listed per chain)');
    return { ok: ctx.findings.list.length === 0 && ctx.findings.omitted === 0, findings: ctx.findings.list, omitted: ctx.findings.omitted, notices, chains, totals: ctx.totals, head: headOf(chains) };
  });
}

/** One finding on one line: what, which table, which id, which chain and seq. */
export function formatFinding(finding: AuditFinding): string {
  const parts = [finding.code.toUpperCase(), finding.table];
  if (finding.id !== undefined) parts.push(`id=${finding.id}`);
  if (finding.chain !== undefined) parts.push(`chain=${finding.chain}`);
  if (finding.seq !== undefined) parts.push(`seq=${finding.seq}`);
  return `${parts.join(' ')}: ${finding.detail}`;
}
