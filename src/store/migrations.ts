import { Migrator, type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect } from './db.js';

/**
 * The message log's schema, as in-code Kysely migrations run at open. Never edit a shipped migration:
 * add a new one. The migrator's own bookkeeping tables are named `store_migration*` so that other
 * rooms (e.g. the delivery queue) can run their own Kysely migrators in the same database.
 */
export const MIGRATION_TABLE = 'store_migration';
export const MIGRATION_LOCK_TABLE = 'store_migration_lock';

/** Columns searched by `MessageLog.search`; each gets an index (column, received_at, id) for keyset pages. */
const SEARCHED = ['dossier_code', 'correlation_id', 'participant', 'message_type', 'state'] as const;

function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001-message-log': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('messages')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('message_type', 'text', (c) => c.notNull())
          .addColumn('route_id', 'text')
          .addColumn('participant', 'text', (c) => c.notNull())
          .addColumn('connector', 'text', (c) => c.notNull())
          .addColumn('operation', 'text', (c) => c.notNull())
          .addColumn('dossier_code', 'text')
          .addColumn('correlation_id', 'text', (c) => c.notNull())
          .addColumn('received_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('deliveries', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('payload', 'text')
          .addColumn('payload_dropped', 'boolean', (c) => c.notNull().defaultTo(false))
          .addColumn('reason', 'text')
          .execute();
        for (const column of SEARCHED) {
          await db.schema.createIndex(`messages_${column}_idx`).on('messages').columns([column, 'received_at', 'id']).execute();
        }
        await db.schema.createIndex('messages_received_at_idx').on('messages').columns(['received_at', 'id']).execute();

        // The one unavoidable dialect branch: an auto-incrementing key.
        let events = db.schema.createTable('events');
        events =
          dialect === 'postgres'
            ? events.addColumn('id', 'bigserial', (c) => c.primaryKey())
            : events.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
        await events
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('delivery_id', 'text')
          .addColumn('destination', 'text')
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('attempt', 'integer')
          .addColumn('succeeded', 'boolean')
          // Durations may be fractional (performance.now()), so they are not integers.
          .addColumn('duration_ms', 'double precision')
          .addColumn('queue_wait_ms', 'double precision')
          .addColumn('http_status', 'integer')
          .addColumn('fault_code', 'text')
          .addColumn('error_type', 'text')
          .addColumn('reason', 'text')
          .addColumn('request_bytes', 'bigint')
          .addColumn('response_bytes', 'bigint')
          .addColumn('mapping_id', 'text')
          .addColumn('request_in_at', 'bigint')
          .addColumn('response_out_at', 'bigint')
          .execute();
        await db.schema.createIndex('events_message_id_idx').on('events').columns(['message_id', 'at']).execute();
        await db.schema.createIndex('events_at_idx').on('events').column('at').execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable('events').execute();
        await db.schema.dropTable('messages').execute();
      },
    },
    // The message row records the request's size, so receipt and acceptance need no events of their own.
    '0002-message-request-bytes': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('messages').addColumn('request_bytes', 'bigint').execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.alterTable('messages').dropColumn('request_bytes').execute();
      },
    },
    // The tamper-evident journal (journal.ts), its signed checkpoints, access-right changes, and message signatures.
    '0003-audit-journal': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('messages').addColumn('signature', 'text').execute();
        await autoIncrementKey(db.schema.createTable('journal'), 'pos', dialect)
          .addColumn('chain_id', 'text', (c) => c.notNull())
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('ref', 'text', (c) => c.notNull())
          .addColumn('facts', 'text', (c) => c.notNull())
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        // One writer per chain: a second process appending to the same chain fails here instead of forking it.
        await db.schema.createIndex('journal_chain_seq_idx').unique().on('journal').columns(['chain_id', 'seq']).execute();
        // A message's entries (message, state, event) by its id, in commit order.
        await db.schema.createIndex('journal_ref_idx').on('journal').columns(['ref', 'pos']).execute();
        await db.schema
          .createTable('checkpoints')
          .addColumn('chain_id', 'text', (c) => c.notNull())
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('jws', 'text', (c) => c.notNull())
          .addColumn('proof', 'text', (c) => c.notNull())
          .addColumn('certificates', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('checkpoints_pk', ['chain_id', 'seq'])
          .execute();
        await autoIncrementKey(db.schema.createTable('access_changes'), 'id', dialect)
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('record', 'text', (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable('access_changes').execute();
        await db.schema.dropTable('checkpoints').execute();
        await db.schema.dropTable('journal').execute();
        await db.schema.alterTable('messages').dropColumn('signature').execute();
      },
    },
    // Who asked for an operator's action (a replay, a discard), as the admin API knows it.
    '0004-event-actor': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('events').addColumn('actor', 'text').execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.alterTable('events').dropColumn('actor').execute();
      },
    },
  };
}

/** The one unavoidable dialect branch: an auto-incrementing integer key. */
function autoIncrementKey(table: CreateTableBuilder<string, never>, column: string, dialect: Dialect): CreateTableBuilder<string, never> {
  return dialect === 'postgres'
    ? table.addColumn(column, 'bigserial', (c) => c.primaryKey())
    : table.addColumn(column, 'integer', (c) => c.primaryKey().autoIncrement());
}

/** Brings the schema up to date; safe to run from several processes at once (the migrator locks). */
export async function migrate(db: Kysely<any>, dialect: Dialect, schema?: string): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  await refuseNewerSchema(db, Object.keys(migrations(dialect)), schema);
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`message log migration${failed ? ` ${failed}` : ''} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * A log that a newer lienthong migrated has migrations this version does not know: say so, naming both, rather than
 * let the migrator call it "corrupted". Nothing is changed: the newer version's data stays as it was.
 */
async function refuseNewerSchema(db: Kysely<any>, known: string[], schema?: string): Promise<void> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === MIGRATION_TABLE && (!schema || t.schema === schema))) return;
  const from = schema ? db.withSchema(schema) : db;
  const executed = (await from.selectFrom(MIGRATION_TABLE).select('name').orderBy('name').execute()).map((r) => String(r.name));
  const unknown = executed.filter((name) => !known.includes(name));
  if (!unknown.length) return;
  const latest = [...known].sort().at(-1);
  throw new Error(
    `message log schema ${unknown.at(-1)} is newer than this lienthong understands (${latest}): a newer lienthong wrote it` +
    `${unknown.length > 1 ? ` (migrations ${unknown.join(', ')})` : ''}. Run that newer version, or restore a backup of the log made by this one`,
  );
}
