import type { QueueDriver } from '../delivery/types.js';
import { reviveError, startThread, type ThreadHandle } from '../core/thread.js';
import type { MessageLog } from '../store/types.js';
import type { ReplayGuard } from '../trust/replay-guard.js';

/**
 * The hub's storage: the delivery queue (embedded SQLite, or Redis when REDIS_URL is set), the message
 * log (SQLite, or PostgreSQL when DATABASE_URL is set) and the replay guard of signed messages (SQLite,
 * or Redis), each group opened in a storage thread (storage-thread.ts) so that their statements, fsyncs,
 * client parsing and sealing run on the second core and never stall the event loop that serves
 * requests. The main thread holds stand-ins that forward each method; the same drivers run in-process
 * in their own test suites.
 */
export interface StorageOptions {
  /** 32-byte data key (base64) that seals payloads at rest. */
  dataKey: string;
  /** Omitted when no route is asynchronous. */
  queue?: { redisUrl?: string; redisPrefix?: string; sqliteFile: string; commitWindowMs?: number };
  log: { databaseUrl?: string; sqliteFile: string; payloadRetentionMs?: number; metadataRetentionMs?: number; batchWindowMs?: number };
  /** The hub's key and certificate (PEM), to sign the message log's checkpoints; a signer cannot cross into the thread. */
  auditSigner?: { keyPem: string; keyPassphrase?: string; certificatePem: string; chainPrefix: string };
  /** Omitted when the hub takes no signed messages. */
  replay?: { windowMs: number; sqliteFile: string; redisUrl?: string; redisPrefix?: string };
}

export interface Storage {
  queue?: QueueDriver;
  messageLog: MessageLog;
  replay?: ReplayGuard;
  /** A storage thread that stopped without being closed (a crash): the hub cannot take messages any more. */
  failure(): Error | undefined;
  close(): Promise<void>;
}

const QUEUE_METHODS = ['accept', 'claim', 'extend', 'complete', 'retryLater', 'deadLetter', 'listDead', 'getDead', 'replay', 'discard', 'counts', 'close'] as const satisfies ReadonlyArray<keyof QueueDriver>;
const REPLAY_METHODS = ['check', 'close'] as const satisfies ReadonlyArray<keyof ReplayGuard>;
const LOG_METHODS = ['recordMessage', 'setState', 'recordEvents', 'search', 'history', 'settle', 'payload', 'purge', 'recordAccessChange', 'accessChanges', 'exportEvidence', 'close'] as const satisfies ReadonlyArray<keyof MessageLog>;

export async function openStorage(options: StorageOptions, onBackgroundError: (error: Error) => void): Promise<Storage> {
  const entry = new URL('./storage-thread.js', import.meta.url);
  const onEvent = (event: string, payload: unknown) => {
    if (event === 'error') onBackgroundError(payload instanceof Error ? payload : reviveError(payload));
  };
  // Two threads: the queue's short commits (accepts, claims) never wait behind the log's larger ones.
  const [queueThread, logThread] = await Promise.all([
    options.queue ? startThread(entry, { dataKey: options.dataKey, queue: options.queue }, onEvent) : undefined,
    startThread(entry, { dataKey: options.dataKey, log: options.log, replay: options.replay, auditSigner: options.auditSigner }, onEvent),
  ].map((p) => p?.catch((error: unknown) => error as Error)));
  const failed = [queueThread, logThread].find((t) => t instanceof Error);
  if (failed) {
    await Promise.all([queueThread, logThread].map((t) => (t && !(t instanceof Error) ? t.close() : undefined)));
    throw failed;
  }
  const q = queueThread as ThreadHandle | undefined;
  const l = logThread as ThreadHandle;
  const queue = q ? q.remote<QueueDriver>('queue', QUEUE_METHODS, { kind: q.info.kind as QueueDriver['kind'], durabilityWarning: q.info.durabilityWarning as string | undefined }) : undefined;
  const messageLog = l.remote<MessageLog>('log', LOG_METHODS, { dialect: l.info.dialect as MessageLog['dialect'] });
  const replay = options.replay ? l.remote<ReplayGuard>('replay', REPLAY_METHODS) : undefined;
  return {
    queue, messageLog, replay,
    failure: () => q?.failure() ?? l.failure(),
    close: async () => { await Promise.all([q?.close(), l.close()]); },
  };
}
