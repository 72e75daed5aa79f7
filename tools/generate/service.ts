// `npm run generate:service -- <name>-service [--scopes s,...] [--new-scopes s,...]
// [--consumes q,...] [--produces q,...] [--purpose "..."] [--port 31xx]
// [--auth client_secret_basic|private_key_jwt]`: adds a service to every layer at once,
// following docs/adding-a-service.md. The access matrix gets the grant (and with it the Vault
// policy, the Redis ACL user, the provider client, the demo stack and the breach drill); the
// app, the lint boundary, the Kubernetes objects and the compose entry are copied from
// payment-service, the worked example. Narrow grants only: nothing is granted by default.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  PROVIDER_SCOPES,
  QUEUE_NAMES,
  SERVICE_NAMES,
  allGrants,
  consumersOf,
  type ProviderScope,
  type QueueName,
} from '@lpi/access-matrix';
import { appTargets, projectJestConfig, projectTsconfig } from '../build/project-targets';

export interface NewService {
  name: string;
  purpose: string;
  /** Scopes already known to the provider, and scopes this service introduces. */
  scopes: ProviderScope[];
  newScopes: string[];
  produces: QueueName[];
  consumes: QueueName[];
  port: number;
  /** client_secret_basic (the default) or private_key_jwt (no shared secret, ADR 0010). */
  auth: 'client_secret_basic' | 'private_key_jwt';
}

const TEMPLATE = 'payment-service';
const TEMPLATE_PORT = 3101;

export class GenerateError extends Error {}

/** Checks a request against the matrix as it stands; returns it with defaults filled in. */
export function validateNewService(input: {
  name: string;
  scopes?: string[];
  newScopes?: string[];
  produces?: string[];
  consumes?: string[];
  purpose?: string;
  port?: number;
  auth?: string;
}): NewService {
  const { name } = input;
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*-service$/.test(name))
    throw new GenerateError(`name "${name}" must be kebab-case and end in -service`);
  if ((SERVICE_NAMES as readonly string[]).includes(name))
    throw new GenerateError(`${name} already exists in the access matrix`);
  const scopes = input.scopes ?? [];
  const newScopes = input.newScopes ?? [];
  if (scopes.length + newScopes.length === 0)
    throw new GenerateError(
      `name its provider scopes: --scopes (known: ${PROVIDER_SCOPES.join(', ')}) or --new-scopes`,
    );
  for (const scope of scopes) {
    if (!(PROVIDER_SCOPES as readonly string[]).includes(scope))
      throw new GenerateError(
        `unknown scope "${scope}": one of ${PROVIDER_SCOPES.join(', ')}, or declare it with --new-scopes`,
      );
    const holder = allGrants().find((g) => (g.oauth.scopes as readonly string[]).includes(scope));
    if (holder)
      throw new GenerateError(
        `${scope} is held by ${holder.name}: the matrix grants each provider scope to one service`,
      );
  }
  for (const scope of newScopes)
    if (!/^[a-z]+:[a-z]+$/.test(scope) || (PROVIDER_SCOPES as readonly string[]).includes(scope))
      throw new GenerateError(`--new-scopes "${scope}" must be a new <resource>:<action> scope`);
  const queues = [...(input.produces ?? []), ...(input.consumes ?? [])];
  for (const q of queues)
    if (!(QUEUE_NAMES as readonly string[]).includes(q))
      throw new GenerateError(`unknown queue "${q}": one of ${QUEUE_NAMES.join(', ')}`);
  for (const q of input.consumes ?? []) {
    const owner = consumersOf(q as QueueName)[0];
    if (owner) throw new GenerateError(`queue "${q}" already has its one consumer: ${owner}`);
  }
  const auth = input.auth ?? 'client_secret_basic';
  if (auth !== 'client_secret_basic' && auth !== 'private_key_jwt')
    throw new GenerateError(`--auth must be client_secret_basic or private_key_jwt`);
  const used = allGrants().map((g) => g.http.port);
  const port = input.port ?? Math.max(...used) + 1;
  if (used.includes(port)) throw new GenerateError(`port ${port} is taken`);
  return {
    name,
    purpose: input.purpose ?? `TODO: what ${name} does, in one line`,
    scopes: scopes as ProviderScope[],
    newScopes,
    produces: (input.produces ?? []) as QueueName[],
    consumes: (input.consumes ?? []) as QueueName[],
    port,
    auth,
  };
}

const short = (s: NewService) => s.name.replace(/-service$/, '');
const pascal = (s: NewService) =>
  short(s)
    .split('-')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
const list = (xs: readonly string[]) => `[${xs.map((x) => `'${x}'`).join(', ')}]`;
/** payment-service's text, renamed and re-ported. */
const renamed = (text: string, s: NewService) =>
  text
    .replaceAll(TEMPLATE, s.name)
    .replace(new RegExp(`\\b${TEMPLATE_PORT}\\b`, 'g'), String(s.port));

