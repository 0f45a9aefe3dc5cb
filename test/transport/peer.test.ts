import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errors, MockAgent } from 'undici';
import { createPeer } from '../../src/transport/index.js';
import { header, rejection } from './helpers.js';

const ORIGIN = 'https://peer.example';
let agent: MockAgent;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
});

afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await agent.close();
});

describe('peer.send over MockAgent', () => {
  it('joins base path and request path, sends static and request headers, serialises json, measures time', async () => {
    let seen: { path: string; body: string; dstcode?: string; custom?: string; type?: string } | undefined;
    agent
      .get(ORIGIN)
      .intercept({ path: '/api/v1/DongBo?x=1', method: 'POST' })
      .reply((opts) => {
        seen = {
          path: opts.path,
          body: String(opts.body),
          dstcode: header(opts, 'dstcode'),
          custom: header(opts, 'x-custom'),
          type: header(opts, 'content-type'),
        };
        return { statusCode: 200, data: { error_code: '0' }, responseOptions: { headers: { 'content-type': 'application/json' } } };
      });
    const peer = createPeer({ name: 'dvcqg', baseUrl: `${ORIGIN}/api/v1/`, headers: { DstCode: 'VN:GOV:000.00.00.G22' } }, agent);
    const res = await peer.send({ path: '/DongBo?x=1', json: { service: 'DongBoHoSoMC' }, headers: { 'X-Custom': 'a' } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ error_code: '0' });
    expect(res.headers['content-type']).toBe('application/json');
    expect(seen).toEqual({
      path: '/api/v1/DongBo?x=1',
      body: '{"service":"DongBoHoSoMC"}',
      dstcode: 'VN:GOV:000.00.00.G22',
      custom: 'a',
      type: 'application/json; charset=utf-8',
    });
  });

  it('counts the request bytes as sent, in UTF-8, after the body was encoded', async () => {
    let sent = -1;
    agent.get(ORIGIN).intercept({ path: '/x', method: 'POST' }).reply((opts) => {
      sent = Buffer.byteLength(String(opts.body));
      return { statusCode: 200, data: '{}' };
    });
    const peer = createPeer({ name: 'emc', baseUrl: ORIGIN }, agent);
    const res = await peer.send({ path: '/x', json: { nguoiXuLy: 'Trần Văn Thử' } });
    expect(res.requestBytes).toBe(sent);
    expect(res.requestBytes).toBe(JSON.stringify({ nguoiXuLy: 'Trần Văn Thử' }).length + 5); // ầ, ă, ử take 3, 2 and 3 bytes
  });

  it('defaults to GET without a body and keeps a caller content-type for raw bodies', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/health', method: 'GET' }).reply(200, 'ok');
    let type: string | undefined;
    pool.intercept({ path: '/soap', method: 'POST', body: '<x/>' }).reply((opts) => {
      type = header(opts, 'content-type');
      return { statusCode: 200, data: '<ok/>' };
    });
    const peer = createPeer({ name: 'p', baseUrl: ORIGIN }, agent);
    expect((await peer.send({ path: '/health' })).body.toString()).toBe('ok');
    await peer.send({ path: '/soap', body: '<x/>', headers: { 'content-type': 'text/xml; charset=utf-8' } });
    expect(type).toBe('text/xml; charset=utf-8');
  });

  it('adds the idempotency-key header when given, and only then', async () => {
    const keys: Array<string | undefined> = [];
    agent
      .get(ORIGIN)
      .intercept({ path: '/q', method: 'POST' })
      .reply((opts) => {
        keys.push(header(opts, 'idempotency-key'));
        return { statusCode: 202, data: '' };
      })
      .times(2);
    const peer = createPeer({ name: 'p', baseUrl: ORIGIN }, agent);
    await peer.send({ path: '/q', json: {}, idempotencyKey: 'msg-0001' });
    await peer.send({ path: '/q', json: {} });
    expect(keys).toEqual(['msg-0001', undefined]);
  });

  it('returns non-2xx answers (SOAP fault 500, 404) instead of throwing', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/soap', method: 'POST' }).reply(500, '<Fault/>');
    pool.intercept({ path: '/missing', method: 'GET' }).reply(404, 'no');
    const peer = createPeer({ name: 'p', baseUrl: ORIGIN }, agent);
    expect((await peer.send({ path: '/soap', body: '<x/>' })).status).toBe(500);
    expect((await peer.send({ path: '/missing' })).status).toBe(404);
  });

  it('does not follow redirects', async () => {
    agent.get(ORIGIN).intercept({ path: '/old', method: 'GET' }).reply(302, '', { headers: { location: `${ORIGIN}/new` } });
    const peer = createPeer({ name: 'p', baseUrl: ORIGIN }, agent);
    const res = await peer.send({ path: '/old' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`${ORIGIN}/new`);
  });

  it('caps the response body: declared length and streamed length', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/big', method: 'GET' }).reply(200, Buffer.alloc(2048, 'a'), { headers: { 'content-length': '2048' } });
    pool.intercept({ path: '/big-chunked', method: 'GET' }).reply(200, Buffer.alloc(2048, 'a'));
    pool.intercept({ path: '/fits', method: 'GET' }).reply(200, Buffer.alloc(1024, 'a'));
    const peer = createPeer({ name: 'p', baseUrl: ORIGIN, maxResponseBytes: 1024 }, agent);
    for (const path of ['/big', '/big-chunked']) {
      const e = await rejection(peer.send({ path }));
      expect(e.type).toBe('transport.response-too-large');
      expect(e.status).toBe(502);
    }
    expect((await peer.send({ path: '/fits' })).body.length).toBe(1024);
  });

  it.each([
    ['connect timeout', new errors.ConnectTimeoutError(), 'transport.timeout', 504],
    ['headers timeout', new errors.HeadersTimeoutError(), 'transport.timeout', 504],
    ['body timeout', new errors.BodyTimeoutError(), 'transport.timeout', 504],
    ['socket closed', new errors.SocketError('other side closed'), 'transport.unreachable', 502],
    ['refused', Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }), 'transport.unreachable', 502],
    ['dns', Object.assign(new Error('getaddrinfo ENOTFOUND lgsp.invalid'), { code: 'ENOTFOUND' }), 'transport.unreachable', 502],
    ['no route', Object.assign(new Error('connect EHOSTUNREACH'), { code: 'EHOSTUNREACH' }), 'transport.unreachable', 502],
    ['reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'transport.unreachable', 502],
    [
      'happy eyeballs',
      new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'all failed'),
      'transport.unreachable',
      502,
    ],
  ])('classifies %s', async (_label, error, type, status) => {
    agent.get(ORIGIN).intercept({ path: '/x', method: 'POST' }).replyWithError(error);
    const peer = createPeer({ name: 'csdldc', baseUrl: ORIGIN }, agent);
    const e = await rejection(peer.send({ path: '/x', body: 'secret-payload-038095999901' }));
    expect(e.type).toBe(type);
    expect(e.status).toBe(status);
    expect(e.message).toContain('csdldc');
    expect(e.message).not.toContain('038095999901');
    expect(JSON.stringify(e.detail)).not.toContain('038095999901');
  });

  it('times out on the overall request budget (delayed mock reply)', async () => {
    agent.get(ORIGIN).intercept({ path: '/slow', method: 'GET' }).reply(200, 'late').delay(500);
    const peer = createPeer({ name: 'p', baseUrl: ORIGIN, timeouts: { requestMs: 50 } }, agent);
    const e = await rejection(peer.send({ path: '/slow' }));
    expect(e.type).toBe('transport.timeout');
    expect(e.status).toBe(504);
  });

  it('close() waits for sends in flight, then refuses new ones', async () => {
    agent.get(ORIGIN).intercept({ path: '/a', method: 'GET' }).reply(200, 'a').delay(30);
    const peer = createPeer({ name: 'p', baseUrl: ORIGIN }, agent);
    const pending = peer.send({ path: '/a' });
    await peer.close();
    expect((await pending).status).toBe(200);
    const e = await rejection(peer.send({ path: '/a' }));
    expect(e.type).toBe('transport.closed');
  });
});
