import { describe, expect, it } from 'vitest';
import { matchesSelector, parseSelector, SelectorSyntaxError } from '../../src/policy/selector.js';

const labels = { app: 'orders-api', db: 'mongo', 'app.kubernetes.io/part-of': 'shop' };

describe('label selector', () => {
  it.each([
    ['', true],
    ['db=mongo', true],
    ['db==mongo', true],
    ['db=postgres', false],
    ['db!=postgres', true],
    ['db!=mongo', false],
    ['tier!=web', true],
    ['db', true],
    ['tier', false],
    ['!tier', true],
    ['!db', false],
    ['db in (mongo, redis)', true],
    ['db in (redis)', false],
    ['db notin (redis)', true],
    ['db notin (mongo,redis)', false],
    ['tier notin (web)', true],
    ['tier in (web)', false],
    ['app=orders-api, db in (mongo,redis), !tier', true],
    ['app=orders-api,db=redis', false],
    ['app.kubernetes.io/part-of=shop', true],
  ])('%j matches: %s', (selector, expected) => {
    expect(matchesSelector(selector, labels)).toBe(expected);
  });

  it.each(['a in (x', 'a=b,,c=d', '=b', 'a=b=c', 'a in x', 'bad key!=x'])(
    '%j is a syntax error',
    (selector) => {
      expect(() => parseSelector(selector)).toThrow(SelectorSyntaxError);
    },
  );
});
