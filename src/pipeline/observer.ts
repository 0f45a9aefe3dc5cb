/**
 * What the pipeline tells the outside world about its work, for metrics. Behind a small interface with
 * a do-nothing default (as X-Road does for its optional parts), so the pipeline never depends on a
 * metrics library; the server plugs prom-client in.
 */
export interface Observer {
  message(facts: { connector: string; operation: string; outcome: 'accepted' | 'delivered' | 'rejected' | 'failed' }): void;
  attempt(facts: { destination: string; outcome: 'delivered' | 'retry' | 'dead-lettered'; durationMs: number; queueWaitMs: number }): void;
  /** A message refused for a trust reason (signature, certificate, replay, access, checksum). */
  trustFailure(facts: { type: string; code?: string }): void;
}

export const noObserver: Observer = { message: () => undefined, attempt: () => undefined, trustFailure: () => undefined };
