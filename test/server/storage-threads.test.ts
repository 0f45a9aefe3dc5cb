import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStorage } from '../../src/server/storage.js';
import type { MessageRecord } from '../../src/store/types.js';

/** The storage threads as the hub opens them (embedded SQLite), through their main-thread stand-ins. */
describe('storage threads', () => {
  it('answers every call made before close() as it ended in the thread: a committed write is not reported as failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-storage-'));
    try {
      const storage = await openStorage({ dataKey: randomBytes(32).toString('base64'), queue: { sqliteFile: join(dir, 'queue.sqlite') }, log: { sqliteFile: join(dir, 'log.sqlite') } }, () => undefined);
      const record = (i: number): MessageRecord => ({
        id: `msg-${i}`, messageType: 'DossierStatusChanged', routeId: 'dossier-status', participant: 'VN/GOV/000.00.00.H56/MOTCUA', connector: 'onegate-h56',
        operation: 'dossier-status', correlationId: `corr-${i}`, receivedAt: Date.now(), state: 'accepted', deliveries: 1, payload: '{"maHoSo":"000.00.14.H56-250307-00001"}',
      });
      const writes = [1, 2, 3, 4, 5].map((i) => storage.messageLog.recordMessage(record(i)));
      const accept = storage.queue!.accept({ messageId: 'msg-1', deliveries: [{ id: 'd-1', messageId: 'msg-1', routeId: 'dossier-status', destination: 'emc.TrackingMCDT', orderingKey: '', payload: '{}', acceptedAt: Date.now() }] });
      await storage.close();
      const settled = await Promise.allSettled([...writes, accept]);
      expect(settled.map((s) => s.status)).toEqual(Array(6).fill('fulfilled'));

      const again = await openStorage({ dataKey: randomBytes(32).toString('base64'), queue: { sqliteFile: join(dir, 'queue.sqlite') }, log: { sqliteFile: join(dir, 'log.sqlite') } }, () => undefined);
      expect((await again.messageLog.search({ limit: 10 })).items).toHaveLength(5);
      expect((await again.queue!.counts()).ready).toBe(1);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
