/** Structured logs: one JSON object per line on stderr. */

/** A structured logger. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A logger writing JSON lines to a stream (stderr by default). */
export function jsonLogger(
  component: string,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const at =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}): void =>
      write(
        `${JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...fields })}\n`,
      );
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
