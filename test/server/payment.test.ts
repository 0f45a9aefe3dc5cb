import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startOnegateSim, type OnegateSim } from '../../src/sim/onegate/server.js';
import { startPaymentSim, type PaymentSim } from '../../src/sim/payment/server.js';
import { startTestHub } from '../support/hub.js';
import { waitFor } from '../support/wait.js';

/** E-payment of a dossier's fees (flow F8) through the hub. Fictitious people, dossiers and amounts only. */

type Hub = Awaited<ReturnType<typeof startTestHub>>;

const SECRET = 'payment-test-secret';
const PARTNER = '000.00.00.H56';
const DOSSIER = '000.00.14.H56-250304-0007';
const DESCRIPTION = `THANH TOAN HO SO ${DOSSIER}`;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

async function call(url: string, method: 'GET' | 'POST', body?: unknown) {
  const res = await request(url, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

/** The one-stop system asks for a payment of a dossier's fees, in its own dialect. */
const paymentRequest = (maThamChieu: string, soTien = 50000) => ({
  maThamChieu,
  maHoSo: DOSSIER,
  soTien,
  noiDung: DESCRIPTION,
  thoiGian: '04/03/2025 09:15:00',
  diaChiIp: '192.0.2.10',
  thuTuc: { ma: '1.001234', ten: 'Đăng ký biến động đất đai (mẫu)', maDichVuCong: '1.001234.01' },
  coQuan: { ma: '000.00.14.H56', ten: 'UBND huyện Mẫu (mẫu)' },
  thuHuong: { soTaiKhoan: '9999000001', maNganHang: 'NH-MAU', tenTaiKhoan: 'UBND huyện Mẫu (mẫu)' },
  nguoiNop: { hoVaTen: 'Trần Văn Thử', soDinhDanh: '038095999901', diaChi: 'Số 1 phố Giả Định', quanHuyen: 'Huyện Mẫu', tinhThanh: 'Thanh Hóa' },
  khoanThu: [{ loai: '2', ma: '1.001234.01', ten: 'Lệ phí (mẫu)', soTien }],
});

describe('e-payment of fees (F8) through the hub, the payment platform simulator and the one-stop simulator', () => {
  let payment: PaymentSim;
  let onegate: OnegateSim;
  let hub: Hub;
  let confirmUrl: string;
  const pay = (body: unknown) => call(`${hub.url}/v1/in/onegate-h56/payment-init`, 'POST', body);

  beforeAll(async () => {
    [payment, onegate] = await Promise.all([startPaymentSim({ secret: SECRET, partnerCode: PARTNER }), startOnegateSim()]);
    hub = await startTestHub({ DVCQG_PAYMENT_URL: payment.url, ONEGATE_H56_URL: onegate.url, DVCQG_PAYMENT_SECRET: SECRET });
    confirmUrl = `${hub.url}/v1/in/dvcqg-payment/CONFIRM`;
  });
  afterAll(async () => {
    await hub?.close();
    await Promise.all([payment?.close(), onegate?.close()]);
  });

  describe('paying: INIT', () => {
    it('sends INIT with the MaXacThuc the platform recomputes, and answers with the payment page in the one-stop dialect', async () => {
      const ref = 'dvc00014H562503040007';
      const res = await pay(paymentRequest(ref));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toEqual({ ketQua: 'KHOI_TAO', maLoi: '00', moTaLoi: 'Thành công', maThamChieu: ref, urlThanhToan: `${payment.url}/thanh-toan/${ref}`, maGiaoDich: expect.stringMatching(/^[0-9a-f-]{36}$/) });

      const received = payment.received().at(-1)!;
      expect(received).toMatchObject({ path: '/paymentplatform/init', maThamChieu: ref, maHoSo: DOSSIER, outcome: 'ok', maLoi: '00', checksum: 'valid' });
      const { init } = payment.transactions().get(ref)!;
      const { ThongTinBienLai, ...header } = init;
      // The exact value for this fixed message, from the literal formula of the dvcqg-payment-init scheme.
      const expected = sha256(`INIT|1.0.6|${PARTNER}|${ref}|50000|PAY|1|1|vi-VN|VND|PAYMENT|${DESCRIPTION}|20250304091500|192.0.2.10|${SECRET}`);
      expect(header).toEqual({
        LoaiBanTin: 'INIT', PhienBan: '1.0.6', MaDoiTac: PARTNER, MaThamChieu: ref, SoTien: '50000', LoaiHinhThanhToan: 'PAY', MaKenhThanhToan: '1', MaThietBi: '1',
        NgonNgu: 'vi-VN', MaTienTe: 'VND', MaNganHang: 'PAYMENT', ThongTinGiaoDich: DESCRIPTION, ThoiGianGD: '20250304091500', Ip: '192.0.2.10', MaXacThuc: expected,
      });
      expect(ThongTinBienLai).toMatchObject({
        MaDichVu: '2', MaTTHC: '1.001234', MaDVC: '1.001234.01', MaDonVi: '000.00.14.H56', MaHoSo: DOSSIER, TKThuHuong: '9999000001',
        HoTenNguoiNop: 'Trần Văn Thử', SoCMNDNguoiNop: '038095999901', DiaChiNguoiNop: 'Số 1 phố Giả Định',
        PhiLePhi: [{ LoaiPhiLePhi: '2', MaPhiLePhi: '1.001234.01', TenPhiLePhi: 'Lệ phí (mẫu)', SoTien: '50000' }],
        DSKhoanNop: [{ NoiDung: DESCRIPTION, SoTien: '50000' }],
      });
    });

    it("hands the platform's refusal back in the one-stop dialect, code and reason verbatim", async () => {
      const ref = 'dvc00014H562503040008';
      expect((await pay(paymentRequest(ref))).body.ketQua).toBe('KHOI_TAO');
      // The same reference for another amount is a second payment: the platform refuses it.
      const res = await pay(paymentRequest(ref, 70000));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ketQua: 'TU_CHOI', maLoi: '03', maThamChieu: ref });
      expect(res.body).not.toHaveProperty('urlThanhToan');
    });

    it('refuses a request that does not match the one-stop schema before anything leaves the hub', async () => {
      const before = payment.received().length;
      const res = await pay({ ...paymentRequest('dvc00014H562503040009'), thoiGian: '04/03/2025 9:15' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ type: 'client.schema-violation', detail: [expect.objectContaining({ field: 'thoiGian' })] });
      expect(payment.received()).toHaveLength(before);
    });
  });

  describe('confirmation callback', () => {
    const ref = 'dvc00014H562503040010';
    beforeAll(async () => {
      expect((await pay(paymentRequest(ref))).body.ketQua).toBe('KHOI_TAO');
    });

    it('delivers a correctly signed callback to the one-stop system; the platform gets a reply in its dialect echoing the callback', async () => {
      const sent = await payment.sendConfirm({ maThamChieu: ref, url: confirmUrl });
      expect(sent.status, JSON.stringify(sent.reply)).toBe(200);
      // As OpenCPS and Thanh Hóa answer: the callback's reference, ThoiGianGD and MaXacThuc, echoed.
      expect(sent.reply).toEqual({ MaLoi: '00', MoTaLoi: 'Thành công', MaDoiTac: PARTNER, MaThamChieu: ref, ThoiGianGD: sent.message.ThoiGianGD, MaXacThuc: sent.message.MaXacThuc });
      expect(sent.replyMaXacThuc).toBe('echoed');

      const delivered = onegate.paymentResults().get(ref)!;
      expect(delivered).toEqual([expect.objectContaining({
        maThamChieu: ref, trangThai: 'DA_THANH_TOAN', maLoi: '00', soTien: 50000, maGiaoDich: sent.message.MaGiaoDich, maNganHang: 'NH-MAU',
        noiDung: DESCRIPTION, thoiGianThanhToan: expect.stringMatching(/^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2}$/), maThongDiep: expect.stringMatching(/^[0-9a-f-]{36}$/),
      })]);
    });

    it('accepts a fixed callback signed exactly as the literal dvcqg-payment-confirm formula says', async () => {
      const callback = {
        LoaiBanTin: 'CONFIRM', MaLoi: '00', MaDoiTac: PARTNER, MaThamChieu: ref, SoTien: 50000, MaTienTe: 'VND', MaGiaoDich: 'PP202503040920300001',
        MaNganHang: 'NH-MAU', ThoiGianGD: '20250304092030', ThongTinGiaoDich: DESCRIPTION,
      };
      const MaXacThuc = sha256(`CONFIRM|00|${PARTNER}|${ref}|50000|VND|PP202503040920300001|NH-MAU|20250304092030|${DESCRIPTION}|${SECRET}`);
      const res = await call(confirmUrl, 'POST', { ...callback, MaXacThuc });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ MaLoi: '00', MaThamChieu: ref });
      expect(onegate.paymentResults().get(ref)!.at(-1)).toMatchObject({ maGiaoDich: 'PP202503040920300001', thoiGianThanhToan: '04/03/2025 09:20:30' });
    });

    it('delivers a failed payment as THAT_BAI with the platform code', async () => {
      const sent = await payment.sendConfirm({ maThamChieu: ref, url: confirmUrl, maLoi: '24' });
      expect(sent.status).toBe(200);
      expect(sent.reply).toMatchObject({ MaLoi: '00', MaThamChieu: ref });
      expect(onegate.paymentResults().get(ref)!.at(-1)).toMatchObject({ trangThai: 'THAT_BAI', maLoi: '24', maGiaoDich: sent.message.MaGiaoDich });
    });

    it('answers the platform 99 when the one-stop system does not record the result', async () => {
      onegate.setMode('refuse');
      try {
        const sent = await payment.sendConfirm({ maThamChieu: ref, url: confirmUrl });
        expect(sent.status).toBe(200);
        expect(sent.reply).toMatchObject({ MaLoi: '99', MoTaLoi: 'Các lỗi khác', MaThamChieu: ref });
        expect(sent.replyMaXacThuc).toBe('echoed');
      } finally {
        onegate.setMode('normal');
      }
    });

    it('refuses a wrong MaXacThuc, a tampered SoTien and the wrong secret with 401 trust.checksum-invalid, delivering nothing', async () => {
      const deliveredBefore = onegate.received().length;
      for (const signing of ['wrong-checksum', 'tampered-amount', 'wrong-secret', 'no-checksum'] as const) {
        const sent = await payment.sendConfirm({ maThamChieu: ref, url: confirmUrl, signing });
        expect(sent.status, signing).toBe(401);
        expect(sent.reply, signing).toMatchObject({
          type: 'trust.checksum-invalid', status: 401,
          detail: [{ field: 'MaXacThuc', code: signing === 'no-checksum' ? 'no-checksum' : 'mismatch' }],
        });
        expect(sent.replyMaXacThuc).toBe('absent');
      }
      expect(onegate.received()).toHaveLength(deliveredBefore);
    });

    it('records each refused callback as rejected in the message log and counts it in /metrics', async () => {
      const refusedCallbacks = async () => {
        const rejected = await call(`${hub.url}/admin/messages?state=rejected&limit=200`, 'GET');
        return (rejected.body.items as Array<{ connector: string; operation: string; reason?: string }>).filter((m) => m.connector === 'dvcqg-payment');
      };
      // The log records a refusal after answering it (group-committed), so it may lag the 401 a little.
      await waitFor(async () => (await refusedCallbacks()).length >= 4, 5_000, 'four rejected callbacks in the message log');
      const refusals = await refusedCallbacks();
      expect(refusals).toHaveLength(4);
      for (const m of refusals) {
        expect(m.operation).toBe('CONFIRM');
        expect(m.reason).toMatch(/^trust\.checksum-invalid: /);
      }
      const metrics = await (await request(`${hub.url}/metrics`)).body.text();
      expect(metrics).toMatch(/lienthong_trust_failures_total\{type="trust.checksum-invalid",code="mismatch"\} 3\b/);
      expect(metrics).toMatch(/lienthong_trust_failures_total\{type="trust.checksum-invalid",code="no-checksum"\} 1\b/);
    });
  });

  it('keeps personal data and the secret out of the application log', () => {
    const text = hub.logs.text();
    expect(hub.logs.records().some((r) => r.route === 'payment-confirm' && r.msg === 'message delivered')).toBe(true);
    for (const secret of ['Trần', '038095999901', 'Giả Định', 'Huyện Mẫu', SECRET]) expect(text).not.toContain(secret);
  });
});

