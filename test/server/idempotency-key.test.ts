import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { RunningHub } from '../../src/server/hub.js';
import { startDvcqgSim, type DvcqgSim } from '../../src/sim/dvcqg/server.js';
import { startEmcSim, type EmcSim } from '../../src/sim/emc/server.js';
import { LogCapture, startTestHub } from '../support/hub.js';
import { REDIS_URL, requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';

/**
 * The Idempotency-Key header and the operation's business key (dossier + status + time) together, through a real hub:
 * a repeat under either is answered with the first message's id and delivers nothing new; the header key reused for a
 * different event is refused with 422 (draft-ietf-httpapi-idempotency-key-header), never dropped as a "duplicate".
 *
 * "Delivered nothing" is observed without sleeping: the events of one dossier reach DVCQG in acceptance order, so once
 * a later event of the dossier has arrived, anything queued before it would have arrived first.
 */
const redisAvailable = await requireService('Redis', REDIS_URL);

let seq = 0;
const dossier = () => `000.00.14.H56-250305-${String(2000 + ++seq).padStart(4, '0')}`;
const status = (maHoSo: string, trangThai: string, minute: number) => ({
  maHoSo, trangThai, thoiDiem: `05/03/2025 10:${String(minute).padStart(2, '0')}`, maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)', kenh: '2',
  nguoiXuLy: 'Trần Văn Thử', chucDanh: 'Chuyên viên', phongBan: 'Bộ phận một cửa (mẫu)', noiDungXuLy: 'Xử lý hồ sơ', ngayBatDau: '05/03/2025 08:00', hanXuLy: '19/03/2025 17:00',
});

describe('Idempotency-Key header and business key, end to end', () => {
  let dvcqg: DvcqgSim;
  let emc: EmcSim;
  let hub: RunningHub & { logs: LogCapture };

  async function post(body: unknown, headers: Record<string, string> = {}) {
    const res = await request(`${hub.url}/v1/in/onegate-h56/dossier-status`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }
  const delivered = (code: string) => dvcqg.received().filter((r) => r.maHoSo === code && r.outcome === 'ok').map((r) => r.trangThai);
  /** Posts a later event of the dossier and waits until DVCQG has it: everything accepted before it has arrived by then. */
  async function settle(code: string, trangThai: string) {
    const last = await post(status(code, trangThai, 59), { 'idempotency-key': `settle-${code}` });
    expect(last.body).toMatchObject({ status: 'accepted' });
    await waitFor(() => delivered(code).includes(trangThai), 10_000, `event ${trangThai} of ${code} at DVCQG`);
  }
  const logged = async (code: string) =>
    (await (await request(`${hub.url}/admin/messages?dossierCode=${code}`)).body.json() as { items: Array<{ id: string; state: string; reason?: string }> }).items;

  beforeAll(async () => {
    dvcqg = await startDvcqgSim({ port: 0 });
    emc = await startEmcSim({ port: 0 });
    hub = await startTestHub({ DVCQG_URL: dvcqg.url, EMC_URL: emc.url });
  });
  afterAll(async () => {
    await hub?.close();
    await Promise.all([dvcqg?.close(), emc?.close()]);
  });

  it('answers the same dossier event under a different Idempotency-Key as a duplicate of the first, and delivers it once', async () => {
    const code = dossier();
    const first = await post(status(code, '2', 1), { 'idempotency-key': `first-${code}` });
    expect(first).toMatchObject({ status: 202, body: { status: 'accepted' } });
    const again = await post(status(code, '2', 1), { 'idempotency-key': `second-${code}` });
    expect(again).toMatchObject({ status: 202, body: { status: 'duplicate', messageId: first.body.messageId } });
    // and with no header at all
    expect((await post(status(code, '2', 1))).body).toMatchObject({ status: 'duplicate', messageId: first.body.messageId });
    await settle(code, '9');
    expect(delivered(code)).toEqual(['2', '9']);
  });

  it('answers a genuine retry under the same key as a duplicate, however its JSON is written', async () => {
    const code = dossier();
    const event = status(code, '4', 2);
    const first = await post(event, { 'idempotency-key': `k-${code}`, 'x-correlation-id': 'corr-first' });
    expect(first.body.status).toBe('accepted');
    // the members in another order, spaced out, under another correlation id: the same request
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(event).reverse()), null, 2);
    const retry = await post(reordered, { 'idempotency-key': `k-${code}`, 'x-correlation-id': 'corr-retry' });
    expect(retry).toMatchObject({ status: 202, body: { status: 'duplicate', messageId: first.body.messageId } });
    await settle(code, '9');
    expect(delivered(code)).toEqual(['4', '9']);
  });

  it('refuses the same Idempotency-Key with a different status: 422 client.idempotency-conflict, logged, nothing delivered', async () => {
    const code = dossier();
    const first = await post(status(code, '2', 3), { 'idempotency-key': `reused-${code}` });
    expect(first.body.status).toBe('accepted');
    const other = await post(status(code, '4', 4), { 'idempotency-key': `reused-${code}` });
    expect(other.status).toBe(422);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(other.body).toMatchObject({
      type: 'client.idempotency-conflict',
      status: 422,
      messageId: other.headers['x-message-id'],
      detail: [expect.objectContaining({ field: 'Idempotency-Key', code: 'idempotency-key-reused', reason: expect.stringContaining(first.body.messageId) })],
    });
    expect(other.body.messageId).not.toBe(first.body.messageId);
    // refused, not stored: the same event sent properly, under its own key, is accepted as new
    const resent = await post(status(code, '4', 4), { 'idempotency-key': `new-${code}` });
    expect(resent.body.status).toBe('accepted');
    await settle(code, '9');
    expect(delivered(code)).toEqual(['2', '4', '9']);

    const rows = await logged(code);
    expect(rows.find((r) => r.id === other.body.messageId)).toMatchObject({ state: 'rejected', reason: expect.stringContaining('client.idempotency-conflict') });
    expect(rows.filter((r) => r.state === 'accepted' || r.state === 'delivered')).toHaveLength(3);
    const line = hub.logs.records().find((r) => r.messageId === other.body.messageId && r.msg === 'message rejected');
    expect(line).toMatchObject({ status: 422, errorType: 'client.idempotency-conflict', conflictWith: first.body.messageId });
  });
});

