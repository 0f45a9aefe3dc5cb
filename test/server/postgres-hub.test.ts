import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../src/server/hub.js';
import { startDvcqgSim, type DvcqgSim } from '../../src/sim/dvcqg/server.js';
import { startEmcSim, type EmcSim } from '../../src/sim/emc/server.js';
import { startTestHub } from '../support/hub.js';
import { withSearchPath } from '../support/postgres.js';
import { DATABASE_URL, requirePostgres } from '../support/services.js';
import { waitFor } from '../support/wait.js';

/**
 * One hub, in this process, on the PostgreSQL message log (DATABASE_URL, in a schema of its own created here and
 * dropped afterwards), delivering dossier status changes to the DVCQG and EMC simulators. What the admin API shows
 * must be what PostgreSQL holds. Unreachable database: the file fails when LIENTHONG_REQUIRE_SERVICES=1 (CI), else
 * it is skipped, loudly. Fictitious data only.
 */
const available = await requirePostgres();
const SCHEMA = `lt_hub_${process.pid}_${randomBytes(3).toString('hex')}`;

async function query(sqlText: string, params: unknown[] = [], url = DATABASE_URL): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sqlText, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

const FAST_RETRIES = {
  DVCQG_RETRY_INITIAL_DELAY: '100ms', DVCQG_RETRY_MAX_DELAY: '300ms', DVCQG_RETRY_MAX_ATTEMPTS: '3',
  EMC_RETRY_INITIAL_DELAY: '100ms', EMC_RETRY_MAX_DELAY: '300ms', EMC_RETRY_MAX_ATTEMPTS: '3',
  LIENTHONG_DELIVERY_LEASE: '5s',
};

