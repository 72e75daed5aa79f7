import { Acl, parsePolicy, PolicyParseError } from './policy';

// Expectations ported from Vault's vault/acl_test.go (testACLSingle, TestACL_Layered,
// TestACL_SegmentWildcardPriority), as listed in ../shared/reference/vault.md §3.5.
const aclPolicy = `
path "test/+/segment" { capabilities = ["read"] }
path "+/segment/at/front" { capabilities = ["read"] }
path "test/segment/at/end/+" { capabilities = ["read"] }
path "test/segment/at/end/v2/+/" { capabilities = ["read"] }
path "test/+/wildcard/+/*" { capabilities = ["read"] }
path "test/+/wildcard/+/end*" { capabilities = ["read"] }
path "1/2/*" { capabilities = ["create"] }
path "1/2/+" { capabilities = ["read"] }
path "1/2/+/+" { capabilities = ["update"] }
`;

describe('ACL evaluation (ported from Vault)', () => {
  const acl = new Acl([parsePolicy(aclPolicy)]);
  it.each([
    ['read', 'test/foo/bar/segment', false],
    ['read', 'test/foo/segment', true],
    ['read', 'test/segment/at/frond', false],
    ['read', 'test/segment/at/front', true],
    ['read', 'test/segment/at/end/foo', true],
    ['read', 'test/segment/at/end/foo/', false],
    ['read', 'test/segment/at/end/v2/foo/', true],
    ['read', 'test/segment/wildcard/at/foo/', true],
    ['read', 'test/segment/wildcard/at/end', true],
    ['read', '1/2/3/4', false],
    ['read', '1/2/3', true],
    ['update', '1/2/3', false],
    ['update', '1/2/3/4', true],
    ['create', '1/2/3/4/5', true],
  ] as const)('%s %s -> %s', (op, path, allowed) => {
    expect(acl.allows(path, op)).toBe(allowed);
  });

  it.each([
    ['+/*', '*', 'foo/bar/bar/baz'],
    ['+/*', 'foo/+/*', 'foo/bar/bar/baz'],
    ['foo/+/+/*', 'foo/+/bar/baz', 'foo/bar/bar/baz'],
    ['foo/+/+/baz', 'foo/+/bar/baz', 'foo/bar/bar/baz'],
    ['foo/+/(ar/baz', 'foo/(ar/+/baz', 'foo/(ar/(ar/baz'],
    ['foo/bar/+/baz*', 'foo/bar/+/baz', 'foo/bar/bar/baz'],
    ['foo/bar/+/b*', 'foo/bar/+/ba*', 'foo/bar/bar/baz'],
  ])('segment priority: %s loses to %s on %s', (low, high, path) => {
    const acl2 = new Acl([
      parsePolicy(
        `path "${low}" { capabilities = ["read"] }\npath "${high}" { capabilities = ["update"] }`,
      ),
    ]);
    expect(acl2.allows(path, 'update')).toBe(true);
    expect(acl2.allows(path, 'read')).toBe(false);
  });

  it('layers policies like TestACL_Layered: most specific wins, deny wins only on the same path', () => {
    const layered = new Acl([
      parsePolicy(
        'path "sys/*" { capabilities = ["deny"] }\npath "dev/*" { capabilities = ["sudo", "read"] }\npath "foo/bar" { capabilities = ["read"] }',
      ),
      parsePolicy(
        'path "sys/seal" { capabilities = ["sudo", "update"] }\npath "dev/hide/*" { capabilities = ["deny"] }\npath "foo/bar" { capabilities = ["deny"] }',
      ),
    ]);
    expect(layered.allows('sys/seal', 'update', true)).toBe(true);
    expect(layered.allows('sys/status', 'read')).toBe(false);
    expect(layered.allows('dev/hide/foo', 'read')).toBe(false);
    expect(layered.allows('dev/foo', 'read')).toBe(true);
    expect(layered.allows('foo/bar', 'read')).toBe(false);
    expect(layered.capabilities('foo/bar')).toEqual(['deny']);
  });

  it('rejects malformed policies', () => {
    expect(() => parsePolicy('path "x" { capabilities = ["fly"] }')).toThrow(PolicyParseError);
    expect(() => parsePolicy('path "x/+*" { capabilities = ["read"] }')).toThrow(PolicyParseError);
    expect(() => parsePolicy('garbage')).toThrow(PolicyParseError);
  });
});
