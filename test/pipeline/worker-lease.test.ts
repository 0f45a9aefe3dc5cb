import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/config/registry.js';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import type { Delivery, QueueDriver } from '../../src/delivery/types.js';
import type { DeliveryResult } from '../../src/pipeline/deliver.js';
import { startWorker, type Worker } from '../../src/pipeline/worker.js';
import { openMessageLog } from '../../src/store/open.js';
import type { MessageLog } from '../../src/store/types.js';

/**
 * Where a delivery ends is recorded only by the worker that holds its lease: the lease of a delivery in flight is
 * renewed, an attempt that outlived it is recorded as an attempt, and a dead letter exists only once its event does.
 * Real embedded queue and message log; the peer is a function the test controls.
 */
const registry = { connectors: new Map() } as unknown as Registry;
const OK: DeliveryResult = { ok: true, httpStatus: 200, requestBytes: 10, responseBytes: 2, durationMs: 1, requestInAt: 0 };
const REJECTED: DeliveryResult = { ok: false, failure: { errorType: 'transport.peer-rejected', permanent: true, message: 'HTTP 400 from the peer' }, httpStatus: 400, requestBytes: 10, responseBytes: 2, durationMs: 1, requestInAt: 0 };

let queue: QueueDriver;
let store: MessageLog;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await queue.close();
  await store.close();
});

async function setUp() {
  const sealer = createSealer(randomBytes(32));
  queue = openSqliteQueue({ file: ':memory:', sealer });
  store = await openMessageLog({ sqliteFile: ':memory:', sealer });
}

