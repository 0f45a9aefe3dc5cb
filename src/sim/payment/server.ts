import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import {
  applyFault, BODY_LIMIT, FAULT_MODES, idempotencyKeyOf, isPlainObject, jsonDepth, MAX_DEPTH, controlRoutes, ModeClock,
  pushBounded, requestErrorText, sameSecret, sleeper, type FaultMode, type Outcome,
} from '../harness.js';
import { hasValidMaXacThuc, INIT_FIELDS } from './checksum.js';
import { compactVnTime, confirmFor, postConfirm, signConfirm, SIGNINGS, type PostedConfirm, type Signing } from './confirm.js';
import { checkInit, type InitMessage } from './validate.js';

/**
 * Simulator of the DVCQG payment platform (Nền tảng thanh toán, VN-SYSTEMS §1 F8, §2): a partner (the
 * province's one-stop system, here through the hub) posts an INIT message signed with MaXacThuc and gets
 * a payment page URL; once the payer has paid, the platform calls the partner back with a signed
 * confirmation and reads its reply. Here the callback is sent on request (`sendConfirm`, `POST /__sim/confirm`).
 * A stranger on the network: it shares no code with the hub. Fictitious data only.
 */

export const PAYMENT_MODES = FAULT_MODES;
export type PaymentMode = FaultMode;

/**
 * MaLoi the simulator answers. Only 00 (success) is confirmed by public code; the real list of error
 * codes is not public, so the others are the simulator's own.
 */
export const MA_LOI = {
  OK: '00',
  INVALID_DATA: '01',
  UNKNOWN_PARTNER: '02',
  DUPLICATE_REFERENCE: '03',
  BAD_CHECKSUM: '07',
} as const;

export interface PaymentSimOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The one partner the platform knows (MaDoiTac). Default '000.00.00.H56'. */
  partnerCode?: string;
  /** The secret shared with that partner. Default 'demo-secret'. */
  secret?: string;
  /** Required as `Authorization: Bearer <token>` on INIT. Default 'payment-demo-token'. */
  token?: string;
  /** Where callbacks go unless a call names another URL. Default the demo hub's CONFIRM endpoint. */
  callbackUrl?: string;
  /** How long a callback waits for the partner's reply. Default 10 000. */
  callbackTimeoutMs?: number;
  /** How long `slow` mode sleeps. Default 30 000. */
  slowMs?: number;
  /** Added to every INIT answer. Default 0. */
  latencyMs?: number;
  /** Extra random 0..jitterMs on top of latencyMs. Default 0. */
  jitterMs?: number;
}

/** One INIT call: ids, codes and amounts only, never names or other personal values. */
export interface PaymentReceived {
  path: string;
  at: string;
  maThamChieu?: string;
  maHoSo?: string;
  soTien?: string;
  idempotencyKey?: string;
  /** ok: transaction created; duplicate: the same INIT again; error: a MaLoi other than 00; rejected: 401 or a fault mode. */
  outcome: Outcome;
  maLoi?: string;
  /** Whether MaXacThuc matched, once the partner was known. */
  checksum?: 'valid' | 'invalid';
  /** '401' or the fault mode. */
  errorCode?: string;
  /** Field named by a validation error. */
  field?: string;
}

/** A callback the simulator sent, and what came back. */
export interface SentCallback extends PostedConfirm {
  at: string;
  url: string;
  signing: Signing;
  maThamChieu: string;
  /** The callback as sent (it carries no personal data). */
  message: Record<string, unknown>;
}

export interface PaymentTransaction {
  maThamChieu: string;
  /** The INIT message as received, MaXacThuc included. */
  init: InitMessage;
  paymentUrl: string;
  initiatedAt: string;
  callbacks: SentCallback[];
}

export interface ConfirmRequest {
  maThamChieu: string;
  /** Default: the simulator's callbackUrl. */
  url?: string;
  /** Default '00' (paid). */
  maLoi?: string;
  /** Default 'valid'. */
  signing?: Signing;
}

