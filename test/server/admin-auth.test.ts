import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/config/registry.js';
import { createHub, type Hub } from '../../src/server/hub.js';
import { createLogger } from '../../src/server/logger.js';
import { LogCapture, hubEnv, loadShipped, tempDataDir } from '../support/hub.js';

/**
 * Who may use the admin API. With LIENTHONG_ADMIN_TOKEN set: `Authorization: Bearer <token>`, from anyone,
 * and nothing else (401 trust.admin-unauthorized). Without it: loopback callers only (403 trust.admin-remote),
 * and a trusted proxy on this machine forwards remote callers, so its address is not local.
 *
 * The hubs run in-process without workers and are called through app.inject, which sets the caller's
 * address (remoteAddress), as a remote machine or the proxy would have it. Every refusal is checked on
 * reads and writes, and a refused write must leave the dead letter it named untouched.
 */
const REMOTE = '10.20.30.40';

interface TestHub {
  hub: Hub;
  logs: LogCapture;
  dataDir: string;
}

async function openHub(env: Record<string, string>, proxyAddresses?: string[]): Promise<TestHub> {
  const dataDir = tempDataDir();
  const full = { ...env, LIENTHONG_DATA_DIR: dataDir };
  let registry: Registry = loadShipped(full);
  if (proxyAddresses) {
    registry = { ...registry, hub: { ...registry.hub, server: { ...registry.hub.server, trustedProxy: { addresses: proxyAddresses, participantHeader: 'x-client-participant' } } } };
  }
  const logs = new LogCapture();
  const hub = await createHub({ registry, log: createLogger({ level: 'info', destination: logs }), env: hubEnv(full), workers: false });
  return { hub, logs, dataDir };
}

async function closeHub(test: TestHub | undefined): Promise<void> {
  if (!test) return;
  await test.hub.close();
  rmSync(test.dataDir, { recursive: true, force: true });
}

/** A real dead letter in the hub's queue: accepted, leased, then dead-lettered. */
async function deadLetter(hub: Hub): Promise<string> {
  const queue = hub.queue!;
  const messageId = randomUUID();
  const id = randomUUID();
  const accepted = await queue.accept({
    messageId,
    deliveries: [{ id, messageId, routeId: 'admin-auth-test', destination: 'emc.TrackingMCDT', orderingKey: '', payload: JSON.stringify({ test: 'admin-auth' }), acceptedAt: Date.now() }],
    lease: { workerId: 'admin-auth-test', leaseMs: 60_000, limit: 1 },
  });
  const leased = accepted.leased?.find((l) => l.id === id);
  if (!leased) throw new Error('the test delivery was not leased');
  await queue.deadLetter(id, leased.lease, 'kiểm thử: người nhận từ chối');
  expect(await queue.getDead(id)).toBeDefined();
  return id;
}

type Call = (hub: Hub, id: string) => { method: 'GET' | 'POST'; url: string; payload?: unknown };
/** Two reads and two writes; the writes name a dead letter, which a refusal must leave as it was. */
const ENDPOINTS: Record<string, Call> = {
  'GET /admin/dead-letters': () => ({ method: 'GET', url: '/admin/dead-letters' }),
  'GET /admin/messages': () => ({ method: 'GET', url: '/admin/messages?limit=5' }),
  'POST /admin/dead-letters/replay': (_hub, id) => ({ method: 'POST', url: '/admin/dead-letters/replay', payload: { ids: [id] } }),
  'POST /admin/dead-letters/:id/discard': (_hub, id) => ({ method: 'POST', url: `/admin/dead-letters/${id}/discard`, payload: { reason: 'kiểm thử: nhập nhầm' } }),
};

