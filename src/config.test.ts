import { describe, expect, it } from 'vitest';
import { ConfigError, databaseTarget, loadConfig } from './config.ts';

describe('configuration', () => {
  it('defaults to PGlite on loopback port 8080', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 8080,
      HOST: '127.0.0.1',
      PGLITE_DATA_DIR: './.data/pglite',
      BODY_LIMIT_BYTES: 1048576,
    });
    expect(databaseTarget(c)).toEqual({ kind: 'pglite', dataDir: './.data/pglite' });
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' });
    expect(databaseTarget(c)).toMatchObject({
      kind: 'postgres',
      url: 'postgres://postgres@127.0.0.1:5432/test',
    });
  });

  it('parses key lists and treats empty values as unset', () => {
    const c = loadConfig({ API_KEYS: ' key-one-1, key-two-2 ,', REGISTRATION_KEY: '' });
    expect(c.API_KEYS).toEqual(['key-one-1', 'key-two-2']);
    expect(c.REGISTRATION_KEY).toBeUndefined();
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['LOG_LEVEL', 'loud'],
    ['API_KEYS', 'short'],
    ['BODY_LIMIT_BYTES', '12'],
    ['MANAGER_SECRET', 'too-short'],
    ['TASK_RETENTION_MS', '500'],
    ['TASK_RETENTION_MS', '-1'],
    ['TASK_RETENTION_MS', '30d'],
  ])('stops on %s=%s with a message naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid ${name}=`));
  });

  it('keeps ended tasks 30 days unless told otherwise; 0 keeps them for ever', () => {
    expect(loadConfig({}).TASK_RETENTION_MS).toBe(30 * 86_400_000);
    expect(loadConfig({ TASK_RETENTION_MS: '0' }).TASK_RETENTION_MS).toBe(0);
    expect(() => loadConfig({ TASK_RETENTION_MS: '500' })).toThrow(/0 \(keep for ever\) or milliseconds/);
  });

  it('checks settings against each other', () => {
    expect(() => loadConfig({ RETRY_BASE_MS: '500', RETRY_MAX_MS: '100' })).toThrow(/RETRY_MAX_MS/);
  });

  it('refuses to listen beyond loopback without API_KEYS and REGISTRATION_KEY, unless told to run open', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/HOST=0.0.0.0.*API_KEYS and REGISTRATION_KEY/);
    expect(() => loadConfig({ HOST: '0.0.0.0', API_KEYS: 'key-one-1' })).toThrow(ConfigError);
    const keyed = loadConfig({ HOST: '0.0.0.0', API_KEYS: 'key-one-1', REGISTRATION_KEY: 'reg-key-1' });
    expect(keyed.HOST).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '192.168.1.4', ALLOW_OPEN_NETWORK: 'true' }).ALLOW_OPEN_NETWORK).toBe(true);
    expect(loadConfig({ HOST: 'localhost' }).HOST).toBe('localhost');
    expect(() => loadConfig({ HOST: '0.0.0.0', ALLOW_OPEN_NETWORK: 'maybe' })).toThrow(/ALLOW_OPEN_NETWORK/);
  });
});
