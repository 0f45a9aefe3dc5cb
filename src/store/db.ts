import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type ColumnType, type Generated, type SqliteDatabase } from 'kysely';
import pg from 'pg';

/**
 * The message log's tables as Kysely sees them. Timestamps are epoch-ms integers (bigint in PostgreSQL,
 * which `pg` hands back as strings: rows are read through `num()`). Booleans are written as 0/1, which
 * both SQLite (no boolean type) and PostgreSQL (boolean input accepts '1'/'0') take, and read back with
 * `Boolean()` because SQLite returns 0/1 and PostgreSQL true/false.
 */
type Millis = ColumnType<number | string, number, number>;
type Flag = ColumnType<boolean | number, number, number>;
type NullableMillis = ColumnType<number | string | null, number | null, number | null>;
type NullableFlag = ColumnType<boolean | number | null, number | null, number | null>;

export interface MessagesTable {
  id: string;
  message_type: string;
  route_id: string | null;
  participant: string;
  connector: string;
  operation: string;
  dossier_code: string | null;
  correlation_id: string;
  received_at: Millis;
  updated_at: Millis;
  request_bytes: number | null;
  state: string;
  deliveries: number;
  /** Sealed (AES-256-GCM) canonical payload; null when never kept or dropped by retention. */
  payload: string | null;
  payload_dropped: Flag;
  reason: string | null;
  /** Canonical JSON of the hub-to-hub signature headers the message came or went with; null when unsigned. */
  signature: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface EventsTable {
  id: Generated<number | string>;
  message_id: string;
  delivery_id: string | null;
  destination: string | null;
  at: Millis;
  kind: string;
  attempt: number | null;
  succeeded: NullableFlag;
  duration_ms: number | null;
  queue_wait_ms: number | null;
  http_status: number | null;
  fault_code: string | null;
  error_type: string | null;
  reason: string | null;
  request_bytes: number | null;
  response_bytes: number | null;
  mapping_id: string | null;
  request_in_at: NullableMillis;
  response_out_at: NullableMillis;
  actor: ColumnType<string | null, string | null | undefined, string | null>;
}

/** The audit journal (see journal.ts): one entry per write, chained by hash per writer (chain). */
export interface JournalTable {
  /** Commit order across chains (a database sequence); not hashed. */
  pos: Generated<number | string>;
  chain_id: string;
  seq: Millis;
  at: Millis;
  kind: string;
  ref: string;
  facts: string;
  digest: string;
  hash: string;
}

/** Signed checkpoints of a chain (see checkpoints.ts). */
export interface CheckpointsTable {
  chain_id: string;
  seq: Millis;
  hash: string;
  at: Millis;
  jws: string;
  proof: string;
  /** JSON array of the signer's certificates, base64 DER, leaf first. */
  certificates: string;
}

/** Access-right changes, oldest first, replayed at start (trust/access.ts `restore`). */
export interface AccessChangesTable {
  id: Generated<number | string>;
  at: Millis;
  /** Canonical JSON of the AccessChangeRecord. */
  record: string;
}

export interface StoreDatabase {
  messages: MessagesTable;
  events: EventsTable;
  journal: JournalTable;
  checkpoints: CheckpointsTable;
  access_changes: AccessChangesTable;
}

export type Dialect = 'sqlite' | 'postgres';

export interface OpenedDatabase {
  db: Kysely<StoreDatabase>;
  dialect: Dialect;
  /** PostgreSQL: the schema the tables live in (first of search_path); the migrator needs it named. */
  schema?: string;
}

export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Opens Kysely over PostgreSQL when `databaseUrl` is a postgres:// URL, else over the SQLite file.
 * SQLite runs in WAL mode with synchronous=FULL: a commit is fsynced, so a resolved write survives
 * power loss, and group commit pays that fsync once per batch rather than once per row.
 */
export async function openDatabase(opts: { databaseUrl?: string; sqliteFile: string; readOnly?: boolean }): Promise<OpenedDatabase> {
  if (isPostgresUrl(opts.databaseUrl)) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.readOnly ? 2 : 10, application_name: opts.readOnly ? 'lienthong-audit' : 'lienthong-store' });
    // An idle client's connection error (e.g. the server restarted) would otherwise crash the process;
    // the pool drops that client and the next query opens a new one, failing its caller if still down.
    pool.on('error', () => undefined);
    // So must a checked-out client's (a connection cut mid-transaction): pg emits it on the client, and unheard it would
    // end the storage thread. The query in flight still fails, and the next batch takes a new connection.
    pool.on('connect', (client) => void client.on('error', () => undefined));
    // Queued on the new client before any query of ours, so an auditor's session can never write.
    if (opts.readOnly) pool.on('connect', (client) => void client.query('set session characteristics as transaction read only').catch(() => undefined));
    const db = new Kysely<StoreDatabase>({ dialect: new PostgresDialect({ pool }) });
    try {
      const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
      const schema = rows[0]?.schema;
      if (!schema) throw new Error('PostgreSQL has no current schema: the first schema of search_path must exist');
      return { db, dialect: 'postgres', schema };
    } catch (error) {
      await db.destroy();
      throw error;
    }
  }
  if (opts.readOnly) {
    // The auditor's view of a hub's file: never created, never written (the hub may be running).
    const database = new Database(opts.sqliteFile, { readonly: true, fileMustExist: true });
    database.pragma('busy_timeout = 5000');
    return { db: new Kysely<StoreDatabase>({ dialect: new SqliteDialect({ database }) }), dialect: 'sqlite' };
  }
  if (opts.sqliteFile !== ':memory:') mkdirSync(dirname(opts.sqliteFile), { recursive: true });
  // better-sqlite3 is synchronous: the hub opens the log in its storage thread (server/storage.ts), off the event loop.
  const database = new Database(opts.sqliteFile);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = FULL');
  database.pragma('busy_timeout = 5000');
  // Statement journals of multi-row writes stay in memory instead of a temp file written page by page.
  database.pragma('temp_store = MEMORY');
  return { db: new Kysely<StoreDatabase>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) }), dialect: 'sqlite' };
}

/**
 * Kysely's SQLite driver prepares every statement anew; the log runs the same few statements thousands
 * of times a second, so they are prepared once and kept (bounded: multi-row inserts vary in length).
 */
function withStatementCache(database: Database.Database): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    prepare(text: string) {
      let statement = cache.get(text);
      if (!statement) {
        statement = database.prepare(text);
        if (cache.size >= 256) cache.delete(cache.keys().next().value!);
        cache.set(text, statement);
      }
      return statement as unknown as ReturnType<SqliteDatabase['prepare']>;
    },
    close: () => database.close(),
  };
}

/** bigint columns come back from `pg` as strings; SQLite gives numbers. */
export function num(value: number | string): number;
export function num(value: number | string | null): number | undefined;
export function num(value: number | string | null): number | undefined {
  return value === null ? undefined : typeof value === 'number' ? value : Number(value);
}

export function flag(value: boolean | number | null): boolean | undefined {
  return value === null ? undefined : Boolean(value);
}
