import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import {
  applyFault, BODY_LIMIT, canonicalJson, FAULT_MODES, IdempotencyCache, idempotencyKeyOf, isPlainObject, jsonDepth, MAX_DEPTH,
  ModeClock, controlRoutes, pushBounded, requestErrorText, sameSecret, sha256, sleeper, type Outcome,
} from '../harness.js';
import { checkPaymentResult } from './validate.js';

/**
 * Simulator of the province's one-stop system (Thanh Hóa, H56) as the hub calls it: the endpoint that
 * takes payment results (`POST /api/thanh-toan/xac-nhan`, lienthong's proposal, flow F8), records them
 * and answers that they were recorded. A stranger on the network: it shares no code with the hub.
 */

/** The fault modes, plus 'refuse': every result is answered `ketQua: LOI` (e.g. the dossier moved on). */
export const ONEGATE_MODES = [...FAULT_MODES, 'refuse'] as const;
export type OnegateMode = (typeof ONEGATE_MODES)[number];

export const PAYMENT_RESULT_PATH = '/api/thanh-toan/xac-nhan';

export interface OnegateSimOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Required as `Authorization: Bearer <token>`. Default 'onegate-demo-token'. */
  token?: string;
  /** How long `slow` mode sleeps. Default 30 000. */
  slowMs?: number;
  /** Added to every answer. Default 0. */
  latencyMs?: number;
  /** Extra random 0..jitterMs on top of latencyMs. Default 0. */
  jitterMs?: number;
}

/** One call: ids, codes and amounts only. */
export interface OnegateReceived {
  path: string;
  at: string;
  maThamChieu?: string;
  trangThai?: string;
  soTien?: number;
  idempotencyKey?: string;
  /** ok: recorded; error: refused (400, or 'refuse' mode); duplicate: replayed; rejected: 401 or a fault mode. */
  outcome: Outcome;
  /** '400' | '401' | 'refuse' | a fault mode. */
  errorCode?: string;
  field?: string;
}

export interface OnegateSim {
  url: string;
  close(): Promise<void>;
  /** Calls in the order they were answered; the last 10 000 are kept. */
  received(): OnegateReceived[];
  /** Recorded payment results by maThamChieu, as given plus `at`, in arrival order (copies). */
  paymentResults(): Map<string, Array<Record<string, unknown>>>;
  setMode(mode: OnegateMode, forMs?: number): void;
  /** Forget results, received calls, idempotency keys; mode back to normal. */
  reset(): void;
}

const UNAUTHORIZED = { ketQua: 'LOI', moTa: 'Unauthorized: cần Authorization: Bearer <token>' };

export async function startOnegateSim(opts: OnegateSimOptions = {}): Promise<OnegateSim> {
  const token = opts.token ?? 'onegate-demo-token';
  const slowMs = opts.slowMs ?? 30_000;
  const latencyMs = opts.latencyMs ?? 0;
  const jitterMs = opts.jitterMs ?? 0;

  const modes = new ModeClock<OnegateMode>(ONEGATE_MODES, 'normal');
  const store = new Map<string, Array<Record<string, unknown>>>();
  const log: OnegateReceived[] = [];
  const idem = new IdempotencyCache();
  const stopping = new AbortController();
  const wait = sleeper(stopping.signal);

  function authorized(req: FastifyRequest): boolean {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    return Boolean(m && sameSecret(m[1]!, token));
  }

  async function paymentResult(req: FastifyRequest, reply: FastifyReply) {
    const at = new Date().toISOString();
    const body = isPlainObject(req.body) ? req.body : undefined;
    const call: OnegateReceived = { path: PAYMENT_RESULT_PATH, at, outcome: 'rejected' };
    if (typeof body?.maThamChieu === 'string' && body.maThamChieu) call.maThamChieu = body.maThamChieu.slice(0, 64);
    if (typeof body?.trangThai === 'string') call.trangThai = body.trangThai.slice(0, 32);
    if (typeof body?.soTien === 'number') call.soTien = body.soTien;
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
      return reply.code(400).send({ ketQua: 'LOI', moTa: 'Dữ liệu không hợp lệ: JSON lồng quá sâu / nested too deep' });
    }

    const hash = key ? sha256(canonicalJson(req.body)) : '';
    const cached = key ? idem.get(key, hash) : undefined;
    if (cached) {
      done('duplicate');
      return reply.code(cached.status).send(cached.body);
    }

    const checked = checkPaymentResult(req.body);
    if (!checked.ok) {
      done('error', '400', checked.error.field);
      return reply.code(400).send({ ketQua: 'LOI', moTa: `Dữ liệu không hợp lệ: ${checked.error.field} ${checked.error.reason}` });
    }
    const result = checked.value;
    if (modes.current === 'refuse') {
      done('error', 'refuse');
      return { ketQua: 'LOI', moTa: 'Hồ sơ không ở bước chờ thanh toán (mô phỏng) / the dossier is not awaiting payment', maThamChieu: result.maThamChieu };
    }
    let results = store.get(result.maThamChieu);
    if (!results) store.set(result.maThamChieu, (results = []));
    results.push({ ...structuredClone(result), at });
    const answer = { ketQua: 'DA_GHI_NHAN', moTa: 'Đã ghi nhận kết quả thanh toán', maThamChieu: result.maThamChieu };
    if (key) idem.put(key, hash, { status: 200, body: answer });
    done('ok');
    return answer;
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
    if (req.url.startsWith(PAYMENT_RESULT_PATH)) pushBounded(log, { path: PAYMENT_RESULT_PATH, at: new Date().toISOString(), outcome: 'rejected', errorCode: String(status) });
    return reply.code(status).send({ ketQua: 'LOI', moTa: status === 500 ? 'internal error' : requestErrorText(status) });
  });

  app.post(PAYMENT_RESULT_PATH, paymentResult);

  controlRoutes(app, { name: 'onegate', modes, allowed: ONEGATE_MODES, received: () => log, reset });
  app.get('/__sim/payment-results', async () => Object.fromEntries(store));

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
    paymentResults: () => new Map([...store].map(([k, v]) => [k, structuredClone(v)])),
    setMode: (mode, forMs) => modes.set(mode, forMs),
    reset,
    async close() {
      stopping.abort();
      await app.close();
    },
  };
}
