import { describe, expect, it } from 'vitest';
import { allowList, classify, isLoopbackHost, refusal } from './outbound-policy.ts';

const open = { allowLoopback: true, allow: allowList([]) };
const closed = { allowLoopback: false, allow: allowList([]) };

describe('outbound policy', () => {
  it('classifies addresses, IPv4-mapped IPv6 as the IPv4 it carries', () => {
    expect(classify('8.8.8.8')).toBe('public');
    expect(classify('2606:4700::1111')).toBe('public');
    expect(classify('127.0.0.1')).toBe('loopback');
    expect(classify('127.5.6.7')).toBe('loopback');
    expect(classify('::1')).toBe('loopback');
    expect(classify('::ffff:127.0.0.1')).toBe('loopback');
    expect(classify('10.1.2.3')).toBe('private');
    expect(classify('172.20.0.1')).toBe('private');
    expect(classify('192.168.0.10')).toBe('private');
    expect(classify('fd12::1')).toBe('private');
    expect(classify('169.254.169.254')).toBe('forbidden');
    expect(classify('::ffff:169.254.169.254')).toBe('forbidden');
    expect(classify('fe80::1')).toBe('forbidden');
    expect(classify('0.0.0.0')).toBe('forbidden');
    expect(classify('224.0.0.1')).toBe('forbidden');
    expect(classify('not an address')).toBe('forbidden');
  });

  it('never allows link-local or metadata addresses, whatever is configured', () => {
    const everything = { allowLoopback: true, allow: allowList(['169.254.0.0/16', '0.0.0.0/0']) };
    expect(refusal('169.254.169.254', everything)).toMatch(/metadata/);
    expect(refusal('fd00:ec2::254', everything)).toMatch(/metadata/);
  });

  it('allows loopback only when told, and private ranges only from the allowlist', () => {
    expect(refusal('127.0.0.1', open)).toBeNull();
    expect(refusal('127.0.0.1', closed)).toMatch(/loopback/);
    expect(refusal('10.0.0.7', open)).toMatch(/private/);
    const lan = { allowLoopback: false, allow: allowList(['10.0.0.0/8', '192.168.1.20', '127.0.0.1/32']) };
    expect(refusal('10.9.9.9', lan)).toBeNull();
    expect(refusal('192.168.1.20', lan)).toBeNull();
    expect(refusal('192.168.1.21', lan)).toMatch(/private/);
    expect(refusal('127.0.0.1', lan)).toBeNull();
    expect(refusal('1.1.1.1', closed)).toBeNull();
  });

  it('refuses a malformed allowlist entry with a message', () => {
    expect(() => allowList(['10.0.0.0/33'])).toThrow(/prefix/);
    expect(() => allowList(['example.com'])).toThrow(/not an IP/);
  });

  it('knows loopback listen addresses', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('192.168.1.4')).toBe(false);
  });
});