function insertBefore(text: string, anchor: RegExp, insert: string, file: string): string {
  const m = anchor.exec(text);
  if (!m) throw new GenerateError(`${file}: cannot find where to insert (${anchor})`);
  return text.slice(0, m.index) + insert + text.slice(m.index);
}

/** Every file the new service adds or changes, as [path relative to root, new content]. */
export function planNewService(root: string, s: NewService): [string, string][] {
  const read = (p: string) => readFileSync(join(root, p), 'utf8');
  const out: [string, string][] = [];
  const routeScope = `${short(s)}:read`;

  // 1. the access matrix: the name, any new provider scope, and the grant
  const matrixPath = 'libs/access-matrix/src/access-matrix.ts';
  let matrix = read(matrixPath);
  for (const scope of s.newScopes)
    matrix = insertBefore(
      matrix,
      /\] as const;\nexport type ProviderScope/,
      `  '${scope}',\n`,
      matrixPath,
    );
  // its status route's own scope, granted to no caller until one is declared (default deny)
  const routeScopes = /ROUTE_SCOPES = \[([^\]]*)\] as const;/.exec(matrix)?.[1] ?? '';
  if (!routeScopes.includes(`'${routeScope}'`))
    matrix = insertBefore(
      matrix,
      /\] as const;\nexport type RouteScope/,
      `  '${routeScope}',\n`,
      matrixPath,
    );
  matrix = insertBefore(
    matrix,
    /\] as const;\nexport type ServiceName/,
    `  '${s.name}',\n`,
    matrixPath,
  );
  const grant = `  '${s.name}': {
    name: '${s.name}',
    purpose: '${s.purpose.replaceAll("'", "\\'")}',
    oauth: {
      scopes: ${list([...s.scopes, ...s.newScopes])},
      tokenEndpointAuthMethod: '${s.auth}',
      refreshTokens: false,
    },
    vault: { secretFields: ${s.auth === 'private_key_jwt' ? 'KEY_JWT_SECRET_FIELDS' : 'COMMON_SECRET_FIELDS'} },
    queues: { produces: ${list(s.produces)}, consumes: ${list(s.consumes)} },
    // its tables: add them to TABLE_NAMES and a migration, then grant them here
    database: { schema: '${s.name.replace(/-service$/, '').replace(/-/g, '_')}', tables: {} },
    http: {
      port: ${s.port},
      routes: [{ method: 'GET', path: '/${short(s)}/status', scope: '${routeScope}', callers: [] }],
      callers: ['edge'],
    },
  },
`;
  const matrixStart = matrix.indexOf('export const ACCESS_MATRIX');
  const matrixEnd = matrix.indexOf('\n};\n', matrixStart);
  if (matrixStart < 0 || matrixEnd < 0)
    throw new GenerateError(`${matrixPath}: cannot find the ACCESS_MATRIX object`);
  matrix = matrix.slice(0, matrixEnd + 1) + grant + matrix.slice(matrixEnd + 1);
  out.push([matrixPath, matrix]);

  // 2. the app: project with its own scope tag and the targets every app has, main.ts, one module
  const app = `apps/${s.name}`;
  const tag = `scope:${short(s)}`;
  out.push([
    `${app}/project.json`,
    `${JSON.stringify(
      {
        name: s.name,
        $schema: '../../node_modules/nx/schemas/project-schema.json',
        sourceRoot: `${app}/src`,
        projectType: 'application',
        tags: [tag, 'type:app'],
        targets: appTargets(s.name, app),
      },
      null,
      2,
    )}\n`,
  ]);
  out.push([`${app}/tsconfig.app.json`, projectTsconfig(app)]);
  out.push([`${app}/jest.config.js`, projectJestConfig(app, s.name)]);
  const moduleName = `${pascal(s)}Module`;
  const moduleFile = `${short(s)}.module`;
  out.push([
    `${app}/src/main.ts`,
    `import 'reflect-metadata';
import { startIntegrationService } from '@lpi/integration-runtime';
import { runMain } from '@lpi/service-bootstrap';
import { AppModule, SERVICE } from './app.module';

runMain(SERVICE, () => startIntegrationService(SERVICE, AppModule));
`,
  ]);
  out.push([
    `${app}/src/app.module.ts`,
    `import { Module } from '@nestjs/common';
import { IntegrationRuntimeModule } from '@lpi/integration-runtime';
import { ${moduleName} } from './${moduleFile}';

export const SERVICE = '${s.name}';

@Module({
  imports: [IntegrationRuntimeModule.forService(SERVICE), ${moduleName}],
})
export class AppModule {}
`,
  ]);
  const consumers = s.consumes
    .map(
      (q) => `    this.consumers.register('${q}', async (envelope) => {
      // handle the event here; throw PermanentJobError for what must not be retried
      this.handled.set(envelope.id, envelope.type);
    });`,
    )
    .join('\n');
  out.push([
    `${app}/src/${moduleFile}.ts`,
    `import { Controller, Get, Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
${consumers ? "import { Consumers } from '@lpi/integration-runtime';\n" : ''}
// Generated by \`npm run generate:service\`. IntegrationRuntimeModule has already logged in to
// Vault, loaded this service's credentials and opened its queues as its own Redis user.
// Inject only what you use: \`ProviderClient\` (@lpi/auth; scopes: ${[...s.scopes, ...s.newScopes].join(', ')}),
// a producer (\`@Inject(producerToken(queue))\`), \`Consumers\`. apps/payment-service is the worked example.
@Injectable()
class ${pascal(s)}Service implements OnModuleInit {
  readonly handled = new Map<string, string>();

${
  consumers
    ? `  constructor(@Inject(Consumers) private readonly consumers: Consumers) {}

  onModuleInit(): void {
${consumers}
  }`
    : `  onModuleInit(): void {
    // consume the queues the matrix grants this service here (inject Consumers; every one needs a handler)
  }`
}
}

@Controller('${short(s)}')
class ${pascal(s)}Controller {
  constructor(@Inject(${pascal(s)}Service) private readonly service: ${pascal(s)}Service) {}

  @Get('status')
  status() {
    return { service: '${s.name}', handled: this.service.handled.size };
  }
}

@Module({ controllers: [${pascal(s)}Controller], providers: [${pascal(s)}Service] })
export class ${moduleName} {}
`,
  ]);

  // 2b. its HTTP contract: what its status route answers (the API description's source, ADR 0024)
  const contractsPath = 'libs/integration-runtime/src/http-contracts.ts';
  const contracts = read(contractsPath);
  const contractsStart = contracts.indexOf('export const HTTP_CONTRACTS');
  const contractsEnd = contracts.indexOf('\n};\n', contractsStart);
  if (contractsStart < 0 || contractsEnd < 0)
    throw new GenerateError(`${contractsPath}: cannot find the HTTP_CONTRACTS object`);
  const contract = `  '${s.name}': {
    'GET /${short(s)}/status': {
      summary: 'What ${s.name} has handled',
      success: {
        status: 200,
        description: 'the count of events handled',
        body: {
          name: '${pascal(s)}Status',
          schema: z.strictObject({
            service: z.literal('${s.name}'),
            handled: z.number().int().nonnegative(),
          }),
        },
      },
      errors: {},
    },
  },
`;
  out.push([
    contractsPath,
    contracts.slice(0, contractsEnd + 1) + contract + contracts.slice(contractsEnd + 1),
  ]);

  // 3. the module boundary: the new scope sees only itself and shared libraries, and no SDK
  const eslintPath = 'eslint.config.mjs';
  let eslint = read(eslintPath);
  eslint = insertBefore(
    eslint,
    /\n {2}\{ sourceTag: 'scope:sandbox', onlyDependOnLibsWithTags/,
    `\n  { sourceTag: '${tag}', onlyDependOnLibsWithTags: ['${tag}', 'scope:shared'] },`,
    eslintPath,
  );
  eslint = insertBefore(
    eslint,
    /\n {2}\{ sourceTag: 'scope:refund', bannedExternalImports: SDKS \},/,
    `\n  { sourceTag: '${tag}', bannedExternalImports: SDKS },`,
    eslintPath,
  );
  out.push([eslintPath, eslint]);

  // 4. Kubernetes: Deployment/Service/ServiceAccount/PDB, NetworkPolicy, image entries
  const k8s = 'deploy/k8s';
  out.push([`${k8s}/base/${s.name}.yaml`, renamed(read(`${k8s}/base/${TEMPLATE}.yaml`), s)]);
  const kustomization = read(`${k8s}/base/kustomization.yaml`);
  out.push([`${k8s}/base/kustomization.yaml`, `${kustomization.trimEnd()}\n  - ${s.name}.yaml\n`]);
  const policiesPath = `${k8s}/components/network-policies/network-policies.yaml`;
  const policies = read(policiesPath);
  const templatePolicy = policies
    .split('\n---\n')
    .find((doc) => doc.includes(`kind: NetworkPolicy\nmetadata:\n  name: ${TEMPLATE}\n`));
  if (!templatePolicy) throw new GenerateError(`${policiesPath}: no NetworkPolicy for ${TEMPLATE}`);
  out.push([policiesPath, `${policies.trimEnd()}\n---\n${renamed(templatePolicy, s).trimEnd()}\n`]);
  // Vault roles need nothing here: tools/bootstrap/vault-kubernetes.ts reads the matrix.
  for (const overlay of ['production', 'local']) {
    const path = `${k8s}/overlays/${overlay}/kustomization.yaml`;
    const text = read(path);
    const imageLine = /( {2}- \{ name: lpi\/payment-service, .*\}\n)/.exec(text);
    if (!imageLine) throw new GenerateError(`${path}: no image entry for ${TEMPLATE}`);
    out.push([path, text.replace(imageLine[1], `${imageLine[1]}${renamed(imageLine[1], s)}`)]);
  }

  // 5. docker-compose.yml: payment-service's entry, renamed, before the top-level networks
  const compose = read('docker-compose.yml');
  const start = compose.indexOf(`\n  ${TEMPLATE}:\n`);
  const end = compose.slice(start + 1).search(/\n {2}[a-z][\w-]*:\n|\n[a-z]/) + start + 1;
  if (start < 0 || end <= start)
    throw new GenerateError(`docker-compose.yml: no entry for ${TEMPLATE}`);
  const entry = renamed(compose.slice(start, end), s).trimEnd();
  const peers = withComposePeer(compose.slice(0, start), s) + compose.slice(start, end);
  const rest = withComposePeer(compose.slice(end), s);
  out.push([
    'docker-compose.yml',
    insertBefore(`${peers}${rest}`, /\nnetworks:\n/, `${entry}\n`, 'docker-compose.yml'),
  ]);
  return out;
}

