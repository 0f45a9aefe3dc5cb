import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import { createInboundPipeline, fingerprintOf } from '../../src/pipeline/inbound.js';
import type { MessageLog } from '../../src/store/types.js';
import { createAccessRights } from '../../src/trust/access.js';
import { loadShipped } from '../support/hub.js';

/** The async acceptance of the shipped dossier-status route, on a real embedded queue, with a message log that fails. */
describe('accepting an async message', () => {
  const status = JSON.stringify({
    maHoSo: '000.00.14.H56-250307-00001', trangThai: '2', thoiDiem: '07/03/2025 08:00', kenh: '2', nguoiXuLy: 'Trần Văn Thử', chucDanh: 'Chuyên viên',
    phongBan: 'Bộ phận một cửa (mẫu)', noiDungXuLy: 'Xử lý hồ sơ', ngayBatDau: '07/03/2025 08:00', hanXuLy: '21/03/2025 17:00', maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)',
  });

  it('answers 202 once the deliveries are durable even if the log row fails, and writes the row again until the log takes it', async () => {
    const registry = loadShipped();
    const queue = openSqliteQueue({ file: ':memory:', sealer: createSealer(randomBytes(32)) });
    const rows: Array<{ id: string; state: string }> = [];
    let failuresLeft = 2;
    const messageLog = {
      async recordMessage(row: { id: string; state: string }) {
        if (failuresLeft-- > 0) throw new Error('the message log is unavailable');
        rows.push(row);
      },
    } as unknown as MessageLog;
    const errors: string[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => errors.push(JSON.parse(line).msg as string) });
    const pipeline = createInboundPipeline({ registry, peers: new Map(), log, queue, messageLog, access: createAccessRights(registry.hub.access) });
    try {
      const outcome = await pipeline({ connectorId: 'onegate-h56', operationId: 'dossier-status', body: Buffer.from(status), requestId: 'req-1', correlationId: 'corr-1' });
      expect(outcome.error).toBeUndefined();
      expect(outcome.reply?.status).toBe(202);
      expect((await queue.counts()).ready).toBe(2);
      await expect.poll(() => rows, { timeout: 5_000 }).toEqual([expect.objectContaining({ id: outcome.messageId, state: 'accepted' })]);
      expect(errors).toEqual(['message log write failed after the message was accepted; writing it again', 'message log write failed again; it will be written later']);
    } finally {
      await queue.close();
    }
  });

  it("fingerprints what the caller asked for: not the hub's stamps, nor key order; any other field counts", () => {
    const message = { messageType: 'DossierStatusChanged', source: 'H56', dossierCode: 'D-1', status: '2', at: '2025-03-07T08:00:00+07:00', handler: { name: 'Trần Văn Thử', title: 'Chuyên viên' } };
    const stamped = { ...message, messageId: 'm-1', occurredAt: '2025-03-07T08:00:01+07:00', correlationId: 'c-1' };
    const fingerprint = fingerprintOf(stamped);
    expect(fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    // a retry: new stamps, members in another order
    expect(fingerprintOf({ correlationId: 'c-2', handler: { title: 'Chuyên viên', name: 'Trần Văn Thử' }, occurredAt: '2025-03-07T09:00:00+07:00', messageId: 'm-2', at: message.at, status: '2', dossierCode: 'D-1', source: 'H56', messageType: 'DossierStatusChanged' })).toBe(fingerprint);
    // another event
    expect(fingerprintOf({ ...stamped, status: '4' })).not.toBe(fingerprint);
    expect(fingerprintOf({ ...stamped, handler: { ...message.handler, name: 'Lê Thị Mẫu' } })).not.toBe(fingerprint);
  });
});
