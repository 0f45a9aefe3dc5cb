/**
 * The message log: every message the hub receives, its route, and every state change of it and of its
 * deliveries, searchable by dossier code, correlation id, participant, type, state and time. It is
 * the operator's memory and (later) the auditor's evidence. Kysely over SQLite (default) or PostgreSQL
 * (DATABASE_URL), same code, migrations run at start.
 *
 * Writes are group-committed: `record*` calls made within a few milliseconds share one transaction,
 * and each call's promise resolves only when its rows are durable.
 *
 * Every write is also stated in a hash-chained journal in the same transaction, sealed by signed
 * checkpoints when a signer is configured (journal.ts, checkpoints.ts, docs/audit.md).
 */
import type { AccessChangeRecord } from '../trust/access.js';
import type { EvidenceBundle } from '../trust/evidence.js';

/** `duplicate`: a submission whose idempotency key was accepted before; its reason names the first message. */
/** `rejected`: refused for the caller's own fault (4xx); `failed`: the destination or the hub failed it (5xx: timeout, fault, outage). */
export type MessageState = 'received' | 'rejected' | 'failed' | 'duplicate' | 'accepted' | 'delivered' | 'partially-delivered' | 'dead-lettered' | 'discarded';

export interface MessageRecord {
  id: string;
  /** Canonical message type, e.g. DossierStatusChanged (or the operation when rejected before mapping). */
  messageType: string;
  routeId?: string;
  /** Participant that sent it, e.g. VN/GOV/000.00.00.H56/MOTCUA. */
  participant: string;
  connector: string;
  operation: string;
  dossierCode?: string;
  correlationId: string;
  receivedAt: number;
  /** Size of the request as received, in bytes. */
  requestBytes?: number;
  state: MessageState;
  /** Number of deliveries created (0 for sync or rejected messages). */
  deliveries: number;
  /** Canonical payload JSON kept for replay; sealed at rest, dropped after the payload retention. */
  payload?: string;
  reason?: string;
  /**
   * The signature headers of a hub-to-hub message (`x-lienthong-*` and `content-digest`), so that an auditor can
   * re-verify the signature over the payload. Other header names are dropped: they may hold credentials.
   */
  signature?: Record<string, string>;
}

export type EventKind = 'received' | 'rejected' | 'duplicate' | 'accepted' | 'attempt' | 'delivered' | 'retry-scheduled' | 'dead-lettered' | 'replayed' | 'discarded';

/**
 * One state change. Attempt events carry the operational record (modelled on X-Road's op-monitoring); a
 * successful attempt is recorded as one `delivered` event carrying that record. The message's own
 * `received` and `accepted` / `rejected` are facts of its row, shown as events by `history`.
 */
export interface LogEvent {
  messageId: string;
  deliveryId?: string;
  destination?: string;
  at: number;
  kind: EventKind;
  attempt?: number;
  succeeded?: boolean;
  durationMs?: number;
  queueWaitMs?: number;
  httpStatus?: number;
  faultCode?: string;
  errorType?: string;
  reason?: string;
  requestBytes?: number;
  responseBytes?: number;
  mappingId?: string;
  requestInAt?: number;
  responseOutAt?: number;
  /** Who asked for it: the admin API's actor of a replay or discard (see server/admin.ts `actorOf`). */
  actor?: string;
}

export interface LogQuery {
  dossierCode?: string;
  correlationId?: string;
  participant?: string;
  messageType?: string;
  state?: MessageState;
  from?: number;
  to?: number;
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface MessageSummary extends Omit<MessageRecord, 'payload'> {
  hasPayload: boolean;
  updatedAt: number;
}

export interface MessageLog {
  readonly dialect: 'sqlite' | 'postgres';
  recordMessage(message: MessageRecord): Promise<void>;
  /** Updates a message's state (and reason), e.g. accepted → delivered. */
  setState(messageId: string, state: MessageState, reason?: string): Promise<void>;
  recordEvents(events: LogEvent[]): Promise<void>;
  search(query: LogQuery): Promise<{ items: MessageSummary[]; next?: string }>;
  history(messageId: string): Promise<{ message: MessageSummary; events: LogEvent[] } | undefined>;
  /** Settles the states of messages whose deliveries may all have ended (batch; see the implementation). */
  settle(messageIds: string[]): Promise<number>;
  /** The opened canonical payload, if still kept. */
  payload(messageId: string): Promise<string | undefined>;
  /** Drops payloads older than `payloadRetentionMs` and whole records older than `metadataRetentionMs`. */
  purge(now: number): Promise<{ payloadsDropped: number; messagesDeleted: number }>;
  /** Records an access-right change (journaled); what trust/access.ts's AccessChangeLog.append needs. */
  recordAccessChange(record: AccessChangeRecord): Promise<void>;
  /** Every recorded access-right change, oldest first, for `AccessRights.restore` at start. */
  accessChanges(): Promise<AccessChangeRecord[]>;
  /** The evidence bundle of one message (see trust/evidence.ts), or undefined when the log does not hold it. */
  exportEvidence(messageId: string): Promise<EvidenceBundle | undefined>;
  close(): Promise<void>;
}
