import { X509Certificate } from 'node:crypto';
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { Registry } from '../config/registry.js';
import { HubError } from '../core/errors.js';
import type { HubTrust } from '../trust/hub-trust.js';
import { isParticipant } from '../trust/identity.js';

/**
 * Who is calling, as the transport says: the participant a client certificate names (checked against
 * the trust store, CRLs included, once per TLS connection), or the participant a trusted TLS-terminating
 * proxy passes in a header. Undefined when the caller presented neither; the pipeline decides what an
 * anonymous caller may do.
 */
export interface Caller {
  participant: string;
  via: 'mtls' | 'proxy';
}

export type IdentifyCaller = (request: FastifyRequest) => Caller | undefined;

export function callerIdentity(registry: Registry, trust: HubTrust | undefined): IdentifyCaller {
  const { tls, trustedProxy } = registry.hub.server;
  // Identified once per connection, and again after a new CRL is taken: a kept-alive connection of a revoked peer stops.
  const perSocket = new WeakMap<object, { revision: number; known: Caller | HubError | null }>();

  const fromCertificate = (socket: TLSSocket): Caller | undefined => {
    const revision = trust!.revision();
    let entry = perSocket.get(socket);
    if (entry === undefined || entry.revision !== revision) {
      entry = { revision, known: identifyPeer(socket, trust!) };
      perSocket.set(socket, entry);
    }
    if (entry.known instanceof HubError) throw entry.known;
    return entry.known ?? undefined;
  };

  return (request) => {
    const socket = request.raw.socket as TLSSocket;
    if (tls && trust && typeof socket.getPeerCertificate === 'function') {
      const caller = fromCertificate(socket);
      if (!caller && tls.clientCertificates === 'required') {
        throw new HubError('trust.client-unauthenticated', 'Cần chứng thư số của bên gọi / a client certificate is required', { status: 401, detail: [{ reason: 'the TLS connection presented no client certificate', code: 'no-client-certificate' }] });
      }
      return caller;
    }
    if (trustedProxy) {
      const given = request.headers[trustedProxy.participantHeader];
      if (given === undefined) return undefined;
      if (!trustedProxy.addresses.includes(normaliseAddress(socket.remoteAddress))) {
        throw new HubError('trust.untrusted-proxy', 'Địa chỉ này không được phép xác nhận danh tính bên gọi / only the trusted proxy may name the caller', { status: 403, detail: [{ reason: `${trustedProxy.participantHeader} came from an address that is not in server.trustedProxy.addresses`, code: 'untrusted-proxy' }] });
      }
      if (typeof given !== 'string' || !isParticipant(given)) {
        throw new HubError('trust.bad-identity', 'Danh tính bên gọi không hợp lệ / the proxy named no valid participant', { status: 400, detail: [{ field: trustedProxy.participantHeader, reason: 'expected VN/GOV/<agency code>/<subsystem>', code: 'bad-identity' }] });
      }
      return { participant: given, via: 'proxy' };
    }
    return undefined;
  };
}

function identifyPeer(socket: TLSSocket, trust: HubTrust): Caller | HubError | null {
  const peer = socket.getPeerCertificate(true) as DetailedPeerCertificate;
  if (!peer || !peer.raw) return null;
  const leaf = new X509Certificate(peer.raw);
  const presented: X509Certificate[] = [];
  for (let link = peer.issuerCertificate; link && link.raw && link !== link.issuerCertificate && presented.length < 8; link = link.issuerCertificate) {
    presented.push(new X509Certificate(link.raw));
  }
  try {
    return { participant: trust.identify(leaf, presented, 'tls-client'), via: 'mtls' };
  } catch (error) {
    return error instanceof HubError ? error : new HubError('trust.certificate-invalid', 'chứng thư số của bên gọi không đọc được / the client certificate cannot be read', { status: 401 });
  }
}

/** IPv4 peers on a dual-stack socket show as ::ffff:a.b.c.d. */
function normaliseAddress(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:/, '');
}
