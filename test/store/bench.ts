/**
 * Rough numbers for the message log (not a test): node --import tsx test/store/bench.ts
 * Writes 10,000 events with group commit on SQLite and PostgreSQL (DATABASE_URL or the loopback
 * default), against an unbatched baseline measured in the same run, then times searches.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createSealer } from '../../src/core/seal.js';
import { openMessageLog, type OpenMessageLogOptions, type StoreMessageLog } from '../../src/store/open.js';
import type { LogEvent, LogQuery } from '../../src/store/types.js';

const EVENTS = 10_000;
const MESSAGES = 20_000;
const sealer = createSealer(randomBytes(32));
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function event(i: number): LogEvent {
  return { messageId: `m-${i % 1000}`, deliveryId: `d-${i}`, destination: 'dvcqg.capNhatTrangThai', at: Date.now(), kind: 'attempt', attempt: 1, succeeded: true, durationMs: 12.3, httpStatus: 200, requestBytes: 1800, responseBytes: 90 };
}

async function writers(log: StoreMessageLog, concurrency: number): Promise<number> {
  const per = EVENTS / concurrency;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; i < per; i++) await log.recordEvents([event(w * per + i)]);
    }),
  );
  return EVENTS / ((performance.now() - t) / 1000);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function run(label: string, location: () => Promise<{ opts: Pick<OpenMessageLogOptions, 'databaseUrl' | 'sqliteFile'>; done: () => Promise<void> }>) {
  const out: Record<string, string> = {};
  const unbatched = { batchWindowMs: 0, maxBatch: 1 };
  const window0 = { batchWindowMs: 0 };
  for (const [name, settings, concurrency] of [
    ['unbatched, 1 writer (baseline)', unbatched, 1],
    ['unbatched, 100 writers', unbatched, 100],
    ['batched 5 ms, 1 writer awaiting each', {}, 1],
    ['batched 5 ms, 100 writers awaiting each', {}, 100],
    ['batched 5 ms, 10,000 calls at once', {}, EVENTS],
    ['batched 0 ms, 1 writer awaiting each', window0, 1],
    ['batched 0 ms, 100 writers awaiting each', window0, 100],
    ['batched 0 ms, 10,000 calls at once', window0, EVENTS],
  ] as const) {
    const loc = await location();
    const log = await openMessageLog({ ...loc.opts, sealer, ...settings });
    const rate = await writers(log, concurrency);
    out[name] = `${Math.round(rate).toLocaleString('en')} events/s (${log.stats().flushes} transactions)`;
    await log.close();
    await loc.done();
  }

  const loc = await location();
  const log = await openMessageLog({ ...loc.opts, sealer });
  const t = performance.now();
  await Promise.all(
    Array.from({ length: MESSAGES }, (_, i) =>
      log.recordMessage({
        id: `msg-${String(i).padStart(6, '0')}`,
        messageType: i % 2 ? 'DossierStatusChanged' : 'DossierSubmitted',
        participant: `VN/GOV/000.00.00.H${i % 63}/MOTCUA`,
        connector: 'motcua',
        operation: 'op',
        dossierCode: `H56-${i % 5000}`,
        correlationId: `c-${i}`,
        receivedAt: Date.now() - (MESSAGES - i) * 1000,
        state: i % 10 ? 'delivered' : 'accepted',
        deliveries: 1,
        payload: JSON.stringify({ i, hoTen: 'Nguyễn Văn Thử', soDinhDanh: '001203999981' }),
      }),
    ),
  );
  out[`record ${MESSAGES.toLocaleString('en')} messages (sealed payloads), all at once`] = `${Math.round(MESSAGES / ((performance.now() - t) / 1000)).toLocaleString('en')} msg/s`;
  const page1 = await log.search({ participant: 'VN/GOV/000.00.00.H7/MOTCUA', limit: 50 });
  const queries: Array<[string, () => LogQuery]> = [
    ['by dossierCode', () => ({ dossierCode: `H56-${Math.floor(Math.random() * 5000)}` })],
    ['by correlationId', () => ({ correlationId: `c-${Math.floor(Math.random() * MESSAGES)}` })],
    ['by participant, 50/page, page 2', () => ({ participant: 'VN/GOV/000.00.00.H7/MOTCUA', limit: 50, cursor: page1.next })],
    ['unfiltered newest 50', () => ({})],
    ['state=accepted + last 2 h', () => ({ state: 'accepted', from: Date.now() - 7_200_000 })],
  ];
  for (const [name, q] of queries) {
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      const s = performance.now();
      await log.search(q());
      times.push(performance.now() - s);
    }
    out[`search ${name}`] = `p50 ${pct(times, 50).toFixed(2)} ms, p99 ${pct(times, 99).toFixed(2)} ms`;
  }
  const ht: number[] = [];
  for (let i = 0; i < 300; i++) {
    const s = performance.now();
    await log.history(`msg-${String(Math.floor(Math.random() * MESSAGES)).padStart(6, '0')}`);
    ht.push(performance.now() - s);
  }
  out['history'] = `p50 ${pct(ht, 50).toFixed(2)} ms, p99 ${pct(ht, 99).toFixed(2)} ms`;
  await log.close();
  await loc.done();
  console.log(`\n## ${label}`);
  console.table(out);
}

await run('SQLite (WAL, synchronous=FULL)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lienthong-bench-'));
  return { opts: { sqliteFile: join(dir, 'log.db') }, done: async () => rmSync(dir, { recursive: true, force: true }) };
});

let n = 0;
await run('PostgreSQL (loopback)', async () => {
  const schema = `lt_bench_${process.pid}_${++n}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const u = new URL(PG_URL);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return {
    opts: { databaseUrl: u.toString(), sqliteFile: '/nonexistent' },
    done: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema ${schema} cascade`);
      await c.end();
    },
  };
});
