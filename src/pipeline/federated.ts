import type { Logger } from 'pino';
import { HubError, toHubError } from '../core/errors.js';
import { timeOrderedId } from '../core/ids.js';
import { decodeJson, encodeJson } from '../codec/json.js';
import { findService, type Registry } from '../config/registry.js';
import type { QueueDriver } from '../delivery/types.js';
import type { MessageLog } from '../store/types.js';
import type { AccessRights } from '../trust/access.js';
import type { HubTrust } from '../trust/hub-trust.js';
import { MESSAGE_HEADERS, requestHashOf, type IncomingHeaders } from '../trust/message-signature.js';
import type { ReplayGuard } from '../trust/replay-guard.js';
import type { Peer } from '../transport/index.js';
import { callOperation } from './call.js';
import { noObserver, type Observer } from './observer.js';
import { checksums, conformers, noSoapSecurity, validate, type SoapSecurity } from './steps.js';
import { LateWrites } from './write-later.js';

/**
 * A message from another hub, top to bottom (X-Road's server-side message processor):
 *
 *   verify the signature over the exact body and key headers (before anything reads the body) → the
 *   TLS client certificate, if any, is the signer's → the signed service is the one addressed → not a
 *   replay, not stale → a local service → the client may use it (access rights) → decode and validate
 *   the canonical message → then either
 *     sync:  call the local operation (call.ts) → the canonical answer
 *     async: accepted durably for delivery to the local operation → 202
 *   → the answer (errors too) signed by this hub and bound to the request by its hash.
 *
 * Every refusal is a structured error with its reason, recorded in the message log and counted.
 */
export interface FederatedRequest {
  /** The service id from the path, e.g. VN/GOV/000.00.00.G01/CSDLDC/TraCuuThongTinCongDan. */
  service: string;
  headers: IncomingHeaders;
  body: Buffer;
  /** The participant a verified client certificate names, when the call came over mTLS. */
  tlsParticipant?: string;
  /** Set when the TLS client certificate was refused: the message is refused with that reason. */
  callerError?: unknown;
  requestId: string;
  log?: Logger;
}

export interface FederatedReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  messageId: string;
}

export interface FederatedDeps {
  registry: Registry;
  trust?: HubTrust;
  replay?: ReplayGuard;
  access?: AccessRights;
  peers: ReadonlyMap<string, Peer>;
  queue?: QueueDriver;
  messageLog?: MessageLog;
  soap?: SoapSecurity;
  observer?: Observer;
  log: Logger;
  /** Where records the message log refused wait to be written again (see inbound.ts); the hub flushes them at shutdown. */
  lateWrites?: LateWrites;
  now?: () => Date;
}

export type FederatedPipeline = (request: FederatedRequest) => Promise<FederatedReply>;

