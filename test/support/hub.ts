import { resolve } from 'node:path';
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

export function loadShipped(env: Record<string, string> = {}) {
  const { registry, issues } = loadRegistry(REPO, { env: { ...process.env, ...env } });
  if (!registry) throw new Error(`shipped config does not load:\n${issues.map((i) => `${i.file}:${i.line} ${i.message}`).join('\n')}`);
  return registry;
}

export async function startTestHub(env: Record<string, string>, dispatcher?: Dispatcher): Promise<RunningHub & { logs: LogCapture }> {
  const logs = new LogCapture();
  const registry = loadShipped(env);
  const hub = await startHub({ registry, log: createLogger({ level: 'info', destination: logs }), host: '127.0.0.1', port: 0, dispatcher });
  return Object.assign(hub, { logs });
}
