/**
 * Group commit: writes made within `windowMs` of each other share one transaction, and each writer's
 * promise settles only after that transaction has committed (or failed). One batch is in flight at a
 * time (a single writer keeps cross-batch order: a state change never overtakes the insert it
 * updates). A batch flushes when its oldest write has waited `windowMs`, or at once when `maxBatch`
 * rows are waiting; writes arriving during a commit form the next batch.
 *
 * If a batch's transaction fails, each write in it is retried alone, so one bad row rejects only
 * its own caller and the rest still commit.
 */
export interface GroupCommitStats {
  /** Transactions committed (batches plus lone retries after a failed batch). */
  flushes: number;
  /** Batches whose transaction failed (their writes were then retried one by one). */
  failedBatches: number;
  /** Writes (calls) committed. */
  writes: number;
  /** Rows committed (a call may carry several). */
  rows: number;
  /** Largest batch committed, in rows. */
  largestBatch: number;
  /** Writes waiting for the next batch. */
  pending: number;
}

interface Waiting<Op> {
  op: Op;
  rows: number;
  enqueuedAt: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitOptions<Op> {
  windowMs: number;
  maxBatch: number;
  /** Rows carried by one write (counted against maxBatch). */
  rowsOf(op: Op): number;
  /** Applies the writes, in order, in ONE transaction. */
  commit(ops: Op[]): Promise<void>;
}

export class GroupCommit<Op> {
  readonly #opts: GroupCommitOptions<Op>;
  #queue: Waiting<Op>[] = [];
  #queuedRows = 0;
  #timer: { cancel(): void } | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  readonly #stats = { flushes: 0, failedBatches: 0, writes: 0, rows: 0, largestBatch: 0 };

  constructor(opts: GroupCommitOptions<Op>) {
    this.#opts = { ...opts, windowMs: Math.max(0, opts.windowMs), maxBatch: Math.max(1, opts.maxBatch) };
  }

  /** Resolves once `op` is committed; rejects if its transaction failed or the committer is closed. */
  write(op: Op): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the message log is closed'));
    return new Promise<void>((resolve, reject) => {
      const rows = this.#opts.rowsOf(op);
      this.#queue.push({ op, rows, enqueuedAt: performance.now(), resolve, reject });
      this.#queuedRows += rows;
      this.#schedule();
    });
  }

  stats(): GroupCommitStats {
    return { ...this.#stats, pending: this.#queue.length };
  }

  /** True once close() was called: writes are refused. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Commits everything queued so far (without waiting for the window). */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#running) {
      if (this.#running) await this.#running;
      else this.#start();
    }
  }

  /** Refuses new writes, then commits the queued ones. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #schedule(): void {
    if (this.#running || this.#queue.length === 0) return;
    if (this.#queuedRows >= this.#opts.maxBatch) {
      this.#start();
      return;
    }
    if (this.#timer) return;
    const fire = () => {
      this.#timer = undefined;
      if (!this.#running) this.#start();
    };
    const wait = this.#opts.windowMs - (performance.now() - this.#queue[0]!.enqueuedAt);
    // A zero window still gathers every write made in the same turn of the event loop.
    if (wait > 0) {
      const handle = setTimeout(fire, wait);
      this.#timer = { cancel: () => clearTimeout(handle) };
    } else {
      const handle = setImmediate(fire);
      this.#timer = { cancel: () => clearImmediate(handle) };
    }
  }

  #clearTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #start(): void {
    this.#clearTimer();
    const batch = this.#take();
    if (batch.length === 0) return;
    this.#running = this.#run(batch).finally(() => {
      this.#running = undefined;
      if (this.#queue.length === 0) return;
      // SQLite's driver is synchronous, so back-to-back batches would chain in microtasks and starve every I/O
      // callback (a checkpoint's signature, the storage thread's incoming calls) until the backlog drained.
      const handle = setImmediate(() => {
        this.#timer = undefined;
        this.#schedule();
      });
      this.#timer = { cancel: () => clearImmediate(handle) };
    });
  }

  /** The oldest writes, up to maxBatch rows (at least one write, however large). */
  #take(): Waiting<Op>[] {
    let rows = 0;
    let n = 0;
    while (n < this.#queue.length && (n === 0 || rows + this.#queue[n]!.rows <= this.#opts.maxBatch)) {
      rows += this.#queue[n]!.rows;
      n++;
    }
    this.#queuedRows -= rows;
    return this.#queue.splice(0, n);
  }

  async #run(batch: Waiting<Op>[]): Promise<void> {
    try {
      await this.#opts.commit(batch.map((w) => w.op));
      this.#committed(batch);
      return;
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      this.#stats.failedBatches++;
    }
    for (const w of batch) {
      try {
        await this.#opts.commit([w.op]);
        this.#committed([w]);
      } catch (error) {
        w.reject(error);
      }
    }
  }

  #committed(batch: Waiting<Op>[]): void {
    let rows = 0;
    for (const w of batch) rows += w.rows;
    this.#stats.flushes++;
    this.#stats.writes += batch.length;
    this.#stats.rows += rows;
    this.#stats.largestBatch = Math.max(this.#stats.largestBatch, rows);
    for (const w of batch) w.resolve();
  }
}
