import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { simulators, startDvcqgSim, type DvcqgSim } from '../../src/sim/index.js';
import { DVCQG_AGENCIES, DVCQG_DSTCODES } from '../../src/sim/dvcqg/server.js';
import { waitFor } from '../support/wait.js';

/** Fictitious dossiers and people only. */
const MA = '000.00.14.H56-250304-0007';
const MA2 = '000.00.14.H56-250304-0008';
const MADONVI = '000.00.00.H56';
const DSTCODE = 'VN:GOV:000.00.00.G22:vpcpdvcprovider';
const NAME = 'Trần Văn Thử';

const hoSo = (o: Record<string, unknown> = {}) => ({
  MaHoSo: MA,
  MaTTHC: '1.001234',
  TenTTHC: 'Đăng ký khai sinh',
  MaLinhVuc: 'G09-HT',
  TenLinhVuc: 'Hộ tịch',
  KenhThucHien: '2',
  ChuHoSo: NAME,
  SoGiayToChuHoSo: '038095999901',
  LoaiDoiTuong: '1',
  NgayTiepNhan: '20250304083000',
  NgayHenTra: '20250311170000',
  TrangThaiHoSo: '2',
  DonViXuLy: 'UBND xã Thử Lộc',
  TaiLieuNop: [
    {
      TepDinhKemId: '1', TenTepDinhKem: 'to-khai.pdf', IsDeleted: 'False', MaThanhPhanHoSo: '000.00.00.G09-TP001',
      DuongDanTaiTepTin: 'https://example.invalid/f/1', DuocSoHoa: 'False', DuocTaiSuDung: 'False', DuocLayTuKhoDMQG: 'False', MaKetQuaThayThe: '',
    },
  ],
  ...o,
});

const step = (o: Record<string, unknown> = {}) => ({
  MaHoSo: MA,
  NguoiXuLy: NAME,
  ChucDanh: 'Công chức tư pháp - hộ tịch',
  ThoiDiemXuLy: '20250304090000',
  PhongBanXuLy: 'Bộ phận một cửa',
  NoiDungXuLy: 'Tiếp nhận hồ sơ',
  TrangThai: '2',
  NgayBatDau: '20250304083000',
  NgayKetThucTheoQuyDinh: '20250311170000',
  ...o,
});

type Res = { status: number; headers: Headers; text: string; json: any };

async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Res> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
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

let sim: DvcqgSim;

async function login(s: DvcqgSim = sim): Promise<string> {
  const res = await post(s.url, '/dvcqg/auth', { username: 'lienthong', password: 'demo' });
  expect(res.status).toBe(200);
  expect(res.json.error_code).toBe(0);
  return res.json.session as string;
}

function svc(
  session: string,
  service: string,
  data: unknown,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  s: DvcqgSim = sim,
  signal?: AbortSignal,
) {
  return post(s.url, '/dvcqg/service', { session, madonvi: MADONVI, service, data, ...extra }, { dstcode: DSTCODE, ...headers }, signal);
}

beforeAll(async () => {
  sim = await startDvcqgSim({ port: 0, slowMs: 300 });
});
afterAll(async () => {
  await sim.close();
});
afterEach(() => sim.reset());
// Session lifetimes and `forMs` windows are read from Date.now() in this process; tests that cross one
// move a fake Date forward instead of sleeping, so a loaded machine cannot stretch a window shut.
const fakeDate = () => vi.useFakeTimers({ toFake: ['Date'] });
afterEach(() => {
  vi.useRealTimers();
});

describe('dvcqg simulator: login and session', () => {
  it('logs in with {username,password} and answers {session, error_code: 0}', async () => {
    const res = await post(sim.url, '/dvcqg/auth', { username: 'lienthong', password: 'demo' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['error_code', 'session']);
    expect(res.json.error_code).toBe(0);
    expect(res.json.session).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(sim.logins().map((l) => l.outcome)).toEqual(['ok']);
  });

  it('answers a wrong login with HTTP 200 and error_code 100 AUTHEN_ERROR', async () => {
    for (const body of [{ username: 'lienthong', password: 'sai' }, { username: 'khac', password: 'demo' }, {}, { username: 1, password: 2 }]) {
      const res = await post(sim.url, '/dvcqg/auth', body);
      expect(res.status).toBe(200);
      expect(res.json.error_code).toBe(100);
      expect(res.json.message).toMatch(/^AUTHEN_ERROR/);
      expect(res.json.session).toBeUndefined();
    }
    expect(sim.logins().every((l) => l.outcome === 'rejected')).toBe(true);
  });

  it('refuses service calls without a valid session with error_code "-1"', async () => {
    for (const session of [undefined, '', 'khong-phai-phien', 42]) {
      const res = await post(sim.url, '/dvcqg/service', { session, madonvi: MADONVI, service: 'TraCuuHoSo', mahoso: MA }, { dstcode: DSTCODE });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ error_code: '-1', message: 'Phiên làm việc không hợp lệ hoặc đã hết hạn' });
    }
    expect(sim.received().map((r) => [r.outcome, r.errorCode])).toEqual(Array(4).fill(['rejected', '-1']));
  });

  it('expires sessions after sessionTtlMs; a fresh login works again', async () => {
    const short = await startDvcqgSim({ port: 0, sessionTtlMs: 150 });
    try {
      fakeDate();
      const session = await login(short);
      expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA }, {}, short)).json.error_code).toBe('0');
      vi.setSystemTime(Date.now() + 200);
      expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA }, {}, short)).json.error_code).toBe('-1');
      const renewed = await login(short);
      expect(renewed).not.toBe(session);
      expect((await svc(renewed, 'TraCuuHoSo', undefined, { mahoso: MA }, {}, short)).json.error_code).toBe('0');
    } finally {
      await short.close();
    }
  });

  it('expireSessions() and POST /__sim/expire-sessions force a new login', async () => {
    let session = await login();
    sim.expireSessions();
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).json.error_code).toBe('-1');
    session = await login();
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).json.error_code).toBe('0');
    await post(sim.url, '/__sim/expire-sessions', {});
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).json.error_code).toBe('-1');
  });

  it('honours custom credentials', async () => {
    const other = await startDvcqgSim({ port: 0, username: 'tinh-thu', password: 'mat-khau-thu' });
    try {
      expect((await post(other.url, '/dvcqg/auth', { username: 'lienthong', password: 'demo' })).json.error_code).toBe(100);
      expect((await post(other.url, '/dvcqg/auth', { username: 'tinh-thu', password: 'mat-khau-thu' })).json.error_code).toBe(0);
    } finally {
      await other.close();
    }
  });
});

