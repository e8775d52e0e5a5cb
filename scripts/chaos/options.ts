import { Command, InvalidArgumentError } from 'commander';

const int = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number >= ${min}`);
  return n;
};
const share = (v: string) => {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
};

export type ChaosOptions = {
  tasks: number;
  timeLimit: number;
  agents: number;
  faulty: number;
  faultRate: number;
  managerKills: number;
  agentKills: number;
  managers: number;
  dbDrops: number;
  clients: number;
  db: 'pglite' | 'postgres';
  seed: number;
  /** An abusive client key and an abusive agent beside the honest ones. */
  abuse: boolean;
  /** Accounts on: budgets held and settled, the ledger's invariants checked after the run. */
  accounts: boolean;
};

/** The chaos run's command line, checked; a combination that cannot run exits 2 with why. */
export function chaosOptions(): ChaosOptions {
  const opts = new Command('chaos')
    .description('a bounded soak under faults, then every invariant checked in the database')
    .option('--tasks <n>', 'tasks to submit', int(1), 600)
    .option('--time-limit <s>', 'stop after this many seconds, whatever is left', int(10), 280)
    .option('--agents <n>', 'agent processes', int(2), 10)
    .option('--faulty <share>', 'share of the agents that misbehave', share, 0.3)
    .option('--fault-rate <share>', "share of a faulty agent's messages it misbehaves on", share, 0.3)
    .option('--manager-kills <n>', 'SIGKILLs of a manager during the run', int(0), 2)
    .option(
      '--agent-kills <n>',
      'SIGKILLs of agents by the orchestrator (faulty agents also kill themselves)',
      int(0),
      3,
    )
    .option('--managers <n>', 'managers sharing the database (PostgreSQL only)', int(1), 1)
    .option(
      '--db-drops <n>',
      'times every connection to the database is cut during the run, as a restart or failover does (PostgreSQL only)',
      int(0),
      3,
    )
    .option('--clients <n>', 'concurrent submitting clients', int(1), 24)
    .option(
      '--db <kind>',
      'pglite or postgres (DATABASE_URL)',
      process.env.DATABASE_URL ? 'postgres' : 'pglite',
    )
    .option('--seed <n>', 'random seed', int(0), 20261202)
    .option('--no-abuse', 'leave out the abusive client and the abusive agent')
    .option(
      '--no-accounts',
      'run the market without accounts (ACCOUNTS=false): no budgets held, no ledger checked',
    )
    .parse()
    .opts<ChaosOptions>();
  if (opts.db !== 'pglite' && opts.db !== 'postgres') throw new Error('--db is pglite or postgres');
  if (opts.db === 'pglite' && opts.managers > 1) {
    console.error('PGlite is one process: --managers 2 needs --db postgres (DATABASE_URL)');
    process.exit(2);
  }
  if (opts.db === 'postgres' && !process.env.DATABASE_URL) {
    console.error('--db postgres needs DATABASE_URL');
    process.exit(2);
  }
  return opts;
}
