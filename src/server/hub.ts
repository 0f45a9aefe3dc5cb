import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Registry } from '../config/registry.js';
import { dataKeyFromEnv, dataKeyId, dataKeysText } from '../core/seal.js';
import { purgeDeadLetters } from '../delivery/retention.js';
import type { QueueDriver } from '../delivery/types.js';
import { createDeliverer } from '../pipeline/deliver.js';
import { createFederatedPipeline } from '../pipeline/federated.js';
import { createInboundPipeline } from '../pipeline/inbound.js';
import { connectHubs } from '../pipeline/hubs.js';
import { createPeers } from '../pipeline/peers.js';
import { soapSecurity } from '../pipeline/steps.js';
import { createAccessRights, type AccessChangeRecord } from '../trust/access.js';
import { loadHubTrust, type HubTrust } from '../trust/hub-trust.js';
import { startWorker, type Worker } from '../pipeline/worker.js';
import { LateWrites } from '../pipeline/write-later.js';
import type { MessageLog } from '../store/types.js';
import { buildApp } from './app.js';
import { callerIdentity } from './identity.js';
import { createMetrics } from './metrics.js';
import { openStorage, type Storage } from './storage.js';

/**
 * Wires one running hub: the queue (embedded SQLite by default, Redis when REDIS_URL is set), the
 * message log (SQLite by default, PostgreSQL when DATABASE_URL is set), one connection pool per
 * destination, the inbound pipeline, the delivery worker, metrics, and the HTTP server.
 */
export interface HubOptions {
  registry: Registry;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Tests: an undici MockAgent, shared by all destinations. */
  dispatcher?: Dispatcher;
  host?: string;
  port?: number;
  /** Run delivery workers in this process (default true). */
  workers?: boolean;
}

export interface Hub {
  app: FastifyInstance;
  queue?: QueueDriver;
  messageLog: MessageLog;
  worker?: Worker;
  close(): Promise<void>;
}

export interface RunningHub extends Hub {
  url: string;
}

const HOUR = 3_600_000;

export async function createHub({ registry, log, dispatcher, env = process.env, workers = true }: Omit<HubOptions, 'host' | 'port'>): Promise<Hub> {
  const dataDir = resolve(registry.root, registry.hub.store.dataDir);
  const shared = [env.REDIS_URL && 'REDIS_URL', env.DATABASE_URL && 'DATABASE_URL'].filter(Boolean);
  if (shared.length && !env.LIENTHONG_DATA_KEY) {
    throw new Error(`${shared.join(' and ')} ${shared.length > 1 ? 'are' : 'is'} set, so payloads are shared between hub processes: set the same LIENTHONG_DATA_KEY (32 random bytes, base64) on every one of them`);
  }
  const keys = dataKeyFromEnv(env, join(dataDir, 'data.key'));
  if (keys.generated) log.warn({ keyFile: join(dataDir, 'data.key') }, 'no LIENTHONG_DATA_KEY: generated a data key for this single node; set LIENTHONG_DATA_KEY in production');
  if (keys.keptFile) log.warn({ keyFile: join(dataDir, 'data.key'), dataKey: dataKeyId(keys.key), previousKeys: keys.previous.map(dataKeyId) }, 'LIENTHONG_DATA_KEY differs from the key in data.key: new payloads are sealed with LIENTHONG_DATA_KEY, and data.key is kept to open what it sealed (README: "Changing the data key")');
  // A queue for async routes, and for the async services this hub offers other hubs (operations without an answer).
  const servesAsync = !!registry.hub.trust && [...registry.connectors.values()].some((c) => Object.values(c.operations).some((op) => op.direction === 'outbound' && !op.canonical.response));
  const hasAsync = registry.hub.routes.some((r) => r.mode === 'async') || servesAsync;
  const storage = await openStorage({
    dataKey: dataKeysText(keys),
    queue: hasAsync ? { redisUrl: env.REDIS_URL || undefined, redisPrefix: env.LIENTHONG_REDIS_PREFIX || undefined, sqliteFile: join(dataDir, 'queue.sqlite') } : undefined,
    log: {
      databaseUrl: env.DATABASE_URL || undefined, sqliteFile: join(dataDir, 'log.sqlite'),
      payloadRetentionMs: registry.hub.store.payloadRetentionMs, metadataRetentionMs: registry.hub.store.metadataRetentionMs,
      // 202 waits for the log write: a short window keeps that wait short while still gathering a busy hub's writes into few commits.
      batchWindowMs: 2,
    },
    auditSigner: registry.hub.trust ? {
      keyPem: readFileSync(registry.hub.trust.keyFile, 'utf8'), keyPassphrase: registry.hub.trust.keyPassphrase,
      certificatePem: readFileSync(registry.hub.trust.certificateFile, 'utf8'), chainPrefix: registry.hub.hub.id,
    } : undefined,
    replay: registry.hub.trust ? { windowMs: registry.hub.trust.replayWindowMs, sqliteFile: join(dataDir, 'replay.sqlite'), redisUrl: env.REDIS_URL || undefined, redisPrefix: env.LIENTHONG_REDIS_PREFIX || undefined } : undefined,
  }, (err) => log.error({ err }, 'storage background error'));
  try {
    return await assemble(registry, log, env, dispatcher, workers, storage);
  } catch (error) {
    await storage.close();
    throw error;
  }
}

