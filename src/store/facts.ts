import type { Insertable, Selectable } from 'kysely';
import type { AccessChangeRecord } from '../trust/access.js';
import { sha256Hex, type EvidenceEvent, type MessageFacts } from '../trust/evidence.js';
import { flag, num, type EventsTable } from './db.js';
import type { MessageState } from './types.js';

/**
 * What each journal entry states, built from the table rows the same way when writing (from the row about to be
 * written) and when verifying (from the row read back), so that an unchanged row always yields the same facts.
 * Facts hold identifiers, times, sizes and digests, never a payload.
 */

/** The columns of a message row that its facts come from (a row to insert, or one read back). */
export interface MessageFactColumns {
  id: string;
  message_type: string;
  route_id?: string | null;
  participant: string;
  connector: string;
  operation: string;
  dossier_code?: string | null;
  correlation_id: string;
  received_at: number | string;
  request_bytes?: number | string | null;
  state: string;
  deliveries: number | string;
  reason?: string | null;
  signature?: string | null;
}

export function payloadDigest(payload: string): string {
  return sha256Hex(Buffer.from(payload, 'utf8'));
}

/** Keys are set in sorted order, so that canonicalJson takes its fast path (the result is the same either way). */
export function messageFacts(row: MessageFactColumns, payloadSha256: string | undefined): MessageFacts {
  const facts: Record<string, unknown> = { connector: row.connector, correlationId: row.correlation_id, deliveries: Number(row.deliveries) };
  if (row.dossier_code != null) facts.dossierCode = row.dossier_code;
  facts.id = row.id;
  facts.messageType = row.message_type;
  facts.operation = row.operation;
  facts.participant = row.participant;
  if (payloadSha256 !== undefined) facts.payloadSha256 = payloadSha256;
  if (row.reason != null) facts.reason = row.reason;
  facts.receivedAt = num(row.received_at);
  if (row.request_bytes != null) facts.requestBytes = Number(row.request_bytes);
  if (row.route_id != null) facts.routeId = row.route_id;
  if (row.signature != null) facts.signature = JSON.parse(row.signature) as Record<string, string>;
  facts.state = row.state;
  return facts as unknown as MessageFacts;
}

export interface StateFacts {
  id: string;
  state: MessageState;
  reason?: string;
  at: number;
}

export function stateFacts(id: string, state: MessageState, reason: string | null, at: number): StateFacts {
  return reason === null ? { at, id, state } : { at, id, reason, state };
}

type EventColumns = Omit<Selectable<EventsTable>, 'id'> | Insertable<EventsTable>;

/**
 * Every field of the event as `history` returns it (rows.ts `toEvent`: the same names, conversions and omissions),
 * and its row id, keys in sorted order.
 */
export function eventFacts(id: number | string, row: EventColumns): EvidenceEvent {
  const r = row as Omit<Selectable<EventsTable>, 'id'>;
  const facts: Record<string, unknown> = {};
  if (r.actor != null) facts.actor = r.actor;
  facts.at = num(r.at);
  if (r.attempt != null) facts.attempt = Number(r.attempt);
  if (r.delivery_id != null) facts.deliveryId = r.delivery_id;
  if (r.destination != null) facts.destination = r.destination;
  if (r.duration_ms != null) facts.durationMs = Number(r.duration_ms);
  if (r.error_type != null) facts.errorType = r.error_type;
  if (r.fault_code != null) facts.faultCode = r.fault_code;
  if (r.http_status != null) facts.httpStatus = Number(r.http_status);
  facts.id = Number(id);
  facts.kind = r.kind;
  if (r.mapping_id != null) facts.mappingId = r.mapping_id;
  facts.messageId = r.message_id;
  if (r.queue_wait_ms != null) facts.queueWaitMs = Number(r.queue_wait_ms);
  if (r.reason != null) facts.reason = r.reason;
  if (r.request_bytes != null) facts.requestBytes = Number(r.request_bytes);
  const requestInAt = num(r.request_in_at ?? null);
  if (requestInAt !== undefined) facts.requestInAt = requestInAt;
  if (r.response_bytes != null) facts.responseBytes = Number(r.response_bytes);
  const responseOutAt = num(r.response_out_at ?? null);
  if (responseOutAt !== undefined) facts.responseOutAt = responseOutAt;
  const succeeded = flag(r.succeeded ?? null);
  if (succeeded !== undefined) facts.succeeded = succeeded;
  return facts as EvidenceEvent;
}

export interface AccessFacts {
  id: number;
  record: AccessChangeRecord;
}

export function accessFacts(id: number | string, record: AccessChangeRecord): AccessFacts {
  return { id: Number(id), record };
}
