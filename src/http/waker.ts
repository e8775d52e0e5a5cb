/**
 * What a stream waits on between events: `wait` ends when `wake` is called (an event, the
 * client leaving) or after `ms` (time for a keep-alive); it answers whether it was woken.
 */
export class Waker {
  private woken: (() => void) | undefined;

  wake(): void {
    this.woken?.();
  }

  wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.woken = undefined;
        resolve(false);
      }, ms);
      this.woken = () => {
        clearTimeout(timer);
        this.woken = undefined;
        resolve(true);
      };
    });
  }
}

/** Between events a stream writes a comment this often, so proxies keep it open. */
export const KEEP_ALIVE_MS = 15_000;
