import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { simulators, startEmcSim, type EmcSim } from '../../src/sim/index.js';
import { waitFor } from '../support/wait.js';

/** Fictitious dossiers and people only. */
const MA = '000.00.14.H56-250304-0007';
const MA2 = '000.00.14.H56-250304-0008';
const TOKEN = 'emc-demo-token';
const USER = JSON.stringify({ ID_local: 'tranvanthu.thu', ID_QG: '038095999901', TYPE: '2', LOCATION: '38' });

const event = (o: Record<string, unknown> = {}) => ({
  CodeProfile: MA,
  SiteId: 56,
  CodeTTHC: '1.001234.000.00.00.H56',
  NameTTHC: 'Đăng ký khai sinh',
  MaHoSo: MA,
  Status: '1',
  FormsReception: '2',
  FormsPayments: '0',
  Level: '3',
  IsFromDVCQG: '0',
  IsDVCBC: '0',
  Data: '',
  User: USER,
  ...o,
});

type Res = { status: number; headers: Headers; text: string; json: any };

async function track(
  body: unknown,
  { token = TOKEN as string | null, path = '/TrackingMCDT', headers = {} as Record<string, string>, s = sim, signal = undefined as AbortSignal | undefined } = {},
): Promise<Res> {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

let sim: EmcSim;

beforeAll(async () => {
  sim = await startEmcSim({ port: 0, slowMs: 300 });
});
afterAll(async () => {
  await sim.close();
});
afterEach(() => sim.reset());
// `forMs` windows are read from Date.now() in this process; tests that cross one move a fake Date forward
// instead of sleeping, so a loaded machine cannot stretch a window shut before the first call.
const fakeDate = () => vi.useFakeTimers({ toFake: ['Date'] });
afterEach(() => {
  vi.useRealTimers();
});

describe('emc simulator: TrackingMCDT', () => {
  it('accepts a tracking event on /TrackingMCDT and /api/TrackingMCDT', async () => {
    const a = await track(event());
    expect(a.status).toBe(200);
    expect(a.json).toEqual({ error_code: 0, message: 'Thành công' });
    const b = await track(event({ Status: '2' }), { path: '/api/TrackingMCDT' });
    expect(b.json).toEqual({ error_code: 0, message: 'Thành công' });
    expect(sim.received().map((r) => [r.path, r.outcome])).toEqual([
      ['/TrackingMCDT', 'ok'],
      ['/api/TrackingMCDT', 'ok'],
    ]);
  });

  it('accepts codes as numbers or strings and records them as given', async () => {
    await track(event({ Status: 1, FormsReception: 1, FormsPayments: 2, Level: 4, IsFromDVCQG: 1, IsDVCBC: 2, SiteId: 56 }));
    await track(event({ Status: '3', Data: null, User: undefined }));
    const events = sim.events().get(MA)!;
    expect(events.map((e) => e.Status)).toEqual([1, '3']);
    expect(events[0]).toMatchObject({ SiteId: 56, Level: 4, IsDVCBC: 2 });
    expect(typeof events[0]!.at).toBe('string');
    expect(sim.received().map((r) => r.status)).toEqual([1, '3']);
  });

  it('records events per MaHoSo in arrival order', async () => {
    for (const [ma, status] of [[MA, '1'], [MA2, '1'], [MA, '2'], [MA, '3'], [MA2, '0']] as const) {
      expect((await track(event({ MaHoSo: ma, CodeProfile: ma, Status: status }))).status).toBe(200);
    }
    const events = sim.events();
    expect(events.get(MA)!.map((e) => e.Status)).toEqual(['1', '2', '3']);
    expect(events.get(MA2)!.map((e) => e.Status)).toEqual(['1', '0']);
    expect(sim.received().map((r) => `${r.maHoSo}:${r.status}`)).toEqual([`${MA}:1`, `${MA2}:1`, `${MA}:2`, `${MA}:3`, `${MA2}:0`]);
    const over = (await (await fetch(`${sim.url}/__sim/events`)).json()) as any;
    expect(over[MA].map((e: { Status: string }) => e.Status)).toEqual(['1', '2', '3']);
  });

  it('keeps names and user ids out of received()', async () => {
    await track(event({ NameTTHC: 'Đăng ký khai sinh cho Trần Văn Thử' }));
    const text = JSON.stringify(sim.received()) + JSON.stringify(await (await fetch(`${sim.url}/__sim/received`)).json());
    expect(text).not.toContain('Trần Văn Thử');
    expect(text).not.toContain('038095999901');
    expect(text).not.toContain(TOKEN);
  });
});

describe('emc simulator: bearer token', () => {
  it('answers 401 without the configured token', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer sai-token' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await track(event(), { token: null, headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(res.json.error_code).toBe(401);
    }
    expect(sim.events().size).toBe(0);
    expect(sim.received().every((r) => r.outcome === 'rejected' && r.errorCode === '401')).toBe(true);
    expect((await track(event(), { token: null, headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('checks the token before the body', async () => {
    const res = await track({ MaHoSo: 5 }, { token: 'sai' });
    expect(res.status).toBe(401);
  });

  it('uses a configured token', async () => {
    const other = await startEmcSim({ port: 0, token: 'token-tinh-thu' });
    try {
      expect((await track(event(), { s: other })).status).toBe(401);
      expect((await track(event(), { s: other, token: 'token-tinh-thu' })).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('emc simulator: validation names the field', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['Status 5', { Status: '5' }, 'Status'],
    ['Status text', { Status: 'TiepNhan' }, 'Status'],
    ['Status fractional', { Status: 1.5 }, 'Status'],
    ['Level 2', { Level: 2 }, 'Level'],
    ['FormsReception 3', { FormsReception: '3' }, 'FormsReception'],
    ['FormsPayments missing', { FormsPayments: undefined }, 'FormsPayments'],
    ['IsFromDVCQG boolean', { IsFromDVCQG: true }, 'IsFromDVCQG'],
    ['IsDVCBC 3', { IsDVCBC: '3' }, 'IsDVCBC'],
    ['SiteId text', { SiteId: 'H56' }, 'SiteId'],
    ['SiteId missing', { SiteId: undefined }, 'SiteId'],
    ['MaHoSo missing', { MaHoSo: undefined }, 'MaHoSo'],
    ['CodeProfile number', { CodeProfile: 7 }, 'CodeProfile'],
    ['NameTTHC empty', { NameTTHC: ' ' }, 'NameTTHC'],
    ['Data object', { Data: { a: '1' } }, 'Data'],
    ['User object', { User: { ID_local: 'x' } }, 'User'],
    ['User not JSON', { User: 'tranvanthu' }, 'User'],
    ['User missing keys', { User: JSON.stringify({ ID_local: 'x' }) }, 'User'],
    ['Status missing', { Status: undefined }, 'Status'],
    ['Status null', { Status: null }, 'Status'],
    ['Status negative', { Status: -1 }, 'Status'],
    ['Status with a leading zero', { Status: '01' }, 'Status'],
    ['Status with a space', { Status: ' 1' }, 'Status'],
    ['Status as DVCQG TrangThaiHoSo 10', { Status: '10' }, 'Status'],
    ['FormsReception 0', { FormsReception: '0' }, 'FormsReception'],
    ['FormsReception 3 (bưu chính is 2 + IsDVCBC 1)', { FormsReception: 3 }, 'FormsReception'],
    ['FormsReception missing', { FormsReception: undefined }, 'FormsReception'],
    ['FormsPayments 3', { FormsPayments: '3' }, 'FormsPayments'],
    ['Level 5', { Level: '5' }, 'Level'],
    ['Level missing', { Level: undefined }, 'Level'],
    ['Level as a word', { Level: 'ToanTrinh' }, 'Level'],
    ['IsFromDVCQG 2', { IsFromDVCQG: '2' }, 'IsFromDVCQG'],
    ['IsFromDVCQG "True"', { IsFromDVCQG: 'True' }, 'IsFromDVCQG'],
    ['IsDVCBC missing', { IsDVCBC: undefined }, 'IsDVCBC'],
    ['IsDVCBC as a list', { IsDVCBC: ['1'] }, 'IsDVCBC'],
    ['SiteId 0', { SiteId: 0 }, 'SiteId'],
    ['SiteId negative', { SiteId: -56 }, 'SiteId'],
    ['SiteId with a leading zero', { SiteId: '056' }, 'SiteId'],
    ['SiteId as text (TH sends int? SiteId, a JSON number)', { SiteId: '56' }, 'SiteId'],
    ['SiteId fractional', { SiteId: 56.5 }, 'SiteId'],
    ['CodeTTHC missing', { CodeTTHC: undefined }, 'CodeTTHC'],
    ['CodeTTHC empty', { CodeTTHC: '' }, 'CodeTTHC'],
    ['User JSON null', { User: 'null' }, 'User'],
    ['User JSON list', { User: '[]' }, 'User'],
  ];

  it.each(cases)('%s', async (_label, override, field) => {
    const res = await track(event(override));
    expect(res.status).toBe(400);
    expect(res.json.error_code).toBe(1);
    expect(res.json.field).toBe(field);
    expect(res.json.message).toContain(field);
    expect(sim.events().size).toBe(0);
    expect(sim.received().at(-1)).toMatchObject({ outcome: 'error', errorCode: '400', field });
  });

  it('accepts every documented code, as a string or a number, with User and Data absent', async () => {
    const lists: Record<string, number[]> = {
      Status: [0, 1, 2, 3, 4], FormsReception: [1, 2], FormsPayments: [0, 1, 2], Level: [0, 1, 3, 4], IsFromDVCQG: [0, 1], IsDVCBC: [0, 1, 2],
    };
    let sent = 0;
    for (const [field, codes] of Object.entries(lists)) {
      for (const code of codes) {
        for (const value of [String(code), code]) {
          const res = await track(event({ [field]: value, User: undefined, Data: undefined }));
          expect([field, value, res.status]).toEqual([field, value, 200]);
          sent++;
        }
      }
    }
    expect(sim.events().get(MA)).toHaveLength(sent);
    expect(sim.received().every((r) => r.outcome === 'ok')).toBe(true);
  });

  it('rejects a body that is not an object', async () => {
    const res = await track([event()]);
    expect(res.status).toBe(400);
    expect(res.json.field).toBe('(body)');
  });
});

describe('emc simulator: modes', () => {
  it('down: drops the connection; normal again over POST /__sim/mode', async () => {
    sim.setMode('down');
    await expect(track(event())).rejects.toThrow();
    expect(((await (await fetch(`${sim.url}/health`)).json()) as any).mode).toBe('down');
    const back = await fetch(`${sim.url}/__sim/mode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"mode":"normal"}' });
    expect(back.status).toBe(200);
    expect((await track(event())).status).toBe(200);
    expect(sim.received().map((r) => [r.outcome, r.errorCode])).toEqual([['rejected', 'down'], ['ok', undefined]]);
  });

  it('http-500 for forMs, then normal by itself', async () => {
    fakeDate();
    sim.setMode('http-500', 400);
    const res = await track(event());
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    vi.setSystemTime(Date.now() + 450);
    expect((await track(event())).status).toBe(200);
    expect(sim.events().get(MA)).toHaveLength(1);
  });

  it('http-429 with Retry-After: 1, set over HTTP with forMs', async () => {
    fakeDate();
    const set = await fetch(`${sim.url}/__sim/mode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"mode":"http-429","forMs":400}' });
    expect(((await set.json()) as any).mode).toBe('http-429');
    const res = await track(event());
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    vi.setSystemTime(Date.now() + 450);
    expect((await track(event())).status).toBe(200);
  });

  it('slow: answers after slowMs', async () => {
    sim.setMode('slow');
    expect(((await (await fetch(`${sim.url}/health`)).json()) as any).mode).toBe('slow');
    expect((await track(event())).status).toBe(200);
    // The caller's 100 ms timer runs out before the simulator's 300 ms sleep (timers fire in order), so it
    // gives up without an answer: the slowness, observed without timing anything.
    await expect(track(event({ Status: '2' }), { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    // The abandoned call still takes effect once the sleep ends; waited for here, so it cannot land in a later test.
    await waitFor(() => sim.events().get(MA)?.length === 2, 10_000, 'the effect of the abandoned call');
  });

  it('slow: the 30 s default sleep is cut by close()', async () => {
    const other = await startEmcSim({ port: 0 });
    other.setMode('slow');
    const pending = track(event(), { s: other }).then(
      (r) => r.status,
      () => 'failed',
    );
    await sleep(100);
    // Were the 30 s sleep not cut, close() would outlast the test's timeout.
    await other.close();
    expect(await pending).not.toBe(200);
  });

  it('refuses unknown modes, including DVCQG-only session-expired', async () => {
    const res = await fetch(`${sim.url}/__sim/mode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"mode":"session-expired"}' });
    expect(res.status).toBe(400);
    expect(() => sim.setMode('session-expired' as 'down')).toThrow();
  });
});

describe('emc simulator: idempotency, hardening, control', () => {
  it('replays the first answer for a repeated idempotency-key and body', async () => {
    const headers = { 'idempotency-key': `emc-${MA}-1` };
    const first = await track(event(), { headers });
    const second = await track(event(), { headers });
    expect(second.status).toBe(first.status);
    expect(second.json).toEqual(first.json);
    expect(sim.received().map((r) => r.outcome)).toEqual(['ok', 'duplicate']);
    expect(sim.received().filter((r) => r.outcome === 'ok')).toHaveLength(1);
    expect(sim.events().get(MA)).toHaveLength(1);
    // Same key, another body: a new event.
    expect((await track(event({ Status: '2' }), { headers })).status).toBe(200);
    expect(sim.events().get(MA)).toHaveLength(2);
  });

  it('replays a validation error, and never replays to a caller without the token', async () => {
    const headers = { 'idempotency-key': 'emc-bad-1' };
    expect((await track(event({ Status: '9' }), { headers })).status).toBe(400);
    expect((await track(event({ Status: '9' }), { headers })).status).toBe(400);
    expect((await track(event({ Status: '9' }), { headers, token: 'sai' })).status).toBe(401);
    expect(sim.received().map((r) => r.outcome)).toEqual(['error', 'duplicate', 'rejected']);
  });

  it('rejects __proto__ bodies, oversized bodies and bad JSON', async () => {
    expect((await track(`{"MaHoSo":"${MA}","__proto__":{"polluted":true}}`)).status).toBe(400);
    expect((await track(event({ Data: 'x'.repeat(1024 * 1024) }))).status).toBe(413);
    const broken = await track('{"MaHoSo": "bi-mat-khong-lo"');
    expect(broken.status).toBe(400);
    expect(broken.text).not.toContain('bi-mat-khong-lo');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(sim.events().size).toBe(0);
  });

  it('serves /health and resets', async () => {
    await track(event());
    expect(await (await fetch(`${sim.url}/health`)).json()).toEqual({ status: 'ok', simulator: 'emc', mode: 'normal' });
    const reset = await fetch(`${sim.url}/__sim/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
    expect(sim.events().size).toBe(0);
    expect(sim.received()).toEqual([]);
  });

  it('is registered as simulators.emc', async () => {
    const started = await simulators.emc({ host: '127.0.0.1', port: 0 });
    try {
      expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${started.url}/TrackingMCDT`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(event()),
      });
      expect(res.status).toBe(200);
    } finally {
      await started.close();
    }
  });
});
