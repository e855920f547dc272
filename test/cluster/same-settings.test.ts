// sameSettings: connection settings compared by content (the CA arrives as a new Buffer on every call).
import { describe, expect, it } from 'vitest';
import { sameSettings } from '../../src/cluster/same-settings.js';

const ca = () => Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n');

describe('sameSettings', () => {
  it.each([
    ['the same CA in new Buffers', { ca: ca(), servername: 'api' }, { ca: ca(), servername: 'api' }, true],
    ['another CA', { ca: ca() }, { ca: Buffer.from('other') }, false],
    ['a Buffer against a string', { ca: ca() }, { ca: ca().toString() }, false],
    ['undefined keys count as absent', { ca: ca(), key: undefined }, { ca: ca() }, true],
    ['a key only one side sets', { ca: ca(), rejectUnauthorized: false }, { ca: ca() }, false],
    ['arrays of CAs, element by element', { ca: [ca(), ca()] }, { ca: [ca(), ca()] }, true],
    ['arrays of different length', { ca: [ca()] }, { ca: [ca(), ca()] }, false],
    ['nested objects only when the same object', { headers: {} }, { headers: {} }, false],
    ['no settings on either side', undefined, null, true],
    ['settings on one side only', { ca: ca() }, undefined, false],
  ])('%s', (_name, a, b, same) => {
    expect(sameSettings(a, b)).toBe(same);
  });

  it('one object is the same as itself, whatever it holds', () => {
    const o = { headers: {}, ca: ca() };
    expect(sameSettings(o, o)).toBe(true);
    expect(sameSettings(undefined, undefined)).toBe(true);
  });
});
