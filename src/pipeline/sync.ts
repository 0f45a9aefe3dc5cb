import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { HubError, toHubError } from '../core/errors.js';
import { createConformer } from '../codec/conform.js';
import { decodeJson, encodeJson } from '../codec/json.js';
import { decodeSoap, encodeSoap, soapActionHeader, soapContentType } from '../codec/soap.js';
import { findOperation, type Registry } from '../config/registry.js';
import type { ConnectorConfig, OperationConfig, RouteConfig } from '../config/types.js';
import { toErrorDetails } from '../schema/validation-errors.js';
import type { Peer } from '../transport/index.js';
import { readPath } from './paths.js';

/**
 * The synchronous path of one message, top to bottom (X-Road's linear message processor, OpenHIM's
 * one-file ingress): receive → decode → validate native → map to canonical → validate canonical →
 * map to the destination → validate → encode → call → decode the answer → validate → not found? →
 * map back to canonical → validate → map into the caller's dialect → validate → reply.
 *
 * Each step that can fail names its stage in the error type; a failure on the answer's side is the
 * peer's (or the hub's config's) fault, never the caller's, and is reported as such (502).
 */
export interface InboundRequest {
  connectorId: string;
  /** Undefined for SOAP endpoints: the first Body element selects the operation. */
  operationId?: string;
  body: Buffer;
  requestId: string;
  correlationId: string;
  /** The request's own logger (carrying request and correlation ids); the pipeline's otherwise. */
  log?: Logger;
}

export interface Reply {
  status: number;
  contentType: string;
  body: string;
}

export interface SyncOutcome {
  messageId: string;
  route?: string;
  reply?: Reply;
  error?: HubError;
}

export interface SyncPipelineDeps {
  registry: Registry;
  peers: ReadonlyMap<string, Peer>;
  log: Logger;
  now?: () => Date;
}

export type SyncPipeline = (request: InboundRequest) => Promise<SyncOutcome>;

