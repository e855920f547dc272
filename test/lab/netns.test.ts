import { afterEach, describe, expect, it } from 'vitest';
import { requireRoot } from './netns.js';

describe('requireRoot', () => {
  const ci = process.env.CI;
  afterEach(() => {
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
  });

  it('skips locally when something is missing', () => {
    delete process.env.CI;
    const lab = requireRoot(['sg-no-such-tool']);
    expect(lab.missing).toContain('sg-no-such-tool');
    expect(lab.skip).toBe(true);
  });

  it('does not skip on CI: the check fails the test instead', () => {
    process.env.CI = 'true';
    const lab = requireRoot(['sg-no-such-tool']);
    expect(lab.skip).toBe(false);
    expect(() => lab.check()).toThrow(/sg-no-such-tool.*CI=true/);
  });

  it('passes when nothing is missing', () => {
    const lab = requireRoot(['sh']);
    expect(lab.missing.filter((m) => m !== 'root')).toEqual([]);
  });
});
