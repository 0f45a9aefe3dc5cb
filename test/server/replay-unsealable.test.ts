import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import type { QueueDriver } from '../../src/delivery/types.js';
import { createHub, type Hub } from '../../src/server/hub.js';
import { createLogger } from '../../src/server/logger.js';
import { LogCapture, hubEnv, loadShipped, tempDataDir } from '../support/hub.js';

/**
 * A dead letter sealed under another data key (the key was changed) cannot be opened: a replay would only see it die
 * again at its claim, and its message would stay "accepted". The replay leaves it dead and names it.
 */
describe('replaying dead letters this hub cannot open', () => {
  let hub: Hub;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = tempDataDir();
    const env = { LIENTHONG_DATA_DIR: dataDir, LIENTHONG_DATA_KEY: randomBytes(32).toString('base64') };
    hub = await createHub({ registry: loadShipped(env), log: createLogger({ level: 'info', destination: new LogCapture() }), env: hubEnv(env), workers: false });
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function deadLetter(queue: QueueDriver): Promise<string> {
    const messageId = randomUUID();
    const id = randomUUID();
    const accepted = await queue.accept({
      messageId, lease: { workerId: 'replay-test', leaseMs: 60_000, limit: 1 },
      deliveries: [{ id, messageId, routeId: 'dossier-status', destination: 'emc.TrackingMCDT', orderingKey: '', payload: '{"maHoSo":"000.00.14.H56-250304-0007"}', acceptedAt: Date.now() }],
    });
    await queue.deadLetter(id, accepted.leased![0]!.lease, 'kiểm thử');
    return id;
  }

  it('replays the others, leaves it dead, and names it', async () => {
    const readable = await deadLetter(hub.queue!);
    // The same queue file, written by a process with another data key.
    const other = openSqliteQueue({ file: join(dataDir, 'queue.sqlite'), sealer: createSealer(randomBytes(32)) });
    const unreadable = await deadLetter(other);
    await other.close();

    const res = await hub.app.inject({ method: 'POST', url: '/admin/dead-letters/replay', payload: { ids: [readable, unreadable] }, remoteAddress: '127.0.0.1' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ replayed: 1, requested: 2, unsealable: [unreadable] });
    expect(await hub.queue!.getDead(unreadable)).toMatchObject({ id: unreadable, state: 'dead', unsealable: expect.stringMatching(/^server\.unsealable/) });
    expect(await hub.queue!.getDead(readable)).toBeUndefined();
  });
});
