import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { openSqliteQueue } from '../../src/delivery/sqlite-queue.js';
import { describeQueueConformance } from './conformance.js';

const dataKey = randomBytes(32);
const sealer = createSealer(dataKey);

describeQueueConformance('embedded SQLite', {
  clock: 'virtual',
  async newStore(clock) {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-queue-'));
    const file = join(dir, 'queue.db');
    return {
      open: async () => openSqliteQueue({ file, sealer, now: () => clock.now() }),
      openWithOtherKey: async () => openSqliteQueue({ file, sealer: createSealer(randomBytes(32)), now: () => clock.now() }),
      // the database file and its write-ahead log: everything on disk
      rawDump: async () => [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1')).join('\n'),
      destroy: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});

describe('embedded SQLite queue specifics', () => {
  it('keeps what was accepted across a reopen of the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-queue-'));
    const file = join(dir, 'nested', 'queue.db');
    try {
      const q = openSqliteQueue({ file, sealer });
      await q.accept({ messageId: 'm', deliveries: [{ id: 'd1', messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: 'k', payload: '{"a":1}', acceptedAt: 1 }] });
      await q.close();
      const again = openSqliteQueue({ file, sealer });
      const [d] = await again.claim('w', 1, 1000);
      expect(d).toMatchObject({ id: 'd1', payload: '{"a":1}' });
      await again.close();
      await expect(again.counts()).rejects.toThrow(/closed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('commits an accept still waiting for its batch when closed, and its pre-empted flush finds nothing to do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-queue-'));
    const file = join(dir, 'queue.db');
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      // No commit window: the accept schedules its flush with setImmediate, and immediates run in the order they were set.
      const q = openSqliteQueue({ file, sealer, commitWindowMs: 0 });
      const accepting = q.accept({ messageId: 'm', deliveries: [{ id: 'd1', messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: '', payload: '{}', acceptedAt: 1 }] });
      await q.close();
      await expect(accepting).resolves.toMatchObject({ messageId: 'm', duplicate: false });
      await new Promise((r) => setImmediate(r)); // set after the accept's flush, so that flush has run when this resolves
      expect(uncaught).toEqual([]);
      const again = openSqliteQueue({ file, sealer });
      expect(await again.counts()).toMatchObject({ ready: 1 });
      await again.close();
    } finally {
      process.off('uncaughtException', onUncaught);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hands out a payload it cannot open (data key changed) flagged, for the worker to dead-letter, instead of failing every claim', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-queue-'));
    const file = join(dir, 'queue.db');
    try {
      const before = openSqliteQueue({ file, sealer });
      await before.accept({ messageId: 'm', deliveries: [
        { id: 'd1', messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: 'k', payload: '{"a":1}', acceptedAt: 1 },
        { id: 'd2', messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: 'k', payload: '{"a":2}', acceptedAt: 1 },
      ] });
      await before.close();
      const after = openSqliteQueue({ file, sealer: createSealer(randomBytes(32)) });
      const [d1, ...rest] = await after.claim('w', 5, 1000);
      expect(rest).toEqual([]);
      expect(d1).toMatchObject({ id: 'd1', payload: 'null', unsealable: expect.stringMatching(/^server.unsealable/) });
      expect(await after.counts()).toMatchObject({ active: 1, dead: 0, ready: 1 });
      await after.deadLetter('d1', d1!.lease!, d1!.unsealable!);
      expect(await after.counts()).toMatchObject({ dead: 1, ready: 1 });
      await after.close();
      const fixed = openSqliteQueue({ file, sealer });
      expect((await fixed.getDead('d1'))!.reason).toMatch(/server.unsealable/);
      expect(await fixed.replay(['d1'])).toBe(1);
      const [d2] = await fixed.claim('w', 5, 1000);
      expect(d2!.id).toBe('d2');
      await fixed.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists, shows and discards a dead letter whose payload cannot be opened, flagged so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-queue-'));
    const file = join(dir, 'queue.db');
    const base = { messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: '', payload: '{"a":1}', acceptedAt: 1 };
    try {
      const before = openSqliteQueue({ file, sealer });
      await before.accept({ messageId: 'm', deliveries: [{ ...base, id: 'old' }] });
      const [old] = await before.claim('w', 1, 1000);
      await before.deadLetter('old', old!.lease!, 'refused');
      await before.close();
      const after = openSqliteQueue({ file, sealer: createSealer(randomBytes(32)) });
      await after.accept({ messageId: 'n', deliveries: [{ ...base, messageId: 'n', id: 'new' }] });
      const [fresh] = await after.claim('w', 1, 1000);
      await after.deadLetter('new', fresh!.lease!, 'refused');
      const listed = await after.listDead();
      expect(listed.map((d) => [d.id, d.payload, d.unsealable !== undefined])).toEqual([['old', 'null', true], ['new', '{"a":1}', false]]);
      expect(listed[0]).toMatchObject({ reason: 'refused', unsealable: expect.stringMatching(/^server.unsealable/) });
      expect(await after.getDead('old')).toMatchObject({ id: 'old', payload: 'null', unsealable: expect.stringMatching(/^server.unsealable/) });
      expect(await after.discard('old', 'payload lost with the old data key')).toBe(true);
      expect((await after.listDead()).map((d) => d.id)).toEqual(['new']);
      await after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two processes claiming from one file hand every delivery out exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-queue-'));
    const file = join(dir, 'queue.db');
    try {
      const q = openSqliteQueue({ file, sealer });
      const ids: string[] = [];
      for (let i = 0; i < 300; i++) ids.push(`d${i}`);
      await q.accept({ messageId: 'm', deliveries: ids.map((id, i) => ({ id, messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: i % 3 ? '' : `k${i % 7}`, payload: '{}', acceptedAt: 1 })) });
      await q.close();
      const script = join(import.meta.dirname, 'fixtures', 'sqlite-claimer.ts');
      const children = ['p1', 'p2'].map((w) => spawn(process.execPath, ['--import', 'tsx', script, file, dataKey.toString('base64'), w], { cwd: join(import.meta.dirname, '..', '..') }));
      const outputs = children.map((child) => {
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
        const ready = new Promise<void>((resolve) => child.stderr.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve(); }));
        const done = new Promise<{ stdout: string }>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve({ stdout }) : reject(new Error(`claimer exited with ${code}`)))));
        return { ready, done, go: () => child.stdin.write('go\n') };
      });
      await Promise.all(outputs.map((o) => o.ready));
      for (const o of outputs) o.go();
      const results = await Promise.all(outputs.map((o) => o.done));
      const handed = results.flatMap((o) => o.stdout.split('\n').filter(Boolean));
      expect(results.every((o) => o.stdout.length > 0)).toBe(true); // both took part
      expect(handed.length).toBe(300);
      expect(new Set(handed).size).toBe(300);
      const after = openSqliteQueue({ file, sealer });
      expect(await after.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
      await after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);

  it('migrates a version-1 file: its idempotency keys keep working (any repeat a duplicate), new ones keep fingerprints', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lienthong-queue-'));
    const file = join(dir, 'queue.db');
    try {
      // the schema as version 1 wrote it, with a key accepted then
      const v1 = new Database(file);
      v1.exec(`
      CREATE TABLE IF NOT EXISTS delivery (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        id               TEXT NOT NULL UNIQUE,
        message_id       TEXT NOT NULL,
        route_id         TEXT NOT NULL,
        destination      TEXT NOT NULL,
        ordering_key     TEXT NOT NULL,
        payload          TEXT NOT NULL,
        accepted_at      INTEGER NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('ready','delayed','active','dead','discarded')),
        head             INTEGER NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        available_at     INTEGER NOT NULL,
        due_at           INTEGER NOT NULL,
        first_attempt_at INTEGER,
        last_error       TEXT,
        lease            TEXT,
        worker_id        TEXT,
        dead_at          INTEGER,
        reason           TEXT,
        discarded_at     INTEGER,
        discard_reason   TEXT
      );
      CREATE INDEX IF NOT EXISTS delivery_claimable ON delivery (due_at, seq) WHERE head = 1;
      CREATE INDEX IF NOT EXISTS delivery_key ON delivery (destination, ordering_key, seq) WHERE state IN ('ready','delayed','active');
      CREATE INDEX IF NOT EXISTS delivery_dead ON delivery (dead_at, seq) WHERE state = 'dead';
      CREATE INDEX IF NOT EXISTS delivery_message ON delivery (message_id);
      CREATE TABLE IF NOT EXISTS idempotency (
        key        TEXT PRIMARY KEY,
        message_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency (expires_at);
      PRAGMA user_version = 1;
      `);
      v1.prepare('INSERT INTO idempotency (key, message_id, expires_at) VALUES (?, ?, ?)').run('onegate-h56.dossier-status:old-key', 'm-old', Date.now() + 60_000);
      v1.close();

      const q = openSqliteQueue({ file, sealer });
      const migrated = new Database(file, { readonly: true });
      expect(migrated.pragma('user_version', { simple: true })).toBe(2);
      expect((migrated.pragma('table_info(idempotency)') as Array<{ name: string }>).map((c) => c.name)).toContain('fingerprint');
      migrated.close();
      expect(await q.accept({ messageId: 'm-new', idempotencyKeys: [{ key: 'onegate-h56.dossier-status:old-key', fingerprint: 'sha256:a' }], deliveries: [] })).toEqual({ messageId: 'm-old', duplicate: true });
      expect(await q.accept({ messageId: 'm1', idempotencyKeys: [{ key: 'k', fingerprint: 'sha256:a' }], deliveries: [] })).toEqual({ messageId: 'm1', duplicate: false });
      await q.close();
      // reopened (now at version 2, nothing to migrate): the fingerprint is still there
      const again = openSqliteQueue({ file, sealer });
      expect(await again.accept({ messageId: 'm2', idempotencyKeys: [{ key: 'k', fingerprint: 'sha256:b' }], deliveries: [] })).toEqual({ messageId: 'm1', duplicate: false, conflict: true });
      await again.close();
      // a file from a later version is refused, not used
      const later = new Database(file);
      later.pragma('user_version = 3');
      later.close();
      expect(() => openSqliteQueue({ file, sealer })).toThrow(/queue schema version 3 is newer than this lienthong understands \(2\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('works in memory', async () => {
    const q = openSqliteQueue({ file: ':memory:', sealer });
    expect(await q.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
    await q.close();
  });
});
