import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { startPopulationSim } from '../../src/sim/population/server.js';
import { cannotWriteCode, type StorageOptions } from '../../src/server/storage.js';
import { startTestHub } from '../support/hub.js';
import { waitFor } from '../support/wait.js';

/**
 * The hub's stores opened in this process instead of storage threads (the same drivers, behind the same watchStorage
 * facade), so that the test can reach their SQLite connections: `PRAGMA query_only` makes a store refuse every write
 * with SQLITE_READONLY, as a read-only file system would, and lifting it lets writes succeed again.
 */
const opened = vi.hoisted(() => ({ last: undefined as undefined | { queue?: import('better-sqlite3').Database; log: import('better-sqlite3').Database } }));
vi.mock('../../src/server/storage.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/server/storage.js')>();
  const { createSealer } = await import('../../src/core/seal.js');
  const { openSqliteQueue } = await import('../../src/delivery/sqlite-queue.js');
  const { openMessageLog } = await import('../../src/store/open.js');
  const { withConnections } = await import('../store/sqlite-connections.js');
  return {
    ...real,
    openStorage: async (options: StorageOptions) => {
      const sealer = createSealer(Buffer.from(options.dataKey, 'base64'));
      const { opened: stores, connection } = await withConnections(async () => ({
        queue: options.queue && openSqliteQueue({ file: options.queue.sqliteFile, sealer }),
        messageLog: await openMessageLog({ ...options.log, sealer }),
      }));
      opened.last = { queue: options.queue && connection(options.queue.sqliteFile), log: connection(options.log.sqliteFile) };
      const { queue, messageLog } = stores;
      return real.watchStorage({ queue, messageLog }, { failure: () => undefined, close: async () => { await queue?.close(); await messageLog.close(); } });
    },
  };
});

type Hub = Awaited<ReturnType<typeof startTestHub>>;

async function call(url: string, body?: unknown) {
  const res = await request(url, body === undefined ? { method: 'GET' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

let seq = 0;
const status = () => ({
  maHoSo: `000.00.14.H56-250304-${String(7000 + ++seq)}`, trangThai: '4', thoiDiem: '04/03/2025 09:15', maThuTuc: '1.001234', tenThuTuc: 'Đăng ký (mẫu)', kenh: '2',
  nguoiXuLy: 'Trần Văn Thử', chucDanh: 'Chuyên viên', phongBan: 'Bộ phận một cửa (mẫu)', noiDungXuLy: 'Xử lý hồ sơ', ngayBatDau: '04/03/2025 08:00', hanXuLy: '18/03/2025 17:00',
});
const lookup = { soDinhDanh: '038095999901', mucDich: 'Kiểm thử' };

describe('a hub whose storage cannot write', () => {
  let sim: Awaited<ReturnType<typeof startPopulationSim>>;
  let hub: Hub;
  let connections: NonNullable<typeof opened.last>;

  beforeAll(async () => {
    sim = await startPopulationSim({ host: '127.0.0.1', port: 0 });
    // Nothing listens at the delivery destinations: deliveries wait in the queue, retried.
    hub = await startTestHub({ CSDLDC_URL: sim.url, DVCQG_URL: 'http://127.0.0.1:9', EMC_URL: 'http://127.0.0.1:9' });
    connections = opened.last!;
  });
  afterAll(async () => {
    await hub?.close();
    await sim?.close();
  });

  it('answers an async message the queue cannot store with a retryable 503 server.unavailable, and is not ready until the queue writes again', async () => {
    expect((await call(`${hub.url}/ready`)).status).toBe(200);
    connections.queue!.pragma('query_only = 1');
    try {
      const refused = await call(`${hub.url}/v1/in/onegate-h56/dossier-status`, status());
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ type: 'server.unavailable', status: 503, detail: [{ reason: 'the delivery queue cannot write', code: 'storage-cannot-write' }] });
      const ready = await call(`${hub.url}/ready`);
      expect(ready.status).toBe(503);
      expect(ready.body.message).toContain('the delivery queue cannot write (SQLITE_READONLY)');
      // The log took the failure, with the reason.
      const history = await waitFor(async () => {
        const h = await call(`${hub.url}/admin/messages/${refused.headers['x-message-id']}`);
        return h.status === 200 && h.body;
      }, 5_000, 'the failed message in the log');
      expect(history.message).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^server\.unavailable: /) });
    } finally {
      connections.queue!.pragma('query_only = 0');
    }
    expect((await call(`${hub.url}/v1/in/onegate-h56/dossier-status`, status())).status).toBe(202);
    expect((await call(`${hub.url}/ready`)).status).toBe(200);
  });

  it('answers a lookup while the log cannot write, is not ready meanwhile, and writes the lookup\'s record (and a rejection\'s) once the log can', async () => {
    connections.log.pragma('query_only = 1');
    let looked: Awaited<ReturnType<typeof call>>;
    let rejected: Awaited<ReturnType<typeof call>>;
    try {
      looked = await call(`${hub.url}/v1/in/onegate-h56/citizen-lookup`, lookup);
      expect(looked.status).toBe(200);
      rejected = await call(`${hub.url}/v1/in/onegate-h56/citizen-lookup`, { soDinhDanh: '099095999901', mucDich: 'Kiểm thử' });
      expect(rejected.status).toBe(400);
      // The lookup's record is written after the answer: /ready turns once it failed.
      await waitFor(async () => (await call(`${hub.url}/ready`)).status === 503, 5_000, '/ready to answer 503');
      expect((await call(`${hub.url}/ready`)).body.message).toContain('the message log cannot write (SQLITE_READONLY)');
      expect((await call(`${hub.url}/admin/messages/${looked.headers['x-message-id']}`)).status).toBe(404);
    } finally {
      connections.log.pragma('query_only = 0');
    }
    const written = async (id: unknown, state: string) => {
      const h = await call(`${hub.url}/admin/messages/${id}`);
      return h.status === 200 && h.body.message.state === state;
    };
    await waitFor(() => written(looked.headers['x-message-id'], 'delivered'), 10_000, 'the lookup\'s record');
    await waitFor(() => written(rejected.headers['x-message-id'], 'rejected'), 10_000, 'the rejection\'s record');
    expect((await call(`${hub.url}/ready`)).status).toBe(200);
  });

  it('names at shutdown the records the log still refuses', async () => {
    const other = await startTestHub({ CSDLDC_URL: sim.url });
    const looked = await call(`${other.url}/v1/in/onegate-h56/citizen-lookup`, lookup);
    await waitFor(async () => (await call(`${other.url}/admin/messages/${looked.headers['x-message-id']}`)).status === 200, 5_000, 'the first lookup\'s record');
    opened.last!.log.pragma('query_only = 1');
    const refused = await call(`${other.url}/v1/in/onegate-h56/citizen-lookup`, lookup);
    expect([looked.status, refused.status]).toEqual([200, 200]);
    await waitFor(() => other.logs.records().some((r) => r.msg === 'message log write failed; the record will be written later'), 5_000, 'the refused write');
    await other.close();
    const named = other.logs.records().find((r) => typeof r.msg === 'string' && r.msg.includes('could not be written before shutdown'));
    expect(named?.unwritten).toEqual([{ messageId: refused.headers['x-message-id'], state: 'delivered' }]);
  });
});

