import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { sleeper } from '../harness.js';
import { lookup } from './lookup.js';
import { RESERVED } from './people.js';
import { collectionXml } from './congdan-xml.js';
import { contentTypeOf, envelope, faultResponse, parseSoapRequest, QLDC, SoapFault, type SoapRequest, type SoapVersion } from './soap.js';

/**
 * Simulator of the national population database's SOAP service (CSDLQG về dân cư) as a province sees it.
 * A stranger on the network: it shares no code with the hub.
 */

export const SIM_MODES = ['normal', 'fault', 'slow', 'down-500'] as const;
export type SimMode = (typeof SIM_MODES)[number];

export interface PopulationSimOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Added to every SOAP answer. Default 0. */
  latencyMs?: number;
  /** Extra random delay of 0..jitterMs on top of latencyMs: real services do not answer in lockstep. */
  jitterMs?: number;
  /** How long `slow` mode and the slow CCCD sleep. Default 30 000. */
  slowMs?: number;
}

export interface Received {
  operation: string;
  at: string;
}

export interface PopulationSim {
  /** Base URL, e.g. http://127.0.0.1:8091 */
  url: string;
  /** SOAP endpoint: `${url}/CSDLDanCu` */
  endpoint: string;
  close(): Promise<void>;
  /** What was received: operation and time only, never values. The last 10 000 are kept. */
  received(): Received[];
  setMode(mode: SimMode): void;
}

/** Operations the real service lists; only TraCuuThongTinCongDan is simulated. */
const KNOWN_OPERATIONS = new Set([
  'TraCuuThongTinCongDan', 'XacThucThongTinCongDan', 'XacMinhThongTinNhanThan', 'CungCapThongTinHoGiaDinh',
  'XacMinhTinhTrangHonNhan', 'XacMinhTinhTrangChetMatTich',
]);
const MAX_RECEIVED = 10_000;
const BUSY = 'Hệ thống đang bận / system busy';
const DOWN_PAGE = '<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>';

export async function startPopulationSim(opts: PopulationSimOptions = {}): Promise<PopulationSim> {
  const latencyMs = opts.latencyMs ?? 0;
  const jitterMs = opts.jitterMs ?? 0;
  const slowMs = opts.slowMs ?? 30_000;
  const log: Received[] = [];
  const stopping = new AbortController();
  let mode: SimMode = 'normal';

  const setMode = (next: SimMode) => {
    if (!SIM_MODES.includes(next)) throw new Error(`unknown simulator mode: ${String(next)}`);
    mode = next;
  };
  const record = (operation: string) => {
    if (log.length >= MAX_RECEIVED) log.shift();
    log.push({ operation, at: new Date().toISOString() });
  };
  const wait = sleeper(stopping.signal);

  async function answer({ version, operation, namespace, fields }: SoapRequest): Promise<string> {
    if (namespace !== QLDC) throw new SoapFault('Client', `Không gian tên không đúng, cần ${QLDC} / wrong operation namespace`);
    if (!KNOWN_OPERATIONS.has(operation)) throw new SoapFault('Client', 'Thao tác không tồn tại / unknown operation');
    if (operation !== 'TraCuuThongTinCongDan') {
      throw new SoapFault('Client', 'Thao tác chưa được mô phỏng / operation not supported by simulator');
    }
    const id = fields.SoDinhDanh?.trim();
    if (id === RESERVED.FAULT) throw new SoapFault('Server', BUSY);
    if (id === RESERVED.SLOW) await wait(slowMs);
    const found = lookup({ SoDinhDanh: id, HoVaTen: fields.HoVaTen, NgayThangNamSinh: fields.NgayThangNamSinh ?? fields.NgayThangNam });
    return envelope(version, collectionXml(found ? [found] : []));
  }

  function sendFault(reply: FastifyReply, version: SoapVersion, error: unknown) {
    if (stopping.signal.aborted) return reply.code(503).send();
    const fault = error instanceof SoapFault ? error : new SoapFault('Server', 'Lỗi hệ thống / internal error');
    const res = faultResponse(version, fault);
    return reply.code(res.status).type(res.contentType).send(res.body);
  }

  async function soap(req: FastifyRequest, reply: FastifyReply) {
    const contentType = String(req.headers['content-type'] ?? '');
    let parsed: SoapRequest;
    try {
      parsed = parseSoapRequest(typeof req.body === 'string' ? req.body : '');
    } catch (error) {
      record('(invalid)');
      return sendFault(reply, contentType.startsWith('application/soap+xml') ? '1.2' : '1.1', error);
    }
    record(parsed.operation);
    try {
      if (mode === 'down-500') return reply.code(500).type('text/html; charset=utf-8').send(DOWN_PAGE);
      if (latencyMs > 0 || jitterMs > 0) await wait(latencyMs + Math.random() * jitterMs);
      if (mode === 'slow') await wait(slowMs);
      if (mode === 'fault') throw new SoapFault('Server', BUSY);
      return reply.code(200).type(contentTypeOf(parsed.version)).send(await answer(parsed));
    } catch (error) {
      return sendFault(reply, parsed.version, error);
    }
  }

  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.addContentTypeParser(['text/xml', 'application/soap+xml', 'application/xml'], { parseAs: 'string', bodyLimit: 256 * 1024 }, (_req, body, done) =>
    done(null, body),
  );
  app.post('/CSDLDanCu', soap);
  app.post('/', soap);
  app.get('/health', async () => ({ status: 'ok', mode }));
  app.get('/__sim/received', async () => log);
  app.post('/__sim/mode', async (req, reply) => {
    const next = (req.body as { mode?: unknown } | undefined)?.mode;
    if (typeof next !== 'string' || !SIM_MODES.includes(next as SimMode)) {
      return reply.code(400).send({ error: `mode must be one of ${SIM_MODES.join(', ')}` });
    }
    setMode(next as SimMode);
    return { mode };
  });

  const url = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  return {
    url,
    endpoint: `${url}/CSDLDanCu`,
    received: () => log.slice(),
    setMode,
    async close() {
      stopping.abort();
      await app.close();
    },
  };
}