async function assemble(registry: Registry, log: Logger, env: NodeJS.ProcessEnv, dispatcher: Dispatcher | undefined, workers: boolean, storage: Storage): Promise<Hub> {
  const { queue, messageLog } = storage;
  log.info({ queue: queue?.kind ?? 'none', store: messageLog.dialect }, 'storage opened');
  if (!registry.hub.trust) log.warn('no trust: section in config/hub.yaml: the message log is hash-chained but its checkpoints are not signed, so `lienthong audit export` bundles cannot prove who kept the log (see docs/audit.md)');
  if (queue?.durabilityWarning) log.warn({ queue: queue.kind }, queue.durabilityWarning);

  const peers = createPeers(registry, dispatcher);
  const trust = loadTrust(registry, log);
  const hubs = connectHubs(registry, trust, dispatcher);
  const soap = soapSecurity(registry, trust);
  // Access rights: config first, then every change made through the admin API since, recorded in the log.
  const access = createAccessRights(registry.hub.access, { changeLog: { append: (record: AccessChangeRecord) => messageLog.recordAccessChange(record) } });
  const restored = await access.restore(await messageLog.accessChanges());
  if (restored.applied || restored.skipped.length) log.info({ applied: restored.applied, skipped: restored.skipped.length }, 'access right changes restored from the message log');
  const metrics = createMetrics(queue);
  const { delivery } = registry.hub;
  // Message log records the log refused, written again until it takes them; at shutdown, tried once more, then named.
  const lateWrites = new LateWrites(log);
  const worker = queue && workers
    ? startWorker({
      registry, queue, log, messageLog, observer: metrics.observer, deliver: createDeliverer(registry, peers.byConnector, hubs, soap),
      workerId: `${hostname()}:${process.pid}`, concurrency: delivery.concurrency, leaseMs: delivery.leaseMs, pollIntervalMs: delivery.pollIntervalMs, lateWrites,
    })
    : undefined;
  // Accepted deliveries go straight to this process's worker, which starts them as it has slots (see Worker.handOff).
  const intake = worker ? worker.handOff() : queue;
  const pipeline = createInboundPipeline({ registry, peers: peers.byConnector, log, queue: intake, messageLog, access, hubs, soap, observer: metrics.observer, lateWrites });
  const federated = createFederatedPipeline({ registry, trust, replay: storage.replay, access, peers: peers.byConnector, queue: intake, messageLog, soap, observer: metrics.observer, log, lateWrites });
  const app = await buildApp({
    registry, pipeline, log, metrics,
    admin: { queue, messageLog, access, adminToken: env.LIENTHONG_ADMIN_TOKEN || undefined, proxyAddresses: registry.hub.server.trustedProxy?.addresses, onReplay: () => worker?.nudge() },
    onAccepted: () => worker?.nudge(),
    // A crashed storage thread, or a store whose writes fail (disk full, read-only, I/O error) until one succeeds again.
    unready: () => storage.failure()?.message ?? storage.writeFailure(),
    federated,
    identify: callerIdentity(registry, trust),
    https: registry.hub.server.tls && trust ? { key: readFileSync(registry.hub.server.tls.keyFile, 'utf8'), cert: readFileSync(registry.hub.server.tls.certificateFile, 'utf8'), ca: trust.tls.ca } : undefined,
  });

  // Retention: payloads and then metadata age out, so the log cannot grow without bound; the dead letters' too (after
  // the log's, so that a dead letter whose message is gone is simply removed).
  const purge = () => messageLog.purge(Date.now()).then(
    (r) => (r.payloadsDropped || r.messagesDeleted) && log.info(r, 'message log retention applied'),
    (err) => log.error({ err }, 'message log retention failed'),
  ).then(() => queue && purgeDeadLetters(queue, messageLog, Date.now(), registry.hub.store, log).then(
    (r) => (r.payloadsDropped || r.deadLettersRemoved) && log.info(r, 'dead letter retention applied'),
    (err) => log.error({ err }, 'dead letter retention failed'),
  ));
  const purgeTimer = setInterval(purge, HOUR);
  purgeTimer.unref();
  void purge();

  let closed = false;
  app.addHook('onClose', async () => {
    if (closed) return;
    closed = true;
    clearInterval(purgeTimer);
    await worker?.stop();
    await lateWrites.flush();
    await peers.close();
    await hubs.close();
    await trust?.close();
    await storage.close();
  });
  return { app, queue, messageLog, worker, close: () => app.close() };
}

