// axios-token-interceptor 0.2.0 ships no types: the part the bench uses.
declare module 'axios-token-interceptor' {
  export function tokenCache<T>(
    getToken: () => Promise<T>,
    options: { maxAge?: number; getMaxAge?: (token: T) => number },
  ): (() => Promise<T>) & { reset(): void };
}
