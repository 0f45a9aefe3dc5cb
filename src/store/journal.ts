import { randomBytes } from 'node:crypto';
import type { Insertable, Kysely, Transaction } from 'kysely';
import { HubError } from '../core/errors.js';
import { CHAIN_ID, canonicalJson, chainHashBytes, entryDigestBytes, genesisHash, type Facts, type JournalKind } from '../trust/evidence.js';
import { num, type JournalTable, type StoreDatabase } from './db.js';

/**
 * The journal's write side: one chain per writer. Every write transaction of the log appends the entries stating what
 * it did, hash-chained after this chain's head, in ONE multi-row INSERT inside that same transaction, so an entry
 * exists exactly when its write does. The head lives in memory (no read per write) and moves only after a commit;
 * after a failed commit it is read back once, because a COMMIT that failed in transit may still have landed.
 *
 * A chain is named at open and never shared: every open starts a new chain, whose first entry (`open`) names the
 * newest entry of the store at that moment, so the chains of successive writers are linked (see docs/audit.md).
 * An explicit chainId that already has entries is continued instead, for a deployment that wants one chain per
 * store; then only one process may use that id at a time (the unique (chain_id, seq) index refuses a second).
 */

/** The `ref` of retention (`purge`) entries. */
export const RETENTION_REF = 'retention';

export interface PendingEntry {
  kind: JournalKind;
  ref: string;
  facts: Facts;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/** The facts of a chain's `open` entry. */
export interface OpenFacts {
  chain: string;
  /** The newest entry in the store when this writer opened (of any chain), if there was one. */
  head?: { chain: string; hash: string; seq: number };
  /** The kid of the certificate that signs this chain's checkpoints, when one does. */
  signer?: string;
}

export interface PreparedEntries {
  rows: Insertable<JournalTable>[];
  head: ChainHead;
  opened: boolean;
}

/** 9 columns: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters. */
const JOURNAL_ROWS_PER_STATEMENT = 500;

function chainIdError(chainId: string): HubError {
  return new HubError('server.bad-audit-config', `audit.chainId must be 1 to 128 printable ASCII characters without spaces; got ${JSON.stringify(chainId.slice(0, 40))}`);
}

/** A fresh, time-ordered chain name: `lt-<UTC time>-<random>`. */
export function newChainId(): string {
  const time = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `lt-${time}-${randomBytes(6).toString('hex')}`;
}

async function chainHead(db: Kysely<StoreDatabase> | Transaction<StoreDatabase>, chainId: string): Promise<ChainHead | undefined> {
  const entry = await db.selectFrom('journal').select(['seq', 'hash']).where('chain_id', '=', chainId).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  // A chain purged to its base checkpoint has no entries left, only that checkpoint.
  const checkpoint = await db.selectFrom('checkpoints').select(['seq', 'hash']).where('chain_id', '=', chainId).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const heads = [entry, checkpoint].filter((h) => h !== undefined).map((h) => ({ seq: num(h.seq), hash: h.hash }));
  return heads.sort((a, b) => b.seq - a.seq)[0];
}

export class JournalChain {
  readonly chainId: string;
  #head: ChainHead;
  /** Written with the first batch, so that a log opened only to read leaves no trace. */
  #opening: OpenFacts | undefined;
  #stale = false;

  private constructor(chainId: string, head: ChainHead, opening: OpenFacts) {
    this.chainId = chainId;
    this.#head = head;
    this.#opening = opening;
  }

  static async open(db: Kysely<StoreDatabase>, options: { chainId?: string; signerKid?: string }): Promise<JournalChain> {
    const chainId = options.chainId ?? newChainId();
    if (!CHAIN_ID.test(chainId)) throw chainIdError(chainId);
    const own = options.chainId === undefined ? undefined : await chainHead(db, chainId);
    const newest = await db.selectFrom('journal').select(['chain_id', 'seq', 'hash']).orderBy('pos', 'desc').limit(1).executeTakeFirst();
    const opening: OpenFacts = { chain: chainId };
    if (newest) opening.head = { chain: newest.chain_id, hash: newest.hash, seq: num(newest.seq) };
    if (options.signerKid !== undefined) opening.signer = options.signerKid;
    return new JournalChain(chainId, own ?? { seq: 0, hash: genesisHash(chainId) }, opening);
  }

  /** The last committed entry (seq 0 and the genesis hash before the first). */
  head(): ChainHead {
    return { ...this.#head };
  }

  /**
   * Chains `pending` after the head and inserts them in `trx`. Nothing in memory changes until `committed`. An empty
   * batch (e.g. only a state change of an unknown message) writes nothing.
   */
  async append(trx: Transaction<StoreDatabase>, pending: PendingEntry[], at: number): Promise<PreparedEntries> {
    let base = this.#head;
    let opening = this.#opening;
    if (pending.length === 0) return { rows: [], head: base, opened: false };
    if (this.#stale) {
      const stored = await chainHead(trx, this.chainId);
      if (stored && stored.seq > base.seq) {
        base = stored;
        opening = undefined; // the batch that carried it did commit
      }
    }
    const entries = opening ? [{ kind: 'open' as const, ref: this.chainId, facts: opening as unknown as Facts }, ...pending] : pending;
    const rows: Insertable<JournalTable>[] = [];
    let seq = base.seq;
    let hash: Buffer = Buffer.from(base.hash, 'hex');
    for (const entry of entries) {
      const factsText = canonicalJson(entry.facts);
      const digest = entryDigestBytes({ at, kind: entry.kind, ref: entry.ref }, factsText);
      seq += 1;
      hash = chainHashBytes(hash, digest);
      rows.push({ chain_id: this.chainId, seq, at, kind: entry.kind, ref: entry.ref, facts: factsText, digest: digest.toString('hex'), hash: hash.toString('hex') });
    }
    for (let i = 0; i < rows.length; i += JOURNAL_ROWS_PER_STATEMENT) {
      await trx.insertInto('journal').values(rows.slice(i, i + JOURNAL_ROWS_PER_STATEMENT)).execute();
    }
    return { rows, head: { seq, hash: hash.toString('hex') }, opened: opening !== undefined };
  }

  committed(prepared: PreparedEntries): void {
    if (prepared.rows.length === 0) return;
    this.#head = prepared.head;
    if (prepared.opened) this.#opening = undefined;
    this.#stale = false;
  }

  /** After a failed commit the head is re-read before the next append. */
  failed(): void {
    this.#stale = true;
  }
}
