import { createServer, type IncomingMessage, type Server } from 'node:http';
import { hostname, userInfo } from 'node:os';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/admin-client.js';
import { dlqList, dlqReplay, dlqShow } from '../../src/cli/dlq.js';
import { logSearch, logShow } from '../../src/cli/log.js';

/**
 * `lienthong dlq` and `lienthong log` in process, against a stand-in for the hub's admin API that records what it
 * is asked: what the commands send (times), and what they print from the answers. TZ is set here, not taken from
 * the machine.
 */
interface Asked { method: string; path: string; query: Record<string, string>; body?: unknown; actor?: string }
let server: Server;
let url: string;
let asked: Asked[] = [];
let answer: (a: Asked) => unknown = () => ({});

const read = async (req: IncomingMessage) => {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? (JSON.parse(text) as unknown) : undefined;
};

beforeAll(async () => {
  server = createServer((req, res) => {
    void read(req).then((body) => {
      const parsed = new URL(req.url ?? '/', 'http://x');
      const a: Asked = { method: req.method ?? '', path: parsed.pathname, query: Object.fromEntries(parsed.searchParams), body, actor: req.headers['x-admin-actor'] as string | undefined };
      asked.push(a);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(a)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const savedTz = process.env.TZ;
let out: string[];
beforeEach(() => {
  asked = [];
  out = [];
  process.env.TZ = 'Asia/Ho_Chi_Minh';
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => {
  vi.restoreAllMocks();
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

const dead = (id: string) => ({ id, messageId: `m-${id}`, destination: 'dvcqg.CapNhatTienDoHoSoMC', orderingKey: 'k', attempts: 2, deadAt: Date.UTC(2025, 2, 4, 2, 15), reason: 'gave up' });

describe('a bulk replay never widens because of a time it misread', () => {
  it('refuses --since 20261207 before asking the hub anything', async () => {
    answer = (a) => (a.method === 'GET' ? { items: [dead('d1'), dead('d2')] } : { replayed: 2, requested: 2 });
    await expect(dlqReplay([], { url, since: '20261207' })).rejects.toThrow(UsageError);
    await expect(dlqReplay([], { url, since: '20261207' })).rejects.toThrow(/--since 20261207: a compact date .*write 2026-12-07 \(local midnight\) or 2026-12-07T08:00\+07:00/);
    await expect(dlqReplay([], { url, since: '04/03/2025', destination: 'dvcqg.CapNhatTienDoHoSoMC' })).rejects.toThrow(UsageError);
    expect(asked).toEqual([]);
  });

  it('selects from local midnight for --since 2025-03-04', async () => {
    answer = (a) => (a.method === 'GET' ? { items: [dead('d1')] } : { replayed: 1, requested: 1, notFound: [] });
    expect(await dlqReplay([], { url, since: '2025-03-04' })).toBe(0);
    expect(asked[0]!.query.since).toBe(String(Date.UTC(2025, 2, 3, 17)));
    expect(out).toContain('replayed 1 of 1');
  });

  it('refuses a compact date in dlq list and log, and asks nothing', async () => {
    await expect(dlqList({ url, since: '20261207' })).rejects.toThrow(UsageError);
    await expect(logSearch({ url, from: '20261208' })).rejects.toThrow(/--from 20261208/);
    await expect(logSearch({ url, to: '20261207' })).rejects.toThrow(/--to 20261207/);
    expect(asked).toEqual([]);
  });

  it('sends log --from and --to as local times', async () => {
    answer = () => ({ items: [] });
    await logSearch({ url, from: '2025-03-04', to: '2025-03-04T12:00+07:00' });
    expect(asked[0]!.query).toMatchObject({ from: String(Date.UTC(2025, 2, 3, 17)), to: String(Date.UTC(2025, 2, 4, 5)) });
  });
});

describe('dlq replay names what it did not replay', () => {
  it('names the ids the hub says it did not know', async () => {
    answer = () => ({ replayed: 1, requested: 3, notFound: ['nope', 'gone'] });
    expect(await dlqReplay(['d1', 'nope', 'gone'], { url })).toBe(1);
    expect(asked[0]!.body).toEqual({ ids: ['d1', 'nope', 'gone'] });
    expect(out).toEqual(['replayed 1 of 3', '2 not found: no such dead letter on this hub (a wrong id, or replayed or discarded already): nope, gone']);
  });

  it('gathers the names across chunks, beside the unsealable ones', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `d${i}`);
    answer = (a) => {
      const chunk = (a.body as { ids: string[] }).ids;
      return { replayed: chunk.length - 1, requested: chunk.length, ...(chunk.includes('d0') ? { unsealable: ['d0'] } : { notFound: [chunk.at(-1)] }) };
    };
    expect(await dlqReplay(ids, { url })).toBe(1);
    expect(asked).toHaveLength(2);
    expect(out).toEqual(['replayed 58 of 60', '1 not found: no such dead letter on this hub (a wrong id, or replayed or discarded already): d59', "1 left dead: their payload cannot be opened with this hub's data key (LIENTHONG_DATA_KEY): d0"]);
  });

  it('still says how many were not replayed when the hub does not name them', async () => {
    answer = () => ({ replayed: 0, requested: 1 });
    expect(await dlqReplay(['nope'], { url })).toBe(1);
    expect(out).toEqual(['replayed 0 of 1', '1 not replayed: not dead letters on this hub (a wrong id, or replayed or discarded already or meanwhile); lienthong dlq list shows what is still dead']);
  });

  it('says nothing more when every one was replayed', async () => {
    answer = () => ({ replayed: 2, requested: 2 });
    expect(await dlqReplay(['a', 'b'], { url })).toBe(0);
    expect(out).toEqual(['replayed 2 of 2']);
  });
});

describe('printed times are local, with their offset', () => {
  const at = Date.UTC(2025, 2, 4, 2, 15);

  it('log lists receipt times in local time', async () => {
    answer = () => ({ items: [{ id: 'm1', receivedAt: at, state: 'failed', messageType: 'CitizenLookup', participant: 'VN/GOV/000.00.00.H56/MOTCUA', correlationId: 'c' }] });
    await logSearch({ url });
    expect(out[0]).toMatch(/^2025-03-04 09:15:00\+07:00 {2}m1 {2}failed/);
    out = [];
    await logSearch({ url, json: true });
    expect(JSON.parse(out[0]!).items[0].receivedAt).toBe(at);
  });

  it('log show prints the message and its events in local time', async () => {
    answer = () => ({ message: { id: 'm1', receivedAt: at, state: 'delivered' }, events: [{ at: at + 61_000, kind: 'delivered', destination: 'emc.TrackingMCDT' }] });
    await logShow('m1', { url });
    expect(JSON.parse(out[0]!)).toMatchObject({ receivedAt: '2025-03-04 09:15:00+07:00' });
    expect(out[1]).toMatch(/^2025-03-04 09:16:01\+07:00 {2}delivered/);
  });

  it('dlq list and dlq show print when a delivery died in local time', async () => {
    answer = (a) => (a.path === '/admin/dead-letters' ? { items: [dead('d1')] } : { ...dead('d1'), acceptedAt: at - 3_600_000, message: { thoiDiem: '04/03/2025 09:15' } });
    await dlqList({ url });
    expect(out[0]).toMatch(/^d1 {2}2025-03-04 09:15:00\+07:00 {2}dvcqg\.CapNhatTienDoHoSoMC/);
    out = [];
    await dlqShow('d1', { url });
    expect(JSON.parse(out[0]!)).toMatchObject({ deadAt: '2025-03-04 09:15:00+07:00', acceptedAt: '2025-03-04 08:15:00+07:00', message: { thoiDiem: '04/03/2025 09:15' } });
    out = [];
    await dlqShow('d1', { url, json: true });
    expect(JSON.parse(out[0]!).deadAt).toBe(at);
  });
});

describe('the CLI says who asks', () => {
  const saved = process.env.LIENTHONG_ADMIN_ACTOR;
  afterEach(() => {
    if (saved === undefined) delete process.env.LIENTHONG_ADMIN_ACTOR;
    else process.env.LIENTHONG_ADMIN_ACTOR = saved;
  });

  it('sends LIENTHONG_ADMIN_ACTOR as x-admin-actor, else user@host', async () => {
    answer = () => ({ replayed: 1, requested: 1 });
    process.env.LIENTHONG_ADMIN_ACTOR = 'tran.van.thu';
    expect(await dlqReplay(['d1'], { url })).toBe(0);
    delete process.env.LIENTHONG_ADMIN_ACTOR;
    expect(await dlqReplay(['d2'], { url })).toBe(0);
    expect(asked.map((a) => a.actor)).toEqual(['tran.van.thu', `${userInfo().username}@${hostname()}`]);
  });

  it('prints the actor of a replay in log show', async () => {
    answer = () => ({ message: { id: 'm1', state: 'accepted', receivedAt: Date.UTC(2025, 2, 4, 2, 15) }, events: [{ at: Date.UTC(2025, 2, 4, 2, 16), kind: 'replayed', destination: 'emc.TrackingMCDT', actor: 'loopback (x-admin-actor: tran.van.thu)' }] });
    expect(await logShow('m1', { url })).toBe(0);
    expect(out.at(-1)).toMatch(/replayed\s+destination=emc\.TrackingMCDT actor=loopback \(x-admin-actor: tran\.van\.thu\)$/);
  });
});
