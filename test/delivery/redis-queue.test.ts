import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { durabilityWarningOf, openRedisQueue, REDIS_QUEUE_NAME } from '../../src/delivery/redis-queue.js';
import { REDIS_URL, requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { describeQueueConformance } from './conformance.js';

/**
 * The Redis driver against a real Redis (REDIS_URL, default redis://127.0.0.1:6379). In CI
 * (LIENTHONG_REQUIRE_SERVICES=1) an unreachable Redis fails this file; elsewhere it is skipped, saying so.
 */
const available = await requireService('Redis', REDIS_URL);
const sealer = createSealer(randomBytes(32));
const filePrefix = `lienthong-test-${process.pid}-${randomBytes(3).toString('hex')}`;
let stores = 0;
const errors: Error[] = [];

async function removeKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

async function dump(redis: Redis, prefix: string): Promise<string> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      out.push(key);
      if (type === 'string') out.push((await redis.get(key)) ?? '');
      else if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') out.push(...(await redis.lrange(key, 0, -1)));
      else if (type === 'set') out.push(...(await redis.smembers(key)));
      else if (type === 'zset') out.push(...(await redis.zrange(key, 0, -1)));
      else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return out.join('\n');
}

/**
 * A TCP proxy in front of Redis, for deterministic interleavings. `loseReply`: the next request that matches reaches
 * Redis, but its connection drops instead of passing the reply on (ioredis reconnects and sends the command again).
 * `hold`: the next request that matches, and what follows it on its connection, waits until released.
 */
