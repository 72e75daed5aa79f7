// What every project's jest.config.js shares: TypeScript and the ESM-only token libraries
// (jose, openid-client, oauth4webapi) compiled to CommonJS by swc, decorator metadata on;
// the @lpi/* aliases from tsconfig.base.json.
const { join } = require('node:path');
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
    join(__dirname, target),
  ]),
);

/** One project's jest config: its specs, co-located under its root. */
const project = (dir, displayName) => ({
  displayName,
  testEnvironment: 'node',
  rootDir: dir,
  testMatch: ['<rootDir>/**/*.spec.ts'],
  transform: { '^.+\\.ts$': swc('ts'), '^.+\\.m?js$': swc('js') },
  transformIgnorePatterns: ['/node_modules/(?!(jose|openid-client|oauth4webapi)/)'],
  moduleNameMapper,
  testTimeout: 60_000,
  // read when a project runs on its own (`nx test <project>`); the root config sets its own
  maxWorkers: 2,
});

module.exports = { project };
