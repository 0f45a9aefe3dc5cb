import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/config/registry.js';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import type { Delivery, QueueDriver } from '../../src/delivery/types.js';
import type { DeliveryResult } from '../../src/pipeline/deliver.js';
import { startWorker, type Worker } from '../../src/pipeline/worker.js';

/**
 * release() at the end of the shutdown grace hands the leases of deliveries in flight back through the queue's own
 * `release` (the delivery is ready again, lease cleared), not by shortening the lease (it stayed "active", leased to a
 * process that is going away, until the short lease ran out).
 */
describe('worker: release() hands leases back through the queue', () => {
  let queue: QueueDriver;
  let worker: Worker | undefined;
  const finish: Array<() => void> = [];
  afterEach(async () => {
    finish.splice(0).forEach((f) => f());
    await worker?.stop();
    worker = undefined;
    await queue.close();
  });

  it('calls queue.release for each delivery held, which leaves it ready, not active', async () => {
    queue = openSqliteQueue({ file: ':memory:', sealer: createSealer(randomBytes(32)) });
    const released: string[] = [];
    const watched: QueueDriver = { ...queue, release: async (id, lease) => { released.push(id); return queue.release(id, lease); } };
    const started: Delivery[] = [];
    worker = startWorker({
      registry: {} as Registry, queue: watched, log: pino({ level: 'silent' }), workerId: 'w', concurrency: 2, leaseMs: 600_000, pollIntervalMs: 20,
      deliver: (delivery) => new Promise<DeliveryResult>((resolve) => {
        started.push(delivery);
        finish.push(() => resolve({ ok: true, httpStatus: 200, requestBytes: 1, responseBytes: 1, durationMs: 1, requestInAt: Date.now() }));
      }),
    });
    const d = { id: randomUUID(), messageId: randomUUID(), routeId: 'r', destination: 'dvcqg.x', orderingKey: '', payload: '{}', acceptedAt: Date.now() };
    await worker.handOff().accept({ messageId: d.messageId, deliveries: [d] });
    const deadline = Date.now() + 5_000;
    while (!started.length) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the delivery to start');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await queue.counts()).toMatchObject({ active: 1, ready: 0 });
    expect(await worker.release()).toBe(1);
    expect(released).toEqual([d.id]);
    expect(await queue.counts()).toMatchObject({ active: 0, ready: 1 });
  });
});
