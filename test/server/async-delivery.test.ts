import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { loadRegistry } from '../../src/config/load.js';
import { createLogger } from '../../src/server/logger.js';
import { startHub, type RunningHub } from '../../src/server/hub.js';
import { startDvcqgSim, type DvcqgSim } from '../../src/sim/dvcqg/server.js';
import { startEmcSim, type EmcSim } from '../../src/sim/emc/server.js';
import { LogCapture, REPO, hubEnv, startTestHub, tempDataDir } from '../support/hub.js';
import { waitFor } from '../support/wait.js';

const FAST_RETRIES = {
  DVCQG_RETRY_INITIAL_DELAY: '100ms', DVCQG_RETRY_MAX_DELAY: '300ms', DVCQG_RETRY_MAX_ATTEMPTS: '4',
  EMC_RETRY_INITIAL_DELAY: '100ms', EMC_RETRY_MAX_DELAY: '300ms', EMC_RETRY_MAX_ATTEMPTS: '4',
  LIENTHONG_DELIVERY_LEASE: '5s',
};

async function call(url: string, method: 'GET' | 'POST', body?: unknown, headers: Record<string, string> = {}) {
  const res = await request(url, { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

let seq = 0;
/** A fictitious dossier code unique to this run. */
const dossier = () => `000.00.14.H56-250304-${String(1000 + ++seq).padStart(4, '0')}`;
const status = (maHoSo: string, trangThai: string, minute: number) => ({
  maHoSo, trangThai, thoiDiem: `04/03/2025 09:${String(minute).padStart(2, '0')}`, maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)', kenh: '2',
  nguoiXuLy: 'Trần Văn Thử', chucDanh: 'Chuyên viên', phongBan: 'Bộ phận một cửa (mẫu)', noiDungXuLy: 'Xử lý hồ sơ', ngayBatDau: '04/03/2025 08:00', hanXuLy: '18/03/2025 17:00',
});

const okCalls = (dvcqg: DvcqgSim, maHoSo: string) => dvcqg.received().filter((r) => r.service === 'CapNhatTienDoHoSoMC' && r.maHoSo === maHoSo && r.outcome === 'ok');
const emcOk = (emc: EmcSim, maHoSo: string) => emc.received().filter((r) => r.maHoSo === maHoSo && r.outcome === 'ok');

describe('asynchronous delivery of dossier status changes to DVCQG and EMC', () => {
  let dvcqg: DvcqgSim;
  let emc: EmcSim;
  let hub: RunningHub;
  const post = (body: unknown, headers: Record<string, string> = {}) => call(`${hub.url}/v1/in/onegate-h56/dossier-status`, 'POST', body, headers);
  /** Deliveries in the queue, ready, delayed or active, as /metrics reports them. */
  const queueDepth = async () => {
    const text = await (await request(`${hub.url}/metrics`)).body.text();
    const depths = [...text.matchAll(/^lienthong_queue_depth\{[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
    expect(depths.length, 'lienthong_queue_depth in /metrics').toBeGreaterThan(0);
    return depths.reduce((sum, n) => sum + n, 0);
  };

  beforeAll(async () => {
    dvcqg = await startDvcqgSim({ port: 0 });
    emc = await startEmcSim({ port: 0 });
    hub = await startTestHub({ DVCQG_URL: dvcqg.url, EMC_URL: emc.url, ...FAST_RETRIES });
  });
  afterAll(async () => {
    await hub?.close();
    await Promise.all([dvcqg?.close(), emc?.close()]);
  });

  it('answers 202 with a message id only once stored, then delivers to both destinations in their dialects', async () => {
    const code = dossier();
    const res = await post(status(code, '4', 15));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'accepted', deliveries: ['dvcqg.CapNhatTienDoHoSoMC', 'emc.TrackingMCDT'] });
    const { messageId } = res.body;
    await waitFor(() => okCalls(dvcqg, code).length === 1 && emcOk(emc, code).length === 1, 10_000, 'both deliveries');
    expect(dvcqg.dossiers().get(code)?.TienDo).toEqual([expect.objectContaining({ MaHoSo: code, TrangThai: '4', ThoiDiemXuLy: '20250304091500' })]);
    expect(emc.events().get(code)).toEqual([expect.objectContaining({ MaHoSo: code, Status: '2', CodeTTHC: '1.001234' })]);
    const history = await waitFor(async () => {
      const h = await call(`${hub.url}/admin/messages/${messageId}`, 'GET');
      return h.body?.message?.state === 'delivered' && h.body;
    }, 5_000, 'state delivered');
    const kinds = history.events.map((e: { kind: string }) => e.kind);
    expect(kinds.slice(0, 2)).toEqual(['received', 'accepted']);
    expect(history.events[0].requestBytes).toBeGreaterThan(100);
    expect(history.events.filter((e: { kind: string }) => e.kind === 'delivered')).toHaveLength(2);
    // A successful attempt is one event: delivered, with the attempt's operational record.
    const attempt = history.events.find((e: { kind: string; destination?: string }) => e.kind === 'delivered' && e.destination === 'dvcqg.CapNhatTienDoHoSoMC');
    expect(attempt).toMatchObject({ succeeded: true, attempt: 1, httpStatus: 200, durationMs: expect.any(Number) });
    const found = await call(`${hub.url}/admin/messages?dossierCode=${code}`, 'GET');
    expect(found.body.items.map((m: { id: string }) => m.id)).toEqual([messageId]);
  });

  it('sends a DVCQG-originated dossier\'s status as DongBoTrangThaiHoSo (type "2", collapsed status), any other as CapNhatTienDoHoSoMC', async () => {
    const fromPortal = dossier();
    const local = dossier();
    // 9 "Đã xử lý xong" of a dossier submitted on DVCQG; the one-stop sends seconds, the procedure's level and the payment mode.
    const res = await post({ ...status(fromPortal, '9', 30), thoiDiem: '04/03/2025 09:30:11', tuDVCQG: true, mucDo: '3', hinhThucThanhToan: '1' });
    expect(res.status).toBe(202);
    expect(res.body.deliveries).toEqual(['emc.TrackingMCDT', 'dvcqg.DongBoTrangThaiHoSo']);
    const res2 = await post({ ...status(local, '9', 31), tuDVCQG: false });
    expect(res2.status).toBe(202);
    expect(res2.body.deliveries).toEqual(['dvcqg.CapNhatTienDoHoSoMC', 'emc.TrackingMCDT']);
    const ok = (code: string) => dvcqg.received().filter((r) => r.maHoSo === code && r.outcome === 'ok');
    await waitFor(() => ok(fromPortal).length === 1 && ok(local).length === 1 && emcOk(emc, fromPortal).length === 1, 10_000, 'both dossiers delivered');
    // The simulator answers 302 to DongBoTrangThaiHoSo without type "2": "ok" means the hub sent it.
    expect(ok(fromPortal).map((c) => [c.service, c.trangThai])).toEqual([['DongBoTrangThaiHoSo', '2']]);
    const stored = dvcqg.dossiers().get(fromPortal)!;
    expect(stored).toMatchObject({ TrangThaiHoSo: '2', DaDongBo: false, TienDo: [] });
    expect(stored.LichSuTrangThai).toEqual([expect.objectContaining({ TrangThaiHoSo: '2', service: 'DongBoTrangThaiHoSo', NgayXuLy: '20250304093011' })]);
    expect(ok(local).map((c) => [c.service, c.trangThai])).toEqual([['CapNhatTienDoHoSoMC', '9']]);
    expect(dvcqg.dossiers().get(local)?.TienDo).toEqual([expect.objectContaining({ TrangThai: '9', ThoiDiemXuLy: '20250304093100' })]);
    expect(emc.events().get(fromPortal)).toEqual([expect.objectContaining({ Status: '3', IsFromDVCQG: '1', Level: '3', FormsPayments: '1' })]);
    await waitFor(() => emcOk(emc, local).length === 1, 10_000, 'EMC event of the other dossier');
    expect(emc.events().get(local)).toEqual([expect.objectContaining({ IsFromDVCQG: '0', Level: '4', FormsPayments: '0' })]);
  });

  it('answers a repeated event with the first message id and delivers nothing new', async () => {
    const code = dossier();
    const first = await post(status(code, '2', 1));
    const again = await post(status(code, '2', 1));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ messageId: first.body.messageId, status: 'duplicate' });
    const byHeader1 = await post(status(code, '4', 2), { 'idempotency-key': `k-${code}` });
    const byHeader2 = await post(status(code, '4', 2), { 'idempotency-key': `k-${code}` });
    expect(byHeader2.body).toMatchObject({ messageId: byHeader1.body.messageId, status: 'duplicate' });
    // The key reused for another event is refused, not taken as a repeat (test/server/idempotency-key.test.ts).
    expect((await post(status(code, '4', 3), { 'idempotency-key': `k-${code}` })).status).toBe(422);
    // Every submission settles (two delivered, two duplicates, one rejected) and the queue holds nothing more: only
    // then is "nothing new was delivered" a fact rather than a guess about timing.
    const logged = (await waitFor(async () => {
      const items = (await call(`${hub.url}/admin/messages?dossierCode=${code}`, 'GET')).body.items as Array<{ id: string; state: string; reason?: string }>;
      const settled = items.map((m) => m.state).sort().join() === 'delivered,delivered,duplicate,duplicate,rejected';
      return settled && (await queueDepth()) === 0 ? items : undefined;
    }, 10_000, 'five messages settled and an empty queue'))!;
    expect(okCalls(dvcqg, code).map((c) => c.trangThai)).toEqual(['2', '4']);
    // A repeated submission says it was a duplicate, and of which message.
    const duplicates = logged.filter((m) => m.state === 'duplicate');
    expect(duplicates.map((m) => m.reason)).toEqual(expect.arrayContaining([expect.stringContaining(first.body.messageId), expect.stringContaining(byHeader1.body.messageId)]));
  });

  it("keeps one dossier's events in acceptance order through the portal's failures and retries", async () => {
    const code = dossier();
    dvcqg.setMode('http-500', 700);
    for (const [i, s] of ['2', '4', '9', '10'].entries()) expect((await post(status(code, s, 20 + i))).status).toBe(202);
    await waitFor(() => okCalls(dvcqg, code).length === 4, 15_000, 'four progress updates');
    expect(okCalls(dvcqg, code).map((c) => c.trangThai)).toEqual(['2', '4', '9', '10']);
    expect(dvcqg.received().some((r) => r.maHoSo === code && r.outcome === 'rejected')).toBe(true);
    await waitFor(() => emcOk(emc, code).length === 4, 10_000, 'four EMC events');
    expect(emcOk(emc, code).map((c) => String(c.status))).toEqual(['1', '2', '3', '3']);
  });

  it('dead-letters when the attempts run out, shows why, and delivers on replay once the cause is fixed', async () => {
    const code = dossier();
    dvcqg.setMode('http-500', 60_000);
    const { body } = await post(status(code, '9', 40));
    const dead = await waitFor(async () => {
      const list = await call(`${hub.url}/admin/dead-letters?messageId=${body.messageId}`, 'GET');
      return list.body.items[0];
    }, 10_000, 'a dead letter');
    expect(dead).toMatchObject({ destination: 'dvcqg.CapNhatTienDoHoSoMC', messageId: body.messageId, orderingKey: code, attempts: 4 });
    expect(dead.reason).toMatch(/4 attempts/);
    expect(dead.reason).toMatch(/HTTP 500/);
    expect(dead).not.toHaveProperty('payload');
    await waitFor(async () => (await call(`${hub.url}/admin/messages/${body.messageId}`, 'GET')).body.message.state === 'partially-delivered', 5_000, 'partially delivered (EMC got it)');
    const shown = await call(`${hub.url}/admin/dead-letters/${dead.id}`, 'GET');
    expect(shown.body.message).toMatchObject({ dossierCode: code, status: 'PROCESSED' });

    // Replay while the cause is not fixed: fails again, cleanly, and is dead again.
    expect((await call(`${hub.url}/admin/dead-letters/replay`, 'POST', { ids: [dead.id] })).body).toMatchObject({ replayed: 1 });
    await waitFor(async () => (await call(`${hub.url}/admin/dead-letters/${dead.id}`, 'GET')).status === 200, 10_000, 'dead again');

    // A bulk replay must say what it selects: nothing, an empty filter, paging alone, or two selections at once are refused.
    for (const selection of [{}, { filter: {} }, { filter: { limit: '5' } }, { filter: { destination: '' } }, { ids: [dead.id], all: true }]) {
      const refused = await call(`${hub.url}/admin/dead-letters/replay`, 'POST', selection);
      expect(refused.status, JSON.stringify(selection)).toBe(400);
    }
    expect((await call(`${hub.url}/admin/dead-letters/${dead.id}`, 'GET')).status).toBe(200); // still dead: nothing was replayed

    dvcqg.setMode('normal');
    expect((await call(`${hub.url}/admin/dead-letters/replay`, 'POST', { filter: { orderingKey: code } })).body).toMatchObject({ replayed: 1 });
    await waitFor(() => okCalls(dvcqg, code).length === 1, 10_000, 'delivered after replay');
    await waitFor(async () => (await call(`${hub.url}/admin/messages/${body.messageId}`, 'GET')).body.message.state === 'delivered', 5_000, 'delivered state');
    const history = (await call(`${hub.url}/admin/messages/${body.messageId}`, 'GET')).body;
    expect(history.events.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['dead-lettered', 'replayed', 'delivered']));
    // Who replayed is recorded: here a loopback caller that claimed no name.
    expect(history.events.filter((e: { kind: string }) => e.kind === 'replayed').map((e: { actor?: string }) => e.actor)).toEqual(['loopback', 'loopback']);
  });

  it('discards a dead letter with a reason', async () => {
    const code = dossier();
    dvcqg.setMode('http-500', 60_000);
    const { body } = await post(status(code, '3', 50));
    const dead = await waitFor(async () => (await call(`${hub.url}/admin/dead-letters?messageId=${body.messageId}`, 'GET')).body.items[0], 10_000, 'a dead letter');
    dvcqg.setMode('normal');
    const res = await call(`${hub.url}/admin/dead-letters/${dead.id}/discard`, 'POST', { reason: 'hồ sơ nhập nhầm (kiểm thử)' }, { 'x-admin-actor': 'van.thu@may-kiem-thu' });
    expect(res.status).toBe(200);
    expect((await call(`${hub.url}/admin/dead-letters/${dead.id}`, 'GET')).status).toBe(404);
    const history = (await call(`${hub.url}/admin/messages/${body.messageId}`, 'GET')).body;
    expect(history.events.find((e: { kind: string }) => e.kind === 'discarded')).toMatchObject({ reason: 'hồ sơ nhập nhầm (kiểm thử)', actor: 'loopback (x-admin-actor: van.thu@may-kiem-thu)' });
  });

  it('rejects bad events with a structured 400 and records them as rejected', async () => {
    const res0 = await post({ maHoSo: 'not-a-code', trangThai: '4', thoiDiem: '04/03/2025 09:15' });
    expect(res0.status).toBe(400);
    expect(res0.body.type).toBe('client.schema-violation');
    const found = await waitFor(async () => {
      const res = await call(`${hub.url}/admin/messages/${res0.body.messageId}`, 'GET');
      return res.status === 200 && res.body;
    }, 5_000, 'rejected record');
    expect(found.message).toMatchObject({ state: 'rejected' });
    expect(found.message.reason).toContain('client.schema-violation');
  });

  it('exposes Prometheus metrics for messages, attempts and queue depth', async () => {
    const res = await request(`${hub.url}/metrics`);
    const text = await res.body.text();
    expect(text).toMatch(/lienthong_messages_total\{connector="onegate-h56",operation="dossier-status",outcome="accepted"\} \d+/);
    expect(text).toMatch(/^lienthong_process_cpu_seconds_total \d/m); // default metrics: lienthong_ once, not lienthong_process_process_
    expect(text).toMatch(/lienthong_delivery_attempts_total\{destination="dvcqg.CapNhatTienDoHoSoMC",outcome="retry"\} \d+/);
    expect(text).toMatch(/lienthong_delivery_duration_seconds_bucket/);
    expect(text).toMatch(/lienthong_queue_depth\{state="ready"\} \d+/);
    expect(text).toMatch(/lienthong_dead_letters \d+/);
  });
});

describe('a mapping that fails for one destination', () => {
  it('dead-letters that delivery only, with the reason; the other destination proceeds', async () => {
    // A site whose EMC accepts procedure names of at most 20 characters: a longer one cannot be delivered there.
    const root = mkdtempSync(join(tmpdir(), 'lienthong-cfg-'));
    for (const part of ['config', 'connectors', 'schemas', 'mappings']) cpSync(join(REPO, part), join(root, part), { recursive: true });
    const schemaFile = join(root, 'schemas/emc/TrackingMCDT.request.json');
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
    schema.properties.NameTTHC.maxLength = 20;
    writeFileSync(schemaFile, JSON.stringify(schema));
    const dvcqg = await startDvcqgSim({ port: 0 });
    const emc = await startEmcSim({ port: 0 });
    const env = hubEnv({ DVCQG_URL: dvcqg.url, EMC_URL: emc.url, LIENTHONG_DATA_DIR: tempDataDir(), ...FAST_RETRIES });
    const { registry, issues } = loadRegistry(root, { env });
    expect(registry, JSON.stringify(issues)).toBeDefined();
    const hub = await startHub({ registry: registry!, log: createLogger({ destination: new LogCapture() }), host: '127.0.0.1', port: 0, env });
    try {
      const code = dossier();
      const res = await call(`${hub.url}/v1/in/onegate-h56/dossier-status`, 'POST', { ...status(code, '5', 5), tenThuTuc: 'Đăng ký biến động quyền sử dụng đất (mẫu)' });
      expect(res.status).toBe(202);
      await waitFor(() => okCalls(dvcqg, code).length === 1, 10_000, 'DVCQG delivery');
      const dead = await waitFor(async () => (await call(`${hub.url}/admin/dead-letters?destination=emc.TrackingMCDT`, 'GET')).body.items[0], 10_000, 'EMC dead letter');
      expect(dead.attempts).toBe(1);
      expect(dead.reason).toMatch(/permanent/i);
      expect(dead.reason).toMatch(/NameTTHC/);
      expect(emc.received().filter((r) => r.maHoSo === code)).toEqual([]);
    } finally {
      await hub.close();
      await Promise.all([dvcqg.close(), emc.close()]);
    }
  });
});

describe('dossier snapshots to DVCQG (DongBoHoSoMC)', () => {
  let dvcqg: DvcqgSim;
  let emc: EmcSim;
  let hub: RunningHub;
  beforeAll(async () => {
    dvcqg = await startDvcqgSim({ port: 0 });
    emc = await startEmcSim({ port: 0 });
    hub = await startTestHub({ DVCQG_URL: dvcqg.url, EMC_URL: emc.url, ...FAST_RETRIES });
  });
  afterAll(async () => {
    await hub?.close();
    await Promise.all([dvcqg?.close(), emc?.close()]);
  });
  const snapshot = (maHoSo: string, trangThai: string, henTra: string) => ({
    maHoSo, maThuTuc: '1.001234.000.00.00.H56', tenThuTuc: 'Đăng ký biến động đất đai (mẫu)', kenh: '2', trangThai,
    chuHoSo: { loai: '1', soDinhDanh: '038095999901', hoTen: 'Trần Văn Thử' }, ngayTiepNhan: '04/03/2025 08:02', ngayHenTra: henTra,
    taiLieu: [{ id: '11', ten: 'don.pdf', duongDan: 'https://files.example.invalid/don.pdf', soHoa: true }],
    lePhi: [{ loai: '2', ma: '1', ten: 'Lệ phí (mẫu)', soTien: 50000 }],
  });
  const upserts = (code: string) => dvcqg.received().filter((r) => r.service === 'DongBoHoSoMC' && r.maHoSo === code);

  it('inserts first, and turns the portal\'s "đã tồn tại" into an update of the same snapshot', async () => {
    const code = dossier();
    expect((await call(`${hub.url}/v1/in/onegate-h56/dossier-sync`, 'POST', snapshot(code, '2', '18/03/2025 17:00'))).status).toBe(202);
    await waitFor(() => upserts(code).filter((r) => r.outcome === 'ok').length === 1, 10_000, 'insert');
    expect((await call(`${hub.url}/v1/in/onegate-h56/dossier-sync`, 'POST', snapshot(code, '4', '20/03/2025 17:00'))).status).toBe(202);
    await waitFor(() => upserts(code).filter((r) => r.outcome === 'ok').length === 2, 10_000, 'update');
    // The second snapshot was refused as "already exists" (-3), then sent again with isUpdating "True".
    expect(upserts(code).map((r) => `${r.outcome}:${r.errorCode ?? '0'}`)).toEqual(['ok:0', 'error:-3', 'ok:0']);
    const stored = dvcqg.dossiers().get(code)!;
    expect(stored).toMatchObject({ TrangThaiHoSo: '4', NgayHenTra: '20250320170000', DaDongBo: true, MaTTHC: '1.001234', DinhDanhCHS: [{ LoaiDinhDanh: '1', SoDinhDanh: '038095999901' }] });
  });

  it('takes an enterprise owner\'s tax code, a phone written in groups, a short agency code and seconds', async () => {
    const code = dossier();
    const body = {
      ...snapshot(code, '2', '18/03/2025 17:00:00'), ngayTiepNhan: '04/03/2025 08:02:11',
      chuHoSo: { loai: '2', soDinhDanh: '0109999901-001', hoTen: 'Công ty TNHH Mẫu Thử', soDienThoai: '0912 999 901' },
      donViXuLy: { ma: 'H56.14', ten: 'UBND huyện Mẫu' },
    };
    const res = await call(`${hub.url}/v1/in/onegate-h56/dossier-sync`, 'POST', body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await waitFor(() => upserts(code).some((r) => r.outcome === 'ok'), 10_000, 'insert');
    const stored = dvcqg.dossiers().get(code)!;
    expect(stored).toMatchObject({ LoaiDoiTuong: '2', SoGiayToChuHoSo: '0109999901-001', SoDienThoai: '0912999901', NgayTiepNhan: '20250304080211', NgayHenTra: '20250318170000', DonViXuLy: 'UBND huyện Mẫu' });
    expect(stored).not.toHaveProperty('DinhDanhCHS');
    // A citizen still needs a CCCD/CMND: a tax code there is the caller's error, named.
    const bad = await call(`${hub.url}/v1/in/onegate-h56/dossier-sync`, 'POST', { ...body, maHoSo: dossier(), chuHoSo: { loai: '1', soDinhDanh: '0109999901', hoTen: 'Trần Văn Thử' } });
    expect(bad.status).toBe(400);
    expect(bad.body.detail.map((d: { field: string }) => d.field)).toContain('chuHoSo.soDinhDanh');
  });

  it('rides out a portal that drops connections for a while, and a session the portal forgot', async () => {
    const code = dossier();
    dvcqg.setMode('down', 800);
    expect((await call(`${hub.url}/v1/in/onegate-h56/dossier-sync`, 'POST', snapshot(code, '1', '18/03/2025 17:00'))).status).toBe(202);
    await waitFor(() => upserts(code).some((r) => r.outcome === 'ok'), 15_000, 'delivered once the portal is back');
    expect(upserts(code).some((r) => r.outcome === 'rejected' && r.errorCode === 'down')).toBe(true);
    dvcqg.expireSessions();
    const logins = dvcqg.logins().length;
    expect((await call(`${hub.url}/v1/in/onegate-h56/dossier-sync`, 'POST', snapshot(code, '2', '18/03/2025 17:00'))).status).toBe(202);
    await waitFor(() => upserts(code).filter((r) => r.outcome === 'ok').length === 2, 10_000, 'delivered after logging in again');
    expect(dvcqg.logins().length).toBeGreaterThan(logins);
  });
});
