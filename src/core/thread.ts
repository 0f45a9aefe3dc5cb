import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { HubError } from './errors.js';

/**
 * Objects that live in a worker thread, called from the main thread through their async methods.
 *
 * Why: the hub's storage (SQLite's synchronous statements and fsyncs, the Redis and PostgreSQL clients'
 * parsing, Kysely's query building, sealing payloads with AES-GCM) costs more CPU per message than the
 * HTTP and mapping work around it. In a thread of its own it runs on the second core and never stalls
 * the event loop that serves requests.
 *
 * How: every call made during one turn of the event loop travels in one message, and every answer the
 * thread has ready in one of its turns comes back in one message, so a busy hub pays for postMessage per
 * batch, not per call. Errors keep their HubError type, status and detail across the boundary.
 */
/** Calls made within this long of the last batch wait to join the next one. */
const BATCH_INTERVAL_MS = 1;

type Call = [id: number, service: string, method: string, args: unknown[]];
type Answer = [id: number, ok: boolean, value: unknown];
interface SerializedError { message: string; type?: string; status?: number; detail?: HubError['detail']; code?: string; name?: string }

type ToThread = { calls: Call[] } | { close: true };
type FromThread = { ready: Record<string, unknown> } | { failed: SerializedError } | { answers: Answer[] } | { event: string; payload: unknown } | { closed: true };

/** What a thread's entry module opens: the services to call, facts the caller may read without a call, and how to close. */
export interface Opened {
  services: Record<string, object | undefined>;
  info?: Record<string, unknown>;
  close(): Promise<void>;
}

export interface ThreadHandle {
  /** Facts the thread reported when it opened (e.g. which queue driver it chose). */
  readonly info: Record<string, unknown>;
  /** Why the thread stopped when nobody closed it (a crash), or undefined while it runs. */
  failure(): Error | undefined;
  /** A stand-in for the thread's `service`, forwarding the named methods. */
  remote<T>(service: string, methods: ReadonlyArray<keyof T & string>, properties?: Partial<T>): T;
  close(): Promise<void>;
}

/**
 * Starts `entry` (a module that calls `serveThread`) in a worker thread and waits until it has opened.
 * A `.ts` entry (running from source) gets tsx inside the thread, as the main thread has.
 */
export async function startThread(entry: URL, data: unknown, onEvent: (name: string, payload: unknown) => void = () => {}): Promise<ThreadHandle> {
  const source = resolveEntry(entry);
  const tsx = source.pathname.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : undefined;
  const worker = new Worker(BOOT, { eval: true, workerData: { entry: source.href, tsx, data } });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let outbox: Call[] = [];
  let flushing = false;
  let stopped: Error | undefined;
  let onClosed: (() => void) | undefined;
  let crashed: Error | undefined;
  let closing: Promise<void> | undefined;

  const failAll = (error: Error) => {
    stopped ??= error;
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
  };
  const opening = new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.on('message', (message: FromThread) => {
      if ('answers' in message) {
        for (const [id, ok, value] of message.answers) {
          const waiting = pending.get(id);
          if (!waiting) continue;
          pending.delete(id);
          if (ok) waiting.resolve(value);
          else waiting.reject(revive(value as SerializedError));
        }
      } else if ('event' in message) onEvent(message.event, message.payload);
      else if ('ready' in message) resolve(message.ready);
      else if ('failed' in message) {
        // Reported to the opener; the exit that follows is its consequence, not a crash to report again.
        closing ??= Promise.resolve();
        reject(revive(message.failed));
      }
      else if ('closed' in message) onClosed?.();
    });
    worker.once('error', (error) => {
      if (!closing) crashed ??= error;
      failAll(error);
      reject(error);
      onEvent('error', error);
    });
    worker.once('exit', (code) => {
      const error = new Error(`the ${entryName(source)} thread stopped (exit code ${code})`);
      if (!closing && !crashed) {
        crashed = error;
        onEvent('error', error);
      }
      failAll(error);
      reject(error);
      onClosed?.();
    });
  });
  let info: Record<string, unknown>;
  try {
    info = await opening;
  } catch (error) {
    await worker.terminate();
    throw error;
  }

  // A postMessage round trip costs ~20 µs of this thread's CPU whatever it carries, so under load the
  // calls of up to a millisecond share one; an idle hub's lone call goes at the end of the current turn.
  let lastFlush = 0;
  const flush = () => {
    flushing = false;
    lastFlush = performance.now();
    const calls = outbox;
    outbox = [];
    if (calls.length) worker.postMessage({ calls } satisfies ToThread);
  };
  const call = (service: string, method: string, args: unknown[]): Promise<unknown> => {
    if (stopped) return Promise.reject(stopped);
    const id = ++nextId;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      outbox.push([id, service, method, args]);
      if (!flushing) {
        flushing = true;
        const wait = lastFlush + BATCH_INTERVAL_MS - performance.now();
        if (wait > 0) setTimeout(flush, wait);
        else setImmediate(flush);
      }
    });
  };

  return {
    info,
    failure: () => crashed,
    remote<T>(service: string, methods: ReadonlyArray<keyof T & string>, properties: Partial<T> = {}): T {
      const stub: Record<string, unknown> = { ...properties };
      for (const method of methods) stub[method] = (...args: unknown[]) => call(service, method, args);
      return stub as T;
    },
    close() {
      closing ??= (async () => {
        if (stopped) return;
        flush();
        await new Promise<void>((resolve) => {
          onClosed = resolve;
          worker.postMessage({ close: true } satisfies ToThread);
        });
        failAll(new Error(`the ${entryName(source)} thread is closed`));
        await worker.terminate();
      })();
      return closing;
    },
  };
}

