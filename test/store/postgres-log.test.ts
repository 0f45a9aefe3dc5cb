import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';
import { describeAuditJournal } from './audit-behaviour.js';
import { describeMessageLog, type TestStore } from './log-behaviour.js';

/**
 * The behaviour suite against a REAL PostgreSQL. Each test gets its own schema (first on search_path,
 * set through the URL's `options`), created here and dropped afterwards, so parallel runs never meet.
 * Unreachable database: the file fails when LIENTHONG_REQUIRE_SERVICES=1 (CI), else it is skipped, loudly.
 */
const URL_ = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `lt_store_${process.pid}_${randomBytes(3).toString('hex')}`;
let n = 0;

async function probe(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: URL_, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  const options = [u.searchParams.get('options'), `-c search_path=${schema}`].filter(Boolean).join(' ');
  u.searchParams.set('options', options);
  return u.toString();
}

async function adminQuery(sqlText: string): Promise<void> {
  const client = new pg.Client({ connectionString: URL_ });
  await client.connect();
  try {
    await client.query(sqlText);
  } finally {
    await client.end();
  }
}

async function postgresStore(): Promise<TestStore> {
  const schema = `${RUN}_${++n}`;
  await adminQuery(`create schema "${schema}"`);
  const url = withSearchPath(URL_, schema);
  return {
    location: { databaseUrl: url, sqliteFile: '/nonexistent/unused.db' },
    async raw(sqlText, params = []) {
      let i = 0;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sqlText.replace(/\?/g, () => `$${++i}`), params)).rows as Array<Record<string, unknown>>;
      } finally {
        await client.end();
      }
    },
    async exec(sqlText, params = []) {
      let i = 0;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(sqlText.replace(/\?/g, () => `$${++i}`), params);
      } finally {
        await client.end();
      }
    },
    async dispose() {
      await adminQuery(`drop schema if exists "${schema}" cascade`);
    },
  };
}

const unreachable = await probe();
if (unreachable && process.env.LIENTHONG_REQUIRE_SERVICES === '1') {
  throw new Error(`PostgreSQL is required (LIENTHONG_REQUIRE_SERVICES=1) but ${URL_} is unreachable: ${unreachable}`);
}

if (unreachable) {
  console.warn(`\n*** SKIPPING the PostgreSQL message-log suite: ${URL_} is unreachable (${unreachable}). Set DATABASE_URL, or LIENTHONG_REQUIRE_SERVICES=1 to fail instead. ***\n`);
  describe('message log on PostgreSQL', () => {
    it.skip(`skipped: PostgreSQL unreachable at ${URL_}`, () => undefined);
  });
} else {
  describeMessageLog('PostgreSQL', postgresStore);
  describeAuditJournal('PostgreSQL', postgresStore);
}
