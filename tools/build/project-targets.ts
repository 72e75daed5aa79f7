// The one definition of every project's Nx targets (house style 12): apps get build (an
// esbuild bundle), serve, test and lint; libraries and tools get build (a type-check of the
// project on its own: libraries are bundled into apps from source, never published), test
// and lint. `node -r @swc-node/register tools/build/project-targets.ts` rewrites the
// project.json files from it; generate:service uses it for a new app; a spec checks drift.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Packages the bundles leave to node_modules: native add-ons (and what loads them). */
export const BUNDLE_EXTERNALS = ['msgpackr-extract'];

export type ProjectKind = 'app' | 'lib' | 'tools';

export interface ProjectJson {
  name: string;
  $schema: string;
  sourceRoot: string;
  projectType: 'application' | 'library';
  tags: string[];
  implicitDependencies?: string[];
  targets: Record<string, unknown>;
}

const test = (root: string) => ({
  executor: 'nx:run-commands',
  options: { command: `jest --config ${root}/jest.config.js --passWithNoTests --maxWorkers=2` },
});
const lint = (root: string) => ({
  executor: 'nx:run-commands',
  options: { command: `eslint ${root} --max-warnings=0` },
});
const typeCheck = (tsconfig: string) => ({
  executor: 'nx:run-commands',
  options: { command: `tsc -p ${tsconfig} --noEmit` },
});

export function appTargets(name: string, root = `apps/${name}`): Record<string, unknown> {
  return {
    build: {
      executor: '@nx/esbuild:esbuild',
      outputs: ['{options.outputPath}'],
      options: {
        main: `${root}/src/main.ts`,
        outputPath: `dist/${root}`,
        tsConfig: `${root}/tsconfig.app.json`,
        esbuildConfig: 'tools/build/esbuild.config.js',
        platform: 'node',
        target: 'node20',
        format: ['cjs'],
        bundle: true,
        thirdParty: true,
        external: BUNDLE_EXTERNALS,
        generatePackageJson: false,
        sourcemap: true,
      },
    },
    serve: {
      executor: '@nx/js:node',
      defaultConfiguration: 'development',
      options: { buildTarget: `${name}:build`, runtimeArgs: ['--enable-source-maps'] },
      configurations: { development: { inspect: false } },
    },
    test: test(root),
    lint: lint(root),
  };
}

export function libTargets(root: string): Record<string, unknown> {
  return { build: typeCheck(`${root}/tsconfig.lib.json`), test: test(root), lint: lint(root) };
}

export function toolsTargets(): Record<string, unknown> {
  return { build: typeCheck('tools/tsconfig.json'), test: test('tools'), lint: lint('tools') };
}

/** tsconfig.app.json / tsconfig.lib.json: the project's own code, no test types. */
export function projectTsconfig(root: string): string {
  const up = root
    .split('/')
    .map(() => '..')
    .join('/');
  return `${JSON.stringify(
    {
      extends: `${up}/tsconfig.base.json`,
      compilerOptions: { noEmit: true, types: ['node'] },
      // the libraries' ambient declarations (types for an untyped module path) come along
      include: ['src/**/*.ts', `${up}/libs/*/src/**/*.d.ts`],
      exclude: ['src/**/*.spec.ts', 'src/**/*.bench.ts', 'src/test/**'],
    },
    null,
    2,
  )}\n`;
}

/** A project's jest.config.js: the shared preset, rooted at the project. */
export function projectJestConfig(root: string, name: string): string {
  const up = root
    .split('/')
    .map(() => '..')
    .join('/');
  return `module.exports = require('${up}/jest.preset.js').project(__dirname, '${name}');\n`;
}

/** Every project's directory, its kind, and the files its targets need, from the tree. */
export function workspaceProjects(root: string): { dir: string; kind: ProjectKind }[] {
  const under = (group: string, kind: ProjectKind) =>
    readdirSync(join(root, group))
      .filter((n) => existsSync(join(root, group, n, 'project.json')))
      .map((n) => ({ dir: `${group}/${n}`, kind }));
  return [...under('apps', 'app'), ...under('libs', 'lib'), { dir: 'tools', kind: 'tools' }];
}

/** The targets a project's project.json should hold. */
export function expectedTargets(dir: string, kind: ProjectKind, name: string) {
  if (kind === 'app') return appTargets(name, dir);
  if (kind === 'lib') return libTargets(dir);
  return toolsTargets();
}

/** Rewrites every project.json's targets, and writes its tsconfig and jest config. */
export function syncProjects(root: string, log = console.log): void {
  const projects = workspaceProjects(root);
  for (const { dir, kind } of projects) {
    const file = join(root, dir, 'project.json');
    const project = JSON.parse(readFileSync(file, 'utf8')) as ProjectJson;
    project.targets = expectedTargets(dir, kind, project.name);
    if (kind === 'tools')
      // the tools start the apps as processes by path: no import tells Nx
      project.implicitDependencies = projects
        .filter((p) => p.kind === 'app')
        .map((p) => p.dir.split('/')[1]);
    writeFileSync(file, `${JSON.stringify(project, null, 2)}\n`);
    writeFileSync(join(root, dir, 'jest.config.js'), projectJestConfig(dir, project.name));
    if (kind !== 'tools')
      writeFileSync(
        join(root, dir, kind === 'app' ? 'tsconfig.app.json' : 'tsconfig.lib.json'),
        projectTsconfig(dir),
      );
    log(`wrote ${dir}/project.json`);
  }
}

if (require.main === module) syncProjects(join(__dirname, '..', '..'));
