import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHub, type Hub } from '../../src/server/hub.js';
import { createLogger } from '../../src/server/logger.js';
import { LogCapture, hubEnv, loadShipped, tempDataDir } from '../support/hub.js';

/**
 * The admin API's corner cases: page sizes (1 and up, alike on dead letters and messages; 0 refused rather than
 * answered with nothing or with something else), a replay naming the ids that are no dead letter, an empty id,
 * and a body that is not JSON (415). Loopback caller, no token.
 */
describe('admin API paging, replay and bodies', () => {
  let hub: Hub;
  const dataDir = tempDataDir();

  beforeAll(async () => {
    const env = { LIENTHONG_DATA_DIR: dataDir };
    hub = await createHub({ registry: loadShipped(env), log: createLogger({ level: 'info', destination: new LogCapture() }), env: hubEnv(env), workers: false });
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const get = (url: string) => hub.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1' });
  const post = (url: string, payload: string, contentType = 'application/json') => hub.app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType }, remoteAddress: '127.0.0.1' });

  async function deadLetter(): Promise<string> {
    const queue = hub.queue!;
    const messageId = randomUUID();
    const id = randomUUID();
    const accepted = await queue.accept({
      messageId,
      deliveries: [{ id, messageId, routeId: 'admin-api-test', destination: 'emc.TrackingMCDT', orderingKey: '', payload: JSON.stringify({ test: 'admin-api' }), acceptedAt: Date.now() }],
      lease: { workerId: 'admin-api-test', leaseMs: 60_000, limit: 1 },
    });
    const leased = accepted.leased!.find((l) => l.id === id)!;
    await queue.deadLetter(id, leased.lease, 'kiểm thử');
    return id;
  }

  it('refuses limit=0 alike on dead letters and messages, naming the range', async () => {
    await deadLetter();
    for (const [url, max] of [['/admin/dead-letters?limit=0', 9999], ['/admin/messages?limit=0', 999]] as const) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json()).toMatchObject({ type: 'client.schema-violation', detail: [{ field: 'limit', reason: expect.stringContaining(`from 1 to ${max}`) }] });
    }
    expect((await get('/admin/dead-letters?limit=1')).json().items).toHaveLength(1);
    expect((await get('/admin/messages?limit=1')).statusCode).toBe(200);
  });

  it('refuses a replay filter with limit 0 rather than replaying nothing', async () => {
    const res = await post('/admin/dead-letters/replay', JSON.stringify({ filter: { destination: 'emc.TrackingMCDT', limit: '0' } }));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ type: 'client.schema-violation', detail: [{ field: 'filter.limit' }] });
  });

  it('names the ids a replay found no dead letter for', async () => {
    const id = await deadLetter();
    const res = await post('/admin/dead-letters/replay', JSON.stringify({ ids: [id, 'khong-co'] }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ replayed: 1, requested: 2, notFound: ['khong-co'] });
    // When every id was found, there is nothing to name.
    const again = await post('/admin/dead-letters/replay', JSON.stringify({ ids: [await deadLetter()] }));
    expect(again.json()).toEqual({ replayed: 1, requested: 1 });
  });

  it('refuses an empty id (400), not "no message " (404)', async () => {
    for (const url of ['/admin/messages/', '/admin/dead-letters/']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json()).toMatchObject({ type: 'client.schema-violation', detail: [{ field: 'id', code: 'minLength' }] });
    }
    const discard = await post('/admin/dead-letters//discard', JSON.stringify({ reason: 'kiểm thử' }));
    expect(discard.statusCode).toBe(400);
  });

  it('refuses a body that is not JSON with 415, and leaves the dead letter as it was', async () => {
    const id = await deadLetter();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await post('/admin/dead-letters/replay', JSON.stringify({ ids: [id] }), type);
      expect(res.statusCode, type).toBe(415);
      expect(res.json()).toMatchObject({ type: 'client.unsupported-media-type' });
    }
    expect(await hub.queue!.getDead(id)).toMatchObject({ id, state: 'dead' });
  });
});