export interface PaymentSim {
  /** Base URL, e.g. http://127.0.0.1:8095 */
  url: string;
  close(): Promise<void>;
  /** INIT calls in the order they were answered; the last 10 000 are kept. */
  received(): PaymentReceived[];
  /** Transactions created by INIT, by MaThamChieu (copies). */
  transactions(): Map<string, PaymentTransaction>;
  /** Callbacks sent, in order (copies). */
  callbacks(): SentCallback[];
  /** Sends the confirmation callback of a transaction created by INIT. Throws when there is none. */
  sendConfirm(request: ConfirmRequest): Promise<SentCallback>;
  /** Same meanings as the DVCQG simulator ('down' drops connections without an answer). */
  setMode(mode: PaymentMode, forMs?: number): void;
  /** Forget transactions, received calls and sent callbacks; mode back to normal. */
  reset(): void;
}

const DEFAULT_CALLBACK_URL = 'http://127.0.0.1:8080/v1/in/dvcqg-payment/CONFIRM';
/** What the payer's bank is called in callbacks when INIT left the choice to the platform (fictitious). */
const SIMULATED_BANK = 'NH-MAU';

type Answer = { body: Record<string, unknown>; outcome: 'ok' | 'error' | 'duplicate' };

const str = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v ? v.slice(0, max) : undefined);