describe('which errors say that a store cannot write', () => {
  it('SQLite full, read-only, I/O and cannot-open errors; PostgreSQL disk full, read-only and I/O errors; Redis OOM, READONLY and MISCONF', () => {
    const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    expect(['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_CANTOPEN'].map((c) => cannotWriteCode(withCode(c)))).toEqual(['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_CANTOPEN']);
    expect(cannotWriteCode(withCode('53100'))).toBe('PostgreSQL 53100');
    expect(cannotWriteCode(new Error("OOM command not allowed when used memory > 'maxmemory'."))).toBe('Redis OOM');
    expect(cannotWriteCode(new Error("READONLY You can't write against a read only replica."))).toBe('Redis READONLY');
    for (const other of [withCode('SQLITE_CONSTRAINT_UNIQUE'), withCode('SQLITE_BUSY'), withCode('23505'), new Error('lease lost'), 'SQLITE_FULL']) expect(cannotWriteCode(other)).toBeUndefined();
  });

  it('a server that cannot be reached: refused or cut connections, PostgreSQL connection and shutdown errors, ioredis giving up', () => {
    const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    expect(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'].map((c) => cannotWriteCode(withCode(c)))).toEqual(['unreachable: ECONNREFUSED', 'unreachable: ECONNRESET', 'unreachable: ETIMEDOUT']);
    expect(['08006', '08001', '57P01'].map((c) => cannotWriteCode(withCode(c)))).toEqual(['PostgreSQL 08006', 'PostgreSQL 08001', 'PostgreSQL 57P01']);
    expect(cannotWriteCode(new Error('Connection is closed.'))).toBe('unreachable: Connection is closed');
    expect(cannotWriteCode(new Error('Reached the max retries per request limit (which is 3). Refer to "maxRetriesPerRequest" option for details.'))).toBe('unreachable: Reached the max retries per request limit');
    expect(cannotWriteCode(new Error('Connection terminated unexpectedly'))).toBe('unreachable: Connection terminated');
    for (const other of [withCode('57014'), withCode('40001'), new Error('connection refused by policy')]) expect(cannotWriteCode(other)).toBeUndefined();
  });
});

describe('a hub whose storage thread stopped', () => {
  it('takes nothing more: every write is a 503 naming the stopped thread, until a restart', async () => {
    const { createSealer } = await import('../../src/core/seal.js');
    const { openSqliteQueue } = await import('../../src/delivery/sqlite-queue.js');
    const { openMessageLog } = await import('../../src/store/open.js');
    const { watchStorage } = await vi.importActual<typeof import('../../src/server/storage.js')>('../../src/server/storage.js');
    const sealer = createSealer(Buffer.alloc(32, 7));
    const queue = openSqliteQueue({ file: ':memory:', sealer });
    const messageLog = await openMessageLog({ sqliteFile: ':memory:', sealer });
    let stopped: Error | undefined;
    const storage = watchStorage({ queue, messageLog }, { failure: () => stopped, close: async () => { await queue.close(); await messageLog.close(); } });
    try {
      const delivery = (messageId: string) => ({ id: `${messageId}-d`, messageId, routeId: 'r', destination: 'emc.TrackingMCDT', orderingKey: '', payload: '{}', acceptedAt: Date.now() });
      expect((await storage.queue!.accept({ messageId: 'm1', deliveries: [delivery('m1')] })).duplicate).toBeFalsy();
      stopped = new Error('the log thread stopped (exit code 1)');
      await expect(storage.queue!.accept({ messageId: 'm2', deliveries: [delivery('m2')] })).rejects.toMatchObject({ type: 'server.unavailable', status: 503, detail: [{ code: 'storage-thread-stopped' }] });
      await expect(storage.messageLog.recordEvents([{ messageId: 'm1', at: Date.now(), kind: 'delivered' }])).rejects.toMatchObject({ status: 503 });
      expect(await queue.counts()).toMatchObject({ ready: 1 }); // m2 was never stored
    } finally {
      await storage.close();
    }
  });
});
