import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { loadRegistry } from '../config/load.js';
import type { Registry } from '../config/registry.js';
import { formatIssue } from '../core/issues.js';
import { formatDuration, parseDuration } from '../delivery/retry.js';
import { createLogger } from '../server/logger.js';
import { startHub } from '../server/hub.js';
import { simulators } from '../sim/index.js';
import { resolveRoot } from './root.js';

/**
 * `lienthong start`: check the configuration (refusing to start on any error), launch the demo
 * simulators the config asks for (not with --no-sim, as the Docker image runs), and serve.
 * SIGTERM/SIGINT drain in-flight requests and deliveries for the shutdown grace period
 * (LIENTHONG_SHUTDOWN_GRACE; by default longer than the slowest connector's attempt); deliveries still in
 * flight when it runs out have their leases handed back, so the next start delivers them at once.
 * SIGHUP does not stop the hub: configuration is read at start only.
 */
export async function startCommand(options: { root?: string; port?: string; host?: string; sim?: boolean }): Promise<void> {
  const root = resolveRoot(options.root);
  const log = createLogger();
  // Configuration is read once, at start: a "reload" (systemd ExecReload, kill -HUP) must not stop the hub.
  process.on('SIGHUP', () => log.warn({ signal: 'SIGHUP' }, 'SIGHUP ignored: lienthong does not reload its configuration; restart the hub to apply changes to config/, connectors/, schemas/ or mappings/'));
  const first = loadRegistry(root);
  if (!first.registry) return refuse(first.issues);
  let graceMs: number;
  try {
    graceMs = shutdownGraceMs(first.registry, process.env.LIENTHONG_SHUTDOWN_GRACE);
  } catch (error) {
    return cannotStart((error as Error).message);
  }

  const running: Array<{ close(): Promise<void> }> = [];
  // The payment platform calls the hub back: at the port this hub will listen on, not the default 8080.
  const hubPort = options.port ? Number(options.port) : first.registry.hub.server.port;
  const callbacks: Record<string, Record<string, unknown>> = hubPort ? { payment: { callbackUrl: `http://127.0.0.1:${hubPort}/v1/in/dvcqg-payment/CONFIRM` } } : {};
  for (const sim of first.registry.hub.demo?.simulators ?? []) {
    if (sim.env && process.env[sim.env]) {
      log.info({ simulator: sim.name, env: sim.env }, 'simulator skipped: its connector points elsewhere');
      continue;
    }
    if (options.sim === false) {
      // The connector keeps the default address of its config file (the simulator's): nothing answers there in production.
      if (sim.env) log.warn({ simulator: sim.name, env: sim.env }, `${sim.env} is not set and simulators are off (--no-sim): the connector keeps the default address of its config file; set ${sim.env} to the real system's address`);
      continue;
    }
    const start = simulators[sim.name] as (options: Record<string, unknown>) => Promise<{ url: string; close(): Promise<void> }>;
    try {
      const started = await start({ ...callbacks[sim.name], ...sim.options, host: '127.0.0.1', port: sim.port ?? 0 });
      running.push(started);
      if (sim.env) process.env[sim.env] = started.url;
      // Warn: deliveries to a simulator "succeed", so a production hub that started one would report fictitious successes.
      log.warn({ simulator: sim.name, url: started.url, env: sim.env }, `demo simulator started (fictitious data)${sim.env ? `: ${sim.env} is not set, so the connector sends to it` : ''}; in production set ${sim.env ?? 'the connector\'s address'} and start with --no-sim`);
    } catch (error) {
      await Promise.allSettled(running.map((s) => s.close()));
      return cannotStart(`demo simulator ${sim.name}: ${(error as Error).message}${sim.port ? ' (is another hub or simulator running? stop it, change the simulator\'s port under demo.simulators in config/hub.yaml, or start with --no-sim)' : ''}`);
    }
  }

  // Load again so that connectors pointed at a simulator by env see its address.
  const { registry, issues } = running.length ? loadRegistry(root) : first;
  if (!registry) {
    await Promise.allSettled(running.map((s) => s.close()));
    return refuse(issues);
  }
  for (const warning of issues) log.warn({ file: warning.file, line: warning.line }, warning.message);

  let hub: Awaited<ReturnType<typeof startHub>>;
  try {
    hub = await startHub({ registry, log, host: options.host, port: options.port ? Number(options.port) : undefined });
  } catch (error) {
    await Promise.allSettled(running.map((s) => s.close()));
    return cannotStart((error as Error).message);
  }
  log.info({ url: hub.url, docs: `${hub.url}/docs`, hub: registry.hub.hub.id, routes: registry.routes.size, shutdownGraceMs: graceMs }, 'lienthong hub listening');

  // close-with-grace's own timer is only a backstop (the hub's close hung even after the leases were handed back).
  closeWithGrace({
    delay: graceMs + BACKSTOP_MS,
    skip: ['SIGHUP'],
    logger: { error: (message: unknown) => log.error(message instanceof Error ? { err: message } : {}, message instanceof Error ? 'error while shutting down' : String(message)) },
    onTimeout: (delay) => log.error({ delayMs: delay }, 'shutdown did not finish; exiting anyway'),
  }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal, graceMs }, 'shutting down');
    const closing = hub.close();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      closing.then(() => 'closed' as const),
      new Promise<'grace over'>((resolve) => { timer = setTimeout(() => resolve('grace over'), graceMs); }),
    ]).finally(() => clearTimeout(timer));
    if (outcome === 'grace over') {
      await forcedExit(hub, log, graceMs);
      return;
    }
    await Promise.allSettled(running.map((s) => s.close()));
  });
}

