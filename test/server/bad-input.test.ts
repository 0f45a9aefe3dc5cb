import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../src/server/logger.js';
import { createHub } from '../../src/server/hub.js';
import { LogCapture, hubEnv, loadShipped } from '../support/hub.js';

/**
 * Hostile and broken input: every case gets a structured 4xx naming what is wrong and a log line
 * without the payload; none answers 500 or takes the hub down. Nothing here reaches a peer
 * (the destination points at a closed port, so a leak past validation would show as a 502).
 */
const REST = '/v1/in/onegate-h56/citizen-lookup';
const SOAP = '/v1/soap/motcua-legacy';
const soap = (inner: string, prolog = '') => `${prolog}<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:motcua:legacy:v1"><soap:Body>${inner}</soap:Body></soap:Envelope>`;

describe('bad input', () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;
  const logs = new LogCapture();

  beforeAll(async () => {
    const registry = loadShipped({ CSDLDC_URL: 'http://127.0.0.1:9' });
    ({ app, close } = await createHub({ registry, log: createLogger({ level: 'info', destination: logs }), env: hubEnv({}) }));
    await app.ready();
  });
  afterAll(async () => close());

  const send = (url: string, payload: string | Buffer, contentType = 'application/json') =>
    app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } });

  const cases: Array<[string, () => ReturnType<typeof send>, number, RegExp]> = [
    ['malformed JSON', () => send(REST, '{"soDinhDanh": "0380'), 400, /^client\.bad-json$/],
    ['a JSON array instead of an object', () => send(REST, '[1,2]'), 400, /^client\.schema-violation$/],
    ['a __proto__ key', () => send(REST, '{"soDinhDanh":"038095999901","__proto__":{"admin":true}}'), 400, /^client\.json-forbidden-key$/],
    ['constructor.prototype', () => send(REST, '{"constructor":{"prototype":{"x":1}}}'), 400, /^client\.json-forbidden-key$/],
    ['10,000-deep JSON nesting', () => send(REST, '['.repeat(10_000) + ']'.repeat(10_000)), 400, /^client\.json-too-deep$/],
    ['an oversized body', () => send(REST, JSON.stringify({ soDinhDanh: '038095999901', mucDich: 'x'.repeat(1_100_000) })), 413, /^client\.body-too-large$/],
    ['a wrong content type', () => send(REST, 'soDinhDanh=038095999901', 'application/x-www-form-urlencoded'), 415, /^client\.unsupported-media-type$/],
    ['an unknown connector', () => send('/v1/in/no-such-system/citizen-lookup', '{}'), 404, /^client\.unknown-operation$/],
    ['an unknown operation', () => send('/v1/in/onegate-h56/no-such-operation', '{}'), 404, /^client\.unknown-operation$/],
    ['a schema violation (unknown field)', () => send(REST, '{"soDinhDanh":"038095999901","hacker":1}'), 400, /^client\.schema-violation$/],
    ['a missing required field', () => send(REST, '{"hoVaTen":"Trần Văn Thử"}'), 400, /^client\.schema-violation$/],
    ['a number where text is expected', () => send(REST, '{"soDinhDanh":38095999901}'), 400, /^client\.schema-violation$/],
    ['an invalid CCCD (unknown province 099)', () => send(REST, '{"soDinhDanh":"099095999901"}'), 400, /^client\.schema-violation$/],
    ['a CCCD born in the future', () => send(REST, '{"soDinhDanh":"038295999901"}'), 400, /^client\.schema-violation$/],
    ['an impossible date', () => send(REST, '{"soDinhDanh":"038095999901","ngaySinh":"30/02/1995"}'), 400, /^client\.schema-violation$/],
    ['an empty body', () => send(REST, ''), 400, /^client\./],
    ['malformed XML', () => send(SOAP, soap('<m:TraCuuCongDan><ApplicantsId>1</m:TraCuuCongDan>'), 'text/xml'), 500, /^client\.bad-xml$/],
    ['a DOCTYPE', () => send(SOAP, soap('<m:TraCuuCongDan/>', '<!DOCTYPE x [<!ELEMENT x ANY>]>'), 'text/xml'), 500, /^client\.xml-forbidden$/],
    ['an external entity (XXE)', () => send(SOAP, soap('<m:TraCuuCongDan><ApplicantsId>&xxe;</ApplicantsId></m:TraCuuCongDan>', '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'), 'text/xml'), 500, /^client\.xml-forbidden$/],
    ['an entity bomb', () => send(SOAP, soap('<m:TraCuuCongDan>&l3;</m:TraCuuCongDan>', '<!DOCTYPE x [<!ENTITY l0 "ha"><!ENTITY l1 "&l0;&l0;&l0;&l0;"><!ENTITY l2 "&l1;&l1;&l1;&l1;"><!ENTITY l3 "&l2;&l2;&l2;&l2;">]>'), 'text/xml'), 500, /^client\.xml-forbidden$/],
    ['10,000-deep XML nesting', () => send(SOAP, soap('<a>'.repeat(10_000) + '</a>'.repeat(10_000)), 'text/xml'), 500, /^client\.xml-too-deep$/],
    ['an XML body over the XML limit (256 KiB), though under the JSON one', () => send(SOAP, soap(`<m:TraCuuCongDan><ApplicantsId>038095999901</ApplicantsId><GhiChu>${'y'.repeat(300_000)}</GhiChu></m:TraCuuCongDan>`), 'text/xml'), 500, /^client\.body-too-large$/], // a SOAP Fault, as HTTP 500
    ['an element with 100 attributes', () => send(SOAP, soap(`<m:TraCuuCongDan${Array.from({ length: 100 }, (_, i) => ` a${i}="1"`).join('')}/>`), 'text/xml'), 500, /^client\.xml-too-large$/],
    ['a SOAP 1.2 envelope to a SOAP 1.1 endpoint', () => send(SOAP, '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:m="urn:motcua:legacy:v1"><env:Body><m:TraCuuCongDan><ApplicantsId>001199999902</ApplicantsId></m:TraCuuCongDan></env:Body></env:Envelope>', 'application/soap+xml'), 500, /^client\.bad-soap$/],
    ['a non-SOAP XML document', () => send(SOAP, '<hello>world</hello>', 'text/xml'), 500, /^client\.bad-soap$/],
    ['an unknown SOAP operation', () => send(SOAP, soap('<m:XoaCongDan/>'), 'text/xml'), 500, /^client\.unknown-operation$/],
    ['an invalid CCCD over SOAP', () => send(SOAP, soap('<m:TraCuuCongDan><ApplicantsId>12345</ApplicantsId></m:TraCuuCongDan>'), 'text/xml'), 500, /^client\.schema-violation$/],
    ['a path that does not decode, with a CCCD in the query', () => send('/v1/in/onegate-h56%zz?soDinhDanh=001099999981', '{}'), 400, /^client\.bad-request$/],
    ['a hub-to-hub path naming a person', () => send('/v1/x/VN/GOV/Nguyen-Van-Thu/001099999981', '{}'), 404, /^client\.unknown-operation$/],
  ];

  for (const [name, run, status, type] of cases) {
    it(`${name} → ${status}`, async () => {
      const res = await run();
      expect(res.statusCode, res.body).toBe(status);
      if (res.headers['content-type']?.toString().includes('json')) {
        const body = JSON.parse(res.body);
        expect(body.type).toMatch(type);
        expect(body.message.length).toBeGreaterThan(5);
        expect(Array.isArray(body.detail)).toBe(true);
        expect(body.logId).toBe(res.headers['x-request-id']);
      } else {
        // SOAP callers get a SOAP Fault carrying the same error type (as HTTP 500, SOAP 1.1's rule).
        expect(res.body).toContain('Fault');
        expect(res.body).toMatch(new RegExp(type.source.replace(/^\^|\$$/g, '')));
      }
    });
  }

  it('answers a SOAP version it does not speak with a VersionMismatch fault, in its own version', async () => {
    const res = await send(SOAP, '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><m:TraCuuCongDan xmlns:m="urn:motcua:legacy:v1"/></env:Body></env:Envelope>', 'application/soap+xml');
    expect(res.body).toContain('<faultcode>soap:VersionMismatch</faultcode>');
    expect(res.headers['content-type']).toContain('text/xml');
  });

  it('names the offending field in a SOAP fault too, as REST callers get it in detail[]', async () => {
    const res = await send(SOAP, soap('<m:TraCuuCongDan><ApplicantsId>12345</ApplicantsId></m:TraCuuCongDan>'), 'text/xml');
    expect(res.body).toMatch(/<ChiTiet><Loi><Truong>[^<]*ApplicantsId[^<]*<\/Truong><LyDo>[^<]+<\/LyDo>/);
    expect(res.body).not.toContain('12345');
  });

  it('names the offending field for a schema violation', async () => {
    const res = await send(REST, '{"soDinhDanh":"099095999901"}');
    const body = JSON.parse(res.body);
    expect(body.detail.some((d: { field?: string }) => d.field?.includes('soDinhDanh'))).toBe(true);
  });

  it('logs a record for each rejection, and none of them carries the payload', () => {
    const rejected = logs.records().filter((r) => r.msg === 'message rejected' || r.msg === 'request rejected');
    expect(rejected.length).toBeGreaterThanOrEqual(cases.length);
    const text = logs.text();
    for (const secret of ['038095999901', 'Trần Văn Thử', '/etc/passwd', 'hacker', 'ha'.repeat(4), '001099999981', 'Nguyen-Van-Thu']) expect(text).not.toContain(secret);
    expect(logs.records().filter((r) => (r.level as number) >= 50)).toEqual([]);
  });

  it('does not take a CCCD for a correlation id: the hub issues its own, and the log never sees it', async () => {
    const res = await app.inject({ method: 'POST', url: REST, payload: '{"soDinhDanh":"099095999901"}', headers: { 'content-type': 'application/json', 'x-correlation-id': '001099999982', 'x-request-id': '001099999983' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-correlation-id']).not.toBe('001099999982');
    expect(res.headers['x-request-id']).not.toBe('001099999983');
    expect(logs.text()).not.toMatch(/001099999982|001099999983/);
    // An id with letters in it is the caller's to choose.
    const named = await app.inject({ method: 'POST', url: REST, payload: '{"soDinhDanh":"099095999901"}', headers: { 'content-type': 'application/json', 'x-correlation-id': 'mc-2025-000123' } });
    expect(named.headers['x-correlation-id']).toBe('mc-2025-000123');
  });

  it('takes no id with a person\'s number in it, and repeats no key or path a caller made of personal data', async () => {
    const res = await app.inject({ method: 'POST', url: REST, payload: '{"soDinhDanh":"038095999901","Trần Văn Thử 0912345678":"x"}', headers: { 'content-type': 'application/json', 'x-request-id': 'cccd-001099999985', 'x-correlation-id': 'sdt.0912345679' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-request-id']).not.toContain('001099999985');
    expect(res.body).not.toMatch(/Trần|0912345678|001099999985|0912345679/);
    expect(JSON.parse(res.body).detail.some((d: { field?: string }) => d.field?.includes('không hiển thị'))).toBe(true);
    const lost = await app.inject({ method: 'GET', url: '/v1/in/onegate-h56/tra-cuu/001099999986' });
    expect(lost.statusCode).toBe(404);
    expect(lost.body).not.toContain('001099999986');
    expect(logs.text()).not.toMatch(/001099999985|0912345679|0912345678|001099999986/);
  });

  it("leaves out the raw bytes Node's HTTP parser attaches to a client error (fastify logs that error as it is)", () => {
    const capture = new LogCapture();
    const error = Object.assign(new Error('Parse Error: Invalid header value char'), { code: 'HPE_INVALID_HEADER_TOKEN', rawPacket: Buffer.from('POST /v1/in/onegate-h56/citizen-lookup HTTP/1.1\r\nx: \u0001\r\n\r\n{"soDinhDanh":"001099999984"}') });
    createLogger({ level: 'trace', destination: capture }).trace({ err: error }, 'client error');
    expect(capture.text()).toContain('HPE_INVALID_HEADER_TOKEN');
    expect(capture.text()).not.toMatch(/001099999984|rawPacket/);
  });

  it('is still healthy afterwards', async () => {
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
  });
});