async function call(hub: Hub, endpoint: Call, id: string, options: { authorization?: string; remoteAddress?: string } = {}) {
  const { method, url, payload } = endpoint(hub, id);
  const res = await hub.app.inject({
    method, url, payload: payload as Record<string, unknown> | undefined,
    headers: options.authorization === undefined ? {} : { authorization: options.authorization },
    remoteAddress: options.remoteAddress ?? '127.0.0.1',
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown>, headers: res.headers };
}

describe('admin API with LIENTHONG_ADMIN_TOKEN set', () => {
  const token = randomBytes(24).toString('base64url');
  let test: TestHub;

  beforeAll(async () => {
    test = await openHub({ LIENTHONG_ADMIN_TOKEN: token });
  }, 60_000);
  afterAll(() => closeHub(test));

  const wrong: Array<[string, string | undefined]> = [
    ['no Authorization header', undefined],
    ['a wrong bearer token of the same length', `Bearer ${'x'.repeat(token.length)}`],
    ['the token less its last character', `Bearer ${token.slice(0, -1)}`],
    ['the token with a character more', `Bearer ${token}x`],
    ['the token under the Basic scheme', `Basic ${token}`],
    ['the token as a Basic password', `Basic ${Buffer.from(`admin:${token}`).toString('base64')}`],
    ['the bare token, without a scheme', token],
    ['Bearer glued to the token', `Bearer${token}`],
    ['Bearer and nothing else', 'Bearer'],
  ];

  for (const [name, endpoint] of Object.entries(ENDPOINTS)) {
    it(`${name}: refuses ${wrong.length} kinds of wrong authorization with 401 trust.admin-unauthorized, and changes nothing`, async () => {
      const id = await deadLetter(test.hub);
      for (const [what, authorization] of wrong) {
        const res = await call(test.hub, endpoint, id, { authorization });
        expect(res, what).toMatchObject({ status: 401, body: { type: 'trust.admin-unauthorized' } });
        // RFC 9110 §11.6.1: a 401 names the scheme and realm it wants.
        expect(res.headers['www-authenticate'], what).toBe('Bearer realm="lienthong-admin"');
        // The token is demanded from loopback callers too, and from elsewhere.
        expect((await call(test.hub, endpoint, id, { authorization, remoteAddress: REMOTE })).status, `${what}, from elsewhere`).toBe(401);
      }
      const still = await test.hub.queue!.getDead(id);
      expect(still).toMatchObject({ id, state: 'dead' });
    });
  }

  it('serves reads to `Bearer <token>`, from loopback and from elsewhere (the scheme in any case)', async () => {
    for (const endpoint of [ENDPOINTS['GET /admin/dead-letters'], ENDPOINTS['GET /admin/messages']]) {
      expect((await call(test.hub, endpoint, '', { authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await call(test.hub, endpoint, '', { authorization: `bearer ${token}`, remoteAddress: REMOTE })).status).toBe(200);
    }
    const id = await deadLetter(test.hub);
    const listed = await call(test.hub, ENDPOINTS['GET /admin/dead-letters'], id, { authorization: `Bearer ${token}` });
    expect((listed.body.items as Array<{ id: string }>).map((d) => d.id)).toContain(id);
  });

  it('carries out writes for `Bearer <token>`: a replay and a discard', async () => {
    const replayed = await deadLetter(test.hub);
    const replay = await call(test.hub, ENDPOINTS['POST /admin/dead-letters/replay'], replayed, { authorization: `Bearer ${token}`, remoteAddress: REMOTE });
    expect(replay).toMatchObject({ status: 200, body: { replayed: 1, requested: 1 } });
    expect(await test.hub.queue!.getDead(replayed)).toBeUndefined();

    const discarded = await deadLetter(test.hub);
    const discard = await call(test.hub, ENDPOINTS['POST /admin/dead-letters/:id/discard'], discarded, { authorization: `Bearer ${token}` });
    expect(discard).toMatchObject({ status: 200, body: { discarded } });
    expect(await test.hub.queue!.getDead(discarded)).toBeUndefined();
  });

  it('records an access change with who authenticated (the token holder), the x-admin-actor header only as their claim', async () => {
    const change = { service: 'VN/GOV/000.00.00.G22/EMC/TrackingMCDT', to: { participant: 'VN/GOV/000.00.00.H22/MOTCUA' }, reason: 'kiểm thử' };
    const claimed = await test.hub.app.inject({ method: 'POST', url: '/admin/access/grants', payload: change, headers: { authorization: `Bearer ${token}`, 'x-admin-actor': 'nguyen.van.a' }, remoteAddress: REMOTE });
    expect(claimed.json()).toMatchObject({ action: 'grant', actor: 'admin-token-holder (x-admin-actor: nguyen.van.a)' });
    const unnamed = await test.hub.app.inject({ method: 'POST', url: '/admin/access/revocations', payload: change, headers: { authorization: `Bearer ${token}` }, remoteAddress: REMOTE });
    expect(unnamed.json()).toMatchObject({ action: 'revoke', actor: 'admin-token-holder' });
  });

  it('never writes the token to the application log', () => {
    expect(test.logs.lines.length).toBeGreaterThan(0);
    expect(test.logs.text()).not.toContain(token);
  });
});

describe('admin API without a token: loopback only', () => {
  let test: TestHub;

  beforeAll(async () => {
    test = await openHub({});
  }, 60_000);
  afterAll(() => closeHub(test));

  const remote = [REMOTE, '::ffff:10.20.30.40', '2001:db8::7', '192.168.1.10'];
  for (const [name, endpoint] of Object.entries(ENDPOINTS)) {
    it(`${name}: refuses callers from elsewhere with 403 trust.admin-remote, with or without a bearer token, and changes nothing`, async () => {
      const id = await deadLetter(test.hub);
      for (const remoteAddress of remote) {
        expect(await call(test.hub, endpoint, id, { remoteAddress }), remoteAddress).toMatchObject({ status: 403, body: { type: 'trust.admin-remote' } });
        // With no token configured, no token opens it.
        expect((await call(test.hub, endpoint, id, { remoteAddress, authorization: 'Bearer anything' })).status, `${remoteAddress} with a token`).toBe(403);
      }
      expect(await test.hub.queue!.getDead(id)).toMatchObject({ id, state: 'dead' });
    });
  }

  it('serves reads and writes to loopback callers (IPv4, IPv6, IPv4-mapped IPv6)', async () => {
    for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect((await call(test.hub, ENDPOINTS['GET /admin/dead-letters'], '', { remoteAddress })).status, remoteAddress).toBe(200);
      expect((await call(test.hub, ENDPOINTS['GET /admin/messages'], '', { remoteAddress })).status, remoteAddress).toBe(200);
    }
    const replayed = await deadLetter(test.hub);
    expect(await call(test.hub, ENDPOINTS['POST /admin/dead-letters/replay'], replayed, { remoteAddress: '::1' })).toMatchObject({ status: 200, body: { replayed: 1 } });
    const discarded = await deadLetter(test.hub);
    expect(await call(test.hub, ENDPOINTS['POST /admin/dead-letters/:id/discard'], discarded, { remoteAddress: '::ffff:127.0.0.1' })).toMatchObject({ status: 200, body: { discarded } });
  });
});

describe('admin API without a token, behind a trusted proxy on this machine', () => {
  let test: TestHub;

  beforeAll(async () => {
    test = await openHub({}, ['127.0.0.1']);
  }, 60_000);
  afterAll(() => closeHub(test));

  for (const [name, endpoint] of Object.entries(ENDPOINTS)) {
    it(`${name}: takes what arrives from the proxy's address (also IPv4-mapped) for a remote caller: 403, nothing changed`, async () => {
      const id = await deadLetter(test.hub);
      for (const remoteAddress of ['127.0.0.1', '::ffff:127.0.0.1']) {
        expect(await call(test.hub, endpoint, id, { remoteAddress }), remoteAddress).toMatchObject({ status: 403, body: { type: 'trust.admin-remote' } });
      }
      expect(await test.hub.queue!.getDead(id)).toMatchObject({ id, state: 'dead' });
    });
  }

  it("still serves a loopback address that is not the proxy's", async () => {
    expect((await call(test.hub, ENDPOINTS['GET /admin/messages'], '', { remoteAddress: '::1' })).status).toBe(200);
    const id = await deadLetter(test.hub);
    expect(await call(test.hub, ENDPOINTS['POST /admin/dead-letters/replay'], id, { remoteAddress: '::1' })).toMatchObject({ status: 200, body: { replayed: 1 } });
  });
});