/** How long close-with-grace waits beyond the grace period before it exits on its own. */
const BACKSTOP_MS = 10_000;
/** The shortest default grace period; the default is longer when a connector's attempt can take longer. */
const MIN_DEFAULT_GRACE_MS = 20_000;

/**
 * The shutdown grace period: LIENTHONG_SHUTDOWN_GRACE (a duration: 30s, 1m, or milliseconds), else long enough for
 * the slowest attempt to end by its own timeout (connect + request timeout of any connector or federated hub, plus
 * 5 s), and at least 20 s.
 */
export function shutdownGraceMs(registry: Registry, setting: string | undefined): number {
  if (setting !== undefined && setting.trim() !== '') {
    let ms: number;
    try {
      ms = parseDuration(setting);
    } catch (error) {
      throw new Error(`LIENTHONG_SHUTDOWN_GRACE: ${(error as Error).message}`);
    }
    if (ms <= 0) throw new Error('LIENTHONG_SHUTDOWN_GRACE must be longer than 0 (e.g. 30s)');
    return ms;
  }
  const attempts = [
    ...[...registry.connectors.values()].map((c) => c.timeouts),
    ...registry.hub.federation.hubs.map((h) => h.timeouts),
  ].map((t) => t.connectMs + t.requestMs);
  return Math.max(MIN_DEFAULT_GRACE_MS, ...attempts.map((ms) => ms + 5_000));
}

/**
 * The grace period ran out with deliveries still in flight: their leases go back to the queue, due at once, so the
 * next start delivers them again (at-least-once; the peer gets the same delivery id) instead of after the lease.
 */
async function forcedExit(hub: { worker?: { release(): Promise<number> } }, log: Logger, graceMs: number): Promise<never> {
  let released: number | string = 0;
  try {
    released = (await hub.worker?.release()) ?? 0;
  } catch (error) {
    released = `none (${(error as Error).message})`;
  }
  log.error({ graceMs, released }, `shutdown grace period (${formatDuration(graceMs)}, LIENTHONG_SHUTDOWN_GRACE) ran out before the hub had closed: the deliveries still in flight (${released}) were handed back to the queue and are delivered again at the next start; exiting`);
  process.exit(1);
}

function cannotStart(message: string): never {
  console.error(`lienthong: cannot start: ${message}`);
  process.exit(1);
}

function refuse(issues: Parameters<typeof formatIssue>[0][]): never {
  for (const issue of issues) console.error(formatIssue(issue));
  console.error('lienthong: configuration has errors; fix them (see `lienthong check`) and start again');
  process.exit(1);
}
