import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import {
  applyFault, BODY_LIMIT, canonicalJson, FAULT_MODES, IdempotencyCache, idempotencyKeyOf, isPlainObject, jsonDepth, MAX_DEPTH,
  ModeClock, controlRoutes, pushBounded, requestErrorText, sameSecret, sha256, sleeper, type FaultMode, type Outcome,
} from '../harness.js';
import { checkTracking } from './validate.js';

/**
 * Simulator of the national e-government monitoring system (EMC) endpoint `TrackingMCDT`
 * (`f-emc.ngsp.gov.vn/TrackingMCDT`, VN-SYSTEMS §1 F10): one tracking event per dossier status change.
 * A stranger on the network: it shares no code with the hub. Fictitious data only.
 */

export const EMC_MODES = FAULT_MODES;
export type EmcMode = FaultMode;

export interface EmcSimOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Required as `Authorization: Bearer <token>`. Default 'emc-demo-token'. */
  token?: string;
  /** How long `slow` mode sleeps. Default 30 000. */
  slowMs?: number;
  /** Added to every answer of TrackingMCDT. Default 0. */
  latencyMs?: number;
  /** Extra random 0..jitterMs on top of latencyMs. Default 0. */
  jitterMs?: number;
}

/** One call to TrackingMCDT: ids and codes only. */
export interface EmcReceived {
  path: string;
  maHoSo?: string;
  /** Status as given (number or string). */
  status?: string | number;
  idempotencyKey?: string;
  at: string;
  /** ok: stored; error: validation failed (400); duplicate: replayed; rejected: 401 or a fault mode. */
  outcome: Outcome;
  /** '400' | '401' | 'down' | 'http-500' | 'http-429'. */
  errorCode?: string;
  /** Field named by a validation error. */
  field?: string;
}

export interface EmcSim {
  url: string;
  close(): Promise<void>;
  /** Calls in the order they were answered; the last 10 000 are kept. */
  received(): EmcReceived[];
  /** Accepted tracking bodies by MaHoSo, as given plus `at`, in arrival order (copies). */
  events(): Map<string, Array<Record<string, unknown>>>;
  /** Same meanings as the DVCQG simulator ('down' drops connections without an answer). */
  setMode(mode: EmcMode, forMs?: number): void;
  /** Forget events, received calls, idempotency keys; mode back to normal. */
  reset(): void;
}

const SUCCESS = { error_code: 0, message: 'Thành công' };
const UNAUTHORIZED = { error_code: 401, message: 'Unauthorized: cần Authorization: Bearer <token>' };

export async function startEmcSim(opts: EmcSimOptions = {}): Promise<EmcSim> {
  const token = opts.token ?? 'emc-demo-token';
  const slowMs = opts.slowMs ?? 30_000;
  const latencyMs = opts.latencyMs ?? 0;
  const jitterMs = opts.jitterMs ?? 0;

  const modes = new ModeClock<EmcMode>(EMC_MODES, 'normal');
  const store = new Map<string, Array<Record<string, unknown>>>();
  const log: EmcReceived[] = [];
  const idem = new IdempotencyCache();
  const stopping = new AbortController();
  const wait = sleeper(stopping.signal);

  function authorized(req: FastifyRequest): boolean {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    return Boolean(m && sameSecret(m[1]!, token));
  }

  async function tracking(req: FastifyRequest, reply: FastifyReply) {
    const at = new Date().toISOString();
    const body = isPlainObject(req.body) ? req.body : undefined;
    const call: EmcReceived = { path: req.routeOptions.url ?? req.url, at, outcome: 'rejected' };
    if (typeof body?.MaHoSo === 'string' && body.MaHoSo) call.maHoSo = body.MaHoSo.slice(0, 100);
    if (typeof body?.Status === 'string' || typeof body?.Status === 'number') call.status = typeof body.Status === 'string' ? body.Status.slice(0, 8) : body.Status;
    const key = idempotencyKeyOf(req);
    if (key) call.idempotencyKey = key;
    const done = (outcome: Outcome, errorCode?: string, field?: string) => {
      call.outcome = outcome;
      if (errorCode !== undefined) call.errorCode = errorCode;
      if (field !== undefined) call.field = field;
      pushBounded(log, call);
    };

    try {
      const fault = await applyFault(modes.current, req, reply, wait, slowMs);
      if (fault) {
        done('rejected', fault);
        return reply;
      }
      if (latencyMs > 0 || jitterMs > 0) await wait(latencyMs + Math.random() * jitterMs);
    } catch {
      return reply.code(503).send();
    }

    if (!authorized(req)) {
      done('rejected', '401');
      return reply.code(401).header('www-authenticate', 'Bearer').send(UNAUTHORIZED);
    }
    if (jsonDepth(req.body) > MAX_DEPTH) {
      done('error', '400', '(body)');
      return reply.code(400).send({ error_code: 1, message: 'Dữ liệu không hợp lệ: JSON lồng quá sâu / nested too deep' });
    }

    const hash = key ? sha256(canonicalJson(req.body)) : '';
    const cached = key ? idem.get(key, hash) : undefined;
    if (cached) {
      done('duplicate', cached.status === 200 ? undefined : String(cached.status));
      return reply.code(cached.status).send(cached.body);
    }

    const checked = checkTracking(req.body);
    if (!checked.ok) {
      const answer = { error_code: 1, message: `Dữ liệu không hợp lệ: ${checked.error.field} ${checked.error.reason}`, field: checked.error.field };
      if (key) idem.put(key, hash, { status: 400, body: answer });
      done('error', '400', checked.error.field);
      return reply.code(400).send(answer);
    }
    const maHoSo = checked.value.MaHoSo;
    let events = store.get(maHoSo);
    if (!events) store.set(maHoSo, (events = []));
    // The parsed body is this call's own and is never written to; readers get copies (events()).
    events.push({ ...checked.value, at });
    if (key) idem.put(key, hash, { status: 200, body: SUCCESS });
    done('ok');
    return SUCCESS;
  }

  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    bodyLimit: BODY_LIMIT,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  app.setErrorHandler((error: { statusCode?: number }, req, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (req.url.includes('TrackingMCDT')) pushBounded(log, { path: req.url.split('?')[0]!, at: new Date().toISOString(), outcome: 'rejected', errorCode: String(status) });
    return reply.code(status).send({ error_code: 1, message: status === 500 ? 'internal error' : requestErrorText(status) });
  });

  app.post('/TrackingMCDT', tracking);
  app.post('/api/TrackingMCDT', tracking);

  controlRoutes(app, { name: 'emc', modes, allowed: EMC_MODES, received: () => log, reset });
  app.get('/__sim/events', async () => Object.fromEntries(store));

  function reset() {
    store.clear();
    log.length = 0;
    idem.clear();
    modes.set('normal');
  }

  const url = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  return {
    url,
    received: () => log.map((c) => ({ ...c })),
    events: () => new Map([...store].map(([k, v]) => [k, structuredClone(v)])),
    setMode: (mode, forMs) => modes.set(mode, forMs),
    reset,
    async close() {
      stopping.abort();
      await app.close();
    },
  };
}
