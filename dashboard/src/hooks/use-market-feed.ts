import { useEffect, useRef, useState } from 'preact/hooks';
import type { TaskEvent } from '../../../src/protocol/task.ts';
import { followEvents, type StreamStatus } from '../api/event-stream.ts';
import { applyEvent, emptyFeed, type MarketFeed } from '../state/market-feed.ts';

/**
 * The live feed of `/v1/events`, folded into round cards. Events arriving together are folded
 * in one render (at most one per animation frame), so a busy market does not flood the page.
 */
export function useMarketFeed(nameOf: (id: string) => string, keyVersion: number) {
  const [feed, setFeed] = useState<MarketFeed>(emptyFeed);
  const [status, setStatus] = useState<StreamStatus>({ state: 'connecting' });
  const names = useRef(nameOf);
  names.current = nameOf;

  useEffect(() => {
    let pending: TaskEvent[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      setFeed((f) => batch.reduce((acc, e) => applyEvent(acc, e, names.current), f));
    };
    const stream = followEvents((e) => {
      pending.push(e);
      if (!frame) frame = requestAnimationFrame(flush);
    }, setStatus);
    return () => {
      stream.stop();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [keyVersion]);
  return { feed, status };
}
