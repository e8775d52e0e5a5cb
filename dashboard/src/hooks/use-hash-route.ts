import { useEffect, useState } from 'preact/hooks';

/** The page's two places: the market (`#/`) and one task (`#/tasks/<id>`). */
export type Route = { page: 'market' } | { page: 'task'; taskId: string };

export function routeOf(hash: string): Route {
  const m = /^#\/tasks\/([0-9a-f-]{36})$/i.exec(hash);
  return m ? { page: 'task', taskId: m[1]!.toLowerCase() } : { page: 'market' };
}

export const taskHref = (taskId: string) => `#/tasks/${taskId}`;

/** Hash routing: links work without the server knowing any page but `/`. */
export function useHashRoute(): Route {
  const [route, setRoute] = useState(() => routeOf(location.hash));
  useEffect(() => {
    const on = () => {
      setRoute(routeOf(location.hash));
      window.scrollTo(0, 0);
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
