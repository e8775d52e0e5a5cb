import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/api-client.ts';
import {
  appendPoint,
  type MarketPoint,
  pointBetween,
  readScrape,
  type Scrape,
} from '../state/metric-series.ts';

/** Scrapes `/metrics` (as JSON) every `everyMs` and keeps the last ten minutes of chart points. */
export function useMarketMetrics(everyMs: number, keyVersion: number) {
  const [points, setPoints] = useState<MarketPoint[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [moneyIssued, setMoneyIssued] = useState(0);
  useEffect(() => {
    let prev: Scrape | undefined;
    let live = true;
    const scrape = async () => {
      try {
        const cur = readScrape(await api.metrics(), Date.now());
        if (!live) return;
        if (prev) {
          const p = pointBetween(prev, cur);
          setPoints((pts) => appendPoint(pts, p));
        }
        prev = cur;
        setMoneyIssued(cur.moneyIssued);
        setError(null);
      } catch (err) {
        if (live) setError(err instanceof Error ? err.message : String(err));
      }
    };
    setPoints([]);
    scrape();
    const timer = setInterval(scrape, everyMs);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [everyMs, keyVersion]);
  return { points, error, moneyIssued };
}
