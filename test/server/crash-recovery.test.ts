import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startDvcqgSim } from '../../src/sim/dvcqg/server.js';
import { startEmcSim } from '../../src/sim/emc/server.js';
import { startChildHub } from '../support/child-hub.js';
import { tempDataDir } from '../support/hub.js';
import { waitFor } from '../support/wait.js';

/** Deliveries the hub has claimed and not yet finished, as its /metrics reports them. */
async function inFlight(hubUrl: string): Promise<number> {
  const text = await (await request(`${hubUrl}/metrics`)).body.text();
  return Number(/^lienthong_queue_depth\{state="active"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

/**
 * Nothing accepted is ever lost: a hub killed with SIGKILL in the middle of delivering, then started
 * again on the same data, delivers everything it had accepted: accepted = delivered + dead-lettered,
 * each event reaching each destination exactly once in effect, in per-dossier order.
 */
describe('crash safety of the embedded queue', () => {
  it('delivers every accepted message after a SIGKILL mid-delivery and a restart', async () => {
    const dvcqg = await startDvcqgSim({ port: 0, latencyMs: 15 });
    const emc = await startEmcSim({ port: 0, latencyMs: 15 });
    const env = {
      DVCQG_URL: dvcqg.url, EMC_URL: emc.url, LIENTHONG_DATA_DIR: tempDataDir(),
      LIENTHONG_DELIVERY_LEASE: '1500ms', LIENTHONG_DELIVERY_CONCURRENCY: '4',
      DVCQG_RETRY_INITIAL_DELAY: '100ms', DVCQG_RETRY_MAX_DELAY: '500ms', EMC_RETRY_INITIAL_DELAY: '100ms', EMC_RETRY_MAX_DELAY: '500ms',
    };
    let hub = await startChildHub(env);
    try {
      const sent: Array<{ code: string; status: string; messageId: string }> = [];
      const send = async (dossiers: number[]) => {
        for (const d of dossiers) {
          const code = `000.00.14.H56-250305-${String(2000 + d)}`;
          for (const [i, status] of ['2', '4', '9'].entries()) {
            const res = await request(`${hub.url}/v1/in/onegate-h56/dossier-status`, {
              method: 'POST', headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ maHoSo: code, trangThai: status, thoiDiem: `05/03/2025 10:${String(10 + i).padStart(2, '0')}`, kenh: '2', chucDanh: 'Chuyên viên', phongBan: 'Bộ phận một cửa (mẫu)', noiDungXuLy: 'Xử lý hồ sơ', ngayBatDau: '05/03/2025 08:00', hanXuLy: '19/03/2025 17:00', maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)', nguoiXuLy: 'Trần Văn Thử' }),
            });
            const body = (await res.body.json()) as { messageId: string };
            expect(res.statusCode).toBe(202);
            sent.push({ code, status, messageId: body.messageId });
          }
        }
      };
      const delivered = () => dvcqg.received().filter((r) => r.service === 'CapNhatTienDoHoSoMC' && r.outcome === 'ok').length;
      await send(Array.from({ length: 10 }, (_, d) => d));
      await waitFor(() => delivered() >= 10, 20_000, 'some deliveries before the crash');
      // From here on DVCQG holds every request (slow mode, 30 s) until the kill: at 15 ms latency the hub
      // could otherwise finish everything before the SIGKILL, leaving nothing to recover.
      dvcqg.setMode('slow');
      await send(Array.from({ length: 10 }, (_, d) => 10 + d));
      await waitFor(() => inFlight(hub.url), 20_000, 'deliveries in flight at the kill');
      expect(await hub.kill('SIGKILL')).toBeNull();
      const beforeRestart = delivered();
      expect(beforeRestart).toBeLessThan(sent.length);
      // Requests still held by the slow mode go on after 30 s. The restarted hub resends each with the same
      // idempotency key, so whichever of the two arrives second is answered as a replay ('duplicate', not 'ok').
      dvcqg.setMode('normal');

      hub = await startChildHub(env);
      const unique = (pairs: Array<[string | undefined, string | undefined]>) => new Set(pairs.map(([a, b]) => `${a}|${b}`));
      await waitFor(() => unique(dvcqg.received().filter((r) => r.service === 'CapNhatTienDoHoSoMC' && r.outcome === 'ok').map((r) => [r.maHoSo, r.trangThai])).size === sent.length
        && unique(emc.received().filter((r) => r.outcome === 'ok').map((r) => [r.maHoSo, String(r.status)])).size === sent.length, 60_000, 'every accepted event delivered');

      // Exactly once in effect: a delivery repeated after the crash carries the same idempotency key.
      const okKeys = dvcqg.received().filter((r) => r.outcome === 'ok').map((r) => r.idempotencyKey);
      expect(new Set(okKeys).size).toBe(okKeys.length);
      expect(dvcqg.received().filter((r) => r.service === 'CapNhatTienDoHoSoMC' && r.outcome === 'ok')).toHaveLength(sent.length);
      // Per-dossier order survived the crash.
      for (const [code, stored] of dvcqg.dossiers()) {
        const order = (stored.TienDo as Array<{ TrangThai: string }>).map((p) => p.TrangThai);
        expect(order, code).toEqual(['2', '4', '9']);
      }
      // The message log agrees: every accepted message ended delivered (none dead-lettered here).
      const states = await Promise.all(sent.map(async (s) => {
        const res = await request(`${hub.url}/admin/messages/${s.messageId}`);
        return ((await res.body.json()) as { message: { state: string } }).message.state;
      }));
      await waitFor(async () => {
        const again = await Promise.all(sent.map(async (s) => ((await (await request(`${hub.url}/admin/messages/${s.messageId}`)).body.json()) as { message: { state: string } }).message.state));
        return again.every((state) => state === 'delivered');
      }, 10_000, `all message states delivered (saw ${[...new Set(states)].join(', ')})`);
    } finally {
      await hub.kill('SIGTERM');
      await Promise.all([dvcqg.close(), emc.close()]);
    }
  }, 120_000);

  it('on SIGTERM finishes the deliveries in flight, so none waits for a lease after the restart', async () => {
    const dvcqg = await startDvcqgSim({ port: 0, latencyMs: 400 });
    const emc = await startEmcSim({ port: 0, latencyMs: 400 });
    // A lease far longer than the test: a delivery abandoned by the shutdown would not come back in time.
    const env = { DVCQG_URL: dvcqg.url, EMC_URL: emc.url, LIENTHONG_DATA_DIR: tempDataDir(), LIENTHONG_DELIVERY_LEASE: '10m', LIENTHONG_DELIVERY_CONCURRENCY: '4' };
    let hub = await startChildHub(env);
    try {
      for (let d = 0; d < 8; d++) {
        const res = await request(`${hub.url}/v1/in/onegate-h56/dossier-status`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ maHoSo: `000.00.14.H56-250309-${4000 + d}`, trangThai: '2', thoiDiem: '09/03/2025 10:10', kenh: '2', chucDanh: 'Chuyên viên', phongBan: 'Một cửa', noiDungXuLy: 'Tiếp nhận', ngayBatDau: '09/03/2025 10:00', hanXuLy: '19/03/2025 17:00', maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)', nguoiXuLy: 'Trần Văn Thử' }),
        });
        await res.body.dump();
        expect(res.statusCode).toBe(202);
      }
      await waitFor(() => inFlight(hub.url), 15_000, 'deliveries in flight at the slow simulators');
      expect(await hub.kill('SIGTERM')).toBe(0);
      const finishedBeforeExit = dvcqg.received().filter((r) => r.outcome === 'ok').length + emc.received().filter((r) => r.outcome === 'ok').length;
      expect(finishedBeforeExit).toBeGreaterThan(0);
      hub = await startChildHub(env);
      await waitFor(() => dvcqg.received().filter((r) => r.outcome === 'ok').length === 8 && emc.received().filter((r) => r.outcome === 'ok').length === 8, 15_000, 'the rest delivered without waiting for a lease');
      expect(dvcqg.received().filter((r) => r.outcome === 'duplicate')).toEqual([]);
    } finally {
      await hub.kill('SIGTERM');
      await Promise.all([dvcqg.close(), emc.close()]);
    }
  }, 60_000);
});
