import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/config/registry.js';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import type { Delivery, NewDelivery, QueueDriver } from '../../src/delivery/types.js';
import type { DeliveryResult } from '../../src/pipeline/deliver.js';
import { startWorker, type Worker } from '../../src/pipeline/worker.js';
import { openMessageLog } from '../../src/store/open.js';
import type { MessageLog } from '../../src/store/types.js';

/**
 * The worker's hand-off (accepts that lease fresh deliveries straight to the worker), on the real embedded queue.
 * The deliverer is a function the test holds open, standing in for the peer.
 */
describe('worker: deliveries handed off at acceptance', () => {
  let queue: QueueDriver;
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await queue.close();
  });

  /** A worker on a fresh queue, once its first claim has found the queue empty (until then it hands nothing off). */
  async function setUp(concurrency: number, leaseMs = 30_000) {
    queue = openSqliteQueue({ file: ':memory:', sealer: createSealer(randomBytes(32)) });
    const claimedIds: string[] = [];
    const extended: string[] = [];
    let claims = 0;
    const counted: QueueDriver = {
      ...queue,
      claim: async (...args) => { const got = await queue.claim(...args); claimedIds.push(...got.map((d) => d.id)); claims++; return got; },
      extend: async (id, lease, ms) => { extended.push(id); return queue.extend(id, lease, ms); },
    };
    const started: Delivery[] = [];
    const release: Array<() => void> = [];
    const deliver = (delivery: Delivery) => new Promise<DeliveryResult>((resolve) => {
      started.push(delivery);
      release.push(() => resolve({ ok: true, httpStatus: 200, requestBytes: 10, responseBytes: 2, durationMs: 1, requestInAt: Date.now() }));
    });
    worker = startWorker({
      registry: {} as Registry, queue: counted, deliver, log: pino({ level: 'silent' }),
      workerId: 'w-test', concurrency, leaseMs, pollIntervalMs: 20,
    });
    await until(() => claims > 0, 'the first claim');
    await new Promise((r) => setImmediate(r));
    return { intake: worker.handOff(), claimedIds, extended, started, releaseAll: () => release.splice(0).forEach((r) => r()) };
  }

  const newDelivery = (over: Partial<NewDelivery> = {}): NewDelivery => ({
    id: randomUUID(), messageId: randomUUID(), routeId: 'dossier-status', destination: 'dvcqg.capNhatTienDo', orderingKey: '',
    payload: JSON.stringify({ maHoSo: '000.00.14.H56-250307-00001' }), acceptedAt: Date.now(), ...over,
  });
  const until = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 3_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('starts accepted deliveries at once, without a claim, with the payload as accepted', async () => {
    const { intake, claimedIds, started, releaseAll } = await setUp(8);
    const d = newDelivery();
    const accepted = await intake.accept({ messageId: d.messageId, deliveries: [d] });
    expect(accepted).toMatchObject({ messageId: d.messageId, duplicate: false });
    expect(accepted.leased).toHaveLength(1);
    await until(() => started.length === 1, 'the delivery to start');
    expect(started[0]).toMatchObject({ id: d.id, payload: d.payload, state: 'active', attempts: 0, lease: accepted.leased![0]!.lease });
    releaseAll();
    await until(() => worker!.inFlight() === 0, 'the delivery to finish');
    expect(await queue.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
    expect(claimedIds).toEqual([]);
  });

  it('leases up to as many again as it has slots: those wait their turn in order, the rest are claimed behind them', async () => {
    const { intake, claimedIds, started, releaseAll } = await setUp(2);
    const ds = [newDelivery(), newDelivery(), newDelivery(), newDelivery(), newDelivery()];
    for (const d of ds) await intake.accept({ messageId: d.messageId, deliveries: [d] });
    await until(() => started.length === 2, 'two deliveries to start');
    expect(claimedIds).not.toContain(ds[3]!.id);
    // The fifth was not leased at acceptance; with every slot busy, the worker still looks for it, and it waits its turn.
    await until(() => claimedIds.length === 1, 'the fifth delivery to be claimed');
    expect(claimedIds).toEqual([ds[4]!.id]);
    expect(worker!.inFlight()).toBe(5);
    releaseAll();
    await until(() => started.length === 4, 'the waiting deliveries to start');
    releaseAll();
    await until(() => started.length === 5, 'the fifth delivery to start');
    expect(started.map((d) => d.id)).toEqual(ds.map((d) => d.id));
    releaseAll();
    await until(() => worker!.inFlight() === 0, 'all deliveries to finish');
    expect(await queue.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
  });

  it('renews the lease of a delivery that waited for a slot through half of it, before delivering it', async () => {
    const { intake, extended, started, releaseAll } = await setUp(1, 200);
    const [first, second] = [newDelivery(), newDelivery()];
    await intake.accept({ messageId: first.messageId, deliveries: [first] });
    await intake.accept({ messageId: second.messageId, deliveries: [second] });
    await until(() => started.length === 1, 'the first delivery to start');
    await new Promise((r) => setTimeout(r, 150));
    // In flight through a third of its lease, the first delivery has had it renewed; the waiting one not yet.
    expect(extended).toContain(first.id);
    expect(extended).not.toContain(second.id);
    releaseAll();
    await until(() => started.length === 2, 'the waiting delivery to start');
    expect(extended).toContain(second.id);
    releaseAll();
    await until(() => worker!.inFlight() === 0, 'both deliveries to finish');
    expect(await queue.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
  });

  it('under steady load, a delivery only a claim can start (a dossier\'s next event) is not overtaken for as long as the load lasts', async () => {
    const { intake, started, releaseAll } = await setUp(2);
    const accept = (d: NewDelivery) => intake.accept({ messageId: d.messageId, deliveries: [d] });
    const [first, next] = [newDelivery({ orderingKey: 'K' }), newDelivery({ orderingKey: 'K' })];
    await accept(first);
    await accept(next); // not its key's head: queued behind the first, for a claim to start once the first is done
    for (let i = 0; i < 3; i++) await accept(newDelivery());
    for (let round = 0; round < 40 && !started.some((d) => d.id === next.id); round++) {
      releaseAll();
      // Fresh messages keep every slot and the waiting line busy.
      for (let i = 0; i < 2; i++) await accept(newDelivery());
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(started.map((d) => d.id)).toContain(next.id);
    // It started within a few rounds of its turn (the first delivery's end), not after the whole load.
    expect(started.findIndex((d) => d.id === next.id)).toBeLessThan(12);
    while (worker!.inFlight() > 0) {
      releaseAll();
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  it('leases nothing once stopping: an accept during shutdown leaves its deliveries queued', async () => {
    const { intake, started } = await setUp(4);
    await worker!.stop();
    const d = newDelivery();
    const accepted = await intake.accept({ messageId: d.messageId, deliveries: [d] });
    expect(accepted.leased).toBeUndefined();
    expect(started).toEqual([]);
    expect(await queue.counts()).toMatchObject({ ready: 1, active: 0 });
  });
});

/**
 * A message log that refuses writes (a database outage) must not hold deliveries back: a delivery left unsettled would
 * come back with every lease expiry and reach the peer again and again for as long as the outage lasts.
 */
describe('worker: the message log is down', () => {
  it('settles each delivery once, and writes its events when the log takes them again', async () => {
    const sealer = createSealer(randomBytes(32));
    const queue = openSqliteQueue({ file: ':memory:', sealer });
    const store = await openMessageLog({ sqliteFile: ':memory:', sealer });
    // The real log, but for its first two event writes.
    const refusing = refusingEvents(store, 2);
    const messageLog = refusing.log;
    const sent: string[] = [];
    const deliver = async (delivery: Delivery): Promise<DeliveryResult> => {
      sent.push(delivery.id);
      return { ok: true, httpStatus: 200, requestBytes: 10, responseBytes: 2, durationMs: 1, requestInAt: Date.now() };
    };
    const worker = startWorker({ registry: {} as Registry, queue, deliver, log: pino({ level: 'silent' }), messageLog, workerId: 'w-log-down', concurrency: 2, leaseMs: 200, pollIntervalMs: 20 });
    try {
      const messageId = randomUUID();
      await store.recordMessage({ id: messageId, messageType: 'DossierStatusChanged', participant: 'VN/GOV/000.00.14.H56/MOTCUA', connector: 'onegate-h56', operation: 'dossier-status', correlationId: messageId, receivedAt: Date.now(), state: 'accepted', deliveries: 1 });
      const delivery: NewDelivery = { id: randomUUID(), messageId, routeId: 'dossier-status', destination: 'dvcqg.CapNhatTienDoHoSoMC', orderingKey: '', payload: '{}', acceptedAt: Date.now() };
      await queue.accept({ messageId, deliveries: [delivery] });
      // The events reach the log after two refusals (retried 0.5 s, then 1 s later): by then many 200 ms leases passed.
      const deadline = Date.now() + 15_000;
      while (!(await store.history(messageId))?.events.some((e) => e.kind === 'delivered') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await store.history(messageId))!.events.map((e) => e.kind)).toContain('delivered');
      expect(refusing.left()).toBe(0);
      expect(sent).toEqual([delivery.id]);
      expect(await queue.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
    } finally {
      await worker.stop();
      await queue.close();
      await store.close();
    }
  });
});

describe('worker: events the log refused, at shutdown', () => {
  it('writes them once more on stop(), and only once', async () => {
    const sealer = createSealer(randomBytes(32));
    const queue = openSqliteQueue({ file: ':memory:', sealer });
    const store = await openMessageLog({ sqliteFile: ':memory:', sealer });
    const refusing = refusingEvents(store, 1);
    const messageLog = refusing.log;
    let delivered = 0;
    const deliver = async (): Promise<DeliveryResult> => {
      delivered++;
      return { ok: true, httpStatus: 200, requestBytes: 10, responseBytes: 2, durationMs: 1, requestInAt: Date.now() };
    };
    const worker = startWorker({ registry: {} as Registry, queue, deliver, log: pino({ level: 'silent' }), messageLog, workerId: 'w-stop', concurrency: 2, leaseMs: 30_000, pollIntervalMs: 20 });
    const messageId = randomUUID();
    try {
      await store.recordMessage({ id: messageId, messageType: 'DossierStatusChanged', participant: 'VN/GOV/000.00.14.H56/MOTCUA', connector: 'onegate-h56', operation: 'dossier-status', correlationId: messageId, receivedAt: Date.now(), state: 'accepted', deliveries: 1 });
      await queue.accept({ messageId, deliveries: [{ id: randomUUID(), messageId, routeId: 'dossier-status', destination: 'emc.TrackingMCDT', orderingKey: '', payload: '{}', acceptedAt: Date.now() }] });
      const deadline = Date.now() + 10_000;
      while ((delivered === 0 || refusing.left() > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(refusing.left()).toBe(0); // the first write was refused; its retry waits 0.5 s
    } finally {
      await worker.stop();
    }
    try {
      // stop() wrote it, before the background retry came round; that retry then writes nothing more.
      const deliveredEvents = () => store.history(messageId).then((h) => h!.events.filter((e) => e.kind === 'delivered').length);
      expect(await deliveredEvents()).toBe(1);
      await new Promise((r) => setTimeout(r, 800));
      expect(await deliveredEvents()).toBe(1);
      expect((await store.history(messageId))!.message.state).toBe('delivered');
    } finally {
      await queue.close();
      await store.close();
    }
  });
});

/** The real message log, but refusing its first `refusals` event writes, as a database outage would. */
function refusingEvents(store: MessageLog, refusals: number): { log: MessageLog; left: () => number } {
  const recordEvents: MessageLog['recordEvents'] = async (events) => {
    if (refusals > 0) {
      refusals--;
      throw new Error('database is unreachable');
    }
    return store.recordEvents(events);
  };
  const log = new Proxy(store, {
    get: (target, name) => {
      if (name === 'recordEvents') return recordEvents;
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { log, left: () => refusals };
}
