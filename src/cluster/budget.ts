// The run's cap on exec output in flight (issue 16 item 8), the same mechanism as exec streaming
// (issue 13): every stdout frame is parsed as it arrives and dropped, but what a pod's text builds (its
// destinations, its candidate sockets) lives until that exec ends, and grows with the bytes read. So
// each exec holds the bytes it has read against one budget per run until it ends; while the run holds
// more than the cap, an exec that reads more pauses its socket (TCP back-pressure to the API server)
// until others end. The oldest exec in flight never waits, so the run always progresses: the total
// stays under the cap plus one exec's own cap (exec.maxBytes).

export interface ByteBudgetStats {
  /** Bytes held now, by execs still running. */
  held: number;
  /** The most ever held at once. */
  peak: number;
  /** Times an exec had to pause for the budget. */
  waits: number;
}

export interface Holder {
  /** Records `bytes` more read by this exec; false when it must pause until {@link Holder.whenFree}. */
  take(bytes: number): boolean;
  /** Resolves once this exec may read again (the run is under the cap, or this exec is the oldest). */
  whenFree(): Promise<void>;
  /** The exec ended: its bytes no longer count. Idempotent. */
  release(): void;
}

export class ByteBudget {
  private held = 0;
  private peak = 0;
  private waits = 0;
  /** Execs in flight, oldest first (Map keeps insertion order). */
  private readonly holders = new Map<number, { bytes: number; wake?: () => void }>();
  private next = 0;

  constructor(readonly maxBytes: number) {}

  get stats(): ByteBudgetStats {
    return { held: this.held, peak: this.peak, waits: this.waits };
  }

  /** One exec's share; call release() when it ends, however it ends. */
  holder(): Holder {
    const id = this.next++;
    const entry: { bytes: number; wake?: () => void } = { bytes: 0 };
    this.holders.set(id, entry);
    const free = (): boolean => this.held <= this.maxBytes || this.oldest() === id;
    return {
      take: (bytes) => {
        if (!this.holders.has(id)) return true;
        entry.bytes += bytes;
        this.held += bytes;
        if (this.held > this.peak) this.peak = this.held;
        return free();
      },
      whenFree: () => {
        if (free()) return Promise.resolve();
        this.waits++;
        return new Promise<void>((resolve) => {
          entry.wake = () => {
            entry.wake = undefined;
            resolve();
          };
        });
      },
      release: () => {
        if (!this.holders.delete(id)) return;
        this.held -= entry.bytes;
        entry.wake?.();
        this.wakeWaiters();
      },
    };
  }

  private oldest(): number | undefined {
    for (const id of this.holders.keys()) return id;
    return undefined;
  }

  private wakeWaiters(): void {
    const oldest = this.oldest();
    for (const [id, entry] of this.holders)
      if (entry.wake && (this.held <= this.maxBytes || id === oldest)) entry.wake();
  }
}
