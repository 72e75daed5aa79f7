// One jest run over the whole workspace. TypeScript and the ESM-only token libraries
// (jose, openid-client, oauth4webapi) are compiled to CommonJS by swc.
const { compilerOptions } = require('./tsconfig.base.json');

const swc = (syntax) => [
  '@swc/jest',
  {
    jsc: {
      parser:
        syntax === 'ts' ? { syntax: 'typescript', decorators: true } : { syntax: 'ecmascript' },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, [target]]) => [
    `^${alias}$`,
    `<rootDir>/${target}`,
  ]),
);

module.exports = {
  testEnvironment: 'node',
  rootDir: __dirname,
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/tools'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.ts$': swc('ts'), '^.+\\.m?js$': swc('js') },
  transformIgnorePatterns: ['/node_modules/(?!(jose|openid-client|oauth4webapi)/)'],
  moduleNameMapper,
  testTimeout: 60_000,
  maxWorkers: 2,
};
