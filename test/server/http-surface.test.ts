import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createHub, type RunningHub } from '../../src/server/hub.js';
import { createLogger } from '../../src/server/logger.js';
import { LogCapture, hubEnv, loadShipped, startTestHub } from '../support/hub.js';

/**
 * The hub's HTTP surface around the pipeline: which media types, charsets and content codings each endpoint takes
 * (415 otherwise, as problem+json or a SOAP Fault), a known address asked with another method (405 with Allow),
 * requests Node cannot read (431, 400: problem+json with a request id), and the OpenAPI document matching all that.
 */
const REST = '/v1/in/onegate-h56/citizen-lookup';
const SOAP = '/v1/soap/motcua-legacy';
const envelope = (inner: string) => `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:motcua:legacy:v1"><soap:Body>${inner}</soap:Body></soap:Envelope>`;
const lookup = envelope('<m:TraCuuCongDan><ApplicantsId>001199999902</ApplicantsId></m:TraCuuCongDan>');

describe('the HTTP surface (in-process)', () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;
  const logs = new LogCapture();

  beforeAll(async () => {
    // The destination is a closed port: anything that got past the checks below would answer 502, not 415.
    const registry = loadShipped({ CSDLDC_URL: 'http://127.0.0.1:9' });
    ({ app, close } = await createHub({ registry, log: createLogger({ level: 'info', destination: logs }), env: hubEnv({}), workers: false }));
    await app.ready();
  });
  afterAll(async () => close());

  const post = (url: string, payload: string | Buffer, headers: Record<string, string>) => app.inject({ method: 'POST', url, payload, headers });
  const problem = (res: { statusCode: number; headers: Record<string, unknown>; body: string }) => {
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    const body = JSON.parse(res.body) as { type: string; status: number; message: string; logId: string; detail: Array<{ code?: string }> };
    expect(body.status).toBe(res.statusCode);
    expect(body.logId).toBe(res.headers['x-request-id']);
    return body;
  };
  /** The hub's own error type and status, as a SOAP Fault carries them (HTTP 500, SOAP 1.1's rule). */
  const fault = (res: { statusCode: number; headers: Record<string, unknown>; body: string }) => {
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toContain('text/xml');
    expect(res.body).toContain('Fault');
    return { type: /<Loai>([^<]*)<\/Loai>/.exec(res.body)?.[1], status: Number(/<TrangThai>([^<]*)<\/TrangThai>/.exec(res.body)?.[1]) };
  };

  describe('media types: SOAP routes take XML only, REST routes JSON only', () => {
    it('refuses XML on a REST route with 415, not as malformed JSON', async () => {
      const res = await post(REST, '<a/>', { 'content-type': 'text/xml' });
      expect(res.statusCode).toBe(415);
      expect(problem(res).type).toBe('client.unsupported-media-type');
    });

    it('refuses JSON on a SOAP route with a 415 Fault, not as malformed XML', async () => {
      const res = await post(SOAP, '{}', { 'content-type': 'application/json' });
      expect(fault(res)).toEqual({ type: 'client.unsupported-media-type', status: 415 });
    });

    it('keeps the XML body limit on a SOAP route whatever the caller declares (an envelope labelled JSON is refused, not parsed)', async () => {
      const big = envelope(`<m:TraCuuCongDan><ApplicantsId>001199999902</ApplicantsId></m:TraCuuCongDan><!--${'a'.repeat(300_000)}-->`);
      expect(fault(await post(SOAP, big, { 'content-type': 'text/xml' }))).toEqual({ type: 'client.body-too-large', status: 413 });
      expect(fault(await post(SOAP, big, { 'content-type': 'application/json' }))).toEqual({ type: 'client.unsupported-media-type', status: 415 });
    });

    it('takes the media types a SOAP caller may send, and JSON with a UTF-8 charset on a REST route', async () => {
      for (const type of ['text/xml; charset=utf-8', 'application/soap+xml', 'application/xml', 'text/xml; charset="UTF-8"']) {
        // Past the media type check: the closed destination port answers (a transport fault), not 415.
        expect(fault(await post(SOAP, lookup, { 'content-type': type })).type, type).toMatch(/^transport\./);
      }
      for (const type of ['application/json', 'application/json; charset=utf-8', 'application/json;charset=US-ASCII']) {
        const res = await post(REST, '{"soDinhDanh":"038095999901","mucDich":"x"}', { 'content-type': type });
        expect(res.statusCode, type).toBe(502);
      }
    });

    it('refuses a near miss of JSON (a +json type) on a REST route', async () => {
      const res = await post(REST, '{}', { 'content-type': 'application/json-patch+json' });
      expect(res.statusCode).toBe(415);
    });
  });

  describe('charsets and content codings the codecs cannot read: 415 naming them', () => {
    const body = '{"soDinhDanh":"038095999901","mucDich":"Gi\u00e1i quy\u1ebft"}';

    it('refuses a charset other than UTF-8 / US-ASCII, naming it', async () => {
      for (const charset of ['iso-8859-1', 'utf-16', 'windows-1258']) {
        const res = await post(REST, Buffer.from(body, 'latin1'), { 'content-type': `application/json; charset=${charset}` });
        expect(res.statusCode, charset).toBe(415);
        const answer = problem(res);
        expect(answer).toMatchObject({ type: 'client.unsupported-media-type', detail: [{ code: 'unsupported-charset' }] });
        expect(answer.message).toContain(charset);
      }
    });

    it('refuses a compressed body, naming the coding (RFC 9110 §15.5.16)', async () => {
      for (const coding of ['gzip', 'identity, br']) {
        const res = await post(REST, gzipSync(body), { 'content-type': 'application/json', 'content-encoding': coding });
        expect(res.statusCode, coding).toBe(415);
        const answer = problem(res);
        expect(answer).toMatchObject({ type: 'client.unsupported-media-type', detail: [{ code: 'unsupported-content-encoding' }] });
        expect(answer.message).toContain(coding.replace('identity, ', ''));
      }
      // identity is no coding at all.
      expect((await post(REST, body, { 'content-type': 'application/json', 'content-encoding': 'identity' })).statusCode).toBe(502);
    });

    it('refuses them on a SOAP route as a Fault', async () => {
      expect(fault(await post(SOAP, lookup, { 'content-type': 'text/xml; charset=windows-1252' }))).toEqual({ type: 'client.unsupported-media-type', status: 415 });
      expect(fault(await post(SOAP, gzipSync(lookup), { 'content-type': 'text/xml', 'content-encoding': 'gzip' }))).toEqual({ type: 'client.unsupported-media-type', status: 415 });
    });

    it('never repeats a charset or coding that is not name-shaped (header text is the caller\'s)', async () => {
      const charset = await post(REST, body, { 'content-type': 'application/json; charset=cccd-001099999987' });
      const coding = await post(REST, body, { 'content-type': 'application/json', 'content-encoding': 'Trần Văn Thử' });
      for (const res of [charset, coding]) {
        expect(res.statusCode).toBe(415);
        expect(res.body).not.toMatch(/001099999987|Trần/);
      }
      expect(logs.text()).not.toMatch(/001099999987|Trần Văn Thử/);
    });
  });

  describe('a known address asked with another method: 405 with Allow', () => {
    const cases: Array<[string, string, string]> = [
      ['GET', REST, 'POST'],
      ['OPTIONS', REST, 'POST'],
      ['GET', `${SOAP}?wsdl`, 'POST'],
      ['PUT', '/admin/messages', 'GET, HEAD'],
      ['POST', '/admin/messages/some-id', 'GET, HEAD'],
      ['DELETE', '/admin/dead-letters/some-id', 'GET, HEAD'],
      ['PUT', '/admin/dead-letters/replay', 'GET, HEAD, POST'], // GET /admin/dead-letters/:id serves this path too
      ['GET', '/v1/x/VN/GOV/000.00.00.G01/CSDLDC/TraCuuThongTinCongDan', 'POST'],
      ['POST', '/health', 'GET, HEAD'],
    ];
    for (const [method, url, allow] of cases) {
      it(`${method} ${url} → 405, Allow: ${allow}`, async () => {
        const res = await app.inject({ method: method as 'GET', url });
        expect(res.statusCode).toBe(405);
        expect(res.headers.allow).toBe(allow);
        expect(problem(res).type).toBe('client.method-not-allowed');
      });
    }

    it('still answers 404 for an address that no method serves', async () => {
      for (const url of ['/v1/in/onegate-h56/no-such-operation', '/admin/nothing', '/v1/soap/no-such-system']) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(404);
        expect(res.headers.allow).toBeUndefined();
        expect(problem(res).type).toBe('client.unknown-operation');
      }
    });
  });

  describe('the OpenAPI document (/docs/json) matches the answers', () => {
    let docs: { paths: Record<string, Record<string, { security?: unknown; responses: Record<string, { content?: Record<string, unknown> }> }>>; components: { securitySchemes?: Record<string, unknown> } };
    beforeAll(async () => {
      docs = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    });

    it('declares error answers as application/problem+json', () => {
      for (const [path, method] of [[REST, 'post'], ['/v1/in/onegate-h56/dossier-status', 'post']] as const) {
        const responses = docs.paths[path]![method]!.responses;
        for (const status of ['4XX', '5XX']) expect(Object.keys(responses[status]?.content ?? {}), `${path} ${status}`).toEqual(['application/problem+json']);
      }
    });

    it('documents the admin errors and the bearer scheme the admin API takes', () => {
      expect(docs.components.securitySchemes).toMatchObject({ bearer: { type: 'http', scheme: 'bearer' } });
      const adminOperations = Object.entries(docs.paths).filter(([path]) => path.startsWith('/admin/')).flatMap(([, methods]) => Object.values(methods));
      expect(adminOperations.length).toBeGreaterThanOrEqual(10);
      for (const operation of adminOperations) {
        expect(operation.security).toEqual([{ bearer: [] }]);
        for (const status of ['400', '401', '403']) expect(Object.keys(operation.responses[status]?.content ?? {})).toEqual(['application/problem+json']);
      }
      expect(docs.paths['/admin/messages/{id}']!.get!.responses['404']).toBeDefined();
      expect(docs.paths['/admin/dead-letters/replay']!.post!.responses['415']).toBeDefined();
    });

    it('documents /ready answering 503', () => {
      expect(Object.keys(docs.paths['/ready']!.get!.responses['503']?.content ?? {})).toEqual(['application/problem+json']);
    });

    it('documents the SOAP endpoint taking an envelope and answering a Fault', () => {
      const operation = docs.paths[SOAP]!.post! as { requestBody?: { content: Record<string, unknown> }; responses: Record<string, { content?: Record<string, unknown> }> };
      expect(Object.keys(operation.requestBody?.content ?? {})).toEqual(['text/xml']);
      expect(Object.keys(operation.responses['500']?.content ?? {})).toEqual(['text/xml']);
    });
  });
});