/**
 * Outside payment-service's own entry, every line naming it gets a renamed twin (its network
 * zone and edge, identity volume, the volume-init and bootstrap mounts), and a one-line list
 * of zones (Redis, Vault, the sandbox) gains the new service's zone.
 */
const withComposePeer = (text: string, s: NewService) =>
  text
    .split('\n')
    .flatMap((line) =>
      !line.includes(TEMPLATE)
        ? [line]
        : /\[.*\]/.test(line)
          ? [line.replace(/\]/, `, ${s.name}-zone]`)]
          : [line, renamed(line, s)],
    )
    .join('\n');

function parseArgs(argv: string[]) {
  const [name, ...rest] = argv;
  const flags: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i];
    if (!key?.startsWith('--') || rest[i + 1] === undefined)
      throw new GenerateError(`expected --flag value pairs after the name, got "${key}"`);
    flags[key.slice(2)] = rest[i + 1];
  }
  const split = (v?: string) =>
    v
      ? v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : undefined;
  const known = ['scopes', 'new-scopes', 'produces', 'consumes', 'purpose', 'port', 'auth'];
  for (const k of Object.keys(flags))
    if (!known.includes(k)) throw new GenerateError(`unknown flag --${k}`);
  return validateNewService({
    name: name ?? '',
    scopes: split(flags.scopes),
    newScopes: split(flags['new-scopes']),
    produces: split(flags.produces),
    consumes: split(flags.consumes),
    purpose: flags.purpose,
    port: flags.port ? Number(flags.port) : undefined,
    auth: flags.auth,
  });
}

