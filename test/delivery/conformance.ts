import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { isLeaseLost } from '../../src/delivery/errors.js';
import type { Delivery, NewDelivery, QueueDriver } from '../../src/delivery/types.js';

/**
 * The behaviour every queue driver promises (src/delivery/types.ts), checked against a real store.
 *
 * Time: a `TestClock` is handed to the target. A driver that runs entirely on its injected clock gets a
 * virtual one (advance = instant); a driver whose machinery keeps real time (BullMQ delays, Redis TTLs,
 * lock expiry) gets the real clock and `advance` sleeps. Tests are written once for both, with short
 * delays, and poll (`eventually`) where a real-time driver may need a moment (stalled-job checks).
 */
export interface TestClock {
  readonly virtual: boolean;
  now(): number;
  advance(ms: number): Promise<void>;
}

/** One empty store (a temp file, a Redis prefix) that several driver instances may open. */
export interface QueueStore {
  /** Another driver instance over this store (a second hub process, as far as the driver can tell). */
  open(): Promise<QueueDriver>;
  /** Every byte the store holds, as text, for the sealed-at-rest check. */
  rawDump(): Promise<string>;
  /** Another driver instance over this store whose data key differs (a hub restarted with another key). */
  openWithOtherKey(): Promise<QueueDriver>;
  /** Removes the store; drivers opened from it are closed first by the suite. */
  destroy(): Promise<void>;
}

