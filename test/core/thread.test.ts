import { describe, expect, it } from 'vitest';
import { startThread } from '../../src/core/thread.js';

describe('worker threads (startThread / serveThread)', () => {
  it('says when a thread stopped without being closed, tells the owner, and fails calls from then on', async () => {
    const events: string[] = [];
    const thread = await startThread(new URL('./fixtures/crashing-thread.ts', import.meta.url), {}, (name) => events.push(name));
    const probe = thread.remote<{ ping(): Promise<string>; crash(): Promise<string> }>('probe', ['ping', 'crash']);
    expect(await probe.ping()).toBe('pong');
    expect(thread.failure()).toBeUndefined();
    expect(await probe.crash()).toBe('falling');
    await expect.poll(() => thread.failure()?.message, { timeout: 5_000 }).toContain('the thread fell over');
    expect(events).toContain('error');
    await expect(probe.ping()).rejects.toThrow();
    await thread.close();
  });

  it('is not a failure when the thread is closed', async () => {
    const thread = await startThread(new URL('./fixtures/crashing-thread.ts', import.meta.url), {});
    await thread.close();
    expect(thread.failure()).toBeUndefined();
  });
});