/** In the thread's entry module: open the services, then answer calls until told to close. */
export function serveThread(open: (data: never) => Promise<Opened>): void {
  if (isMainThread || !parentPort) throw new Error('serveThread runs inside a worker thread started by startThread');
  const port = parentPort;
  const post = (message: FromThread) => port.postMessage(message);
  let answers: Answer[] = [];
  let flushing = false;
  const flushAnswers = () => {
    flushing = false;
    const batch = answers;
    answers = [];
    if (batch.length) post({ answers: batch });
  };
  const answer = (entry: Answer) => {
    answers.push(entry);
    if (!flushing) {
      flushing = true;
      setImmediate(flushAnswers);
    }
  };

  void open((workerData as { data: never }).data).then(
    (opened) => {
      port.on('message', (message: ToThread) => {
        if ('close' in message) {
          // Answers still waiting for their batch go first: the caller fails whatever is unanswered once it hears "closed".
          void opened.close().catch(() => undefined).finally(() => {
            flushAnswers();
            post({ closed: true });
          });
          return;
        }
        for (const [id, service, method, args] of message.calls) {
          const target = opened.services[service] as Record<string, (...a: unknown[]) => unknown> | undefined;
          const fn = target?.[method];
          if (typeof fn !== 'function') {
            answer([id, false, serialize(new Error(`${service}.${method} is not available in this thread`))]);
            continue;
          }
          try {
            Promise.resolve(fn.apply(target, args)).then(
              (value) => answer([id, true, value]),
              (error: unknown) => answer([id, false, serialize(error)]),
            );
          } catch (error) {
            answer([id, false, serialize(error)]);
          }
        }
      });
      post({ ready: opened.info ?? {} });
    },
    (error: unknown) => post({ failed: serialize(error) }),
  );
}

/** Lets a service in the thread tell the main thread something (e.g. a background error). */
export function emitFromThread(event: string, payload: unknown): void {
  parentPort?.postMessage({ event, payload: payload instanceof Error ? serialize(payload) : payload } satisfies FromThread);
}

export function reviveError(payload: unknown): Error {
  return payload && typeof payload === 'object' && 'message' in payload ? revive(payload as SerializedError) : new Error(String(payload));
}

function serialize(error: unknown): SerializedError {
  if (error instanceof HubError) return { message: error.message, type: error.type, status: error.status, detail: error.detail, name: error.name };
  if (error instanceof Error) return { message: error.message, code: (error as { code?: string }).code, name: error.name };
  return { message: String(error) };
}

function revive(error: SerializedError): Error {
  if (error.type) return new HubError(error.type, error.message, { status: error.status, detail: error.detail });
  const revived = new Error(error.message);
  if (error.code) Object.assign(revived, { code: error.code });
  return revived;
}

/** The compiled `.js` when it exists (dist), else the TypeScript source beside it. */
function resolveEntry(entry: URL): URL {
  if (existsSync(fileURLToPath(entry))) return entry;
  const ts = new URL(entry.href.replace(/\.js$/, '.ts'));
  if (existsSync(fileURLToPath(ts))) return ts;
  throw new Error(`thread entry ${fileURLToPath(entry)} does not exist`);
}

function entryName(entry: URL): string {
  return entry.pathname.split('/').pop()!.replace(/\.(ts|js)$/, '');
}

// The worker's first code: plain JavaScript, so that it can register tsx before importing a `.ts` entry.
const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch((error) => { process.nextTick(() => { throw error; }); });
`;
