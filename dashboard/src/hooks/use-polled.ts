import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiProblem } from '../api/api-client.ts';

export type Polled<T> = { data: T | undefined; problem: ApiProblem | null; refresh: () => void };

/**
 * `load()` now and every `everyMs`, and again whenever `trigger` changes (at most once a second):
 * the agents table, the recent tasks and a task's page stay fresh without a reload.
 */
export function usePolled<T>(
  load: () => Promise<T>,
  everyMs: number,
  deps: unknown[],
  trigger?: unknown,
): Polled<T> {
  const [data, setData] = useState<T>();
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const run = useRef<() => void>(() => {});
  const last = useRef(0);

  useEffect(() => {
    let live = true;
    let inFlight = false;
    run.current = () => {
      if (inFlight) return;
      inFlight = true;
      last.current = Date.now();
      load()
        .then(
          (d) => {
            if (live) {
              setData(d);
              setProblem(null);
            }
          },
          (err) => {
            if (live) setProblem(err instanceof ApiProblem ? err : new ApiProblem(0, 'network', String(err)));
          },
        )
        .finally(() => {
          inFlight = false;
        });
    };
    setData(undefined);
    run.current();
    const timer = setInterval(() => run.current(), everyMs);
    return () => {
      live = false;
      clearInterval(timer);
    };
    // The caller names what reloads it (deps); load itself may be a new closure each render.
  }, deps);

  useEffect(() => {
    if (trigger === undefined) return;
    const wait = Math.max(0, 1000 - (Date.now() - last.current));
    const t = setTimeout(() => run.current(), wait);
    return () => clearTimeout(t);
  }, [trigger]);

  return { data, problem, refresh: () => run.current() };
}
