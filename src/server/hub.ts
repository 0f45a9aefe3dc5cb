import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Registry } from '../config/registry.js';
import { createPeers } from '../pipeline/peers.js';
import { createSyncPipeline } from '../pipeline/sync.js';
import { buildApp } from './app.js';

/**
 * Wires one running hub: one dispatcher (connection pools) for all outbound calls, one Peer per
 * destination, the pipeline, and the HTTP server. Tests pass their own dispatcher (MockAgent) and logger.
 */
export interface HubOptions {
  registry: Registry;
  log: Logger;
  dispatcher?: Dispatcher;
  host?: string;
  port?: number;
}

export interface RunningHub {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function createHub({ registry, log, dispatcher }: Omit<HubOptions, 'host' | 'port'>): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const peers = createPeers(registry, dispatcher);
  const pipeline = createSyncPipeline({ registry, peers: peers.byConnector, log });
  const app = await buildApp({ registry, pipeline, log });
  app.addHook('onClose', async () => peers.close());
  return { app, close: () => app.close() };
}

export async function startHub(options: HubOptions): Promise<RunningHub> {
  const { app, close } = await createHub(options);
  const host = options.host ?? options.registry.hub.server.host;
  const port = options.port ?? options.registry.hub.server.port;
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return { app, url: `http://${host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host}:${actualPort}`, close };
}
