import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { isHubError } from '../../src/core/errors.js';
import { createSealer } from '../../src/core/seal.js';
import { openMessageLog, type OpenMessageLogOptions, type StoreMessageLog } from '../../src/store/open.js';
import type { LogEvent, MessageRecord, MessageSummary } from '../../src/store/types.js';
import { waitFor } from '../support/wait.js';

/**
 * One behaviour suite for every database the message log runs on. Each test gets a fresh, isolated
 * store (an SQLite file, or a PostgreSQL schema) and reads "at rest" through its own new connection.
 */
export type LogOptions = Partial<Omit<OpenMessageLogOptions, 'databaseUrl' | 'sqliteFile' | 'sealer'>>;

export interface TestStore {
  /** `databaseUrl` and `sqliteFile` for openMessageLog. */
  location: Pick<OpenMessageLogOptions, 'databaseUrl' | 'sqliteFile'>;
  /** Runs SQL (with `?` placeholders) on a NEW read-only connection, closed afterwards. */
  raw(sqlText: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** Runs SQL (with `?` placeholders) that writes, on a NEW connection: how the tests tamper with a log. */
  exec(sqlText: string, params?: unknown[]): Promise<void>;
  dispose(): Promise<void>;
}

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 15, 8, 0, 0);

let seq = 0;
function message(over: Partial<MessageRecord> = {}): MessageRecord {
  seq++;
  return {
    id: `msg-${String(seq).padStart(6, '0')}`,
    messageType: 'DossierStatusChanged',
    routeId: 'status-to-dvcqg',
    participant: 'VN/GOV/000.00.00.H56/MOTCUA',
    connector: 'motcua-hanoi',
    operation: 'capNhatTrangThai',
    dossierCode: `000.00.00.H56-260115-${String(seq).padStart(4, '0')}`,
    correlationId: `corr-${seq}`,
    receivedAt: T0 + seq,
    state: 'accepted',
    deliveries: 1,
    ...over,
  };
}

const ids = (items: MessageSummary[]) => items.map((m) => m.id).sort();