export interface ConformanceTarget {
  clock: 'virtual' | 'real';
  newStore(clock: TestClock): Promise<QueueStore>;
  /** How long after a lease expires the delivery may take to come back (stalled checks); default 0. */
  recoveryMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function makeClock(kind: 'virtual' | 'real'): TestClock {
  if (kind === 'real') return { virtual: false, now: () => Date.now(), advance: (ms) => sleep(ms) };
  let t = Date.UTC(2026, 0, 15, 8, 0, 0);
  return {
    virtual: true,
    now: () => t,
    advance: async (ms) => {
      t += ms;
    },
  };
}

/** Polls `check` (real time) until it returns a truthy value; a virtual-clock driver succeeds at once. */
async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export function describeQueueConformance(name: string, target: ConformanceTarget): void {
  describe(`queue driver conformance: ${name}`, () => {
    let clock: TestClock;
    let store: QueueStore | undefined;
    const drivers: QueueDriver[] = [];
    const recoveryMs = target.recoveryMs ?? 0;

    async function open(): Promise<QueueDriver> {
      if (!store) {
        clock = makeClock(target.clock);
        store = await target.newStore(clock);
      }
      const driver = await store.open();
      drivers.push(driver);
      return driver;
    }

    afterEach(async () => {
      await Promise.allSettled(drivers.splice(0).map((d) => d.close()));
      await store?.destroy();
      store = undefined;
    });

    let n = 0;
    function delivery(over: Partial<NewDelivery> = {}): NewDelivery {
      n++;
      return {
        id: randomUUID(),
        messageId: over.messageId ?? randomUUID(),
        routeId: 'dossier-sync',
        destination: 'dvcqg.syncDossier',
        orderingKey: '',
        payload: JSON.stringify({ n, dossierCode: `000.00.00.H56-260115-${String(n).padStart(4, '0')}` }),
        acceptedAt: clock.now(),
        ...over,
      };
    }
    async function acceptOne(q: QueueDriver, over: Partial<NewDelivery> = {}): Promise<NewDelivery> {
      const d = delivery(over);
      await q.accept({ messageId: d.messageId, deliveries: [d] });
      return d;
    }
    const ids = (list: Delivery[]) => list.map((d) => d.id);
    const claimAll = (q: QueueDriver, limit = 100, leaseMs = 30_000) => q.claim('w1', limit, leaseMs);

    it('accepts, hands out the opened payload, stores it sealed, and forgets it once completed', async () => {
      const q = await open();
      const secret = 'Lê Thị Mẫu, CCCD 001199999981, Số 1 phố Giả Định';
      const d = delivery({ payload: JSON.stringify({ citizen: secret }), orderingKey: 'H56-0001' });
      const result = await q.accept({ messageId: d.messageId, deliveries: [d] });
      expect(result).toEqual({ messageId: d.messageId, duplicate: false });
      expect(await q.counts()).toEqual({ ready: 1, delayed: 0, active: 0, dead: 0 });

      const raw = await store!.rawDump();
      expect(raw).toContain(d.id); // the dump does see the store
      expect(raw).not.toContain('001199999981');
      expect(raw).not.toContain('CCCD');
      expect(raw).not.toContain(Buffer.from('001199999981').toString('base64').slice(0, 12));

      const [claimed, ...more] = await q.claim('worker-a', 10, 30_000);
      expect(more).toEqual([]);
      expect(claimed).toMatchObject({
        id: d.id, messageId: d.messageId, routeId: d.routeId, destination: d.destination, orderingKey: 'H56-0001',
        payload: d.payload, acceptedAt: d.acceptedAt, state: 'active', attempts: 0,
      });
      expect(JSON.parse(claimed!.payload)).toEqual({ citizen: secret });
      expect(typeof claimed!.lease).toBe('string');
      expect(claimed!.firstAttemptAt).toBeTypeOf('number');
      expect(await q.counts()).toEqual({ ready: 0, delayed: 0, active: 1, dead: 0 });
      expect(await q.claim('worker-b', 10, 30_000)).toEqual([]);

      await q.complete(claimed!.id, claimed!.lease!);
      expect(await q.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
      expect(await q.claim('worker-a', 10, 30_000)).toEqual([]);
      expect(await q.getDead(d.id)).toBeUndefined();
    });

    it('hands deliveries out in acceptance order, at most `limit` at a time', async () => {
      const q = await open();
      const accepted: NewDelivery[] = [];
      for (let i = 0; i < 4; i++) accepted.push(await acceptOne(q, { destination: i % 2 ? 'vnpost.returnResult' : 'dvcqg.syncDossier' }));
      const batch = [delivery(), delivery(), delivery()];
      await q.accept({ messageId: batch[0]!.messageId, deliveries: batch.map((d) => ({ ...d, messageId: batch[0]!.messageId })) });
      accepted.push(...batch);
      const first = await q.claim('w1', 3, 30_000);
      expect(ids(first)).toEqual(ids(accepted.slice(0, 3) as Delivery[]));
      const rest = await q.claim('w1', 10, 30_000);
      expect(ids(rest)).toEqual(ids(accepted.slice(3) as Delivery[]));
      expect(await q.counts()).toMatchObject({ ready: 0, active: 7 });
    });

    it('does not hand out a retried delivery before it is due, and does once it is', async () => {
      const q = await open();
      const d = await acceptOne(q, { orderingKey: 'H56-0002' });
      const [first] = await claimAll(q);
      // A real-time driver's "not yet" checks run on the wall clock, so there the retry is due far later than
      // they can take on a loaded machine; a virtual clock moves only when told, so short steps are exact.
      const dueIn = clock.virtual ? 600 : 3_000;
      await q.retryLater(d.id, first!.lease!, clock.now() + dueIn, 'transport.timeout: no answer within 10 s');
      expect(await q.counts()).toEqual({ ready: 0, delayed: 1, active: 0, dead: 0 });
      expect(await claimAll(q)).toEqual([]);
      await clock.advance(250);
      expect(await claimAll(q)).toEqual([]);
      await clock.advance(dueIn - 250 + 100);
      const [again] = await eventually(async () => { const c = await claimAll(q); return c.length ? c : undefined; }, 2_000, 'the due retry');
      expect(again).toMatchObject({ id: d.id, attempts: 1, lastError: 'transport.timeout: no answer within 10 s', state: 'active' });
      expect(again!.firstAttemptAt).toBe(first!.firstAttemptAt);
      expect(again!.lease).not.toBe(first!.lease);
      // the old lease is gone with the retry
      await expect(q.complete(d.id, first!.lease!)).rejects.toSatisfy(isLeaseLost);
      await q.complete(d.id, again!.lease!);
      expect(await q.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
    });

    it('dead-letters with the reason, and lists, filters and reads dead letters', async () => {
      const q = await open();
      const a = await acceptOne(q, { destination: 'dvcqg.syncDossier', orderingKey: 'K1', routeId: 'r1' });
      const b = await acceptOne(q, { destination: 'vnpost.returnResult', orderingKey: '', routeId: 'r2' });
      const c = await acceptOne(q, { destination: 'dvcqg.syncDossier', orderingKey: 'K2', routeId: 'r1' });
      const claimed = await claimAll(q);
      expect(claimed).toHaveLength(3);
      const byId = new Map(claimed.map((d) => [d.id, d]));
      const t0 = clock.now();
      await q.deadLetter(a.id, byId.get(a.id)!.lease!, 'permanent error transport.peer-rejected (HTTP 400)');
      await clock.advance(10);
      await q.deadLetter(b.id, byId.get(b.id)!.lease!, 'gave up after 8 attempts');
      await clock.advance(10);
      await q.complete(c.id, byId.get(c.id)!.lease!);
      expect(await q.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 2 });

      const dead = await q.getDead(a.id);
      expect(dead).toMatchObject({ id: a.id, state: 'dead', attempts: 1, reason: 'permanent error transport.peer-rejected (HTTP 400)', payload: a.payload, destination: 'dvcqg.syncDossier', orderingKey: 'K1' });
      expect(dead!.deadAt).toBeGreaterThanOrEqual(t0);
      expect(dead!.lease).toBeUndefined();
      expect(await q.getDead(c.id)).toBeUndefined();
      expect(await q.getDead('no-such-id')).toBeUndefined();

      expect(ids(await q.listDead())).toEqual([a.id, b.id]);
      expect(ids(await q.listDead({ destination: 'vnpost.returnResult' }))).toEqual([b.id]);
      expect(ids(await q.listDead({ routeId: 'r1' }))).toEqual([a.id]);
      expect(ids(await q.listDead({ messageId: b.messageId }))).toEqual([b.id]);
      expect(ids(await q.listDead({ orderingKey: 'K1' }))).toEqual([a.id]);
      expect(ids(await q.listDead({ since: dead!.deadAt + 1 }))).toEqual([b.id]);
      expect(ids(await q.listDead({ since: dead!.deadAt }))).toEqual([a.id, b.id]);
      expect(ids(await q.listDead({ limit: 1 }))).toEqual([a.id]);
      expect(ids(await q.listDead({ limit: 1, offset: 1 }))).toEqual([b.id]);
      expect(await q.listDead({ destination: 'nowhere' })).toEqual([]);
    });

    it('frees the key of a dead-lettered head, so the next one of its key flows', async () => {
      const q = await open();
      const a1 = await acceptOne(q, { orderingKey: 'K' });
      const a2 = await acceptOne(q, { orderingKey: 'K' });
      const [h] = await claimAll(q);
      expect(h!.id).toBe(a1.id);
      expect(await claimAll(q)).toEqual([]);
      await q.deadLetter(a1.id, h!.lease!, 'permanent error');
      expect(ids(await claimAll(q))).toEqual([a2.id]);
    });

    it('replays a dead letter on the same path, attempts reset, behind what is queued for its key', async () => {
      const q = await open();
      const d1 = await acceptOne(q, { orderingKey: 'H56-0003' });
      const d2 = await acceptOne(q, { orderingKey: 'H56-0003' });
      const [c1] = await claimAll(q);
      await q.retryLater(d1.id, c1!.lease!, clock.now(), 'transport.failed: reset');
      const [c1b] = await claimAll(q);
      expect(c1b).toMatchObject({ id: d1.id, attempts: 1 });
      await q.deadLetter(d1.id, c1b!.lease!, 'gave up after 2 attempts');
      expect((await q.getDead(d1.id))!.attempts).toBe(2);
      const d3 = await acceptOne(q, { orderingKey: 'H56-0003' });

      expect(await q.replay([d1.id, 'unknown-id'])).toBe(1);
      expect(await q.replay([d1.id])).toBe(0); // no longer dead
      expect(await q.getDead(d1.id)).toBeUndefined();
      expect(await q.counts()).toEqual({ ready: 3, delayed: 0, active: 0, dead: 0 });

      const order: Delivery[] = [];
      for (let i = 0; i < 3; i++) {
        const claimed = await claimAll(q);
        expect(claimed).toHaveLength(1); // one at a time: same key
        order.push(claimed[0]!);
        await q.complete(claimed[0]!.id, claimed[0]!.lease!);
      }
      expect(ids(order)).toEqual([d2.id, d3.id, d1.id]);
      expect(order[2]).toMatchObject({ id: d1.id, attempts: 0, destination: d1.destination, messageId: d1.messageId, payload: d1.payload, routeId: d1.routeId });
      expect(order[2]!.firstAttemptAt).toBeGreaterThanOrEqual(c1!.firstAttemptAt!);
    });

    it('replays an unordered dead letter and one whose key is idle straight back', async () => {
      const q = await open();
      const u = await acceptOne(q);
      const k = await acceptOne(q, { orderingKey: 'idle' });
      for (const c of await claimAll(q)) await q.deadLetter(c.id, c.lease!, 'permanent error');
      expect(await q.replay([u.id, k.id, u.id])).toBe(2);
      expect(ids(await claimAll(q)).sort()).toEqual([u.id, k.id].sort());
    });

    it('discards a dead letter for good', async () => {
      const q = await open();
      const d = await acceptOne(q);
      const [c] = await claimAll(q);
      await q.deadLetter(d.id, c!.lease!, 'permanent error');
      expect(await q.discard(d.id, 'duplicate of dossier H56-0004, confirmed by phone')).toBe(true);
      expect(await q.getDead(d.id)).toBeUndefined();
      expect(await q.listDead()).toEqual([]);
      expect(await q.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
      expect(await q.discard(d.id, 'again')).toBe(false);
      expect(await q.discard('unknown', 'x')).toBe(false);
      expect(await q.replay([d.id])).toBe(0);
      // a queued (not dead) delivery cannot be discarded
      const e = await acceptOne(q);
      expect(await q.discard(e.id, 'x')).toBe(false);
      expect(ids(await claimAll(q))).toEqual([e.id]);
    });

    it('keeps idempotency keys: the same key gives back the first message id and queues nothing', async () => {
      const q = await open();
      const first = [delivery({ messageId: 'm1' }), delivery({ messageId: 'm1', destination: 'vnpost.returnResult' })];
      expect(await q.accept({ messageId: 'm1', idempotencyKey: 'H56:DOSSIER-1:status-2', deliveries: first })).toEqual({ messageId: 'm1', duplicate: false });
      const again = [delivery({ messageId: 'm2' })];
      expect(await q.accept({ messageId: 'm2', idempotencyKey: 'H56:DOSSIER-1:status-2', deliveries: again })).toEqual({ messageId: 'm1', duplicate: true });
      expect(await q.counts()).toMatchObject({ ready: 2 });
      expect(await q.accept({ messageId: 'm3', idempotencyKey: 'H56:DOSSIER-1:status-3', deliveries: [delivery({ messageId: 'm3' })] })).toEqual({ messageId: 'm3', duplicate: false });
      // a message with no deliveries still claims its key
      expect(await q.accept({ messageId: 'm4', idempotencyKey: 'empty', deliveries: [] })).toEqual({ messageId: 'm4', duplicate: false });
      expect(await q.accept({ messageId: 'm5', idempotencyKey: 'empty', deliveries: [] })).toEqual({ messageId: 'm4', duplicate: true });
      const claimed = await claimAll(q);
      expect(claimed.map((d) => d.messageId).sort()).toEqual(['m1', 'm1', 'm3']);
      // the key expires after its time to live
      expect(await q.accept({ messageId: 'm6', idempotencyKey: 'short', idempotencyTtlMs: 300, deliveries: [] })).toEqual({ messageId: 'm6', duplicate: false });
      expect(await q.accept({ messageId: 'm7', idempotencyKey: 'short', idempotencyTtlMs: 300, deliveries: [] })).toEqual({ messageId: 'm6', duplicate: true });
      await clock.advance(400);
      expect(await q.accept({ messageId: 'm8', idempotencyKey: 'short', idempotencyTtlMs: 300, deliveries: [] })).toEqual({ messageId: 'm8', duplicate: false });
    });

    describe('idempotency keys with fingerprints, and several keys per message', () => {
      const accepted = (messageId: string) => ({ messageId, duplicate: false });
      const duplicateOf = (messageId: string) => ({ messageId, duplicate: true });
      const conflictWith = (messageId: string) => ({ messageId, duplicate: false, conflict: true });

      it('takes a repeated key with the same fingerprint as a duplicate, refuses one with another (a conflict, nothing stored)', async () => {
        const q = await open();
        const first = delivery({ messageId: 'm1' });
        expect(await q.accept({ messageId: 'm1', idempotencyKeys: [{ key: 'hdr:K', fingerprint: 'sha256:aaa' }], deliveries: [first] })).toEqual(accepted('m1'));
        expect(await q.accept({ messageId: 'm2', idempotencyKeys: [{ key: 'hdr:K', fingerprint: 'sha256:aaa' }], deliveries: [delivery({ messageId: 'm2' })] })).toEqual(duplicateOf('m1'));
        // another message under the same key: refused, nothing of it stored (neither its deliveries nor its other keys), nothing leased
        const other = delivery({ messageId: 'm3' });
        expect(await q.accept({ messageId: 'm3', idempotencyKeys: [{ key: 'hdr:K', fingerprint: 'sha256:bbb' }, { key: 'biz:E3' }], deliveries: [other], lease: { workerId: 'w', leaseMs: 30_000, limit: 5 } })).toEqual(conflictWith('m1'));
        expect(await q.counts()).toEqual({ ready: 1, delayed: 0, active: 0, dead: 0 });
        expect(await q.accept({ messageId: 'm4', idempotencyKeys: [{ key: 'biz:E3' }], deliveries: [] })).toEqual(accepted('m4'));
        // a repeat without a fingerprint is a duplicate, whatever the key was stored with; so is one of a key stored without
        expect(await q.accept({ messageId: 'm5', idempotencyKey: 'hdr:K', deliveries: [] })).toEqual(duplicateOf('m1'));
        expect(await q.accept({ messageId: 'm6', idempotencyKeys: [{ key: 'plain' }], deliveries: [] })).toEqual(accepted('m6'));
        expect(await q.accept({ messageId: 'm7', idempotencyKeys: [{ key: 'plain', fingerprint: 'sha256:ccc' }], deliveries: [] })).toEqual(duplicateOf('m6'));
        expect(ids(await claimAll(q))).toEqual([first.id]);
        // the fingerprint expires with its key
        expect(await q.accept({ messageId: 'm8', idempotencyKeys: [{ key: 'short', fingerprint: 'sha256:1' }], idempotencyTtlMs: 300, deliveries: [] })).toEqual(accepted('m8'));
        expect(await q.accept({ messageId: 'm9', idempotencyKeys: [{ key: 'short', fingerprint: 'sha256:2' }], idempotencyTtlMs: 300, deliveries: [] })).toEqual(conflictWith('m8'));
        await clock.advance(400);
        expect(await q.accept({ messageId: 'm10', idempotencyKeys: [{ key: 'short', fingerprint: 'sha256:2' }], idempotencyTtlMs: 300, deliveries: [] })).toEqual(accepted('m10'));
      });

      it('checks every key: a repeat under either is a duplicate, a same-event key winning over a conflicting one', async () => {
        const q = await open();
        const first = delivery({ messageId: 'm1' });
        expect(await q.accept({ messageId: 'm1', idempotencyKeys: [{ key: 'hdr:A', fingerprint: 'sha256:e1' }, { key: 'biz:E1' }], deliveries: [first] })).toEqual(accepted('m1'));
        // a new header key, the same event: a duplicate (and the new header key is not stored)
        expect(await q.accept({ messageId: 'm2', idempotencyKeys: [{ key: 'hdr:B', fingerprint: 'sha256:e1' }, { key: 'biz:E1' }], deliveries: [delivery({ messageId: 'm2' })] })).toEqual(duplicateOf('m1'));
        // each key alone finds the message
        expect(await q.accept({ messageId: 'm3', idempotencyKeys: [{ key: 'hdr:A', fingerprint: 'sha256:e1' }], deliveries: [] })).toEqual(duplicateOf('m1'));
        expect(await q.accept({ messageId: 'm4', idempotencyKeys: [{ key: 'biz:E1' }], deliveries: [] })).toEqual(duplicateOf('m1'));
        // the header key with other content, but the same event by its business key: that event is there, a duplicate
        expect(await q.accept({ messageId: 'm5', idempotencyKeys: [{ key: 'hdr:A', fingerprint: 'sha256:e1-edited' }, { key: 'biz:E1' }], deliveries: [] })).toEqual(duplicateOf('m1'));
        // the header key for another event: a conflict
        expect(await q.accept({ messageId: 'm6', idempotencyKeys: [{ key: 'hdr:A', fingerprint: 'sha256:e2' }, { key: 'biz:E2' }], deliveries: [delivery({ messageId: 'm6' })] })).toEqual(conflictWith('m1'));
        // hdr:B was not stored by the duplicate m2, nor biz:E2 by the conflict m6
        const second = delivery({ messageId: 'm7' });
        expect(await q.accept({ messageId: 'm7', idempotencyKeys: [{ key: 'hdr:B', fingerprint: 'sha256:e2' }, { key: 'biz:E2' }], deliveries: [second] })).toEqual(accepted('m7'));
        // the shorthand key and the list together (a key given twice counts once)
        expect(await q.accept({ messageId: 'm8', idempotencyKey: 'fed:X', idempotencyKeys: [{ key: 'biz:E3' }, { key: 'biz:E3' }], deliveries: [] })).toEqual(accepted('m8'));
        expect(await q.accept({ messageId: 'm9', idempotencyKeys: [{ key: 'fed:X' }], deliveries: [] })).toEqual(duplicateOf('m8'));
        expect(await q.accept({ messageId: 'm10', idempotencyKey: 'biz:E3', deliveries: [] })).toEqual(duplicateOf('m8'));
        expect(ids(await claimAll(q))).toEqual([first.id, second.id]);
      });

      it('of concurrent accepts sharing a key, in several instances, exactly one is accepted', async () => {
        const instances = [await open(), await open(), await open()];
        const n = 12;
        const race = (keysOf: (i: number) => Array<{ key: string; fingerprint?: string }>) =>
          Promise.all(Array.from({ length: n }, (_, i) => {
            const d = delivery({ messageId: `race-${randomUUID()}` });
            return instances[i % instances.length]!.accept({ messageId: d.messageId, idempotencyKeys: keysOf(i), deliveries: [d] });
          }));
        const winnerOf = (results: Array<{ messageId: string; duplicate: boolean; conflict?: true }>) => {
          const winners = results.filter((r) => !r.duplicate && !r.conflict);
          expect(winners).toHaveLength(1);
          return winners[0]!.messageId;
        };

        // genuine retries racing: one accepted, the others duplicates of it
        const retries = await race(() => [{ key: 'hdr:same', fingerprint: 'sha256:f' }]);
        const retried = winnerOf(retries);
        expect(retries.filter((r) => r.duplicate).map((r) => r.messageId)).toEqual(Array(n - 1).fill(retried));
        // different messages under one key: one accepted, the others conflicts naming it
        const reused = await race((i) => [{ key: 'hdr:reused', fingerprint: `sha256:${i}` }]);
        const kept = winnerOf(reused);
        expect(reused.filter((r) => r.conflict)).toEqual(Array(n - 1).fill({ messageId: kept, duplicate: false, conflict: true }));
        // one event under different header keys: one accepted, by the business key the others are its duplicates
        const event = await race((i) => [{ key: `hdr:${i}`, fingerprint: 'sha256:g' }, { key: 'biz:one-event' }]);
        const one = winnerOf(event);
        expect(event.filter((r) => r.duplicate).map((r) => r.messageId)).toEqual(Array(n - 1).fill(one));

        expect(await instances[0]!.counts()).toMatchObject({ ready: 3, active: 0 });
        const handed = await claimAll(instances[0]!);
        expect(handed.map((d) => d.messageId).sort()).toEqual([retried, kept, one].sort());
      }, 20_000);
    });

    it('keeps per-key FIFO under retries: a retried head blocks only its own key', async () => {
      const q = await open();
      const a = [await acceptOne(q, { orderingKey: 'A' }), await acceptOne(q, { orderingKey: 'A' }), await acceptOne(q, { orderingKey: 'A' })];
      const b = [await acceptOne(q, { orderingKey: 'B' }), await acceptOne(q, { orderingKey: 'B' })];
      // same ordering key, other destination: another line
      const other = await acceptOne(q, { orderingKey: 'A', destination: 'vnpost.returnResult' });
      const u = [await acceptOne(q), await acceptOne(q)];

      const first = await claimAll(q);
      expect(ids(first)).toEqual([a[0]!.id, b[0]!.id, other.id, u[0]!.id, u[1]!.id]);
      const lease = new Map(first.map((d) => [d.id, d.lease!]));
      await q.retryLater(a[0]!.id, lease.get(a[0]!.id)!, clock.now() + 500, 'transport.unreachable');
      await q.complete(b[0]!.id, lease.get(b[0]!.id)!);
      // B flows while A waits for its retry
      const second = await claimAll(q);
      expect(ids(second)).toEqual([b[1]!.id]);
      await q.complete(b[1]!.id, second[0]!.lease!);
      expect(await claimAll(q)).toEqual([]);
      expect(await q.counts()).toMatchObject({ delayed: 1, ready: 2, active: 3 });

      await clock.advance(600);
      const [retried] = await eventually(async () => { const c = await claimAll(q); return c.length ? c : undefined; }, 2_000, 'the due head of A');
      expect(retried).toMatchObject({ id: a[0]!.id, attempts: 1 });
      expect(await claimAll(q)).toEqual([]);
      await q.complete(retried!.id, retried!.lease!);
      const [next] = await claimAll(q);
      expect(next!.id).toBe(a[1]!.id);
      await q.complete(next!.id, next!.lease!);
      expect(ids(await claimAll(q))).toEqual([a[2]!.id]);
    });

    it('hands unordered deliveries out in parallel', async () => {
      const q = await open();
      const batch = Array.from({ length: 20 }, () => delivery({ messageId: 'many' }));
      await q.accept({ messageId: 'many', deliveries: batch });
      const claimed = await q.claim('w1', 50, 30_000);
      expect(ids(claimed)).toEqual(ids(batch as Delivery[]));
      expect(new Set(claimed.map((d) => d.lease)).size).toBe(20);
    });

    it('never hands out a delivery again while its lease runs, even to another instance', async () => {
      const q = await open();
      const other = await open();
      const d = await acceptOne(q);
      const [c] = await q.claim('w1', 1, 5_000);
      await clock.advance(800 + recoveryMs);
      expect(await other.claim('w2', 5, 30_000)).toEqual([]);
      expect(await q.claim('w1', 5, 30_000)).toEqual([]);
      await q.complete(d.id, c!.lease!);
    });

    it('extends a lease, and reports a lost one', async () => {
      const q = await open();
      const d = await acceptOne(q, { orderingKey: 'L' });
      const [c] = await q.claim('w1', 1, 400);
      expect(await q.extend(d.id, c!.lease!, 3_000)).toBe(true);
      expect(await q.extend(d.id, 'not-the-lease', 3_000)).toBe(false);
      await clock.advance(700 + recoveryMs);
      expect(await q.claim('w2', 5, 30_000)).toEqual([]);
      await q.complete(d.id, c!.lease!);
      expect(await q.extend(d.id, c!.lease!, 3_000)).toBe(false);
      await expect(q.complete(d.id, c!.lease!)).rejects.toSatisfy(isLeaseLost);
      await expect(q.retryLater(d.id, c!.lease!, clock.now(), 'x')).rejects.toSatisfy(isLeaseLost);
      await expect(q.deadLetter(d.id, c!.lease!, 'x')).rejects.toSatisfy(isLeaseLost);
      await expect(q.complete('unknown', 'x')).rejects.toSatisfy(isLeaseLost);
    });

    it('hands back a lease at once (release): due now for any claimer, attempts and key order kept, no attempt counted', async () => {
      const q = await open();
      const other = await open();
      const d1 = await acceptOne(q, { orderingKey: 'REL' });
      const d2 = await acceptOne(q, { orderingKey: 'REL' });
      const [c] = await q.claim('w1', 5, 600_000);
      expect(c!.id).toBe(d1.id);
      expect(await other.claim('w2', 5, 30_000)).toEqual([]);
      expect(await q.release(d1.id, 'not-the-lease')).toBe(false);
      expect(await q.release(d1.id, c!.lease!)).toBe(true);
      expect(await q.release(d1.id, c!.lease!)).toBe(false);
      expect(await q.counts()).toMatchObject({ active: 0, dead: 0 });
      const [back, ...rest] = await eventually(async () => { const got = await other.claim('w2', 5, 30_000); return got.length ? got : undefined; }, 3_000, 'the released delivery');
      expect(rest).toEqual([]);
      expect(back).toMatchObject({ id: d1.id, attempts: 0, state: 'active', payload: d1.payload });
      expect(back!.lease).not.toBe(c!.lease);
      await expect(q.complete(d1.id, c!.lease!)).rejects.toSatisfy(isLeaseLost);
      await other.complete(back!.id, back!.lease!);
      expect(ids(await other.claim('w2', 5, 30_000))).toEqual([d2.id]);
    });

    it('releases a lease given at acceptance as well', async () => {
      const q = await open();
      const d = delivery({ orderingKey: 'REL-A' });
      const [l] = (await q.accept({ messageId: d.messageId, deliveries: [d], lease: { workerId: 'w-accept', leaseMs: 600_000, limit: 1 } })).leased!;
      expect(await claimAll(q)).toEqual([]);
      expect(await q.release(d.id, l!.lease)).toBe(true);
      const [back] = await eventually(async () => { const got = await claimAll(q); return got.length ? got : undefined; }, 3_000, 'the released delivery');
      expect(back).toMatchObject({ id: d.id, attempts: 0 });
    });

    it('hands out a delivery whose payload it cannot open leased and flagged unsealable, for the claimer to dead-letter (never silently)', async () => {
      const q = await open();
      const d1 = await acceptOne(q, { orderingKey: 'UNS' });
      const d2 = await acceptOne(q, { orderingKey: 'UNS' });
      const rekeyed = await store!.openWithOtherKey();
      drivers.push(rekeyed);
      const [c, ...rest] = await rekeyed.claim('w-rekeyed', 5, 30_000);
      expect(rest).toEqual([]);
      expect(c).toMatchObject({ id: d1.id, messageId: d1.messageId, destination: d1.destination, state: 'active', attempts: 0, payload: 'null' });
      expect(c!.unsealable).toMatch(/^server\.unsealable: .*data key/);
      expect(typeof c!.lease).toBe('string');
      // Nothing happened behind the claimer's back: still leased, not dead, its key still held.
      expect(await q.counts()).toMatchObject({ active: 1, dead: 0 });
      expect(await q.getDead(d1.id)).toBeUndefined();
      expect(await rekeyed.claim('w-rekeyed', 5, 30_000)).toEqual([]);
      await rekeyed.deadLetter(d1.id, c!.lease!, c!.unsealable!);
      expect(await q.getDead(d1.id)).toMatchObject({ id: d1.id, reason: c!.unsealable, payload: d1.payload });
      // the key moves on; the right key opens the next one (the re-keyed instance closes first: the Redis driver may
      // hold the key's next ticket, fetched along with the dead-lettering, until it claims or closes)
      await rekeyed.close();
      const [next] = await eventually(async () => { const got = await q.claim('w1', 5, 30_000); return got.length ? got : undefined; }, 3_000, 'the next delivery of the key');
      expect(next).toMatchObject({ id: d2.id, payload: d2.payload });
      expect(next!.unsealable).toBeUndefined();
    });

    it('recovers a delivery whose lease expired (crashed worker), in another driver instance, attempts kept', async () => {
      const crashed = await open();
      const survivor = await open();
      const d1 = await acceptOne(crashed, { orderingKey: 'H56-0005' });
      const d2 = await acceptOne(crashed, { orderingKey: 'H56-0005' });
      const [c] = await crashed.claim('crashed-worker', 5, 400);
      expect(c!.id).toBe(d1.id);
      expect(await survivor.claim('survivor', 5, 30_000)).toEqual([]);
      await clock.advance(500);
      const [back] = await eventually(async () => { const got = await survivor.claim('survivor', 5, 30_000); return got.length ? got : undefined; }, 3_000 + recoveryMs, 'the expired lease to come back');
      expect(back).toMatchObject({ id: d1.id, attempts: 0, state: 'active' });
      expect(back!.lease).not.toBe(c!.lease);
      expect(back!.firstAttemptAt).toBe(c!.firstAttemptAt);
      // the key stays blocked behind its recovered head
      expect(await survivor.claim('survivor', 5, 30_000)).toEqual([]);
      // the crashed worker's late answer changes nothing
      await expect(crashed.complete(d1.id, c!.lease!)).rejects.toSatisfy(isLeaseLost);
      expect(await crashed.extend(d1.id, c!.lease!, 10_000)).toBe(false);
      await survivor.complete(back!.id, back!.lease!);
      expect(ids(await survivor.claim('survivor', 5, 30_000))).toEqual([d2.id]);
    });

    it('recovers the lease of a driver that was closed mid-delivery', async () => {
      const first = await open();
      const d = await acceptOne(first);
      const [c] = await first.claim('w-first', 1, 300);
      expect(c!.id).toBe(d.id);
      await first.close();
      const second = await open();
      await clock.advance(400);
      const [back] = await eventually(async () => { const got = await second.claim('w-second', 1, 30_000); return got.length ? got : undefined; }, 3_000 + recoveryMs, 'recovery after close');
      expect(back!.id).toBe(d.id);
      await second.complete(back!.id, back!.lease!);
      expect(await second.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
    });

    it('two driver instances claiming in parallel hand every delivery out exactly once, keys in order', async () => {
      const seed = await open();
      const N = 200;
      const all: NewDelivery[] = [];
      for (let i = 0; i < N; i += 10) {
        const messageId = `burst-${i}`;
        const batch = Array.from({ length: 10 }, (_, j) => delivery({ messageId, orderingKey: (i + j) % 2 ? '' : `key-${(i + j) % 20}` }));
        await seed.accept({ messageId, deliveries: batch });
        all.push(...batch);
      }
      const a = await open();
      const b = await open();
      const handedOut = new Map<string, number>();
      const inFlight = new Set<string>();
      const busyKeys = new Set<string>();
      const completedOrder: string[] = [];
      const problems: string[] = [];
      const work = async (q: QueueDriver, worker: string) => {
        const deadline = Date.now() + 15_000;
        while (completedOrder.length < N && Date.now() < deadline) {
          const claimed = await q.claim(worker, 7, 30_000);
          if (!claimed.length) { await sleep(5); continue; }
          for (const d of claimed) {
            if (inFlight.has(d.id)) problems.push(`${d.id} claimed by ${worker} while leased`);
            if (d.orderingKey && busyKeys.has(d.orderingKey)) problems.push(`${d.id} of ${d.orderingKey} claimed by ${worker} while another of its key is in flight`);
            inFlight.add(d.id);
            if (d.orderingKey) busyKeys.add(d.orderingKey);
            handedOut.set(d.id, (handedOut.get(d.id) ?? 0) + 1);
          }
          await sleep(1);
          for (const d of claimed) {
            inFlight.delete(d.id);
            completedOrder.push(d.id);
            if (d.orderingKey) busyKeys.delete(d.orderingKey); // before the store frees the key
            await q.complete(d.id, d.lease!);
          }
        }
      };
      await Promise.all([work(a, 'A'), work(b, 'B'), work(a, 'A2')]);
      expect(problems).toEqual([]);
      expect(handedOut.size).toBe(N);
      expect([...handedOut.values()].every((count) => count === 1)).toBe(true);
      // per key, completion follows acceptance
      const position = new Map(completedOrder.map((id, i) => [id, i]));
      for (let k = 0; k < 20; k += 2) {
        const line = all.filter((d) => d.orderingKey === `key-${k}`).map((d) => position.get(d.id)!);
        expect(line).toEqual([...line].sort((x, y) => x - y));
      }
      expect(await seed.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
    }, 25_000);

    describe('leases given at acceptance', () => {
      const lease = (limit: number, leaseMs = 30_000) => ({ workerId: 'w-accept', leaseMs, limit });

      it('leases only deliveries that may start now, at most `limit`, and hands the rest to claims', async () => {
        const q = await open();
        await acceptOne(q, { orderingKey: 'busy' });
        const message = randomUUID();
        const behind = delivery({ messageId: message, orderingKey: 'busy' });
        const [a, b, c] = [delivery({ messageId: message, orderingKey: 'K-a' }), delivery({ messageId: message }), delivery({ messageId: message, destination: 'emc.tracking', orderingKey: 'K-a' })];
        const accepted = await q.accept({ messageId: message, deliveries: [behind, a!, b!, c!], lease: lease(2) });
        expect(accepted.duplicate).toBe(false);
        expect(accepted.leased?.map((l) => l.id)).toEqual([a!.id, b!.id]);
        for (const l of accepted.leased!) expect(typeof l.lease).toBe('string');
        expect(await q.counts()).toEqual({ ready: 3, delayed: 0, active: 2, dead: 0 });
        // the leased ones are nobody else's; the unleased head and the first message's delivery are claimable
        const claimed = await q.claim('w-other', 10, 30_000);
        expect(new Set(ids(claimed))).toEqual(new Set([c!.id, claimed.find((d) => d.orderingKey === 'busy')!.id]));
        expect(claimed.map((d) => d.id)).not.toContain(behind.id);
        for (const l of accepted.leased!) await q.complete(l.id, l.lease);
        await expect(q.complete(a!.id, accepted.leased![0]!.lease)).rejects.toSatisfy(isLeaseLost);
        expect(await q.counts()).toEqual({ ready: 1, delayed: 0, active: 2, dead: 0 });
      });

      it('leases nothing on a repeated idempotency key, and nothing when asked for none', async () => {
        const q = await open();
        const first = delivery();
        await q.accept({ messageId: first.messageId, idempotencyKey: 'H56-0009|4', deliveries: [first], lease: lease(5) });
        const again = delivery();
        expect(await q.accept({ messageId: again.messageId, idempotencyKey: 'H56-0009|4', deliveries: [again], lease: lease(5) })).toEqual({ messageId: first.messageId, duplicate: true });
        const none = delivery();
        expect(await q.accept({ messageId: none.messageId, deliveries: [none], lease: lease(0) })).toEqual({ messageId: none.messageId, duplicate: false });
        expect(ids(await claimAll(q))).toEqual([none.id]);
      });

      it('ends such a lease like a claimed one: extend, retry when due, dead-letter, and the key moves on', async () => {
        const q = await open();
        const [d1, d2, d3] = [delivery({ orderingKey: 'R' }), delivery({ orderingKey: 'D' }), delivery({ orderingKey: 'D' })];
        const l1 = (await q.accept({ messageId: d1!.messageId, deliveries: [d1!], lease: lease(1, 400) })).leased![0]!;
        const l2 = (await q.accept({ messageId: d2!.messageId, deliveries: [d2!], lease: lease(1) })).leased![0]!;
        await q.accept({ messageId: d3!.messageId, deliveries: [d3!], lease: lease(1) });
        expect(await q.extend(d1!.id, l1.lease, 30_000)).toBe(true);
        await clock.advance(600 + recoveryMs);
        expect(await claimAll(q)).toEqual([]);

        await q.retryLater(d1!.id, l1.lease, clock.now() + 500, 'transport.timeout');
        await q.deadLetter(d2!.id, l2.lease, 'permanent error');
        expect(ids(await claimAll(q))).toEqual([d3!.id]);
        await clock.advance(600);
        const [again] = await eventually(async () => { const c = await claimAll(q); return c.length ? c : undefined; }, 3_000 + recoveryMs, 'the retried delivery, when due');
        expect(again).toMatchObject({ id: d1!.id, attempts: 1, lastError: 'transport.timeout' });
        expect((await q.getDead(d2!.id))?.reason).toBe('permanent error');
      });

      it('brings an expired one back (a process that crashed after accepting), attempts kept', async () => {
        const crashed = await open();
        const survivor = await open();
        const [d1, d2] = [delivery({ orderingKey: 'X' }), delivery({ orderingKey: 'X' })];
        const accepted = await crashed.accept({ messageId: d1!.messageId, deliveries: [d1!], lease: lease(1, 400) });
        await crashed.accept({ messageId: d2!.messageId, deliveries: [d2!], lease: lease(1, 400) });
        expect(await survivor.claim('survivor', 5, 30_000)).toEqual([]);
        await clock.advance(500);
        const [back] = await eventually(async () => { const got = await survivor.claim('survivor', 5, 30_000); return got.length ? got : undefined; }, 3_000 + recoveryMs, 'the expired acceptance lease to come back');
        expect(back).toMatchObject({ id: d1!.id, attempts: 0, payload: d1!.payload });
        expect(back!.lease).not.toBe(accepted.leased![0]!.lease);
        await expect(crashed.complete(d1!.id, accepted.leased![0]!.lease)).rejects.toSatisfy(isLeaseLost);
        await survivor.complete(back!.id, back!.lease!);
        expect(ids(await survivor.claim('survivor', 5, 30_000))).toEqual([d2!.id]);
      });
    });

    it('retention: drops the payloads of old dead letters (then refuses to replay them), and removes older ones for good', async () => {
      const q = await open();
      const kill = async (d: NewDelivery) => {
        const [c] = await q.claim('w1', 1, 30_000);
        expect(c!.id).toBe(d.id);
        await q.deadLetter(d.id, c!.lease!, 'permanent error');
        return (await q.getDead(d.id))!;
      };
      const d1 = await acceptOne(q, { orderingKey: 'RET' });
      const dead1 = await kill(d1);
      await clock.advance(20);
      const d2 = await acceptOne(q, { orderingKey: 'RET' });
      const dead2 = await kill(d2);
      expect(dead2.deadAt).toBeGreaterThan(dead1.deadAt);

      expect(await q.purgeDead({ payloadBefore: dead2.deadAt, deadBefore: 0, limit: 100 })).toEqual({ payloadsDropped: 1, removed: [] });
      expect(await q.getDead(d1.id)).toMatchObject({ id: d1.id, payload: 'null', reason: 'permanent error', unsealable: expect.stringMatching(/^payload dropped by retention/) });
      expect(await q.getDead(d2.id)).toMatchObject({ id: d2.id, payload: d2.payload });
      expect((await q.getDead(d2.id))!.unsealable).toBeUndefined();
      expect(await q.replay([d1.id])).toBe(0);
      expect(await q.getDead(d1.id)).toMatchObject({ state: 'dead' });
      expect(await q.purgeDead({ payloadBefore: dead2.deadAt, deadBefore: 0, limit: 100 })).toEqual({ payloadsDropped: 0, removed: [] });
      expect(await q.counts()).toMatchObject({ dead: 2 });

      expect(await q.purgeDead({ payloadBefore: dead2.deadAt, deadBefore: dead2.deadAt, limit: 100 })).toEqual({
        payloadsDropped: 0, removed: [{ id: d1.id, messageId: d1.messageId, destination: d1.destination, deadAt: dead1.deadAt }],
      });
      expect(await q.getDead(d1.id)).toBeUndefined();
      expect((await q.listDead()).map((d) => d.id)).toEqual([d2.id]);
      expect(await q.counts()).toMatchObject({ dead: 1 });
      // a payload-less dead letter can still be discarded
      await q.purgeDead({ payloadBefore: dead2.deadAt + 1, deadBefore: 0, limit: 100 });
      expect(await q.discard(d2.id, 'gone')).toBe(true);
      expect(await q.counts()).toMatchObject({ dead: 0 });
    });

    it('retention works in batches of `limit`', async () => {
      const q = await open();
      const made: NewDelivery[] = [];
      for (let i = 0; i < 3; i++) made.push(await acceptOne(q));
      for (const c of await claimAll(q)) await q.deadLetter(c.id, c.lease!, 'x');
      await clock.advance(20);
      const at = clock.now();
      const first = await q.purgeDead({ payloadBefore: at, deadBefore: at, limit: 2 });
      expect(first.removed).toHaveLength(2);
      const second = await q.purgeDead({ payloadBefore: at, deadBefore: at, limit: 2 });
      expect(second.removed).toHaveLength(1);
      expect(new Set([...first.removed, ...second.removed].map((r) => r.id))).toEqual(new Set(ids(made as Delivery[])));
      expect(await q.counts()).toMatchObject({ dead: 0 });
    });

    it('counts ready, delayed, active and dead deliveries', async () => {
      const q = await open();
      expect(await q.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
      await acceptOne(q, { orderingKey: 'C' });
      await acceptOne(q, { orderingKey: 'C' });
      await acceptOne(q);
      await acceptOne(q);
      expect(await q.counts()).toEqual({ ready: 4, delayed: 0, active: 0, dead: 0 });
      const claimed = await claimAll(q);
      expect(claimed).toHaveLength(3);
      expect(await q.counts()).toEqual({ ready: 1, delayed: 0, active: 3, dead: 0 });
      await q.retryLater(claimed[0]!.id, claimed[0]!.lease!, clock.now() + 60_000, 'transport.timeout');
      await q.deadLetter(claimed[1]!.id, claimed[1]!.lease!, 'permanent error');
      expect(await q.counts()).toEqual({ ready: 1, delayed: 1, active: 1, dead: 1 });
    });
  });
}