/** Two hubs on one Redis (one process here; the queue cannot tell), submissions racing between them. */
describe.runIf(redisAvailable)('Idempotency-Key header and business key across two hubs sharing Redis', () => {
  const prefix = `lt-test-idem-${randomUUID().slice(0, 8)}`;
  let dvcqg: DvcqgSim;
  let emc: EmcSim;
  const hubs: RunningHub[] = [];

  async function post(hub: RunningHub, body: unknown, headers: Record<string, string> = {}) {
    const res = await request(`${hub.url}/v1/in/onegate-h56/dossier-status`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> & { messageId: string; status: string | number } };
  }
  const delivered = (code: string) => dvcqg.received().filter((r) => r.maHoSo === code && r.outcome === 'ok').map((r) => r.trangThai);

  beforeAll(async () => {
    dvcqg = await startDvcqgSim({ port: 0 });
    emc = await startEmcSim({ port: 0 });
    const env = { REDIS_URL, LIENTHONG_REDIS_PREFIX: prefix, LIENTHONG_DATA_KEY: randomBytes(32).toString('base64'), DVCQG_URL: dvcqg.url, EMC_URL: emc.url };
    hubs.push(await startTestHub(env), await startTestHub(env));
  });
  afterAll(async () => {
    await Promise.all(hubs.map((h) => h.close()));
    await Promise.all([dvcqg?.close(), emc?.close()]);
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('accepts one of concurrent submissions sharing a key: repeats of the event are duplicates of it, other events under its header key 422', async () => {
    expect(hubs.map((h) => h.queue?.kind)).toEqual(['redis', 'redis']);
    const n = 8;
    const code = dossier();
    // one event, a different header key each time
    const sameEvent = await Promise.all(Array.from({ length: n }, (_, i) => post(hubs[i % 2]!, status(code, '2', 1), { 'idempotency-key': `each-${code}-${i}` })));
    const accepted = sameEvent.filter((a) => a.body.status === 'accepted');
    expect(accepted).toHaveLength(1);
    expect(sameEvent.filter((a) => a.body.status === 'duplicate').map((a) => a.body.messageId)).toEqual(Array(n - 1).fill(accepted[0]!.body.messageId));
    // one header key, a different event each time
    const other = dossier();
    const reused = await Promise.all(Array.from({ length: n }, (_, i) => post(hubs[i % 2]!, status(other, '2', 10 + i), { 'idempotency-key': `reused-${other}` })));
    const kept = reused.filter((a) => a.status === 202);
    expect(kept).toHaveLength(1);
    expect(kept[0]!.body.status).toBe('accepted');
    const refused = reused.filter((a) => a.status === 422);
    expect(refused).toHaveLength(n - 1);
    for (const r of refused) expect(r.body).toMatchObject({ type: 'client.idempotency-conflict', detail: [expect.objectContaining({ reason: expect.stringContaining(kept[0]!.body.messageId) })] });
    // delivered once each: a later event of each dossier arrives after anything queued before it
    for (const c of [code, other]) expect((await post(hubs[0]!, status(c, '9', 59))).body.status).toBe('accepted');
    await waitFor(() => delivered(code).includes('9') && delivered(other).includes('9'), 15_000, 'the later events at DVCQG');
    expect(delivered(code)).toEqual(['2', '9']);
    expect(delivered(other)).toEqual(['2', '9']);
  }, 30_000);
});
