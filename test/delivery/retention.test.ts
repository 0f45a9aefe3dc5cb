import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { purgeDeadLetters } from '../../src/delivery/retention.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import type { NewDelivery, QueueDriver } from '../../src/delivery/types.js';
import type { LogEvent, MessageLog } from '../../src/store/types.js';

/**
 * Dead letters are covered by retention (finding #3): their payloads go after payloadRetention (replay then refuses
 * them, saying why), and they go entirely after metadataRetention. One whose message is still in the log gets a
 * `discarded` event (reason "retention") and its message settles; one whose message is gone leaves no orphan event.
 */
describe('dead letter retention', () => {
  const DAY = 24 * 60 * 60 * 1000;
  let t = Date.UTC(2026, 0, 1);
  let queue: QueueDriver;
  afterEach(async () => queue.close());

  it('drops payloads after payloadRetention and removes dead letters after metadataRetention, recording it when the message is still logged', async () => {
    queue = openSqliteQueue({ file: ':memory:', sealer: createSealer(randomBytes(32)), now: () => t });
    const make = (): NewDelivery => ({ id: randomUUID(), messageId: randomUUID(), routeId: 'r', destination: 'dvcqg.x', orderingKey: '', payload: '{"a":1}', acceptedAt: t });
    const [kept, gone] = [make(), make()];
    for (const d of [kept, gone]) await queue.accept({ messageId: d.messageId, deliveries: [d] });
    for (const c of await queue.claim('w', 10, 60_000)) await queue.deadLetter(c.id, c.lease!, 'HTTP 500');

    const events: LogEvent[] = [];
    const settled: string[] = [];
    const messageLog = {
      // The log's own retention removed `gone`'s message; `kept`'s is still there.
      history: async (id: string) => (id === kept.messageId ? { message: { id }, events: [] } : undefined),
      recordEvents: async (e: LogEvent[]) => { events.push(...e); },
      settle: async (ids: string[]) => { settled.push(...ids); },
    } as unknown as MessageLog;
    const retention = { payloadRetentionMs: 30 * DAY, metadataRetentionMs: 400 * DAY };
    const log = pino({ level: 'silent' });

    t += DAY;
    expect(await purgeDeadLetters(queue, messageLog, t, retention, log)).toEqual({ payloadsDropped: 0, deadLettersRemoved: 0 });

    t += 30 * DAY;
    expect(await purgeDeadLetters(queue, messageLog, t, retention, log)).toEqual({ payloadsDropped: 2, deadLettersRemoved: 0 });
    expect(await queue.getDead(kept.id)).toMatchObject({ payload: 'null', unsealable: expect.stringMatching(/^payload dropped by retention/) });
    expect(await queue.replay([kept.id, gone.id])).toBe(0);
    expect(events).toEqual([]);

    t += 400 * DAY;
    expect(await purgeDeadLetters(queue, messageLog, t, retention, log)).toEqual({ payloadsDropped: 0, deadLettersRemoved: 2 });
    expect(await queue.listDead()).toEqual([]);
    expect(await queue.counts()).toMatchObject({ dead: 0 });
    expect(events).toEqual([{ messageId: kept.messageId, deliveryId: kept.id, destination: kept.destination, at: t, kind: 'discarded', reason: 'retention' }]);
    expect(settled).toEqual([kept.messageId]);
  });
});
