import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';

/**
 * A fresh PGlite database costs about 6 s of CPU for initdb alone on this project's 2-core
 * machines, and every test file, demo run and `memory://` manager makes one. Once a database has
 * been created and migrated, its data directory is kept as a tarball keyed by the PGlite version
 * and the migration files; the next fresh database starts from it in under a second. Migrations
 * still run after loading (a no-op when the template already holds them), so a stale or foreign
 * template can never skip one. Best effort: an unwritable cache only means no template.
 */

const pgliteVersion = (() => {
  try {
    const require = createRequire(import.meta.url);
    return (require('@electric-sql/pglite/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/** The cache file for this PGlite version and these migrations. */
function templatePath(cacheDir: string, migrationsFolder: string): string {
  const h = createHash('sha256').update(pgliteVersion);
  for (const f of readdirSync(migrationsFolder)
    .filter((n) => n.endsWith('.sql'))
    .sort())
    h.update(f).update(readFileSync(join(migrationsFolder, f)));
  return join(cacheDir, `pglite-${h.digest('hex').slice(0, 16)}.tar`);
}

/** True when `dataDir` holds no database yet (PGlite would run initdb there). */
export function isFreshDataDir(dataDir: string): boolean {
  if (dataDir.startsWith('memory://')) return true;
  const dir = dataDir.replace(/^file:\/\//, '');
  return !existsSync(join(dir, 'PG_VERSION'));
}

export type PgliteTemplate = {
  /** The tarball to start a fresh database from, if one was made before. */
  load(): Blob | undefined;
  /** Keeps `pg`'s migrated data directory as the template (atomically; errors ignored). */
  save(pg: PGlite): Promise<void>;
};

export function pgliteTemplate(cacheDir: string, migrationsFolder: string): PgliteTemplate {
  let path: string | undefined;
  try {
    path = templatePath(cacheDir, migrationsFolder);
  } catch {
    path = undefined;
  }
  return {
    load() {
      if (!path || !existsSync(path)) return undefined;
      try {
        return new Blob([readFileSync(path)]);
      } catch {
        return undefined;
      }
    },
    async save(pg) {
      if (!path || existsSync(path)) return;
      try {
        const dump = await pg.dumpDataDir('none');
        mkdirSync(cacheDir, { recursive: true });
        const tmp = `${path}.${process.pid}.tmp`;
        writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
        renameSync(tmp, path);
      } catch {
        // No template this time; the next fresh database runs initdb again.
      }
    },
  };
}
