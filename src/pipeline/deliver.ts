import { HubError, toHubError } from '../core/errors.js';
import { timeOrderedId } from '../core/ids.js';
import { findOperation, type Registry } from '../config/registry.js';
import { parseRetryAfter, type FailureFacts } from '../delivery/retry.js';
import type { Delivery } from '../delivery/types.js';
import { isService } from '../trust/identity.js';
import type { Peer } from '../transport/index.js';
import { remoteError, type OtherHubs } from './hubs.js';
import { checksums as compileChecksums, decodeAnswer, judgeAnswer, mapWith, noSoapSecurity, send, validate, type SoapSecurity } from './steps.js';

/**
 * One delivery of an accepted message to one destination, top to bottom:
 *   canonical payload → map to the destination's dialect → its checksum, if any → validate → encode → send (idempotency key =
 *   delivery id) → read the answer: HTTP status, SOAP fault, or the peer's own result code
 *   (e.g. DVCQG's error_code) → delivered, or a failure the retry policy will judge.
 * Replays take exactly this path again.
 */
export interface DeliveryResult {
  ok: boolean;
  /** What happened, for the retry decision and the operational record. */
  failure?: FailureFacts & { message: string };
  httpStatus?: number;
  faultCode?: string;
  requestBytes: number;
  responseBytes: number;
  durationMs: number;
  mappingId?: string;
  requestInAt: number;
  responseOutAt?: number;
}

export type Deliverer = (delivery: Delivery) => Promise<DeliveryResult>;

export function createDeliverer(registry: Registry, peers: ReadonlyMap<string, Peer>, hubs?: OtherHubs, soap: SoapSecurity = noSoapSecurity): Deliverer {
  const checksums = compileChecksums(registry);
  return async function deliver(delivery) {
    const requestInAt = Date.now();
    const started = performance.now();
    const result: DeliveryResult = { ok: false, requestBytes: 0, responseBytes: 0, durationMs: 0, requestInAt };
    try {
      if (isService(delivery.destination)) {
        await toHub(delivery, result);
        result.ok = true;
        return result;
      }
      const destination = findOperation(registry, delivery.destination);
      if (!destination) throw permanent(new HubError('server.unknown-destination', `destination ${delivery.destination} is no longer configured`));
      const { connector, operation } = destination;
      result.mappingId = operation.request.mapping;

      let native: Record<string, unknown>;
      try {
        const canonical = JSON.parse(delivery.payload) as Record<string, unknown>;
        native = checksums.sign(connector, operation, 'request', mapWith(registry, operation.request.mapping, canonical));
        validate(registry, operation.request.schema, native, (detail) => new HubError('schema.invalid-destination', `Bản tin gửi ${connector.id} không đúng lược đồ / message for ${delivery.destination} does not match ${operation.request.schema}`, { detail }));
      } catch (error) {
        throw permanent(toHubError(error));
      }
      const peer = peers.get(connector.id);
      if (!peer) throw permanent(new HubError('server.no-peer', `no transport configured for ${connector.id}`));

      // A peer may ask for the same message again with some fields changed (DVCQG: "đã tồn tại" → send as an update).
      let resent = false;
      for (;;) {
        const answer = await send(peer, connector, operation, native, { messageId: delivery.messageId, correlationId: delivery.messageId, idempotencyKey: resent ? `${delivery.id}:resend` : delivery.id }, soap);
        result.httpStatus = answer.status;
        result.requestBytes += answer.requestBytes;
        result.responseBytes += answer.body.length;
        result.responseOutAt = Date.now();
        let body: unknown;
        try {
          body = decodeAnswer(connector, answer, soap);
          checksums.check(connector, operation, 'response', body);
        } catch (error) {
          const hubError = toHubError(error);
          result.faultCode = hubError.detail[0]?.code;
          throw Object.assign(hubError, { retryAfterMs: parseRetryAfter(answer.headers['retry-after'], Date.now()) });
        }
        const verdict = judgeAnswer(operation, body);
        if (verdict.kind === 'ok') break;
        result.faultCode = verdict.code;
        if (verdict.kind === 'resend') {
          if (resent) throw permanent(new HubError('transport.peer-rejected', `${connector.name} từ chối cả khi gửi lại / rejected the resend too: ${verdict.code}`));
          native = checksums.sign(connector, operation, 'request', { ...native, ...verdict.set });
          resent = true;
          continue;
        }
        throw verdict.kind === 'retryable'
          ? new HubError('transport.peer-rejected-retryable', `${connector.name}: ${verdict.code} ${verdict.message}`)
          : permanent(new HubError('transport.peer-rejected', `${connector.name} từ chối / rejected: ${verdict.code} ${verdict.message}`));
      }
      result.ok = true;
    } catch (thrown) {
      const error = toHubError(thrown);
      const facts = thrown as { permanent?: boolean; retryAfterMs?: number };
      const fields = error.detail.filter((d) => d.field).map((d) => `${d.field}: ${d.reason}`).join('; ');
      // A SOAP Server/Receiver fault is the peer's passing trouble; a Client/Sender fault is about our message.
      const errorType = error.type === 'transport.peer-fault' && /Server|Receiver/.test(result.faultCode ?? '') ? 'transport.peer-fault-server' : error.type;
      result.failure = { errorType, httpStatus: result.httpStatus, retryAfterMs: facts.retryAfterMs, permanent: facts.permanent, message: fields ? `${error.message} (${fields})` : error.message };
    } finally {
      result.durationMs = Math.round((performance.now() - started) * 100) / 100;
    }
    return result;
  };

  /**
   * A delivery to a service another hub serves: the canonical payload exactly as accepted, signed, over
   * mTLS; that hub answers 202 once it has accepted it durably (then it delivers). Its refusals of
   * trust or access (401/403) and of the message (4xx) are permanent; the rest is retried.
   */
  async function toHub(delivery: Delivery, result: DeliveryResult): Promise<void> {
    const remote = registry.hub.routes.flatMap((r) => r.destinations).find((d) => d.to === delivery.destination)?.remote;
    if (!remote || !hubs) throw permanent(new HubError('server.unknown-destination', `destination ${delivery.destination} is no longer served by a configured hub`));
    // Each attempt is a new signed message (the other hub refuses a message id it has seen, as a replay); the delivery
    // id, the same in every attempt, is the idempotency key by which that hub answers a repeat without delivering again.
    const answer = await hubs.send(remote, delivery.payload, { messageId: timeOrderedId(), correlationId: delivery.messageId, idempotencyKey: delivery.id });
    result.httpStatus = answer.status;
    result.requestBytes = answer.requestBytes;
    result.responseBytes = answer.body.length;
    result.responseOutAt = Date.now();
    if (answer.status === 202 || answer.status === 200) return;
    const error = Object.assign(remoteError(remote.hub, answer), { retryAfterMs: undefined as number | undefined });
    if (answer.status >= 400 && answer.status < 500 && answer.status !== 429 && answer.status !== 408) throw permanent(error);
    throw error;
  }
}

function permanent(error: HubError): HubError {
  return Object.assign(error, { permanent: true });
}
