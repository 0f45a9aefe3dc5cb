import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { simulators, startOnegateSim, startPaymentSim, type OnegateSim, type PaymentSim } from '../../src/sim/index.js';

/** The payment platform and one-stop simulators on their own. Fictitious people, dossiers and amounts only. */

const SECRET = 'sim-test-secret';
const PARTNER = '000.00.00.H56';
const TOKEN = 'payment-demo-token';
const REF = 'dvc00014H562503040007';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const INIT_ORDER = ['LoaiBanTin', 'PhienBan', 'MaDoiTac', 'MaThamChieu', 'SoTien', 'LoaiHinhThanhToan', 'MaKenhThanhToan', 'MaThietBi', 'NgonNgu', 'MaTienTe', 'MaNganHang', 'ThongTinGiaoDich', 'ThoiGianGD', 'Ip'];
const signed = (message: Record<string, unknown>, secret = SECRET) => ({ ...message, MaXacThuc: sha256([...INIT_ORDER.map((f) => String(message[f] ?? '')), secret].join('|')) });

const initMessage = (o: Record<string, unknown> = {}) => ({
  LoaiBanTin: 'INIT', PhienBan: '1.0.6', MaDoiTac: PARTNER, MaThamChieu: REF, SoTien: '50000', LoaiHinhThanhToan: 'PAY', MaKenhThanhToan: '1', MaThietBi: '1',
  NgonNgu: 'vi-VN', MaTienTe: 'VND', MaNganHang: 'PAYMENT', ThongTinGiaoDich: 'THANH TOAN HO SO 000.00.14.H56-250304-0007', ThoiGianGD: '20250304091500', Ip: '192.0.2.10',
  ThongTinBienLai: {
    MaDichVu: '2', MaTTHC: '1.001234', TenTTHC: 'Đăng ký (mẫu)', MaDonVi: '000.00.14.H56', TenDonVi: 'UBND huyện Mẫu (mẫu)', MaHoSo: '000.00.14.H56-250304-0007',
    NoiDungThanhToan: 'THANH TOAN HO SO 000.00.14.H56-250304-0007', HoTenNguoiNop: 'Trần Văn Thử', SoCMNDNguoiNop: '038095999901',
    PhiLePhi: [{ LoaiPhiLePhi: '2', MaPhiLePhi: 'LP-01', TenPhiLePhi: 'Lệ phí (mẫu)', SoTien: '50000' }],
    DSKhoanNop: [{ NoiDung: 'THANH TOAN HO SO 000.00.14.H56-250304-0007', SoTien: '50000' }],
  },
  ...o,
});

