import { describe, expect, it } from 'vitest';
import { hostName, hostPolicy, KNOWN_HOSTS_MAX } from './host-policy.ts';

describe('hostName', () => {
  it('drops the port and IPv6 brackets', () => {
    expect(hostName('LocalHost:8080')).toBe('localhost');
    expect(hostName('[::1]:80')).toBe('::1');
    expect(hostName('127.0.0.1')).toBe('127.0.0.1');
    expect(hostName('example.com')).toBe('example.com');
  });
});

describe('hostPolicy', () => {
  it('on loopback answers only loopback names (DNS rebinding sends the attacker name)', () => {
    const ok = hostPolicy({ listenHost: '127.0.0.1' });
    expect(ok('127.0.0.1:8080')).toBe(true);
    expect(ok('localhost:8080')).toBe(true);
    expect(ok('[::1]:8080')).toBe(true);
    expect(ok('app.localhost')).toBe(true);
    expect(ok('evil.example:8080')).toBe(false);
    expect(ok('127.0.0.1.evil.example')).toBe(false);
    expect(ok(undefined)).toBe(true);
  });
  it('answers the same from memory, and past its memory for names it did not keep', () => {
    const ok = hostPolicy({ listenHost: '127.0.0.1' });
    for (let round = 0; round < 2; round++) {
      expect(ok('localhost:8080')).toBe(true);
      expect(ok('evil.example')).toBe(false);
    }
    // Many more names than it keeps: every one still judged on its own.
    for (let i = 0; i < KNOWN_HOSTS_MAX * 3; i++) {
      expect(ok(`evil-${i}.example`)).toBe(false);
      expect(ok(`127.0.0.1:${1000 + i}`)).toBe(true);
      expect(ok(`app-${i}.localhost`)).toBe(true);
    }
    expect(ok('evil.example')).toBe(false);
    expect(ok('[::1]:9')).toBe(true);
  });
  it('adds PUBLIC_URL and ALLOWED_HOSTS', () => {
    const ok = hostPolicy({
      listenHost: '127.0.0.1',
      publicUrl: 'https://market.example.com',
      allowedHosts: ['proxy.internal'],
    });
    expect(ok('market.example.com')).toBe(true);
    expect(ok('proxy.internal:8080')).toBe(true);
    expect(ok('other.example.com')).toBe(false);
  });
  it('beyond loopback answers any Host unless ALLOWED_HOSTS lists them', () => {
    expect(hostPolicy({ listenHost: '0.0.0.0' })('anything.example')).toBe(true);
    const ok = hostPolicy({ listenHost: '0.0.0.0', allowedHosts: ['market.example.com'] });
    expect(ok('market.example.com:443')).toBe(true);
    expect(ok('anything.example')).toBe(false);
  });
  it('"*" turns the check off', () => {
    expect(hostPolicy({ listenHost: '127.0.0.1', allowedHosts: ['*'] })('evil.example')).toBe(true);
  });
});