export function describeMessageLog(label: string, makeStore: () => Promise<TestStore>): void {
  describe(`message log on ${label}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    const sealer = createSealer(randomBytes(32));

    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()!();
    });

    async function fresh(): Promise<TestStore> {
      const store = await makeStore();
      cleanups.push(() => store.dispose());
      return store;
    }

    async function open(store: TestStore, opts: LogOptions = {}): Promise<StoreMessageLog> {
      const log = await openMessageLog({ ...store.location, sealer, ...opts });
      cleanups.push(() => log.close());
      return log;
    }

    async function setup(opts: LogOptions = {}) {
      const store = await fresh();
      return { store, log: await open(store, opts) };
    }

    it('settles a message whose dead letters were all discarded as discarded, and one with a delivery too as partially delivered', async () => {
      const { log } = await setup();
      const [gone, half] = [message({ deliveries: 2 }), message({ deliveries: 2 })];
      await Promise.all([log.recordMessage(gone), log.recordMessage(half)]);
      const event = (m: MessageRecord, delivery: string, kind: 'delivered' | 'dead-lettered' | 'discarded', at: number) => ({ messageId: m.id, deliveryId: `${m.id}-${delivery}`, destination: `x.${delivery}`, at, kind });
      await log.recordEvents([event(gone, 'a', 'dead-lettered', T0 + 1), event(gone, 'b', 'dead-lettered', T0 + 2), event(half, 'a', 'delivered', T0 + 1), event(half, 'b', 'dead-lettered', T0 + 2)]);
      await log.settle([gone.id, half.id]);
      expect((await log.history(gone.id))?.message.state).toBe('dead-lettered');
      await log.recordEvents([event(gone, 'a', 'discarded', T0 + 3), event(half, 'b', 'discarded', T0 + 3)]);
      await log.settle([gone.id, half.id]);
      expect((await log.history(gone.id))?.message.state).toBe('dead-lettered'); // one is still dead
      await log.recordEvents([event(gone, 'b', 'discarded', T0 + 4)]);
      await log.settle([gone.id, half.id]);
      expect((await log.history(gone.id))?.message.state).toBe('discarded');
      expect((await log.history(half.id))?.message.state).toBe('partially-delivered');
    });

    it('settles a message recorded as failed whose queue stored its deliveries after all (its answer was lost), and leaves a plain failure alone', async () => {
      const { log } = await setup();
      const unanswered = message({ state: 'failed', deliveries: 2, reason: 'server.unavailable: the delivery queue cannot write (unreachable: Connection is closed)' });
      const plain = message({ state: 'failed', deliveries: 0, reason: 'server.internal: x' });
      await Promise.all([log.recordMessage(unanswered), log.recordMessage(plain)]);
      const delivered = (m: MessageRecord, delivery: string, at: number) => ({ messageId: m.id, deliveryId: `${m.id}-${delivery}`, destination: `x.${delivery}`, at, kind: 'delivered' as const });
      await log.recordEvents([delivered(unanswered, 'a', T0 + 1)]);
      await log.settle([unanswered.id, plain.id]);
      expect((await log.history(unanswered.id))?.message.state).toBe('accepted'); // one of its two is still under way
      await log.recordEvents([delivered(unanswered, 'b', T0 + 2)]);
      await log.settle([unanswered.id, plain.id]);
      expect((await log.history(unanswered.id))?.message).toMatchObject({ state: 'delivered' });
      expect((await log.history(unanswered.id))?.message.reason).toBeUndefined();
      expect((await log.history(plain.id))?.message.state).toBe('failed');
    });

    it('records messages and finds them by each search field', async () => {
      const { log } = await setup();
      expect(log.dialect).toBe(label.startsWith('PostgreSQL') ? 'postgres' : 'sqlite');
      const a = message({ dossierCode: 'H56-A', correlationId: 'c-a', participant: 'VN/GOV/000.00.00.H56/MOTCUA', messageType: 'DossierSubmitted', state: 'accepted' });
      const b = message({ dossierCode: 'H56-B', correlationId: 'c-b', participant: 'VN/GOV/000.00.00.G12/MOTCUA', messageType: 'DossierStatusChanged', state: 'delivered' });
      const c = message({ dossierCode: 'H56-A', correlationId: 'c-c', participant: 'VN/GOV/000.00.00.G12/MOTCUA', messageType: 'DossierSubmitted', state: 'rejected', deliveries: 0, reason: 'schema.invalid' });
      const d = message({ dossierCode: undefined, correlationId: 'c-a', routeId: undefined, state: 'accepted' });
      await Promise.all([a, b, c, d].map((m) => log.recordMessage(m)));

      expect(ids((await log.search({ dossierCode: 'H56-A' })).items)).toEqual(ids([a, c] as MessageSummary[]));
      expect(ids((await log.search({ correlationId: 'c-a' })).items)).toEqual([a.id, d.id].sort());
      expect(ids((await log.search({ participant: 'VN/GOV/000.00.00.G12/MOTCUA' })).items)).toEqual([b.id, c.id].sort());
      expect(ids((await log.search({ messageType: 'DossierSubmitted' })).items)).toEqual([a.id, c.id].sort());
      expect(ids((await log.search({ state: 'delivered' })).items)).toEqual([b.id]);
      expect(ids((await log.search({ state: 'discarded' })).items)).toEqual([]);
      expect(ids((await log.search({})).items)).toEqual([a.id, b.id, c.id, d.id].sort());

      const [found] = (await log.search({ correlationId: 'c-c' })).items;
      const { payload: _none, ...rest } = c;
      expect(found).toEqual({ ...rest, hasPayload: false, updatedAt: expect.any(Number) });
      expect(typeof found!.receivedAt).toBe('number');
      const [plain] = (await log.search({ correlationId: 'c-a', dossierCode: undefined, state: 'accepted', messageType: d.messageType })).items;
      expect(plain!.id).toBe(d.id);
      expect(plain).not.toHaveProperty('dossierCode');
      expect(plain).not.toHaveProperty('routeId');
    });

    it('AND-combines filters and returns newest first', async () => {
      const { log } = await setup();
      const ms = [
        message({ dossierCode: 'X', state: 'accepted', participant: 'P1', receivedAt: T0 + 10 }),
        message({ dossierCode: 'X', state: 'delivered', participant: 'P1', receivedAt: T0 + 30 }),
        message({ dossierCode: 'X', state: 'delivered', participant: 'P2', receivedAt: T0 + 20 }),
        message({ dossierCode: 'Y', state: 'delivered', participant: 'P1', receivedAt: T0 + 40 }),
      ];
      await Promise.all(ms.map((m) => log.recordMessage(m)));
      expect((await log.search({ dossierCode: 'X', state: 'delivered' })).items.map((m) => m.id)).toEqual([ms[1]!.id, ms[2]!.id]);
      expect((await log.search({ dossierCode: 'X', state: 'delivered', participant: 'P1' })).items.map((m) => m.id)).toEqual([ms[1]!.id]);
      expect((await log.search({ participant: 'P1' })).items.map((m) => m.id)).toEqual([ms[3]!.id, ms[1]!.id, ms[0]!.id]);
      expect((await log.search({ dossierCode: 'Y', participant: 'P2' })).items).toEqual([]);
    });

    it('filters by a half-open time range [from, to)', async () => {
      const { log } = await setup();
      const ms = [0, 1000, 2000, 3000, 4000].map((dt) => message({ participant: 'P-time', receivedAt: T0 + dt }));
      await Promise.all(ms.map((m) => log.recordMessage(m)));
      const range = async (from?: number, to?: number) => (await log.search({ participant: 'P-time', from, to })).items.map((m) => m.receivedAt - T0);
      expect(await range(T0 + 1000, T0 + 3000)).toEqual([2000, 1000]);
      expect(await range(T0 + 1001, T0 + 3001)).toEqual([3000, 2000]);
      expect(await range(T0 + 3000)).toEqual([4000, 3000]);
      expect(await range(undefined, T0 + 1000)).toEqual([0]);
      expect(await range(T0 + 5000)).toEqual([]);
    });

    it('pages through results with an opaque cursor: no duplicates, no gaps, also with ties and filters', async () => {
      const { log } = await setup();
      // 137 messages over 23 distinct instants: many share a received_at, so the id breaks ties.
      const all = Array.from({ length: 137 }, (_, i) =>
        message({ id: `page-${String(i).padStart(4, '0')}`, participant: 'P-page', receivedAt: T0 + (i % 23) * 1000, state: i % 3 === 0 ? 'delivered' : 'accepted' }),
      );
      await Promise.all(all.map((m) => log.recordMessage(m)));
      const expected = [...all].sort((x, y) => y.receivedAt - x.receivedAt || (x.id < y.id ? 1 : -1));

      const walk = async (query: { state?: 'delivered' }, limit: number) => {
        const seen: MessageSummary[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await log.search({ participant: 'P-page', ...query, limit, cursor });
          expect(page.items.length).toBeLessThanOrEqual(limit);
          if (page.next) {
            expect(page.items.length).toBe(limit);
            expect(page.next).toMatch(/^[A-Za-z0-9_-]+$/);
          }
          seen.push(...page.items);
          cursor = page.next;
          pages++;
        } while (cursor && pages < 100);
        return { seen, pages };
      };

      const { seen, pages } = await walk({}, 10);
      expect(pages).toBe(14);
      expect(seen.map((m) => m.id)).toEqual(expected.map((m) => m.id));
      expect(new Set(seen.map((m) => m.id)).size).toBe(137);

      const delivered = await walk({ state: 'delivered' }, 7);
      expect(delivered.seen.map((m) => m.id)).toEqual(expected.filter((m) => m.state === 'delivered').map((m) => m.id));

      // An exact multiple of the page size ends without an empty trailing page.
      const exact = await walk({}, 137);
      expect(exact.pages).toBe(1);
      expect(exact.seen).toHaveLength(137);

      // Rows arriving while paging (newer than the cursor) do not shift later pages.
      const first = await log.search({ participant: 'P-page', limit: 20 });
      await log.recordMessage(message({ participant: 'P-page', receivedAt: T0 + 99_000 }));
      const second = await log.search({ participant: 'P-page', limit: 20, cursor: first.next });
      expect(second.items.map((m) => m.id)).toEqual(expected.slice(20, 40).map((m) => m.id));
    });

    it('limits pages to 50 by default and 500 at most, and rejects a forged cursor', async () => {
      const { log } = await setup();
      await Promise.all(Array.from({ length: 510 }, (_, i) => log.recordMessage(message({ participant: 'P-limit', receivedAt: T0 + i }))));
      const byDefault = await log.search({ participant: 'P-limit' });
      expect(byDefault.items).toHaveLength(50);
      expect(byDefault.next).toBeDefined();
      const capped = await log.search({ participant: 'P-limit', limit: 10_000 });
      expect(capped.items).toHaveLength(500);
      expect((await log.search({ participant: 'P-limit', limit: 0 })).items).toHaveLength(1);
      for (const cursor of ['not-a-cursor', Buffer.from('{"a":1}').toString('base64url'), Buffer.from('[1.5,"x"]').toString('base64url')]) {
        const error = await log.search({ cursor }).catch((e: unknown) => e);
        expect(isHubError(error) && error.type).toBe('client.bad-cursor');
      }
    });

    it('upserts a re-recorded message, keeping its first received_at', async () => {
      let clock = T0 + 5 * DAY;
      const { log } = await setup({ now: () => clock });
      const first = message({ state: 'received', deliveries: 0, payload: '{"v":1}' });
      await log.recordMessage(first);
      clock += 1000;
      await log.recordMessage({ ...first, receivedAt: first.receivedAt + 777, state: 'accepted', deliveries: 2, payload: undefined, routeId: undefined });
      const [m] = (await log.search({ correlationId: first.correlationId })).items;
      expect(m).toMatchObject({ receivedAt: first.receivedAt, state: 'accepted', deliveries: 2, routeId: first.routeId, hasPayload: true, updatedAt: clock });
      expect(await log.payload(first.id)).toBe('{"v":1}');
      expect((await log.search({ participant: first.participant })).items).toHaveLength(1);
    });

    it('sets states and reasons, stamping updated_at from the clock', async () => {
      let clock = T0 + DAY;
      const { log } = await setup({ now: () => clock });
      const m = message({ state: 'accepted', deliveries: 2 });
      await log.recordMessage(m);
      clock += 500;
      await log.setState(m.id, 'partially-delivered', 'one destination dead-lettered');
      let [s] = (await log.search({ correlationId: m.correlationId })).items;
      expect(s).toMatchObject({ state: 'partially-delivered', reason: 'one destination dead-lettered', updatedAt: T0 + DAY + 500, receivedAt: m.receivedAt });
      expect((await log.search({ state: 'partially-delivered' })).items.map((x) => x.id)).toEqual([m.id]);
      clock += 500;
      // Calls made without awaiting keep their order.
      void log.setState(m.id, 'dead-lettered', 'gave up');
      await log.setState(m.id, 'delivered');
      [s] = (await log.search({ correlationId: m.correlationId })).items;
      expect(s!.state).toBe('delivered');
      expect(s).not.toHaveProperty('reason');
      expect(s!.updatedAt).toBe(T0 + DAY + 1000);
      // A state for an unknown message changes nothing and does not fail the batch.
      await expect(log.setState('no-such-message', 'delivered')).resolves.toBeUndefined();
    });

    it('returns a history: the message without payload, and its events in time order', async () => {
      const { log } = await setup();
      const m = message({ payload: '{"hoTen":"Nguyễn Văn Thử"}' });
      await log.recordMessage(m);
      const full: LogEvent = {
        messageId: m.id,
        deliveryId: 'dlv-1',
        destination: 'dvcqg.capNhatTrangThai',
        at: T0 + 300,
        kind: 'attempt',
        attempt: 2,
        succeeded: false,
        durationMs: 12.75,
        queueWaitMs: 3,
        httpStatus: 503,
        faultCode: 'Server.Busy',
        errorType: 'transport.unavailable',
        reason: 'peer answered 503',
        requestBytes: 2048,
        responseBytes: 17,
        mappingId: 'dvcqg/status-out',
        requestInAt: T0 + 299,
        responseOutAt: T0 + 312,
      };
      await log.recordEvents([
        { messageId: m.id, at: T0 + 400, kind: 'delivered', deliveryId: 'dlv-1', succeeded: true },
        full,
        { messageId: m.id, at: T0 + 100, kind: 'received' },
      ]);
      const replayed: LogEvent = { messageId: m.id, deliveryId: 'dlv-1', at: T0 + 350, kind: 'replayed', actor: 'loopback (x-admin-actor: tran.van.thu)' };
      await log.recordEvents([{ messageId: m.id, at: T0 + 200, kind: 'accepted' }, { messageId: m.id, at: T0 + 300, kind: 'retry-scheduled' }, replayed]);
      await log.recordEvents([{ messageId: 'other', at: T0, kind: 'received' }]);

      const h = await log.history(m.id);
      expect(h).toBeDefined();
      expect(h!.message).not.toHaveProperty('payload');
      expect(h!.message).toMatchObject({ id: m.id, hasPayload: true, dossierCode: m.dossierCode });
      expect(h!.events.map((e) => e.kind)).toEqual(['received', 'accepted', 'attempt', 'retry-scheduled', 'replayed', 'delivered']);
      expect(h!.events[2]).toEqual(full);
      expect(h!.events[0]).toEqual({ messageId: m.id, at: T0 + 100, kind: 'received' });
      expect(h!.events[4]).toEqual(replayed);
      expect(h!.events[5]!.succeeded).toBe(true);
      for (const e of h!.events) expect(typeof e.at).toBe('number');
      expect(await log.history('no-such-message')).toBeUndefined();
    });

    it('seals payloads at rest and opens them on read', async () => {
      const { store, log } = await setup();
      const plain = JSON.stringify({ soDinhDanh: '001303999981', hoTen: 'Trần Thị Mẫu', diaChi: 'Số 7 ngõ Mẫu, phố Thử' });
      const m = message({ payload: plain });
      const bare = message();
      await Promise.all([log.recordMessage(m), log.recordMessage(bare)]);

      const [row] = await store.raw('select payload from messages where id = ?', [m.id]);
      const atRest = String(row!.payload);
      expect(atRest.startsWith('v3:')).toBe(true);
      for (const secret of [plain, '001303999981', 'Mẫu', 'Trần', 'soDinhDanh']) expect(atRest).not.toContain(secret);
      // Nothing else in the row holds the content either.
      const [whole] = await store.raw('select * from messages where id = ?', [m.id]);
      expect(JSON.stringify(whole)).not.toContain('001303999981');

      expect(await log.payload(m.id)).toBe(plain);
      expect(await log.payload(bare.id)).toBeUndefined();
      expect(await log.payload('no-such-message')).toBeUndefined();
      const found = (await log.search({ participant: m.participant })).items;
      expect(Object.fromEntries(found.map((x) => [x.id, x.hasPayload]))).toEqual({ [m.id]: true, [bare.id]: false });

      // Another key cannot open it (GCM authentication), so a copied database leaks nothing.
      const stranger = await openMessageLog({ ...store.location, sealer: createSealer(randomBytes(32)) });
      await expect(stranger.payload(m.id)).rejects.toThrow();
      await stranger.close();
    });

    it('purges payloads after payload retention and whole records after metadata retention, in chunks', async () => {
      const now = T0 + 100 * DAY;
      const { store, log } = await setup({ payloadRetentionMs: 1 * DAY, metadataRetentionMs: 10 * DAY, purgeChunk: 7, now: () => now });
      const ancient = Array.from({ length: 23 }, (_, i) => message({ receivedAt: now - 20 * DAY - i, payload: `{"old":${i}}` }));
      const stale = Array.from({ length: 16 }, (_, i) => message({ receivedAt: now - 5 * DAY - i, payload: `{"stale":${i}}` }));
      const staleBare = Array.from({ length: 3 }, () => message({ receivedAt: now - 5 * DAY }));
      const recent = Array.from({ length: 5 }, (_, i) => message({ receivedAt: now - 60_000 - i, payload: `{"new":${i}}` }));
      // Exactly at the cutoffs: kept (retention means "older than").
      const edge = [message({ receivedAt: now - 10 * DAY, payload: '{"edge":"meta"}' }), message({ receivedAt: now - DAY, payload: '{"edge":"payload"}' })];
      const all = [...ancient, ...stale, ...staleBare, ...recent, ...edge];
      await Promise.all(all.map((m) => log.recordMessage(m)));
      await log.recordEvents(all.flatMap((m) => [{ messageId: m.id, at: m.receivedAt, kind: 'received' as const }, { messageId: m.id, at: m.receivedAt + 5, kind: 'accepted' as const }]));
      await log.recordEvents([{ messageId: 'orphan', at: now - 30 * DAY, kind: 'received' }]);

      expect(await log.purge(now)).toEqual({ payloadsDropped: 16 + 1, messagesDeleted: 23 });
      expect(await log.purge(now)).toEqual({ payloadsDropped: 0, messagesDeleted: 0 });

      expect(await log.history(ancient[0]!.id)).toBeUndefined();
      const [{ n: ancientEvents }] = (await store.raw(`select count(*) as n from events where message_id in (${ancient.map(() => '?').join(',')})`, ancient.map((m) => m.id))) as [{ n: unknown }];
      expect(Number(ancientEvents)).toBe(0);
      expect(Number((await store.raw('select count(*) as n from events where message_id = ?', ['orphan']))[0]!.n)).toBe(0);

      const s = await log.history(stale[3]!.id);
      expect(s!.message.hasPayload).toBe(false);
      expect(s!.events).toHaveLength(2);
      expect(await log.payload(stale[3]!.id)).toBeUndefined();
      const [dropped] = await store.raw('select payload, payload_dropped from messages where id = ?', [stale[3]!.id]);
      expect(dropped!.payload).toBeNull();
      expect(Boolean(dropped!.payload_dropped)).toBe(true);
      const [never] = await store.raw('select payload_dropped from messages where id = ?', [staleBare[0]!.id]);
      expect(Boolean(never!.payload_dropped)).toBe(false);

      expect(await log.payload(recent[0]!.id)).toBe('{"new":0}');
      expect(await log.payload(edge[0]!.id)).toBeUndefined();
      expect(await log.history(edge[0]!.id)).toBeDefined();
      expect(await log.payload(edge[1]!.id)).toBe('{"edge":"payload"}');
      expect((await log.search({ limit: 500 })).items).toHaveLength(all.length - ancient.length);
    });

    it('group-commits: 100 concurrent recordEvents share a few transactions, each resolved after commit', async () => {
      const { store, log } = await setup();
      const m = message();
      await log.recordMessage(m);
      const before = log.stats().flushes;
      await Promise.all(Array.from({ length: 100 }, (_, i) => log.recordEvents([{ messageId: m.id, at: T0 + i, kind: 'attempt', attempt: i }])));
      const stats = log.stats();
      expect(stats.flushes - before).toBeLessThanOrEqual(3);
      expect(stats.largestBatch).toBeGreaterThanOrEqual(34);
      expect(stats.pending).toBe(0);
      expect(Number((await store.raw('select count(*) as n from events where message_id = ?', [m.id]))[0]!.n)).toBe(100);
    });

    it('flushes a batch as soon as maxBatch rows wait, without waiting for the window', async () => {
      // With a 60 s window, writes that waited for it would outlast the test's timeout.
      const { log } = await setup({ maxBatch: 10, batchWindowMs: 60_000 });
      await Promise.all(Array.from({ length: 100 }, (_, i) => log.recordEvents([{ messageId: 'mb', at: T0 + i, kind: 'attempt' }])));
      expect(log.stats()).toMatchObject({ flushes: 10, writes: 100, rows: 100, largestBatch: 10 });
      // One call larger than maxBatch still commits, alone and whole.
      await log.recordEvents(Array.from({ length: 25 }, (_, i) => ({ messageId: 'mb', at: T0 + i, kind: 'received' as const })));
      expect(log.stats().largestBatch).toBe(25);
    });

    it('is durable: once a write resolves, a fresh connection sees it', async () => {
      const { store, log } = await setup();
      const m = message({ payload: '{"x":1}' });
      await log.recordMessage(m);
      await log.recordEvents([{ messageId: m.id, at: T0, kind: 'received' }]);
      await log.setState(m.id, 'delivered', 'ok');
      const [row] = await store.raw('select state, reason, received_at from messages where id = ?', [m.id]);
      expect(row).toMatchObject({ state: 'delivered', reason: 'ok' });
      expect(Number(row!.received_at)).toBe(m.receivedAt);
      expect(Number((await store.raw('select count(*) as n from events where message_id = ?', [m.id]))[0]!.n)).toBe(1);
    });

    it('close() flushes pending writes, then refuses new ones', async () => {
      const { store, log } = await setup({ batchWindowMs: 60_000 });
      const m = message();
      const pending = [
        log.recordMessage(m),
        log.recordEvents([{ messageId: m.id, at: T0, kind: 'received' }]),
        log.setState(m.id, 'discarded', 'operator'),
      ];
      expect(log.stats().pending).toBe(3);
      await log.close();
      // close() flushed every pending write: each one resolved (to nothing), none was rejected.
      expect(await Promise.allSettled(pending)).toEqual(Array(3).fill({ status: 'fulfilled', value: undefined }));
      const [row] = await store.raw('select state from messages where id = ?', [m.id]);
      expect(row!.state).toBe('discarded');
      expect(Number((await store.raw('select count(*) as n from events where message_id = ?', [m.id]))[0]!.n)).toBe(1);
      await expect(log.recordEvents([{ messageId: m.id, at: T0, kind: 'received' }])).rejects.toThrow(/closed/);
      await log.close(); // idempotent
    });

    it('a failing write rejects only its own caller; the rest of its batch commits', async () => {
      const { store, log } = await setup({ batchWindowMs: 20 });
      const good = message();
      const results = await Promise.allSettled([
        log.recordMessage(good),
        log.recordEvents([{ messageId: good.id, at: T0, kind: 'received' }]),
        log.recordEvents([{ messageId: null as unknown as string, at: T0, kind: 'received' }]),
        log.setState(good.id, 'delivered'),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(log.stats().failedBatches).toBe(1);
      expect((await store.raw('select state from messages where id = ?', [good.id]))[0]!.state).toBe('delivered');
      expect(Number((await store.raw('select count(*) as n from events where message_id = ?', [good.id]))[0]!.n)).toBe(1);
    });

    // ---- message states when several hubs share one log (each its own clock) ----

    /** Two hubs writing to the same store, hub B's clock 30 ms behind hub A's. */
    async function twoHubs(store: TestStore, clock: { now: number }) {
      const hubA = await open(store, { now: () => clock.now });
      const hubB = await open(store, { now: () => clock.now - 30 });
      return { hubA, hubB };
    }
    const stateOf = async (log: StoreMessageLog, id: string) => (await log.history(id))?.message.state;
    const ending = (m: MessageRecord, delivery: string) => ({ messageId: m.id, deliveryId: `${m.id}-${delivery}`, destination: `dest.${delivery}` });

    it('settles by the order events were written, not by the hubs\' clocks: a replay, then a delivery by a hub whose clock is behind', async () => {
      const store = await fresh();
      const clock = { now: T0 + DAY };
      const { hubA, hubB } = await twoHubs(store, clock);
      const m = message({ deliveries: 1 });
      await hubA.recordMessage(m);
      await hubA.recordEvents([{ ...ending(m, 'a'), at: clock.now, kind: 'dead-lettered', reason: 'gave up' }]);
      await hubA.settle([m.id]);
      expect(await stateOf(hubA, m.id)).toBe('dead-lettered');

      // Hub A replays: the replay reopens the delivery, so the message is accepted again, derived from the events.
      clock.now += 1000;
      const replayedAt = clock.now;
      await hubA.recordEvents([{ ...ending(m, 'a'), at: replayedAt, kind: 'replayed' }]);
      expect(await hubA.settle([m.id])).toBe(1);
      expect(await stateOf(hubA, m.id)).toBe('accepted');

      // 20 ms later hub B delivers it: by B's clock, 10 ms BEFORE the replay.
      clock.now += 20;
      const deliveredAt = clock.now - 30;
      expect(deliveredAt).toBeLessThan(replayedAt);
      await hubB.recordEvents([{ ...ending(m, 'a'), at: deliveredAt, kind: 'delivered', succeeded: true }]);
      expect(await hubB.settle([m.id])).toBe(1);
      expect(await stateOf(hubA, m.id)).toBe('delivered');
      // Settling again, on either hub, changes nothing; `at` is kept as each hub wrote it (for display).
      expect(await hubA.settle([m.id])).toBe(0);
      expect(await hubB.settle([m.id])).toBe(0);
      const events = (await hubB.history(m.id))!.events.filter((e) => e.deliveryId !== undefined);
      expect(Object.fromEntries(events.map((e) => [e.kind, e.at]))).toMatchObject({ replayed: replayedAt, delivered: deliveredAt });

      // The same events settled only once, at the end: the delivery written last counts.
      const n = message({ deliveries: 1 });
      await hubA.recordMessage(n);
      await hubA.recordEvents([{ ...ending(n, 'a'), at: (clock.now += 1000), kind: 'dead-lettered' }]);
      await hubA.recordEvents([{ ...ending(n, 'a'), at: (clock.now += 1000), kind: 'replayed' }]);
      await hubB.recordEvents([{ ...ending(n, 'a'), at: (clock.now += 20) - 30, kind: 'delivered' }]);
      await hubB.settle([n.id]);
      expect(await stateOf(hubA, n.id)).toBe('delivered');
    });

    it('a replay settled late never undoes a delivery that another hub settled meanwhile', async () => {
      const store = await fresh();
      const clock = { now: T0 + DAY };
      const { hubA, hubB } = await twoHubs(store, clock);
      const m = message({ deliveries: 2 });
      await hubA.recordMessage(m);
      await hubA.recordEvents([{ ...ending(m, 'a'), at: clock.now, kind: 'delivered' }, { ...ending(m, 'b'), at: clock.now, kind: 'dead-lettered' }]);
      await hubA.settle([m.id]);
      expect(await stateOf(hubA, m.id)).toBe('partially-delivered');

      // Hub A's replay endpoint records the replay, puts the delivery back in the queue... and is slow to settle.
      await hubA.recordEvents([{ ...ending(m, 'b'), at: (clock.now += 1000), kind: 'replayed' }]);
      // Hub B delivers it and settles first.
      await hubB.recordEvents([{ ...ending(m, 'b'), at: (clock.now += 5) - 30, kind: 'delivered' }]);
      await hubB.settle([m.id]);
      expect(await stateOf(hubA, m.id)).toBe('delivered');
      // Hub A's settle commits last: the state still follows from the events (a blind 'accepted' stayed for good).
      expect(await hubA.settle([m.id])).toBe(0);
      expect(await stateOf(hubB, m.id)).toBe('delivered');
      // An explicit state write is still possible, and the next settle derives the state from the events again.
      await hubA.setState(m.id, 'accepted');
      expect(await hubB.settle([m.id])).toBe(1);
      expect(await stateOf(hubA, m.id)).toBe('delivered');
    });

    it('a message row written after its deliveries ended (a retried accept) takes its state from their events', async () => {
      const store = await fresh();
      const clock = { now: T0 + DAY };
      const { hubA, hubB } = await twoHubs(store, clock);
      const late = message({ deliveries: 2 });
      const half = message({ deliveries: 2 });
      const dead = message({ deliveries: 1 });
      const quiet = message({ deliveries: 1 });
      // Hub B delivers before hub A's write of the rows lands: nothing to settle yet.
      await hubB.recordEvents([
        { ...ending(late, 'a'), at: clock.now, kind: 'delivered' },
        { ...ending(late, 'b'), at: clock.now, kind: 'delivered' },
        { ...ending(half, 'a'), at: clock.now, kind: 'delivered' },
        { ...ending(dead, 'a'), at: clock.now, kind: 'dead-lettered', reason: 'gave up' },
      ]);
      expect(await hubB.settle([late.id, half.id, dead.id])).toBe(0);
      // Hub A's retried write of the rows, as accepted.
      await Promise.all([late, half, dead, quiet].map((m) => hubA.recordMessage(m)));
      expect(await stateOf(hubA, late.id)).toBe('delivered');
      expect(await stateOf(hubA, half.id)).toBe('accepted'); // one delivery is still under way
      expect(await stateOf(hubA, dead.id)).toBe('dead-lettered');
      expect(await stateOf(hubA, quiet.id)).toBe('accepted');
      expect(ids((await hubB.search({ state: 'delivered' })).items)).toEqual([late.id]);
      // The same row written again (a retry whose first try did commit) keeps the settled state.
      await hubA.recordMessage(late);
      expect(await stateOf(hubB, late.id)).toBe('delivered');
      // Rows of other states are the message's own facts, whatever the events say.
      await hubA.recordMessage({ ...dead, state: 'rejected', deliveries: 0, reason: 'schema.invalid' });
      expect(await stateOf(hubA, dead.id)).toBe('rejected');
    });

    it('settles again shortly a message whose row appeared only after its delivery ended and was settled', async () => {
      const { store, log } = await setup();
      const m = message({ deliveries: 1 });
      await log.recordEvents([{ ...ending(m, 'a'), at: T0, kind: 'delivered' }]);
      expect(await log.settle([m.id])).toBe(0);
      // Written by a hub whose transaction read the events just before they committed: accepted, and nothing else
      // would settle it again.
      await store.exec(
        'insert into messages (id, message_type, participant, connector, operation, correlation_id, received_at, updated_at, state, deliveries) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [m.id, m.messageType, m.participant, m.connector, m.operation, m.correlationId, m.receivedAt, m.receivedAt, 'accepted', 1],
      );
      await waitFor(async () => (await stateOf(log, m.id)) === 'delivered', 4_000, 'the message settled again');
    });

    it('reopens an existing store (migrations are idempotent) and keeps its rows', async () => {
      const store = await fresh();
      const first = await open(store);
      const m = message({ payload: '{"keep":true}' });
      await first.recordMessage(m);
      await first.close();
      const second = await open(store);
      expect((await second.search({ correlationId: m.correlationId })).items.map((x) => x.id)).toEqual([m.id]);
      expect(await second.payload(m.id)).toBe('{"keep":true}');
      const migrations = await store.raw('select name from store_migration');
      expect(migrations.map((r) => r.name)).toEqual(['0001-message-log', '0002-message-request-bytes', '0003-audit-journal', '0004-event-actor']);
    });
  });
}
