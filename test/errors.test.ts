// The error classes match their instances across copies of src/errors.ts. A CLI process holds several (its
// own bundle, the scan bundle, and modules those leave outside: replay starts the simulator's thread from
// one before the scan bundle has loaded). A check by prototype alone failed across them: a bad snapshot's
// ValidationError, made by the simulator thread's copy, was not one for the scan bundle's, and replay
// exited 3 (run failed) instead of 2 (bad usage or config).
import { describe, expect, it } from 'vitest';
import * as here from '../src/errors.js';

/** The same file as another module (vitest keys modules by their id, query included). */
const anotherCopy = async (): Promise<typeof here> => {
  const id: string = '../src/errors.js?another-copy';
  return (await import(/* @vite-ignore */ id)) as typeof here;
};

describe('error classes across copies of the module', () => {
  it('a second copy of the module is a different module (what the test stands on)', async () => {
    const other = await anotherCopy();
    expect(other.ValidationError).not.toBe(here.ValidationError);
    const e = new other.ValidationError('snapshot.yaml', ['nodes: required']);
    expect(Object.getPrototypeOf(e)).not.toBe(here.ValidationError.prototype);
  });

  it('instanceof holds for the class and its ancestors, whichever copy made the error', async () => {
    const other = await anotherCopy();
    const e = new other.ValidationError('snapshot.yaml', ['nodes: required']);
    expect(e instanceof here.ValidationError).toBe(true);
    expect(e instanceof here.SnatguardError).toBe(true);
    expect(e instanceof Error).toBe(true);
    const x = new other.ExecError('exec failed', 'timeout');
    expect(x instanceof here.ExecError).toBe(true);
    expect(x instanceof here.SnatguardError).toBe(true);
  });

  it('and only for them: another class, a plain error, a look-alike or a non-object is none', async () => {
    const other = await anotherCopy();
    expect(new other.ExecError('x', 'failed') instanceof here.ValidationError).toBe(false);
    expect(new other.ClusterError('x') instanceof here.ExecError).toBe(false);
    expect(new here.SnatguardError('x') instanceof here.ValidationError).toBe(false);
    const lookAlike = Object.assign(new Error('x'), { name: 'ValidationError', problems: [] });
    expect(lookAlike instanceof here.ValidationError).toBe(false);
    for (const v of [undefined, null, 'ValidationError', 3, {}, []])
      expect(v instanceof here.ValidationError, String(v)).toBe(false);
  });

  it('subclasses defined elsewhere match across copies too (RestartBlockedError extends ClusterError)', async () => {
    const { RestartBlockedError } = await import('../src/cluster/restart.js');
    const other = await anotherCopy();
    const e = new RestartBlockedError('x', 'COOLDOWN');
    expect(e instanceof other.ClusterError).toBe(true);
    expect(e instanceof other.SnatguardError).toBe(true);
    expect(e instanceof other.ValidationError).toBe(false);
  });
});
