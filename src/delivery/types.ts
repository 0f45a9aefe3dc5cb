/**
 * The delivery queue: one durable entry per (accepted message, destination). Two drivers implement it,
 * behind one conformance suite: the embedded SQLite driver (single node, the default) and the Redis
 * driver (BullMQ + ioredis, several hub processes sharing the work).
 *
 * Guarantees every driver gives:
 * - `accept` is atomic and durable: when it resolves, all of the message's deliveries and its
 *   idempotency keys are stored, or (on a repeated key) nothing new is and the first message's id comes back,
 *   said to be a duplicate, or a conflict when the key came with another fingerprint. Of concurrent accepts
 *   sharing a key, across processes, exactly one is accepted.
 * - Per (destination, orderingKey) FIFO: at most one delivery of a key is in flight, and a later one is
 *   never handed out before an earlier one has finished (delivered, dead-lettered or discarded).
 *   Other keys are not held up by a stuck one. An empty orderingKey means "no ordering".
 * - Leases: a claimed delivery not completed/retried/dead-lettered within its lease returns to the
 *   queue (crash recovery), with its attempt count kept.
 * - At-least-once: a delivery is handed out until it is completed, dead-lettered or discarded.
 */
export interface NewDelivery {
  /** Delivery id (uuid); also the idempotency key sent to the peer. */
  id: string;
  messageId: string;
  routeId: string;
  /** "<connector>.<operation>" */
  destination: string;
  /** e.g. the dossier code; '' for unordered. */
  orderingKey: string;
  /** The canonical message as JSON. Drivers store it sealed (AES-GCM) and hand it back opened. */
  payload: string;
  /** Epoch ms when the hub accepted the message. */
  acceptedAt: number;
}

export type DeliveryState = 'ready' | 'delayed' | 'active' | 'delivered' | 'dead' | 'discarded';

export interface Delivery extends NewDelivery {
  state: DeliveryState;
  /** Attempts made before this claim (0 on the first claim). */
  attempts: number;
  /** Epoch ms when the delivery may next be handed out. */
  availableAt: number;
  /** Epoch ms of the first attempt, for maxElapsed budgets. */
  firstAttemptAt?: number;
  lastError?: string;
  /** Lease token: must be passed back to complete/retryLater/deadLetter/release. */
  lease?: string;
  /**
   * Set by `claim` when the stored payload cannot be opened (the data key changed, or the record was tampered
   * with): why (naming the key the payload needs, when known). `payload` is then `UNSEALABLE_PAYLOAD`. The delivery is
   * leased like any other, and must not be delivered: the claimer dead-letters it with this reason, so that the
   * message log records it and the message settles (a driver never dead-letters it silently).
   */
  unsealable?: string;
}

export interface DeadLetter extends Delivery {
  deadAt: number;
  reason: string;
  /**
   * Set when the stored payload cannot be opened (the data key changed, or the record was tampered with): why,
   * and what to do. `payload` is then `UNSEALABLE_PAYLOAD`, so the entry can still be listed, shown and discarded.
   */
  unsealable?: string;
}

