import type { Sealer } from '../core/seal.js';
import { openRedisQueue, type RedisQueueOptions } from './redis-queue.js';
import { openSqliteQueue } from './sqlite-queue.js';
import type { QueueDriver } from './types.js';

export type { Accepted, AcceptMessage, DeadLetter, DeadLetterFilter, Delivery, DeliveryState, IdempotencyKey, NewDelivery, QueueCounts, QueueDriver } from './types.js';
export { idempotencyKeysOf } from './types.js';
export { isLeaseLost } from './errors.js';

export interface OpenQueueOptions {
  /** Redis URL: several hub processes share the work (BullMQ). Unset: the embedded SQLite queue. */
  redisUrl?: string;
  /** SQLite file of the embedded queue (used when redisUrl is unset). */
  sqliteFile: string;
  sealer: Sealer;
  /** Redis key prefix (default 'lienthong'). */
  redisPrefix?: string;
  now?: () => number;
  /** Embedded queue: how long a write waits for others to share its commit (see SqliteQueueOptions). */
  commitWindowMs?: number;
  /** Background errors of the Redis driver (sweeper, stalled checker, connection). */
  onError?: RedisQueueOptions['onError'];
}

/** The delivery queue this hub is configured for: Redis when a URL is given, else the embedded SQLite file. */
export async function openQueue(options: OpenQueueOptions): Promise<QueueDriver> {
  if (options.redisUrl) {
    return openRedisQueue({ url: options.redisUrl, prefix: options.redisPrefix, sealer: options.sealer, now: options.now, onError: options.onError });
  }
  return openSqliteQueue({ file: options.sqliteFile, sealer: options.sealer, now: options.now, commitWindowMs: options.commitWindowMs });
}
