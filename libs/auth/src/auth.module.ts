import {
  type DynamicModule,
  Inject,
  Module,
  type ModuleMetadata,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { CredentialSet, type ClientCredential, type TokenEndpointAuthMethod } from './credentials';
import { TokenMetrics } from './metrics';
import { ProviderClient } from './provider.client';
import { type RefreshPolicy, TokenManager } from './token-manager';

export interface ServiceAuthOptions {
  /** The service's own provider client (one name everywhere: the service name). */
  clientName: string;
  issuer: string;
  apiBaseUrl: string;
  caCert: string;
  scopes: readonly string[];
  /**
   * The API the tokens are for (RFC 8707 `resource`): the authorization server puts it in
   * `aud`, and the API refuses a token minted for anything else.
   */
  resource?: string;
  authMethod?: TokenEndpointAuthMethod;
  credential: ClientCredential;
  refresh?: Partial<RefreshPolicy>;
  metricsRegistry?: Registry;
  logger?: Logger;
  /** The benchmark baseline (see `ProviderClient`); never in production. */
  fixedToken?: boolean;
}

export interface ServiceAuthAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: (string | symbol | (abstract new (...args: never[]) => unknown))[];
  useFactory: (...deps: never[]) => ServiceAuthOptions | Promise<ServiceAuthOptions>;
}

/** The credential set the token manager reads; rotation updates it in place. */
export const CREDENTIALS = Symbol('CREDENTIALS');
const AUTH_OPTIONS = Symbol('AUTH_OPTIONS');

/**
 * Gives a service its token manager, its credential set (to rotate) and its provider client.
 * The token manager stops (timers, TLS agents) when the app shuts down, after jobs drained.
 */
@Module({})
export class AuthModule implements OnApplicationShutdown {
  constructor(@Inject(TokenManager) private readonly tokens: TokenManager) {}

  static forService(options: ServiceAuthOptions): DynamicModule {
    return this.forServiceAsync({ useFactory: () => options });
  }

  /** As `forService`, with the options (credential from Vault, config) built at start-up. */
  static forServiceAsync(options: ServiceAuthAsyncOptions): DynamicModule {
    return {
      module: AuthModule,
      imports: options.imports ?? [],
      providers: [
        { provide: AUTH_OPTIONS, inject: options.inject ?? [], useFactory: options.useFactory },
        {
          provide: CREDENTIALS,
          inject: [AUTH_OPTIONS],
          useFactory: (o: ServiceAuthOptions) => new CredentialSet(o.credential),
        },
        {
          provide: TokenManager,
          inject: [AUTH_OPTIONS, CREDENTIALS],
          useFactory: (o: ServiceAuthOptions, credentials: CredentialSet) =>
            new TokenManager({
              issuer: o.issuer,
              caCert: o.caCert,
              clients: [
                {
                  name: o.clientName,
                  credentials,
                  scopes: o.scopes,
                  resource: o.resource,
                  authMethod: o.authMethod,
                },
              ],
              refresh: o.refresh,
              metrics: new TokenMetrics(o.metricsRegistry),
              logger: o.logger,
            }),
        },
        {
          provide: ProviderClient,
          inject: [AUTH_OPTIONS, TokenManager],
          useFactory: (o: ServiceAuthOptions, tokens: TokenManager) =>
            new ProviderClient(tokens, o.clientName, o.apiBaseUrl, { fixedToken: o.fixedToken }),
        },
      ],
      exports: [TokenManager, CREDENTIALS, ProviderClient],
    };
  }

  onApplicationShutdown(): void {
    this.tokens.close();
  }
}
