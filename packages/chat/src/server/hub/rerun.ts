/**
 * A catch-up task the hub runs after the bus lost notices (presence resync, session recheck), and
 * again until it has read the store once without a failure.
 *
 * Theory of operation
 * - One run at a time: a request during a run makes it run once more after it (what was lost may
 *   have been lost again meanwhile); requests during that wait are one.
 * - A run that could not read the store (the task resolves false) is pending. It runs again when
 *   the service is back (serviceBack()), and before that on a bounded backoff: RETRY_DELAYS_MS, one
 *   after another, then nothing more until the service is back. A failure with no outage marked
 *   (one command refused, a connection dropped and back at once) would otherwise wait for some
 *   later outage that may never come.
 * - A newer request supersedes a pending retry (its timer is cleared; the new run decides what is
 *   pending), and so does serviceBack(). close() ends it all: no timer, no run after it.
 * - Timers are node's (setTimeout, unref'd like the hello deadline), so vi's fake timers drive them.
 */

/** The waits before each retry of a failed run; after the last one, only serviceBack() retries. */
export const RETRY_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000] as const;

export class Rerun {
  readonly #task: () => Promise<boolean>;
  #running: Promise<void> | undefined;
  #again = false;
  #pending = false;
  #retries = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** `task` resolves true when it read everything it needed, false when it must run again. */
  constructor(task: () => Promise<boolean>) {
    this.#task = task;
  }

  /** Runs the task now, or once more after the run in progress. Never rejects. */
  request(): Promise<void> {
    return this.#request(true);
  }

  /** The store is reachable again: a pending run runs now, with its backoff started afresh. */
  serviceBack(): void {
    if (this.#pending) void this.#request(true);
  }

  /** Stops for good: the retry timer is cleared and no run starts after this. */
  close(): void {
    this.#closed = true;
    this.#clearTimer();
  }

  /** A retry timer is waiting (tests). */
  get retryScheduled(): boolean {
    return this.#timer !== undefined;
  }

  #request(fresh: boolean): Promise<void> {
    if (this.#closed) return this.#running ?? Promise.resolve();
    this.#clearTimer();
    if (fresh) this.#retries = 0;
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        this.#pending = !(await this.#task().catch(() => false));
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#running = undefined;
      if (this.#pending && !this.#closed && this.#retries < RETRY_DELAYS_MS.length) {
        const delay = RETRY_DELAYS_MS[this.#retries++];
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          void this.#request(false);
        }, delay);
        this.#timer.unref();
      }
    });
    return this.#running;
  }

  #clearTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
