import type { Dispatcher } from 'undici';
import { HubError } from '../core/errors.js';
import { createAuth, type AuthConfig, type OutgoingRequest } from './auth/index.js';
import { authFailed } from './auth/shared.js';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_MS, exchange, joinUrl, type HttpMethod, type PeerResponse } from './http.js';

export type { PeerResponse } from './http.js';

export interface PeerConfig {
  name: string;
  baseUrl: string;
  /** `connectMs` is applied by the dispatcher (see `createDispatcher`); `requestMs` caps each exchange. */
  timeouts?: { connectMs?: number; requestMs?: number };
  auth?: AuthConfig;
  /** Sent with every request (e.g. `dstcode`, `lgspaccesstoken`). */
  headers?: Record<string, string>;
  /** Answers larger than this fail with `transport.response-too-large`. Default 10 MiB. */
  maxResponseBytes?: number;
}

export interface PeerRequest {
  path: string;
  /** Default: POST when there is a body, GET otherwise. */
  method?: HttpMethod;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Serialised by the peer after auth had its say (session login adds a field); wins over `body`. */
  json?: Record<string, unknown>;
  idempotencyKey?: string;
}

export interface Peer {
  readonly name: string;
  /** Resolves with any HTTP answer (non-2xx included); rejects only with `transport.*` HubErrors. */
  send(req: PeerRequest): Promise<PeerResponse>;
  /** Refuse new sends and wait for those in flight. The dispatcher belongs to whoever created it. */
  close(): Promise<void>;
}

export interface PeerOptions {
  /** Clock for credential expiry; tests move it. */
  now?: () => number;
}

const lower = (h: Record<string, string> | undefined) =>
  Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

export function createPeer(config: PeerConfig, dispatcher: Dispatcher, options: PeerOptions = {}): Peer {
  const { name, baseUrl } = config;
  const requestMs = config.timeouts?.requestMs ?? DEFAULT_REQUEST_MS;
  const maxResponseBytes = config.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const auth = createAuth(config.auth, { peer: name, baseUrl, dispatcher, requestMs, maxResponseBytes, now: options.now ?? Date.now });
  const staticHeaders = lower(config.headers);
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;

  async function attempt(req: PeerRequest) {
    const out: OutgoingRequest = { headers: { ...staticHeaders, ...lower(req.headers) }, json: req.json && { ...req.json } };
    if (req.idempotencyKey) out.headers['idempotency-key'] = req.idempotencyKey;
    const ref = await auth.apply(out);
    let body = req.body;
    if (out.json) {
      body = JSON.stringify(out.json);
      out.headers['content-type'] ??= 'application/json; charset=utf-8';
    }
    const method = req.method ?? (body === undefined ? 'GET' : 'POST');
    const res = await exchange(dispatcher, { peer: name, url: joinUrl(baseUrl, req.path), method, headers: out.headers, body, requestMs, maxResponseBytes });
    return { res, ref };
  }

  /**
   * One call, within `requestMs` in all: a session login and a second try after refused credentials come out of the
   * same budget (each exchange also has its own limit, so whatever is cut off here ends by itself).
   */
  function withinBudget(req: PeerRequest): Promise<PeerResponse> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HubError('transport.timeout', `Hết thời gian chờ ${name} / ${name} did not answer in time`, {
        status: 504, detail: [{ reason: 'timed out, login and retries included', code: 'call-timeout' }],
      })), requestMs);
    });
    const call = send(req);
    call.catch(() => undefined); // settled after the deadline: nobody waits for it any more
    return Promise.race([call, expired]).finally(() => clearTimeout(timer));
  }

  async function send(req: PeerRequest): Promise<PeerResponse> {
    let { res, ref } = await attempt(req);
    if (!auth.rejects(res)) return res;
    if (auth.renewable) {
      auth.invalidate(ref);
      ({ res } = await attempt(req));
      if (!auth.rejects(res)) return res;
    }
    throw authFailed(name, `peer refused the credentials (HTTP ${res.status})`, 'credentials-rejected');
  }

  return {
    name,
    send(req) {
      if (closed) {
        return Promise.reject(new HubError('transport.closed', `Kết nối ${name} đã đóng / peer ${name} is closed`, { status: 503 }));
      }
      const p = withinBudget(req);
      inFlight.add(p);
      void p.then(
        () => inFlight.delete(p),
        () => inFlight.delete(p),
      );
      return p;
    },
    async close() {
      closed = true;
      await Promise.allSettled([...inFlight]);
    },
  };
}
