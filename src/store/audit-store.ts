import { existsSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import { HubError } from '../core/errors.js';
import type { Sealer } from '../core/seal.js';
import type { EvidenceBundle } from '../trust/evidence.js';
import { isPostgresUrl, openDatabase, type Dialect, type StoreDatabase } from './db.js';
import { exportEvidence } from './evidence-export.js';
import { verifyJournal, type AuditReport, type VerifyJournalOptions } from './journal-verify.js';

export type { AuditFinding, AuditReport, ChainSummary, VerifyJournalOptions } from './journal-verify.js';
export { formatFinding } from './journal-verify.js';

/**
 * The auditor's read-only view of a message log's database, opened directly (not through a hub, which may or may not
 * be running): an SQLite file opened read-only, or PostgreSQL sessions that cannot write. Runs no migration.
 */
export interface AuditStore {
  readonly dialect: Dialect;
  verify(options?: VerifyJournalOptions): Promise<AuditReport>;
  exportEvidence(messageId: string, options?: { sealer?: Sealer }): Promise<EvidenceBundle | undefined>;
  close(): Promise<void>;
}

export interface AuditStoreLocation {
  databaseUrl?: string;
  sqliteFile: string;
}

async function hasJournal(db: Kysely<StoreDatabase>): Promise<boolean> {
  try {
    await sql`select 1 from journal limit 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

export async function openAuditStore(location: AuditStoreLocation): Promise<AuditStore> {
  if (!isPostgresUrl(location.databaseUrl) && !existsSync(location.sqliteFile)) {
    throw new HubError('client.no-store', `no message log at ${location.sqliteFile}: give --sqlite <file> or --database-url <postgres://…>, or --root of the hub`);
  }
  const { db, dialect } = await openDatabase({ ...location, readOnly: true });
  if (!(await hasJournal(db))) {
    await db.destroy();
    throw new HubError('client.no-audit-journal', 'this message log has no audit journal: it was written by a hub older than the journal (start a current hub on it once)');
  }
  return {
    dialect,
    verify: (options) => verifyJournal(db, dialect, options),
    exportEvidence: (messageId, options = {}) => exportEvidence(db, dialect, messageId, options),
    close: () => db.destroy(),
  };
}
