import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import {
  applyFault, BODY_LIMIT, canonicalJson, FAULT_MODES, IdempotencyCache, idempotencyKeyOf, isPlainObject, jsonDepth, MAX_DEPTH,
  ModeClock, controlRoutes, pushBounded, requestErrorText, sameSecret, sha256, sleeper, type Outcome,
} from '../harness.js';
import { checkHoSoList, checkIsUpdating, checkProgressList, checkStatusList, checkTraCuu, type Invalid } from './validate.js';

/**
 * Simulator of the National Public Service Portal (Cổng DVCQG) sync API as a province reaches it through
 * its adapter (VN-SYSTEMS §1 F2/F3, §2): `POST /dvcqg/auth` then `POST /dvcqg/service` with
 * `{session, madonvi, service, isUpdating?, type?, data}` (TraCuuHoSo: `{session, madonvi, service, mahoso}`) and
 * header `dstcode`.
 * A stranger on the network: it shares no code with the hub. Fictitious data only.
 */

export const DVCQG_MODES = [...FAULT_MODES, 'session-expired'] as const;
export type DvcqgMode = (typeof DVCQG_MODES)[number];

export const DVCQG_SERVICES = ['TraCuuHoSo', 'DongBoHoSoMC', 'DongBoTrangThaiHoSo', 'CapNhatTienDoHoSoMC'] as const;

export interface DvcqgSimOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Session lifetime from login (fixed, not sliding). Default 30 minutes. */
  sessionTtlMs?: number;
  /** Default 'lienthong'. */
  username?: string;
  /** Default 'demo'. */
  password?: string;
  /** How long `slow` mode sleeps. Default 30 000. */
  slowMs?: number;
  /** Added to every answer of /dvcqg/*. Default 0. */
  latencyMs?: number;
  /** Extra random 0..jitterMs on top of latencyMs. Default 0. */
  jitterMs?: number;
  /**
   * Agency codes (`madonvi`) the portal knows; any other is answered 106 AGENCY_ID_INCORRECT.
   * Default DVCQG_AGENCIES: the code the shipped mappings send (mappings/dvcqg/*.out.yaml).
   */
  agencies?: readonly string[];
  /**
   * `dstcode` values (HTTP header, or `?dstcode=` as the X-Road adapter also takes it) that reach this service;
   * any other, or none, is answered 106 AGENCY_ID_INCORRECT. Default DVCQG_DSTCODES.
   */
  dstcodes?: readonly string[];
}

/** Default known agencies: Thanh Hóa's UBND code, the `madonvi` of the shipped DVCQG mappings. Fictitious use only. */
export const DVCQG_AGENCIES: readonly string[] = ['000.00.00.H56'];
/** Default `dstcode`: the DVCQG provider subsystem of Văn phòng Chính phủ on NGSP (VN-SYSTEMS §1, CM-LGSP). */
export const DVCQG_DSTCODES: readonly string[] = ['VN:GOV:000.00.00.G22:vpcpdvcprovider'];

/** One call to `/dvcqg/service`: ids and codes only, never names or other personal values. */
export interface ReceivedCall {
  service: string;
  /** MaHoSo of the (first) item. */
  maHoSo?: string;
  /** TrangThaiHoSo (or progress TrangThai) of the first item. */
  trangThai?: string;
  /** Number of items in `data` when it is a list. */
  items?: number;
  madonvi?: string;
  dstcode?: string;
  idempotencyKey?: string;
  /** Arrival time, ISO 8601. */
  at: string;
  /**
   * ok: processed with error_code "0" (TraCuuHoSo reads count too: filter by service for writes);
   * error: a business error_code (302, -3, 201, 106 for a missing/unknown dstcode or madonvi, 500); duplicate: replayed answer for a repeated idempotency-key;
   * rejected: not processed (fault mode, invalid/expired session).
   */
  outcome: Outcome;
  /** error_code of the answer, or the fault: 'down' | 'http-500' | 'http-429'. */
  errorCode?: string;
}

export interface LoginAttempt {
  at: string;
  outcome: 'ok' | 'rejected';
}

