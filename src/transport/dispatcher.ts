import type { ConnectionOptions } from 'node:tls';
import { Agent } from 'undici';

export interface DispatcherOptions {
  /** TCP (+TLS) connect timeout. Default 5 s. */
  connectTimeoutMs?: number;
  /** Max sockets per origin. Default 32. */
  connections?: number;
  /** How long an idle keep-alive socket is kept. Default 10 s (peer keep-alive hints may lower it). */
  keepAliveTimeoutMs?: number;
  /** Mutual TLS: this hub's key and chain, the CAs it trusts, and an extra check of the server's certificate. */
  tls?: Pick<ConnectionOptions, 'key' | 'cert' | 'ca' | 'checkServerIdentity'>;
}

/**
 * The production dispatcher: one pooled `Agent`. The connect timeout lives here because it is a property of
 * the socket pool, not of a request, so a connector with its own `timeouts.connectMs` gets its own dispatcher.
 * No HTTP-level retry: business retries belong to the delivery queue, with idempotency keys.
 */
export function createDispatcher(options: DispatcherOptions = {}): Agent {
  return new Agent({
    connect: { timeout: options.connectTimeoutMs ?? 5_000, ...options.tls },
    connections: options.connections ?? 32,
    pipelining: 1,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000,
    keepAliveMaxTimeout: Math.max(options.keepAliveTimeoutMs ?? 10_000, 60_000),
  });
}