describe('dvcqg simulator: services', () => {
  it('TraCuuHoSo, then DongBoHoSoMC create, "đã tồn tại" as -3, retried as update', async () => {
    const session = await login();
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).json).toEqual({ error_code: '0', message: 'Thành công', result: [] });

    const created = await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' });
    expect(created.status).toBe(200);
    expect(created.json.error_code).toBe('0');
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).json.result).toEqual([
      { MaHoSo: MA, MaTTHC: '1.001234', TrangThaiHoSo: '2', NgayTiepNhan: '20250304083000' },
    ]);

    const again = await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' });
    expect(again.json.error_code).toBe('-3');
    expect(again.json.message).toMatch(/đã tồn tại/);

    const updated = await svc(session, 'DongBoHoSoMC', [hoSo({ TrangThaiHoSo: '4', TrichYeuHoSo: 'Khai sinh cho con' })], { isUpdating: 'True' });
    expect(updated.json.error_code).toBe('0');

    const stored = sim.dossiers().get(MA)!;
    expect(stored).toMatchObject({ MaHoSo: MA, TrangThaiHoSo: '4', TrichYeuHoSo: 'Khai sinh cho con', ChuHoSo: NAME, DaDongBo: true });
    expect((stored.LichSuTrangThai as Array<{ TrangThaiHoSo: string }>).map((e) => e.TrangThaiHoSo)).toEqual(['2', '4']);
    expect(sim.received()[0]).toMatchObject({ service: 'TraCuuHoSo', maHoSo: MA });
    expect(sim.received().map((r) => [r.service, r.outcome, r.errorCode])).toEqual([
      ['TraCuuHoSo', 'ok', undefined],
      ['DongBoHoSoMC', 'ok', undefined],
      ['TraCuuHoSo', 'ok', undefined],
      ['DongBoHoSoMC', 'error', '-3'],
      ['DongBoHoSoMC', 'ok', undefined],
    ]);
  });

  it('answers isUpdating "True" on an unknown MaHoSo with 201 RECORD_NOT_FOUND and stores nothing', async () => {
    const session = await login();
    const res = await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'True' });
    expect(res.json.error_code).toBe('201');
    expect(res.json.message).toMatch(/^RECORD_NOT_FOUND/);
    expect(sim.dossiers().size).toBe(0);
  });

  it('treats a batch as all-or-nothing', async () => {
    const session = await login();
    await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' });
    const res = await svc(session, 'DongBoHoSoMC', [hoSo({ MaHoSo: MA2 }), hoSo()], { isUpdating: 'False' });
    expect(res.json.error_code).toBe('-3');
    expect(res.json.message).toContain(MA);
    expect(sim.dossiers().has(MA2)).toBe(false);
    const both = await svc(session, 'DongBoHoSoMC', [hoSo({ MaHoSo: MA2 }), hoSo({ MaHoSo: '000.00.14.H56-250304-0009' })], { isUpdating: 'False' });
    expect(both.json.error_code).toBe('0');
    expect(sim.received().at(-1)).toMatchObject({ maHoSo: MA2, items: 2, outcome: 'ok' });
    expect(sim.dossiers().size).toBe(3);
  });

  it('records status and progress per MaHoSo in arrival order', async () => {
    const session = await login();
    await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' });
    await svc(session, 'DongBoTrangThaiHoSo', [{ MaHoSo: MA, TrangThaiHoSo: '4', NgayXuLy: '20250305100000' }], { type: '2' });
    await svc(session, 'CapNhatTienDoHoSoMC', [
      step({ NoiDungXuLy: 'Tiếp nhận hồ sơ', ThoiDiemXuLy: '20250304090000' }),
      step({ NoiDungXuLy: 'Thẩm định', ThoiDiemXuLy: '20250305100000', TrangThai: '4' }),
    ]);
    await svc(session, 'DongBoTrangThaiHoSo', [{ MaHoSo: MA, TrangThaiHoSo: '9' }], { type: '2' });
    await svc(session, 'CapNhatTienDoHoSoMC', [step({ NoiDungXuLy: 'Trả kết quả', ThoiDiemXuLy: '20250306150000', TrangThai: '10' })]);
    await svc(session, 'DongBoTrangThaiHoSo', [{ MaHoSo: MA, TrangThaiHoSo: '10' }], { type: '2' });

    const stored = sim.dossiers().get(MA)!;
    expect(stored.TrangThaiHoSo).toBe('10');
    const history = stored.LichSuTrangThai as Array<Record<string, string>>;
    expect(history.map((e) => [e.service, e.TrangThaiHoSo])).toEqual([
      ['DongBoHoSoMC', '2'],
      ['DongBoTrangThaiHoSo', '4'],
      ['DongBoTrangThaiHoSo', '9'],
      ['DongBoTrangThaiHoSo', '10'],
    ]);
    expect(history[1]!.NgayXuLy).toBe('20250305100000');
    expect((stored.TienDo as Array<Record<string, string>>).map((e) => e.NoiDungXuLy)).toEqual(['Tiếp nhận hồ sơ', 'Thẩm định', 'Trả kết quả']);
    expect(sim.received().map((r) => [r.service, r.trangThai])).toEqual([
      ['DongBoHoSoMC', '2'],
      ['DongBoTrangThaiHoSo', '4'],
      ['CapNhatTienDoHoSoMC', '2'],
      ['DongBoTrangThaiHoSo', '9'],
      ['CapNhatTienDoHoSoMC', '10'],
      ['DongBoTrangThaiHoSo', '10'],
    ]);
  });

  it('accepts status and progress for a MaHoSo it has no snapshot of, without claiming it exists', async () => {
    const session = await login();
    expect((await svc(session, 'CapNhatTienDoHoSoMC', [step({ MaHoSo: MA2 })])).json.error_code).toBe('0');
    expect((await svc(session, 'DongBoTrangThaiHoSo', [{ MaHoSo: MA2, TrangThaiHoSo: '2' }], { type: '2' })).json.error_code).toBe('0');
    expect(sim.dossiers().get(MA2)).toMatchObject({ MaHoSo: MA2, DaDongBo: false, TrangThaiHoSo: '2' });
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA2 })).json.result).toEqual([]);
    expect((await svc(session, 'DongBoHoSoMC', [hoSo({ MaHoSo: MA2, TrangThaiHoSo: '4' })], { isUpdating: 'False' })).json.error_code).toBe('0');
    const stored = sim.dossiers().get(MA2)!;
    expect(stored.DaDongBo).toBe(true);
    expect((stored.TienDo as unknown[]).length).toBe(1);
    expect((stored.LichSuTrangThai as Array<{ TrangThaiHoSo: string }>).map((e) => e.TrangThaiHoSo)).toEqual(['2', '4']);
  });

  it('answers an unknown service with 500 DATA_INCORRECT and a missing madonvi with 106', async () => {
    const session = await login();
    expect((await svc(session, 'LayThuTuc', {})).json).toEqual({ error_code: '500', message: 'DATA_INCORRECT: unknown service' });
    expect((await svc(session, undefined as unknown as string, {})).json.error_code).toBe('500');
    const noAgency = await post(sim.url, '/dvcqg/service', { session, service: 'TraCuuHoSo', mahoso: MA }, { dstcode: DSTCODE });
    expect(noAgency.json.error_code).toBe('106');
    expect(noAgency.json.message).toMatch(/^AGENCY_ID_INCORRECT/);
  });

  it('records service, ids, madonvi and dstcode, never names', async () => {
    const session = await login();
    await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' }, { 'idempotency-key': 'k-ids-1' });
    await svc(session, 'CapNhatTienDoHoSoMC', [step()]);
    const calls = sim.received();
    expect(calls[0]).toMatchObject({ service: 'DongBoHoSoMC', maHoSo: MA, trangThai: '2', items: 1, madonvi: MADONVI, dstcode: DSTCODE, idempotencyKey: 'k-ids-1', outcome: 'ok' });
    expect(Number.isNaN(Date.parse(calls[0]!.at))).toBe(false);
    const over = await (await fetch(`${sim.url}/__sim/received`)).json();
    expect(over).toEqual(calls);
    for (const text of [JSON.stringify(calls), JSON.stringify(sim.logins())]) {
      expect(text).not.toContain(NAME);
      expect(text).not.toContain('038095999901');
      expect(text).not.toContain(session);
    }
  });
});

