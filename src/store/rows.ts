import type { Insertable, Selectable } from 'kysely';
import { canonicalJson } from '../trust/evidence.js';
import { flag, num, type EventsTable, type MessagesTable } from './db.js';
import type { EventKind, LogEvent, MessageRecord, MessageState, MessageSummary } from './types.js';

/** Conversions between the log's records and table rows. Only `payload` carries message content. */

/** Epoch-ms (possibly fractional, e.g. from performance.timeOrigin + now()) as the integer the column holds. */
const ms = (value: number): number => Math.round(value);
const optMs = (value: number | undefined): number | null => (value === undefined ? null : Math.round(value));
const opt = <T>(value: T | undefined): T | null => (value === undefined ? null : value);

export function messageRow(message: MessageRecord, sealedPayload: string | null, updatedAt: number): Insertable<MessagesTable> {
  return {
    id: message.id,
    message_type: message.messageType,
    route_id: opt(message.routeId),
    participant: message.participant,
    connector: message.connector,
    operation: message.operation,
    dossier_code: opt(message.dossierCode),
    correlation_id: message.correlationId,
    received_at: ms(message.receivedAt),
    updated_at: ms(updatedAt),
    request_bytes: optMs(message.requestBytes),
    state: message.state,
    deliveries: Math.round(message.deliveries),
    payload: sealedPayload,
    payload_dropped: 0,
    reason: opt(message.reason),
    signature: signatureText(message.signature),
  };
}

/** Only the hub-to-hub signature headers are kept (lowercase names): any other header might carry a credential. */
const SIGNATURE_HEADER = /^(x-lienthong-[a-z0-9-]+|content-digest)$/;

export function signatureHeaders(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!headers) return undefined;
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (SIGNATURE_HEADER.test(lower) && typeof value === 'string') kept[lower] = value;
  }
  return Object.keys(kept).length > 0 ? kept : undefined;
}

function signatureText(headers: Record<string, string> | undefined): string | null {
  const kept = signatureHeaders(headers);
  return kept ? canonicalJson(kept) : null;
}

export function eventRow(event: LogEvent): Insertable<EventsTable> {
  return {
    message_id: event.messageId,
    delivery_id: opt(event.deliveryId),
    destination: opt(event.destination),
    at: ms(event.at),
    kind: event.kind,
    attempt: opt(event.attempt),
    succeeded: event.succeeded === undefined ? null : event.succeeded ? 1 : 0,
    duration_ms: opt(event.durationMs),
    queue_wait_ms: opt(event.queueWaitMs),
    http_status: opt(event.httpStatus),
    fault_code: opt(event.faultCode),
    error_type: opt(event.errorType),
    reason: opt(event.reason),
    request_bytes: opt(event.requestBytes),
    response_bytes: opt(event.responseBytes),
    mapping_id: opt(event.mappingId),
    request_in_at: optMs(event.requestInAt),
    response_out_at: optMs(event.responseOutAt),
    actor: opt(event.actor),
  };
}

/** The message columns a summary reads (never `payload`, which may be large and holds the content). */
export const SUMMARY_COLUMNS = [
  'id',
  'message_type',
  'route_id',
  'participant',
  'connector',
  'operation',
  'dossier_code',
  'correlation_id',
  'received_at',
  'updated_at',
  'request_bytes',
  'state',
  'deliveries',
  'reason',
] as const;

export type SummaryRow = Pick<Selectable<MessagesTable>, (typeof SUMMARY_COLUMNS)[number]> & { has_payload: boolean | number };

export function toSummary(row: SummaryRow): MessageSummary {
  const summary: MessageSummary = {
    id: row.id,
    messageType: row.message_type,
    participant: row.participant,
    connector: row.connector,
    operation: row.operation,
    correlationId: row.correlation_id,
    receivedAt: num(row.received_at),
    updatedAt: num(row.updated_at),
    state: row.state as MessageState,
    deliveries: Number(row.deliveries),
    hasPayload: Boolean(row.has_payload),
  };
  if (row.route_id !== null) summary.routeId = row.route_id;
  if (row.dossier_code !== null) summary.dossierCode = row.dossier_code;
  if (row.reason !== null) summary.reason = row.reason;
  if (row.request_bytes !== null) summary.requestBytes = Number(row.request_bytes);
  return summary;
}

export function toEvent(row: Selectable<EventsTable>): LogEvent {
  const event: LogEvent = { messageId: row.message_id, at: num(row.at), kind: row.kind as EventKind };
  if (row.delivery_id !== null) event.deliveryId = row.delivery_id;
  if (row.destination !== null) event.destination = row.destination;
  if (row.attempt !== null) event.attempt = Number(row.attempt);
  const succeeded = flag(row.succeeded);
  if (succeeded !== undefined) event.succeeded = succeeded;
  if (row.duration_ms !== null) event.durationMs = Number(row.duration_ms);
  if (row.queue_wait_ms !== null) event.queueWaitMs = Number(row.queue_wait_ms);
  if (row.http_status !== null) event.httpStatus = Number(row.http_status);
  if (row.fault_code !== null) event.faultCode = row.fault_code;
  if (row.error_type !== null) event.errorType = row.error_type;
  if (row.reason !== null) event.reason = row.reason;
  if (row.request_bytes !== null) event.requestBytes = Number(row.request_bytes);
  if (row.response_bytes !== null) event.responseBytes = Number(row.response_bytes);
  if (row.mapping_id !== null) event.mappingId = row.mapping_id;
  const requestInAt = num(row.request_in_at);
  if (requestInAt !== undefined) event.requestInAt = requestInAt;
  const responseOutAt = num(row.response_out_at);
  if (responseOutAt !== undefined) event.responseOutAt = responseOutAt;
  if (row.actor != null) event.actor = row.actor;
  return event;
}