describe('requests Node cannot read (a running hub, over a socket)', () => {
  let hub: RunningHub & { logs: LogCapture };
  beforeAll(async () => {
    hub = await startTestHub({ CSDLDC_URL: 'http://127.0.0.1:9' });
  });
  afterAll(async () => hub?.close());

  /** Sends raw bytes and reads until the hub closes the connection. */
  const raw = async (bytes: string) => {
    const socket = connect(Number(new URL(hub.url).port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.on('error', () => undefined);
    socket.write(bytes);
    await closed;
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    const headers = Object.fromEntries(head.split('\r\n').slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    return { statusLine: head.split('\r\n')[0], headers, body };
  };

  const checkProblem = (res: Awaited<ReturnType<typeof raw>>, status: number, type: string) => {
    expect(res.statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
    const body = JSON.parse(res.body) as { type: string; status: number; logId: string };
    expect(body).toMatchObject({ type, status });
    expect(body.logId).toBe(res.headers['x-request-id']);
    // The log line of the refusal carries the same id.
    expect(hub.logs.records().some((r) => r.reqId === body.logId && r.errorType === type)).toBe(true);
  };

  it('answers headers over the limit with 431 problem+json and an x-request-id', async () => {
    const res = await raw(`GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    checkProblem(res, 431, 'client.bad-request');
  });

  it('answers a request that is not HTTP with 400 problem+json, and logs none of its bytes', async () => {
    const res = await raw('POST /v1/in/onegate-h56/citizen-lookup?cccd=001099999988 HTTP/1.1\r\nhost: 127.0.0.1\r\nx: \u0001\r\n\r\n');
    checkProblem(res, 400, 'client.bad-request');
    expect(hub.logs.text()).not.toContain('001099999988');
  });

  it('keeps serving afterwards', async () => {
    const res = await raw('GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n');
    expect(res.statusLine).toMatch(/^HTTP\/1\.1 200 /);
  });
});
