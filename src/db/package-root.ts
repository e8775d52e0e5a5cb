import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's folder, found upwards from here (src/db in development, dist/src/db built). */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'drizzle', 'meta', '_journal.json'))) return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`drizzle/ migrations folder not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
})();

/** The committed drizzle migrations. */
export const migrationsFolder = join(packageRoot, 'drizzle');