async function post(url: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** A partner's callback endpoint for the tests: records what arrives and answers as told. */
class Partner {
  readonly received: Array<Record<string, unknown>> = [];
  answer: (body: Record<string, unknown>) => { status: number; body: unknown } = () => ({ status: 200, body: {} });
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer(async (req: IncomingMessage, res) => {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const body = JSON.parse(raw) as Record<string, unknown>;
      this.received.push(body);
      const { status, body: answer } = this.answer(body);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
    await new Promise<void>((done) => this.server!.listen(0, '127.0.0.1', done));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/callback`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((done) => this.server?.close(() => done()));
  }
}

/** A reply as OpenCPS and Thanh Hóa answer a callback: its reference, ThoiGianGD and MaXacThuc echoed. */
const echoingReply = (body: Record<string, unknown>) => ({ MaLoi: '00', MoTaLoi: 'Thành công', MaDoiTac: body.MaDoiTac, MaThamChieu: body.MaThamChieu, ThoiGianGD: body.ThoiGianGD, MaXacThuc: body.MaXacThuc });

describe('simulator registry', () => {
  it('starts the payment and one-stop simulators by name, with only host and port, as `lienthong start` does', async () => {
    for (const name of ['payment', 'onegate'] as const) {
      const sim = await simulators[name]({ host: '127.0.0.1', port: 0 });
      try {
        const health = await (await fetch(`${sim.url}/health`)).json();
        expect(health).toMatchObject({ status: 'ok', simulator: name, mode: 'normal' });
      } finally {
        await sim.close();
      }
    }
  });
});

describe('payment platform simulator: INIT', () => {
  let sim: PaymentSim;
  const init = (body: unknown, headers?: Record<string, string>) => post(`${sim.url}/paymentplatform/init`, body, headers);

  beforeAll(async () => {
    sim = await startPaymentSim({ secret: SECRET, partnerCode: PARTNER, slowMs: 300 });
  });
  afterAll(async () => {
    await sim.close();
  });
  afterEach(() => sim.reset());

  it('creates the transaction for a correctly signed INIT and answers 00 with the payment page', async () => {
    const message = signed(initMessage());
    // The digest for this fixed message, from the literal `|`-joined text.
    expect(message.MaXacThuc).toBe(sha256(`INIT|1.0.6|${PARTNER}|${REF}|50000|PAY|1|1|vi-VN|VND|PAYMENT|THANH TOAN HO SO 000.00.14.H56-250304-0007|20250304091500|192.0.2.10|${SECRET}`));
    const res = await init(message, { authorization: `Bearer ${TOKEN}`, 'idempotency-key': 'k-1' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ MaLoi: '00', MoTaLoi: 'Thành công', MaDoiTac: PARTNER, MaThamChieu: REF, ThoiGianGD: expect.stringMatching(/^\d{14}$/), UrlThanhToan: `${sim.url}/thanh-toan/${REF}` });
    expect(sim.received()).toEqual([expect.objectContaining({ path: '/paymentplatform/init', maThamChieu: REF, maHoSo: '000.00.14.H56-250304-0007', soTien: '50000', idempotencyKey: 'k-1', outcome: 'ok', maLoi: '00', checksum: 'valid' })]);
    expect(sim.transactions().get(REF)?.init).toEqual(message);
    const page = await fetch(res.json.UrlThanhToan);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('50000 VND');
  });

  it('accepts MaXacThuc in upper-case hex too', async () => {
    const message = signed(initMessage());
    expect((await init({ ...message, MaXacThuc: message.MaXacThuc.toUpperCase() })).json.MaLoi).toBe('00');
  });

  it('answers 07 for a MaXacThuc that does not match, whether a field changed or the secret differs', async () => {
    const tampered = { ...signed(initMessage()), SoTien: '5000' };
    const forged = signed(initMessage(), 'another-secret');
    for (const message of [tampered, forged, initMessage()]) {
      const res = await init(message);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ MaLoi: '07', MaDoiTac: PARTNER, MaThamChieu: REF });
    }
    expect(sim.received().map((r) => [r.outcome, r.checksum])).toEqual([['error', 'invalid'], ['error', 'invalid'], ['error', 'invalid']]);
    expect(sim.transactions().size).toBe(0);
  });

  it('answers 02 for a partner it does not know', async () => {
    expect((await init(signed(initMessage({ MaDoiTac: '000.00.00.H99' })))).json).toMatchObject({ MaLoi: '02' });
  });

  it('answers 01 naming the field when a signed INIT is incomplete or malformed', async () => {
    const noReceipt = signed(initMessage());
    delete (noReceipt as Record<string, unknown>).ThongTinBienLai;
    expect((await init(noReceipt)).json).toMatchObject({ MaLoi: '01', MoTaLoi: expect.stringContaining('ThongTinBienLai') });
    expect((await init(signed(initMessage({ ThoiGianGD: '20250304251500' })))).json).toMatchObject({ MaLoi: '01', MoTaLoi: expect.stringContaining('ThoiGianGD') });
    expect((await init(signed(initMessage({ SoTien: '50.000' })))).json).toMatchObject({ MaLoi: '01', MoTaLoi: expect.stringContaining('SoTien') });
    expect(sim.received().map((r) => r.field)).toEqual(['ThongTinBienLai', 'ThoiGianGD', 'SoTien']);
  });

  it('answers the same INIT again with the same page, and refuses the reference for another payment (03)', async () => {
    const first = await init(signed(initMessage()));
    const again = await init(signed(initMessage()));
    expect(again.json.UrlThanhToan).toBe(first.json.UrlThanhToan);
    expect((await init(signed(initMessage({ SoTien: '70000' })))).json).toMatchObject({ MaLoi: '03' });
    expect(sim.received().map((r) => r.outcome)).toEqual(['ok', 'duplicate', 'error']);
  });

  it('wants its Bearer token', async () => {
    const res = await init(signed(initMessage()), {});
    expect(res.status).toBe(401);
    expect(sim.received()).toEqual([expect.objectContaining({ outcome: 'rejected', errorCode: '401' })]);
  });

  it('fails like the other simulators when told to, also through POST /__sim/mode', async () => {
    sim.setMode('http-500');
    expect((await init(signed(initMessage()))).status).toBe(500);
    expect((await post(`${sim.url}/__sim/mode`, { mode: 'http-429', forMs: 60_000 })).json).toMatchObject({ mode: 'http-429' });
    expect((await init(signed(initMessage()))).status).toBe(429);
    expect((await post(`${sim.url}/__sim/mode`, { mode: 'broken' })).status).toBe(400);
    expect(sim.received().map((r) => r.errorCode)).toEqual(['http-500', 'http-429']);
  });
});

describe('payment platform simulator: confirmation callbacks', () => {
  let sim: PaymentSim;
  const partner = new Partner();
  const CONFIRM_ORDER = ['LoaiBanTin', 'MaLoi', 'MaDoiTac', 'MaThamChieu', 'SoTien', 'MaTienTe', 'MaGiaoDich', 'MaNganHang', 'ThoiGianGD', 'ThongTinGiaoDich'];
  const confirmDigest = (m: Record<string, unknown>, secret = SECRET) => sha256([...CONFIRM_ORDER.map((f) => String(m[f] ?? '')), secret].join('|'));

  beforeAll(async () => {
    await partner.start();
    sim = await startPaymentSim({ secret: SECRET, partnerCode: PARTNER, callbackUrl: partner.url });
  });
  afterAll(async () => {
    await sim.close();
    await partner.stop();
  });
  afterEach(() => {
    sim.reset();
    partner.received.length = 0;
  });

  const initiate = async () => expect((await post(`${sim.url}/paymentplatform/init`, signed(initMessage()))).json.MaLoi).toBe('00');

  it('sends a signed callback for a transaction and checks that the reply echoes its MaXacThuc', async () => {
    await initiate();
    partner.answer = (body) => ({ status: 200, body: echoingReply(body) });
    const sent = await sim.sendConfirm({ maThamChieu: REF });
    expect(partner.received).toHaveLength(1);
    const message = partner.received[0]!;
    expect(message).toEqual({
      LoaiBanTin: 'CONFIRM', MaLoi: '00', MaDoiTac: PARTNER, MaThamChieu: REF, SoTien: 50000, MaTienTe: 'VND', MaGiaoDich: expect.stringMatching(/^PP\d{18}$/),
      MaNganHang: 'NH-MAU', ThoiGianGD: expect.stringMatching(/^\d{14}$/), ThongTinGiaoDich: 'THANH TOAN HO SO 000.00.14.H56-250304-0007', MaXacThuc: expect.any(String),
    });
    expect(message.MaXacThuc).toBe(confirmDigest(message));
    expect(sent).toMatchObject({ url: partner.url, signing: 'valid', status: 200, replyMaXacThuc: 'echoed', maThamChieu: REF });
    expect(sim.callbacks()).toHaveLength(1);
    expect(sim.transactions().get(REF)?.callbacks).toHaveLength(1);
  });

  it('tells a reply with another MaXacThuc, or none, from one that echoes the callback', async () => {
    await initiate();
    partner.answer = (body) => ({ status: 200, body: { ...echoingReply(body), MaXacThuc: sha256(`00|${String(body.MaDoiTac)}|${String(body.MaThamChieu)}|${String(body.ThoiGianGD)}|${SECRET}`) } });
    expect((await sim.sendConfirm({ maThamChieu: REF })).replyMaXacThuc).toBe('different');
    partner.answer = () => ({ status: 200, body: { MaLoi: '00' } });
    expect((await sim.sendConfirm({ maThamChieu: REF })).replyMaXacThuc).toBe('absent');
  });

  it('mis-signs on request: wrong digest, wrong secret, amount changed after signing, no digest', async () => {
    await initiate();
    for (const signing of ['wrong-checksum', 'wrong-secret', 'tampered-amount', 'no-checksum'] as const) await sim.sendConfirm({ maThamChieu: REF, signing });
    const [wrong, forged, tampered, unsigned] = partner.received as Array<Record<string, unknown>>;
    expect(wrong!.MaXacThuc).toMatch(/^[0-9a-f]{64}$/);
    expect(wrong!.MaXacThuc).not.toBe(confirmDigest(wrong!));
    expect(forged!.MaXacThuc).toBe(confirmDigest(forged!, 'not-the-shared-secret'));
    expect(tampered!.SoTien).toBe(51000);
    expect(tampered!.MaXacThuc).toBe(confirmDigest({ ...tampered!, SoTien: 50000 }));
    expect(unsigned).not.toHaveProperty('MaXacThuc');
  });

  it('reports a failed payment with the code it is given, through POST /__sim/confirm too', async () => {
    await initiate();
    const res = await post(`${sim.url}/__sim/confirm`, { maThamChieu: REF, maLoi: '24' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ maThamChieu: REF, signing: 'valid', status: 200 });
    expect(partner.received[0]).toMatchObject({ MaLoi: '24' });
    expect(partner.received[0]!.MaXacThuc).toBe(confirmDigest(partner.received[0]!));
  });

  it('refuses to confirm what was never initiated, and bad control requests', async () => {
    await expect(sim.sendConfirm({ maThamChieu: 'dvc-unknown' })).rejects.toThrow(/no transaction/);
    expect((await post(`${sim.url}/__sim/confirm`, { maThamChieu: 'dvc-unknown' })).status).toBe(404);
    await initiate();
    expect((await post(`${sim.url}/__sim/confirm`, { maThamChieu: REF, signing: 'forged' })).status).toBe(400);
    expect((await post(`${sim.url}/__sim/confirm`, { maThamChieu: REF, url: 'file:///etc/passwd' })).status).toBe(400);
    expect(partner.received).toHaveLength(0);
  });

  it('records an unreachable partner as status 0', async () => {
    await initiate();
    const sent = await sim.sendConfirm({ maThamChieu: REF, url: 'http://127.0.0.1:9/callback' });
    expect(sent).toMatchObject({ status: 0, replyMaXacThuc: 'absent', error: expect.any(String) });
  });
});

describe('one-stop simulator: payment results', () => {
  let sim: OnegateSim;
  const TOKEN_ONEGATE = 'onegate-demo-token';
  const result = (o: Record<string, unknown> = {}) => ({
    maThamChieu: REF, trangThai: 'DA_THANH_TOAN', maLoi: '00', soTien: 50000, maGiaoDich: 'PP202503040920300001', maNganHang: 'NH-MAU',
    thoiGianThanhToan: '04/03/2025 09:20:30', noiDung: 'THANH TOAN HO SO 000.00.14.H56-250304-0007', maThongDiep: '3f1c2a9e-6a4b-4c1e-9a65-2b7f0d9c1e04', ...o,
  });
  const send = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN_ONEGATE}` }) => post(`${sim.url}/api/thanh-toan/xac-nhan`, body, headers);

  beforeAll(async () => {
    sim = await startOnegateSim({ slowMs: 300 });
  });
  afterAll(async () => {
    await sim.close();
  });
  afterEach(() => sim.reset());

  it('records a payment result and answers DA_GHI_NHAN with the reference', async () => {
    const res = await send(result());
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ketQua: 'DA_GHI_NHAN', moTa: 'Đã ghi nhận kết quả thanh toán', maThamChieu: REF });
    expect(sim.paymentResults().get(REF)).toEqual([{ ...result(), at: expect.any(String) }]);
    expect(sim.received()).toEqual([expect.objectContaining({ maThamChieu: REF, trangThai: 'DA_THANH_TOAN', soTien: 50000, outcome: 'ok' })]);
  });

  it('refuses a malformed result with 400 naming the field', async () => {
    const res = await send(result({ thoiGianThanhToan: '31/02/2025 09:20:30' }));
    expect(res.status).toBe(400);
    expect(res.json.moTa).toContain('thoiGianThanhToan');
    expect(sim.received()).toEqual([expect.objectContaining({ outcome: 'error', errorCode: '400', field: 'thoiGianThanhToan' })]);
  });

  it('wants its Bearer token', async () => {
    expect((await send(result(), {})).status).toBe(401);
    expect(sim.paymentResults().size).toBe(0);
  });

  it("answers LOI in 'refuse' mode, replays a repeated idempotency key, and fails when told to", async () => {
    sim.setMode('refuse');
    expect((await send(result())).json).toMatchObject({ ketQua: 'LOI', maThamChieu: REF });
    sim.setMode('normal');
    const headers = { authorization: `Bearer ${TOKEN_ONEGATE}`, 'idempotency-key': 'delivery-1' };
    await send(result(), headers);
    expect((await send(result(), headers)).json.ketQua).toBe('DA_GHI_NHAN');
    expect(sim.paymentResults().get(REF)).toHaveLength(1);
    sim.setMode('http-500');
    expect((await send(result())).status).toBe(500);
    expect(sim.received().map((r) => r.outcome)).toEqual(['error', 'ok', 'duplicate', 'rejected']);
  });
});
