// Which build of an entry point to run: the compiled JavaScript in dist/ (npm run build, run by
// `npm install` through `prepare`) when it is newer than every source file, else the TypeScript
// source through tsx. A process started from dist/ needs about a quarter of the CPU (no loader
// thread, no transform), which matters when the demo or a test starts eight of them on 2 cores.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILD_INFO = join(ROOT, 'dist', '.tsbuildinfo');

function newestMtime(dir, pattern = /\.ts$/) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, pattern));
    else if (pattern.test(entry.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const DASHBOARD_BUILD = join(ROOT, 'dist', 'dashboard', 'build.json');

/** True when dist/dashboard was built after the last change to the dashboard's sources. */
export function isDashboardFresh() {
  return (
    existsSync(DASHBOARD_BUILD) &&
    statSync(DASHBOARD_BUILD).mtimeMs >=
      Math.max(
        newestMtime(join(ROOT, 'dashboard'), /\.(tsx?|css|html|js)$/),
        // The page imports the protocol's schemas.
        newestMtime(join(ROOT, 'src', 'protocol')),
      )
  );
}

/** True when dist/ was built after the last change to src/, agents/ or scripts/ (a few ms of stat calls). */
export function isBuildFresh() {
  return (
    existsSync(BUILD_INFO) &&
    statSync(BUILD_INFO).mtimeMs >=
      Math.max(...['src', 'agents', 'scripts'].map((d) => newestMtime(join(ROOT, d))))
  );
}

/**
 * `src/server.ts` -> the absolute path of `dist/src/server.js` when that build is fresh,
 * else undefined (run the source with tsx).
 */
export function compiledEntry(tsPath) {
  if (!/^(src|agents|scripts)\/.*\.ts$/.test(tsPath) || !isBuildFresh()) return undefined;
  const js = join(ROOT, 'dist', tsPath.replace(/\.ts$/, '.js'));
  return existsSync(js) ? js : undefined;
}

/** Builds dist/ (incrementally) when the sources changed since the last build; says so first. */
export function ensureBuilt(say = (line) => console.log(line)) {
  if (!isBuildFresh()) {
    say('building dist/ (the sources changed since the last build)');
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT, stdio: 'inherit' },
    );
  }
  if (!isDashboardFresh()) {
    say('building the dashboard (its sources changed since the last build)');
    execFileSync(process.execPath, [join(ROOT, 'dashboard', 'build.js')], { cwd: ROOT, stdio: 'inherit' });
  }
}
