// Writable sinks for exec output: bounded in size, never throwing (the text comes from inside a pod).
import { Writable } from 'node:stream';

/** Collects bytes up to `maxBytes`; past that it drops data and calls `onOverflow` once. */
export class BoundedSink extends Writable {
  private readonly chunks: Buffer[] = [];
  private total = 0;
  private overflowed = false;

  constructor(
    readonly maxBytes: number,
    private readonly onOverflow: (bytes: number) => void = () => {},
  ) {
    super({ decodeStrings: true });
    // Write-after-end (a frame arriving after the status) must not become an uncaught error.
    this.on('error', () => {});
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.take(chunk);
    callback();
  }

  private take(chunk: Buffer): void {
    if (this.overflowed) return;
    this.total += chunk.length;
    if (this.total > this.maxBytes) {
      this.overflowed = true;
      this.chunks.length = 0;
      this.onOverflow(this.total);
      return;
    }
    this.chunks.push(chunk);
  }

  get bytes(): number {
    return this.total;
  }

  get exceeded(): boolean {
    return this.overflowed;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Keeps only the last `maxBytes` bytes written (stderr: the tail is what explains a failure). */
export class TailSink extends Writable {
  private buf = Buffer.alloc(0);

  constructor(readonly maxBytes = 4096) {
    super({ decodeStrings: true });
    this.on('error', () => {});
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const joined = Buffer.concat([this.buf, chunk]);
    this.buf = joined.length > this.maxBytes ? joined.subarray(joined.length - this.maxBytes) : joined;
    callback();
  }

  text(): string {
    return this.buf.toString('utf8');
  }
}
