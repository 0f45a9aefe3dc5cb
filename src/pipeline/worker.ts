import type { Logger } from 'pino';
import { findOperation, type Registry } from '../config/registry.js';
import { decide, DEFAULT_RETRY_POLICY } from '../delivery/retry.js';
import { isLeaseLost, leaseLost } from '../delivery/errors.js';
import type { Delivery, QueueDriver } from '../delivery/types.js';
import type { MessageLog } from '../store/types.js';
import type { Deliverer } from './deliver.js';
import { noObserver, type Observer } from './observer.js';
import { LateWrites } from './write-later.js';

/**
 * The delivery loop of one hub process: take the deliveries this process accepted (leased to it at
 * acceptance, see `handOff`) or claim due ones (the queue keeps per-dossier order and leases them to this
 * worker), deliver each, then complete it, schedule a retry per the destination's
 * policy, or dead-letter it with the reason. Every attempt is recorded with its operational facts.
 * `stop()` stops claiming and waits for deliveries in flight; deliveries leased but not yet started go back to the
 * queue at once. A delivery cut off by a crash comes back when its lease expires (at-least-once; peers get the
 * delivery id as idempotency key); one still in flight when the shutdown grace runs out is handed back by `release()`.
 * The lease of a delivery in flight is renewed while it lasts, and an outcome is recorded as the delivery's end only
 * while this worker still holds its lease: an attempt that outlived it (a clock jump, a host that stalled) is recorded
 * as an attempt, and the worker that holds the lease records the end.
 */
export interface WorkerOptions {
  registry: Registry;
  queue: QueueDriver;
  deliver: Deliverer;
  log: Logger;
  messageLog?: MessageLog;
  observer?: Observer;
  workerId: string;
  concurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  now?: () => number;
  /** Where events the message log refused wait to be written again; the hub's, which it flushes after stop(). */
  lateWrites?: LateWrites;
}

export interface Worker {
  /** Claims again at once (e.g. right after an accept) instead of waiting for the next poll. */
  nudge(): void;
  /**
   * This worker's queue, except that its accepts lease fresh deliveries straight to the worker, which starts them
   * without a claim or a second read of the payload: at once while it has free slots, else as slots free up
   * (at most `concurrency` wait so, in acceptance order). Such a delivery is leased like a claimed one (a
   * crash brings it back when the lease expires), so nothing else changes.
   */
  handOff(): QueueDriver;
  stop(): Promise<void>;
  /**
   * At shutdown, when the grace period ran out: hands the leases of the deliveries this worker still holds (in flight,
   * or waiting for a slot) back to the queue, due at once, so that the next start (or another hub process) delivers
   * them without waiting for the lease to expire. A delivery still on the wire may then be started by another hub at
   * once (a second attempt, which at-least-once allows); should it still end here, it is recorded as an attempt only.
   * Returns how many leases were handed back.
   */
  release(): Promise<number>;
  inFlight(): number;
}

