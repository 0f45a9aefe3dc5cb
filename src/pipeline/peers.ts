import type { Dispatcher } from 'undici';
import type { Registry } from '../config/registry.js';
import { createDispatcher, createPeer, type Peer } from '../transport/index.js';

export interface Peers {
  readonly byConnector: ReadonlyMap<string, Peer>;
  close(): Promise<void>;
}

/**
 * One Peer per connector the hub calls. Each connector gets its own connection pool, so that its
 * connect timeout applies and one slow system cannot starve another's sockets; a dispatcher passed
 * in (tests: MockAgent) is shared instead and left open.
 */
export function createPeers(registry: Registry, injected?: Dispatcher): Peers {
  const peers = new Map<string, Peer>();
  const owned: Dispatcher[] = [];
  for (const connector of registry.connectors.values()) {
    const calls = Object.values(connector.operations).some((op) => op.direction === 'outbound');
    if (!calls || !connector.baseUrl) continue;
    let dispatcher = injected;
    if (!dispatcher) {
      dispatcher = createDispatcher({ connectTimeoutMs: connector.timeouts.connectMs });
      owned.push(dispatcher);
    }
    peers.set(connector.id, createPeer({ name: connector.id, baseUrl: connector.baseUrl, timeouts: connector.timeouts, auth: connector.auth }, dispatcher));
  }
  return {
    byConnector: peers,
    async close() {
      await Promise.allSettled([...peers.values()].map((peer) => peer.close()));
      await Promise.allSettled(owned.map((d) => d.close()));
    },
  };
}
