import closeWithGrace from 'close-with-grace';
import { loadRegistry } from '../config/load.js';
import { formatIssue } from '../core/issues.js';
import { createLogger } from '../server/logger.js';
import { startHub } from '../server/hub.js';
import { simulators } from '../sim/index.js';
import { resolveRoot } from './root.js';

/**
 * `lienthong start`: check the configuration (refusing to start on any error), launch the demo
 * simulators the config asks for, and serve. SIGTERM/SIGINT drain in-flight requests first.
 */
export async function startCommand(options: { root?: string; port?: string; host?: string; sim?: boolean }): Promise<void> {
  const root = resolveRoot(options.root);
  const log = createLogger();
  const first = loadRegistry(root);
  if (!first.registry) return refuse(first.issues);

  const running: Array<{ close(): Promise<void> }> = [];
  // The payment platform calls the hub back: at the port this hub will listen on, not the default 8080.
  const hubPort = options.port ? Number(options.port) : first.registry.hub.server.port;
  const callbacks: Record<string, Record<string, unknown>> = hubPort ? { payment: { callbackUrl: `http://127.0.0.1:${hubPort}/v1/in/dvcqg-payment/CONFIRM` } } : {};
  for (const sim of first.registry.hub.demo?.simulators ?? []) {
    if (options.sim === false) break;
    if (sim.env && process.env[sim.env]) {
      log.info({ simulator: sim.name, env: sim.env }, 'simulator skipped: its connector points elsewhere');
      continue;
    }
    const start = simulators[sim.name] as (options: Record<string, unknown>) => Promise<{ url: string; close(): Promise<void> }>;
    const started = await start({ ...callbacks[sim.name], ...sim.options, host: '127.0.0.1', port: sim.port ?? 0 });
    running.push(started);
    if (sim.env) process.env[sim.env] = started.url;
    log.info({ simulator: sim.name, url: started.url }, 'simulator started (fictitious data)');
  }

  // Load again so that connectors pointed at a simulator by env see its address.
  const { registry, issues } = running.length ? loadRegistry(root) : first;
  if (!registry) return refuse(issues);
  for (const warning of issues) log.warn({ file: warning.file, line: warning.line }, warning.message);

  let hub: Awaited<ReturnType<typeof startHub>>;
  try {
    hub = await startHub({ registry, log, host: options.host, port: options.port ? Number(options.port) : undefined });
  } catch (error) {
    console.error(`lienthong: cannot start: ${(error as Error).message}`);
    await Promise.allSettled(running.map((s) => s.close()));
    process.exit(1);
  }
  log.info({ url: hub.url, docs: `${hub.url}/docs`, hub: registry.hub.hub.id, routes: registry.routes.size }, 'lienthong hub listening');

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down');
    await hub.close();
    await Promise.allSettled(running.map((s) => s.close()));
  });
}

function refuse(issues: Parameters<typeof formatIssue>[0][]): never {
  for (const issue of issues) console.error(formatIssue(issue));
  console.error('lienthong: configuration has errors; fix them (see `lienthong check`) and start again');
  process.exit(1);
}
