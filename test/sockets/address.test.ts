import { describe, expect, it } from 'vitest';
import {
  cidrContains,
  classify,
  createClassifier,
  formatEndpoint,
  formatIp,
  InvalidCidrError,
  parseCidr,
  parseIp,
} from '../../src/sockets/address.js';

describe('classify', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.240.0.172', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['172.15.255.255', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['100.128.0.1', 'public'],
    ['169.254.169.254', 'link-local'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['20.103.144.194', 'public'],
    // documentation ranges leave through SNAT: public (DESIGN.md)
    ['192.0.2.1', 'public'],
    ['198.51.100.7', 'public'],
    ['203.0.113.10', 'public'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'public'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'public'],
    ['2606:4700::1111', 'public'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:20.103.144.194', 'public'],
    ['::ffff:127.0.0.1', 'loopback'],
  ])('%s is %s', (address, expected) => {
    expect(classify(address)).toBe(expected);
  });

  it('throws on text that is not an address', () => {
    expect(() => classify('not-an-ip')).toThrow(/not an IP address/);
  });
});

describe('createClassifier', () => {
  const classifier = createClassifier({
    clusterCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'],
    nonSnatCidrs: ['203.0.113.0/24', '2001:db8:1::/48'],
  });
  it.each([
    ['10.244.3.4', 'cluster'],
    ['10.245.0.1', 'private'],
    ['fd00:10:244::5', 'cluster'],
    ['203.0.113.10', 'non-snat'],
    ['::ffff:203.0.113.10', 'non-snat'],
    ['198.51.100.1', 'public'],
    ['2001:db8:1::9', 'non-snat'],
    ['2001:db8:2::9', 'public'],
    ['127.0.0.1', 'loopback'],
  ])('%s is %s', (address, expected) => {
    expect(classifier.classify(address)).toBe(expected);
  });

  it('rejects an invalid CIDR naming it', () => {
    expect(() => createClassifier({ nonSnatCidrs: ['10.0.0.0/8', '300.0.0.0/8'] })).toThrow(
      /"300\.0\.0\.0\/8"/,
    );
  });
});

describe('parseCidr', () => {
  it.each([
    ['10.1.2.3/8', '10.0.0.0/8', 8],
    ['0.0.0.0/0', '0.0.0.0/0', 0],
    ['192.168.1.1', '192.168.1.1/32', 32],
    ['fd00::1/8', 'fd00::/8', 8],
    ['2001:db8::/32', '2001:db8::/32', 32],
    ['::/0', '::/0', 0],
    [' 10.0.0.0/16 ', '10.0.0.0/16', 16],
  ])('%s → %s', (text, canonical, prefix) => {
    const cidr = parseCidr(text);
    expect(cidr.text).toBe(canonical);
    expect(cidr.prefix).toBe(prefix);
  });

  it.each([
    '10.0.0.0/33',
    '10.0.0/8',
    'fd00::/129',
    'abc',
    '10.0.0.0/-1',
    '10.0.0.0/8/9',
    '',
    '1.2.3.4/ 8',
    'fd00:::/8',
  ])('"%s" is an InvalidCidrError that names it', (text) => {
    let error: unknown;
    try {
      parseCidr(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidCidrError);
    expect((error as Error).message).toContain(`"${text}"`);
  });

  it.each([
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['0.0.0.0/0', '1.2.3.4', true],
    ['0.0.0.0/0', '::1', false],
    ['fc00::/7', 'fdff::1', true],
    ['fc00::/7', 'fe00::1', false],
    ['2001:db8::/127', '2001:db8::1', true],
    ['2001:db8::/128', '2001:db8::1', false],
    ['::/0', '2001:db8::1', true],
  ])('%s contains %s: %s', (cidr, address, expected) => {
    expect(cidrContains(parseCidr(cidr), address)).toBe(expected);
  });
});

describe('parseIp / formatIp', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['1:0:0:2:3:0:0:4', '1::2:3:0:0:4'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::FFFF:0102:0304', '::ffff:1.2.3.4'],
    ['::', '::'],
  ])('%s → %s', (text, canonical) => {
    const parsed = parseIp(text);
    expect(parsed).not.toBeNull();
    expect(formatIp(parsed ?? { family: 'ipv4', value: 0 })).toBe(canonical);
  });

  it.each([
    '1.2.3',
    '1.2.3.256',
    '01.2.3.4.5',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    'g::1',
    '1.2.3.4:80',
    'fe80::1%eth0',
  ])('%s is not an address', (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it('formats endpoints with brackets for IPv6', () => {
    expect(formatEndpoint('20.103.144.194', 27017)).toBe('20.103.144.194:27017');
    expect(formatEndpoint('2001:db8::1', 443)).toBe('[2001:db8::1]:443');
  });
});
