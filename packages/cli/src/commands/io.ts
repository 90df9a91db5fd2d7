/** Where a command writes: injected so tests can capture output without a subprocess. */
export interface Io {
  /** Writes to standard output as is. */
  out(text: string): void;
  /** Writes one line to standard error. */
  err(line: string): void;
}