async function call(url: string, method: 'GET' | 'POST', body?: unknown) {
  const res = await request(url, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

let seq = 0;
const dossier = () => `000.00.14.H56-250305-${String(2000 + (process.pid % 5000) + ++seq).padStart(4, '0')}`;
const status = (maHoSo: string, trangThai: string, minute: number) => ({
  maHoSo, trangThai, thoiDiem: `05/03/2025 10:${String(minute).padStart(2, '0')}`, maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)', kenh: '2',
  nguoiXuLy: 'Trần Văn Thử', chucDanh: 'Chuyên viên', phongBan: 'Bộ phận một cửa (mẫu)', noiDungXuLy: 'Xử lý hồ sơ', ngayBatDau: '05/03/2025 08:00', hanXuLy: '19/03/2025 17:00',
});

describe.runIf(available)('a hub on the PostgreSQL message log', () => {
  const url = withSearchPath(DATABASE_URL, SCHEMA);
  const inSchema = (sqlText: string, params: unknown[] = []) => query(sqlText, params, url);
  let dvcqg: DvcqgSim;
  let emc: EmcSim;
  let hub: RunningHub;
  const post = (body: unknown) => call(`${hub.url}/v1/in/onegate-h56/dossier-status`, 'POST', body);
  const okCalls = (maHoSo: string) => dvcqg.received().filter((r) => r.service === 'CapNhatTienDoHoSoMC' && r.maHoSo === maHoSo && r.outcome === 'ok');
  const emcOk = (maHoSo: string) => emc.received().filter((r) => r.maHoSo === maHoSo && r.outcome === 'ok');
  const stateOf = async (id: string) => (await call(`${hub.url}/admin/messages/${id}`, 'GET')).body?.message?.state as string | undefined;

  beforeAll(async () => {
    await query(`create schema "${SCHEMA}"`);
    dvcqg = await startDvcqgSim({ port: 0 });
    emc = await startEmcSim({ port: 0 });
    // hubEnv drops DATABASE_URL unless the test names it: this one does, with its own schema.
    hub = await startTestHub({ DVCQG_URL: dvcqg.url, EMC_URL: emc.url, DATABASE_URL: url, LIENTHONG_DATA_KEY: randomBytes(32).toString('base64'), ...FAST_RETRIES });
  });
  afterAll(async () => {
    await hub?.close();
    await Promise.all([dvcqg?.close(), emc?.close()]);
    await query(`drop schema if exists "${SCHEMA}" cascade`);
  });

  it('delivers dossier status changes, and the admin API shows the messages and histories PostgreSQL holds', async () => {
    const code = dossier();
    const ids: string[] = [];
    for (const [i, trangThai] of ['2', '3', '4'].entries()) {
      const res = await post(status(code, trangThai, 10 + i));
      expect(res.status).toBe(202);
      ids.push(res.body.messageId as string);
    }
    await waitFor(() => okCalls(code).length === 3 && emcOk(code).length === 3, 15_000, 'three deliveries to each of DVCQG and EMC');
    // In the dossier's order, at both destinations.
    const tienDo = (dvcqg.dossiers().get(code)?.TienDo ?? []) as Array<{ TrangThai: string }>;
    expect(tienDo.map((t) => t.TrangThai)).toEqual(['2', '3', '4']);
    await waitFor(async () => (await Promise.all(ids.map(stateOf))).every((s) => s === 'delivered'), 10_000, 'every message delivered');

    // The message rows are in this test's schema, and the search answers with exactly them.
    const rows = await inSchema('select id, state, deliveries, dossier_code from messages where dossier_code = $1 order by id', [code]);
    expect(rows).toEqual([...ids].sort().map((id) => ({ id, state: 'delivered', deliveries: 2, dossier_code: code })));
    const found = await call(`${hub.url}/admin/messages?dossierCode=${encodeURIComponent(code)}`, 'GET');
    expect(found.status).toBe(200);
    expect(found.body.items.map((m: { id: string }) => m.id).sort()).toEqual([...ids].sort());
    expect(found.body.items.every((m: { state: string; dossierCode: string }) => m.state === 'delivered' && m.dossierCode === code)).toBe(true);

    // Each history's events are the event rows PostgreSQL holds for that message.
    for (const id of ids) {
      const history = (await call(`${hub.url}/admin/messages/${id}`, 'GET')).body as { events: Array<{ kind: string; at: number; deliveryId?: string; destination?: string }> };
      const stored = await inSchema('select kind, at, delivery_id, destination from events where message_id = $1 order by at, id', [id]);
      const shown = history.events.filter((e) => e.kind !== 'received' && e.kind !== 'accepted');
      expect(shown.map((e) => ({ kind: e.kind, at: e.at, delivery_id: e.deliveryId ?? null, destination: e.destination ?? null })))
        .toEqual(stored.map((r) => ({ kind: r.kind, at: Number(r.at), delivery_id: r.delivery_id, destination: r.destination })));
      expect(stored.filter((r) => r.kind === 'delivered').map((r) => r.destination).sort()).toEqual(['dvcqg.CapNhatTienDoHoSoMC', 'emc.TrackingMCDT']);
    }
    // And the writes were journaled there too.
    const [journal] = await inSchema("select count(*) as n from journal where kind = 'message' and ref = any($1)", [ids]);
    expect(Number(journal!.n)).toBe(3);
  });

  it('a dead letter replayed through the admin API ends delivered, settled from the events in PostgreSQL', async () => {
    const code = dossier();
    dvcqg.setMode('http-500', 60_000);
    const { body } = await post(status(code, '5', 30));
    const messageId = body.messageId as string;
    const dead = await waitFor(async () => (await call(`${hub.url}/admin/dead-letters?messageId=${messageId}`, 'GET')).body.items[0], 15_000, 'a dead letter');
    await waitFor(async () => (await stateOf(messageId)) === 'partially-delivered', 10_000, 'partially delivered (EMC got it)');

    dvcqg.setMode('normal');
    expect((await call(`${hub.url}/admin/dead-letters/replay`, 'POST', { ids: [dead.id] })).body).toMatchObject({ replayed: 1 });
    await waitFor(() => okCalls(code).length === 1, 15_000, 'delivered after replay');
    await waitFor(async () => (await stateOf(messageId)) === 'delivered', 10_000, 'delivered state');

    const [row] = await inSchema('select state from messages where id = $1', [messageId]);
    expect(row!.state).toBe('delivered');
    // The replay is written before the delivery it reopens, in the log's write order.
    const order = await inSchema("select kind from events where message_id = $1 and delivery_id = $2 and kind in ('dead-lettered', 'replayed', 'delivered') order by id", [messageId, dead.id]);
    expect(order.map((r) => r.kind)).toEqual(['dead-lettered', 'replayed', 'delivered']);
    const states = await inSchema("select facts from journal where kind = 'state' and ref = $1 order by pos", [messageId]);
    expect(states.map((r) => JSON.parse(String(r.facts)).state)).toEqual(['partially-delivered', 'accepted', 'delivered']);
  });
});
