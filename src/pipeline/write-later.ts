import type { Logger } from 'pino';

/**
 * Writes to the message log again, with a growing pause (0.5 s doubling to 1 min), until the log takes it. For a
 * record whose message has already gone its way (accepted, delivered): refusing or redoing the message because its
 * record could not be written would deliver it twice, so the record follows when the log is back. Resolves once
 * written, or once `stop` is aborted (shutdown: see LateWrites.flush); never rejects.
 */
async function writeLater(write: () => Promise<unknown>, report: { failed(error: unknown, retryInMs: number): void; written(): void }, stop: AbortSignal): Promise<void> {
  for (let pauseMs = 500; ; pauseMs = Math.min(pauseMs * 2, 60_000)) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs).unref());
    if (stop.aborted) return;
    try {
      await write();
      report.written();
      return;
    } catch (error) {
      report.failed(error, Math.min(pauseMs * 2, 60_000));
    }
  }
}

/**
 * While the log is down every waiting record retries on its own: one line per retry would be thousands a minute. A
 * retry that fails again is told at most once per this period, with how many records wait.
 */
const REPORT_EVERY_MS = 10_000;

const UNWRITTEN = (n: number) => `${n} message log record${n === 1 ? '' : 's'} could not be written before shutdown; their messages have no row, or an earlier state, in the log`;

interface Late {
  write: () => Promise<unknown>;
  facts: Record<string, unknown>;
  /** The attempt under way: a retry and the last try at shutdown never write the same record at the same time. */
  attempt?: Promise<void>;
}

/**
 * The message log records the log refused, each written again later (writeLater) until the log takes it. At shutdown
 * `flush` gives each one last try and names those the log still refuses, so that no record is lost without a trace.
 */
export class LateWrites {
  readonly #log: Logger;
  readonly #waiting = new Set<Late>();
  readonly #stop = new AbortController();
  /** When a retry's failure was last told (see REPORT_EVERY_MS), and how many were written late since all were. */
  #reportedAt = -Infinity;
  #writtenLate = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Writes now; when the log refuses, says so and tries again later (`retry`). Never rejects. */
  async keep(write: () => Promise<unknown>, facts: Record<string, unknown>, log: Logger = this.#log): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.retry(write, error, facts, log);
    }
  }

  /** `write` was refused with `error`: logged, and tried again later. */
  retry(write: () => Promise<unknown>, error: unknown, facts: Record<string, unknown>, log: Logger = this.#log, why = 'message log write failed; the record will be written later'): void {
    log.error({ ...facts, err: error }, why);
    this.add(write, facts, log);
  }

  /** `write` was refused just now: it is tried again later. `facts` name the record in log lines (never its payload). */
  add(write: () => Promise<unknown>, facts: Record<string, unknown>, log: Logger = this.#log): void {
    if (this.#stop.signal.aborted) {
      // Refused after the last try at shutdown (a request that was still in flight): named at once.
      this.#log.error({ unwritten: [facts] }, UNWRITTEN(1));
      return;
    }
    const late: Late = { write, facts };
    this.#waiting.add(late);
    void writeLater(() => this.#attempt(late), {
      failed: (error, retryInMs) => {
        const now = Date.now();
        if (now - this.#reportedAt < REPORT_EVERY_MS) return;
        this.#reportedAt = now;
        log.error({ ...facts, err: error, retryInMs, waiting: this.#waiting.size }, 'message log write failed again; it will be written later');
      },
      written: () => {
        log.debug(facts, 'message log written after an earlier failure');
        this.#writtenLate++;
        if (this.#waiting.size > 0) return;
        this.#log.info({ written: this.#writtenLate }, 'message log records refused earlier are all written');
        this.#writtenLate = 0;
      },
    }, this.#stop.signal);
  }

  /** How many records wait to be written. */
  get size(): number {
    return this.#waiting.size;
  }

  /** At shutdown, before the log closes: one last try for each waiting record; those still refused are named. */
  async flush(): Promise<void> {
    this.#stop.abort();
    for (const late of [...this.#waiting]) await this.#attempt(late).catch(() => undefined);
    if (this.#waiting.size === 0) return;
    const unwritten = [...this.#waiting].map((late) => late.facts);
    this.#log.error({ unwritten }, UNWRITTEN(unwritten.length));
  }

  #attempt(late: Late): Promise<void> {
    late.attempt ??= Promise.resolve()
      .then(late.write)
      .then(() => {
        this.#waiting.delete(late);
      })
      .finally(() => {
        late.attempt = undefined;
      });
    return late.attempt;
  }
}
