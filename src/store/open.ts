import { HubError } from '../core/errors.js';
import type { Sealer } from '../core/seal.js';
import { lastCheckpointSeq, type CheckpointSigner } from './checkpoints.js';
import { openDatabase } from './db.js';
import { JournalChain } from './journal.js';
import { KyselyMessageLog, type StoreMessageLog } from './log.js';
import { migrate } from './migrations.js';

export type { StoreMessageLog } from './log.js';
export type { GroupCommitStats } from './group-commit.js';
export type { CheckpointSigner, CheckpointStats } from './checkpoints.js';

export interface AuditOptions {
  /** Signs checkpoints: what trust/signer.ts's batchSigner(...) returns. Without one, the journal is chained but never signed. */
  signer?: CheckpointSigner;
  /** This writer's chain; default a fresh `lt-<time>-<random>` per open. An id that has entries is continued. */
  chainId?: string;
  /** A checkpoint after this many entries. Default 1,000. */
  checkpointEvery?: number;
  /** A checkpoint this often when something was written. Default 60 s. */
  checkpointIntervalMs?: number;
}

const DAY = 24 * 60 * 60 * 1000;

export interface OpenMessageLogOptions {
  /** postgres://… → PostgreSQL (tables in the first schema of search_path); otherwise SQLite. */
  databaseUrl?: string;
  /** SQLite file, used when databaseUrl is not a PostgreSQL URL. */
  sqliteFile: string;
  /** Seals payloads at rest and opens them on read. */
  sealer: Sealer;
  /** Payloads (kept for replay) are dropped after this long. Default 30 days. */
  payloadRetentionMs?: number;
  /** Whole records (message + events) are deleted after this long. Default 400 days. */
  metadataRetentionMs?: number;
  /** Group-commit window. Default 5 ms. */
  batchWindowMs?: number;
  /** A batch flushes at once when this many rows wait. Default 500. */
  maxBatch?: number;
  /** Rows per purge step (each its own short transaction). Default 1,000. */
  purgeChunk?: number;
  /** Clock for updated_at, journal entries and checkpoints (tests inject one). Default Date.now. */
  now?: () => number;
  /** The tamper-evident journal's chain and checkpoints (docs/audit.md). */
  audit?: AuditOptions;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new HubError('server.bad-audit-config', `audit.${name} must be a positive whole number; got ${String(value)}`);
  return value;
}

/** Opens the message log over SQLite or PostgreSQL and brings its schema up to date. */
export async function openMessageLog(opts: OpenMessageLogOptions): Promise<StoreMessageLog> {
  const audit = opts.audit ?? {};
  const every = positiveInteger(audit.checkpointEvery, 1000, 'checkpointEvery');
  const intervalMs = positiveInteger(audit.checkpointIntervalMs, 60_000, 'checkpointIntervalMs');
  const now = opts.now ?? Date.now;
  const { db, dialect, schema } = await openDatabase(opts);
  let chain: JournalChain;
  let sealedSeq = 0;
  try {
    await migrate(db, dialect, schema);
    chain = await JournalChain.open(db, { chainId: audit.chainId, signerKid: audit.signer?.kid });
    if (audit.signer) sealedSeq = await lastCheckpointSeq(db, chain.chainId);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyMessageLog(
    db,
    dialect,
    {
      sealer: opts.sealer,
      payloadRetentionMs: opts.payloadRetentionMs ?? 30 * DAY,
      metadataRetentionMs: opts.metadataRetentionMs ?? 400 * DAY,
      batchWindowMs: opts.batchWindowMs ?? 5,
      maxBatch: opts.maxBatch ?? 500,
      purgeChunk: opts.purgeChunk ?? 1000,
      now,
    },
    { chain, ...(audit.signer ? { checkpoints: { signer: audit.signer, every, intervalMs, now, sealedSeq } } : {}) },
  );
}
