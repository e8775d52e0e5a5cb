import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, databaseTarget, loadConfig, SETTING_NAMES } from './config.ts';
import { TUNING } from './tuning.ts';

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

  it('has at most 41 settings, each documented, and documents every constant', () => {
    const doc = readFileSync(new URL('../docs/CONFIGURATION.md', import.meta.url), 'utf8');
    expect(SETTING_NAMES.length).toBeLessThanOrEqual(41);
    for (const name of [...SETTING_NAMES, ...Object.keys(TUNING)]) expect(doc).toContain(`\`${name}\``);
  });

  it('names the setting at fault and its range', () => {
    expect(() => loadConfig({ REAUCTION_CAP_MS: '5' })).toThrow(/Invalid REAUCTION_CAP_MS="5"/);
  });

  it("reads the machinery's constants from no environment: they are not settings", () => {
    const cfg = loadConfig({ AGREEMENT_HOLD_MS: '5', SWEEP_INTERVAL_MS: '1' });
    expect(cfg.AGREEMENT_HOLD_MS).toBe(TUNING.AGREEMENT_HOLD_MS);
    expect(cfg.SWEEP_INTERVAL_MS).toBe(TUNING.SWEEP_INTERVAL_MS);
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
