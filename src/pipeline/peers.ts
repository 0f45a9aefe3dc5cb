import type { Dispatcher } from 'undici';
import type { Registry } from '../config/registry.js';
import { createPeer, type Peer } from '../transport/index.js';

/** One Peer per connector the hub calls, sharing the injected dispatcher (its connection pools). */
export function createPeers(registry: Registry, dispatcher: Dispatcher): Map<string, Peer> {
  const peers = new Map<string, Peer>();
  for (const connector of registry.connectors.values()) {
    const calls = Object.values(connector.operations).some((op) => op.direction === 'outbound');
    if (!calls || !connector.baseUrl) continue;
    peers.set(connector.id, createPeer({ name: connector.id, baseUrl: connector.baseUrl, timeouts: connector.timeouts, auth: connector.auth }, dispatcher));
  }
  return peers;
}

export async function closePeers(peers: ReadonlyMap<string, Peer>): Promise<void> {
  await Promise.allSettled([...peers.values()].map((peer) => peer.close()));
}