async function accepted(): Promise<{ messageId: string; id: string }> {
  const messageId = randomUUID();
  const id = randomUUID();
  await store.recordMessage({ id: messageId, messageType: 'DossierStatusChanged', participant: 'VN/GOV/000.00.14.H56/MOTCUA', connector: 'onegate-h56', operation: 'dossier-status', correlationId: messageId, receivedAt: Date.now(), state: 'accepted', deliveries: 1 });
  await queue.accept({ messageId, deliveries: [{ id, messageId, routeId: 'dossier-status', destination: 'emc.TrackingMCDT', orderingKey: 'HS-1', payload: '{}', acceptedAt: Date.now() }] });
  return { messageId, id };
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const state = async (messageId: string) => (await store.history(messageId))!.message.state;

describe('worker: leases of deliveries in flight', () => {
  it('renews the lease while a slow peer answers, so the delivery is attempted once', async () => {
    await setUp();
    const { messageId } = await accepted();
    const attempts: Delivery[] = [];
    let answer!: () => void;
    const deliver = (delivery: Delivery) => new Promise<DeliveryResult>((resolve) => {
      attempts.push(delivery);
      answer = () => resolve(OK);
    });
    worker = startWorker({ registry, queue, deliver, log: pino({ level: 'silent' }), messageLog: store, workerId: 'w-slow', concurrency: 2, leaseMs: 600, pollIntervalMs: 10 });
    await until(() => attempts.length === 1, 'the first attempt');
    // Four leases long: without renewal the queue would give the delivery to a second attempt (claims run every 10 ms).
    await new Promise((r) => setTimeout(r, 2_400));
    expect(attempts).toHaveLength(1);
    answer();
    await until(async () => (await state(messageId)) === 'delivered', 'the message to be delivered');
    expect(attempts).toHaveLength(1);
    expect(await queue.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
  });

  it('records an attempt that outlived its lease as an attempt only: the later holder decides how the delivery ends', async () => {
    await setUp();
    const { messageId } = await accepted();
    // The lease cannot be renewed (as when this host stalled past it): the queue hands the delivery to a second attempt.
    const unrenewable: QueueDriver = { ...queue, extend: async () => false };
    const attempts: string[] = [];
    let failFirst!: () => void;
    const deliver = (delivery: Delivery) => new Promise<DeliveryResult>((resolve) => {
      attempts.push(delivery.lease!);
      if (attempts.length === 1) failFirst = () => resolve(REJECTED);
      else resolve(OK);
    });
    worker = startWorker({ registry, queue: unrenewable, deliver, log: pino({ level: 'silent' }), messageLog: store, workerId: 'w-stale', concurrency: 2, leaseMs: 150, pollIntervalMs: 10 });
    await until(() => attempts.length === 2, 'a second attempt after the lease ran out');
    await until(async () => (await state(messageId)) === 'delivered', 'the second attempt to deliver it');
    failFirst(); // the first attempt ends now, in a permanent failure
    await until(async () => (await store.history(messageId))!.events.filter((e) => e.kind === 'attempt').length === 1, 'the stale attempt to be recorded');
    await until(() => worker!.inFlight() === 0, 'the stale attempt to end');
    const history = (await store.history(messageId))!;
    expect(history.events.map((e) => e.kind)).not.toContain('dead-lettered');
    expect(history.events.find((e) => e.kind === 'attempt')).toMatchObject({ succeeded: false, reason: expect.stringContaining('the lease ran out during this attempt') });
    expect(await state(messageId)).toBe('delivered');
    expect(await queue.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
  });
});

describe('worker: a queue that cannot be reached for a moment', () => {
  it('tries the outcome again rather than leave the delivery to go out a second time when its lease runs out', async () => {
    await setUp();
    const { messageId } = await accepted();
    let refusals = 2;
    const blinking: QueueDriver = {
      ...queue,
      complete: async (...args) => {
        if (refusals > 0) {
          refusals--;
          throw new Error('Connection is closed.');
        }
        return queue.complete(...args);
      },
    };
    let attempts = 0;
    worker = startWorker({ registry, queue: blinking, deliver: async () => { attempts++; return OK; }, log: pino({ level: 'silent' }), messageLog: store, workerId: 'w-blink', concurrency: 2, leaseMs: 30_000, pollIntervalMs: 10 });
    await until(async () => (await queue.counts()).active === 0 && refusals === 0, 'the queue to take the outcome');
    expect(await queue.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
    expect(attempts).toBe(1);
    await until(async () => (await state(messageId)) === 'delivered', 'the message to settle');
  });
});

describe('worker: a dead letter and its event', () => {
  /** The real log, refusing event writes while `refusing()` says so, as a database outage would. */
  function refusingWhile(refusing: () => boolean): MessageLog {
    return new Proxy(store, {
      get: (target, name) => {
        if (name === 'recordEvents') {
          return async (events: Parameters<MessageLog['recordEvents']>[0]) => {
            if (refusing()) throw new Error('database is unreachable');
            return target.recordEvents(events);
          };
        }
        const value = Reflect.get(target, name) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  it('makes no dead letter before the log has its event: none could be replayed ahead of it', async () => {
    await setUp();
    const { messageId, id } = await accepted();
    let down = true;
    let refused = 0;
    const messageLog = refusingWhile(() => {
      if (down) refused++;
      return down;
    });
    worker = startWorker({ registry, queue, deliver: async () => REJECTED, log: pino({ level: 'silent' }), messageLog, workerId: 'w-dead', concurrency: 2, leaseMs: 30_000, pollIntervalMs: 10 });
    await until(() => refused >= 2, 'the log to refuse the dead-lettering twice');
    // Still with the worker: an operator sees no dead letter yet, so cannot replay one whose event is unwritten.
    expect(await queue.getDead(id)).toBeUndefined();
    expect(await queue.counts()).toMatchObject({ active: 1, dead: 0 });
    down = false;
    await until(async () => (await queue.getDead(id)) !== undefined, 'the dead letter once the log took its event');
    await until(async () => (await state(messageId)) === 'dead-lettered', 'the message to settle');
    expect((await store.history(messageId))!.events.filter((e) => e.kind === 'dead-lettered')).toHaveLength(1);
  });

  it('hands the lease back when stopped while the log still refuses, so that the next start repeats the attempt', async () => {
    await setUp();
    const { messageId, id } = await accepted();
    let refused = 0;
    const messageLog = refusingWhile(() => {
      refused++;
      return true;
    });
    worker = startWorker({ registry, queue, deliver: async () => REJECTED, log: pino({ level: 'silent' }), messageLog, workerId: 'w-stop', concurrency: 2, leaseMs: 30_000, pollIntervalMs: 10 });
    await until(() => refused >= 1, 'the log to refuse the dead-lettering');
    await worker.stop();
    worker = undefined;
    expect(await queue.getDead(id)).toBeUndefined();
    expect(await queue.counts()).toMatchObject({ ready: 1, active: 0, dead: 0 });
    expect(await state(messageId)).toBe('accepted');
  });
});
