import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/config/registry.js';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import type { Delivery, NewDelivery, QueueDriver } from '../../src/delivery/types.js';
import { noObserver, type Observer } from '../../src/pipeline/observer.js';
import { startWorker, type Worker } from '../../src/pipeline/worker.js';
import type { LogEvent, MessageLog } from '../../src/store/types.js';

/**
 * A delivery whose stored payload cannot be opened (sealed with a data key this hub does not hold) is dead-lettered
 * where everyone can see it: a `dead-lettered` event with the reason in the message log (so the message settles), a
 * warning in the application log (ids and reason, no payload), and the dead-letter metric. Before, the queue killed
 * it inside its claim and nobody heard of it: the message stayed `accepted` for ever.
 */
describe('worker: a delivery whose payload cannot be opened', () => {
  let dir: string;
  let queue: QueueDriver | undefined;
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await queue?.close();
    queue = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('is dead-lettered with a log event naming the reason, a warning and the metric, and never delivered', async () => {
    dir = mkdtempSync(join(tmpdir(), 'lienthong-worker-'));
    const file = join(dir, 'queue.db');
    const secret = 'CCCD 001199999981';
    const d: NewDelivery = {
      id: randomUUID(), messageId: randomUUID(), routeId: 'dossier-status', destination: 'dvcqg.CapNhatTienDoHoSoMC', orderingKey: 'H56-1',
      payload: JSON.stringify({ citizen: secret }), acceptedAt: Date.now(),
    };
    const next: NewDelivery = { ...d, id: randomUUID(), messageId: randomUUID() };
    const before = openSqliteQueue({ file, sealer: createSealer(randomBytes(32)) });
    await before.accept({ messageId: d.messageId, deliveries: [d] });
    await before.close();
    // The hub restarted with another data key.
    const sealer = createSealer(randomBytes(32));
    queue = openSqliteQueue({ file, sealer });
    await queue.accept({ messageId: next.messageId, deliveries: [next] });

    const events: LogEvent[] = [];
    const settled: string[] = [];
    const messageLog = {
      recordEvents: async (e: LogEvent[]) => { events.push(...e); },
      settle: async (ids: string[]) => { settled.push(...ids); },
      search: async () => ({ items: [] }),
    } as unknown as MessageLog;
    const attempts: Array<Parameters<Observer['attempt']>[0]> = [];
    const observer: Observer = { ...noObserver, attempt: (facts) => { attempts.push(facts); } };
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
    const delivered: Delivery[] = [];
    worker = startWorker({
      registry: {} as Registry, queue, messageLog, observer, log: pino({ level: 'info' }, sink),
      deliver: async (delivery) => { delivered.push(delivery); return { ok: true, httpStatus: 200, requestBytes: 1, responseBytes: 1, durationMs: 1, requestInAt: Date.now() }; },
      workerId: 'w', concurrency: 4, leaseMs: 60_000, pollIntervalMs: 20,
    });

    await until(async () => (await queue!.counts()).dead === 1 && settled.includes(d.messageId) && delivered.length === 1, 'the dead letter to be recorded');
    expect(delivered.map((x) => x.id)).toEqual([next.id]);
    const dead = events.filter((e) => e.deliveryId === d.id);
    expect(dead).toEqual([expect.objectContaining({ messageId: d.messageId, deliveryId: d.id, destination: d.destination, kind: 'dead-lettered', attempt: 1 })]);
    expect(dead[0]!.reason).toMatch(/^server\.unsealable: .*key/);
    expect((await queue.getDead(d.id))!.reason).toBe(dead[0]!.reason);
    expect(attempts).toContainEqual(expect.objectContaining({ destination: d.destination, outcome: 'dead-lettered' }));
    const warning = lines.find((l) => l.deliveryId === d.id);
    expect(warning).toMatchObject({ level: 40, messageId: d.messageId, deliveryId: d.id, reason: dead[0]!.reason });
    expect(JSON.stringify(lines)).not.toContain('001199999981');
  });
});
