import Database from 'better-sqlite3';

/**
 * Runs `open` and returns what it opened with the better-sqlite3 connections it configured (every store sets PRAGMAs
 * on its connection first), so that a test can set connection-level PRAGMAs on a store's own connection: real SQLite
 * behaviour, e.g. `max_page_count` (a full disk: SQLITE_FULL) or `query_only` (a read-only store: SQLITE_READONLY).
 * Stores opened in this process only (not in storage threads).
 */
export async function withConnections<T>(open: () => T | Promise<T>): Promise<{ opened: T; connection(file: string): Database.Database }> {
  const seen = new Set<Database.Database>();
  const pragma = Database.prototype.pragma;
  Database.prototype.pragma = function (this: Database.Database, ...args: Parameters<typeof pragma>) {
    seen.add(this);
    return pragma.apply(this, args);
  } as typeof pragma;
  try {
    const opened = await open();
    return {
      opened,
      connection(file) {
        const found = [...seen].find((db) => db.name === file);
        if (!found) throw new Error(`no connection to ${file} was opened`);
        return found;
      },
    };
  } finally {
    Database.prototype.pragma = pragma;
  }
}

/** A database that cannot grow from now on: a write that needs a new page fails with SQLITE_FULL, as on a full disk. */
export function fillDisk(db: Database.Database): void {
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
}

/** Room again (SQLite's default limit). */
export function freeDisk(db: Database.Database): void {
  db.pragma('max_page_count = 4294967294');
}
