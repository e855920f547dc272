import { type Logger, pino } from 'pino';

/** Paths pino censors wherever they appear in a log object. */
export const redactPaths = [
  'secret',
  '*.secret',
  'token',
  '*.token',
  'password',
  '*.password',
  'webhookUrl',
  '*.webhookUrl',
  '*.*.webhookUrl',
  'url',
  '*.url',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];

/** Replaces anything that looks like a webhook or signed URL in free text. */
export function redactText(text: string): string {
  return text
    .replace(
      /https?:\/\/[^\s"'<>]*(hooks|webhook|workflows|logic\.azure|discord(app)?\.com\/api)[^\s"'<>]*/gi,
      '[redacted-url]',
    )
    .replace(/([?&](sig|signature|token|code|key)=)[^&\s"']+/gi, '$1[redacted]');
}

export interface LogOptions {
  level?: string;
  destination?: NodeJS.WritableStream | { write(msg: string): void };
}

/**
 * A level pino knows, else `info`: a logger never fails to start over a bad level (config validation
 * names the bad `log.level` / SNATGUARD_LOG_LEVEL and exits 2).
 */
export function logLevel(level: string | undefined): string {
  return level !== undefined && Object.hasOwn(pino.levels.values, level)
    ? level
    : level === 'silent'
      ? level
      : 'info';
}

/** The root logger: JSON lines on stderr (stdout belongs to `--output`), secrets and webhook URLs redacted. */
export function createLogger(options: LogOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level: logLevel(options.level ?? process.env.SNATGUARD_LOG_LEVEL),
      base: { app: 'snatguard' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? redactText(a) : a));
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    destination as pino.DestinationStream,
  );
}

export type { Logger };
