// Base images without a registry: stand-ins for the official Node, Redis and PostgreSQL images,
// made from Debian's packages (debootstrap) and this machine's own node, redis-server and
// PostgreSQL binaries, and tagged with the names the project's Dockerfile and compose file
// use. Built once per engine: an image that already exists is reused.
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run, succeeds } from './sh';

export const DEBIAN_BASE = 'lpi/debian-base:bookworm';
export const REDIS_IMAGE = 'redis:7';
/** The official image's name and the major version of this machine's PostgreSQL it stands for. */
export const POSTGRES_IMAGE = 'postgres:15';
const POSTGRES_MAJOR = '15';

const imageExists = (tag: string) => succeeds('docker', ['image', 'inspect', tag]);

/** The Node image the project's Dockerfile names (`ARG NODE_IMAGE=...`). */
export function nodeImageOf(dockerfile: string): string {
  const match = /^ARG NODE_IMAGE=(\S+)/m.exec(readFileSync(dockerfile, 'utf8'));
  if (!match?.[1]) throw new Error(`${dockerfile}: no ARG NODE_IMAGE=<image> default`);
  return match[1];
}

function withContext(build: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'lpi-image-'));
  try {
    build(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function debianBase(log: (line: string) => void) {
  if (imageExists(DEBIAN_BASE)) return log(`${DEBIAN_BASE}: present`);
  log(`${DEBIAN_BASE}: debootstrap --variant=minbase bookworm (Debian's packages, a few minutes)`);
  withContext((dir) => {
    run('debootstrap', ['--variant=minbase', 'bookworm', join(dir, 'rootfs')], { capture: true });
    run('sh', ['-c', `tar -C "${dir}/rootfs" -c . | docker import - ${DEBIAN_BASE}`]);
  });
}

/** The host's CA bundle: npm inside `docker build` reaches the registry only through it. */
function registryCaBundle(): string {
  const configured = run('npm', ['config', 'get', 'cafile'], {
    capture: true,
    quiet: true,
  }).stdout.trim();
  return configured && configured !== 'null' && configured !== 'undefined'
    ? configured
    : '/etc/ssl/certs/ca-certificates.crt';
}

function nodeImage(tag: string, log: (line: string) => void) {
  if (imageExists(tag)) return log(`${tag}: present`);
  log(`${tag}: ${DEBIAN_BASE} + this machine's node ${process.version} and npm`);
  withContext((dir) => {
    copyFileSync(process.execPath, join(dir, 'node'));
    const npmCli = realpathSync(
      run('sh', ['-c', 'command -v npm'], { capture: true, quiet: true }).stdout.trim(),
    );
    cpSync(join(dirname(npmCli), '..'), join(dir, 'npm'), { recursive: true });
    copyFileSync(registryCaBundle(), join(dir, 'registry-ca.crt'));
    writeFileSync(
      join(dir, 'Dockerfile'),
      [
        `FROM ${DEBIAN_BASE}`,
        'COPY node /usr/local/bin/node',
        'COPY npm /usr/local/lib/node_modules/npm',
        'COPY registry-ca.crt /usr/local/share/lpi/registry-ca.crt',
        'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm' +
          ' && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx' +
          ' && mkdir -p /usr/local/etc' +
          " && echo 'cafile=/usr/local/share/lpi/registry-ca.crt' > /usr/local/etc/npmrc" +
          ' && node --version && npm --version',
        'CMD ["node"]',
        '',
      ].join('\n'),
    );
    run('docker', ['build', '-q', '-t', tag, dir]);
  });
}

/** Copies each shared library `ldd` lists for the binaries into the image's root. */
function copyLibraries(rootfs: string, binaries: string[]) {
  for (const lib of new Set(binaries.flatMap(librariesOf))) {
    // Debian's /lib is a symlink to /usr/lib: copying a real /lib would replace it
    const target = join(rootfs, lib.replace(/^\/lib\//, '/usr/lib/'));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(realpathSync(lib), target);
  }
}

/** Shared libraries `ldd` lists for a binary, less glibc's own (the base has those). */
function librariesOf(binary: string): string[] {
  const glibc = /\/(libc|libm|libdl|libpthread|ld-linux-x86-64)\.so/;
  return run('ldd', [binary], { capture: true, quiet: true })
    .stdout.split('\n')
    .map((line) => /=> (\/\S+)/.exec(line)?.[1])
    .filter((path): path is string => !!path && !glibc.test(path));
}

function redisImage(log: (line: string) => void) {
  if (imageExists(REDIS_IMAGE)) return log(`${REDIS_IMAGE}: present`);
  log(`${REDIS_IMAGE}: ${DEBIAN_BASE} + this machine's redis-server and redis-cli (Debian's)`);
  withContext((dir) => {
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'usr/local/bin'), { recursive: true });
    for (const name of ['redis-server', 'redis-cli']) {
      const binary = realpathSync(
        run('sh', ['-c', `command -v ${name}`], { capture: true, quiet: true }).stdout.trim(),
      );
      copyFileSync(binary, join(rootfs, 'usr/local/bin', name));
      copyLibraries(rootfs, [binary]);
    }
    writeFileSync(
      join(dir, 'Dockerfile'),
      [
        `FROM ${DEBIAN_BASE}`,
        'COPY rootfs/ /',
        // the official image's user and data directory
        'RUN groupadd -r -g 999 redis && useradd -r -g redis -u 999 redis' +
          ' && mkdir /data && chown redis:redis /data && redis-server --version',
        'WORKDIR /data',
        'USER redis',
        'EXPOSE 6379',
        'CMD ["redis-server"]',
        '',
      ].join('\n'),
    );
    run('docker', ['build', '-q', '-t', REDIS_IMAGE, dir]);
  });
}

/**
 * `postgres:15` from this machine's PostgreSQL 15 (Debian's build: binaries, modules, share
 * directory and the libraries they link), with the official image's user (999), paths,
 * data directory and an entrypoint honouring the official image's environment contract
 * (postgres-entrypoint.sh). The JIT provider is left out: it would pull in LLVM.
 */
function postgresImage(log: (line: string) => void) {
  if (imageExists(POSTGRES_IMAGE)) return log(`${POSTGRES_IMAGE}: present`);
  const lib = `/usr/lib/postgresql/${POSTGRES_MAJOR}`;
  const share = `/usr/share/postgresql/${POSTGRES_MAJOR}`;
  log(`${POSTGRES_IMAGE}: ${DEBIAN_BASE} + this machine's ${lib} and ${share} (Debian's)`);
  withContext((dir) => {
    const rootfs = join(dir, 'rootfs');
    const jit = /^(llvmjit.*|bitcode)$/;
    cpSync(lib, join(rootfs, lib), {
      recursive: true,
      filter: (path) => !jit.test(path.split('/').pop() ?? ''),
    });
    cpSync(share, join(rootfs, share), { recursive: true });
    // Debian's build reads the system's time zone database
    cpSync('/usr/share/zoneinfo', join(rootfs, 'usr/share/zoneinfo'), { recursive: true });
    const modules = readdirSync(join(lib, 'lib'))
      .filter((f) => f.endsWith('.so') && !jit.test(f))
      .map((f) => join(lib, 'lib', f));
    const binaries = ['postgres', 'initdb', 'pg_ctl', 'psql', 'pg_isready'].map((b) =>
      join(lib, 'bin', b),
    );
    copyLibraries(rootfs, [...binaries, ...modules]);
    copyFileSync(join(__dirname, 'postgres-entrypoint.sh'), join(dir, 'docker-entrypoint.sh'));
    chmodSync(join(dir, 'docker-entrypoint.sh'), 0o755);
    writeFileSync(
      join(dir, 'Dockerfile'),
      [
        `FROM ${DEBIAN_BASE}`,
        'COPY rootfs/ /',
        'COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh',
        `ENV PATH=${lib}/bin:$PATH LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data`,
        // the official image's user, socket directory and data directory (a fresh named
        // volume mounted there takes its owner and mode)
        'RUN groupadd -r -g 999 postgres && useradd -r -g postgres -u 999 -d /var/lib/postgresql postgres' +
          ' && mkdir -p /var/run/postgresql /var/lib/postgresql/data' +
          ' && chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql' +
          ' && chmod 3777 /var/run/postgresql && chmod 1777 /var/lib/postgresql/data' +
          ' && postgres --version',
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'STOPSIGNAL SIGINT',
        'EXPOSE 5432',
        'CMD ["postgres"]',
        '',
      ].join('\n'),
    );
    run('docker', ['build', '-q', '-t', POSTGRES_IMAGE, dir]);
  });
}

export function ensureBaseImages(dockerfile: string, log: (line: string) => void): void {
  debianBase(log);
  nodeImage(nodeImageOf(dockerfile), log);
  redisImage(log);
  postgresImage(log);
}
