// A tiny concurrency limiter: at most `concurrency` tasks run at once, in submission order.

export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimiter(concurrency: number): Limiter {
  const max = Math.max(1, Math.floor(concurrency) || 1);
  let running = 0;
  const queue: (() => void)[] = [];
  const next = (): void => {
    if (running >= max) return;
    const start = queue.shift();
    if (start === undefined) return;
    running++;
    start();
  };
  return <T>(task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        let p: Promise<T>;
        try {
          p = task();
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then(resolve, reject).finally(() => {
          running--;
          next();
        });
      });
      next();
    });
}
