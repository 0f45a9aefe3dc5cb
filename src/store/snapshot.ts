import type { Kysely, Transaction } from 'kysely';
import type { Dialect, StoreDatabase } from './db.js';

/**
 * Runs `read` in one read-only snapshot, so that a verification or an export sees the tables as of one instant
 * while a hub keeps writing: PostgreSQL REPEATABLE READ (a snapshot for the whole transaction), SQLite a read
 * transaction (WAL mode keeps its view until it ends).
 */
export function inSnapshot<T>(db: Kysely<StoreDatabase>, dialect: Dialect, read: (trx: Transaction<StoreDatabase>) => Promise<T>): Promise<T> {
  const builder = db.transaction();
  return (dialect === 'postgres' ? builder.setIsolationLevel('repeatable read').setAccessMode('read only') : builder).execute(read);
}