export interface DvcqgSim {
  /** Base URL, e.g. http://127.0.0.1:8092 */
  url: string;
  close(): Promise<void>;
  /** Calls to /dvcqg/service in the order they were answered; the last 10 000 are kept. */
  received(): ReceivedCall[];
  /** Calls to /dvcqg/auth (no user names kept). */
  logins(): LoginAttempt[];
  /**
   * Stored dossiers by MaHoSo (copies): the latest HoSo snapshot's fields, then `TrangThaiHoSo` (current),
   * `DaDongBo` (false while only status/progress has arrived), `LichSuTrangThai` [{TrangThaiHoSo, service, at, NgayXuLy?}]
   * and `TienDo` [{...progress item, at}], both in arrival order.
   */
  dossiers(): Map<string, Record<string, unknown>>;
  /**
   * 'down' drops connections without an answer; 'slow' sleeps slowMs then processes; 'http-500' HTML 500;
   * 'http-429' 429 + Retry-After: 1; 'session-expired' answers every service call "-1" and forgets the session
   * presented (login still works). With `forMs` the mode returns to 'normal' by itself.
   */
  setMode(mode: DvcqgMode, forMs?: number): void;
  /** Forget every session: the next service call answers "-1" until the client logs in again. */
  expireSessions(): void;
  /** Forget dossiers, received calls, logins, idempotency keys; mode back to normal. Sessions stay valid. */
  reset(): void;
}

interface StatusEvent {
  TrangThaiHoSo: string;
  service: string;
  at: string;
  NgayXuLy?: string;
}

interface Stored {
  hoSo?: Record<string, unknown>;
  trangThai?: string;
  lichSu: StatusEvent[];
  tienDo: Array<Record<string, unknown>>;
}

interface Answer {
  body: { error_code: string; message: string; result?: unknown };
  outcome: 'ok' | 'error';
}

const OK = (result?: unknown): Answer => ({
  body: result === undefined ? { error_code: '0', message: 'Thành công' } : { error_code: '0', message: 'Thành công', result },
  outcome: 'ok',
});
const fail = (code: string, message: string): Answer => ({ body: { error_code: code, message }, outcome: 'error' });
/**
 * Every field check answers 302 DATA_TYPE_INVALID. VN-SYSTEMS lists no dedicated code for a value outside a code
 * list (KenhThucHien, LoaiDoiTuong, LoaiDinhDanh, LoaiPhiLePhi, TrangThaiHoSo) or a malformed MaTTHC; 302 is the
 * closest documented one (a value not of the field's type), as for malformed dates and non-string values.
 */
const invalid = (e: Invalid): Answer => fail('302', `DATA_TYPE_INVALID: ${e.field} ${e.reason}`);

const SESSION_INVALID = { error_code: '-1', message: 'Phiên làm việc không hợp lệ hoặc đã hết hạn' };
const MAX_SESSIONS = 10_000;

const str = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v ? v.slice(0, max) : undefined);

