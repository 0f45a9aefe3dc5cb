import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { openMessageLog } from '../../src/store/open.js';
import type { MessageRecord } from '../../src/store/types.js';
import { fillDisk, freeDisk, withConnections } from './sqlite-connections.js';

const sealer = createSealer(randomBytes(32));

const record = (id: string, payload?: string): MessageRecord => ({
  id, messageType: 'DossierStatusChanged', routeId: 'dossier-status', participant: 'VN/GOV/000.00.00.H56/MOTCUA', connector: 'onegate-h56',
  operation: 'dossier-status', correlationId: `corr-${id}`, receivedAt: Date.now(), state: 'accepted', deliveries: 1, payload,
});

/** Random text does not compress: it needs pages of its own (overflow pages), which a full database cannot add. */
const large = () => randomBytes(48_000).toString('base64');

describe('message log on a full disk (SQLite)', () => {
  it('fails a write with the error that says why (SQLITE_FULL), not with the ROLLBACK that SQLite made fail, and writes once there is room', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-log-full-'));
    const file = join(dir, 'log.sqlite');
    const { opened: log, connection } = await withConnections(() => openMessageLog({ sqliteFile: file, sealer, batchWindowMs: 0 }));
    try {
      const db = connection(file);
      fillDisk(db);
      // One batch: it fails as a whole, then each write is tried alone; the small one fits in the pages there are.
      const small = log.recordMessage(record('msg-small'));
      const big = log.recordMessage(record('msg-big', large()));
      await expect(small).resolves.toBeUndefined();
      await expect(big).rejects.toMatchObject({ code: 'SQLITE_FULL', message: 'database or disk is full' });
      expect(log.stats().failedBatches).toBe(1);

      freeDisk(db);
      await log.recordMessage(record('msg-big', large()));
      expect((await log.search({})).items.map((m) => m.id).sort()).toEqual(['msg-big', 'msg-small']);
      expect((await log.history('msg-big'))?.message.state).toBe('accepted');
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
