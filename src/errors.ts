// Typed errors with a cause: callers match on the class, people read the message.

/** Where an error records the names of its classes (its own first); Symbol.for: one key for every copy of this module. */
const CLASSES = Symbol.for('snatguard.error.classes');

export class SnatguardError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    const names: string[] = [];
    for (let c: unknown = new.target; typeof c === 'function' && c !== Error; c = Object.getPrototypeOf(c))
      names.push((c as { name: string }).name);
    Object.defineProperty(this, CLASSES, { value: names });
  }

  /**
   * `e instanceof ValidationError` holds for an error made by another copy of this module too: a process can
   * hold several (the CLI's bundle, the scan bundle, the modules the bundles leave outside, such as the
   * simulator's thread that replay starts before the scan bundle has loaded), and a check that failed across
   * them turned a bad snapshot's exit code 2 into 3. Matched by class name, which the bundles keep.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: the class asked about (ValidationError …), not this one
    const asked: (new (...args: never[]) => unknown) & { name: string } = this;
    if (Function.prototype[Symbol.hasInstance].call(asked, value)) return true;
    const names = (value as { [CLASSES]?: unknown } | null | undefined)?.[CLASSES];
    return Array.isArray(names) && names.includes(asked.name);
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
