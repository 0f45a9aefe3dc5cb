import { rejection } from '../support/errors.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import { DEFAULT_REPLAY_WINDOW_MS, MAX_MESSAGE_ID_LENGTH, redisReplayGuard, sqliteReplayGuard, type ReplayGuard } from '../../src/trust/replay-guard.js';
import { REDIS_URL, requireService } from '../support/services.js';

const WINDOW = DEFAULT_REPLAY_WINDOW_MS;
const T0 = new Date(Date.UTC(2026, 0, 15, 8, 0, 0));
const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One empty store (a temp file, a Redis prefix) that several guard instances may share, like several hub processes. */
interface GuardStore {
  open(windowMs?: number): ReplayGuard;
  destroy(): Promise<void>;
  /** Forgets ids by a TTL that runs in real time (Redis), rather than by the `now` passed to check (SQLite). */
  forgetsInRealTime?: boolean;
}

/** The behaviour both stores promise; each test gets a fresh store. */
function describeReplayGuard(name: string, newStore: () => GuardStore): void {
  describe(`replay guard on ${name}`, () => {
    let store: GuardStore;
    const opened: ReplayGuard[] = [];
    const open = (windowMs?: number) => {
      store ??= newStore();
      const guard = store.open(windowMs);
      opened.push(guard);
      return guard;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((guard) => guard.close()));
      if (store) await store.destroy();
      store = undefined as unknown as GuardStore;
    });

    it('accepts a fresh message once and refuses the same id again as replayed', async () => {
      const guard = open();
      expect(await guard.check('msg-1', T0, T0)).toEqual({ ok: true });
      const again = await guard.check('msg-1', T0, at(1_000));
      expect(again).toMatchObject({ ok: false, code: 'replayed' });
      if (!again.ok) expect(again.reason).not.toContain('msg-1');
      expect(await guard.check('msg-2', T0, at(1_000))).toEqual({ ok: true });
    });

    it('refuses a stale message without remembering it', async () => {
      const guard = open();
      expect(await guard.check('old', at(-WINDOW - 1), T0)).toMatchObject({ ok: false, code: 'stale' });
      expect(await guard.check('old', T0, T0)).toEqual({ ok: true });
    });

    it('refuses a message from the future without remembering it', async () => {
      const guard = open();
      const verdict = await guard.check('ahead', at(WINDOW + 1), T0);
      expect(verdict).toMatchObject({ ok: false, code: 'future' });
      if (!verdict.ok) expect(verdict.reason).toMatch(/clock/);
      expect(await guard.check('ahead', T0, T0)).toEqual({ ok: true });
    });

    it('treats both edges of the window as inside it', async () => {
      const guard = open();
      expect(await guard.check('edge-old', at(-WINDOW), T0)).toEqual({ ok: true });
      expect(await guard.check('edge-new', at(WINDOW), T0)).toEqual({ ok: true });
      expect(await guard.check('edge-old', at(-WINDOW), T0)).toMatchObject({ code: 'replayed' });
    });

    it('remembers a future-dated message until it would be stale, not merely for one window from now', async () => {
      const guard = open();
      expect(await guard.check('early', at(WINDOW), T0)).toEqual({ ok: true });
      // 1.5 windows later the copy is still inside its own window, so it must still be known
      expect(await guard.check('early', at(WINDOW), at(WINDOW * 1.5))).toMatchObject({ code: 'replayed' });
    });

    it('forgets an id once any copy of it would be stale (memory bounded by the window)', async () => {
      // Times are passed as `now`, so a slow machine cannot push a check out of the window. A Redis TTL is
      // counted in real time, though: there the window (1 s, the TTL) must also pass on the wall clock, and
      // is long enough that the repeat right after the first check is still inside it on a loaded machine.
      const guard = open(1_000);
      expect(await guard.check('short-lived', T0, T0)).toEqual({ ok: true });
      expect(await guard.check('short-lived', T0, at(500))).toMatchObject({ code: 'replayed' });
      if (store.forgetsInRealTime) await sleep(1_500);
      // the captured copy is now stale, so forgetting its id is safe ...
      expect(await guard.check('short-lived', T0, at(1_500))).toMatchObject({ code: 'stale' });
      // ... and the id is free for a new message
      expect(await guard.check('short-lived', at(1_500), at(1_500))).toEqual({ ok: true });
    });

    it('lets exactly one of many concurrent checks of the same id through, across guard instances', async () => {
      const guards = [open(), open(), open()];
      const verdicts = await Promise.all(Array.from({ length: 60 }, (_, i) => guards[i % guards.length]!.check('contended', new Date())));
      expect(verdicts.filter((v) => v.ok)).toHaveLength(1);
      expect(verdicts.filter((v) => !v.ok && v.code === 'replayed')).toHaveLength(59);
    });

    it('keeps concurrent checks of different ids independent', async () => {
      const guard = open();
      const verdicts = await Promise.all(Array.from({ length: 40 }, (_, i) => guard.check(`parallel-${i}`, new Date())));
      expect(verdicts.every((v) => v.ok)).toBe(true);
    });

    it('refuses a malformed id or date with client.bad-request', async () => {
      const guard = open();
      const cases: Array<[unknown, unknown, string]> = [
        ['', T0, 'empty-message-id'],
        [42, T0, 'empty-message-id'],
        ['x'.repeat(MAX_MESSAGE_ID_LENGTH + 1), T0, 'message-id-too-long'],
        ['ok-id', new Date(Number.NaN), 'bad-sent-at'],
        ['ok-id', '2026-01-15T08:00:00Z', 'bad-sent-at'],
      ];
      for (const [id, sentAt, code] of cases) {
        const error = await rejection(guard.check(id as string, sentAt as Date, T0));
        expect(error.type).toBe('client.bad-request');
        expect(error.status).toBe(400);
        expect(error.detail[0]?.code).toBe(code);
      }
      expect(await guard.check('x'.repeat(MAX_MESSAGE_ID_LENGTH), T0, T0)).toEqual({ ok: true });
    });

    it('refuses a window that is not a positive whole number of milliseconds', () => {
      for (const windowMs of [0, -1, 1.5, Number.NaN, Infinity]) {
        let thrown: unknown;
        try {
          open(windowMs);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, String(windowMs)).toBeInstanceOf(HubError);
        expect((thrown as HubError).type).toBe('server.config');
      }
    });

    it('refuses to check after close, and closing twice is harmless', async () => {
      const guard = open();
      await guard.close();
      await guard.close();
      expect((await rejection(guard.check('late', T0, T0))).type).toBe('server.closed');
    });
  });
}

