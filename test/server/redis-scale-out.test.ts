import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { startDvcqgSim } from '../../src/sim/dvcqg/server.js';
import { startEmcSim } from '../../src/sim/emc/server.js';
import { startChildHub, type ChildHub } from '../support/child-hub.js';
import { tempDataDir } from '../support/hub.js';
import { REDIS_URL, requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';

const available = await requireService('Redis', REDIS_URL);

/** Two hub processes on one Redis share the deliveries: each is delivered once, none twice. */
describe.runIf(available)('scale-out on Redis (BullMQ)', () => {
  it('two hub processes deliver every message exactly once between them', async () => {
    const prefix = `lt-test-${randomUUID().slice(0, 8)}`;
    const dvcqg = await startDvcqgSim({ port: 0, latencyMs: 5 });
    const emc = await startEmcSim({ port: 0, latencyMs: 5 });
    const common = {
      REDIS_URL, LIENTHONG_REDIS_PREFIX: prefix, LIENTHONG_DATA_KEY: randomBytes(32).toString('base64'), DVCQG_URL: dvcqg.url, EMC_URL: emc.url,
      LIENTHONG_DELIVERY_CONCURRENCY: '8', DVCQG_RETRY_INITIAL_DELAY: '100ms', EMC_RETRY_INITIAL_DELAY: '100ms',
    };
    const hubs: ChildHub[] = [];
    try {
      hubs.push(await startChildHub({ ...common, LIENTHONG_DATA_DIR: tempDataDir() }));
      hubs.push(await startChildHub({ ...common, LIENTHONG_DATA_DIR: tempDataDir() }));
      const total = 100;
      const sends = Array.from({ length: total }, (_, i) => {
        const hub = hubs[i % 2]!;
        const code = `000.00.14.H56-250306-${String(3000 + Math.floor(i / 2))}`;
        return request(`${hub.url}/v1/in/onegate-h56/dossier-status`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ maHoSo: code, trangThai: i % 2 ? '4' : '2', thoiDiem: `06/03/2025 11:${String(10 + (i % 2)).padStart(2, '0')}`, kenh: '2', chucDanh: 'Chuyên viên', phongBan: 'Bộ phận một cửa (mẫu)', noiDungXuLy: 'Xử lý hồ sơ', ngayBatDau: '05/03/2025 08:00', hanXuLy: '19/03/2025 17:00', maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)', nguoiXuLy: 'Trần Văn Thử' }),
        }).then(async (res) => ({ status: res.statusCode, body: await res.body.json() }));
      });
      const answers = await Promise.all(sends);
      expect(answers.every((a) => a.status === 202)).toBe(true);
      const ok = () => dvcqg.received().filter((r) => r.service === 'CapNhatTienDoHoSoMC' && r.outcome === 'ok');
      await waitFor(() => ok().length === total && emc.received().filter((r) => r.outcome === 'ok').length === total, 60_000, `${total} deliveries to each destination`);
      await new Promise((r) => setTimeout(r, 500));
      // No double delivery: no delivery id reached a simulator twice.
      expect(dvcqg.received().filter((r) => r.outcome === 'duplicate')).toEqual([]);
      expect(emc.received().filter((r) => r.outcome === 'duplicate')).toEqual([]);
      expect(ok()).toHaveLength(total);
      // Both processes did part of the work.
      const attempts = await Promise.all(hubs.map(async (h) => {
        const text = await (await request(`${h.url}/metrics`)).body.text();
        return [...text.matchAll(/lienthong_delivery_attempts_total\{[^}]*outcome="delivered"\} (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
      }));
      expect(attempts.every((n) => n > 0), `attempts per hub: ${attempts.join(', ')}`).toBe(true);
      expect(attempts.reduce((a, b) => a + b, 0)).toBe(2 * total);
    } finally {
      await Promise.all(hubs.map((h) => h.kill('SIGTERM')));
      await Promise.all([dvcqg.close(), emc.close()]);
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
  }, 120_000);
});