describe('an INIT signed with a secret the platform does not share', () => {
  it('is refused by the platform (MaLoi 07), and the one-stop system hears why', async () => {
    const payment = await startPaymentSim({ secret: SECRET, partnerCode: PARTNER });
    const hub = await startTestHub({ DVCQG_PAYMENT_URL: payment.url, ONEGATE_H56_URL: 'http://127.0.0.1:9', DVCQG_PAYMENT_SECRET: 'not-the-shared-secret' });
    try {
      const res = await call(`${hub.url}/v1/in/onegate-h56/payment-init`, 'POST', paymentRequest('dvc00014H562503040011'));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ketQua: 'TU_CHOI', maLoi: '07', maThamChieu: 'dvc00014H562503040011' });
      expect(payment.received().at(-1)).toMatchObject({ outcome: 'error', maLoi: '07', checksum: 'invalid' });
      expect(payment.transactions().size).toBe(0);
    } finally {
      await hub.close();
      await payment.close();
    }
  });
});

describe("another site's partner code, from the environment", () => {
  it('goes into INIT (and its MaXacThuc) and into the reply to a callback, with no mapping edited', async () => {
    const partner = '000.00.00.T38';
    const payment = await startPaymentSim({ secret: SECRET, partnerCode: partner });
    const onegate = await startOnegateSim();
    const hub = await startTestHub({ DVCQG_PAYMENT_URL: payment.url, ONEGATE_H56_URL: onegate.url, DVCQG_PAYMENT_SECRET: SECRET, DVCQG_PAYMENT_PARTNER: partner });
    try {
      const ref = 'dvc00014H562503040012';
      const res = await call(`${hub.url}/v1/in/onegate-h56/payment-init`, 'POST', paymentRequest(ref));
      // The platform knows only this partner: a wrong code would be MaLoi 02, a wrong checksum 07.
      expect(res.body).toMatchObject({ ketQua: 'KHOI_TAO', maLoi: '00' });
      expect(payment.transactions().get(ref)!.init).toMatchObject({ MaDoiTac: partner });
      const sent = await payment.sendConfirm({ maThamChieu: ref, url: `${hub.url}/v1/in/dvcqg-payment/CONFIRM` });
      expect(sent.reply).toMatchObject({ MaLoi: '00', MaDoiTac: partner, MaThamChieu: ref });
    } finally {
      await hub.close();
      await Promise.all([payment.close(), onegate.close()]);
    }
  });
});
