import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/store/group-commit.js';

/** The batching engine alone, with a fake commit: order, one batch in flight, window, maxBatch, failures. */
function harness(opts: { windowMs?: number; maxBatch?: number; commitMs?: number; failOn?: (op: number) => boolean } = {}) {
  const batches: number[][] = [];
  let inFlight = 0;
  let overlapped = false;
  const gc = new GroupCommit<number>({
    windowMs: opts.windowMs ?? 5,
    maxBatch: opts.maxBatch ?? 500,
    rowsOf: () => 1,
    async commit(ops) {
      inFlight++;
      if (inFlight > 1) overlapped = true;
      await new Promise((r) => setTimeout(r, opts.commitMs ?? 1));
      inFlight--;
      if (opts.failOn && ops.some(opts.failOn)) throw new Error(`bad op in ${ops.join(',')}`);
      batches.push(ops);
    },
  });
  return { gc, batches, overlapped: () => overlapped };
}

describe('group commit', () => {
  it('puts writes made within the window into one commit, resolving each after it', async () => {
    const { gc, batches } = harness({ windowMs: 20 });
    const first = gc.write(1);
    await new Promise((r) => setTimeout(r, 5));
    const second = gc.write(2);
    expect(batches).toEqual([]);
    await Promise.all([first, second]);
    expect(batches).toEqual([[1, 2]]);
    expect(gc.stats()).toMatchObject({ flushes: 1, writes: 2, rows: 2, pending: 0 });
  });

  it('keeps one batch in flight and the order of writes across batches', async () => {
    const { gc, batches, overlapped } = harness({ windowMs: 0, maxBatch: 7, commitMs: 3 });
    const all: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      all.push(gc.write(i));
      if (i % 9 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(all);
    expect(overlapped()).toBe(false);
    expect(batches.flat()).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(7);
  });

  it('retries a failed batch write by write, so only the bad write rejects', async () => {
    const { gc, batches } = harness({ failOn: (op) => op === 3 });
    const results = await Promise.allSettled([1, 2, 3, 4].map((op) => gc.write(op)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(batches).toEqual([[1], [2], [4]]);
    expect(gc.stats()).toMatchObject({ failedBatches: 1, writes: 3 });
  });

  it('flush() and close() commit without waiting for the window; close() refuses later writes', async () => {
    const { gc, batches } = harness({ windowMs: 60_000 });
    const pending = [gc.write(1), gc.write(2)];
    await gc.flush();
    expect(batches).toEqual([[1, 2]]);
    const late = gc.write(3);
    await gc.close();
    await Promise.all([...pending, late]);
    expect(batches).toEqual([[1, 2], [3]]);
    await expect(gc.write(4)).rejects.toThrow(/closed/);
  });
});