function loadTrust(registry: Registry, log: Logger): HubTrust | undefined {
  const trust = registry.hub.trust;
  if (!trust) return undefined;
  return loadHubTrust({
    participant: registry.hub.hub.id, keyFile: trust.keyFile, keyPassphrase: trust.keyPassphrase, certificateFile: trust.certificateFile,
    anchorFiles: trust.anchorFiles, intermediateFiles: trust.intermediateFiles, crlFiles: trust.crlFiles,
    pinnedFiles: [...trust.pinnedFiles, ...registry.hub.federation.hubs.flatMap((h) => (h.certificateFile ? [h.certificateFile] : []))],
    replayWindowMs: trust.replayWindowMs,
    onCrlReload: ({ loaded, refused }) => {
      for (const crl of loaded) log.info({ crl }, 'new CRL in force');
      for (const { file, reason } of refused) log.warn({ file, reason }, 'CRL not taken: the previous one stays in force');
    },
  });
}

export async function startHub(options: HubOptions): Promise<RunningHub> {
  const hub = await createHub(options);
  const host = options.host ?? options.registry.hub.server.host;
  const port = options.port ?? options.registry.hub.server.port;
  try {
    await hub.app.listen({ host, port });
  } catch (error) {
    await hub.close();
    throw error;
  }
  const { server } = options.registry.hub;
  // Reachable from other machines with nothing to say who calls: every caller is taken as the connector's participant.
  if (!['127.0.0.1', '::1', 'localhost'].includes(host) && !server.tls && !server.trustedProxy && !server.requireClientIdentity) {
    options.log.warn({ host }, 'listening beyond this machine without TLS client certificates, a trusted proxy or server.requireClientIdentity: any caller that reaches the port is taken as the connector\'s own participant and gets its access rights (see docs/trust.md)');
  }
  const address = hub.app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const scheme = options.registry.hub.server.tls ? 'https' : 'http';
  return { ...hub, url: `${scheme}://${host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host}:${actualPort}` };
}