export async function startPaymentSim(opts: PaymentSimOptions = {}): Promise<PaymentSim> {
  const partnerCode = opts.partnerCode ?? '000.00.00.H56';
  const secret = opts.secret ?? 'demo-secret';
  const token = opts.token ?? 'payment-demo-token';
  const callbackUrl = opts.callbackUrl ?? DEFAULT_CALLBACK_URL;
  const callbackTimeoutMs = opts.callbackTimeoutMs ?? 10_000;
  const slowMs = opts.slowMs ?? 30_000;
  const latencyMs = opts.latencyMs ?? 0;
  const jitterMs = opts.jitterMs ?? 0;

  const modes = new ModeClock<PaymentMode>(PAYMENT_MODES, 'normal');
  const store = new Map<string, PaymentTransaction>();
  const log: PaymentReceived[] = [];
  const sent: SentCallback[] = [];
  const stopping = new AbortController();
  const wait = sleeper(stopping.signal);
  let url = '';
  let transactionSeq = 0;

  /** A refusal names the partner and reference it could read, so the partner can match it to its request. */
  const fail = (maLoi: string, moTaLoi: string, body: Record<string, unknown>): Answer => {
    const answer: Record<string, unknown> = { MaLoi: maLoi, MoTaLoi: moTaLoi };
    const maDoiTac = str(body.MaDoiTac, 50);
    const maThamChieu = str(body.MaThamChieu, 64);
    if (maDoiTac) answer.MaDoiTac = maDoiTac;
    if (maThamChieu) answer.MaThamChieu = maThamChieu;
    return { body: answer, outcome: 'error' };
  };

  const created = (tx: PaymentTransaction, outcome: 'ok' | 'duplicate'): Answer => ({
    body: { MaLoi: MA_LOI.OK, MoTaLoi: 'Thành công', MaDoiTac: tx.init.MaDoiTac, MaThamChieu: tx.maThamChieu, ThoiGianGD: compactVnTime(new Date()), UrlThanhToan: tx.paymentUrl },
    outcome,
  });

  /** The platform's decision on one INIT, in the order it can tell: whose is it, is it authentic, is it complete, is it new. */
  function decide(body: Record<string, unknown>, call: PaymentReceived): Answer {
    if (body.MaDoiTac !== partnerCode) return fail(MA_LOI.UNKNOWN_PARTNER, 'Mã đối tác không tồn tại / unknown partner', body);
    const authentic = hasValidMaXacThuc(body, INIT_FIELDS, secret);
    call.checksum = authentic ? 'valid' : 'invalid';
    if (!authentic) return fail(MA_LOI.BAD_CHECKSUM, 'Sai mã xác thực / MaXacThuc does not match the message', body);
    const checked = checkInit(body);
    if (!checked.ok) {
      call.field = checked.error.field;
      return fail(MA_LOI.INVALID_DATA, `Dữ liệu không hợp lệ: ${checked.error.field} ${checked.error.reason}`, body);
    }
    const init = checked.value;
    const existing = store.get(init.MaThamChieu);
    if (existing) {
      // The same message again is a retry; the same reference with other content is a second payment.
      return existing.init.MaXacThuc === init.MaXacThuc ? created(existing, 'duplicate') : fail(MA_LOI.DUPLICATE_REFERENCE, 'Mã tham chiếu đã tồn tại / MaThamChieu already used', body);
    }
    const tx: PaymentTransaction = {
      maThamChieu: init.MaThamChieu,
      init: structuredClone(init),
      paymentUrl: `${url}/thanh-toan/${encodeURIComponent(init.MaThamChieu)}`,
      initiatedAt: new Date().toISOString(),
      callbacks: [],
    };
    store.set(tx.maThamChieu, tx);
    return created(tx, 'ok');
  }

  function authorized(req: FastifyRequest): boolean {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    return Boolean(m && sameSecret(m[1]!, token));
  }

  async function init(req: FastifyRequest, reply: FastifyReply) {
    const at = new Date().toISOString();
    const body = isPlainObject(req.body) ? req.body : undefined;
    const receipt = isPlainObject(body?.ThongTinBienLai) ? body.ThongTinBienLai : undefined;
    const call: PaymentReceived = { path: req.routeOptions.url ?? req.url, at, outcome: 'rejected' };
    const maThamChieu = str(body?.MaThamChieu, 64);
    const maHoSo = str(receipt?.MaHoSo, 100);
    const soTien = str(body?.SoTien, 16);
    const idempotencyKey = idempotencyKeyOf(req);
    if (maThamChieu) call.maThamChieu = maThamChieu;
    if (maHoSo) call.maHoSo = maHoSo;
    if (soTien) call.soTien = soTien;
    if (idempotencyKey) call.idempotencyKey = idempotencyKey;
    const done = (outcome: Outcome, extra: Partial<PaymentReceived> = {}) => pushBounded(log, Object.assign(call, { outcome }, extra));

    try {
      const fault = await applyFault(modes.current, req, reply, wait, slowMs);
      if (fault) {
        done('rejected', { errorCode: fault });
        return reply;
      }
      if (latencyMs > 0 || jitterMs > 0) await wait(latencyMs + Math.random() * jitterMs);
    } catch {
      return reply.code(503).send();
    }

    if (!authorized(req)) {
      done('rejected', { errorCode: '401' });
      return reply.code(401).header('www-authenticate', 'Bearer').send({ MaLoi: '401', MoTaLoi: 'Unauthorized: cần Authorization: Bearer <token>' });
    }
    if (!body || jsonDepth(body) > MAX_DEPTH) {
      done('error', { maLoi: MA_LOI.INVALID_DATA, field: '(body)' });
      return { MaLoi: MA_LOI.INVALID_DATA, MoTaLoi: 'Dữ liệu không hợp lệ: cần một đối tượng JSON / JSON object expected' };
    }
    const answer = decide(body, call);
    done(answer.outcome, { maLoi: String(answer.body.MaLoi) });
    return answer.body;
  }

  async function sendConfirm(request: ConfirmRequest): Promise<SentCallback> {
    const tx = store.get(request.maThamChieu);
    if (!tx) throw new Error(`no transaction with MaThamChieu ${request.maThamChieu.slice(0, 64)}: send INIT first`);
    const signing = request.signing ?? 'valid';
    const now = new Date();
    const bank = tx.init.MaNganHang && tx.init.MaNganHang !== 'PAYMENT' ? String(tx.init.MaNganHang) : SIMULATED_BANK;
    const facts = { maLoi: request.maLoi ?? MA_LOI.OK, maGiaoDich: `PP${compactVnTime(now)}${String(++transactionSeq).padStart(4, '0')}`, maNganHang: bank, thoiGianGD: compactVnTime(now) };
    const message = signConfirm(confirmFor(tx.init, facts), signing, secret);
    const target = request.url ?? callbackUrl;
    const posted = await postConfirm(target, message, callbackTimeoutMs);
    const callback: SentCallback = { at: now.toISOString(), url: target, signing, maThamChieu: tx.maThamChieu, message, ...posted };
    tx.callbacks.push(callback);
    pushBounded(sent, callback);
    return structuredClone(callback);
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
    if (req.url.startsWith('/paymentplatform/')) pushBounded(log, { path: req.url.split('?')[0]!, at: new Date().toISOString(), outcome: 'rejected', errorCode: String(status) });
    return reply.code(status).send({ MaLoi: MA_LOI.INVALID_DATA, MoTaLoi: status === 500 ? 'internal error' : requestErrorText(status) });
  });

  app.post('/paymentplatform/init', init);

  // The page the payer is sent to. Paying is simulated by POST /__sim/confirm.
  app.get('/thanh-toan/:maThamChieu', async (req, reply) => {
    const { maThamChieu } = req.params as { maThamChieu: string };
    const tx = store.get(maThamChieu);
    if (!tx) return reply.code(404).type('text/plain; charset=utf-8').send('Không có giao dịch này / no such transaction');
    const ref = JSON.stringify(tx.maThamChieu);
    return reply.type('text/plain; charset=utf-8').send(
      `Nền tảng thanh toán (mô phỏng, dữ liệu giả định)\nMã tham chiếu: ${tx.maThamChieu}\nSố tiền: ${tx.init.SoTien} VND\n\n` +
        `Giả lập người nộp đã thanh toán:\n  curl -XPOST ${url}/__sim/confirm -H 'content-type: application/json' -d '{"maThamChieu":${ref}}'\n`,
    );
  });

  controlRoutes(app, { name: 'payment', modes, allowed: PAYMENT_MODES, received: () => log, reset });
  app.get('/__sim/transactions', async () => Object.fromEntries(transactions()));
  app.get('/__sim/callbacks', async () => sent);
  app.post('/__sim/confirm', async (req, reply) => {
    const b = isPlainObject(req.body) ? req.body : {};
    if (typeof b.maThamChieu !== 'string') return reply.code(400).send({ error: 'maThamChieu is required' });
    if (b.url !== undefined && (typeof b.url !== 'string' || !/^https?:\/\//.test(b.url))) return reply.code(400).send({ error: 'url must be an http(s) URL' });
    if (b.maLoi !== undefined && (typeof b.maLoi !== 'string' || !/^[0-9A-Za-z-]{1,16}$/.test(b.maLoi))) return reply.code(400).send({ error: 'maLoi must be a short code such as "00"' });
    if (b.signing !== undefined && !SIGNINGS.includes(b.signing as Signing)) return reply.code(400).send({ error: `signing must be one of ${SIGNINGS.join(', ')}` });
    if (!store.has(b.maThamChieu)) return reply.code(404).send({ error: 'no transaction with this maThamChieu: send INIT first' });
    return sendConfirm({ maThamChieu: b.maThamChieu, url: b.url as string | undefined, maLoi: b.maLoi as string | undefined, signing: b.signing as Signing | undefined });
  });

  function transactions(): Map<string, PaymentTransaction> {
    return new Map([...store].map(([ref, tx]) => [ref, structuredClone(tx)]));
  }

  function reset() {
    store.clear();
    log.length = 0;
    sent.length = 0;
    modes.set('normal');
  }

  url = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  return {
    url,
    received: () => log.map((c) => ({ ...c })),
    transactions,
    callbacks: () => structuredClone(sent),
    sendConfirm,
    setMode: (mode, forMs) => modes.set(mode, forMs),
    reset,
    async close() {
      stopping.abort();
      await app.close();
    },
  };
}
