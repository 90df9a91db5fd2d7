/**
 * Time as the distribution client sees it: the current time and one-shot timers, passed
 * in through options so the stream state machine, backoff and certificate renewal are
 * testable without sleeping.
 */

/** A pending timer. Cancelling it twice, or after it fired, does nothing. */
export interface Timer {
  cancel(): void;
}

/** The current time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds, unless cancelled first. */
  schedule(fn: () => void, ms: number): Timer;
}

/** The process's clock (`Date.now`, `setTimeout`). */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(fn, ms) {
    // setTimeout's limit: a longer delay would fire at once.
    const t = setTimeout(fn, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    return { cancel: () => clearTimeout(t) };
  },
};
