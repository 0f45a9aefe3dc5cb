import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/config/registry.js';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import type { Delivery, NewDelivery, QueueDriver } from '../../src/delivery/types.js';
import type { DeliveryResult } from '../../src/pipeline/deliver.js';
import { startWorker, type Worker } from '../../src/pipeline/worker.js';

/**
 * What the worker leaves in the queue when the hub stops: deliveries it leased but never started, and (when the
 * shutdown grace runs out) those still in flight, go back at once instead of staying leased until the lease expires.
 * The deliverer is held open by the test, standing in for a slow peer; the lease is long (10 min), so only a
 * handed-back lease lets another claim have them.
 */
describe('worker: leases at shutdown', () => {
  let queue: QueueDriver;
  let worker: Worker | undefined;
  let finish: Array<() => void> = [];
  afterEach(async () => {
    finish.splice(0).forEach((f) => f());
    await worker?.stop();
    worker = undefined;
    await queue.close();
  });

  async function setUp(concurrency: number) {
    queue = openSqliteQueue({ file: ':memory:', sealer: createSealer(randomBytes(32)) });
    let claims = 0;
    const counted: QueueDriver = { ...queue, claim: async (...args) => { claims++; return queue.claim(...args); } };
    const started: Delivery[] = [];
    finish = [];
    const deliver = (delivery: Delivery) => new Promise<DeliveryResult>((resolve) => {
      started.push(delivery);
      finish.push(() => resolve({ ok: true, httpStatus: 200, requestBytes: 10, responseBytes: 2, durationMs: 1, requestInAt: Date.now() }));
    });
    worker = startWorker({
      registry: {} as Registry, queue: counted, deliver, log: pino({ level: 'silent' }),
      workerId: 'w-stopping', concurrency, leaseMs: 600_000, pollIntervalMs: 20,
    });
    await until(async () => claims > 0, 'the first claim');
    await new Promise((r) => setImmediate(r));
    return { intake: worker.handOff(), started };
  }

  const newDelivery = (): NewDelivery => ({
    id: randomUUID(), messageId: randomUUID(), routeId: 'dossier-status', destination: 'dvcqg.CapNhatTienDoHoSoMC', orderingKey: '',
    payload: JSON.stringify({ dossierCode: '000.00.14.H56-250307-00001' }), acceptedAt: Date.now(),
  });
  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  /** What another worker (another hub process, or this one after a restart) can claim now. */
  async function claimableByAnother(): Promise<Delivery[]> {
    let got: Delivery[] = [];
    await until(async () => (got = await queue.claim('w-after-restart', 10, 60_000)).length > 0, 'a delivery to be claimable again').catch(() => undefined);
    return got;
  }

  it('stop() hands back the leases of deliveries that were waiting for a slot, without starting them', async () => {
    const { intake, started } = await setUp(1);
    const [first, second] = [newDelivery(), newDelivery()];
    for (const d of [first, second]) await intake.accept({ messageId: d.messageId, deliveries: [d] });
    await until(async () => started.length === 1, 'the first delivery to start');
    expect(worker!.inFlight()).toBe(2); // the second is leased to this worker, waiting for the slot

    const stopping = worker!.stop();
    const again = await claimableByAnother();
    expect(again.map((d) => d.id)).toEqual([second.id]);
    expect(again[0]).toMatchObject({ attempts: 0, payload: second.payload });

    finish.splice(0).forEach((f) => f());
    await stopping;
    worker = undefined;
    expect(started.map((d) => d.id)).toEqual([first.id]);
  });

  it('release() hands back the leases of deliveries still in flight, which another claim then gets at once', async () => {
    const { intake, started } = await setUp(2);
    const d = newDelivery();
    await intake.accept({ messageId: d.messageId, deliveries: [d] });
    await until(async () => started.length === 1, 'the delivery to start');
    expect(await queue.claim('w-after-restart', 10, 60_000)).toEqual([]); // leased for 10 minutes

    expect(await worker!.release()).toBe(1);
    const again = await claimableByAnother();
    expect(again.map((x) => x.id)).toEqual([d.id]);
    expect(await queue.counts()).toMatchObject({ active: 1 });
  });
});