describe('dvcqg simulator: validation names the field (302 DATA_TYPE_INVALID)', () => {
  const cases: Array<[string, string, unknown, Record<string, unknown>, string]> = [
    ['missing MaTTHC', 'DongBoHoSoMC', [hoSo({ MaTTHC: undefined })], { isUpdating: 'False' }, 'data[0].MaTTHC'],
    ['missing MaHoSo', 'DongBoHoSoMC', [hoSo({ MaHoSo: '' })], { isUpdating: 'False' }, 'data[0].MaHoSo'],
    ['status out of range', 'DongBoHoSoMC', [hoSo({ TrangThaiHoSo: '11' })], { isUpdating: 'False' }, 'data[0].TrangThaiHoSo'],
    ['status as number', 'DongBoHoSoMC', [hoSo({ TrangThaiHoSo: 2 })], { isUpdating: 'False' }, 'data[0].TrangThaiHoSo'],
    ['ISO date', 'DongBoHoSoMC', [hoSo({ NgayTiepNhan: '2025-03-04T08:30:00' })], { isUpdating: 'False' }, 'data[0].NgayTiepNhan'],
    ['hour 24', 'DongBoHoSoMC', [hoSo({ NgayTiepNhan: '20250304243000' })], { isUpdating: 'False' }, 'data[0].NgayTiepNhan'],
    ['30 February', 'DongBoHoSoMC', [hoSo({ NgayHenTra: '20250230170000' })], { isUpdating: 'False' }, 'data[0].NgayHenTra'],
    ['number value', 'DongBoHoSoMC', [hoSo({ SoDienThoai: 912345678 })], { isUpdating: 'False' }, 'data[0].SoDienThoai'],
    ['null value', 'DongBoHoSoMC', [hoSo({ Email: null })], { isUpdating: 'False' }, 'data[0].Email'],
    ['boolean in a list', 'DongBoHoSoMC', [hoSo({ TaiLieuNop: [{ TepDinhKemId: '1', DuocSoHoa: true }] })], { isUpdating: 'False' }, 'data[0].TaiLieuNop[0].DuocSoHoa'],
    ['isUpdating as boolean', 'DongBoHoSoMC', [hoSo()], { isUpdating: true }, 'isUpdating'],
    ['data not a list', 'DongBoHoSoMC', hoSo(), { isUpdating: 'False' }, 'data'],
    ['empty list', 'DongBoHoSoMC', [], { isUpdating: 'False' }, 'data'],
    ['list of strings', 'DongBoHoSoMC', [MA], { isUpdating: 'False' }, 'data[0]'],
    ['second item bad', 'DongBoHoSoMC', [hoSo({ MaHoSo: MA2 }), hoSo({ TrangThaiHoSo: '0' })], { isUpdating: 'False' }, 'data[1].TrangThaiHoSo'],
    ['status sync without type', 'DongBoTrangThaiHoSo', [{ MaHoSo: MA, TrangThaiHoSo: '4' }], {}, 'type'],
    ['status sync bad status', 'DongBoTrangThaiHoSo', [{ MaHoSo: MA, TrangThaiHoSo: 'Đang xử lý' }], { type: '2' }, 'data[0].TrangThaiHoSo'],
    ['status sync bad NgayXuLy', 'DongBoTrangThaiHoSo', [{ MaHoSo: MA, TrangThaiHoSo: '4', NgayXuLy: '05/03/2025' }], { type: '2' }, 'data[0].NgayXuLy'],
    ['progress missing NguoiXuLy', 'CapNhatTienDoHoSoMC', [step({ NguoiXuLy: undefined })], {}, 'data[0].NguoiXuLy'],
    ['progress 12-digit time', 'CapNhatTienDoHoSoMC', [step({ ThoiDiemXuLy: '202503040900' })], {}, 'data[0].ThoiDiemXuLy'],
    ['progress numeric TrangThai', 'CapNhatTienDoHoSoMC', [step({ TrangThai: 4 })], {}, 'data[0].TrangThai'],
    ['progress TrangThai 99', 'CapNhatTienDoHoSoMC', [step({ TrangThai: '99' })], {}, 'data[0].TrangThai'],
    ['progress TrangThai 0', 'CapNhatTienDoHoSoMC', [step({ TrangThai: '0' })], {}, 'data[0].TrangThai'],
    ['progress TrangThai as a label', 'CapNhatTienDoHoSoMC', [step({ TrangThai: 'Đang xử lý' })], {}, 'data[0].TrangThai'],
    ['lookup without mahoso', 'TraCuuHoSo', undefined, {}, 'mahoso'],
    ['lookup with mahoso as a list', 'TraCuuHoSo', undefined, { mahoso: [MA] }, 'mahoso'],
    ['lookup with an empty mahoso', 'TraCuuHoSo', undefined, { mahoso: '' }, 'mahoso'],
    ['lookup in a data object instead of top-level mahoso', 'TraCuuHoSo', { MaHoSo: MA }, {}, 'mahoso'],
    ['MaTTHC local code with agency suffix', 'DongBoHoSoMC', [hoSo({ MaTTHC: '1.001234.000.00.00.H56' })], { isUpdating: 'False' }, 'data[0].MaTTHC'],
    ['MaTTHC five digits', 'DongBoHoSoMC', [hoSo({ MaTTHC: '1.00123' })], { isUpdating: 'False' }, 'data[0].MaTTHC'],
    ['MaTTHC without the dot', 'DongBoHoSoMC', [hoSo({ MaTTHC: '1001234' })], { isUpdating: 'False' }, 'data[0].MaTTHC'],
    ['MaTTHC with spaces', 'DongBoHoSoMC', [hoSo({ MaTTHC: ' 1.001234' })], { isUpdating: 'False' }, 'data[0].MaTTHC'],
    ['MaTTHC as a number', 'DongBoHoSoMC', [hoSo({ MaTTHC: 1.001234 })], { isUpdating: 'False' }, 'data[0].MaTTHC'],
    ['KenhThucHien 4', 'DongBoHoSoMC', [hoSo({ KenhThucHien: '4' })], { isUpdating: 'False' }, 'data[0].KenhThucHien'],
    ['KenhThucHien 0', 'DongBoHoSoMC', [hoSo({ KenhThucHien: '0' })], { isUpdating: 'False' }, 'data[0].KenhThucHien'],
    ['KenhThucHien empty', 'DongBoHoSoMC', [hoSo({ KenhThucHien: '' })], { isUpdating: 'False' }, 'data[0].KenhThucHien'],
    ['KenhThucHien as a word', 'DongBoHoSoMC', [hoSo({ KenhThucHien: 'TrucTuyen' })], { isUpdating: 'False' }, 'data[0].KenhThucHien'],
    ['KenhThucHien as a number', 'DongBoHoSoMC', [hoSo({ KenhThucHien: 2 })], { isUpdating: 'False' }, 'data[0].KenhThucHien'],
    ['LoaiDoiTuong 5', 'DongBoHoSoMC', [hoSo({ LoaiDoiTuong: '5' })], { isUpdating: 'False' }, 'data[0].LoaiDoiTuong'],
    ['LoaiDoiTuong with a leading zero', 'DongBoHoSoMC', [hoSo({ LoaiDoiTuong: '01' })], { isUpdating: 'False' }, 'data[0].LoaiDoiTuong'],
    ['LoaiDoiTuong as a number', 'DongBoHoSoMC', [hoSo({ LoaiDoiTuong: 1 })], { isUpdating: 'False' }, 'data[0].LoaiDoiTuong'],
    ['LoaiDinhDanh 3', 'DongBoHoSoMC', [hoSo({ DinhDanhCHS: [{ LoaiDinhDanh: '3', SoDinhDanh: '038095999901' }] })], { isUpdating: 'False' }, 'data[0].DinhDanhCHS[0].LoaiDinhDanh'],
    ['LoaiPhiLePhi 0 in the second fee', 'DongBoHoSoMC', [hoSo({ DanhSachLePhi: [{ TenPhiLePhi: 'Lệ phí (mẫu)', Gia: '50000', LoaiPhiLePhi: '2' }, { TenPhiLePhi: 'Phí (mẫu)', Gia: '10000', LoaiPhiLePhi: '0' }] })], { isUpdating: 'False' }, 'data[0].DanhSachLePhi[1].LoaiPhiLePhi'],
  ];

  it.each(cases)('%s', async (_label, service, data, extra, field) => {
    const session = await login();
    const res = await svc(session, service, data, extra);
    expect(res.status).toBe(200);
    expect(res.json.error_code).toBe('302');
    expect(res.json.message).toMatch(/^DATA_TYPE_INVALID: /);
    expect(res.json.message.slice('DATA_TYPE_INVALID: '.length).split(' ')[0]).toBe(field);
    expect(sim.dossiers().size).toBe(0);
    expect(sim.received().at(-1)).toMatchObject({ service, outcome: 'error', errorCode: '302' });
  });

  it('accepts every documented KenhThucHien, LoaiDoiTuong, LoaiDinhDanh and LoaiPhiLePhi, and their absence', async () => {
    const session = await login();
    const items = [
      ...['1', '2', '3'].map((KenhThucHien, i) => hoSo({ MaHoSo: `000.00.14.H56-250304-010${i}`, KenhThucHien })),
      ...['1', '2', '3', '4'].map((LoaiDoiTuong, i) => hoSo({ MaHoSo: `000.00.14.H56-250304-020${i}`, LoaiDoiTuong, MaTTHC: `${i % 3 + 1}.00249${i}` })),
      hoSo({
        MaHoSo: '000.00.14.H56-250304-0300',
        DinhDanhCHS: [{ LoaiDinhDanh: '1', SoDinhDanh: '038095999901' }, { LoaiDinhDanh: '2', SoDinhDanh: '038999901' }],
        DanhSachLePhi: [{ TenPhiLePhi: 'Phí (mẫu)', Gia: '10000', LoaiPhiLePhi: '1' }, { TenPhiLePhi: 'Lệ phí (mẫu)', Gia: '50000', LoaiPhiLePhi: '2' }],
      }),
      hoSo({ MaHoSo: '000.00.14.H56-250304-0301', KenhThucHien: undefined, LoaiDoiTuong: undefined }),
    ];
    const res = await svc(session, 'DongBoHoSoMC', items, { isUpdating: 'False' });
    expect(res.json).toEqual({ error_code: '0', message: 'Thành công' });
    expect(sim.dossiers().size).toBe(items.length);
  });

  it('accepts empty optional dates and an absent isUpdating (create)', async () => {
    const session = await login();
    expect((await svc(session, 'DongBoHoSoMC', [hoSo({ NgayTra: '', NgayKetThucXuLy: '' })])).json.error_code).toBe('0');
    expect((await svc(session, 'DongBoHoSoMC', [hoSo()])).json.error_code).toBe('-3');
  });
});

