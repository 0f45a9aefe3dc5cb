import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startDvcqgSim, type DvcqgSim } from '../../src/sim/dvcqg/server.js';
import { startEmcSim, type EmcSim } from '../../src/sim/emc/server.js';
import { startTestHub, tempDataDir } from '../support/hub.js';

/**
 * Access rights: deny by default, grants from config, changed at run time through the admin API with
 * every change recorded (who, when, why) in the message log, and still in force after a restart. "Who" is how the
 * caller authenticated (loopback here, no admin token), with the x-admin-actor header beside it as a claim.
 */
const EMC = 'VN/GOV/000.00.00.G22/EMC/TrackingMCDT';
const ONE_STOP = 'VN/GOV/000.00.00.H56/MOTCUA';

describe('access rights', () => {
  let dvcqg: DvcqgSim;
  let emc: EmcSim;
  const dataDir = tempDataDir();
  let env: Record<string, string>;

  beforeAll(async () => {
    dvcqg = await startDvcqgSim({ port: 0 });
    emc = await startEmcSim({ port: 0 });
    env = { DVCQG_URL: dvcqg.url, EMC_URL: emc.url, LIENTHONG_DATA_DIR: dataDir };
  });
  afterAll(async () => {
    await dvcqg?.close();
    await emc?.close();
  });

  const json = async (url: string, method: 'GET' | 'POST', body?: unknown, headers: Record<string, string> = {}) => {
    const res = await request(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };
  const event = (code: string) => ({
    maHoSo: code, trangThai: '4', thoiDiem: '04/03/2025 09:15', maThuTuc: '1.001234.000.00.00.H56', tenThuTuc: 'Đăng ký (mẫu)', kenh: '2', nguoiXuLy: 'Trần Văn Thử',
    chucDanh: 'Chuyên viên', phongBan: 'Một cửa', noiDungXuLy: 'Thẩm định', ngayBatDau: '04/03/2025 08:00', hanXuLy: '18/03/2025 17:00',
  });

  it('refuses a revoked service (403), keeps the change across a restart, and serves again once granted', async () => {
    let hub = await startTestHub(env);
    try {
      expect((await json(`${hub.url}/admin/access/check?client=${ONE_STOP}&service=${EMC}`, 'GET')).body).toMatchObject({ allowed: true });
      const revoked = await json(`${hub.url}/admin/access/revocations`, 'POST', { service: EMC, to: { participant: ONE_STOP }, reason: 'kiểm thử thu hồi' }, { 'x-admin-actor': 'nguyen.van.kiem.thu' });
      expect(revoked).toMatchObject({ status: 200, body: { action: 'revoke', actor: 'loopback (x-admin-actor: nguyen.van.kiem.thu)', service: EMC, subject: ONE_STOP, reason: 'kiểm thử thu hồi' } });
      const refused = await json(`${hub.url}/v1/in/onegate-h56/dossier-status`, 'POST', event('000.00.14.H56-250304-7001'));
      expect(refused).toMatchObject({ status: 403, body: { type: 'trust.access-denied' } });
    } finally {
      await hub.close();
    }

    hub = await startTestHub(env);
    try {
      // The change was recorded in the message log and replayed at start.
      const again = await json(`${hub.url}/v1/in/onegate-h56/dossier-status`, 'POST', event('000.00.14.H56-250304-7002'));
      expect(again.status).toBe(403);
      const granted = await json(`${hub.url}/admin/access/grants`, 'POST', { service: EMC, to: { participant: ONE_STOP } });
      expect(granted.body).toMatchObject({ action: 'grant', actor: 'loopback' });
      const accepted = await json(`${hub.url}/v1/in/onegate-h56/dossier-status`, 'POST', event('000.00.14.H56-250304-7003'));
      expect(accepted.status).toBe(202);
      const metrics = await (await request(`${hub.url}/metrics`)).body.text();
      expect(metrics).toMatch(/lienthong_trust_failures_total\{type="trust.access-denied",code="no-grant"\} 1/);
    } finally {
      await hub.close();
    }
  });

  it('refuses an invalid change with the reason, and changes nothing', async () => {
    const hub = await startTestHub(env);
    try {
      const bad = await json(`${hub.url}/admin/access/grants`, 'POST', { service: 'khong-phai-dich-vu/', to: { participant: 'VN/GOV/sai' } });
      expect(bad.status).toBe(400);
      expect(bad.body.type).toMatch(/^(trust\.bad-identity|client\.bad-request)$/);
      const snapshot = await json(`${hub.url}/admin/access`, 'GET');
      expect(snapshot.body.grants.some((g: { service: string }) => g.service === 'khong-phai-dich-vu/')).toBe(false);
    } finally {
      await hub.close();
    }
  });
});
