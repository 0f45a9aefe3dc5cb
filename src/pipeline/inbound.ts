import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { HubError, toHubError } from '../core/errors.js';
import { timeOrderedId } from '../core/ids.js';
import { showName } from '../core/personal-data.js';
import { decodeJson, encodeJson } from '../codec/json.js';
import { decodeSoap, encodeSoap, soapContentType } from '../codec/soap.js';
import { findOperation, serviceOf, type Registry } from '../config/registry.js';
import type { ConnectorConfig, OperationConfig, RouteConfig, RouteDestination } from '../config/types.js';
import type { IdempotencyKey, NewDelivery, QueueDriver } from '../delivery/types.js';
import type { MessageLog } from '../store/types.js';
import type { AccessRights } from '../trust/access.js';
import { canonicalJson } from '../trust/evidence.js';
import type { Peer } from '../transport/index.js';
import { callOperation, onAnswerSide } from './call.js';
import { remoteError, type OtherHubs } from './hubs.js';
import { noObserver, type Observer } from './observer.js';
import { readPath } from './paths.js';
import { LateWrites } from './write-later.js';
import { checksums as compileChecksums, conformers, isoVn, mapWith, noSoapSecurity, stamp, validate, type SoapSecurity } from './steps.js';

/**
 * One inbound message, top to bottom (X-Road's linear message processor, OpenHIM's one-file ingress):
 *
 *   receive → who is calling (client certificate, trusted proxy, or the connector's own participant) →
 *   decode → its checksum, if the caller's scheme has one → validate native → map to canonical → stamp the envelope → validate canonical → may the
 *   caller use the route's services? (access rights, deny by default) → then either
 *     sync:  call the destination (call.ts: map, validate, call, decode, validate, map back), or the
 *            hub that serves it (hubs.ts: signed, mTLS) → validate → map into the caller's dialect → reply
 *     async: one delivery per destination (route conditions applied) → accepted durably, atomically
 *            with the idempotency keys (the Idempotency-Key header, with the message's fingerprint, and the
 *            operation's business key) → logged → 202 with the message id (the first one's, for a repeat; a
 *            header key reused for another message: 422). Workers (worker.ts) deliver.
 *
 * Each step that can fail names its stage in the error type; a failure on the answer's side is the
 * peer's (or the hub's configuration's) fault, never the caller's, and is reported as such (502).
 */
export interface InboundRequest {
  connectorId: string;
  /** Undefined for SOAP endpoints: the first Body element selects the operation. */
  operationId?: string;
  body: Buffer;
  requestId: string;
  correlationId: string;
  /**
   * Idempotency-Key header. Checked together with the operation's business key: a repeat under either is a duplicate;
   * the header key reused for a different message is refused (422, client.idempotency-conflict).
   */
  idempotencyKey?: string;
  /** Who the transport says is calling: a verified client certificate, or a trusted proxy's header. */
  caller?: { participant: string; via: 'mtls' | 'proxy' };
  /** Set when the transport refused the caller's identity (bad certificate, untrusted proxy): the message is refused. */
  callerError?: unknown;
  /** The request's own logger (carrying request and correlation ids); the pipeline's otherwise. */
  log?: Logger;
}

export interface Reply {
  status: number;
  contentType: string;
  body: string;
}

export interface InboundOutcome {
  messageId: string;
  route?: string;
  reply?: Reply;
  error?: HubError;
}

export interface InboundDeps {
  registry: Registry;
  peers: ReadonlyMap<string, Peer>;
  log: Logger;
  /** Needed for async routes; a hub with sync routes only may run without. */
  queue?: QueueDriver;
  messageLog?: MessageLog;
  /** Deny by default: without access rights, no route may be used. */
  access?: AccessRights;
  /** Needed for routes to services that other hubs serve. */
  hubs?: OtherHubs;
  /** WS-Security for the SOAP systems that sign (verify their requests, sign the replies to them). */
  soap?: SoapSecurity;
  observer?: Observer;
  /**
   * Where records the message log refused wait to be written again; the hub flushes them at shutdown. Default: this
   * pipeline's own (retried, but not flushed at shutdown).
   */
  lateWrites?: LateWrites;
  now?: () => Date;
}

export type InboundPipeline = (request: InboundRequest) => Promise<InboundOutcome>;

