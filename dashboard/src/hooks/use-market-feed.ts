import { useEffect, useRef, useState } from 'preact/hooks';
import type { TaskEvent } from '../../../src/protocol/task.ts';
import { followEvents, type StreamStatus } from '../api/event-stream.ts';
import { applyEvent, emptyFeed, type MarketFeed } from '../state/market-feed.ts';

/** Longest events wait for a render when no animation frame comes (a hidden tab gets none). */
const FLUSH_FALLBACK_MS = 250;

/**
 * The live feed of `/v1/events`, folded into round cards. Events arriving together are folded
 * in one render (at most one per animation frame), so a busy market does not flood the page. A
 * timer folds them too when no frame comes: a background tab gets no animation frames at all,
 * and its events would otherwise pile up unrendered for as long as it stays hidden.
 */
export function useMarketFeed(nameOf: (id: string) => string, keyVersion: number) {
  const [feed, setFeed] = useState<MarketFeed>(emptyFeed);
  const [status, setStatus] = useState<StreamStatus>({ state: 'connecting' });
  const names = useRef(nameOf);
  names.current = nameOf;

  useEffect(() => {
    let pending: TaskEvent[] = [];
    let frame = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cancel = () => {
      if (frame) cancelAnimationFrame(frame);
      if (timer !== undefined) clearTimeout(timer);
      frame = 0;
      timer = undefined;
    };
    const flush = () => {
      cancel();
      const batch = pending;
      pending = [];
      setFeed((f) => batch.reduce((acc, e) => applyEvent(acc, e, names.current), f));
    };
    const stream = followEvents((e) => {
      pending.push(e);
      if (timer !== undefined) return;
      frame = requestAnimationFrame(flush);
      timer = setTimeout(flush, FLUSH_FALLBACK_MS);
    }, setStatus);
    return () => {
      stream.stop();
      cancel();
    };
  }, [keyVersion]);
  return { feed, status };
}
