// OAuth scopes: every scope at the authorization server, every API operation with the
// service's full grant. A compromised reporting-service never moves money (fixed).
import {
  PROVIDER_SCOPES,
  grantOf,
  hasScope,
  type ProviderScope,
  type ServiceName,
} from '@lpi/access-matrix';
import { API_OPS, apiCall, tokenRequest } from '../clients';
import { certOf } from '../loot';
import { httpOutcome, tokenOutcome } from '../rows';
import type { Probe } from './context';

const movesMoney = (service: ServiceName, scope: ProviderScope) =>
  service === 'reporting-service' && (scope === 'payments:write' || scope === 'refunds:write');

export const oauthProbe: Probe = async (ctx, service) => {
  const { stack: s, loot, rows } = ctx;
  const l = loot[service];
  const row = rows.for(service, 'oauth');
  for (const scope of PROVIDER_SCOPES) {
    const res = await tokenRequest(s, l.secret, scope);
    row(
      `token with ${scope}`,
      hasScope(service, scope) ? 'allow' : 'deny',
      tokenOutcome(res),
      movesMoney(service, scope),
    );
  }
  const token = (await tokenRequest(s, l.secret, grantOf(service).oauth.scopes.join(' '))).json
    .access_token;
  for (const op of API_OPS) {
    const res = await apiCall(s, token, op, certOf(l), ctx.paymentId);
    row(
      `${op.method} ${op.path} (${op.name})`,
      hasScope(service, op.scope) ? 'allow' : 'deny',
      httpOutcome(res.status, res.json?.error?.code),
      movesMoney(service, op.scope),
    );
  }
};
