import { execFileSync } from 'node:child_process';
import { isDashboardFresh } from '../../bin/compiled.js';
import { ROOT } from './processes.ts';

/**
 * Builds dist/ once before the suite (incremental: seconds when little changed), so the manager,
 * agent and CLI processes the tests start run compiled, as deployed, and from today's sources;
 * and the dashboard the browser tests load, when its sources changed.
 */
export default function setup(): void {
  execFileSync(process.execPath, [`${ROOT}/node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (!isDashboardFresh())
    execFileSync(process.execPath, [`${ROOT}/dashboard/build.js`], { cwd: ROOT, stdio: 'inherit' });
}
