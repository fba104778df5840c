import { pino, type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Human-readable output; the CLI sets it when stdout is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go; default stdout. */
  destination?: NodeJS.WritableStream;
}

/**
 * The one root logger. Everything else logs through children bound with
 * `node`, `podId`, `taskId`, `execId`, so a line always says whose it is.
 * Process environments are redacted: they routinely carry secrets.
 */
export function createLogger(options: LogOptions = {}): Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env['PODVISOR_LOG_LEVEL'] ?? 'info',
    base: { service: 'podvisor' },
    redact: { paths: ['spec.process.env', 'process.env', '*.env'], censor: '[redacted]' },
  };
  if (options.pretty === true) {
    return pino(config, pretty({ colorize: true, sync: true, ignore: 'service,hostname,pid', ...(options.destination === undefined ? {} : { destination: options.destination }) }));
  }
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}

/** A logger that drops everything, for tests and benchmarks that assert on other outputs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * A child of `parent` made on first use. pino serialises a child's bindings
 * when the child is made (about 5 µs each, warm), and almost every task and
 * exec ends without logging a line, so each actor keeps the recipe instead.
 */
export function lazyChild(parent: () => Logger, bindings: Record<string, string>): () => Logger {
  let child: Logger | undefined;
  return () => (child ??= parent().child(bindings));
}
