/**
 * Vault ACL policies: the HCL subset Vault policies use, and Vault's evaluation rules
 * (vault/policy.go parsePaths, vault/acl.go NewACL + AllowOperation):
 * exact rules first; otherwise the highest-priority of the longest matching `*` prefix rule
 * and every matching `+` rule; same rule string across policies merges by union, deny wins.
 */
export const CAPABILITIES = [
  'create',
  'read',
  'update',
  'patch',
  'delete',
  'list',
  'sudo',
  'deny',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface PathRule {
  path: string;
  capabilities: Set<Capability>;
}

export class PolicyParseError extends Error {}

/** Parses `path "..." { capabilities = [...] }` blocks; comments allowed. */
export function parsePolicy(hcl: string): PathRule[] {
  const text = hcl.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)(#|\/\/).*$/gm, '$1');
  const rules: PathRule[] = [];
  const block = /path\s+"([^"]*)"\s*\{([^{}]*)\}/g;
  let consumed = '';
  for (let m = block.exec(text); m; m = block.exec(text)) {
    consumed += m[0];
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(m[2]);
    if (!caps) throw new PolicyParseError(`path "${m[1]}": missing capabilities`);
    const list = [...caps[1].matchAll(/"([^"]*)"/g)].map((x) => x[1]);
    for (const c of list) {
      if (!(CAPABILITIES as readonly string[]).includes(c))
        throw new PolicyParseError(`path "${m[1]}": invalid capability "${c}"`);
    }
    const path = m[1].replace(/^\//, '');
    if (path.includes('+*')) throw new PolicyParseError(`path "${m[1]}": "+*" is not allowed`);
    rules.push({ path, capabilities: new Set(list as Capability[]) });
  }
  const leftover = text.replace(/path\s+"([^"]*)"\s*\{([^{}]*)\}/g, '').trim();
  if (leftover) throw new PolicyParseError(`unexpected content: ${leftover.slice(0, 40)}`);
  if (!consumed && text.trim()) throw new PolicyParseError('no path blocks');
  return rules;
}

interface Rule {
  path: string;
  caps: Set<Capability>;
  kind: 'exact' | 'prefix' | 'segment';
  prefix: boolean; // ends in *
}

function kindOf(path: string): Rule['kind'] {
  if (path.split('/').includes('+')) return 'segment';
  return path.endsWith('*') ? 'prefix' : 'exact';
}

function segmentMatch(rule: string, path: string): boolean {
  const glob = rule.endsWith('*');
  const ruleSegs = (glob ? rule.slice(0, -1) : rule).split('/');
  const segs = path.split('/');
  if (!glob && segs.length !== ruleSegs.length) return false;
  if (glob && segs.length < ruleSegs.length) return false;
  for (let i = 0; i < ruleSegs.length; i += 1) {
    const r = ruleSegs[i];
    const last = i === ruleSegs.length - 1;
    if (r === '+') continue;
    if (glob && last) {
      // the final partial segment is prefix-matched and may swallow the rest
      return segs.slice(i).join('/').startsWith(r);
    }
    if (r !== segs[i]) return false;
  }
  return true;
}

/** Vault's 5-step priority: true when a is LOWER priority than b. */
function lowerPriority(a: Rule, b: Rule): boolean {
  const firstWild = (r: Rule) => {
    const plus = r.path.split('/').indexOf('+');
    const plusPos =
      plus < 0 ? Infinity : r.path.split('/').slice(0, plus).join('/').length + (plus > 0 ? 1 : 0);
    const starPos = r.prefix ? r.path.length - 1 : Infinity;
    return Math.min(plusPos, starPos);
  };
  const fa = firstWild(a);
  const fb = firstWild(b);
  if (fa !== fb) return fa < fb;
  if (a.prefix !== b.prefix) return a.prefix;
  const pa = a.path.split('/').filter((s) => s === '+').length;
  const pb = b.path.split('/').filter((s) => s === '+').length;
  if (pa !== pb) return pa > pb;
  if (a.path.length !== b.path.length) return a.path.length < b.path.length;
  return a.path < b.path;
}

/** The merged ACL of a token's policies. */
export class Acl {
  private readonly rules = new Map<string, Rule>();

  constructor(policies: PathRule[][]) {
    for (const policy of policies) {
      for (const r of policy) {
        const existing = this.rules.get(r.path);
        const caps = new Set<Capability>([...(existing?.caps ?? []), ...r.capabilities]);
        this.rules.set(r.path, {
          path: r.path,
          caps,
          kind: kindOf(r.path),
          prefix: r.path.endsWith('*'),
        });
      }
    }
  }

  /** The single rule that governs a path, or undefined (implicit deny). */
  ruleFor(path: string, list = false): Rule | undefined {
    const p = path.replace(/^\//, '');
    const exact = this.rules.get(p);
    if (exact && exact.kind === 'exact') return exact;
    if (list && p.endsWith('/')) {
      const fallback = this.rules.get(p.slice(0, -1));
      if (fallback && fallback.kind === 'exact') return fallback;
    }
    let best: Rule | undefined;
    let longestPrefix: Rule | undefined;
    for (const r of this.rules.values()) {
      if (r.kind === 'prefix' && p.startsWith(r.path.slice(0, -1))) {
        if (!longestPrefix || r.path.length > longestPrefix.path.length) longestPrefix = r;
      }
    }
    const candidates = [...this.rules.values()].filter(
      (r) => r.kind === 'segment' && segmentMatch(r.path, p),
    );
    if (longestPrefix) candidates.push(longestPrefix);
    for (const c of candidates) if (!best || lowerPriority(best, c)) best = c;
    return best;
  }

  capabilities(path: string): Capability[] {
    const rule = this.ruleFor(path);
    if (!rule || rule.caps.has('deny')) return ['deny'];
    return [...rule.caps].sort();
  }

  allows(
    path: string,
    op: 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list',
    sudo = false,
  ): boolean {
    const rule = this.ruleFor(path, op === 'list');
    if (!rule || rule.caps.has('deny')) return false;
    if (sudo && !rule.caps.has('sudo')) return false;
    return rule.caps.has(op);
  }
}

/** Vault's built-in `default` policy (the parts a service token uses). */
export const DEFAULT_POLICY = `
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }
path "sys/renew" { capabilities = ["update"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/lookup" { capabilities = ["update"] }
path "cubbyhole/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "sys/wrapping/wrap" { capabilities = ["update"] }
path "sys/wrapping/lookup" { capabilities = ["update"] }
path "sys/wrapping/unwrap" { capabilities = ["update"] }
path "sys/tools/hash" { capabilities = ["update"] }
path "sys/tools/hash/*" { capabilities = ["update"] }
path "sys/internal/ui/resultant-acl" { capabilities = ["read"] }
`;
