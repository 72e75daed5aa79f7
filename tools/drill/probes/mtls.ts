// Certificate-bound tokens (RFC 8705): a token works only over a TLS session with the
// certificate it was issued to, and only a trusted CA's certificate gets one.
import { SERVICE_NAMES, grantOf, hasScope, type ServiceName } from '@lpi/access-matrix';
import { API_OPS, apiCall, tokenRequest, type ApiOp } from '../clients';
import { certOf, type Loot } from '../loot';
import { httpOutcome, tokenOutcome } from '../rows';
import type { Probe, ProbeContext } from './context';

/**
 * An operation the grant allows where there is one (the API checks the binding before the
 * scope, so a service with no API operation of its own, e.g. one just generated with a new
 * scope, is probed on a read it cannot make).
 */
function readOpOf(service: ServiceName): ApiOp {
  const read = grantOf(service).oauth.scopes.find(
    (sc) => sc.endsWith(':read') || sc === 'webhooks:manage',
  );
  return API_OPS.find((o) => o.scope === read) ?? API_OPS.find((o) => o.method === 'GET')!;
}

/** A token of the service's full grant, fresh (the drill's stack issues short-lived ones). */
export async function grantToken(ctx: { stack: Parameters<typeof tokenRequest>[0] }, l: Loot) {
  return (await tokenRequest(ctx.stack, l.secret, grantOf(l.service).oauth.scopes.join(' '))).json
    .access_token;
}

const credentialOf = (l: Loot) =>
  l.secret.client_assertion_key ? 'assertion key' : 'client secret';

/**
 * RFC 8705 binds a token to a certificate of the client that authenticated, never a
 * sibling's: another service's looted credential over the attacker's own (CA-issued,
 * registered) certificate, and the attacker's own credential over a sibling's certificate.
 */
async function siblingCertificates(ctx: ProbeContext, service: ServiceName): Promise<void> {
  const { stack: s, loot, rows } = ctx;
  const row = rows.for(service, 'mtls');
  const me = loot[service];
  for (const sibling of SERVICE_NAMES.filter((x) => x !== service)) {
    const them = loot[sibling];
    const theirScopes = grantOf(sibling).oauth.scopes.join(' ');
    const theirs = await tokenRequest(s, them.secret, theirScopes, certOf(me));
    row(
      `${sibling}'s ${credentialOf(them)} over own certificate (token with ${theirScopes})`,
      'deny',
      tokenOutcome(theirs),
      hasScope(sibling, 'payments:write'),
    );
    const myScopes = grantOf(service).oauth.scopes.join(' ');
    const mine = await tokenRequest(s, me.secret, myScopes, certOf(them));
    row(
      `own ${credentialOf(me)} over ${sibling}'s certificate (token with ${myScopes})`,
      'deny',
      tokenOutcome(mine),
      hasScope(service, 'payments:write'),
    );
  }
}

export const mtlsProbe: Probe = async (ctx, service) => {
  await siblingCertificates(ctx, service);
  const { stack: s, loot, rows } = ctx;
  const l = loot[service];
  const row = rows.for(service, 'mtls');
  const listOp = readOpOf(service);
  const other = SERVICE_NAMES.find((x) => x !== service)!;
  const token = await grantToken(ctx, l);

  const withOther = await apiCall(s, token, listOp, certOf(loot[other]), ctx.paymentId);
  row(
    `own token with ${other}'s certificate`,
    'deny',
    httpOutcome(withOther.status, withOther.json?.error?.code),
    service === 'payment-service',
  );
  const withNone = await apiCall(s, token, listOp, {}, ctx.paymentId);
  row(
    'own token without a client certificate',
    'deny',
    httpOutcome(withNone.status, withNone.json?.error?.code),
    service === 'payment-service',
  );
  const rogue = await tokenRequest(s, l.secret, grantOf(service).oauth.scopes.join(' '), {
    cert: s.pki.rogue.cert,
    key: s.pki.rogue.key,
  });
  row('token request with a certificate from an untrusted CA', 'deny', tokenOutcome(rogue));

  // another service's stolen token, with the attacker's own certificate
  const victim = SERVICE_NAMES.find((x) => x !== service)!;
  const op = API_OPS.find((o) => hasScope(victim, o.scope)) ?? readOpOf(victim);
  const stolen = await grantToken(ctx, loot[victim]);
  const res = await apiCall(s, stolen, op, certOf(l), ctx.paymentId);
  row(
    `${victim}'s stolen token with own certificate (${op.name})`,
    'deny',
    httpOutcome(res.status, res.json?.error?.code),
    victim === 'payment-service',
  );
  // the control: the same token over the victim's own session works, so the denial above is
  // the binding and not an expired or malformed token
  const control = await apiCall(s, stolen, op, certOf(loot[victim]), ctx.paymentId);
  row(
    `${victim}'s token with ${victim}'s certificate (control for the row above)`,
    hasScope(victim, op.scope) ? 'allow' : 'deny',
    httpOutcome(control.status, control.json?.error?.code),
  );
};
