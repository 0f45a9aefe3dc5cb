import { X509Certificate } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { Dispatcher } from 'undici';
import { HubError } from '../core/errors.js';
import type { Registry } from '../config/registry.js';
import type { FederatedHub } from '../config/types.js';
import { requestHashOf } from '../trust/message-signature.js';
import type { HubTrust } from '../trust/hub-trust.js';
import { participantOf } from '../trust/pki.js';
import { createDispatcher, DEFAULT_MAX_RESPONSE_BYTES, exchange } from '../transport/index.js';

/**
 * The other hubs of the federation, as this hub calls them: every message is a canonical JSON body,
 * signed by this hub (detached JWS over the body and the key headers), sent over mutual TLS to
 * `POST <hub>/v1/x/<service id>`; every answer must be signed by that hub and bound to our request by
 * its hash (X-Road's request hash), or it is refused before anyone reads it.
 */
export interface HubAnswer {
  status: number;
  body: Buffer;
  durationMs: number;
  requestBytes: number;
}

export interface OtherHubs {
  /** Sends `body` to `service` at the hub that serves it; resolves with its verified answer, whatever the status. */
  send(remote: { hub: string; service: string }, body: string, ids: { messageId: string; correlationId: string; idempotencyKey?: string }): Promise<HubAnswer>;
  close(): Promise<void>;
}

export const FEDERATION_PATH = '/v1/x/';

export function connectHubs(registry: Registry, trust: HubTrust | undefined, injected?: Dispatcher): OtherHubs {
  const hubs = new Map(registry.hub.federation.hubs.map((hub) => [hub.id, hub]));
  const dispatchers = new Map<string, Dispatcher>();
  const owned: Dispatcher[] = [];
  const dispatcherFor = (hub: FederatedHub): Dispatcher => {
    let dispatcher = injected ?? dispatchers.get(hub.id);
    if (!dispatcher) {
      dispatcher = createDispatcher({
        connectTimeoutMs: hub.timeouts.connectMs,
        tls: trust && {
          key: trust.tls.key, cert: trust.tls.cert, ca: trust.tls.ca,
          // The address must match the certificate as usual, and the certificate must name the hub we mean to reach.
          checkServerIdentity: (host: string, cert: PeerCertificate) => {
            const usual = checkServerIdentity(host, cert);
            if (usual) return usual;
            const named = cert.raw ? participantOf(new X509Certificate(cert.raw)) : undefined;
            return named === hub.id ? undefined : Object.assign(new Error(`the server's certificate names ${named ?? 'no participant'}, not ${hub.id}`), { code: 'ERR_TLS_CERT_WRONG_PARTICIPANT' });
          },
        },
      });
      dispatchers.set(hub.id, dispatcher);
      owned.push(dispatcher);
    }
    return dispatcher;
  };

  return {
    async send(remote, body, ids) {
      const hub = hubs.get(remote.hub);
      if (!hub) throw new HubError('server.unknown-hub', `hub ${remote.hub} is not configured under federation.hubs`, { status: 500 });
      if (!trust) throw new HubError('server.no-trust', 'this hub has no trust: section, so it cannot sign messages to other hubs', { status: 500 });
      const bytes = Buffer.from(body, 'utf8');
      const signed = await trust.sign(bytes, { messageId: ids.messageId, client: trust.participant, service: remote.service, time: new Date(), ...(ids.idempotencyKey ? { idempotencyKey: ids.idempotencyKey } : {}) });
      const answer = await exchange(dispatcherFor(hub), {
        peer: hub.id,
        url: `${hub.url}${FEDERATION_PATH}${remote.service}`,
        method: 'POST',
        headers: {
          ...signed,
          'content-type': 'application/json; charset=utf-8',
          'x-correlation-id': ids.correlationId,
        },
        body: bytes,
        requestMs: hub.timeouts.requestMs,
        maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
      });
      // Whatever it says (an answer, an error, and with which status), it says it signed, about our request.
      await trust.verify(answer.headers, answer.body, { requestHash: requestHashOf(signed), signer: hub.id, status: answer.status }).catch((error: unknown) => {
        const reason = error instanceof HubError ? `${error.type}: ${error.message}` : 'unverifiable answer';
        throw new HubError('transport.unverified-answer', `Câu trả lời của hub ${hub.id} không xác thực được / the answer of hub ${hub.id} cannot be trusted: ${reason}`, {
          status: 502, detail: error instanceof HubError ? error.detail : [], cause: error,
        });
      });
      return { status: answer.status, body: answer.body, durationMs: answer.durationMs, requestBytes: answer.requestBytes };
    },
    async close() {
      await Promise.allSettled(owned.map((d) => d.close()));
    },
  };
}

/** The error another hub answered with (problem+json), as a HubError naming that hub. */
export function remoteError(hub: string, answer: HubAnswer): HubError {
  let problem: { type?: unknown; message?: unknown; detail?: unknown } = {};
  try {
    problem = JSON.parse(answer.body.toString('utf8')) as typeof problem;
  } catch {
    /* not problem+json: reported by status below */
  }
  const type = typeof problem.type === 'string' && /^(client|mapping|schema|trust|transport|server)\.[a-z0-9-]+$/.test(problem.type) ? problem.type : 'transport.peer-error';
  const message = typeof problem.message === 'string' ? problem.message.slice(0, 300) : `HTTP ${answer.status}`;
  const detail = Array.isArray(problem.detail) ? (problem.detail as HubError['detail']).slice(0, 20) : [];
  // A missing record is an answer; anything else failed between the hubs or beyond, which the caller cannot fix.
  const status = type === 'client.not-found' ? 404 : 502;
  return new HubError(type, `hub ${hub}: ${message}`, { status, detail });
}
