import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import type { QueueDriver } from '../../src/delivery/types.js';
import { adminRoutes } from '../../src/server/admin.js';
import { openMessageLog } from '../../src/store/open.js';
import type { StoreMessageLog } from '../../src/store/log.js';

/**
 * The admin replay writes `replayed` for every dead letter it looked at, before the queue moves them. When something
 * else ended the dead letter in between (another replay, delivered since; a discard), that `replayed` must re-open
 * nothing: the message keeps the state its deliveries ended in. Real embedded queue and message log; one replay
 * request is paused just after its look, as a slow request would be.
 */
describe('admin replay racing another replay or a discard', () => {
  const sealer = createSealer(randomBytes(32));
  let dir: string; let queue: QueueDriver; let log: StoreMessageLog; let app: FastifyInstance;
  let holdGetDead: Promise<void> | undefined; let reachedGetDead: (() => void) | undefined;

  async function setUp() {
    dir = mkdtempSync(join(tmpdir(), 'race-'));
    queue = openSqliteQueue({ file: ':memory:', sealer });
    log = await openMessageLog({ sqliteFile: join(dir, 'log.db'), sealer });
    const wrapped: QueueDriver = {
      ...queue,
      // the replay handler's look at a dead letter: returns what it saw, then (when asked) waits before going on
      getDead: async (id) => {
        const seen = await queue.getDead(id);
        const hold = holdGetDead; holdGetDead = undefined;
        if (hold) { reachedGetDead?.(); await hold; }
        return seen;
      },
    };
    app = Fastify();
    await app.register(adminRoutes, { queue: wrapped, messageLog: log });
    await app.ready();
  }
  afterEach(async () => { await app?.close(); await queue?.close(); await log?.close(); rmSync(dir, { recursive: true, force: true }); });

  async function deadMessage() {
    const messageId = randomUUID(); const id = randomUUID();
    await log.recordMessage({ id: messageId, messageType: 'T', participant: 'p', connector: 'c', operation: 'o', correlationId: messageId, receivedAt: Date.now(), state: 'accepted', deliveries: 1 });
    await queue.accept({ messageId, deliveries: [{ id, messageId, routeId: 'r', destination: 'x.y', orderingKey: '', payload: '{}', acceptedAt: Date.now() }] });
    const [d] = await queue.claim('w', 1, 30_000);
    await log.recordEvents([{ messageId, deliveryId: id, destination: 'x.y', at: Date.now(), kind: 'dead-lettered', reason: 'boom' }]);
    await queue.deadLetter(id, d!.lease!, 'boom');
    await log.settle([messageId]);
    return { messageId, id };
  }
  const state = async (messageId: string) => (await log.history(messageId))!.message.state;
  const post = (url: string, body: unknown) => app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' }, remoteAddress: '127.0.0.1' });
  const paused = () => { let release!: () => void; holdGetDead = new Promise<void>((r) => { release = r; }); const reached = new Promise<void>((r) => { reachedGetDead = r; }); return { release, reached }; };

  it('a replay that comes too late, after another replay was delivered, leaves the message delivered', async () => {
    await setUp();
    const { messageId, id } = await deadMessage();
    expect(await state(messageId)).toBe('dead-lettered');
    // Operator B clicks replay; its handler has looked at the dead letter and is paused just after.
    const gate = paused();
    const b = post('/admin/dead-letters/replay', { ids: [id] });
    await gate.reached;
    // Operator A's replay runs through, and the worker delivers the replayed delivery.
    expect((await post('/admin/dead-letters/replay', { ids: [id] })).json()).toEqual({ replayed: 1, requested: 1 });
    const [again] = await queue.claim('w', 1, 30_000);
    await log.recordEvents([{ messageId, deliveryId: id, destination: 'x.y', at: Date.now(), kind: 'delivered', succeeded: true }]);
    await queue.complete(id, again!.lease!);
    await log.settle([messageId]);
    expect(await state(messageId)).toBe('delivered');
    // B goes on: nothing is dead any more, the queue moves nothing ...
    gate.release();
    expect((await b).json()).toEqual({ replayed: 0, requested: 1 });
    expect(await queue.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
    // ... and its late `replayed` re-opens nothing: the message stays delivered.
    expect((await log.history(messageId))!.events.map((e) => e.kind)).toEqual(['received', 'accepted', 'dead-lettered', 'replayed', 'delivered', 'replayed']);
    expect(await state(messageId)).toBe('delivered');
  });

  it('a replay that comes too late, after a discard, leaves the message discarded', async () => {
    await setUp();
    const { messageId, id } = await deadMessage();
    const gate = paused();
    const replay = post('/admin/dead-letters/replay', { ids: [id] });
    await gate.reached;
    expect((await post(`/admin/dead-letters/${id}/discard`, { reason: 'không cần nữa' })).statusCode).toBe(200);
    expect(await state(messageId)).toBe('discarded');
    gate.release();
    expect((await replay).json()).toEqual({ replayed: 0, requested: 1 });
    expect(await state(messageId)).toBe('discarded');
  });
  it('replays one dossier\'s dead letters in the order they were accepted, whatever order they died in', async () => {
    await setUp();
    const t0 = Date.now();
    const dead: string[] = [];
    for (const [n, acceptedAt] of [[1, t0 - 2_000], [2, t0 - 1_000]] as const) {
      const messageId = randomUUID(); const id = `d${n}-${randomUUID()}`;
      await queue.accept({ messageId, deliveries: [{ id, messageId, routeId: 'r', destination: 'x.y', orderingKey: 'HS-1', payload: JSON.stringify({ status: n }), acceptedAt }] });
      dead.push(id);
    }
    for (let i = 0; i < 2; i++) {
      const [claimed] = await queue.claim('w', 1, 30_000);
      await queue.deadLetter(claimed!.id, claimed!.lease!, 'budget spent');
    }
    // The first is tried alone and dies again: it is now the newer dead letter of the two.
    expect((await post('/admin/dead-letters/replay', { ids: [dead[0]] })).json()).toMatchObject({ replayed: 1 });
    const [again] = await queue.claim('w', 1, 30_000);
    await queue.deadLetter(again!.id, again!.lease!, 'still down');
    expect((await queue.listDead({ orderingKey: 'HS-1' })).map((d) => d.id)).toEqual([dead[1], dead[0]]);
    // Named newest first, or selected by filter: back in acceptance order either way.
    for (const selection of [{ ids: [dead[1], dead[0]] }, { filter: { orderingKey: 'HS-1' } }]) {
      expect((await post('/admin/dead-letters/replay', selection)).json()).toMatchObject({ replayed: 2 });
      const order: number[] = [];
      for (let claimed = await queue.claim('w', 1, 30_000); claimed.length; claimed = await queue.claim('w', 1, 30_000)) {
        order.push((JSON.parse(claimed[0]!.payload) as { status: number }).status);
        await queue.deadLetter(claimed[0]!.id, claimed[0]!.lease!, 'down again');
      }
      expect(order).toEqual([1, 2]);
    }
  });
});