export function createSyncPipeline({ registry, peers, log, now = () => new Date() }: SyncPipelineDeps): SyncPipeline {
  const conform = conformers(registry);
  return async function handle(request) {
    const messageId = randomUUID();
    const started = performance.now();
    const timings: Record<string, number> = {};
    let mark = started;
    const step = (name: string) => {
      const t = performance.now();
      timings[name] = Math.round((t - mark) * 100) / 100;
      mark = t;
    };
    const facts: Record<string, unknown> = { messageId, connector: request.connectorId, requestBytes: request.body.length };
    try {
      // 1. Which system is calling, and for what.
      const source = registry.connectors.get(request.connectorId);
      if (!source) throw unknownOperation(`connector "${request.connectorId}" is not configured`);
      const decoded = decodeNative(source, request.body);
      const operation = selectOperation(source, request.operationId, decoded.element);
      facts.operation = operation.id;
      const route = registry.routes.get(`${source.id}.${operation.id}`);
      if (!route) throw unknownOperation(`no route starts at ${source.id}.${operation.id}`);
      facts.route = route.id;
      const destination = findOperation(registry, route.to)!;
      step('decode');

      // 2. The caller's request, as the caller wrote it, then as the hub's canonical type.
      const native = conform(operation.request.schema, decoded.value);
      validate(registry, operation.request.schema, native, (detail) => new HubError('client.schema-violation', `Yêu cầu không đúng lược đồ / request does not match schema ${operation.request.schema}`, { status: 400, detail }));
      const canonicalRequest = stamp(mapWith(registry, operation.request.mapping, native), {
        messageId, messageType: operation.canonical.request, occurredAt: isoVn(now()), correlationId: request.correlationId, source: source.participant,
      });
      validate(registry, `canonical/${operation.canonical.request}`, canonicalRequest, (detail) => new HubError('schema.invalid-canonical', `Thông điệp chuẩn ${operation.canonical.request} không hợp lệ / canonical message is invalid`, { status: 422, detail }));
      step('map-in');

      // 3. Into the destination's dialect, and over the wire.
      const outbound = mapWith(registry, destination.operation.request.mapping, canonicalRequest);
      validate(registry, destination.operation.request.schema, outbound, (detail) => new HubError('schema.invalid-destination', `Yêu cầu gửi ${destination.connector.id} không đúng lược đồ / request for the destination does not match ${destination.operation.request.schema}`, { status: 422, detail }));
      step('map-out');
      const peer = peers.get(destination.connector.id);
      if (!peer) throw new HubError('server.no-peer', `no transport configured for ${destination.connector.id}`, { status: 500 });
      const answer = await call(peer, destination.connector, destination.operation, outbound, messageId, request.correlationId);
      facts.peerStatus = answer.status;
      facts.responseBytes = answer.body.length;
      step('call');

      // 4. The destination's answer, checked, then back to canonical.
      const response = destination.operation.response;
      const canonicalResponseType = destination.operation.canonical.response;
      if (!response || !canonicalResponseType) throw new HubError('server.no-response-mapping', `${route.to} has no response mapping`, { status: 500 });
      const nativeAnswer = conform(response.schema, decodeAnswer(destination.connector, answer));
      validate(registry, response.schema, nativeAnswer, (detail) => new HubError('transport.bad-response', `Câu trả lời của ${destination.connector.id} không đúng lược đồ / the peer's answer does not match ${response.schema}`, { status: 502, detail }));
      const notFound = destination.operation.notFound;
      if (notFound && isAbsent(readPath(nativeAnswer, notFound.missing))) {
        throw new HubError('client.not-found', `Không tìm thấy dữ liệu tại ${destination.connector.name} / no matching record at ${destination.connector.id}`, { status: 404, detail: [{ reason: 'the destination answered that it holds no matching record', code: 'not-found' }] });
      }
      const canonicalResponse = stamp(onAnswerSide(() => mapWith(registry, response.mapping, nativeAnswer)), {
        messageId: randomUUID(), messageType: canonicalResponseType, occurredAt: isoVn(now()), correlationId: request.correlationId, source: destination.connector.participant,
      });
      validate(registry, `canonical/${canonicalResponseType}`, canonicalResponse, (detail) => new HubError('schema.invalid-canonical', `Câu trả lời chuẩn ${canonicalResponseType} không hợp lệ / canonical answer is invalid`, { status: 502, detail }));
      step('map-back');

      // 5. Into the caller's dialect.
      const replyMessage = operation.response;
      if (!replyMessage) throw new HubError('server.no-response-mapping', `${source.id}.${operation.id} has no response mapping`, { status: 500 });
      const reply = onAnswerSide(() => mapWith(registry, replyMessage.mapping, canonicalResponse));
      validate(registry, replyMessage.schema, reply, (detail) => new HubError('schema.invalid-reply', `Câu trả lời cho ${source.id} không đúng lược đồ / reply does not match ${replyMessage.schema}`, { status: 502, detail }));
      const encoded = encodeReply(source, reply);
      step('reply');

      logOutcome(request.log ?? log, { ...facts, outcome: 'delivered', status: 200, timings, totalMs: elapsed(started) });
      return { messageId, route: route.id, reply: encoded };
    } catch (thrown) {
      const error = toHubError(thrown);
      logOutcome(request.log ?? log, { ...facts, outcome: 'rejected', status: error.status, errorType: error.type, timings, totalMs: elapsed(started) }, thrown);
      return { messageId, route: facts.route as string | undefined, error };
    }
  };
}

/** The value a connector's codec reads from raw bytes; for SOAP also the first Body element's name. */
function decodeNative(connector: ConnectorConfig, body: Buffer): { value: unknown; element?: string } {
  if (connector.transport === 'soap') {
    const message = decodeSoap(body);
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
    const asked = operationId ?? `<${element ?? '(empty Body)'}>`;
    throw unknownOperation(`${connector.id} has no inbound operation ${asked}; known: ${inbound.map((o) => o.element ?? o.id).join(', ') || '(none)'}`);
  }
  return found;
}

function unknownOperation(reason: string): HubError {
  return new HubError('client.unknown-operation', `Không có thao tác này / unknown connector or operation: ${reason}`, { status: 404, detail: [{ reason, code: 'unknown-operation' }] });
}

/**
 * XML has no arrays and no empty objects: native messages of SOAP systems are reshaped to their schema
 * (one element → a one-item list, an empty element → {}) before validation. Plans are prepared once.
 */
function conformers(registry: Registry): (schemaName: string, value: unknown) => unknown {
  const prepared = new Map<string, (value: unknown) => unknown>();
  for (const connector of registry.connectors.values()) {
    if (connector.transport !== 'soap') continue;
    for (const op of Object.values(connector.operations)) {
      for (const name of [op.request.schema, op.response?.schema]) {
        const resolved = name ? registry.schemas.byName(name) : undefined;
        if (name && resolved) prepared.set(name, createConformer(resolved.schema, registry.schemas, resolved.baseId));
      }
    }
  }
  return (schemaName, value) => prepared.get(schemaName)?.(value) ?? value;
}

function validate(registry: Registry, schemaName: string, value: unknown, failure: (detail: ReturnType<typeof toErrorDetails>) => HubError): void {
  const validator = registry.validators.get(schemaName);
  if (!validator) throw new HubError('server.missing-schema', `schema ${schemaName} is not loaded`, { status: 500 });
  if (!validator(value)) throw failure(toErrorDetails(validator.errors ?? []));
}

