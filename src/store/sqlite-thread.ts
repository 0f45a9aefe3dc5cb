import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import {
  CompiledQuery, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler,
  type DatabaseConnection, type Dialect, type Driver, type Kysely, type QueryResult,
} from 'kysely';

/**
 * Kysely over better-sqlite3 running in a worker thread. better-sqlite3 is synchronous: on the main
 * thread every statement and every fsync'd commit of the message log would stall the event loop that
 * serves requests (measured: logging each sync lookup cost ~20 % of its CPU there). Here the main
 * thread only compiles queries and posts them; the worker prepares (and caches) statements, runs
 * them, and answers. One connection, as SQLite has one writer, guarded by a mutex as Kysely's own
 * SQLite driver does.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
const statements = new Map();
parentPort.on('message', ({ id, sql, parameters, close }) => {
  if (close) { db.close(); parentPort.postMessage({ id }); return; }
  try {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      if (statements.size < 1000) statements.set(sql, statement);
    }
    if (statement.reader) parentPort.postMessage({ id, rows: statement.all(parameters) });
    else {
      const result = statement.run(parameters);
      parentPort.postMessage({ id, changes: result.changes, lastInsertRowid: result.lastInsertRowid });
    }
  } catch (error) {
    parentPort.postMessage({ id, error: { message: String(error && error.message), code: error && error.code } });
  }
});
`;

interface Answer { id: number; rows?: unknown[]; changes?: number; lastInsertRowid?: number | bigint; error?: { message: string; code?: string } }

class ThreadConnection implements DatabaseConnection {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (answer: Answer) => void; reject: (error: Error) => void }>();
  #next = 0;

  constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (answer: Answer) => {
      const waiting = this.#pending.get(answer.id);
      if (!waiting) return;
      this.#pending.delete(answer.id);
      if (answer.error) waiting.reject(Object.assign(new Error(answer.error.message), { code: answer.error.code }));
      else waiting.resolve(answer);
    });
    worker.on('error', (error) => this.#failAll(error));
    worker.on('exit', (code) => this.#failAll(new Error(`the SQLite worker exited (${code})`)));
  }

  #failAll(error: Error): void {
    for (const waiting of this.#pending.values()) waiting.reject(error);
    this.#pending.clear();
  }

  send(message: { sql?: string; parameters?: readonly unknown[]; close?: boolean }): Promise<Answer> {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, ...message });
    });
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const answer = await this.send({ sql: compiledQuery.sql, parameters: compiledQuery.parameters });
    if (answer.rows) return { rows: answer.rows as R[] };
    return {
      numAffectedRows: answer.changes !== undefined ? BigInt(answer.changes) : undefined,
      insertId: answer.lastInsertRowid !== undefined ? BigInt(answer.lastInsertRowid) : undefined,
      rows: [],
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported by the threaded SQLite driver');
  }
}

class ThreadDriver implements Driver {
  readonly #file: string;
  #worker?: Worker;
  #connection?: ThreadConnection;
  #lock: Promise<void> = Promise.resolve();
  #unlock?: () => void;

  constructor(file: string) {
    this.#file = file;
  }

  async init(): Promise<void> {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file: this.#file, driver } });
    this.#connection = new ThreadConnection(this.#worker);
    await this.#connection.executeQuery(CompiledQuery.raw('select 1'));
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise((resolve) => (release = resolve));
    await previous;
    this.#unlock = release;
    return this.#connection!;
  }

  async releaseConnection(): Promise<void> {
    const release = this.#unlock;
    this.#unlock = undefined;
    release?.();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async destroy(): Promise<void> {
    if (!this.#worker) return;
    await this.#connection!.send({ close: true }).catch(() => undefined);
    await this.#worker.terminate();
    this.#worker = undefined;
  }
}

export function threadedSqliteDialect(file: string): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new ThreadDriver(file),
    createIntrospector: (db: Kysely<unknown>) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}
