import { type PGlite, parse, protocol } from '@electric-sql/pglite';

type Prepared = { name: string; paramTypes: number[] };

/** Statements kept per database at most: the hot path has a handful; anything past that is parsed each time. */
const MAX_STATEMENTS = 64;

/**
 * The hot statements on PGlite as named prepared statements, parsed once: PGlite's `query()`
 * parses, analyses and plans every call (an unnamed statement), which for the round's CTE
 * statements cost two thirds of each call inside the WASM backend (measured: 2.6-3.0 ms per
 * submission statement through `query()`, 1.1 ms through a named statement). What postgres.js
 * does on PostgreSQL with `prepare: true`.
 *
 * Built on PGlite's public wire-protocol API, with its own locks in the order `query()` takes
 * them (no transaction open meanwhile, then the connection), and its file sync after the call.
 */
export class PgliteStatements {
  private readonly prepared = new Map<string, Prepared>();

  constructor(private readonly pg: PGlite) {}

  query<T>(text: string, params: readonly (string | number | boolean | null)[]): Promise<T[]> {
    return this.pg._runExclusiveTransaction(() =>
      this.pg._runExclusiveQuery(async () => {
        let messages: Awaited<ReturnType<PGlite['execProtocolStream']>>;
        try {
          const st = this.prepared.get(text) ?? (await this.prepare(text));
          const values = params.map((v, i) => {
            if (v === null || v === undefined) return null;
            const serializer = this.pg.serializers[st.paramTypes[i] ?? 0];
            return serializer ? (serializer(v) as string) : String(v);
          });
          messages = [
            ...(await this.send(protocol.serialize.bind({ statement: st.name, values }))),
            ...(await this.send(protocol.serialize.describe({ type: 'P' }))),
            ...(await this.send(protocol.serialize.execute({}))),
          ];
        } catch (err) {
          throw Object.assign(err as Error, { query: text, params });
        } finally {
          await this.send(protocol.serialize.sync());
        }
        await this.pg.syncToFs();
        return (parse.parseResults(messages, this.pg.parsers)[0]?.rows ?? []) as T[];
      }),
    );
  }

  private send(message: Uint8Array) {
    return this.pg.execProtocolStream(message, { syncToFs: false });
  }

  /** Parses `text` once under a name of its own and learns its parameter types. */
  private async prepare(text: string): Promise<Prepared> {
    const name = `cnet_${this.prepared.size}`;
    if (this.prepared.size >= MAX_STATEMENTS) {
      // Unnamed: parsed again next time, like query().
      await this.send(protocol.serialize.parse({ text }));
      return { name: '', paramTypes: parse.parseDescribeStatementResults(await this.describe('')) };
    }
    await this.send(protocol.serialize.parse({ name, text }));
    const st = { name, paramTypes: parse.parseDescribeStatementResults(await this.describe(name)) };
    this.prepared.set(text, st);
    return st;
  }

  private describe(name: string) {
    return this.send(protocol.serialize.describe({ type: 'S', name }));
  }
}
