// Lint = style + promise safety + architecture. The module-boundary rule is what keeps a
// compromised-by-design shortcut (a service importing another service, or reaching for
// an infrastructure SDK it does not own) from ever compiling into the tree.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const SDKS = [
  'bullmq',
  'ioredis',
  'openid-client',
  'oauth4webapi',
  'undici',
  'node-vault',
  'oidc-provider',
  'pg',
];
const allBut = (...owned) => SDKS.filter((s) => !owned.includes(s));

const depConstraints = [
  // type: what a project may build on
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:contract'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:contract'] },
  { sourceTag: 'type:contract', onlyDependOnLibsWithTags: ['type:contract'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:lib', 'type:contract'] },
  {
    sourceTag: 'type:tool',
    onlyDependOnLibsWithTags: ['type:lib', 'type:contract', 'type:testing'],
  },
  // scope: who may see whom (services never see each other or the sandbox)
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:payment', onlyDependOnLibsWithTags: ['scope:payment', 'scope:shared'] },
  { sourceTag: 'scope:refund', onlyDependOnLibsWithTags: ['scope:refund', 'scope:shared'] },
  { sourceTag: 'scope:reporting', onlyDependOnLibsWithTags: ['scope:reporting', 'scope:shared'] },
  { sourceTag: 'scope:webhook', onlyDependOnLibsWithTags: ['scope:webhook', 'scope:shared'] },
  { sourceTag: 'scope:sandbox', onlyDependOnLibsWithTags: ['scope:sandbox', 'scope:shared'] },
  { sourceTag: 'scope:vault-dev', onlyDependOnLibsWithTags: ['scope:vault-dev', 'scope:shared'] },
  { sourceTag: 'scope:tooling', onlyDependOnLibsWithTags: ['scope:shared'] },
  // only the library that owns an infrastructure SDK imports it
  { sourceTag: 'lib:access-matrix', bannedExternalImports: SDKS },
  { sourceTag: 'lib:service-bootstrap', bannedExternalImports: SDKS },
  {
    sourceTag: 'lib:auth',
    bannedExternalImports: allBut('openid-client', 'oauth4webapi', 'undici'),
  },
  { sourceTag: 'lib:secrets', bannedExternalImports: allBut('node-vault', 'undici') },
  { sourceTag: 'lib:messaging', bannedExternalImports: allBut('bullmq', 'ioredis') },
  { sourceTag: 'lib:database', bannedExternalImports: allBut('pg') },
  { sourceTag: 'lib:testing', bannedExternalImports: allBut('ioredis', 'pg') },
  { sourceTag: 'scope:payment', bannedExternalImports: SDKS },
  { sourceTag: 'scope:refund', bannedExternalImports: SDKS },
  { sourceTag: 'scope:reporting', bannedExternalImports: SDKS },
  { sourceTag: 'scope:webhook', bannedExternalImports: SDKS },
  { sourceTag: 'scope:sandbox', bannedExternalImports: allBut('oidc-provider') },
  // vault-dev's database secrets engine creates and drops real PostgreSQL users
  { sourceTag: 'scope:vault-dev', bannedExternalImports: allBut('pg') },
];

export default [
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/tmp/**',
      '**/coverage/**',
      '.nx/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  ...nx.configs['flat/base'],
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, allow: [], depConstraints },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read configuration once, in a *.config.ts file (house style rule 4).',
        },
      ],
    },
  },
  {
    // config files, tests and tools may read the environment
    files: ['**/*.config.ts', '**/*.spec.ts', 'tools/**/*.ts', 'libs/testing/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // tests may use the testing library and drive real SDKs directly (e.g. a raw Redis
    // connection to prove a NOPERM); production code may not.
    files: ['**/*.spec.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          depConstraints: depConstraints
            .filter((c) => !c.bannedExternalImports)
            .map((c) =>
              c.onlyDependOnLibsWithTags
                ? {
                    ...c,
                    onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:testing'],
                  }
                : c,
            ),
        },
      ],
    },
  },
  prettier,
];
