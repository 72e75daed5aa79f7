import { randomInt } from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** sdk/helper/base62.Random */
export function base62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i += 1) out += BASE62[randomInt(BASE62.length)];
  return out;
}

/**
 * The default password policy (sdk/helper/random DefaultStringGenerator): 20 characters of
 * [A-Za-z0-9-], at least one upper, one lower, one digit and one dash.
 */
export function generatePassword(): string {
  const charset = `${BASE62}-`;
  for (;;) {
    let p = '';
    for (let i = 0; i < 20; i += 1) p += charset[randomInt(charset.length)];
    if (/[A-Z]/.test(p) && /[a-z]/.test(p) && /[0-9]/.test(p) && p.includes('-')) return p;
  }
}

/**
 * The PostgreSQL plugin's default username template:
 * `v-{{.DisplayName | truncate 8}}-{{.RoleName | truncate 8}}-{{random 20}}-{{unix_time}}`,
 * truncated to 63 (PostgreSQL's identifier limit).
 */
export function generateUsername(displayName: string, role: string, nowMs: number): string {
  const name = `v-${displayName.slice(0, 8)}-${role.slice(0, 8)}-${base62(20)}-${Math.floor(nowMs / 1000)}`;
  return name.slice(0, 63);
}

/** Go layout `2006-01-02 15:04:05-0700`, in UTC */
export function expirationString(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}+0000`;
}

/**
 * A statements field as Vault stores it (framework.TypeStringSlice): a JSON array as is, a
 * string as one element (split only when run); empty entries dropped.
 */
export function statementList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v.map(String) : [String(v)];
  return list.filter((s) => s.trim() !== '');
}

/** postgresql.go containsMultilineStatement: the word END outside quotes */
export function containsMultilineStatement(stmt: string): boolean {
  const withoutLiterals = stmt.replace(/'[^']*'|"[^"]*"/g, '');
  return withoutLiterals.split(/\s+/).some((w) => w.toUpperCase() === 'END');
}

/**
 * strutil.ParseArbitraryStringSlice: base64 is decoded, a JSON array is taken as is,
 * otherwise the text is split on `;`; pieces trimmed, empties dropped.
 */
export function splitStatement(stmt: string): string[] {
  let text = stmt;
  if (text.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(text))
    text = Buffer.from(text, 'base64').toString('utf8');
  if (text.trim().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed.map((s) => String(s).trim()).filter(Boolean);
    } catch {
      // not JSON: split as text, like Vault
    }
  }
  return text
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The queries one transaction runs for a list of statements (NewUser, customDeleteUser). */
export function queriesOf(statements: string[], vars: Record<string, string>): string[] {
  const out: string[] = [];
  for (const stmt of statements) {
    const pieces = containsMultilineStatement(stmt) ? [stmt] : splitStatement(stmt);
    for (const q of pieces) out.push(substitute(q, vars));
  }
  return out;
}

/** dbtxn: plain string replacement of `{{key}}`, no quoting */
export function substitute(query: string, vars: Record<string, string>): string {
  let q = query;
  for (const [k, v] of Object.entries(vars)) q = q.split(`{{${k}}}`).join(v);
  return q;
}

/** strutil.StrListContainsGlob: `*` matches any run of characters */
export function globMatch(patterns: string[], name: string): boolean {
  return patterns.some((p) => {
    const re = new RegExp(
      `^${p
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    return re.test(name);
  });
}

/** pq.QuoteIdentifier */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
