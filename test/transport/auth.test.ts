import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MockAgent } from 'undici';
import type { HubError } from '../../src/core/errors.js';
import { createPeer, type PeerConfig } from '../../src/transport/index.js';
import { header, rejection as rejectionOf } from './helpers.js';

const LGSP = 'https://lgsp.example';
const TOKEN_PATH = '/token';
const SECRET = 's3cr3t+/=';
let agent: MockAgent;
let clock: number;
const now = () => clock;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  clock = 1_700_000_000_000;
});

afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await agent.close();
});

/** The HubError, checked to carry no secret, token or session. */
async function rejection(p: Promise<unknown>): Promise<HubError> {
  const e = await rejectionOf(p);
  // Secrets never leak into what an error carries.
  for (const text of [e.message, JSON.stringify(e.detail)]) {
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('tok-');
    expect(text).not.toContain('sess-');
  }
  return e;
}

describe('auth: header', () => {
  it('adds static headers to every request', async () => {
    const seen: Array<string | undefined> = [];
    agent
      .get(LGSP)
      .intercept({ path: '/api', method: 'POST' })
      .reply((opts) => {
        seen.push(header(opts, 'lgspaccesstoken'));
        return { statusCode: 200, data: '{}' };
      })
      .times(2);
    const peer = createPeer({ name: 'lgsp', baseUrl: LGSP, auth: { scheme: 'header', headers: { lgspaccesstoken: 'eyJBY2Nlc3NLZXkiOiJ4In0=' } } }, agent);
    await peer.send({ path: '/api', json: {} });
    await peer.send({ path: '/api', json: {} });
    expect(seen).toEqual(['eyJBY2Nlc3NLZXkiOiJ4In0=', 'eyJBY2Nlc3NLZXkiOiJ4In0=']);
  });

  it('reports a 401 as transport.auth-failed without retrying (a static key cannot be refreshed)', async () => {
    agent.get(LGSP).intercept({ path: '/api', method: 'GET' }).reply(401, 'no').times(1);
    const peer = createPeer({ name: 'lgsp', baseUrl: LGSP, auth: { scheme: 'header', headers: { 'x-api-key': SECRET } } }, agent);
    const e = await rejection(peer.send({ path: '/api' }));
    expect(e.type).toBe('transport.auth-failed');
    expect(e.status).toBe(502);
  });
});