describe('dvcqg simulator: dstcode and madonvi (106 AGENCY_ID_INCORRECT)', () => {
  const agencyError = (res: Res, pattern: RegExp) => {
    expect(res.status).toBe(200);
    expect(res.json.error_code).toBe('106');
    expect(res.json.message).toMatch(/^AGENCY_ID_INCORRECT: /);
    expect(res.json.message).toMatch(pattern);
  };

  it('defaults to the codes of the shipped configuration', () => {
    expect(DVCQG_AGENCIES).toEqual([MADONVI]);
    expect(DVCQG_DSTCODES).toEqual([DSTCODE]);
  });

  it('refuses a service call without dstcode, or with another one, before looking at the session', async () => {
    const session = await login();
    const body = { session, madonvi: MADONVI, service: 'DongBoHoSoMC', isUpdating: 'False', data: [hoSo()] };
    // The refusal is not remembered for the idempotency-key: the same request with the right dstcode is processed.
    agencyError(await post(sim.url, '/dvcqg/service', body, { 'idempotency-key': 'k-dst' }), /dstcode missing/);
    expect((await post(sim.url, '/dvcqg/service', body, { 'idempotency-key': 'k-dst', dstcode: DSTCODE })).json.error_code).toBe('0');
    expect(sim.received().map((r) => [r.outcome, r.errorCode])).toEqual([['error', '106'], ['ok', undefined]]);
    sim.reset();

    agencyError(await post(sim.url, '/dvcqg/service', body), /dstcode missing/);
    agencyError(await post(sim.url, '/dvcqg/service', body, { dstcode: '' }), /dstcode missing/);
    agencyError(await post(sim.url, '/dvcqg/service', body, { dstcode: 'VN:GOV:000.00.00.G12:vpcpdvcprovider' }), /unknown dstcode/);
    agencyError(await post(sim.url, '/dvcqg/service', body, { dstcode: DSTCODE.toLowerCase() }), /unknown dstcode/);
    agencyError(await post(sim.url, '/dvcqg/service', { ...body, session: 'khong-phai-phien' }), /dstcode missing/);
    expect(sim.dossiers().size).toBe(0);
    expect(sim.received().map((r) => [r.service, r.outcome, r.errorCode, r.dstcode])).toEqual([
      ['DongBoHoSoMC', 'error', '106', undefined],
      ['DongBoHoSoMC', 'error', '106', undefined],
      ['DongBoHoSoMC', 'error', '106', 'VN:GOV:000.00.00.G12:vpcpdvcprovider'],
      ['DongBoHoSoMC', 'error', '106', DSTCODE.toLowerCase()],
      ['DongBoHoSoMC', 'error', '106', undefined],
    ]);
  });

  it('takes dstcode as a query parameter too, as the X-Road adapter does; the login needs none', async () => {
    const session = await login();
    const res = await post(sim.url, `/dvcqg/service?dstcode=${encodeURIComponent(DSTCODE)}`, { session, madonvi: MADONVI, service: 'TraCuuHoSo', mahoso: MA });
    expect(res.json.error_code).toBe('0');
    expect(sim.received().at(-1)).toMatchObject({ dstcode: DSTCODE, outcome: 'ok' });
  });

  it('refuses a madonvi the portal does not know', async () => {
    const session = await login();
    for (const madonvi of ['000.00.00.H41', '000.00.14.H56', 'H56', ' 000.00.00.H56', '000.00.00.h56']) {
      const res = await post(sim.url, '/dvcqg/service', { session, madonvi, service: 'DongBoHoSoMC', isUpdating: 'False', data: [hoSo()] }, { dstcode: DSTCODE });
      agencyError(res, /unknown madonvi/);
    }
    agencyError(await post(sim.url, '/dvcqg/service', { session, madonvi: 42, service: 'TraCuuHoSo', mahoso: MA }, { dstcode: DSTCODE }), /madonvi missing/);
    expect(sim.dossiers().size).toBe(0);
    expect(sim.received().map((r) => r.madonvi)).toEqual(['000.00.00.H41', '000.00.14.H56', 'H56', ' 000.00.00.H56', '000.00.00.h56', undefined]);
    expect(sim.received().every((r) => r.outcome === 'error' && r.errorCode === '106')).toBe(true);
    expect((await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' })).json.error_code).toBe('0');
  });

  it('checks the session before madonvi', async () => {
    const res = await post(sim.url, '/dvcqg/service', { session: 'khong-phai-phien', madonvi: '000.00.00.H41', service: 'TraCuuHoSo', mahoso: MA }, { dstcode: DSTCODE });
    expect(res.json.error_code).toBe('-1');
  });

  it('takes the known agencies and dstcodes as options', async () => {
    const other = await startDvcqgSim({ port: 0, agencies: ['000.00.00.H41', '000.00.00.H30'], dstcodes: ['VN:GOV:000.00.00.G22:dvcqg-thu'] });
    try {
      const session = await login(other);
      const send = (madonvi: string, dstcode: string) =>
        post(other.url, '/dvcqg/service', { session, madonvi, service: 'TraCuuHoSo', mahoso: MA }, { dstcode });
      expect((await send('000.00.00.H41', 'VN:GOV:000.00.00.G22:dvcqg-thu')).json.error_code).toBe('0');
      expect((await send('000.00.00.H30', 'VN:GOV:000.00.00.G22:dvcqg-thu')).json.error_code).toBe('0');
      agencyError(await send(MADONVI, 'VN:GOV:000.00.00.G22:dvcqg-thu'), /unknown madonvi/);
      agencyError(await send('000.00.00.H41', DSTCODE), /unknown dstcode/);
    } finally {
      await other.close();
    }
  });
});

describe('dvcqg simulator: modes', () => {
  it('down: drops the connection without an answer; control routes keep working', async () => {
    const session = await login();
    sim.setMode('down');
    await expect(svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).rejects.toThrow();
    await expect(post(sim.url, '/dvcqg/auth', { username: 'lienthong', password: 'demo' })).rejects.toThrow();
    expect(((await (await fetch(`${sim.url}/health`)).json()) as any).mode).toBe('down');
    const back = await post(sim.url, '/__sim/mode', { mode: 'normal' });
    expect(back.json).toEqual({ mode: 'normal' });
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).json.error_code).toBe('0');
    expect(sim.received().map((r) => [r.outcome, r.errorCode])).toEqual([['rejected', 'down'], ['ok', undefined]]);
  });

  it('http-500 for forMs, then normal by itself', async () => {
    const session = await login();
    fakeDate();
    const set = await post(sim.url, '/__sim/mode', { mode: 'http-500', forMs: 400 });
    expect(set.json.mode).toBe('http-500');
    expect(Date.parse(set.json.until)).toBe(Date.now() + 400);
    const failed = await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' });
    expect(failed.status).toBe(500);
    expect(failed.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await post(sim.url, '/dvcqg/auth', { username: 'lienthong', password: 'demo' })).status).toBe(500);
    expect(sim.dossiers().size).toBe(0);
    vi.setSystemTime(Date.now() + 450);
    expect((await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' })).json.error_code).toBe('0');
    expect(sim.received().map((r) => r.errorCode)).toEqual(['http-500', undefined]);
  });

  it('http-429 sends Retry-After: 1', async () => {
    const session = await login();
    sim.setMode('http-429');
    const res = await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    sim.setMode('normal'); // by hand once seen: a forMs window could close before the first call on a loaded machine
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).status).toBe(200);
  });

  it('slow: answers after slowMs; a client that gives up still leaves the effect behind', async () => {
    const session = await login();
    sim.setMode('slow');
    expect(((await (await fetch(`${sim.url}/health`)).json()) as any).mode).toBe('slow');
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).json.error_code).toBe('0');
    // The caller's 100 ms timer runs out before the simulator's 300 ms sleep (timers fire in order), so it
    // gives up without an answer: the slowness, observed without timing anything.
    await expect(svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' }, {}, sim, AbortSignal.timeout(100))).rejects.toThrow();
    expect(sim.dossiers().size).toBe(0);
    await waitFor(() => sim.dossiers().has(MA), 10_000, 'the effect of the abandoned call');
  });

  it('slow: the 30 s default sleep is cut by close()', async () => {
    const other = await startDvcqgSim({ port: 0 });
    const session = await login(other);
    other.setMode('slow');
    const pending = svc(session, 'TraCuuHoSo', undefined, { mahoso: MA }, {}, other).then(
      (r) => r.status,
      () => 'failed',
    );
    await sleep(100);
    // Were the 30 s sleep not cut, close() would outlast the test's timeout.
    await other.close();
    expect(await pending).not.toBe(200);
  });

  it('session-expired: every service call gets "-1" until forMs has passed, even after a new login', async () => {
    const session = await login();
    fakeDate();
    sim.setMode('session-expired', 500);
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).json.error_code).toBe('-1');
    const renewed = await login();
    expect((await svc(renewed, 'TraCuuHoSo', undefined, { mahoso: MA })).json.error_code).toBe('-1');
    vi.setSystemTime(Date.now() + 550);
    // The sessions presented during the window are gone for good.
    expect((await svc(renewed, 'TraCuuHoSo', undefined, { mahoso: MA })).json.error_code).toBe('-1');
    expect((await svc(await login(), 'TraCuuHoSo', undefined, { mahoso: MA })).json.error_code).toBe('0');
  });

  it('refuses unknown modes and bad forMs', async () => {
    expect((await post(sim.url, '/__sim/mode', { mode: 'sideways' })).status).toBe(400);
    expect((await post(sim.url, '/__sim/mode', { mode: 'down', forMs: -5 })).status).toBe(400);
    expect((await post(sim.url, '/__sim/mode', { mode: 'down', forMs: '10' })).status).toBe(400);
    expect(() => sim.setMode('sideways' as 'down')).toThrow(/unknown simulator mode/);
    expect(() => sim.setMode('down', 0)).toThrow(/forMs/);
    expect(((await (await fetch(`${sim.url}/health`)).json()) as any).mode).toBe('normal');
  });
});