/** Writes the plan, then the generated artefacts that are rendered from the matrix. */
export function generateService(root: string, argv: string[], log = console.log): NewService {
  const s = parseArgs(argv);
  if (existsSync(join(root, 'apps', s.name)))
    throw new GenerateError(`apps/${s.name} already exists`);
  const plan = planNewService(root, s);
  for (const [path, content] of plan) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
    log(`wrote ${path}`);
  }
  // the Vault policy and the API description are rendered from what was just written, in
  // fresh processes
  for (const generator of ['tools/generate/generate.ts', 'tools/generate/openapi.ts'])
    execFileSync(process.execPath, ['-r', '@swc-node/register', generator], {
      cwd: root,
      stdio: 'inherit',
    });
  execFileSync(
    process.execPath,
    [
      require.resolve('prettier/bin/prettier.cjs'),
      '--write',
      '--log-level',
      'warn',
      ...plan.map(([p]) => p),
    ],
    { cwd: root, stdio: 'inherit' },
  );
  log(`
${s.name} is in every layer. Next:
  - write its handlers in apps/${s.name}/src/${short(s)}.module.ts and list its routes in the matrix
    (a handler not in the matrix stops the service at start-up), each with its contract in
    libs/integration-runtime/src/http-contracts.ts; then \`npm run api:generate\`;
  - name the callers of each route in the matrix (none yet: every route answers 401/403), then
    run \`npm run policies:generate\` and the bootstrap;
  - network zones other than the edge: the matrix's http.callers and its NetworkPolicy;
  - docs/configuration.md (its table) and docs/architecture.md (its row);
  - npm test, then npm run drill: its grants allowed, every other grant denied.`);
  return s;
}

if (require.main === module) {
  try {
    generateService(join(__dirname, '..', '..'), process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof GenerateError)) throw err;
    console.error(`generate:service: ${err.message}`);
    process.exit(2);
  }
}
