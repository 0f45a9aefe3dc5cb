import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { loadRegistry } from '../../src/config/load.js';
import type { Registry } from '../../src/config/registry.js';
import { formatIssue } from '../../src/core/issues.js';
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

/** The configuration under `root`, with a fresh data folder; a configuration that does not load fails the test, listing why. */
export function loadConfig(root: string, env: Record<string, string> = {}): Registry {
  const { registry, issues } = loadRegistry(root, { env: { ...process.env, LIENTHONG_DATA_DIR: tempDataDir(), ...env } });
  if (!registry) throw new Error(`the configuration under ${root} does not load:\n${issues.map(formatIssue).join('\n')}`);
  return registry;
}

/** The configuration this repository ships. */
export function loadShipped(env: Record<string, string> = {}): Registry {
  return loadConfig(REPO, env);
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
