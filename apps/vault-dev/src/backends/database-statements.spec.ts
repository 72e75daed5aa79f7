import {
  containsMultilineStatement,
  expirationString,
  generateUsername,
  globMatch,
  queriesOf,
  splitStatement,
  statementList,
} from './database-statements';

describe('database statements (the PostgreSQL plugin and dbtxn rules)', () => {
  it('splits on semicolons unless the statement holds END outside quotes', () => {
    expect(splitStatement(' A; B ;; C')).toEqual(['A', 'B', 'C']);
    expect(splitStatement(Buffer.from('A;B').toString('base64'))).toEqual(['A', 'B']);
    expect(splitStatement('["A", "B;C"]')).toEqual(['A', 'B;C']);
    const block = 'DO $$ BEGIN CREATE ROLE x; END $$;';
    expect(containsMultilineStatement(block)).toBe(true);
    expect(containsMultilineStatement(`SELECT 'END'; SELECT "end"`)).toBe(false);
    expect(queriesOf([block], {})).toEqual([block]);
  });

  it('substitutes by plain text replacement, every occurrence, no quoting', () => {
    expect(
      queriesOf([`CREATE ROLE "{{name}}" PASSWORD '{{password}}'; GRANT g TO "{{username}}"`], {
        name: 'u',
        username: 'u',
        password: "p'q",
      }),
    ).toEqual([`CREATE ROLE "u" PASSWORD 'p'q'`, 'GRANT g TO "u"']);
  });

  it('keeps statements as Vault stores them: a string is one element', () => {
    expect(statementList('A; B')).toEqual(['A; B']);
    expect(statementList(['A', '', ' '])).toEqual(['A']);
    expect(statementList(undefined)).toEqual([]);
  });

  it('formats the expiration in Go layout and builds default usernames', () => {
    expect(expirationString(Date.UTC(2026, 4, 1, 12, 0, 5))).toBe('2026-05-01 12:00:05+0000');
    const name = generateUsername(
      'kubernetes-payments-payment-service',
      'payment-service',
      1767225600000,
    );
    expect(name).toMatch(/^v-kubernet-payment--[A-Za-z0-9]{20}-1767225600$/);
    expect(generateUsername('x'.repeat(80), 'y'.repeat(80), 0).length).toBeLessThanOrEqual(63);
  });

  it('matches allowed_roles globs', () => {
    expect(globMatch(['svc', 'other*'], 'other-x')).toBe(true);
    expect(globMatch(['svc'], 'svc2')).toBe(false);
    expect(globMatch(['a*c'], 'abbc')).toBe(true);
  });
});
