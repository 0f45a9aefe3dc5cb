import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { freePort, startChildHub, type ChildHub } from '../support/child-hub.js';
import { tempDataDir } from '../support/hub.js';

/**
 * `lienthong start` with its demo simulators, as the README's first command runs it, with the payment
 * platform's partner code, secret and token changed: the simulator takes them from the same variables as
 * the connector (demo.simulators[].options), so the demo still pays.
 */
describe('lienthong start with the demo simulators', () => {
  let hub: ChildHub;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    for (const name of ['CSDLDC_SIM_PORT', 'DVCQG_SIM_PORT', 'EMC_SIM_PORT', 'ONEGATE_H56_SIM_PORT', 'DVCQG_PAYMENT_SIM_PORT']) ports[name] = await freePort();
    const env = Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)]));
    hub = await startChildHub({
      ...env, LIENTHONG_DATA_DIR: tempDataDir(), LOG_LEVEL: 'info',
      DVCQG_PAYMENT_PARTNER: '000.00.00.T38', DVCQG_PAYMENT_SECRET: 'another-demo-secret', DVCQG_PAYMENT_TOKEN: 'another-demo-token',
    }, undefined, { simulators: true });
  }, 60_000);
  afterAll(async () => {
    await hub?.kill('SIGTERM');
  });

  it('starts every simulator on its port, and the payment platform agrees with the changed partner code, secret and token', async () => {
    for (const [name, port] of Object.entries(ports)) {
      const res = await request(`http://127.0.0.1:${port}/health`);
      expect(res.statusCode, name).toBe(200);
      await res.body.dump();
    }
    const res = await request(`${hub.url}/v1/in/onegate-h56/payment-init`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        maThamChieu: 'dvc00014H562503040021', maHoSo: '000.00.14.H56-250304-0021', soTien: 50000, noiDung: 'THANH TOAN HO SO 000.00.14.H56-250304-0021',
        thoiGian: '04/03/2025 09:15:00', diaChiIp: '192.0.2.10',
        thuTuc: { ma: '1.001234', ten: 'Đăng ký (mẫu)', maDichVuCong: '1.001234.01' }, coQuan: { ma: '000.00.14.H56', ten: 'UBND huyện Mẫu (mẫu)' },
        thuHuong: { soTaiKhoan: '9999000001', maNganHang: 'NH-MAU', tenTaiKhoan: 'UBND huyện Mẫu (mẫu)' },
        nguoiNop: { hoVaTen: 'Trần Văn Thử', soDinhDanh: '038095999901', diaChi: 'Số 1 phố Giả Định', quanHuyen: 'Huyện Mẫu', tinhThanh: 'Thanh Hóa' },
        khoanThu: [{ loai: '2', ma: '1.001234.01', ten: 'Lệ phí (mẫu)', soTien: 50000 }],
      }),
    });
    const body = (await res.body.json()) as Record<string, string>;
    // With the simulator's defaults the platform would answer 401 (token), 02 (partner) or 07 (checksum).
    expect(body, JSON.stringify(body)).toMatchObject({ ketQua: 'KHOI_TAO', maLoi: '00' });
    // The payer pays: the platform calls this hub back, at the port it listens on (not the default 8080).
    const paid = await request(`http://127.0.0.1:${ports.DVCQG_PAYMENT_SIM_PORT}/__sim/confirm`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ maThamChieu: 'dvc00014H562503040021' }) });
    const callback = (await paid.body.json()) as { url: string; status: number };
    expect(callback).toMatchObject({ url: `${hub.url}/v1/in/dvcqg-payment/CONFIRM`, status: 200 });
  });
});
