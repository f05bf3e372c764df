// Runs jobs one at a time, in arrival order, so that concurrent requests share one model without
// interleaving its tensor work; a bounded backlog turns overload into a clear 503 instead of memory growth.
import { HttpError } from './http-error.js';

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pendingCount = 0;

  /** maxPending: jobs waiting or running before new ones are refused. */
  constructor(private readonly maxPending: number) {}

  /** Jobs waiting or running now. */
  get pending(): number {
    return this.pendingCount;
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.pendingCount >= this.maxPending) {
      return Promise.reject(
        new HttpError(503, 'BUSY', `the server is busy: ${this.pendingCount} images are already waiting`, 'retry in a few seconds'),
      );
    }
    this.pendingCount++;
    const result = this.tail.then(job);
    // The chain continues whatever this job did; the caller sees its own outcome through `result`.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result.finally(() => {
      this.pendingCount--;
    });
  }
}
