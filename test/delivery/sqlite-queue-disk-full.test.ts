import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import type { AcceptMessage } from '../../src/delivery/types.js';
import { fillDisk, freeDisk, withConnections } from '../store/sqlite-connections.js';

const sealer = createSealer(randomBytes(32));

const message = (id: string, payload = '{}'): AcceptMessage => ({
  messageId: id, deliveries: [{ id: `${id}-d`, messageId: id, routeId: 'r', destination: 'x.y', orderingKey: '', payload, acceptedAt: 1 }],
});

describe('embedded SQLite queue on a full disk', () => {
  it('fails every write of a group commit that SQLite rolled back with SQLITE_FULL, commits none of them alone, and accepts once there is room', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-queue-full-'));
    const file = join(dir, 'queue.sqlite');
    const { opened: queue, connection } = await withConnections(() => openSqliteQueue({ file, sealer }));
    try {
      const db = connection(file);
      fillDisk(db);
      // One event-loop turn, one transaction: the large payload (random, so it needs pages of its own) fills the
      // database, and SQLite rolls the whole transaction back, the small write before it included.
      const results = await Promise.allSettled([
        queue.accept(message('before')),
        queue.accept(message('large', randomBytes(48_000).toString('base64'))),
        queue.accept(message('after')),
      ]);
      expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'accepted'))).toEqual(['SQLITE_FULL', 'SQLITE_FULL', 'SQLITE_FULL']);
      expect(await queue.counts()).toMatchObject({ ready: 0 });

      freeDisk(db);
      await expect(queue.accept(message('after'))).resolves.toMatchObject({ messageId: 'after', duplicate: false });
      expect(await queue.counts()).toMatchObject({ ready: 1 });
    } finally {
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