/** Acceptance order: by acceptance time, then by message id (time-ordered), then by delivery id. */
export function inAcceptanceOrder(a: { acceptedAt: number; messageId: string; id: string }, b: { acceptedAt: number; messageId: string; id: string }): number {
  if (a.acceptedAt !== b.acceptedAt) return a.acceptedAt - b.acceptedAt;
  if (a.messageId !== b.messageId) return a.messageId < b.messageId ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The payload of a dead letter whose stored one cannot be opened (valid JSON: it stands for "no message"). */
export const UNSEALABLE_PAYLOAD = 'null';

export interface DeadLetterFilter {
  destination?: string;
  routeId?: string;
  messageId?: string;
  orderingKey?: string;
  /** Dead-lettered at or after (epoch ms). */
  since?: number;
  limit?: number;
  offset?: number;
}

export interface QueueCounts {
  ready: number;
  delayed: number;
  active: number;
  dead: number;
}

/** One name a submission is known by, e.g. a caller's Idempotency-Key header, or a business key (dossier + status + time). */
export interface IdempotencyKey {
  key: string;
  /**
   * What was submitted under the key (e.g. a hash of the message), stored with it. A repeat of the key with another
   * fingerprint is a conflict, not a duplicate. Without one (on either side: a "same event" key such as a business
   * key, or a key stored before fingerprints were kept), any repeat of the key is a duplicate.
   */
  fingerprint?: string;
}

export interface AcceptMessage {
  messageId: string;
  /** One key without a fingerprint; the same as `idempotencyKeys: [{ key }]` (both may be given). */
  idempotencyKey?: string;
  /**
   * Every key the submission is known by, each checked: the first key that was seen with the same (or no) fingerprint
   * makes it a duplicate of that key's message; otherwise a key seen with another fingerprint makes it a conflict;
   * otherwise it is accepted and every key is stored with it, atomically with its deliveries.
   */
  idempotencyKeys?: IdempotencyKey[];
  idempotencyTtlMs?: number;
  deliveries: NewDelivery[];
  lease?: { workerId: string; leaseMs: number; limit: number };
}

export interface Accepted {
  /** The new message's id; on a duplicate or a conflict, the id of the message the key belongs to. */
  messageId: string;
  duplicate: boolean;
  /**
   * Set (with `duplicate` false) when a key was used before for another submission (its fingerprint differs): nothing was
   * stored, and `messageId` is the earlier message's. Only an accept that gave fingerprints gets it.
   */
  conflict?: true;
  /** Present when the accept asked for a lease and leased at least one delivery. */
  leased?: Array<{ id: string; lease: string }>;
}

/** The keys of an accept, `idempotencyKey` first, without empty or repeated keys (the first of a key wins). */
export function idempotencyKeysOf(message: Pick<AcceptMessage, 'idempotencyKey' | 'idempotencyKeys'>): IdempotencyKey[] {
  const all = [...(message.idempotencyKey ? [{ key: message.idempotencyKey }] : []), ...(message.idempotencyKeys ?? [])];
  const seen = new Set<string>();
  const out: IdempotencyKey[] = [];
  for (const { key, fingerprint } of all) {
    if (!key || seen.has(key)) continue;
    seen.add(key);
    out.push(fingerprint ? { key, fingerprint } : { key });
  }
  return out;
}

export interface QueueDriver {
  readonly kind: 'embedded' | 'redis';
  /** Set when this setup can lose accepted messages in a crash (e.g. Redis without an fsynced append-only file), saying how to fix it. */
  readonly durabilityWarning?: string;
  /**
   * With `lease`, up to `lease.limit` of the new deliveries that may start at once (their key's head, or
   * unordered) are leased to `lease.workerId` in the same atomic step, and come back in `leased` with their
   * lease tokens: the accepting process delivers them without a claim. Such a lease ends like any other
   * (complete, retryLater, deadLetter; back to the queue when it expires).
   */
  accept(message: AcceptMessage): Promise<Accepted>;
  /**
   * Up to `limit` due deliveries, leased to `workerId` for `leaseMs`, honouring per-key FIFO. One whose payload cannot
   * be opened comes back too, leased, flagged `unsealable`: the claimer dead-letters it.
   */
  claim(workerId: string, limit: number, leaseMs: number): Promise<Delivery[]>;
  /** Extends a lease (long deliveries); false when the lease was lost. */
  extend(id: string, lease: string, leaseMs: number): Promise<boolean>;
  /**
   * Hands a lease back (a hub shutting down): the delivery is due again at once, for any claimer, its attempts and its
   * place in its key's line kept; no attempt is counted. False when the lease was lost (nothing changed).
   */
  release(id: string, lease: string): Promise<boolean>;
  complete(id: string, lease: string): Promise<void>;
  /** Back to the queue, not before `availableAt`; counts one attempt. */
  retryLater(id: string, lease: string, availableAt: number, error: string): Promise<void>;
  /** Out of the queue into the dead-letter store, with the reason; counts one attempt; frees its key. */
  deadLetter(id: string, lease: string, reason: string): Promise<void>;
  listDead(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  getDead(id: string): Promise<DeadLetter | undefined>;
  /** Dead letters back to the queue (attempts reset to 0, ordering: after what is queued for their key). Returns how many moved. */
  replay(ids: string[]): Promise<number>;
  /**
   * Retention of dead letters (`store.payloadRetention`, `store.metadataRetention`): at most `limit` dead letters
   * dead-lettered before `deadBefore` are removed for good (returned, for the message log), and at most `limit` of
   * those dead-lettered before `payloadBefore` lose their sealed payload: they can still be listed, shown and discarded,
   * flagged `unsealable` ("payload dropped by retention"), but no longer replayed. Call again while either comes back
   * full.
   */
  purgeDead(retention: { payloadBefore: number; deadBefore: number; limit: number }): Promise<{ payloadsDropped: number; removed: Array<Pick<DeadLetter, 'id' | 'messageId' | 'destination' | 'deadAt'>> }>;
  /** A dead letter removed for good, with the operator's reason. */
  discard(id: string, reason: string): Promise<boolean>;
  counts(): Promise<QueueCounts>;
  close(): Promise<void>;
}
