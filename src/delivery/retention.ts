import type { Logger } from 'pino';
import type { MessageLog } from '../store/types.js';
import type { QueueDriver } from './types.js';

/** Dead letters handled per queue call (a call is one short transaction / script). */
const PURGE_BATCH = 500;

export interface DeadLetterRetention {
  payloadRetentionMs: number;
  metadataRetentionMs: number;
}

/**
 * Retention of the dead letters (README "Message log and metrics"): their sealed payloads go after `payloadRetention`
 * (they can then only be discarded, not replayed), and they go entirely after `metadataRetention`. A dead letter that
 * goes while its message is still in the log (its message was received later than the dead letter's own age suggests,
 * a skewed clock say) gets a `discarded` event with the reason "retention", and its message settles; one whose message
 * the log's own retention already removed is simply removed (an event would point at nothing).
 */
export async function purgeDeadLetters(
  queue: QueueDriver,
  messageLog: MessageLog | undefined,
  now: number,
  retention: DeadLetterRetention,
  log: Logger,
): Promise<{ payloadsDropped: number; deadLettersRemoved: number }> {
  const cutoffs = { payloadBefore: Math.round(now - retention.payloadRetentionMs), deadBefore: Math.round(now - retention.metadataRetentionMs), limit: PURGE_BATCH };
  let payloadsDropped = 0;
  let deadLettersRemoved = 0;
  for (;;) {
    const result = await queue.purgeDead(cutoffs);
    payloadsDropped += result.payloadsDropped;
    deadLettersRemoved += result.removed.length;
    if (messageLog && result.removed.length) {
      const settle: string[] = [];
      for (const dead of result.removed) {
        if (!(await messageLog.history(dead.messageId))) continue;
        try {
          await messageLog.recordEvents([{ messageId: dead.messageId, deliveryId: dead.id, destination: dead.destination, at: now, kind: 'discarded', reason: 'retention' }]);
          settle.push(dead.messageId);
        } catch (err) {
          log.error({ err, messageId: dead.messageId, deliveryId: dead.id }, 'dead letter removed by retention; its discarded event could not be written to the message log');
        }
      }
      if (settle.length) await messageLog.settle([...new Set(settle)]);
    }
    if (result.removed.length < PURGE_BATCH && result.payloadsDropped < PURGE_BATCH) break;
  }
  return { payloadsDropped, deadLettersRemoved };
}