export function startWorker(options: WorkerOptions): Worker {
  const { registry, queue, deliver, log, messageLog, observer = noObserver, workerId, concurrency, leaseMs, pollIntervalMs, now = Date.now } = options;
  const lateWrites = options.lateWrites ?? new LateWrites(log);
  const running = new Set<Promise<void>>();
  /** Deliveries started and not yet ended, by id, with when their lease was last taken or renewed: what release() hands back. */
  const held = new Map<string, Held>();
  /** Aborted by stop() and release(): a delivery held back for the log gives up waiting and hands its lease back. */
  const stopped = new AbortController();
  /** Deliveries leased at acceptance that found every slot busy, in acceptance order, with when they were leased. */
  const waiting: Array<{ delivery: Delivery; leasedAt: number }> = [];
  /** Room promised to accepts in flight (handOff); and those accepts, which stop() waits for. */
  let reserved = 0;
  const handing = new Set<Promise<unknown>>();
  let stopping = false;
  // Messages whose deliveries may all have ended: settled in the background, once per message, so that
  // reading a message's history never holds a delivery slot.
  const unsettled = new Set<string>();
  let settling: Promise<void> | undefined;
  const settleAll = (): Promise<void> => {
    settling ??= (async () => {
      while (unsettled.size && messageLog) {
        const batch = [...unsettled];
        unsettled.clear();
        await messageLog.settle(batch).catch((error) => log.error({ err: error, messages: batch.length }, 'settling message states failed'));
      }
    })().finally(() => { settling = undefined; });
    return settling;
  };
  const settleTimer = setInterval(() => void settleAll(), 200);
  settleTimer.unref();
  const renewTimer = setInterval(() => void renewLeases(), Math.max(25, leaseMs / 4));
  renewTimer.unref();
  // The set above lives in memory: after a crash, messages still "accepted" are settled from the log.
  const sweep = (async () => {
    if (!messageLog) return;
    let cursor: string | undefined;
    do {
      const page = await messageLog.search({ state: 'accepted', limit: 500, cursor });
      if (page.items.length) await messageLog.settle(page.items.map((m) => m.id));
      cursor = page.next;
    } while (cursor && !stopping);
  })().catch((error) => log.error({ err: error }, 'settling messages left from before the start failed'));
  let wake: (() => void) | undefined;
  let nudged = false;
  /**
   * Whether the queue may hold due deliveries that only a claim starts: retries, a dossier's next event, leases a
   * crash left, accepts beyond the hand-off's room. While it may, accepts hand nothing off, so that fresh messages
   * queue behind those instead of taking every slot that frees up (under steady load they would wait as long as the
   * load lasts). A claim that gets fewer than it asked for says there are none; while the slots stay full, one
   * delivery is claimed every poll interval to look again.
   */
  let claimable = true;
  let lastClaimAt = -Infinity;

  const sleep = (ms: number) => new Promise<void>((resolve) => {
    if (nudged) { nudged = false; resolve(); return; }
    const timer = setTimeout(() => { wake = undefined; resolve(); }, ms);
    wake = () => { clearTimeout(timer); wake = undefined; resolve(); };
  });

  const loop = (async () => {
    let backoff = pollIntervalMs;
    // A claim is a storage round trip and a commit: under load, wait until a quarter of the slots are
    // free and claim for all of them at once, rather than one claim per finished delivery.
    const claimBatch = Math.max(1, Math.floor(concurrency / 4));
    while (!stopping) {
      const free = concurrency - running.size - waiting.length - reserved;
      const full = free <= 0 || (free < claimBatch && running.size > 0);
      const look = !claimable && performance.now() - lastClaimAt >= pollIntervalMs;
      if (full && !look) {
        // Slots come back when a delivery ends, or when accepts in flight were promised more than they leased.
        await (running.size ? untilOneEnds(pollIntervalMs) : sleep(pollIntervalMs));
        continue;
      }
      const wanted = full ? 1 : free;
      let claimed: Delivery[] = [];
      try {
        claimed = await queue.claim(workerId, wanted, leaseMs);
        lastClaimAt = performance.now();
        claimable = claimed.length >= wanted;
        backoff = pollIntervalMs;
      } catch (error) {
        log.error({ err: error }, 'claiming deliveries failed; retrying');
        backoff = Math.min(backoff * 2, 5_000);
      }
      const leasedAt = now();
      for (const delivery of claimed) {
        if (running.size < concurrency && !waiting.length && !stopping) start(delivery, leasedAt);
        else waiting.push({ delivery, leasedAt });
      }
      if (claimed.length === 0) await sleep(backoff);
    }
  })();

  /** Until a delivery in flight ends, or `ms` pass. */
  function untilOneEnds(ms: number): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([...running, new Promise((resolve) => { timer = setTimeout(resolve, ms); })]).finally(() => clearTimeout(timer));
  }

  /** Starts a delivery leased at `leasedAt`; one that waited for a slot through half of its lease gets it renewed first. */
  function start(delivery: Delivery, leasedAt: number): void {
    const entry: Held = { delivery, leasedAt, lost: false };
    const task = holds(entry).then((held) => {
      if (!held) throw leaseLost(delivery.id);
      return handle(entry);
    }).catch((error) => {
      if (isLeaseLost(error)) log.warn({ deliveryId: delivery.id }, 'lease expired before the delivery was settled; another worker has it');
      else log.error({ err: error, deliveryId: delivery.id }, 'delivery bookkeeping failed; the lease will bring it back');
    });
    running.add(task);
    held.set(delivery.id, entry);
    void task.finally(() => {
      running.delete(task);
      held.delete(delivery.id);
      // Once stopping, a delivery waiting for a slot is not started: stop() hands its lease back.
      const next = running.size < concurrency && !stopping ? waiting.shift() : undefined;
      if (next) start(next.delivery, next.leasedAt);
    });
  }

  /**
   * Whether this worker still holds the lease: at once while less than half of it is gone, else after renewing it.
   * What decides where a delivery ends (delivered, dead) is recorded only while this is true.
   */
  async function holds(entry: Held): Promise<boolean> {
    if (entry.lost) return false;
    if (now() - entry.leasedAt < leaseMs / 2) return true;
    await renew(entry);
    return !entry.lost;
  }

  async function renew(entry: Held): Promise<void> {
    const asked = now();
    entry.renewing ??= queue.extend(entry.delivery.id, entry.delivery.lease!, leaseMs).then(
      (extended) => {
        if (extended) entry.leasedAt = asked;
        else entry.lost = true;
      },
      (error: unknown) => log.warn({ err: error, deliveryId: entry.delivery.id }, 'renewing the lease of a delivery in flight failed; trying again'),
    ).finally(() => { entry.renewing = undefined; });
    await entry.renewing;
  }

  /** A slow peer must not outlive the lease: every delivery in flight for a third of its lease gets it renewed. */
  async function renewLeases(): Promise<void> {
    const due = [...held.values()].filter((entry) => !entry.lost && now() - entry.leasedAt >= leaseMs / 3);
    await Promise.all(due.map((entry) => renew(entry)));
    for (const entry of due) if (entry.lost && !entry.settled) log.warn({ deliveryId: entry.delivery.id }, 'the lease of a delivery in flight could not be renewed: another worker may start it again');
  }

  async function handle(entry: Held): Promise<void> {
    const { delivery } = entry;
    const claimedAt = now();
    const attempt = delivery.attempts + 1;
    const firstAttemptAt = delivery.firstAttemptAt ?? claimedAt;
    const queueWaitMs = Math.max(0, claimedAt - Math.max(delivery.availableAt, delivery.acceptedAt));
    if (delivery.unsealable !== undefined) return unsealable(entry, attempt, queueWaitMs, delivery.unsealable);
    const result = await deliver(delivery);
    const base = {
      messageId: delivery.messageId, deliveryId: delivery.id, destination: delivery.destination, attempt,
      durationMs: result.durationMs, queueWaitMs, httpStatus: result.httpStatus, faultCode: result.faultCode,
      requestBytes: result.requestBytes, responseBytes: result.responseBytes, mappingId: result.mappingId,
      requestInAt: result.requestInAt, responseOutAt: result.responseOutAt,
    };
    const facts = { messageId: delivery.messageId, deliveryId: delivery.id, destination: delivery.destination, attempt, durationMs: result.durationMs };

    // The log is written before the queue is settled: a crash in between repeats an event (harmless,
    // states are per delivery id) instead of losing one.
    if (!(await holds(entry))) return outlived(delivery, { ...base, at: now(), kind: 'attempt', succeeded: result.ok, errorType: result.failure?.errorType }, result.ok);
    if (result.ok) {
      await record([{ ...base, at: now(), kind: 'delivered', succeeded: true }], delivery, true);
      await settle(entry, 'complete', () => queue.complete(delivery.id, delivery.lease!));
      observer.attempt({ destination: delivery.destination, outcome: 'delivered', durationMs: result.durationMs, queueWaitMs });
      // The message log keeps every attempt; the application log gets one line per message, and failures.
      log.debug(facts, 'delivery delivered');
      return;
    }
    const failure = result.failure!;
    const policy = findOperation(registry, delivery.destination)?.operation.retryPolicy ?? DEFAULT_RETRY_POLICY;
    const verdict = decide(policy, failure, attempt, firstAttemptAt, now());
    const failed = { ...base, at: now(), kind: 'attempt' as const, succeeded: false, errorType: failure.errorType, reason: failure.message };
    if (verdict.action === 'retry') {
      await record([failed, { ...base, at: now(), kind: 'retry-scheduled', reason: `retry in ${Math.round(verdict.delayMs)} ms` }], delivery);
      await settle(entry, 'retry later', () => queue.retryLater(delivery.id, delivery.lease!, verdict.at, `${failure.errorType}: ${failure.message}`));
      observer.attempt({ destination: delivery.destination, outcome: 'retry', durationMs: result.durationMs, queueWaitMs });
      log.warn({ ...facts, errorType: failure.errorType, httpStatus: failure.httpStatus, retryInMs: Math.round(verdict.delayMs) }, 'delivery failed; will retry');
      return;
    }
    const reason = `${verdict.reason} (last error ${failure.errorType}${failure.httpStatus ? `, HTTP ${failure.httpStatus}` : ''}: ${failure.message})`;
    if (!(await recordDeath([failed, { ...base, at: now(), kind: 'dead-lettered', reason }], entry))) return;
    await settle(entry, 'dead-letter', () => queue.deadLetter(delivery.id, delivery.lease!, reason));
    observer.attempt({ destination: delivery.destination, outcome: 'dead-lettered', durationMs: result.durationMs, queueWaitMs });
    log.warn({ ...facts, errorType: failure.errorType, httpStatus: failure.httpStatus }, 'delivery dead-lettered');
  }

  /**
   * A delivery whose stored payload cannot be opened (the data key changed, or the record was tampered with): nothing
   * can be sent, so it is dead-lettered at once, like any other dead letter: a `dead-lettered` event with the reason in
   * the message log (its message settles), a warning (ids and reason, never a payload) and the attempt metric. Once the
   * right key is back, an operator replays it.
   */
  async function unsealable(entry: Held, attempt: number, queueWaitMs: number, reason: string): Promise<void> {
    const { delivery } = entry;
    const facts = { messageId: delivery.messageId, deliveryId: delivery.id, destination: delivery.destination, attempt };
    if (!(await recordDeath([{ ...facts, at: now(), kind: 'dead-lettered', queueWaitMs, reason }], entry))) return;
    await settle(entry, 'dead-letter', () => queue.deadLetter(delivery.id, delivery.lease!, reason));
    observer.attempt({ destination: delivery.destination, outcome: 'dead-lettered', durationMs: 0, queueWaitMs });
    log.warn({ ...facts, reason }, 'delivery dead-lettered: its stored payload cannot be opened');
  }

  /**
   * An attempt that ended after this worker lost the lease (another worker may have the delivery by now): recorded as an
   * attempt, never as the delivery's end, and the queue is left to the lease holder.
   */
  async function outlived(delivery: Delivery, attempt: LogEvents[number], ok: boolean): Promise<void> {
    await record([{ ...attempt, reason: `the lease ran out during this attempt (${ok ? 'delivered' : 'failed'}): the worker that holds it records how the delivery ends` }], delivery);
    observer.attempt({ destination: delivery.destination, outcome: ok ? 'delivered' : 'retry', durationMs: attempt.durationMs ?? 0, queueWaitMs: attempt.queueWaitMs ?? 0 });
    log.warn({ messageId: delivery.messageId, deliveryId: delivery.id, destination: delivery.destination, ok }, 'an attempt outlived its lease; the delivery is left to the worker that holds it');
  }

  /**
   * Records the attempt; a delivery that ended marks its message for settling. A log that refuses the write does not
   * hold the delivery back (its lease would run out and bring it back, to be delivered again): the queue is settled and
   * the events follow when the log takes them (LateWrites). A dead letter is the exception: see recordDeath.
   */
  async function record(events: LogEvents, delivery: Delivery, ending = false): Promise<void> {
    if (!messageLog) return;
    await lateWrites.keep(async () => {
      await messageLog.recordEvents(events);
      if (ending) unsettled.add(delivery.messageId);
    }, { messageId: delivery.messageId, deliveryId: delivery.id, events: events.map((e) => e.kind) }, log);
  }

  /**
   * Records a delivery's death before the queue makes it a dead letter. Until the log takes the event the delivery stays
   * with this worker (its lease renewed): a dead letter whose event is still unwritten could be replayed and delivered,
   * and the event, written after those, would then mark the message dead. False when the worker stops first: the lease
   * is then handed back, and the next start repeats the attempt.
   */
  async function recordDeath(events: LogEvents, entry: Held): Promise<boolean> {
    if (!messageLog) return true;
    const { delivery } = entry;
    const unlessLost = async () => {
      if (entry.lost) throw leaseLost(delivery.id);
      await messageLog.recordEvents(events);
    };
    const written = await retrying(unlessLost, [500, 60_000], isLeaseLost, (error, pauseMs) => {
      log.error({ err: error, messageId: delivery.messageId, deliveryId: delivery.id, retryInMs: pauseMs }, 'message log write failed; the delivery waits with this worker until its dead-lettering is recorded');
    }).catch(() => false);
    if (written) {
      unsettled.add(delivery.messageId);
      return true;
    }
    if (!entry.lost) await handBack([delivery]);
    return false;
  }

  /**
   * A queue transition, tried again while the queue cannot be reached for a moment (a Redis failover, a cut connection)
   * and the lease lasts: given up, the lease would run out and the delivery go out again, a duplicate for the peer.
   */
  async function settle(entry: Held, what: string, transition: () => Promise<unknown>): Promise<void> {
    const taken = await retrying(transition, [100, 5_000], (error, pauseMs) => isLeaseLost(error) || entry.lost || now() + pauseMs >= entry.leasedAt + leaseMs * 0.9, (error, pauseMs) => {
      log.warn({ err: error, deliveryId: entry.delivery.id, retryInMs: pauseMs }, `the queue did not take the delivery's outcome (${what}); trying again`);
    });
    if (!taken) throw new Error(`stopped before the queue took the delivery's outcome (${what})`);
    entry.settled = true;
  }

  /**
   * Runs `step` until it succeeds (true), with pauses doubling within `pauses`; false once the worker stops. An error
   * for which `givesUp` holds is thrown; any other is `told` and tried again.
   */
  async function retrying(step: () => Promise<unknown>, pauses: [number, number], givesUp: (error: unknown, pauseMs: number) => boolean, told: (error: unknown, pauseMs: number) => void): Promise<boolean> {
    for (let pauseMs = pauses[0]; ; pauseMs = Math.min(pauseMs * 2, pauses[1])) {
      try {
        await step();
        return true;
      } catch (error) {
        if (givesUp(error, pauseMs)) throw error;
        told(error, pauseMs);
      }
      if (!(await pause(pauseMs))) return false;
    }
  }

  /** Waits `ms`; false at once when the worker stops. */
  function pause(ms: number): Promise<boolean> {
    if (stopped.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (value: boolean) => {
        clearTimeout(timer);
        stopped.signal.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(true), ms);
      stopped.signal.addEventListener('abort', onAbort);
    });
  }

  return {
    handOff(): QueueDriver {
      return {
        ...queue,
        async accept(message) {
          const room = stopping || claimable ? 0 : Math.min(message.deliveries.length, 2 * concurrency - running.size - waiting.length - reserved);
          if (room <= 0) return queue.accept(message);
          reserved += room;
          const leasedAt = now();
          const accepting = queue.accept({ ...message, lease: { workerId, leaseMs, limit: room } });
          handing.add(accepting);
          try {
            const accepted = await accepting;
            for (const { id, lease } of accepted.leased ?? []) {
              const fresh = message.deliveries.find((d) => d.id === id)!;
              const delivery: Delivery = { ...fresh, state: 'active', attempts: 0, availableAt: fresh.acceptedAt, lease };
              if (running.size < concurrency && !waiting.length && !stopping) start(delivery, leasedAt);
              else waiting.push({ delivery, leasedAt });
            }
            return accepted;
          } finally {
            reserved -= room;
            handing.delete(accepting);
          }
        },
      };
    },
    nudge() {
      if (wake) wake();
      else nudged = true;
    },
    async stop() {
      stopping = true;
      stopped.abort();
      wake?.();
      await loop;
      // Accepts in flight may still start deliveries they leased to this worker.
      await Promise.allSettled([...handing]);
      // Leased but not started: back to the queue now, rather than held until those in flight end.
      const unstarted = waiting.splice(0).map((w) => w.delivery);
      if (unstarted.length) log.info({ deliveries: unstarted.length }, 'stopping: deliveries not yet started go back to the queue');
      await handBack(unstarted);
      while (running.size) await Promise.allSettled([...running]);
      clearInterval(settleTimer);
      clearInterval(renewTimer);
      if (!options.lateWrites) await lateWrites.flush();
      await sweep;
      await settleAll();
    },
    async release() {
      stopping = true;
      stopped.abort();
      wake?.();
      const inFlight = [...held.values()];
      for (const entry of inFlight) entry.lost = true;
      return handBack([...waiting.splice(0).map((w) => w.delivery), ...inFlight.map((entry) => entry.delivery)]);
    },
    inFlight: () => running.size + waiting.length,
  };

  /** Hands leases back to the queue, due at once; returns how many were (a lease already lost is not counted). */
  async function handBack(deliveries: Delivery[]): Promise<number> {
    const results = await Promise.allSettled(deliveries.map((d) => queue.release(d.id, d.lease!)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ deliveryId: deliveries[i]!.id, err: r.reason as Error }] : []));
    for (const { deliveryId, err } of failed) log.warn({ err, deliveryId }, 'could not hand the lease back; the delivery comes back when its lease expires');
    return results.filter((r) => r.status === 'fulfilled' && r.value).length;
  }
}

type LogEvents = Parameters<MessageLog['recordEvents']>[0];

/** A delivery this worker started: when its lease was last taken or renewed, and whether it is known to be lost. */
interface Held {
  delivery: Delivery;
  leasedAt: number;
  lost: boolean;
  renewing?: Promise<void>;
  /** The queue took its outcome: a renewal that finds no lease any more is then no news. */
  settled?: boolean;
}
