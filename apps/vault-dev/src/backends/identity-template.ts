import { duration } from '../backend';

/**
 * Vault's identity templating in JSON mode (sdk/helper/identitytpl/templating.go), the subset a
 * token role uses: strings come out JSON-quoted, lists and maps as JSON, `time.now*` as bare
 * integers, and a missing value is empty rather than an error.
 */
export interface TemplateEntity {
  id: string;
  name: string;
  metadata: Record<string, string>;
  aliases: {
    id: string;
    name: string;
    mountAccessor: string;
    metadata: Record<string, string>;
  }[];
}

export class TemplateError extends Error {}

const NOT_FOUND = 'no value could be found for one of the template directives';

/** Splits like Vault's PopulateString: pieces around `{{ … }}`, unbalanced braces rejected. */
export function renderTemplate(
  template: string,
  entity: TemplateEntity | undefined,
  nowSeconds: number,
): string {
  const pieces = template.split('{{');
  if (pieces[0].includes('}}')) throw new TemplateError('unbalanced templating characters');
  let out = pieces[0];
  for (const piece of pieces.slice(1)) {
    const parts = piece.split('}}');
    if (parts.length !== 2) throw new TemplateError('unbalanced templating characters');
    out += directive(parts[0].trim(), entity, nowSeconds) + parts[1];
  }
  return out;
}

function directive(name: string, entity: TemplateEntity | undefined, now: number): string {
  const time = /^time\.now(?:\.(plus|minus)\.(.+))?$/.exec(name);
  if (time) {
    if (!time[1]) return String(now);
    let delta: number;
    try {
      delta = duration(time[2], 0);
    } catch {
      throw new TemplateError(`invalid duration: ${time[2]}`);
    }
    return String(time[1] === 'plus' ? now + delta : now - delta);
  }
  const e = entity ?? { id: '', name: '', metadata: {}, aliases: [] };
  if (name === 'identity.entity.id') return JSON.stringify(e.id);
  if (name === 'identity.entity.name') return JSON.stringify(e.name);
  if (name === 'identity.entity.metadata') return JSON.stringify(e.metadata);
  if (name.startsWith('identity.entity.metadata.'))
    return JSON.stringify(e.metadata[name.slice('identity.entity.metadata.'.length)] ?? '');
  // vault-dev has no groups: Go marshals the nil slice as null
  if (name === 'identity.entity.groups.ids' || name === 'identity.entity.groups.names')
    return 'null';
  const alias = /^identity\.entity\.aliases\.([^.]+)\.(.+)$/.exec(name);
  if (alias) {
    const a = e.aliases.find((x) => x.mountAccessor === alias[1]) ?? {
      id: '',
      name: '',
      mountAccessor: alias[1],
      metadata: {},
    };
    const field = alias[2];
    if (field === 'id') return JSON.stringify(a.id);
    if (field === 'name') return JSON.stringify(a.name);
    if (field === 'metadata' || field === 'custom_metadata')
      return JSON.stringify(field === 'metadata' ? a.metadata : {});
    const meta = /^(metadata|custom_metadata)\.(.+)$/.exec(field);
    if (meta) return JSON.stringify(meta[1] === 'metadata' ? (a.metadata[meta[2]] ?? '') : '');
  }
  throw new TemplateError(NOT_FOUND);
}

export const RESERVED_CLAIMS = [
  'iat',
  'aud',
  'exp',
  'iss',
  'sub',
  'namespace',
  'nonce',
  'auth_time',
  'at_hash',
  'c_hash',
];

/** Go's base64.StdEncoding.DecodeString succeeds only on padded, canonical input. */
export function decodeTemplate(raw: string): string {
  if (raw && raw.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(raw)) {
    const decoded = Buffer.from(raw, 'base64');
    if (decoded.toString('base64') === raw) return decoded.toString('utf8');
  }
  return raw;
}

/** Write-time validation: rendered against an empty entity, a JSON object, no reserved keys. */
export function validateTemplate(template: string): void {
  if (!template) return;
  let rendered: string;
  try {
    rendered = renderTemplate(template, undefined, 0);
  } catch (err) {
    throw new TemplateError(`error parsing template: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(rendered);
  } catch (err) {
    throw new TemplateError(`error parsing template JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new TemplateError('error parsing template JSON: not a JSON object');
  for (const key of Object.keys(parsed))
    if (RESERVED_CLAIMS.includes(key))
      throw new TemplateError(
        `top level key "${key}" not allowed. Restricted keys: ${RESERVED_CLAIMS.join(', ')}`,
      );
}

/** Issue-time rendering: errors only drop the template's claims (Vault logs and goes on). */
export function templateClaims(
  template: string,
  entity: TemplateEntity,
  nowSeconds: number,
): Record<string, unknown> {
  if (!template) return {};
  try {
    const parsed: unknown = JSON.parse(renderTemplate(template, entity, nowSeconds));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter(([k]) => !RESERVED_CLAIMS.includes(k)));
  } catch {
    return {};
  }
}