describe('dvcqg simulator: idempotency-key', () => {
  it('replays the first answer for the same key and body, so effects happen once', async () => {
    const session = await login();
    const headers = { 'idempotency-key': 'dvcqg-000.00.14.H56-250304-0007-v1' };
    const first = await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' }, headers);
    const second = await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' }, headers);
    expect(first.json.error_code).toBe('0');
    expect(second.json).toEqual(first.json);
    // After a re-login the body carries another session: still the same request.
    const third = await svc(await login(), 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' }, headers);
    expect(third.json).toEqual(first.json);
    expect(sim.received().map((r) => r.outcome)).toEqual(['ok', 'duplicate', 'duplicate']);
    expect(sim.received().filter((r) => r.outcome === 'ok')).toHaveLength(1);
    expect((sim.dossiers().get(MA)!.LichSuTrangThai as unknown[]).length).toBe(1);
  });

  it('processes a reused key with another body as a new request', async () => {
    const session = await login();
    const headers = { 'idempotency-key': 'k-reuse' };
    await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' }, headers);
    const update = await svc(session, 'DongBoHoSoMC', [hoSo({ TrangThaiHoSo: '4' })], { isUpdating: 'True' }, headers);
    expect(update.json.error_code).toBe('0');
    expect(sim.received().map((r) => r.outcome)).toEqual(['ok', 'ok']);
  });

  it('does not remember answers that were never processed (fault modes, bad session)', async () => {
    const session = await login();
    const headers = { 'idempotency-key': 'k-after-fault' };
    sim.setMode('http-500');
    expect((await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' }, headers)).status).toBe(500);
    sim.setMode('normal');
    expect((await svc('het-han', 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' }, headers)).json.error_code).toBe('-1');
    expect((await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' }, headers)).json.error_code).toBe('0');
    expect(sim.received().map((r) => r.outcome)).toEqual(['rejected', 'rejected', 'ok']);
  });

  it('replays business errors too', async () => {
    const session = await login();
    const headers = { 'idempotency-key': 'k-404' };
    const first = await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'True' }, headers);
    const again = await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'True' }, headers);
    expect(again.json).toEqual(first.json);
    expect(sim.received().map((r) => [r.outcome, r.errorCode])).toEqual([['error', '201'], ['duplicate', '201']]);
  });
});

describe('dvcqg simulator: hardening and control', () => {
  it('rejects __proto__ bodies, oversized bodies, bad JSON and deep nesting without echoing them', async () => {
    const session = await login();
    const proto = await post(sim.url, '/dvcqg/service', `{"session":"${session}","madonvi":"${MADONVI}","service":"TraCuuHoSo","data":{"__proto__":{"x":1}}}`);
    expect(proto.status).toBe(400);
    const big = await svc(session, 'DongBoHoSoMC', [hoSo({ TrichYeuHoSo: 'x'.repeat(1024 * 1024) })], { isUpdating: 'False' });
    expect(big.status).toBe(413);
    const broken = await post(sim.url, '/dvcqg/service', '{"session": "bi-mat-khong-lo"');
    expect(broken.status).toBe(400);
    expect(broken.text).not.toContain('bi-mat-khong-lo');
    let deep: unknown = { MaHoSo: MA };
    for (let i = 0; i < 40; i++) deep = [deep];
    const nested = await svc(session, 'TraCuuHoSo', deep);
    expect(nested.json.error_code).toBe('500');
    const notObject = await post(sim.url, '/dvcqg/service', [1, 2]);
    expect(notObject.json.error_code).toBe('500');
    expect(sim.dossiers().size).toBe(0);
  });

  it('serves /health, /__sim/dossiers, /__sim/received; reset keeps sessions', async () => {
    const session = await login();
    await svc(session, 'DongBoHoSoMC', [hoSo()], { isUpdating: 'False' });
    expect(await (await fetch(`${sim.url}/health`)).json()).toEqual({ status: 'ok', simulator: 'dvcqg', mode: 'normal' });
    const dossiers = (await (await fetch(`${sim.url}/__sim/dossiers`)).json()) as any;
    expect(dossiers[MA]).toMatchObject({ MaHoSo: MA, TrangThaiHoSo: '2', DaDongBo: true });
    // dossiers() hands out copies.
    (sim.dossiers().get(MA)!.LichSuTrangThai as unknown[]).push('x');
    expect((sim.dossiers().get(MA)!.LichSuTrangThai as unknown[]).length).toBe(1);
    expect((await post(sim.url, '/__sim/reset', {})).json).toEqual({ reset: true });
    expect(sim.dossiers().size).toBe(0);
    expect(sim.received()).toEqual([]);
    expect((await svc(session, 'TraCuuHoSo', undefined, { mahoso: MA })).json.result).toEqual([]);
  });

  it('is registered as simulators.dvcqg', async () => {
    const started = await simulators.dvcqg({ host: '127.0.0.1', port: 0 });
    try {
      expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await post(started.url, '/dvcqg/auth', { username: 'lienthong', password: 'demo' })).json.error_code).toBe(0);
    } finally {
      await started.close();
    }
  });
});
