import { HubError } from '../core/errors.js';
import type { Accepted, Delivery, QueueDriver } from '../delivery/types.js';
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
  /**
   * Why the queue or the message log cannot write now: its last write failed on a storage error (disk full, read-only,
   * I/O error) in the last 30 s, and none of its writes has succeeded since. Names the store and the error's code, never
   * a payload.
   */
  writeFailure(): string | undefined;
  close(): Promise<void>;
}

const QUEUE_METHODS = ['accept', 'claim', 'extend', 'release', 'complete', 'retryLater', 'deadLetter', 'listDead', 'getDead', 'replay', 'discard', 'purgeDead', 'counts', 'close'] as const satisfies ReadonlyArray<keyof QueueDriver>;
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
  return watchStorage({ queue, messageLog, replay }, {
    failure: () => q?.failure() ?? l.failure(),
    close: async () => { await Promise.all([q?.close(), l.close()]); },
  });
}

type Store = 'queue' | 'log';
const STORE_NAMES: Record<Store, string> = { queue: 'the delivery queue', log: 'the message log' };

/**
 * The writes watched, each with whether a call that succeeded wrote something: only such a call shows that the store
 * can write again (an empty claim, a repeated accept or a replay of nothing commits nothing, even on a full disk).
 */
type Wrote = (result: unknown, args: unknown[]) => boolean;
const always: Wrote = () => true;
const QUEUE_WRITES: Partial<Record<keyof QueueDriver, Wrote>> = {
  accept: (result) => !(result as Accepted).duplicate && !(result as Accepted).conflict,
  claim: (result) => (result as Delivery[]).length > 0,
  extend: (result) => result === true,
  release: (result) => result === true,
  purgeDead: () => false,
  complete: always,
  retryLater: always,
  deadLetter: always,
  replay: (result) => (result as number) > 0,
  discard: (result) => result === true,
};
const LOG_WRITES: Partial<Record<keyof MessageLog, Wrote>> = {
  recordMessage: always,
  setState: always,
  recordEvents: (_result, [events]) => (events as unknown[]).length > 0,
  recordAccessChange: always,
  settle: () => false,
  purge: () => false,
};
/**
 * How long a failed write keeps the hub unready when nothing has tried to write since: a hub taken out of rotation
 * gets no traffic to show that the disk has room again, so it offers itself again after this, and the next failed
 * write takes it out once more.
 */
const WRITE_FAILURE_HOLD_MS = 30_000;
const POSTGRES_CANNOT_WRITE = new Set(['53100', '25006', '58030']); // disk_full, read_only_sql_transaction, io_error

/**
 * The storage the hub uses, over the threads' stand-ins (or drivers opened in-process, in tests). A write that fails
 * because its store cannot write is answered as a retryable `503 server.unavailable` (the original error as its
 * cause), and remembered for readiness until a write of that store succeeds.
 */
export function watchStorage(
  stores: { queue?: QueueDriver; messageLog: MessageLog; replay?: ReplayGuard },
  threads: { failure(): Error | undefined; close(): Promise<void> },
): Storage {
  const failures = new Map<Store, { reason: string; at: number }>();
  // A plain object of the store's own methods and properties: the worker spreads the queue into its hand-off queue.
  const watch = <T extends object>(target: T, store: Store, methods: ReadonlyArray<keyof T & string>, writes: Partial<Record<keyof T, Wrote>>, properties: Partial<T>): T => {
    const watched: Record<string, unknown> = { ...properties };
    for (const method of methods) {
      const call = (target as Record<string, (...args: unknown[]) => Promise<unknown>>)[method]!;
      const wrote = writes[method];
      watched[method] = !wrote ? call.bind(target) : async (...args: unknown[]) => {
        // A storage thread that stopped does not come back: nothing is taken (a message accepted with its log thread
        // gone would have no record) until the hub is restarted; /ready says so.
        const stopped = threads.failure();
        if (stopped) {
          throw new HubError('server.unavailable', `Hub tạm thời không lưu được thông điệp, hãy gửi lại sau / the hub cannot store messages (a storage thread stopped: ${stopped.message}); it needs a restart`, {
            status: 503, cause: stopped, detail: [{ reason: 'a storage thread stopped', code: 'storage-thread-stopped' }],
          });
        }
        let result: unknown;
        try {
          result = await call.apply(target, args);
        } catch (error) {
          const code = cannotWriteCode(error);
          if (code === undefined) throw error;
          failures.set(store, { reason: `${STORE_NAMES[store]} cannot write (${code})`, at: Date.now() });
          throw new HubError('server.unavailable', `Hub tạm thời không lưu được thông điệp, hãy gửi lại sau / the hub cannot store messages right now (${STORE_NAMES[store]} cannot write); send it again later`, {
            status: 503, cause: error, detail: [{ reason: `${STORE_NAMES[store]} cannot write`, code: 'storage-cannot-write' }],
          });
        }
        if (wrote(result, args)) failures.delete(store);
        return result;
      };
    }
    return watched as T;
  };
  return {
    queue: stores.queue && watch(stores.queue, 'queue', QUEUE_METHODS, QUEUE_WRITES, { kind: stores.queue.kind, durabilityWarning: stores.queue.durabilityWarning }),
    messageLog: watch(stores.messageLog, 'log', LOG_METHODS, LOG_WRITES, { dialect: stores.messageLog.dialect }),
    replay: stores.replay,
    failure: threads.failure,
    writeFailure: () => {
      const recent = [...failures.values()].filter((f) => Date.now() - f.at < WRITE_FAILURE_HOLD_MS).map((f) => f.reason);
      return recent.length ? recent.join('; ') : undefined;
    },
    close: threads.close,
  };
}

/**
 * The code of an error saying that a store cannot write now (disk full, read-only, I/O error, file not openable), or
 * undefined for any other error. Errors cross from the storage threads with their message and code (core/thread.ts).
 */
export function cannotWriteCode(error: unknown): string | undefined {
  if (!(error instanceof Error) || error instanceof HubError) return undefined;
  const { code } = error as { code?: unknown };
  if (typeof code === 'string' && /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN)(_|$)/.test(code)) return code;
  if (typeof code === 'string' && (POSTGRES_CANNOT_WRITE.has(code) || /^(08...|57P0[1-3])$/.test(code))) return `PostgreSQL ${code}`;
  if (typeof code === 'string' && UNREACHABLE.has(code)) return `unreachable: ${code}`;
  // Redis names an error's kind in the first word of its reply.
  const redis = /^(OOM|READONLY|MISCONF) /.exec(error.message)?.[1];
  if (redis !== undefined) return `Redis ${redis}`;
  const lost = LOST_CONNECTION.exec(error.message)?.[0];
  return lost === undefined ? undefined : `unreachable: ${lost}`;
}

/** A server that cannot be reached: its store cannot write until it is back. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** The same, as ioredis and pg say it without a code. */
const LOST_CONNECTION = /^(Connection is closed|Reached the max retries per request limit|Stream isn't writeable|Connection terminated|timeout exceeded when trying to connect)/;
