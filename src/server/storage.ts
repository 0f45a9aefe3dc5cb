import type { QueueDriver } from '../delivery/types.js';
import { reviveError, startThread } from '../core/thread.js';
import type { MessageLog } from '../store/types.js';

/**
 * The hub's storage: the delivery queue (embedded SQLite, or Redis when REDIS_URL is set) and the
 * message log (SQLite, or PostgreSQL when DATABASE_URL is set), both opened in one storage thread
 * (storage-thread.ts) so that their statements, fsyncs, client parsing and sealing run on the second
 * core and never stall the event loop that serves requests. The main thread holds stand-ins that
 * forward each method; the same drivers run in-process in their own test suites.
 */
export interface StorageOptions {
  /** 32-byte data key (base64) that seals payloads at rest. */
  dataKey: string;
  /** Omitted when no route is asynchronous. */
  queue?: { redisUrl?: string; redisPrefix?: string; sqliteFile: string };
  log: { databaseUrl?: string; sqliteFile: string; payloadRetentionMs?: number; metadataRetentionMs?: number; batchWindowMs?: number };
}

export interface Storage {
  queue?: QueueDriver;
  messageLog: MessageLog;
  close(): Promise<void>;
}

const QUEUE_METHODS = ['accept', 'claim', 'extend', 'complete', 'retryLater', 'deadLetter', 'listDead', 'getDead', 'replay', 'discard', 'counts', 'close'] as const satisfies ReadonlyArray<keyof QueueDriver>;
const LOG_METHODS = ['recordMessage', 'setState', 'recordEvents', 'search', 'history', 'settle', 'payload', 'purge', 'close'] as const satisfies ReadonlyArray<keyof MessageLog>;

export async function openStorage(options: StorageOptions, onBackgroundError: (error: Error) => void): Promise<Storage> {
  const thread = await startThread(new URL('./storage-thread.js', import.meta.url), options, (event, payload) => {
    if (event === 'error') onBackgroundError(payload instanceof Error ? payload : reviveError(payload));
  });
  const info = thread.info as { queue?: QueueDriver['kind']; log: MessageLog['dialect'] };
  const queue = info.queue ? thread.remote<QueueDriver>('queue', QUEUE_METHODS, { kind: info.queue }) : undefined;
  const messageLog = thread.remote<MessageLog>('log', LOG_METHODS, { dialect: info.log });
  return { queue, messageLog, close: () => thread.close() };
}