async function redisProxy() {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let lose: ((request: string) => boolean) | undefined;
  let lost = 0;
  let holding: { match: (request: string) => boolean; reached: () => void; released: Promise<void> } | undefined;
  const server = createServer((down) => {
    const up = connect(Number(target.port || 6379), target.hostname);
    for (const socket of [down, up]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        sockets.delete(socket);
        down.destroy();
        up.destroy();
      });
    }
    let losing = false;
    let forwarded = Promise.resolve();
    down.on('data', (chunk: Buffer) => {
      const request = chunk.toString('latin1');
      forwarded = forwarded.then(async () => {
        const hold = holding?.match(request) ? holding : undefined;
        if (hold) {
          holding = undefined;
          hold.reached();
          await hold.released;
        }
        if (lose?.(request)) {
          lose = undefined;
          losing = true;
        }
        up.write(chunk);
      });
    });
    up.on('data', (chunk: Buffer) => {
      // An error reply (NOSCRIPT: the script is not loaded yet) passes: the EVAL that follows is the command that runs.
      if (losing && chunk[0] !== 0x2d) {
        lost++;
        down.destroy();
      } else {
        down.write(chunk);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(REDIS_URL);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    loseReply(match: (request: string) => boolean) {
      lose = match;
    },
    /** How many replies were lost so far. */
    lost: () => lost,
    hold(match: (request: string) => boolean) {
      let reached!: () => void;
      let release!: () => void;
      const whenReached = new Promise<void>((resolve) => { reached = resolve; });
      holding = { match, reached, released: new Promise<void>((resolve) => { release = resolve; }) };
      return { reached: whenReached, release };
    },
    close() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

describe.runIf(available)('Redis queue', () => {
  let admin: Redis;
  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await removeKeys(admin, filePrefix);
    await admin.quit();
  });

  describeQueueConformance('Redis (BullMQ)', {
    clock: 'real',
    recoveryMs: 500,
    async newStore(clock) {
      const prefix = `${filePrefix}:${++stores}`;
      return {
        open: () => openRedisQueue({ url: REDIS_URL, prefix, sealer, now: () => clock.now(), stalledIntervalMs: 200, sweepIntervalMs: 500, onError: (e) => errors.push(e) }),
        openWithOtherKey: () => openRedisQueue({ url: REDIS_URL, prefix, sealer: createSealer(randomBytes(32)), now: () => clock.now(), stalledIntervalMs: 200, sweepIntervalMs: 500, onError: (e) => errors.push(e) }),
        rawDump: () => dump(admin, prefix),
        destroy: () => removeKeys(admin, prefix),
      };
    },
  });

  describe('Redis queue specifics', () => {
    it('repairs a ticket lost between the atomic write and the job add (crash), on the next open', async () => {
      const prefix = `${filePrefix}:repair`;
      const q = await openRedisQueue({ url: REDIS_URL, prefix, sealer, sweepIntervalMs: 60_000 });
      const bull = new Queue(REDIS_QUEUE_NAME, { connection: { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) }, prefix: `${prefix}:bull` });
      try {
        const base = { messageId: 'm', routeId: 'r', destination: 'x.y', payload: '{}', acceptedAt: Date.now() };
        await q.accept({ messageId: 'm', deliveries: [{ ...base, id: 'k1', orderingKey: 'K' }, { ...base, id: 'k2', orderingKey: 'K' }, { ...base, id: 'u1', orderingKey: '' }] });
        // the crash: tickets never made it (and the outbox was already cleared)
        await bull.remove('k1.1');
        await bull.remove('u1.1');
        await admin.del(`${prefix}:tojob`);
        expect(await q.claim('w', 10, 30_000)).toEqual([]);
        const reopened = await openRedisQueue({ url: REDIS_URL, prefix, sealer, sweepIntervalMs: 60_000 });
        const claimed = await reopened.claim('w', 10, 30_000);
        expect(claimed.map((d) => d.id).sort()).toEqual(['k1', 'u1']);
        await reopened.close();
      } finally {
        await bull.close();
        await q.close();
        await removeKeys(admin, prefix);
      }
    });

    it('repairs a ticket lost without a trace in the outbox while running (a process of another version dropped it)', async () => {
      const prefix = `${filePrefix}:lost`;
      const q = await openRedisQueue({ url: REDIS_URL, prefix, sealer, sweepIntervalMs: 100 });
      const bull = new Queue(REDIS_QUEUE_NAME, { connection: { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) }, prefix: `${prefix}:bull` });
      try {
        await q.accept({ messageId: 'm', deliveries: [{ id: 'u1', messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: '', payload: '{}', acceptedAt: Date.now() }] });
        await bull.remove('u1.1');
        await admin.del(`${prefix}:tojob`);
        // Without a restart: a later sweep's look over pending deliveries finds it ticketless and adds one.
        const deadline = Date.now() + 10_000;
        let claimed: Array<{ id: string }> = [];
        while (!claimed.length && Date.now() < deadline) {
          claimed = await q.claim('w', 10, 30_000);
          if (!claimed.length) await new Promise((r) => setTimeout(r, 100));
        }
        expect(claimed.map((d) => d.id)).toEqual(['u1']);
      } finally {
        await bull.close();
        await q.close();
        await removeKeys(admin, prefix);
      }
    });

    it('repairs from the outbox while running (the periodic sweeper)', async () => {
      const prefix = `${filePrefix}:outbox`;
      const q = await openRedisQueue({ url: REDIS_URL, prefix, sealer, sweepIntervalMs: 100 });
      const bull = new Queue(REDIS_QUEUE_NAME, { connection: { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) }, prefix: `${prefix}:bull` });
      try {
        await q.accept({ messageId: 'm', deliveries: [{ id: 'u1', messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: '', payload: '{}', acceptedAt: Date.now() }] });
        await bull.remove('u1.1');
        await admin.sadd(`${prefix}:tojob`, 'u1'); // as if the process died before adding the ticket
        const deadline = Date.now() + 3_000;
        let claimed: Awaited<ReturnType<typeof q.claim>> = [];
        while (!claimed.length && Date.now() < deadline) {
          claimed = await q.claim('w', 1, 30_000);
          if (!claimed.length) await new Promise((r) => setTimeout(r, 50));
        }
        expect(claimed.map((d) => d.id)).toEqual(['u1']);
        expect(await admin.scard(`${prefix}:tojob`)).toBe(0);
      } finally {
        await bull.close();
        await q.close();
        await removeKeys(admin, prefix);
      }
    });

    it('leases at acceptance without a BullMQ job, and a second instance opening meanwhile neither takes nor repeats them', async () => {
      const prefix = `${filePrefix}:hand-off`;
      // One virtual clock for both instances: the leases' end is a moment the test chooses, not one it sleeps until.
      let clock = Date.now();
      const options = { url: REDIS_URL, prefix, sealer, now: () => clock, stalledIntervalMs: 200, sweepIntervalMs: 200 };
      const tickets = async () => (await admin.keys(`${prefix}:bull:${REDIS_QUEUE_NAME}:h?.?`)).sort();
      const a = await openRedisQueue(options);
      let b: Awaited<ReturnType<typeof openRedisQueue>> | undefined;
      try {
        const base = { messageId: 'm', routeId: 'r', destination: 'x.y', payload: '{}', acceptedAt: clock };
        const accepted = await a.accept({ messageId: 'm', deliveries: [{ ...base, id: 'h1', orderingKey: 'K' }, { ...base, id: 'h2', orderingKey: '' }], lease: { workerId: 'a', leaseMs: 2_000, limit: 2 } });
        expect(accepted.leased?.map((l) => l.id)).toEqual(['h1', 'h2']);
        expect(await admin.keys(`${prefix}:bull:${REDIS_QUEUE_NAME}:h*`)).toEqual([]);
        // b's open walks every pending delivery and gives these tickets, which its gate parks: they are a's
        b = await openRedisQueue(options);
        expect(await tickets()).toEqual([`${prefix}:bull:${REDIS_QUEUE_NAME}:h1.0`, `${prefix}:bull:${REDIS_QUEUE_NAME}:h2.0`]);
        // 1 ms before a's leases end: b's gate still finds them a's, and parks the tickets until then (1 ms, in real time)
        clock += 1_999;
        expect(await b.claim('b', 10, 30_000)).toEqual([]);
        expect(await tickets()).toEqual([`${prefix}:bull:${REDIS_QUEUE_NAME}:h1.0`, `${prefix}:bull:${REDIS_QUEUE_NAME}:h2.0`]);
        for (const { id, lease } of accepted.leased!) await a.complete(id, lease);
        expect(await a.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
        // once the parking ends, the stale tickets are dropped, not handed out: every claim until they are gone is empty
        await waitFor(async () => {
          expect(await b!.claim('b', 10, 30_000)).toEqual([]);
          expect(await a.claim('a', 10, 30_000)).toEqual([]);
          return (await tickets()).length === 0;
        }, 10_000, 'the stale tickets dropped');
        expect(await a.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
      } finally {
        await b?.close();
        await a.close();
        await removeKeys(admin, prefix);
      }
    });

    it('keeps payloads out of BullMQ: tickets carry no data', async () => {
      const prefix = `${filePrefix}:tickets`;
      const q = await openRedisQueue({ url: REDIS_URL, prefix, sealer });
      try {
        await q.accept({ messageId: 'm', deliveries: [{ id: 'u1', messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: '', payload: '{"hoTen":"Trần Thị C"}', acceptedAt: Date.now() }] });
        const job = await admin.hgetall(`${prefix}:bull:${REDIS_QUEUE_NAME}:u1.1`);
        expect(job.data).toBe('{}');
      } finally {
        await q.close();
        await removeKeys(admin, prefix);
      }
    });

    it('takes the next ticket while dropping one (fetch-next), and gives back those it holds when it closes', async () => {
      const prefix = `${filePrefix}:fetch-next`;
      // A long lease and a slow stalled checker: a ticket kept locked by a closed instance would stay stuck for 30 s.
      const options = { url: REDIS_URL, prefix, sealer, stalledIntervalMs: 60_000, sweepIntervalMs: 60_000 };
      const a = await openRedisQueue(options);
      let b: Awaited<ReturnType<typeof openRedisQueue>> | undefined;
      try {
        const base = { messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: '', payload: '{}', acceptedAt: Date.now() };
        await a.accept({ messageId: 'm', deliveries: ['u1', 'u2', 'u3'].map((id) => ({ ...base, id })) });
        const [first] = await a.claim('a', 1, 60_000);
        await a.complete(first!.id, first!.lease!);
        // The next ticket came with the completion: BullMQ now shows it active, locked by instance a.
        const bull = new Queue(REDIS_QUEUE_NAME, { connection: { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) }, prefix: `${prefix}:bull` });
        expect(await bull.getActiveCount()).toBe(1);
        const [second] = await a.claim('a', 1, 60_000);
        expect(second).toBeDefined();
        await a.complete(second!.id, second!.lease!);
        expect(await bull.getActiveCount()).toBe(1); // the third, handed over but not claimed
        await a.close();
        expect(await bull.getActiveCount()).toBe(0);
        await bull.close();
        b = await openRedisQueue(options);
        const [third] = await b.claim('b', 10, 60_000);
        expect([first!.id, second!.id, third?.id].sort()).toEqual(['u1', 'u2', 'u3']);
        await b.complete(third!.id, third!.lease!);
        expect(await b.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
      } finally {
        await a.close();
        await b?.close();
        await removeKeys(admin, prefix);
      }
    });

    it("warns when Redis's persistence can lose accepted messages, and is quiet when every write is fsynced", async () => {
      const prefix = `${filePrefix}:durability`;
      const [, appendonly] = (await admin.config('GET', 'appendonly')) as string[];
      const [, appendfsync] = (await admin.config('GET', 'appendfsync')) as string[];
      const q = await openRedisQueue({ url: REDIS_URL, prefix, sealer });
      try {
        if (appendonly !== 'yes') expect(q.durabilityWarning).toMatch(/^Redis keeps no append-only file \(appendonly no\): a Redis restart loses every accepted message not yet delivered; run Redis with appendonly yes and appendfsync always$/);
        else if (appendfsync !== 'always') expect(q.durabilityWarning).toMatch(new RegExp(`^Redis fsyncs its append-only file ${appendfsync}, not on every write`));
        else expect(q.durabilityWarning).toBeUndefined();
      } finally {
        await q.close();
      }
      // The same reading, against a stand-in that answers CONFIG GET as a production Redis would, or refuses it.
      const answering = (settings: Record<string, string> | Error) => ({
        config: async (_get: string, name: string) => {
          if (settings instanceof Error) throw settings;
          return [name, settings[name]];
        },
      }) as unknown as Redis;
      expect(await durabilityWarningOf(answering({ appendonly: 'yes', appendfsync: 'always' }))).toBeUndefined();
      expect(await durabilityWarningOf(answering({ appendonly: 'yes', appendfsync: 'everysec' }))).toMatch(/fsyncs its append-only file everysec, not on every write: a crash of the Redis host can lose messages already answered 202/);
      expect(await durabilityWarningOf(answering(new Error("ERR unknown command 'CONFIG'")))).toMatch(/^could not read Redis's persistence settings \(CONFIG GET refused\)/);
    });

    it('answers an accept whose reply was lost (ioredis sends it again) as the first run did: accepted, stored once', async () => {
      const prefix = `${filePrefix}:lost-accept`;
      const proxy = await redisProxy();
      const q = await openRedisQueue({ url: proxy.url, prefix, sealer, sweepIntervalMs: 60_000, onError: () => {} });
      try {
        const base = { routeId: 'r', destination: 'x.y', payload: '{}', acceptedAt: Date.now() };
        // (each time after a round trip on the connection, so no earlier reply is still on its way to be lost instead)
        await q.counts();
        // With an idempotency key, the run again found that key: "duplicate" (and the caller overwrote the message's log row).
        proxy.loseReply((request) => request.includes('m-keyed'));
        const keyed = await q.accept({ messageId: 'm-keyed', idempotencyKey: 'key-1', deliveries: [{ ...base, messageId: 'm-keyed', id: 'a1', orderingKey: 'K' }, { ...base, messageId: 'm-keyed', id: 'a2', orderingKey: '' }] });
        expect(keyed).toEqual({ messageId: 'm-keyed', duplicate: false });
        // Without one, it found its deliveries: "already exists", a 5xx for what was stored (resubmitted: delivered twice).
        await q.counts();
        proxy.loseReply((request) => request.includes('m-plain'));
        const plain = await q.accept({
          messageId: 'm-plain',
          deliveries: [{ ...base, messageId: 'm-plain', id: 'b1', orderingKey: 'L' }, { ...base, messageId: 'm-plain', id: 'b2', orderingKey: '' }],
          lease: { workerId: 'w', leaseMs: 30_000, limit: 1 },
        });
        expect(plain.duplicate).toBe(false);
        expect(plain.leased?.map((l) => l.id)).toEqual(['b1']);
        expect(proxy.lost()).toBe(2);
        // Every delivery once: the leased one by its lease, the others by their tickets.
        const claimed = await q.claim('w', 10, 30_000);
        expect(claimed.map((d) => d.id).sort()).toEqual(['a1', 'a2', 'b2']);
        for (const d of claimed) await q.complete(d.id, d.lease!);
        await q.complete('b1', plain.leased![0]!.lease);
        expect(await q.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
        expect(await q.claim('w', 10, 30_000)).toEqual([]);
        // a real repeat of the key is still one
        expect(await q.accept({ messageId: 'm-again', idempotencyKey: 'key-1', deliveries: [{ ...base, messageId: 'm-again', id: 'c1', orderingKey: '' }] })).toEqual({ messageId: 'm-keyed', duplicate: true });
      } finally {
        await q.close();
        proxy.close();
        await removeKeys(admin, prefix);
      }
    });

    it('recognises its own re-run with several fingerprinted keys, and stores each key as a process of the previous version reads it', async () => {
      const prefix = `${filePrefix}:lost-accept-keys`;
      const proxy = await redisProxy();
      const q = await openRedisQueue({ url: proxy.url, prefix, sealer, sweepIntervalMs: 60_000, onError: () => {} });
      try {
        const base = { routeId: 'r', destination: 'x.y', payload: '{}', acceptedAt: Date.now() };
        const keys = [{ key: 'hdr:k-1', fingerprint: 'sha256:first' }, { key: 'biz:E1' }];
        await q.counts();
        proxy.loseReply((request) => request.includes('m-first'));
        expect(await q.accept({ messageId: 'm-first', idempotencyKeys: keys, deliveries: [{ ...base, messageId: 'm-first', id: 'k1', orderingKey: 'K' }] })).toEqual({ messageId: 'm-first', duplicate: false });
        expect(proxy.lost()).toBe(1);
        // a conflict's lost reply: its re-run is a conflict again, and stores nothing
        await q.counts();
        proxy.loseReply((request) => request.includes('m-other'));
        expect(await q.accept({ messageId: 'm-other', idempotencyKeys: [{ key: 'hdr:k-1', fingerprint: 'sha256:other' }, { key: 'biz:E2' }], deliveries: [{ ...base, messageId: 'm-other', id: 'k2', orderingKey: '' }] }))
          .toEqual({ messageId: 'm-first', duplicate: false, conflict: true });
        expect(proxy.lost()).toBe(2);
        expect(await q.accept({ messageId: 'm-same', idempotencyKeys: keys, deliveries: [{ ...base, messageId: 'm-same', id: 'k3', orderingKey: '' }] })).toEqual({ messageId: 'm-first', duplicate: true });
        const claimed = await q.claim('w', 10, 30_000);
        expect(claimed.map((d) => d.id)).toEqual(['k1']);
        // the key's value is the message id alone (what the previous version's script compares); the fingerprint is beside it, expiring with it
        expect(await admin.get(`${prefix}:idem:hdr:k-1`)).toBe('m-first');
        expect(await admin.get(`${prefix}:idemfp:hdr:k-1`)).toBe('sha256:first');
        expect(await admin.get(`${prefix}:idem:biz:E1`)).toBe('m-first');
        expect(await admin.exists(`${prefix}:idemfp:biz:E1`, `${prefix}:idem:biz:E2`)).toBe(0);
        expect(Math.abs((await admin.pttl(`${prefix}:idemfp:hdr:k-1`)) - (await admin.pttl(`${prefix}:idem:hdr:k-1`)))).toBeLessThan(1_000);
        // a key stored by the previous version (no fingerprint) is a duplicate for a fingerprinted repeat
        await admin.set(`${prefix}:idem:hdr:old`, 'm-old', 'PX', 60_000);
        expect(await q.accept({ messageId: 'm-new', idempotencyKeys: [{ key: 'hdr:old', fingerprint: 'sha256:x' }], deliveries: [] })).toEqual({ messageId: 'm-old', duplicate: true });
      } finally {
        await q.close();
        proxy.close();
        await removeKeys(admin, prefix);
      }
    });

    it('hands out a delivery whose gate reply was lost (sent again): the gate knows its own lease, not "busy"', async () => {
      const prefix = `${filePrefix}:lost-gate`;
      const proxy = await redisProxy();
      const q = await openRedisQueue({ url: proxy.url, prefix, sealer, sweepIntervalMs: 60_000, stalledIntervalMs: 60_000, onError: () => {} });
      try {
        await q.accept({ messageId: 'm', deliveries: [{ id: 'g1', messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: 'K', payload: '{}', acceptedAt: Date.now() }] });
        await q.counts();
        proxy.loseReply((request) => request.includes(`${prefix}:d:g1`));
        const [d] = await q.claim('w', 1, 30_000);
        expect(d?.id).toBe('g1');
        expect(proxy.lost()).toBe(1);
        await q.complete('g1', d!.lease!);
        expect(await q.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
      } finally {
        await q.close();
        proxy.close();
        await removeKeys(admin, prefix);
      }
    });

    it('keeps the ticket of a delivery replayed while the instance that dead-lettered it still drops the old one', async () => {
      const prefix = `${filePrefix}:replay-race`;
      const proxy = await redisProxy();
      const options = { prefix, sealer, sweepIntervalMs: 60_000, stalledIntervalMs: 60_000 };
      const a = await openRedisQueue({ ...options, url: proxy.url, onError: () => {} });
      const b = await openRedisQueue({ ...options, url: REDIS_URL });
      try {
        await a.accept({ messageId: 'm', deliveries: [{ id: 'x1', messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: '', payload: '{}', acceptedAt: Date.now() }] });
        const [d] = await a.claim('a', 1, 30_000);
        // a dead-letters it: our script runs; BullMQ's move of the old ticket to completed (which removes it) waits …
        const drop = proxy.hold((request) => request.includes(d!.lease!) && request.includes(':completed'));
        const dying = a.deadLetter('x1', d!.lease!, 'refused');
        await drop.reached;
        // … while b replays it, and adds its ticket (a job id BullMQ deduped against the old ticket, which then went)
        expect(await b.replay(['x1'])).toBe(1);
        drop.release();
        await dying;
        // (a may have taken the new ticket along with the drop: fetch-next)
        const claimed = [...(await a.claim('a', 1, 30_000)), ...(await b.claim('b', 1, 30_000))];
        expect(claimed.map((c) => c.id)).toEqual(['x1']);
      } finally {
        await a.close();
        await b.close();
        proxy.close();
        await removeKeys(admin, prefix);
      }
    });

    it('hands out a payload it cannot open (data key changed) flagged, for the worker to dead-letter, instead of failing every claim', async () => {
      const prefix = `${filePrefix}:unsealable`;
      const options = { url: REDIS_URL, prefix, sweepIntervalMs: 60_000 };
      const base = { messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: 'k', acceptedAt: Date.now() };
      const before = await openRedisQueue({ ...options, sealer });
      await before.accept({ messageId: 'm', deliveries: [{ ...base, id: 'd1', payload: '{"a":1}' }, { ...base, id: 'd2', payload: '{"a":2}' }] });
      await before.close();
      const after = await openRedisQueue({ ...options, sealer: createSealer(randomBytes(32)) });
      try {
        const [d1, ...rest] = await after.claim('w', 5, 1000);
        expect(rest).toEqual([]);
        expect(d1).toMatchObject({ id: 'd1', payload: 'null', unsealable: expect.stringMatching(/^server.unsealable/) });
        expect(await after.counts()).toMatchObject({ active: 1, dead: 0, ready: 1 });
        await after.deadLetter('d1', d1!.lease!, d1!.unsealable!);
        expect(await after.counts()).toMatchObject({ dead: 1, ready: 1 });
      } finally {
        await after.close();
      }
      const fixed = await openRedisQueue({ ...options, sealer });
      try {
        expect((await fixed.getDead('d1'))!.reason).toMatch(/server.unsealable/);
        expect(await fixed.replay(['d1'])).toBe(1);
        const [d2] = await fixed.claim('w', 5, 1000);
        expect(d2).toMatchObject({ id: 'd2', payload: '{"a":2}' });
      } finally {
        await fixed.close();
        await removeKeys(admin, prefix);
      }
    });

    it('lists, shows and discards a dead letter whose payload cannot be opened, flagged so', async () => {
      const prefix = `${filePrefix}:unsealable-dead`;
      const options = { url: REDIS_URL, prefix, sweepIntervalMs: 60_000 };
      const base = { messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: '', payload: '{"a":1}', acceptedAt: Date.now() };
      const before = await openRedisQueue({ ...options, sealer });
      await before.accept({ messageId: 'm', deliveries: [{ ...base, id: 'old' }] });
      const [old] = await before.claim('w', 1, 30_000);
      await before.deadLetter('old', old!.lease!, 'refused');
      await before.close();
      const after = await openRedisQueue({ ...options, sealer: createSealer(randomBytes(32)) });
      try {
        await after.accept({ messageId: 'n', deliveries: [{ ...base, messageId: 'n', id: 'new' }] });
        const [fresh] = await after.claim('w', 1, 30_000);
        await after.deadLetter('new', fresh!.lease!, 'refused');
        const listed = await after.listDead();
        expect(listed.map((d) => [d.id, d.payload, d.unsealable !== undefined])).toEqual([['old', 'null', true], ['new', '{"a":1}', false]]);
        expect(listed[0]).toMatchObject({ reason: 'refused', unsealable: expect.stringMatching(/^server.unsealable/) });
        expect(await after.getDead('old')).toMatchObject({ id: 'old', payload: 'null', unsealable: expect.stringMatching(/^server.unsealable/) });
        expect(await after.discard('old', 'payload lost with the old data key')).toBe(true);
        expect((await after.listDead()).map((d) => d.id)).toEqual(['new']);
      } finally {
        await after.close();
        await removeKeys(admin, prefix);
      }
    });

    it('reported no background errors', () => {
      expect(errors.map((e) => e.message)).toEqual([]);
    });
  });
});
