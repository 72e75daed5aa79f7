// The slice of oidc-provider's API the sandbox uses (the package ships no types of its own).
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface KoaContextWithOIDC {
    path: string;
    method: string;
    status: number;
    body: unknown;
    req: IncomingMessage;
    get(header: string): string;
    set(header: string, value: string): void;
    oidc: {
      client?: { clientId: string };
      params?: Record<string, unknown>;
      provider: Provider;
    };
  }

  interface OIDCError extends Error {
    error: string;
    error_description?: string;
  }
  type ErrorCtor = new (description?: string, detail?: string) => OIDCError;
  export const errors: {
    InvalidScope: new (description: string, scope: string) => OIDCError;
    InvalidTarget: ErrorCtor;
    InvalidGrant: ErrorCtor;
    InvalidRequest: ErrorCtor;
    /** 401 invalid_client; the argument is the detail (logged, not sent). */
    InvalidClientAuth: new (detail?: string) => OIDCError;
  };

  interface AccessTokenLike {
    resourceServer: unknown;
    expiration: number;
    setThumbprint(kind: 'x5t', cert: unknown): void;
    save(): Promise<string>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: unknown);
    ClientCredentials: new (init: { client: unknown; scope?: string }) => AccessTokenLike;
    ResourceServer: new (identifier: string, info: unknown) => unknown;
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(middleware: (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>): void;
    on(event: string, listener: (...args: never[]) => void): void;
    registerGrantType(
      name: string,
      handler: (ctx: KoaContextWithOIDC) => Promise<void>,
      params?: string[],
    ): void;
  }
}
