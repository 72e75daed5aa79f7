// esbuild settings shared by every app's `build` target (@nx/esbuild reads this file).
// esbuild strips TypeScript without emitting the `design:paramtypes` metadata Nest's
// injector reads, so every workspace .ts file goes through swc (decorator metadata on)
// first; node_modules JavaScript is bundled as is. Why, and what stays external: ADR 0019.
const { readFile } = require('node:fs/promises');
const { basename, dirname, join } = require('node:path');
const { transform } = require('@swc/core');
const { writeRuntimePackage } = require('./runtime-package');

/** Transpiles workspace TypeScript with swc so Nest's constructor injection keeps working. */
const swcDecoratorMetadata = {
  name: 'swc-decorator-metadata',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
      if (path.includes('/node_modules/')) return undefined;
      const source = await readFile(path, 'utf8');
      const out = await transform(source, {
        filename: path,
        sourceMaps: 'inline',
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
          keepClassNames: true,
        },
        module: { type: 'es6' },
      });
      return { contents: out.code, loader: 'js' };
    });
  },
};

/**
 * Nest's ConsoleLogger and Logger build an `Intl.DateTimeFormat` when their modules load.
 * That one object pages in about 6 MB of ICU locale data in every process, though the
 * services log through pino and never print a Nest timestamp. The build makes both lazy:
 * built on the first `format` call, same options, same output. A Nest release that changes
 * the line fails the build here instead of silently losing the saving (ADR 0033).
 */
const NEST_LOGGER_FILES = /@nestjs\/common\/services\/(console-logger|logger)\.service\.js$/;
const EAGER_FORMATTER = 'const dateTimeFormatter = new Intl.DateTimeFormat(undefined, {';
const lazyNestDateFormatter = {
  name: 'lazy-nest-date-formatter',
  setup(build) {
    build.onLoad({ filter: NEST_LOGGER_FILES }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      if (!source.includes(EAGER_FORMATTER))
        throw new Error(`${path}: Nest's eager Intl.DateTimeFormat line changed; see ADR 0033`);
      const lazy =
        'const dateTimeFormatter = ((options) => { let made; ' +
        'return { format: (date) => (made ??= new Intl.DateTimeFormat(undefined, options)).format(date) }; })({';
      return { contents: source.replace(EAGER_FORMATTER, lazy), loader: 'js' };
    });
  },
};

/**
 * Integrations Nest and @nestjs/terminus require() inside try/catch and this project does not
 * install: left as plain require() calls, they fail at run time exactly as they do today.
 */
const NOT_INSTALLED_OPTIONAL = [
  '@nestjs/microservices',
  '@nestjs/microservices/*',
  '@nestjs/websockets',
  '@nestjs/websockets/*',
  'class-transformer',
  'class-validator',
  '@mikro-orm/core',
  '@nestjs/mongoose',
  '@nestjs/typeorm/*',
  '@nestjs/sequelize/*',
];

/** After a build: package.json + lock holding only what the bundle left external. */
const runtimePackage = {
  name: 'runtime-package',
  setup(build) {
    build.onEnd((result) => {
      const { outfile, external = [], absWorkingDir } = build.initialOptions;
      if (result.errors.length || !outfile) return;
      const outDir = join(absWorkingDir ?? process.cwd(), dirname(outfile));
      writeRuntimePackage({
        workspaceRoot: join(__dirname, '..', '..'),
        outDir,
        name: basename(outDir),
        externals: external.filter((e) => !NOT_INSTALLED_OPTIONAL.includes(e)),
      });
    });
  },
};

module.exports = {
  plugins: [swcDecoratorMetadata, lazyNestDateFormatter, runtimePackage],
  external: NOT_INSTALLED_OPTIONAL,
  outExtension: { '.js': '.js' },
  // a smaller source string held in memory by every process; function and class names stay
  // (Nest logs them, stack traces read them), local names are shortened; source maps map back
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: true,
  keepNames: true,
  legalComments: 'none',
};