function mapWith(registry: Registry, mappingId: string, value: unknown): Record<string, unknown> {
  const mapping = registry.mappings.get(mappingId);
  if (!mapping) throw new HubError('server.missing-mapping', `mapping ${mappingId} is not loaded`, { status: 500 });
  return mapping.run(value);
}

/** A mapping that fails on the peer's answer is not the caller's fault. */
function onAnswerSide<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    const hubError = toHubError(error);
    throw hubError.status < 500 ? hubError.withStatus(502) : hubError;
  }
}

/** The hub, not the mapping, writes the envelope: ids and times are facts about this passage. */
function stamp(message: Record<string, unknown>, envelope: Record<string, unknown>): Record<string, unknown> {
  return { ...message, ...envelope };
}

async function call(peer: Peer, connector: ConnectorConfig, operation: OperationConfig, outbound: Record<string, unknown>, messageId: string, correlationId: string) {
  const headers: Record<string, string> = { 'x-correlation-id': correlationId, 'x-message-id': messageId };
  if (connector.transport === 'soap') {
    const soap = connector.soap!;
    headers['content-type'] = soapContentType(soap.version, operation.soapAction);
    if (soap.version === '1.1') headers.soapaction = soapActionHeader(operation.soapAction ?? '');
    const body = encodeSoap({ version: soap.version, body: outbound, namespace: soap.namespace, prefix: soap.prefix, qualifyChildren: soap.qualifyChildren });
    return peer.send({ path: operation.path ?? '/', method: 'POST', headers, body, idempotencyKey: messageId });
  }
  headers['content-type'] = 'application/json; charset=utf-8';
  headers.accept = 'application/json';
  return peer.send({ path: operation.path ?? '/', method: 'POST', headers, json: outbound, idempotencyKey: messageId });
}

function decodeAnswer(connector: ConnectorConfig, answer: { status: number; body: Buffer }): unknown {
  try {
    if (connector.transport === 'soap') {
      const message = decodeSoap(answer.body);
      if (message.fault) {
        throw new HubError('transport.peer-fault', `${connector.name} trả lỗi SOAP Fault / the peer answered with a SOAP fault: ${message.fault.code}: ${message.fault.reason}`, {
          status: 502, detail: [{ reason: message.fault.reason, code: message.fault.code }],
        });
      }
      if (answer.status >= 300) throw peerStatus(connector, answer.status);
      return message.body;
    }
    if (answer.status >= 300) throw peerStatus(connector, answer.status);
    return decodeJson(answer.body);
  } catch (error) {
    const hubError = toHubError(error);
    if (hubError.stage === 'client') {
      // The peer sent something we cannot read: its fault, not the caller's.
      if (answer.status >= 300) throw peerStatus(connector, answer.status);
      throw new HubError('transport.bad-response', `Câu trả lời của ${connector.id} không đọc được / unreadable answer from the peer: ${hubError.message}`, { status: 502, detail: hubError.detail });
    }
    throw hubError;
  }
}

function peerStatus(connector: ConnectorConfig, status: number): HubError {
  return new HubError('transport.peer-error', `${connector.name} trả mã HTTP ${status} / the peer answered HTTP ${status}`, { status: 502, detail: [{ reason: `HTTP ${status} from ${connector.id}`, code: `http-${status}` }] });
}

function encodeReply(connector: ConnectorConfig, reply: Record<string, unknown>): Reply {
  if (connector.transport === 'soap') {
    const soap = connector.soap!;
    return { status: 200, contentType: soapContentType(soap.version), body: encodeSoap({ version: soap.version, body: reply, namespace: soap.namespace, prefix: soap.prefix, qualifyChildren: soap.qualifyChildren }) };
  }
  return { status: 200, contentType: 'application/json; charset=utf-8', body: encodeJson(reply) };
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '' || (typeof value === 'object' && Object.keys(value as object).length === 0);
}

/** Asia/Ho_Chi_Minh is UTC+07:00 all year. */
export function isoVn(date: Date): string {
  return new Date(date.getTime() + 7 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, '+07:00');
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

/** One line per message: ids, route, outcome, sizes, timings. Never the payload. */
function logOutcome(log: Logger, facts: Record<string, unknown>, error?: unknown): void {
  const status = facts.status as number;
  if (status >= 500 && !(error instanceof HubError)) log.error({ ...facts, err: error }, 'message failed inside the hub');
  else if (status >= 500) log.warn(facts, 'message failed at the destination');
  else if (status >= 400) log.info(facts, 'message rejected');
  else log.info(facts, 'message delivered');
}

export type { RouteConfig };
