// Typed errors with a cause: callers match on the class, people read the message.

export class SnatguardError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad config or snapshot: `problems` holds one `path: message` line per problem. */
export class ValidationError extends SnatguardError {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export class ExecError extends SnatguardError {
  /** The HTTP status the API server answered when it refused the exec upgrade (400, 403, 404, 500…). */
  readonly status?: number;
  constructor(
    message: string,
    readonly kind: 'not-found' | 'timeout' | 'too-large' | 'failed' | 'aborted',
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options);
    if (options?.status !== undefined) this.status = options.status;
  }
}

export class PressureSourceError extends SnatguardError {}
export class ClusterError extends SnatguardError {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
export class NotifyError extends SnatguardError {}

export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
