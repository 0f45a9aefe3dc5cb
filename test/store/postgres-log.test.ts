import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { openMessageLog, type StoreMessageLog } from '../../src/store/open.js';
import type { LogEvent } from '../../src/store/types.js';
import { withSearchPath } from '../support/postgres.js';
import { DATABASE_URL, requirePostgres } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { describeAuditJournal } from './audit-behaviour.js';
import { describeMessageLog, type TestStore } from './log-behaviour.js';

/**
 * The behaviour suite against a REAL PostgreSQL. Each test gets its own schema (first on search_path,
 * set through the URL's `options`), created here and dropped afterwards, so parallel runs never meet.
 * Unreachable database: the file fails when LIENTHONG_REQUIRE_SERVICES=1 (CI), else it is skipped, loudly.
 */
const available = await requirePostgres();
const RUN = `lt_store_${process.pid}_${randomBytes(3).toString('hex')}`;
let n = 0;

async function adminQuery(sqlText: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
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
  const url = withSearchPath(DATABASE_URL, schema);
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

describe.runIf(available)('message log on PostgreSQL', () => {
  describeMessageLog('PostgreSQL', postgresStore);
  describeAuditJournal('PostgreSQL', postgresStore);
  describeSharedLog();
});

/**
 * Several hubs on one PostgreSQL log, racing for real (the shared suite runs the same stories one step at a time):
 * whatever order their transactions commit in, each message's state ends as its events say.
 */
function describeSharedLog(): void {
  describe('message states with two hubs on one PostgreSQL log', () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()!();
    });
    const pause = () => new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 12)));

    async function twoHubs(): Promise<{ hubA: StoreMessageLog; hubB: StoreMessageLog; states: () => Promise<Map<string, string>> }> {
      const store = await postgresStore();
      cleanups.push(() => store.dispose());
      const sealer = createSealer(randomBytes(32));
      const hubA = await openMessageLog({ ...store.location, sealer, batchWindowMs: 1 });
      cleanups.push(() => hubA.close());
      const hubB = await openMessageLog({ ...store.location, sealer, batchWindowMs: 1, now: () => Date.now() - 30 });
      cleanups.push(() => hubB.close());
      const states = async () => new Map((await store.raw('select id, state from messages')).map((r) => [String(r.id), String(r.state)]));
      return { hubA, hubB, states };
    }

    const record = (id: string, deliveries: number) => ({
      id, messageType: 'DossierStatusChanged', participant: 'VN/GOV/000.00.00.H56/MOTCUA', connector: 'onegate-h56', operation: 'dossier-status',
      correlationId: `corr-${id}`, receivedAt: Date.now(), state: 'accepted' as const, deliveries,
    });
    const event = (id: string, delivery: string, kind: LogEvent['kind'], at = Date.now()): LogEvent => ({ messageId: id, deliveryId: `${id}-${delivery}`, destination: `dest.${delivery}`, at, kind });

    it('replays on one hub racing deliveries and settles on the other all end delivered', async () => {
      const { hubA, hubB, states } = await twoHubs();
      const ids = Array.from({ length: 60 }, (_, i) => `race-${i}`);
      await Promise.all(ids.map((id) => hubA.recordMessage(record(id, 2))));
      await hubA.recordEvents(ids.flatMap((id) => [event(id, 'a', 'delivered'), event(id, 'b', 'dead-lettered')]));
      await hubA.settle(ids);
      expect(new Set((await states()).values())).toEqual(new Set(['partially-delivered']));
      await Promise.all(ids.map(async (id) => {
        // Hub A's replay endpoint: the replay written, then the delivery back in the queue, then a settle, late or not.
        await hubA.recordEvents([event(id, 'b', 'replayed')]);
        const settleA = (async () => {
          await pause();
          await hubA.settle([id]);
        })();
        // Hub B claims the delivery at once, delivers it and settles.
        await pause();
        await hubB.recordEvents([event(id, 'b', 'delivered', Date.now() - 30)]);
        await Promise.all([hubB.settle([id]), settleA]);
      }));
      const final = await states();
      expect(ids.filter((id) => final.get(id) !== 'delivered')).toEqual([]);
    });

    it('rows written while another hub delivers and settles all end delivered', async () => {
      const { hubA, hubB, states } = await twoHubs();
      const ids = Array.from({ length: 60 }, (_, i) => `late-${i}`);
      await Promise.all(ids.map(async (id) => {
        await Promise.all([
          (async () => {
            await pause();
            await hubA.recordMessage(record(id, 1));
          })(),
          (async () => {
            await pause();
            await hubB.recordEvents([event(id, 'a', 'delivered')]);
            await hubB.settle([id]);
          })(),
        ]);
      }));
      await waitFor(async () => {
        const final = await states();
        return ids.every((id) => final.get(id) === 'delivered');
      }, 5_000, 'every message delivered');
    });
  });
}
