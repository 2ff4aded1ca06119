/**
 * Wrap an async function to count how many of its calls run at once: `most()` is the highest
 * number seen. Tests use it to tell work done together from work done one call after another.
 */
export function countingConcurrency<A extends unknown[], R>(fn: (...args: A) => Promise<R>): { fn: (...args: A) => Promise<R>; most(): number } {
  let running = 0;
  let most = 0;
  return {
    fn: async (...args: A) => {
      most = Math.max(most, ++running);
      try {
        return await fn(...args);
      } finally {
        running--;
      }
    },
    most: () => most,
  };
}