export function createInboundPipeline({ registry, peers, log, queue, messageLog, access, hubs, soap = noSoapSecurity, observer = noObserver, lateWrites = new LateWrites(log), now = () => new Date() }: InboundDeps): InboundPipeline {
  const conform = conformers(registry);
  const checksums = compileChecksums(registry);
  const callContext = { registry, peers, conform, checksums, soap, now };
  return async function handle(request) {
    const messageId = timeOrderedId();
    const receivedAt = now();
    const started = performance.now();
    const timings: Record<string, number> = {};
    let mark = started;
    const step = (name: string) => {
      const t = performance.now();
      timings[name] = Math.round((t - mark) * 100) / 100;
      mark = t;
    };
    const facts: Record<string, unknown> = { messageId, connector: request.connectorId, requestBytes: request.body.length };
    /**
     * Deliveries handed to the queue whose fate is unknown: set while the queue's answer is awaited. A queue that
     * failed to answer (its connection cut after it stored them) may still deliver them: the failed row keeps their
     * number, so that their outcomes settle it.
     */
    let unanswered = 0;
    let source: ConnectorConfig | undefined;
    let operation: OperationConfig | undefined;
    let canonicalRequest: Record<string, unknown> | undefined;
    try {
      // 1. Which system is calling, and for what.
      source = registry.connectors.get(request.connectorId);
      if (!source) throw unknownOperation(`connector "${request.connectorId}" is not configured`);
      if (request.callerError) throw request.callerError;
      const client = callerOf(source, request.caller, registry.hub.server.requireClientIdentity);
      facts.client = client;
      const decoded = decodeNative(source, request.body, soap);
      operation = selectOperation(source, request.operationId, decoded.element);
      facts.operation = operation.id;
      const route = registry.routes.get(`${source.id}.${operation.id}`);
      if (!route) throw unknownOperation(`no route starts at ${source.id}.${operation.id}`);
      facts.route = route.id;
      step('decode');

      // 2. The caller's request, as the caller wrote it, then as the hub's canonical type.
      const native = conform(operation.request.schema, decoded.value);
      checksums.check(source, operation, 'request', native);
      validate(registry, operation.request.schema, native, (detail) => new HubError('client.schema-violation', `Yêu cầu không đúng lược đồ / request does not match schema ${operation!.request.schema}`, { status: 400, detail }));
      canonicalRequest = stamp(mapWith(registry, operation.request.mapping, native), {
        messageId, messageType: operation.canonical.request, occurredAt: isoVn(receivedAt), correlationId: request.correlationId, source: source.participant,
      });
      validate(registry, `canonical/${operation.canonical.request}`, canonicalRequest, (detail) => new HubError('schema.invalid-canonical', `Thông điệp chuẩn ${operation!.canonical.request} không hợp lệ / canonical message is invalid`, { status: 422, detail }));
      step('map-in');

      // 3. May this caller use what the route leads to? Every destination this message goes to is checked.
      const destinations = route.destinations.filter((d) => !d.test || d.test(canonicalRequest));
      for (const destination of destinations) allow(client, destination);

      if (route.mode === 'sync' && destinations.length !== 1) {
        // lienthong check refuses a condition on a sync route; a destination that was not checked is never called.
        throw new HubError('server.config', `sync route ${route.id} has no destination for this message`, { status: 500 });
      }
      const reply = route.mode === 'async'
        ? await accept(route, destinations, source, operation, canonicalRequest)
        : await relay(destinations[0]!, source, operation, canonicalRequest, native);
      step('reply');
      logOutcome(request.log ?? log, { ...facts, outcome: route.mode === 'async' ? 'accepted' : 'delivered', status: reply.status, timings, totalMs: elapsed(started) });
      observer.message({ connector: source.id, operation: operation.id, outcome: route.mode === 'async' ? 'accepted' : 'delivered' });
      return { messageId: typeof facts.acceptedAs === "string" ? facts.acceptedAs : messageId, route: route.id, reply };
    } catch (thrown) {
      const error = toHubError(thrown);
      // The caller's fault (4xx) is a rejection; a destination's or the hub's (5xx) is a failure, told apart for the operator.
      const outcome = error.status >= 500 ? 'failed' : 'rejected';
      logOutcome(request.log ?? log, { ...facts, outcome, status: error.status, errorType: error.type, timings, totalMs: elapsed(started) }, thrown);
      observer.message({ connector: request.connectorId, operation: operation?.id ?? '(unknown)', outcome });
      if (error.stage === 'trust') observer.trustFailure({ type: error.type, code: error.detail[0]?.code });
      // (A refused idempotency conflict has had its row written already.)
      if (facts.conflictWith === undefined) void keep({ state: outcome, reason: `${error.type}: ${error.message}`, deliveries: unanswered });
      return { messageId, route: facts.route as string | undefined, error };
    }

    /** Async: durable acceptance of one delivery per destination, then 202. */
    async function accept(route: RouteConfig, destinations: RouteDestination[], from: ConnectorConfig, op: OperationConfig, canonical: Record<string, unknown>): Promise<Reply> {
      if (!queue) throw new HubError('server.no-queue', 'this hub has no delivery queue configured', { status: 503 });
      const orderingKey = route.orderingKey ? String(readPath(canonical, route.orderingKey) ?? '') : '';
      const payload = JSON.stringify(canonical);
      const acceptedAt = receivedAt.getTime();
      const deliveries: NewDelivery[] = destinations.map((d) => ({ id: timeOrderedId(), messageId, routeId: route.id, destination: d.to, orderingKey, payload, acceptedAt }));
      // Both keys count when both exist: the caller's Idempotency-Key header stands for "this request", so it comes
      // with the message's fingerprint (a different message under a reused key is refused, not dropped as a repeat);
      // the operation's business key names the event itself (dossier + status + time), so its repeat is a duplicate
      // whatever the header says. Both are scoped to the endpoint, as before (keys stored by earlier versions still match).
      const scope = `${from.id}.${op.id}:`;
      const keys: IdempotencyKey[] = [];
      if (request.idempotencyKey !== undefined) keys.push({ key: scope + request.idempotencyKey, fingerprint: fingerprintOf(canonical) });
      const business = businessKey(op, canonical);
      if (business !== undefined) keys.push({ key: scope + business });
      // The deliveries (with the idempotency keys) and the message's log row are written at the same
      // time, each durably, so that a 202 waits for one storage round trip, not two. A repeated key is
      // found by the queue; the submission's row then says it was a duplicate, and of which message.
      const row = { state: deliveries.length ? 'accepted' as const : 'delivered' as const, deliveries: deliveries.length, payload };
      unanswered = deliveries.length;
      const [accepted, logged] = await Promise.allSettled([
        queue.accept({ messageId, deliveries, idempotencyKeys: keys, idempotencyTtlMs: registry.hub.delivery.idempotencyTtlMs }),
        remember(row),
      ]);
      if (accepted.status === 'rejected') throw accepted.reason;
      unanswered = 0;
      const result = accepted.value;
      if (result.conflict) {
        // Nothing was stored. The row written as "accepted" above is rewritten as rejected before the answer
        // (a failure to rewrite it is retried in the background); the error is then answered and logged as any other.
        facts.conflictWith = result.messageId;
        const error = idempotencyConflict(result.messageId);
        await keep({ state: 'rejected', deliveries: 0, reason: `${error.type}: ${error.message}` });
        throw error;
      }
      if (result.duplicate) {
        // Nothing new was stored: this submission's row says so (never the "accepted" row written above, even later).
        facts.acceptedAs = result.messageId;
        facts.duplicate = true;
        await remember({ state: 'duplicate', deliveries: 0, reason: `same idempotency key as message ${result.messageId}; nothing new delivered` });
        return json(202, { messageId: result.messageId, status: 'duplicate', message: 'Đã nhận trước đó / already accepted: nothing new will be delivered' });
      }
      if (logged.status === 'rejected') {
        // The deliveries are durable, so the message is accepted (and may be on its way): refusing it now would invite a
        // resubmission delivered twice. Its log row is written again in the background until the log takes it.
        later(row, logged.reason, 'message log write failed after the message was accepted; writing it again');
      }
      facts.deliveries = deliveries.length;
      return json(202, { messageId, status: 'accepted', deliveries: deliveries.map((d) => d.destination) });
    }

    /** Sync: through to the one destination (or the hub that serves it) and back. */
    /** `native`: the caller's request as it wrote it, which the reply mapping may echo (`$request`). */
    async function relay(destination: RouteDestination, from: ConnectorConfig, op: OperationConfig, canonical: Record<string, unknown>, native: unknown): Promise<Reply> {
      const ids = { messageId, correlationId: request.correlationId, newId: timeOrderedId };
      let canonicalResponse: Record<string, unknown>;
      if (destination.remote) {
        if (!hubs) throw new HubError('server.no-federation', 'this hub has no federation configured', { status: 500 });
        const answer = await hubs.send(destination.remote, JSON.stringify(canonical), ids);
        facts.peerStatus = answer.status;
        facts.responseBytes = answer.body.length;
        if (answer.status !== 200) throw remoteError(destination.remote.hub, answer);
        canonicalResponse = onAnswerSide(() => decodeJson(answer.body)) as Record<string, unknown>;
        const type = op.canonical.response!;
        validate(registry, `canonical/${type}`, canonicalResponse, (detail) => new HubError('schema.invalid-canonical', `Câu trả lời chuẩn ${type} từ hub ${destination.remote!.hub} không hợp lệ / the other hub's canonical answer is invalid`, { status: 502, detail }));
      } else {
        canonicalResponse = await callOperation(callContext, findOperation(registry, destination.to)!, canonical, ids, facts);
      }
      step('call');

      const replyMessage = op.response;
      if (!replyMessage) throw new HubError('server.no-response-mapping', `${from.id}.${op.id} has no response mapping`, { status: 500 });
      const reply = checksums.sign(from, op, 'response', onAnswerSide(() => mapWith(registry, replyMessage.mapping, canonicalResponse, native)));
      validate(registry, replyMessage.schema, reply, (detail) => new HubError('schema.invalid-reply', `Câu trả lời cho ${from.id} không đúng lược đồ / reply does not match ${replyMessage.schema}`, { status: 502, detail }));
      const encoded = encodeReply(from, reply, soap);
      // The log keeps who asked what, when, and the outcome (Decree 13/2023 asks for a record of each lookup), not the
      // answer. The answer does not wait for it; a record the log refuses is written later, never dropped.
      void keep({ state: 'delivered', deliveries: 0 });
      return encoded;
    }

    /** Deny by default: the caller needs a grant for the destination's service (and operation). */
    function allow(client: string, destination: RouteDestination): void {
      const local = destination.remote ? undefined : findOperation(registry, destination.to);
      const service = destination.remote?.service ?? serviceOf(local!.connector, local!.operation);
      const decision = access ? access.check(client, service, local?.operation.id) : { allowed: false as const, code: 'no-grant', reason: 'this hub has no access rights configured' };
      if (!decision.allowed) {
        throw new HubError('trust.access-denied', `Không có quyền sử dụng dịch vụ / ${client} may not use ${service}`, { status: 403, detail: [{ reason: decision.reason, code: decision.code }] });
      }
    }

    /** The record, written now or, when the log refuses it, again later until the log takes it. Never rejects. */
    function keep(record: LogRecord): Promise<void> {
      return lateWrites.keep(() => remember(record), { messageId, state: record.state }, request.log ?? log);
    }

    function later(record: LogRecord, error: unknown, why?: string): void {
      lateWrites.retry(() => remember(record), error, { messageId, state: record.state }, request.log ?? log, why);
    }

    /** The message log's record of this message: awaited for async acceptance (durable before 202); see `keep` otherwise. */
    async function remember(record: LogRecord): Promise<void> {
      if (!messageLog) return;
      // One row says it all: when, from whom, what, how large, and the state (received, then rejected,
      // delivered or accepted); an accepted message's deliveries continue its history as events.
      return messageLog.recordMessage({
        id: messageId,
        messageType: operation?.canonical.request ?? operation?.id ?? '(unknown)',
        routeId: facts.route as string | undefined,
        participant: source?.participant ?? '(unknown)',
        connector: request.connectorId,
        operation: operation?.id ?? request.operationId ?? '(unknown)',
        dossierCode: typeof canonicalRequest?.dossierCode === 'string' ? canonicalRequest.dossierCode : undefined,
        correlationId: request.correlationId,
        receivedAt: receivedAt.getTime(),
        requestBytes: request.body.length,
        state: record.state,
        deliveries: record.deliveries,
        payload: record.payload,
        reason: record.reason,
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

function json(status: number, body: unknown): Reply {
  return { status, contentType: 'application/json; charset=utf-8', body: encodeJson(body) };
}

/**
 * What the caller asked the hub to deliver, as a SHA-256 of the canonical message without the fields the hub stamps
 * on each submission (its message id, reception time and correlation id): a genuine retry has the same one however it
 * is serialised (JSON key order and spacing, a SOAP envelope signed afresh with a new timestamp), a different event
 * (another status, time or handler) has another. Fields of the caller's request that the mapping drops do not count:
 * they are not delivered either.
 */
export function fingerprintOf(canonical: Record<string, unknown>): string {
  const { messageId: _id, occurredAt: _at, correlationId: _corr, ...asked } = canonical;
  return `sha256:${createHash('sha256').update(canonicalJson(asked)).digest('hex')}`;
}

/** The caller's Idempotency-Key was used before for a different message: refused, nothing accepted (draft-ietf-httpapi-idempotency-key-header). */
function idempotencyConflict(firstMessageId: string): HubError {
  return new HubError('client.idempotency-conflict', 'Idempotency-Key đã được dùng cho một yêu cầu khác / this Idempotency-Key was already used for a different request', {
    status: 422,
    detail: [{
      field: 'Idempotency-Key',
      reason: `message ${firstMessageId} was accepted under this Idempotency-Key with different content; nothing was accepted now. Send a new event under a new key; resend the first one unchanged to learn its outcome`,
      code: 'idempotency-key-reused',
    }],
  });
}

/** The operation's declared business key (e.g. dossier code + status + time), or none. */
function businessKey(operation: OperationConfig, canonical: Record<string, unknown>): string | undefined {
  if (!operation.idempotencyKey?.length) return undefined;
  return operation.idempotencyKey.map((path) => JSON.stringify(readPath(canonical, path) ?? null)).join('|');
}

/** The value a connector's codec reads from raw bytes; for SOAP also the first Body element's name. */
function decodeNative(connector: ConnectorConfig, body: Buffer, soap: SoapSecurity): { value: unknown; element?: string } {
  if (connector.transport === 'soap') {
    soap.open(connector, body); // a signing system's request is verified before anything parses it
    const message = decodeSoap(body, { version: connector.soap?.version });
    if (message.fault) throw new HubError('client.bad-soap', 'Yêu cầu là một SOAP Fault / a request cannot be a SOAP Fault', { status: 400 });
    return { value: message.body, element: message.firstBodyElement?.name };
  }
  return { value: decodeJson(body) };
}

function selectOperation(connector: ConnectorConfig, operationId: string | undefined, element: string | undefined): OperationConfig {
  const inbound = Object.values(connector.operations).filter((o) => o.direction === 'inbound');
  const found = operationId !== undefined
    ? inbound.find((o) => o.id === operationId)
    : inbound.find((o) => (o.element ?? o.id) === element);
  if (!found) {
    const asked = operationId ?? (element === undefined ? '<(empty Body)>' : `<${showName(element)}>`);
    throw unknownOperation(`${connector.id} has no inbound operation ${asked}; known: ${inbound.map((o) => o.element ?? o.id).join(', ') || '(none)'}`);
  }
  return found;
}

/**
 * The participant on whose behalf a connector's endpoint is called. A verified identity (client
 * certificate, trusted proxy) must be that connector's own participant: a system may use only its own
 * endpoints. Without one, the connector's participant is assumed, unless the hub requires identities.
 */
function callerOf(connector: ConnectorConfig, caller: InboundRequest['caller'], required: boolean): string {
  if (caller) {
    if (caller.participant !== connector.participant) {
      throw new HubError('trust.wrong-participant', `Bên gọi không phải là ${connector.id} / the caller is not ${connector.id}`, {
        status: 403, detail: [{ reason: `the ${caller.via === 'mtls' ? 'client certificate' : 'proxy'} names ${caller.participant}, but this endpoint belongs to ${connector.participant}`, code: 'participant-mismatch' }],
      });
    }
    return caller.participant;
  }
  if (required) {
    throw new HubError('trust.client-unauthenticated', 'Bên gọi chưa xác thực / the caller presented no identity', {
      status: 401, detail: [{ reason: 'this hub requires a client certificate (or a trusted proxy naming the caller)', code: 'no-identity' }],
    });
  }
  return connector.participant;
}

function unknownOperation(reason: string): HubError {
  return new HubError('client.unknown-operation', `Không có thao tác này / unknown connector or operation: ${reason}`, { status: 404, detail: [{ reason, code: 'unknown-operation' }] });
}

function encodeReply(connector: ConnectorConfig, reply: Record<string, unknown>, security: SoapSecurity): Reply {
  if (connector.transport === 'soap') {
    const soap = connector.soap!;
    return { status: 200, contentType: soapContentType(soap.version), body: security.seal(connector, encodeSoap({ version: soap.version, body: reply, namespace: soap.namespace, prefix: soap.prefix, qualifyChildren: soap.qualifyChildren })) };
  }
  return json(200, reply);
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

/** One line per message: ids, route, outcome, sizes, timings. Never the payload. */
function logOutcome(log: Logger, facts: Record<string, unknown>, error?: unknown): void {
  const status = facts.status as number;
  // The hub's own failures (a bug, its storage unable to write) carry the error, with its cause, for the operator.
  if (status >= 500 && (!(error instanceof HubError) || error.stage === 'server')) log.error({ ...facts, err: error }, 'message failed inside the hub');
  else if (status >= 500) log.warn(facts, 'message failed at the destination');
  else if (status >= 400) log.info(facts, 'message rejected');
  else log.info(facts, facts.outcome === 'accepted' ? 'message accepted' : 'message delivered');
}
