import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { MIGRATION_TABLE } from '../../src/store/migrations.js';
import { openMessageLog } from '../../src/store/open.js';
import { withSearchPath } from '../support/postgres.js';
import { DATABASE_URL, requirePostgres } from '../support/services.js';

/**
 * An older hub opening a message log that a newer lienthong migrated: it refuses, naming the newer schema and the
 * latest this version knows (as the queue does for its schema version), not "corrupted migrations", and changes nothing.
 */
const sealer = createSealer(randomBytes(32));
const FUTURE = '0099-from-a-newer-lienthong';

async function expectRefusal(open: () => Promise<unknown>): Promise<void> {
  const error = await open().then(() => undefined, (e: unknown) => e as Error);
  expect(error, 'the log opened').toBeInstanceOf(Error);
  expect(error!.message).toContain(`message log schema ${FUTURE} is newer than this lienthong understands (0004-event-actor)`);
  expect(error!.message).toMatch(/newer lienthong/);
  expect(error!.message).not.toMatch(/corrupted/);
}

describe('message log written by a newer lienthong: SQLite', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to open it, naming both schema versions, and leaves it as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-migrations-'));
    dirs.push(dir);
    const sqliteFile = join(dir, 'log.sqlite');
    const first = await openMessageLog({ sqliteFile, sealer });
    await first.close();
    // What the newer version's migration left behind.
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(sqliteFile);
    raw.prepare(`INSERT INTO ${MIGRATION_TABLE} (name, timestamp) VALUES (?, ?)`).run(FUTURE, new Date().toISOString());
    raw.close();

    await expectRefusal(() => openMessageLog({ sqliteFile, sealer }));

    const after = new Database(sqliteFile, { readonly: true });
    const names = (after.prepare(`SELECT name FROM ${MIGRATION_TABLE} ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name);
    after.close();
    expect(names).toEqual(['0001-message-log', '0002-message-request-bytes', '0003-audit-journal', '0004-event-actor', FUTURE]);
  });

  it('opens a log this version migrated, again and again, migrating nothing twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-migrations-'));
    dirs.push(dir);
    const sqliteFile = join(dir, 'log.sqlite');
    const Database = (await import('better-sqlite3')).default;
    const migrations = () => {
      const db = new Database(sqliteFile, { readonly: true });
      try {
        return db.prepare(`SELECT name, timestamp FROM ${MIGRATION_TABLE} ORDER BY name`).all() as Array<{ name: string; timestamp: string }>;
      } finally {
        db.close();
      }
    };
    await (await openMessageLog({ sqliteFile, sealer })).close();
    const first = migrations();
    expect(first.map((m) => m.name)).toEqual(['0001-message-log', '0002-message-request-bytes', '0003-audit-journal', '0004-event-actor']);
    for (let i = 0; i < 2; i++) await (await openMessageLog({ sqliteFile, sealer })).close();
    expect(migrations()).toEqual(first);
  });
});

const postgresAvailable = await requirePostgres();

describe.runIf(postgresAvailable)('message log written by a newer lienthong: PostgreSQL', () => {
  const schema = `lt_migrations_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = async (text: string, params: unknown[] = []) => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      return await client.query(text, params);
    } finally {
      await client.end();
    }
  };
  afterAll(async () => {
    await admin(`drop schema if exists "${schema}" cascade`);
  });

  it('refuses to open it, naming both schema versions (a log in another schema is not looked at)', async () => {
    await admin(`create schema "${schema}"`);
    const databaseUrl = withSearchPath(DATABASE_URL, schema);
    await (await openMessageLog({ databaseUrl, sqliteFile: '/nonexistent/unused.db', sealer })).close();
    await admin(`insert into "${schema}".${MIGRATION_TABLE} (name, timestamp) values ($1, $2)`, [FUTURE, new Date().toISOString()]);
    await expectRefusal(() => openMessageLog({ databaseUrl, sqliteFile: '/nonexistent/unused.db', sealer }));
  });
});