describe('auth: oauth2 client credentials', () => {
  const config: PeerConfig = {
    name: 'lgsp-camau',
    baseUrl: `${LGSP}/gateway`,
    auth: { scheme: 'oauth2', tokenUrl: `${LGSP}${TOKEN_PATH}`, clientId: 'hub client', clientSecret: SECRET, scope: 'csdldc' },
  };

  /** Token endpoint answering tok-1, tok-2, … and recording what the hub sent. */
  function tokenEndpoint(times: number, expiresIn = 3600) {
    const calls: Array<{ authorization?: string; type?: string; body: string }> = [];
    agent
      .get(LGSP)
      .intercept({ path: TOKEN_PATH, method: 'POST' })
      .reply((opts) => {
        calls.push({ authorization: header(opts, 'authorization'), type: header(opts, 'content-type'), body: String(opts.body) });
        return { statusCode: 200, data: { access_token: `tok-${calls.length}`, token_type: 'Bearer', expires_in: expiresIn } };
      })
      .times(times);
    return calls;
  }

  function api(times: number, status: (authorization: string | undefined) => number = () => 200) {
    const seen: Array<string | undefined> = [];
    agent
      .get(LGSP)
      .intercept({ path: '/gateway/api', method: 'POST' })
      .reply((opts) => {
        const authorization = header(opts, 'authorization');
        seen.push(authorization);
        return { statusCode: status(authorization), data: '{}' };
      })
      .times(times);
    return seen;
  }

  it('fetches one token for many requests, concurrent and sequential, with Basic client auth and a form body', async () => {
    const calls = tokenEndpoint(1);
    const seen = api(8);
    const peer = createPeer(config, agent, { now });
    await Promise.all(Array.from({ length: 5 }, () => peer.send({ path: '/api', json: {} })));
    for (let i = 0; i < 3; i++) await peer.send({ path: '/api', json: {} });
    expect(calls).toHaveLength(1);
    expect(seen).toEqual(Array(8).fill('Bearer tok-1'));
    expect(calls[0]!.type).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(calls[0]!.body))).toEqual({ grant_type: 'client_credentials', scope: 'csdldc' });
    const basic = Buffer.from(calls[0]!.authorization!.replace(/^Basic /, ''), 'base64').toString();
    expect(basic).toBe(`hub+client:${encodeURIComponent(SECRET)}`);
  });

  it('fetches a new token when the cached one nears expires_in (minus skew)', async () => {
    const calls = tokenEndpoint(2, 600);
    const seen = api(3);
    const peer = createPeer(config, agent, { now });
    await peer.send({ path: '/api', json: {} });
    clock += 500_000; // 500 s: still inside 600 s - 30 s skew
    await peer.send({ path: '/api', json: {} });
    clock += 75_000; // 575 s: inside the skew window
    await peer.send({ path: '/api', json: {} });
    expect(calls).toHaveLength(2);
    expect(seen).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
  });

  it('on 401 refreshes the token once and retries once', async () => {
    const calls = tokenEndpoint(2);
    const seen = api(2, (authorization) => (authorization === 'Bearer tok-1' ? 401 : 200));
    const peer = createPeer(config, agent, { now });
    const res = await peer.send({ path: '/api', json: {}, idempotencyKey: 'k1' });
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(2);
    expect(seen).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });

  it('concurrent 401s share one refresh', async () => {
    const calls = tokenEndpoint(2);
    const seen = api(8, (authorization) => (authorization === 'Bearer tok-1' ? 401 : 200));
    const peer = createPeer(config, agent, { now });
    const answers = await Promise.all(Array.from({ length: 4 }, () => peer.send({ path: '/api', json: {} })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(calls).toHaveLength(2);
    expect(seen.filter((s) => s === 'Bearer tok-2')).toHaveLength(4);
  });

  it('a second 401 after the refresh is transport.auth-failed', async () => {
    tokenEndpoint(2);
    api(2, () => 401);
    const peer = createPeer(config, agent, { now });
    const e = await rejection(peer.send({ path: '/api', json: {} }));
    expect(e.type).toBe('transport.auth-failed');
  });

  it('a refused or malformed token answer is transport.auth-failed', async () => {
    const pool = agent.get(LGSP);
    pool.intercept({ path: TOKEN_PATH, method: 'POST' }).reply(400, { error: 'invalid_client' });
    pool.intercept({ path: TOKEN_PATH, method: 'POST' }).reply(200, { token_type: 'Bearer' });
    const peer = createPeer(config, agent, { now });
    const refused = await rejection(peer.send({ path: '/api', json: {} }));
    expect(refused.type).toBe('transport.auth-failed');
    expect(refused.detail[0]?.code).toBe('token-refused');
    const malformed = await rejection(peer.send({ path: '/api', json: {} }));
    expect(malformed.type).toBe('transport.auth-failed');
    expect(malformed.detail[0]?.code).toBe('token-malformed');
  });

  it('a token endpoint that cannot be reached is transport.auth-unavailable (retried), not the peer being unreachable', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:18209'), { code: 'ECONNREFUSED' });
    agent.get(LGSP).intercept({ path: TOKEN_PATH, method: 'POST' }).replyWithError(refused);
    const peer = createPeer(config, agent, { now });
    const e = await rejection(peer.send({ path: '/api', json: {} }));
    expect(e.type).toBe('transport.auth-unavailable');
    expect(e.detail[0]?.code).toBe('token-unreachable');
    expect(e.message).toContain('lgsp-camau');
  });

  it('resolves a relative tokenUrl under the peer base URL and sends the audience', async () => {
    let body = '';
    agent
      .get(LGSP)
      .intercept({ path: '/gateway/oauth/token', method: 'POST' })
      .reply((opts) => {
        body = String(opts.body);
        return { statusCode: 200, data: { access_token: 'tok-a', expires_in: '3600' } };
      });
    api(1);
    const peer = createPeer(
      { ...config, auth: { scheme: 'oauth2', tokenUrl: '/oauth/token', clientId: 'c', clientSecret: SECRET, audience: 'csdldc' } },
      agent,
      { now },
    );
    await peer.send({ path: '/api', json: {} });
    expect(new URLSearchParams(body).get('audience')).toBe('csdldc');
  });
});