// ---------------------------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------------------------

function sqliteStore(): GuardStore & { file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lienthong-replay-'));
  const file = join(dir, 'nested', 'replay.db');
  return {
    file,
    open: (windowMs) => sqliteReplayGuard({ file, windowMs }),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

describeReplayGuard('SQLite', sqliteStore);

describe('replay guard on SQLite: storage', () => {
  const stores: GuardStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.destroy()));
  });
  const countRows = (file: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM replay_seen').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };

  it('remembers ids across a restart', async () => {
    const store = sqliteStore();
    stores.push(store);
    const first = store.open();
    expect(await first.check('persisted', T0, T0)).toEqual({ ok: true });
    await first.close();
    const second = store.open();
    expect(await second.check('persisted', T0, at(10))).toMatchObject({ code: 'replayed' });
    await second.close();
  });

  it('takes over an expired id that the sweeper has not reached yet', async () => {
    const store = sqliteStore();
    stores.push(store);
    const guard = store.open(1_000);
    expect(await guard.check('reused', T0, T0)).toEqual({ ok: true });
    expect(await guard.check('reused', at(5_000), at(5_000))).toEqual({ ok: true });
    expect(await guard.check('reused', at(5_000), at(5_001))).toMatchObject({ code: 'replayed' });
    await guard.close();
  });

  it('sweeps expired ids in batches as new ones arrive, so the table holds about one window of ids', async () => {
    const store = sqliteStore();
    stores.push(store);
    const guard = store.open(1_000);
    for (let i = 0; i < 300; i++) await guard.check(`early-${i}`, T0, T0);
    expect(countRows(store.file)).toBe(300);
    const later = at(10_000);
    for (let i = 0; i < 128; i++) await guard.check(`late-${i}`, later, later);
    expect(countRows(store.file)).toBe(128);
    await guard.close();
  });
});

// ---------------------------------------------------------------------------------------------
// Redis: against the real Redis (REDIS_URL). In CI (LIENTHONG_REQUIRE_SERVICES=1) an unreachable
// Redis fails this file; elsewhere the Redis part is skipped, saying so.
// ---------------------------------------------------------------------------------------------

const redisAvailable = await requireService('Redis', REDIS_URL);
const runPrefix = `lienthong-test-replay-${process.pid}-${randomBytes(3).toString('hex')}`;

async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

describe.runIf(redisAvailable)('replay guard on Redis', () => {
  let admin: Redis;
  let stores = 0;
  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const leftovers = await keysUnder(admin, runPrefix);
    if (leftovers.length) await admin.unlink(...leftovers);
    await admin.quit();
  });

  const redisStore = (): GuardStore & { prefix: string } => {
    const prefix = `${runPrefix}:${++stores}`;
    return {
      prefix,
      forgetsInRealTime: true,
      open: (windowMs) => redisReplayGuard({ url: REDIS_URL, prefix, windowMs }),
      destroy: async () => {
        const keys = await keysUnder(admin, prefix);
        if (keys.length) await admin.unlink(...keys);
      },
    };
  };

  describeReplayGuard('Redis', redisStore);

  describe('replay guard on Redis: storage', () => {
    it('stores each id under the prefix with a TTL that ends when the message would turn stale', async () => {
      const store = redisStore();
      const guard = store.open(60_000);
      const now = new Date();
      expect(await guard.check('ttl-check', new Date(now.getTime() - 20_000), now)).toEqual({ ok: true });
      const ttl = await admin.pttl(`${store.prefix}:replay:ttl-check`);
      expect(ttl).toBeGreaterThan(35_000);
      expect(ttl).toBeLessThanOrEqual(40_001);
      expect(await keysUnder(admin, store.prefix)).toEqual([`${store.prefix}:replay:ttl-check`]);
      await guard.close();
      await store.destroy();
      expect(await keysUnder(admin, store.prefix)).toEqual([]);
    });

    it('stores nothing for a refused message', async () => {
      const store = redisStore();
      const guard = store.open();
      await guard.check('refused-old', at(-WINDOW - 1), T0);
      await guard.check('refused-new', at(WINDOW + 1), T0);
      expect(await keysUnder(admin, store.prefix)).toEqual([]);
      await guard.close();
    });
  });
});

describe('replay guard on Redis: unreachable server', () => {
  it('fails closed with server.unavailable instead of letting the message through', async () => {
    const guard = redisReplayGuard({ url: 'redis://127.0.0.1:1', prefix: runPrefix });
    try {
      const error = await rejection(guard.check('unchecked', new Date()));
      expect(error.type).toBe('server.unavailable');
      expect(error.status).toBe(503);
    } finally {
      await guard.close();
    }
  });
});
