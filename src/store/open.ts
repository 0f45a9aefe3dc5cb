import type { Sealer } from '../core/seal.js';
import { openDatabase } from './db.js';
import { KyselyMessageLog, type StoreMessageLog } from './log.js';
import { migrate } from './migrations.js';

export type { StoreMessageLog } from './log.js';
export type { GroupCommitStats } from './group-commit.js';

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
  /** Clock for updated_at (tests inject one). Default Date.now. */
  now?: () => number;
}

/** Opens the message log over SQLite or PostgreSQL and brings its schema up to date. */
export async function openMessageLog(opts: OpenMessageLogOptions): Promise<StoreMessageLog> {
  const { db, dialect, schema } = await openDatabase(opts);
  try {
    await migrate(db, dialect, schema);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyMessageLog(db, dialect, {
    sealer: opts.sealer,
    payloadRetentionMs: opts.payloadRetentionMs ?? 30 * DAY,
    metadataRetentionMs: opts.metadataRetentionMs ?? 400 * DAY,
    batchWindowMs: opts.batchWindowMs ?? 5,
    maxBatch: opts.maxBatch ?? 500,
    purgeChunk: opts.purgeChunk ?? 1000,
    now: opts.now ?? Date.now,
  });
}
