import { HubError, toHubError } from '../core/errors.js';
import type { OperationRef, Registry } from '../config/registry.js';
import type { Peer } from '../transport/index.js';
import { readPath } from './paths.js';
import { decodeAnswer, isoVn, judgeAnswer, mapWith, send, stamp, validate, type Checksums, type SoapSecurity } from './steps.js';

/**
 * One synchronous call of a local destination operation, canonical in and canonical out:
 *   map to the destination's dialect → its checksum, if it has one → validate → encode (and sign, for a
 *   WS-Security peer) → call → verify and decode the answer (SOAP faults recognised) → its checksum
 *   verified → the peer's own verdict (result:) → validate → not found? → map back to
 *   canonical → stamp → validate.
 * The inbound path (a caller of this hub) and the federated path (another hub) both call through here.
 * A failure on the answer's side is the peer's (or the configuration's) fault, never the caller's (502).
 */
export interface CallContext {
  registry: Registry;
  peers: ReadonlyMap<string, Peer>;
  conform: (schemaName: string, value: unknown) => unknown;
  checksums: Checksums;
  soap: SoapSecurity;
  now: () => Date;
}

export interface CallFacts {
  peerStatus?: number;
  responseBytes?: number;
}

export async function callOperation(ctx: CallContext, destination: OperationRef, canonical: Record<string, unknown>, ids: { messageId: string; correlationId: string; newId: () => string }, facts: CallFacts = {}): Promise<Record<string, unknown>> {
  const { registry } = ctx;
  const { connector, operation } = destination;
  const outbound = ctx.checksums.sign(connector, operation, 'request', mapWith(registry, operation.request.mapping, canonical));
  validate(registry, operation.request.schema, outbound, (detail) => new HubError('schema.invalid-destination', `Yêu cầu gửi ${connector.id} không đúng lược đồ / request for the destination does not match ${operation.request.schema}`, { status: 422, detail }));
  const peer = ctx.peers.get(connector.id);
  if (!peer) throw new HubError('server.no-peer', `no transport configured for ${connector.id}`, { status: 500 });
  const answer = await send(peer, connector, operation, outbound, { messageId: ids.messageId, correlationId: ids.correlationId, idempotencyKey: ids.messageId }, ctx.soap);
  facts.peerStatus = answer.status;
  facts.responseBytes = answer.body.length;

  const response = operation.response;
  const canonicalType = operation.canonical.response;
  if (!response || !canonicalType) throw new HubError('server.no-response-mapping', `${connector.id}.${operation.id} has no response mapping`, { status: 500 });
  const notFound = operation.notFound;
  // A peer that says "no such record" with an HTTP status (404): the caller's 404, not a failing peer.
  if (notFound?.status?.includes(answer.status)) throw notFoundError(connector);
  const native = ctx.conform(response.schema, decodeAnswer(connector, answer, ctx.soap));
  onAnswerSide(() => ctx.checksums.check(connector, operation, 'response', native));
  // ... or with a result code ({ma_loi: "01"}), which result: alone would judge a refusal.
  if (notFound?.codes && operation.result) {
    const code = readPath(native, operation.result.codeField);
    if (code !== undefined && code !== null && notFound.codes.some((c) => String(c) === String(code))) throw notFoundError(connector);
  }
  // The peer's own verdict in a 200 answer ({MaLoi, ThongBao}…): a refusal or "under maintenance" is not "not found".
  const verdict = judgeAnswer(operation, native);
  if (verdict.kind !== 'ok') {
    const code = verdict.code;
    const message = verdict.kind === 'resend' ? '' : verdict.message;
    throw new HubError(verdict.kind === 'retryable' ? 'transport.peer-rejected-retryable' : 'transport.peer-rejected', `${connector.name} từ chối / rejected: ${code}${message ? ` ${message}` : ''}`, {
      status: verdict.kind === 'retryable' ? 503 : 502, detail: [{ reason: message || `answer code ${code}`, code }],
    });
  }
  validate(registry, response.schema, native, (detail) => new HubError('transport.bad-response', `Câu trả lời của ${connector.id} không đúng lược đồ / the peer's answer does not match ${response.schema}`, { status: 502, detail }));
  if (notFound?.missing !== undefined && isAbsent(readPath(native, notFound.missing))) throw notFoundError(connector);
  const canonicalResponse = stamp(onAnswerSide(() => mapWith(registry, response.mapping, native, outbound)), {
    messageId: ids.newId(), messageType: canonicalType, occurredAt: isoVn(ctx.now()), correlationId: ids.correlationId, source: connector.participant,
  });
  validate(registry, `canonical/${canonicalType}`, canonicalResponse, (detail) => new HubError('schema.invalid-canonical', `Câu trả lời chuẩn ${canonicalType} không hợp lệ / canonical answer is invalid`, { status: 502, detail }));
  return canonicalResponse;
}

/** A mapping that fails on the peer's answer is not the caller's fault. */
export function onAnswerSide<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    const hubError = toHubError(error);
    throw hubError.status < 500 ? hubError.withStatus(502) : hubError;
  }
}

function notFoundError(connector: { id: string; name: string }): HubError {
  return new HubError('client.not-found', `Không tìm thấy dữ liệu tại ${connector.name} / no matching record at ${connector.id}`, { status: 404, detail: [{ reason: 'the destination answered that it holds no matching record', code: 'not-found' }] });
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '' || (typeof value === 'object' && Object.keys(value as object).length === 0);
}
