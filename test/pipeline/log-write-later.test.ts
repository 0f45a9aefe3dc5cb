import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { findOperation, serviceOf } from '../../src/config/registry.js';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import type { QueueDriver } from '../../src/delivery/types.js';
import { createFederatedPipeline } from '../../src/pipeline/federated.js';
import { createInboundPipeline } from '../../src/pipeline/inbound.js';
import { LateWrites } from '../../src/pipeline/write-later.js';
import type { MessageLog, MessageRecord } from '../../src/store/types.js';
import { createAccessRights } from '../../src/trust/access.js';
import type { HubTrust } from '../../src/trust/hub-trust.js';
import type { VerifiedMessage } from '../../src/trust/message-signature.js';
import { loadShipped } from '../support/hub.js';

/** A message log that refuses the first `failures` writes (e.g. a full disk that is then cleared), then keeps the rows. */
function refusingLog(failures: number) {
  const rows: MessageRecord[] = [];
  let left = failures;
  const messageLog = {
    async recordMessage(row: MessageRecord) {
      if (left-- > 0) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      rows.push(row);
    },
  } as unknown as MessageLog;
  return { rows, messageLog };
}

function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) }) };
}

const STATUS = {
  maHoSo: '000.00.14.H56-250307-00002', trangThai: '2', thoiDiem: '07/03/2025 08:00', kenh: '2', nguoiXuLy: 'Trần Văn Thử', chucDanh: 'Chuyên viên',
  phongBan: 'Bộ phận một cửa (mẫu)', noiDungXuLy: 'Xử lý hồ sơ', ngayBatDau: '07/03/2025 08:00', hanXuLy: '21/03/2025 17:00', maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)',
};

describe('message log records the log refuses are written later, never dropped', () => {
  it('inbound: the row of a rejected request is written once the log takes it', async () => {
    const registry = loadShipped();
    const { rows, messageLog } = refusingLog(2);
    const { log } = capturingLog();
    const pipeline = createInboundPipeline({ registry, peers: new Map(), log, messageLog, access: createAccessRights(registry.hub.access) });
    const outcome = await pipeline({ connectorId: 'onegate-h56', operationId: 'dossier-status', body: Buffer.from('{"maHoSo":'), requestId: 'req-1', correlationId: 'corr-1' });
    expect(outcome.error?.status).toBe(400);
    await expect.poll(() => rows, { timeout: 5_000 }).toEqual([expect.objectContaining({ id: outcome.messageId, state: 'rejected', reason: expect.stringMatching(/^client\.bad-json: /) })]);
  });

  it('at shutdown, a record the log still refuses gets one last try, then is named (message id and state, no payload)', async () => {
    const registry = loadShipped();
    const { rows, messageLog } = refusingLog(Infinity);
    const { lines, log } = capturingLog();
    const lateWrites = new LateWrites(log);
    const pipeline = createInboundPipeline({ registry, peers: new Map(), log, messageLog, access: createAccessRights(registry.hub.access), lateWrites });
    const outcome = await pipeline({ connectorId: 'onegate-h56', operationId: 'dossier-status', body: Buffer.from('{"maHoSo":'), requestId: 'req-2', correlationId: 'corr-2' });
    await expect.poll(() => lateWrites.size).toBe(1);
    await lateWrites.flush();
    expect(rows).toEqual([]);
    const named = lines.find((l) => l.msg === '1 message log record could not be written before shutdown; their messages have no row, or an earlier state, in the log');
    expect(named?.unwritten).toEqual([{ messageId: outcome.messageId, state: 'rejected' }]);
  });

  it('federated: the row of a refused message is written once the log takes it', async () => {
    const registry = loadShipped();
    const { rows, messageLog } = refusingLog(2);
    const { log } = capturingLog();
    const federated = createFederatedPipeline({ registry, peers: new Map(), messageLog, log });
    const reply = await federated({ service: 'VN/GOV/000.00.00.G22/DVCQG/CapNhatTienDoHoSoMC', headers: {}, body: Buffer.from('{}'), requestId: 'req-3' });
    expect(reply.status).toBe(404);
    await expect.poll(() => rows, { timeout: 5_000 }).toEqual([expect.objectContaining({ id: reply.messageId, state: 'rejected' })]);
  });

  it('federated: an async message stored durably is answered 202 even when its row fails, and the row follows', async () => {
    const registry = loadShipped();
    // The canonical event another hub would send: what this hub's own inbound pipeline makes of a one-stop status.
    let canonical = '';
    const capture = { accept: async (m: Parameters<QueueDriver['accept']>[0]) => { canonical = m.deliveries[0]!.payload; return { messageId: m.messageId, duplicate: false }; } } as unknown as QueueDriver;
    const inbound = createInboundPipeline({ registry, peers: new Map(), log: pino({ level: 'silent' }), queue: capture, access: createAccessRights(registry.hub.access) });
    expect((await inbound({ connectorId: 'onegate-h56', operationId: 'dossier-status', body: Buffer.from(JSON.stringify(STATUS)), requestId: 'req-4', correlationId: 'corr-4' })).reply?.status).toBe(202);

    const target = findOperation(registry, 'dvcqg.CapNhatTienDoHoSoMC')!;
    const service = serviceOf(target.connector, target.operation);
    const client = 'VN/GOV/000.00.00.H56/LIENTHONG';
    const trust = {
      participant: 'VN/GOV/000.00.00.G22/NGSP',
      verify: async () => ({ messageId: 'their-1', client, participant: client, service, time: new Date(), requestHash: 'sha-256=:x:', idempotencyKey: 'their-delivery-1' }) as unknown as VerifiedMessage,
      sign: async () => ({}),
    } as unknown as HubTrust;
    const queue = openSqliteQueue({ file: ':memory:', sealer: createSealer(randomBytes(32)) });
    const { rows, messageLog } = refusingLog(1);
    const { lines, log } = capturingLog();
    const federated = createFederatedPipeline({ registry, trust, access: { check: () => ({ allowed: true }) } as never, peers: new Map(), queue, messageLog, log });
    try {
      const reply = await federated({ service, headers: {}, body: Buffer.from(canonical), requestId: 'req-5' });
      expect(reply.status, reply.body).toBe(202);
      expect(JSON.parse(reply.body)).toMatchObject({ messageId: reply.messageId, status: 'accepted' });
      expect((await queue.counts()).ready).toBe(1);
      await expect.poll(() => rows, { timeout: 5_000 }).toEqual([expect.objectContaining({ id: reply.messageId, state: 'accepted', deliveries: 1 })]);
      expect(lines.map((l) => l.msg)).toContain('message log write failed after the message was accepted; writing it again');
    } finally {
      await queue.close();
    }
  });

  it('tells a long outage in a few lines, not one per record and retry, and says when all are written', async () => {
    const { lines, log } = capturingLog();
    const lateWrites = new LateWrites(log);
    let down = true;
    const written: number[] = [];
    for (let i = 0; i < 40; i++) {
      lateWrites.add(async () => {
        if (down) throw new Error('database or disk is full');
        written.push(i);
      }, { messageId: `m-${i}`, state: 'accepted' });
    }
    // Two rounds of retries (after 0.5 s, then 1 s more) fail for all 40 records.
    await new Promise((r) => setTimeout(r, 1_700));
    down = false;
    await expect.poll(() => written.length, { timeout: 5_000 }).toBe(40);
    const again = lines.filter((l) => l.msg === 'message log write failed again; it will be written later');
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ waiting: 40 });
    expect(lines.filter((l) => l.msg === 'message log records refused earlier are all written')).toEqual([expect.objectContaining({ written: 40 })]);
  });
});
