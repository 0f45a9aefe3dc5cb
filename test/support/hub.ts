import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { loadRegistry } from '../../src/config/load.js';
import { createLogger } from '../../src/server/logger.js';
import { startHub, type RunningHub } from '../../src/server/hub.js';

export const REPO = resolve(import.meta.dirname, '..', '..');

/** Log lines captured in memory, so tests can assert what reaches the application log. */
export class LogCapture {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  records(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  text(): string {
    return this.lines.join('');
  }
}

/** A fresh data folder per test hub, so runs never share queues or logs. */
export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'lienthong-data-'));
}

export function loadShipped(env: Record<string, string> = {}) {
  const { registry, issues } = loadRegistry(REPO, { env: { ...process.env, LIENTHONG_DATA_DIR: tempDataDir(), ...env } });
  if (!registry) throw new Error(`shipped config does not load:\n${issues.map((i) => `${i.file}:${i.line} ${i.message}`).join('\n')}`);
  return registry;
}

/** The environment of a test hub: embedded stores unless a test names REDIS_URL / DATABASE_URL itself. */
export function hubEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { REDIS_URL: _redis, DATABASE_URL: _database, ...rest } = process.env;
  return { ...rest, ...env };
}

export async function startTestHub(env: Record<string, string>, dispatcher?: Dispatcher): Promise<RunningHub & { logs: LogCapture }> {
  const logs = new LogCapture();
  const registry = loadShipped(env);
  const hub = await startHub({ registry, log: createLogger({ level: 'info', destination: logs }), host: '127.0.0.1', port: 0, dispatcher, env: hubEnv(env) });
  return Object.assign(hub, { logs });
}
