import { badRequest } from '../backend';
import { statementList } from './database-statements';

/** builtin/logical/database DatabaseConfig; plugin settings stay in `details` */
export interface DbConfig {
  pluginName: string;
  pluginVersion: string;
  verifyConnection: boolean;
  allowedRoles: string[];
  rootRotationStatements: string[];
  passwordPolicy: string;
  /** connection_details: everything not generic, passed to the plugin */
  details: Record<string, unknown>;
}

/** fields the engine keeps for itself (path_config_connection.go deletes them from the raw body) */
const GENERIC = [
  'name',
  'plugin_name',
  'plugin_version',
  'verify_connection',
  'allowed_roles',
  'root_rotation_statements',
  'password_policy',
];

/** framework.TypeCommaStringSlice */
const commaList = (v: unknown): string[] =>
  (Array.isArray(v) ? v.map(String) : String(v).split(',')).map((s) => s.trim()).filter(Boolean);

/** A create, or an update merged into the stored config (connection details key by key). */
export function parseConfigWrite(body: Record<string, unknown>, old?: DbConfig): DbConfig {
  const pluginName = body.plugin_name !== undefined ? String(body.plugin_name) : old?.pluginName;
  if (!pluginName) throw badRequest('empty plugin name');
  const details: Record<string, unknown> = { ...(old?.details ?? {}) };
  for (const [k, v] of Object.entries(body)) if (!GENERIC.includes(k)) details[k] = v;
  for (const k of ['username', 'password'])
    if (/\{\{(username|password)\}\}/.test(String(details[k] ?? '')))
      throw badRequest(
        'error creating database object: username and/or password cannot contain the template variables',
      );
  const verify = body.verify_connection;
  return {
    pluginName,
    pluginVersion: String(body.plugin_version ?? old?.pluginVersion ?? ''),
    verifyConnection: verify === undefined ? true : verify === true || verify === 'true',
    allowedRoles:
      body.allowed_roles !== undefined ? commaList(body.allowed_roles) : (old?.allowedRoles ?? []),
    rootRotationStatements:
      body.root_rotation_statements !== undefined
        ? statementList(body.root_rotation_statements)
        : (old?.rootRotationStatements ?? []),
    passwordPolicy: String(body.password_policy ?? old?.passwordPolicy ?? ''),
    details,
  };
}

/**
 * Go's url.Parse on `scheme://userinfo@host`: userinfo holding a character Go rejects (a
 * template's braces) makes it unparseable, which Vault treats as "no password in the URL".
 */
function userinfo(url: string): { user: string; password?: string; at: number } | undefined {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)@/.exec(url);
  if (!m || !/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(m[1])) return undefined;
  const colon = m[1].indexOf(':');
  const start = m[0].length - m[1].length - 1;
  return colon < 0
    ? { user: m[1], at: start }
    : { user: m[1].slice(0, colon), password: m[1].slice(colon + 1), at: start };
}

export const passwordInUrl = (url: string) => userinfo(url)?.password !== undefined;

/** url.Redacted(): the password becomes `xxxxx` */
function redacted(url: string): string {
  const info = userinfo(url);
  if (info?.password === undefined) return url;
  const from = info.at + info.user.length + 1;
  return `${url.slice(0, from)}xxxxx${url.slice(from + info.password.length)}`;
}

/** connectionReadHandler: secrets deleted from the details, the URL redacted */
export function configResponse(config: DbConfig): Record<string, unknown> {
  const details = { ...config.details };
  delete details.password;
  delete details.private_key;
  delete details.service_account_json;
  if (typeof details.connection_url === 'string')
    details.connection_url = redacted(details.connection_url);
  return {
    allowed_roles: config.allowedRoles,
    connection_details: details,
    password_policy: config.passwordPolicy,
    plugin_name: config.pluginName,
    plugin_version: config.pluginVersion,
    root_credentials_rotate_statements: config.rootRotationStatements,
    verify_connection: config.verifyConnection,
  };
}
