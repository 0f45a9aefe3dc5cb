import type { Insertable, Kysely } from 'kysely';
import { checkpointDigest } from '../trust/evidence.js';
import { num, type CheckpointsTable, type StoreDatabase } from './db.js';
import type { JournalChain } from './journal.js';

/**
 * Signed checkpoints: every `every` entries, or every `intervalMs` when something was written, and at close, the hub
 * signs (chain, seq, hash, at) of its chain's head (trust/evidence.ts `checkpointDigest`). The chain alone shows an
 * edit by anyone who does not recompute it; a checkpoint makes the entries up to it unchangeable without the key.
 *
 * Signing runs beside the writes, never in their way: a checkpoint covers the head committed when it starts, and
 * its row is stored by `save` (the log's group commit, so that a busy writer cannot starve it). A failure (signer
 * down) is counted and retried at the next trigger; the log keeps writing.
 */

/** What `batchSigner(...)` of trust/signer.ts returns, seen structurally (the store depends on no signer code). */
export interface CheckpointSigner {
  sign(digest: Buffer): Promise<{ jws: string; proof: string }>;
  readonly x5c: string[];
  readonly kid: string;
}

export interface CheckpointerOptions {
  signer: CheckpointSigner;
  every: number;
  intervalMs: number;
  now: () => number;
  /** The chain's newest checkpoint when the log opened (0 for a new chain). */
  sealedSeq: number;
  save(row: Insertable<CheckpointsTable>): Promise<void>;
}

/** The seq of a chain's newest checkpoint, 0 when it has none. */
export async function lastCheckpointSeq(db: Kysely<StoreDatabase>, chainId: string): Promise<number> {
  const last = await db.selectFrom('checkpoints').select('seq').where('chain_id', '=', chainId).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return last ? num(last.seq) : 0;
}

export interface CheckpointStats {
  checkpoints: number;
  failures: number;
  /** The seq of the chain's newest signed checkpoint (0 before the first). */
  sealedSeq: number;
  lastError?: string;
}

export class Checkpointer {
  readonly #chain: JournalChain;
  readonly #opts: CheckpointerOptions;
  readonly #timer: NodeJS.Timeout;
  #sealedSeq: number;
  #running: Promise<void> | undefined;
  #stats = { checkpoints: 0, failures: 0, lastError: undefined as string | undefined };

  constructor(chain: JournalChain, opts: CheckpointerOptions) {
    this.#chain = chain;
    this.#opts = opts;
    this.#sealedSeq = opts.sealedSeq;
    this.#timer = setInterval(() => {
      if (this.#dirty()) this.#inBackground();
    }, opts.intervalMs);
    // The timer never keeps the process alive; close() seals the rest.
    this.#timer.unref();
  }

  /** Called after each committed batch. */
  committed(): void {
    if (this.#due()) this.#inBackground();
  }

  /** Signs the current head now, if it is not signed yet; rejects when signing or storing fails. */
  async checkpoint(): Promise<void> {
    while (this.#running) await this.#running.catch(() => undefined);
    if (!this.#dirty()) return;
    this.#running = this.#make();
    try {
      await this.#running;
    } finally {
      this.#running = undefined;
      // Entries committed while signing wait for the next threshold (or the timer), never one checkpoint each.
      if (this.#due()) this.#inBackground();
    }
  }

  stats(): CheckpointStats {
    const { lastError, ...counts } = this.#stats;
    return { ...counts, sealedSeq: this.#sealedSeq, ...(lastError === undefined ? {} : { lastError }) };
  }

  /** Stops the timer and seals what was written since the last checkpoint (best effort: see docs/audit.md). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.checkpoint().catch(() => undefined);
  }

  #dirty(): boolean {
    return this.#chain.head().seq > this.#sealedSeq;
  }

  #due(): boolean {
    return this.#chain.head().seq - this.#sealedSeq >= this.#opts.every;
  }

  /** At most one checkpoint runs; a trigger meanwhile is dropped (the running one re-checks when it ends). */
  #inBackground(): void {
    if (this.#running) return;
    void this.checkpoint().catch(() => undefined);
  }

  async #make(): Promise<void> {
    const head = this.#chain.head();
    const at = Math.round(this.#opts.now());
    const chainId = this.#chain.chainId;
    try {
      const { jws, proof } = await this.#opts.signer.sign(checkpointDigest({ chainId, seq: head.seq, hash: head.hash, at }));
      await this.#opts.save({ chain_id: chainId, seq: head.seq, hash: head.hash, at, jws, proof, certificates: JSON.stringify(this.#opts.signer.x5c) });
    } catch (error) {
      this.#stats.failures++;
      this.#stats.lastError = error instanceof Error ? error.message : String(error);
      throw error;
    }
    this.#sealedSeq = Math.max(this.#sealedSeq, head.seq);
    this.#stats.checkpoints++;
  }
}