export async function startDvcqgSim(opts: DvcqgSimOptions = {}): Promise<DvcqgSim> {
  const ttl = opts.sessionTtlMs ?? 30 * 60_000;
  const username = opts.username ?? 'lienthong';
  const password = opts.password ?? 'demo';
  const slowMs = opts.slowMs ?? 30_000;
  const latencyMs = opts.latencyMs ?? 0;
  const jitterMs = opts.jitterMs ?? 0;
  const agencies = new Set(opts.agencies ?? DVCQG_AGENCIES);
  const dstcodes = new Set(opts.dstcodes ?? DVCQG_DSTCODES);

  const modes = new ModeClock<DvcqgMode>(DVCQG_MODES, 'normal');
  const sessions = new Map<string, number>();
  const store = new Map<string, Stored>();
  const log: ReceivedCall[] = [];
  const loginLog: LoginAttempt[] = [];
  const idem = new IdempotencyCache();
  const stopping = new AbortController();
  const wait = sleeper(stopping.signal);

  const entry = (maHoSo: string): Stored => {
    let rec = store.get(maHoSo);
    if (!rec) store.set(maHoSo, (rec = { lichSu: [], tienDo: [] }));
    return rec;
  };

  /**
   * `result` is a list, as OpenCPS reads it (hasSyncDossier: the dossier exists when the list is not empty).
   * What a found item holds is not public [U]; the simulator answers the code, procedure, status and receipt date.
   */
  function traCuu(body: Record<string, unknown>): Answer {
    const c = checkTraCuu(body);
    if (!c.ok) return invalid(c.error);
    const rec = store.get(c.value);
    if (!rec?.hoSo) return OK([]);
    return OK([{ MaHoSo: c.value, MaTTHC: rec.hoSo.MaTTHC, TrangThaiHoSo: rec.trangThai, NgayTiepNhan: rec.hoSo.NgayTiepNhan }]);
  }

  /** Upsert of full snapshots. The batch is all-or-nothing: one conflict rejects every item. */
  function dongBoHoSo(body: Record<string, unknown>, at: string): Answer {
    const upd = checkIsUpdating(body.isUpdating);
    if (!upd.ok) return invalid(upd.error);
    const c = checkHoSoList(body.data);
    if (!c.ok) return invalid(c.error);
    const seen = new Set<string>();
    for (const hoSo of c.value) {
      const exists = Boolean(store.get(hoSo.MaHoSo)?.hoSo) || seen.has(hoSo.MaHoSo);
      if (!upd.value && exists) return fail('-3', `Hồ sơ đã tồn tại: ${hoSo.MaHoSo}`);
      if (upd.value && !exists) return fail('201', `RECORD_NOT_FOUND: ${hoSo.MaHoSo}`);
      seen.add(hoSo.MaHoSo);
    }
    for (const hoSo of c.value) {
      const rec = entry(hoSo.MaHoSo);
      rec.hoSo = structuredClone(hoSo);
      rec.trangThai = hoSo.TrangThaiHoSo;
      rec.lichSu.push({ TrangThaiHoSo: hoSo.TrangThaiHoSo, service: 'DongBoHoSoMC', at });
    }
    return OK();
  }

  /** Status of DVCQG-originated dossiers (type "2"). Unknown MaHoSo is accepted: such dossiers live on DVCQG. */
  function dongBoTrangThai(body: Record<string, unknown>, at: string): Answer {
    if (body.type !== '2') return invalid({ field: 'type', reason: 'phải là "2" / must be "2"' });
    const c = checkStatusList(body.data);
    if (!c.ok) return invalid(c.error);
    for (const item of c.value) {
      const rec = entry(item.MaHoSo);
      rec.trangThai = item.TrangThaiHoSo;
      rec.lichSu.push({
        TrangThaiHoSo: item.TrangThaiHoSo,
        service: 'DongBoTrangThaiHoSo',
        at,
        ...(item.NgayXuLy ? { NgayXuLy: item.NgayXuLy } : {}),
      });
    }
    return OK();
  }

  /** Progress steps, kept in arrival order. Unknown MaHoSo is accepted (the portal may have it from an earlier sync). */
  function tienDo(body: Record<string, unknown>, at: string): Answer {
    const c = checkProgressList(body.data);
    if (!c.ok) return invalid(c.error);
    // The parsed body is this call's own and is never written to; readers get copies (events()).
    for (const item of c.value) entry(item.MaHoSo).tienDo.push({ ...item, at });
    return OK();
  }

  function dispatch(body: Record<string, unknown>, at: string): Answer {
    switch (body.service) {
      case 'TraCuuHoSo':
        return traCuu(body);
      case 'DongBoHoSoMC':
        return dongBoHoSo(body, at);
      case 'DongBoTrangThaiHoSo':
        return dongBoTrangThai(body, at);
      case 'CapNhatTienDoHoSoMC':
        return tienDo(body, at);
      default:
        return fail('500', 'DATA_INCORRECT: unknown service');
    }
  }

  function summarize(req: FastifyRequest, body: Record<string, unknown> | undefined, at: string): ReceivedCall {
    const data = body?.data;
    const first = Array.isArray(data) ? data[0] : data;
    const item = isPlainObject(first) ? first : undefined;
    const call: ReceivedCall = { service: str(body?.service, 64) ?? '(none)', at, outcome: 'rejected' };
    const maHoSo = str(item?.MaHoSo, 100) ?? str(body?.mahoso, 100);
    const trangThai = str(item?.TrangThaiHoSo, 8) ?? str(item?.TrangThai, 8);
    const madonvi = str(body?.madonvi, 64);
    const dstcode = str(dstcodeOf(req), 200);
    const idempotencyKey = idempotencyKeyOf(req);
    if (maHoSo) call.maHoSo = maHoSo;
    if (trangThai) call.trangThai = trangThai;
    if (Array.isArray(data)) call.items = data.length;
    if (madonvi) call.madonvi = madonvi;
    if (dstcode) call.dstcode = dstcode;
    if (idempotencyKey) call.idempotencyKey = idempotencyKey;
    return call;
  }

  /** The `dstcode` header (its first value when repeated), else the `dstcode` query parameter. */
  function dstcodeOf(req: FastifyRequest): unknown {
    const header = req.headers.dstcode;
    const value = Array.isArray(header) ? header[0] : header;
    if (value !== undefined && value !== '') return value;
    return isPlainObject(req.query) ? req.query.dstcode : undefined;
  }

  async function delay() {
    if (latencyMs > 0 || jitterMs > 0) await wait(latencyMs + Math.random() * jitterMs);
  }

  /** A mode's fault (its name, once the request has been answered or dropped), else the simulated latency. */
  async function gate(req: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
    const fault = await applyFault(modes.current, req, reply, wait, slowMs);
    if (fault) return fault;
    await delay();
    return undefined;
  }

  function validSession(token: unknown): boolean {
    if (typeof token !== 'string') return false;
    const expires = sessions.get(token);
    if (expires === undefined) return false;
    if (Date.now() >= expires) {
      sessions.delete(token);
      return false;
    }
    return true;
  }

  async function auth(req: FastifyRequest, reply: FastifyReply) {
    const at = new Date().toISOString();
    try {
      if (await gate(req, reply)) {
        pushBounded(loginLog, { at, outcome: 'rejected' });
        return reply;
      }
    } catch {
      return reply.code(503).send();
    }
    const b = isPlainObject(req.body) ? req.body : {};
    const okUser = typeof b.username === 'string' && sameSecret(b.username, username);
    const okPass = typeof b.password === 'string' && sameSecret(b.password, password);
    if (!okUser || !okPass) {
      pushBounded(loginLog, { at, outcome: 'rejected' });
      return { error_code: 100, message: 'AUTHEN_ERROR: sai tên đăng nhập hoặc mật khẩu / wrong username or password' };
    }
    const now = Date.now();
    if (sessions.size >= MAX_SESSIONS) {
      for (const [token, expires] of sessions) if (expires <= now) sessions.delete(token);
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
    }
    const session = randomBytes(24).toString('base64url');
    sessions.set(session, now + ttl);
    pushBounded(loginLog, { at, outcome: 'ok' });
    return { session, error_code: 0 };
  }

  async function service(req: FastifyRequest, reply: FastifyReply) {
    const at = new Date().toISOString();
    const body = isPlainObject(req.body) ? req.body : undefined;
    const call = summarize(req, body, at);
    const done = (outcome: Outcome, errorCode?: string) => {
      call.outcome = outcome;
      if (errorCode !== undefined) call.errorCode = errorCode;
      pushBounded(log, call);
    };

    try {
      const fault = await gate(req, reply);
      if (fault) {
        done('rejected', fault);
        return reply;
      }
    } catch {
      return reply.code(503).send();
    }

    if (!body || jsonDepth(body) > MAX_DEPTH) {
      done('error', '500');
      return { error_code: '500', message: 'DATA_INCORRECT: body must be a JSON object of moderate depth' };
    }
    // The NGSP adapter routes by dstcode before the portal sees the session. VN-SYSTEMS gives no code for a missing
    // or wrong dstcode; 106 AGENCY_ID_INCORRECT is the closest documented one (dstcode names the destination
    // agency, VN:GOV:000.00.00.G22:…). The login (/dvcqg/auth) is not checked: the sources show dstcode on service calls.
    const dstcode = dstcodeOf(req);
    if (typeof dstcode !== 'string' || !dstcodes.has(dstcode)) {
      done('error', '106');
      return {
        error_code: '106',
        message: dstcode === undefined || dstcode === ''
          ? 'AGENCY_ID_INCORRECT: thiếu dstcode / dstcode missing'
          : 'AGENCY_ID_INCORRECT: dstcode không đúng / unknown dstcode',
      };
    }
    if (modes.current === 'session-expired') {
      if (typeof body.session === 'string') sessions.delete(body.session);
      done('rejected', '-1');
      return SESSION_INVALID;
    }
    if (!validSession(body.session)) {
      done('rejected', '-1');
      return SESSION_INVALID;
    }
    if (typeof body.madonvi !== 'string' || !body.madonvi.trim()) {
      done('error', '106');
      return { error_code: '106', message: 'AGENCY_ID_INCORRECT: thiếu madonvi / madonvi missing' };
    }
    if (!agencies.has(body.madonvi)) {
      done('error', '106');
      return { error_code: '106', message: 'AGENCY_ID_INCORRECT: madonvi không có trong danh mục cơ quan / unknown madonvi' };
    }

    // The session changes when a client logs in again before retrying, so it is left out of the hash.
    const key = call.idempotencyKey;
    const hash = key ? sha256(canonicalJson({ ...body, session: undefined })) : '';
    const cached = key ? idem.get(key, hash) : undefined;
    if (cached) {
      done('duplicate', String((cached.body as { error_code?: unknown }).error_code));
      return reply.code(cached.status).send(cached.body);
    }

    const answer = dispatch(body, at);
    if (key) idem.put(key, hash, { status: 200, body: answer.body });
    done(answer.outcome, answer.body.error_code === '0' ? undefined : answer.body.error_code);
    return answer.body;
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
    if (req.url.startsWith('/dvcqg/service')) {
      pushBounded(log, { service: '(invalid)', at: new Date().toISOString(), outcome: 'rejected', errorCode: String(status) });
    }
    const message = status === 500 ? 'internal error' : requestErrorText(status);
    return reply.code(status).send({ error_code: '500', message: `DATA_INCORRECT: ${message}` });
  });

  app.post('/dvcqg/auth', auth);
  app.post('/dvcqg/service', service);

  controlRoutes(app, { name: 'dvcqg', modes, allowed: DVCQG_MODES, received: () => log, reset });
  app.get('/__sim/logins', async () => loginLog);
  app.get('/__sim/dossiers', async () => Object.fromEntries(dossiers()));
  app.post('/__sim/expire-sessions', async () => {
    sessions.clear();
    return { expired: true };
  });

  function dossiers(): Map<string, Record<string, unknown>> {
    const out = new Map<string, Record<string, unknown>>();
    for (const [maHoSo, rec] of store) {
      out.set(maHoSo, {
        ...structuredClone(rec.hoSo ?? {}),
        MaHoSo: maHoSo,
        TrangThaiHoSo: rec.trangThai,
        DaDongBo: Boolean(rec.hoSo),
        LichSuTrangThai: structuredClone(rec.lichSu),
        TienDo: structuredClone(rec.tienDo),
      });
    }
    return out;
  }

  function reset() {
    store.clear();
    log.length = 0;
    loginLog.length = 0;
    idem.clear();
    modes.set('normal');
  }

  const url = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  return {
    url,
    received: () => log.map((c) => ({ ...c })),
    logins: () => loginLog.map((l) => ({ ...l })),
    dossiers,
    setMode: (mode, forMs) => modes.set(mode, forMs),
    expireSessions: () => sessions.clear(),
    reset,
    async close() {
      stopping.abort();
      await app.close();
    },
  };
}
