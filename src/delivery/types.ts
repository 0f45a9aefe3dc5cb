/**
 * The delivery queue: one durable entry per (accepted message, destination). Two drivers implement it,
 * behind one conformance suite: the embedded SQLite driver (single node, the default) and the Redis
 * driver (BullMQ + ioredis, several hub processes sharing the work).
 *
 * Guarantees every driver gives:
 * - `accept` is atomic and durable: when it resolves, all of the message's deliveries and its
 *   idempotency key are stored, or (on a repeated key) nothing new is and the first message's id comes back.
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
  /** Lease token: must be passed back to complete/retryLater/deadLetter. */
  lease?: string;
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

export interface AcceptMessage {
  messageId: string;
  idempotencyKey?: string;
  idempotencyTtlMs?: number;
  deliveries: NewDelivery[];
  lease?: { workerId: string; leaseMs: number; limit: number };
}

export interface Accepted {
  messageId: string;
  duplicate: boolean;
  /** Present when the accept asked for a lease and leased at least one delivery. */
  leased?: Array<{ id: string; lease: string }>;
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
  /** Up to `limit` due deliveries, leased to `workerId` for `leaseMs`, honouring per-key FIFO. */
  claim(workerId: string, limit: number, leaseMs: number): Promise<Delivery[]>;
  /** Extends a lease (long deliveries); false when the lease was lost. */
  extend(id: string, lease: string, leaseMs: number): Promise<boolean>;
  complete(id: string, lease: string): Promise<void>;
  /** Back to the queue, not before `availableAt`; counts one attempt. */
  retryLater(id: string, lease: string, availableAt: number, error: string): Promise<void>;
  /** Out of the queue into the dead-letter store, with the reason; counts one attempt; frees its key. */
  deadLetter(id: string, lease: string, reason: string): Promise<void>;
  listDead(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  getDead(id: string): Promise<DeadLetter | undefined>;
  /** Dead letters back to the queue (attempts reset to 0, ordering: after what is queued for their key). Returns how many moved. */
  replay(ids: string[]): Promise<number>;
  /** A dead letter removed for good, with the operator's reason. */
  discard(id: string, reason: string): Promise<boolean>;
  counts(): Promise<QueueCounts>;
  close(): Promise<void>;
}
