import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
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
      const q = openSqliteQueue({ file, sealer });
      const accepting = q.accept({ messageId: 'm', deliveries: [{ id: 'd1', messageId: 'm', routeId: 'r', destination: 'x.y', orderingKey: '', payload: '{}', acceptedAt: 1 }] });
      await q.close();
      await expect(accepting).resolves.toMatchObject({ messageId: 'm', duplicate: false });
      await new Promise((r) => setTimeout(r, 20)); // the flush the accept had scheduled runs now
      expect(uncaught).toEqual([]);
      const again = openSqliteQueue({ file, sealer });
      expect(await again.counts()).toMatchObject({ ready: 1 });
      await again.close();
    } finally {
      process.off('uncaughtException', onUncaught);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dead-letters a payload it cannot open (data key changed) instead of failing every claim', async () => {
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
      expect(await after.claim('w', 5, 1000)).toEqual([]);
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

  it('works in memory', async () => {
    const q = openSqliteQueue({ file: ':memory:', sealer });
    expect(await q.counts()).toEqual({ ready: 0, delayed: 0, active: 0, dead: 0 });
    await q.close();
  });
});