describe('auth: session (DVCQG style)', () => {
  const DVCQG = 'https://dvcqg.example';
  const base: PeerConfig = {
    name: 'dvcqg',
    baseUrl: `${DVCQG}/adapter`,
    auth: { scheme: 'session', loginPath: '/auth', username: 'hub', password: SECRET, invalidWhen: { errorCodes: [-2, '99'] } },
  };

  function login(times: number, answer: (n: number) => Record<string, unknown> = (n) => ({ session: `sess-${n}`, error_code: n % 2 ? 0 : '0' })) {
    const calls: Array<Record<string, unknown>> = [];
    agent
      .get(DVCQG)
      .intercept({ path: '/adapter/auth', method: 'POST' })
      .reply((opts) => {
        calls.push(JSON.parse(String(opts.body)) as Record<string, unknown>);
        return { statusCode: 200, data: answer(calls.length) };
      })
      .times(times);
    return calls;
  }

  function service(times: number, reply: (body: Record<string, unknown>) => { statusCode: number; data: object } = () => ({ statusCode: 200, data: { error_code: 0 } })) {
    const bodies: Array<Record<string, unknown>> = [];
    agent
      .get(DVCQG)
      .intercept({ path: '/adapter/service', method: 'POST' })
      .reply((opts) => {
        const body = JSON.parse(String(opts.body)) as Record<string, unknown>;
        bodies.push(body);
        return reply(body);
      })
      .times(times);
    return bodies;
  }

  it('keeps a call with its login within requestMs in all (504), not one budget for the login and another for the call', async () => {
    agent.get(DVCQG).intercept({ path: '/adapter/auth', method: 'POST' }).reply(200, { session: 'sess-1', error_code: 0 }).delay(150);
    agent.get(DVCQG).intercept({ path: '/adapter/service', method: 'POST' }).reply(200, { error_code: 0 }).delay(150);
    const peer = createPeer({ ...base, timeouts: { requestMs: 200 } }, agent);
    // Each step alone fits in 200 ms, both together do not.
    const e = await rejection(peer.send({ path: '/service', json: { a: 1 } }));
    expect(e).toMatchObject({ type: 'transport.timeout', status: 504 });
    await new Promise((resolve) => setTimeout(resolve, 200)); // the call that was cut off ends by itself
  });

  it('logs in once and puts the session into each JSON body, leaving the caller object untouched', async () => {
    const calls = login(1);
    const bodies = service(3);
    const peer = createPeer(base, agent, { now });
    const json = { madonvi: '000.00.00.H56', service: 'DongBoHoSoMC' };
    await Promise.all([peer.send({ path: '/service', json }), peer.send({ path: '/service', json })]);
    await peer.send({ path: '/service', json });
    expect(calls).toEqual([{ username: 'hub', password: SECRET }]);
    expect(bodies).toEqual(Array(3).fill({ madonvi: '000.00.00.H56', service: 'DongBoHoSoMC', session: 'sess-1' }));
    expect(json).not.toHaveProperty('session');
  });

  it('uses a custom session field and renews when the TTL passes', async () => {
    const calls = login(2);
    const bodies = service(3);
    const auth = { scheme: 'session', loginPath: '/auth', username: 'hub', password: SECRET, sessionField: 'Session', ttlSeconds: 60 } as const;
    const peer = createPeer({ ...base, auth }, agent, { now });
    await peer.send({ path: '/service', json: {} });
    clock += 59_000;
    await peer.send({ path: '/service', json: {} });
    clock += 2_000;
    await peer.send({ path: '/service', json: {} });
    expect(calls).toHaveLength(2);
    expect(bodies.map((b) => b.Session)).toEqual(['sess-1', 'sess-1', 'sess-2']);
  });

  it('renews and retries once when the peer answers an invalid-session error_code (string vs number configured)', async () => {
    const calls = login(2);
    const bodies = service(2, (body) =>
      body.session === 'sess-1' ? { statusCode: 200, data: { error_code: '-2', message: 'session hết hạn' } } : { statusCode: 200, data: { error_code: 0 } },
    );
    const peer = createPeer(base, agent, { now });
    const res = await peer.send({ path: '/service', json: { n: 1 } });
    expect(JSON.parse(res.body.toString())).toEqual({ error_code: 0 });
    expect(calls).toHaveLength(2);
    expect(bodies).toEqual([{ n: 1, session: 'sess-1' }, { n: 1, session: 'sess-2' }]);
  });

  it('a session refused again after renewal is transport.auth-failed', async () => {
    login(2);
    service(2, () => ({ statusCode: 200, data: { error_code: 99 } }));
    const peer = createPeer(base, agent, { now });
    const e = await rejection(peer.send({ path: '/service', json: {} }));
    expect(e.type).toBe('transport.auth-failed');
    expect(e.detail[0]?.code).toBe('credentials-rejected');
  });

  it('renews on HTTP 401', async () => {
    login(2);
    const bodies = service(2, (body) => (body.session === 'sess-1' ? { statusCode: 401, data: {} } : { statusCode: 200, data: { error_code: 0 } }));
    const peer = createPeer(base, agent, { now });
    expect((await peer.send({ path: '/service', json: {} })).status).toBe(200);
    expect(bodies.map((b) => b.session)).toEqual(['sess-1', 'sess-2']);
  });

  it('business error codes outside invalidWhen are returned to the caller', async () => {
    login(1);
    service(1, () => ({ statusCode: 200, data: { error_code: -3, message: 'đã tồn tại' } }));
    const peer = createPeer(base, agent, { now });
    const res = await peer.send({ path: '/service', json: {} });
    expect(JSON.parse(res.body.toString()).error_code).toBe(-3);
  });

  it('login failure is transport.auth-failed (error_code, HTTP status, missing session)', async () => {
    const pool = agent.get(DVCQG);
    pool.intercept({ path: '/adapter/auth', method: 'POST' }).reply(200, { error_code: -1, message: 'Sai mật khẩu' });
    pool.intercept({ path: '/adapter/auth', method: 'POST' }).reply(403, 'forbidden');
    pool.intercept({ path: '/adapter/auth', method: 'POST' }).reply(200, { error_code: 0 });
    const peer = createPeer(base, agent, { now });
    const codes: Array<string | undefined> = [];
    for (let i = 0; i < 3; i++) {
      const e = await rejection(peer.send({ path: '/service', json: {} }));
      expect(e.type).toBe('transport.auth-failed');
      expect(e.status).toBe(502);
      codes.push(e.detail[0]?.code);
    }
    expect(codes).toEqual(['login-refused', 'login-refused', 'login-malformed']);
  });

  it('refuses a raw body (the session has nowhere to go)', async () => {
    const peer = createPeer(base, agent, { now });
    const e = await rejection(peer.send({ path: '/service', body: '<x/>' }));
    expect(e.type).toBe('transport.invalid-request');
  });
});