export function createFederatedPipeline({ registry, trust, replay, access, peers, queue, messageLog, soap = noSoapSecurity, observer = noObserver, log, lateWrites = new LateWrites(log), now = () => new Date() }: FederatedDeps): FederatedPipeline {
  const callContext = { registry, peers, conform: conformers(registry), checksums: checksums(registry), soap, now };
  return async function handle(request) {
    const messageId = timeOrderedId();
    const receivedAt = now();
    const started = performance.now();
    // The path names the service: only one this hub serves reaches the log (anything else in a path could be personal data).
    const local = findService(registry, request.service);
    const facts: Record<string, unknown> = { messageId, service: local ? request.service : '(not served here)', requestBytes: request.body.length, via: 'federation' };
    let client: string | undefined;
    let operationId: string | undefined;
    let canonicalType: string | undefined;
    let dossierCode: string | undefined;
    try {
      if (!trust) throw new HubError('client.unknown-operation', 'Hub này không nhận thông điệp từ hub khác / this hub takes no messages from other hubs (no trust: configured)', { status: 404 });

      if (request.callerError) throw request.callerError;
      // 1. Who signed it, and is it intact? Nothing reads the body before this.
      const verified = await trust.verify(request.headers, request.body);
      client = verified.client;
      facts.client = client;
      if (request.tlsParticipant && request.tlsParticipant !== verified.participant) {
        throw new HubError('trust.wrong-participant', 'Chứng thư TLS và chữ ký thuộc hai thành viên khác nhau / the TLS client certificate and the signature belong to different participants', {
          status: 403, detail: [{ reason: `TLS names ${request.tlsParticipant}, the signature ${verified.participant}`, code: 'tls-signer-mismatch' }],
        });
      }
      if (verified.service !== request.service) {
        throw new HubError('trust.wrong-service', 'Dịch vụ đã ký khác dịch vụ được gọi / the signed service is not the one addressed', { status: 403, detail: [{ reason: 'x-lienthong-service differs from the service in the path', code: 'service-mismatch' }] });
      }
      // 2. Not seen before within the window, and not stale (the signature check bounded the time already).
      if (replay) {
        const verdict = await replay.check(`${verified.client} ${verified.messageId}`, verified.time, now());
        if (!verdict.ok) {
          throw new HubError(verdict.code === 'replayed' ? 'trust.replayed' : 'trust.stale', verdict.code === 'replayed' ? 'Thông điệp đã được nhận trước đó / this message id was received before' : 'Thông điệp quá cũ hoặc ở tương lai / the message time is outside the accepted window', {
            status: 401, detail: [{ reason: verdict.reason, code: verdict.code }],
          });
        }
      }
      // 3. A service of this hub, which this client may use.
      if (!local) throw new HubError('client.unknown-service', `Hub này không có dịch vụ này / this hub serves no ${request.service}`, { status: 404, detail: [{ reason: 'no outbound connector operation of this hub is that service', code: 'unknown-service' }] });
      operationId = local.operation.id;
      canonicalType = local.operation.canonical.request;
      const decision = access ? access.check(verified.client, request.service, local.operation.id) : { allowed: false as const, code: 'no-grant', reason: 'this hub has no access rights configured' };
      if (!decision.allowed) throw new HubError('trust.access-denied', `Không có quyền sử dụng dịch vụ / ${verified.client} may not use ${request.service}`, { status: 403, detail: [{ reason: decision.reason, code: decision.code }] });

      // 4. The canonical message, as the other hub wrote it.
      const canonical = decodeJson(request.body) as Record<string, unknown>;
      if (typeof canonical.dossierCode === 'string') dossierCode = canonical.dossierCode;
      validate(registry, `canonical/${canonicalType}`, canonical, (detail) => new HubError('schema.invalid-canonical', `Thông điệp chuẩn ${canonicalType} không hợp lệ / the canonical message is invalid`, { status: 400, detail }));

      let status: number;
      let answer: unknown;
      if (local.operation.canonical.response) {
        answer = await callOperation(callContext, local, canonical, { messageId, correlationId: String(canonical.correlationId ?? messageId), newId: timeOrderedId }, facts);
        status = 200;
      } else {
        if (!queue) throw new HubError('server.no-queue', 'this hub has no delivery queue configured', { status: 503 });
        // The sending hub's delivery id is its idempotency key, signed: a redelivery is answered, not delivered again.
        const key = verified.idempotencyKey;
        const payload = request.body.toString('utf8');
        const [accepted, logged] = await Promise.allSettled([
          queue.accept({
            messageId,
            idempotencyKey: key ? `federation:${verified.client}:${key}` : undefined,
            idempotencyTtlMs: registry.hub.delivery.idempotencyTtlMs,
            deliveries: [{ id: timeOrderedId(), messageId, routeId: 'federation', destination: `${local.connector.id}.${local.operation.id}`, orderingKey: orderingKeyOf(canonical), payload, acceptedAt: receivedAt.getTime() }],
          }),
          remember({ state: 'accepted', deliveries: 1, payload }),
        ]);
        if (accepted.status === 'rejected') throw accepted.reason;
        const result = accepted.value;
        if (result.duplicate) await remember({ state: 'duplicate', deliveries: 0, reason: `same idempotency key as message ${result.messageId}; nothing new delivered` });
        // Accepted durably, so answered as accepted (refusing it would invite a redelivery); its row follows when the log takes it.
        else if (logged.status === 'rejected') later({ state: 'accepted', deliveries: 1, payload }, logged.reason, 'message log write failed after the message was accepted; writing it again');
        status = 202;
        answer = { messageId: result.messageId, status: result.duplicate ? 'duplicate' : 'accepted' };
      }
      observer.message({ connector: 'federation', operation: operationId, outcome: status === 202 ? 'accepted' : 'delivered' });
      (request.log ?? log).info({ ...facts, outcome: status === 202 ? 'accepted' : 'delivered', status, totalMs: Math.round(performance.now() - started) }, 'federated message');
      const reply = await signed(status, encodeJson(answer), verified.requestHash, verified.client);
      // The answer does not wait for a sync call's record; one the log refuses is written later, never dropped.
      if (status === 200) void keep({ state: 'delivered', deliveries: 0 });
      return reply;
    } catch (thrown) {
      const error = toHubError(thrown);
      const outcome = error.status >= 500 ? 'failed' : 'rejected';
      // The hub's own failures (a bug, its storage unable to write) carry the error, with its cause, for the operator.
      if (error.status >= 500 && (!(thrown instanceof HubError) || error.stage === 'server')) (request.log ?? log).error({ ...facts, err: thrown }, 'federated message failed inside the hub');
      else (request.log ?? log).info({ ...facts, outcome, status: error.status, errorType: error.type }, `federated message ${outcome}`);
      observer.message({ connector: 'federation', operation: operationId ?? '(unknown)', outcome });
      if (error.stage === 'trust') observer.trustFailure({ type: error.type, code: error.detail[0]?.code });
      void keep({ state: outcome, deliveries: 0, reason: `${error.type}: ${error.message}` });
      const problem = encodeJson({ type: error.type, status: error.status, message: error.message, detail: error.detail, messageId, logId: request.requestId });
      let requestHash: string | undefined;
      try {
        requestHash = requestHashOf(request.headers);
      } catch {
        /* not even well-formed signed headers: the error goes unsigned */
      }
      return requestHash && trust ? signed(error.status, problem, requestHash, client ?? signedClient(request.headers) ?? trust.participant) : { status: error.status, headers: { 'content-type': 'application/problem+json; charset=utf-8' }, body: problem, messageId };
    }

    async function signed(status: number, body: string, requestHash: string, forClient: string): Promise<FederatedReply> {
      const headers = await trust!.sign(Buffer.from(body, 'utf8'), { messageId: timeOrderedId(), client: forClient, service: request.service, time: now(), requestHash, status });
      const contentType = status >= 400 ? 'application/problem+json; charset=utf-8' : 'application/json; charset=utf-8';
      return { status, headers: { ...headers, 'content-type': contentType }, body, messageId };
    }

    /** The record, written now or, when the log refuses it, again later until the log takes it. Never rejects. */
    function keep(record: LogRecord): Promise<void> {
      return lateWrites.keep(() => remember(record), { messageId, state: record.state }, request.log ?? log);
    }

    function later(record: LogRecord, error: unknown, why?: string): void {
      lateWrites.retry(() => remember(record), error, { messageId, state: record.state }, request.log ?? log, why);
    }

    function remember({ state, deliveries, payload, reason }: LogRecord): Promise<void> {
      if (!messageLog) return Promise.resolve();
      return messageLog.recordMessage({
        id: messageId, messageType: canonicalType ?? '(unknown)', routeId: 'federation', participant: client ?? signedClient(request.headers) ?? '(unknown)',
        connector: 'federation', operation: operationId ?? request.service, dossierCode, correlationId: request.requestId, receivedAt: receivedAt.getTime(),
        requestBytes: request.body.length, state, deliveries, payload, reason,
        ...signatureOf(request.headers),
      });
    }
  };
}

interface LogRecord {
  state: 'accepted' | 'delivered' | 'rejected' | 'failed' | 'duplicate';
  deliveries: number;
  payload?: string;
  reason?: string;
}

/** The signature headers of a hub-to-hub message, kept with it in the message log as evidence. */
function signatureOf(headers: IncomingHeaders): { signature?: Record<string, string> } {
  const signature: Record<string, string> = {};
  for (const name of Object.values(MESSAGE_HEADERS)) {
    const value = header(headers, name);
    if (value !== undefined) signature[name] = value;
  }
  return Object.keys(signature).length ? { signature } : {};
}

function signedClient(headers: IncomingHeaders): string | undefined {
  const value = header(headers, MESSAGE_HEADERS.client);
  return value && /^VN\/(GOV|COM)\/[^/]{1,64}\/[A-Za-z0-9_-]{1,64}$/.test(value) ? value : undefined;
}

function header(headers: IncomingHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Dossier events keep their order per dossier at the receiving hub too. */
function orderingKeyOf(canonical: Record<string, unknown>): string {
  return typeof canonical.dossierCode === 'string' ? canonical.dossierCode : '';
}
