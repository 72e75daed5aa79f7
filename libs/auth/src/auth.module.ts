import { type DynamicModule, Module, type OnModuleDestroy, Inject } from '@nestjs/common';
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
  authMethod?: TokenEndpointAuthMethod;
  credential: ClientCredential;
  refresh?: Partial<RefreshPolicy>;
  metricsRegistry?: Registry;
  logger?: Logger;
}

export const CREDENTIALS = Symbol('CREDENTIALS');

/** Gives a service its token manager, its credential set (to rotate) and its provider client. */
@Module({})
export class AuthModule implements OnModuleDestroy {
  constructor(@Inject(TokenManager) private readonly tokens: TokenManager) {}

  static forService(options: ServiceAuthOptions): DynamicModule {
    const credentials = new CredentialSet(options.credential);
    const tokens = new TokenManager({
      issuer: options.issuer,
      caCert: options.caCert,
      clients: [
        {
          name: options.clientName,
          credentials,
          scopes: options.scopes,
          authMethod: options.authMethod,
        },
      ],
      refresh: options.refresh,
      metrics: new TokenMetrics(options.metricsRegistry),
      logger: options.logger,
    });
    return {
      module: AuthModule,
      global: true,
      providers: [
        { provide: TokenManager, useValue: tokens },
        { provide: CREDENTIALS, useValue: credentials },
        {
          provide: ProviderClient,
          useValue: new ProviderClient(tokens, options.clientName, options.apiBaseUrl),
        },
      ],
      exports: [TokenManager, CREDENTIALS, ProviderClient],
    };
  }

  onModuleDestroy(): void {
    this.tokens.close();
  }
}
