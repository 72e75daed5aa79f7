// Runs INSIDE a compromised container (`docker exec <container> node -e <this file> <probes>`),
// as that container's user, with its files and its network: nothing is brought in but this
// script. Prints one JSON line: the observed outcome of each probe, never a file's content.
const fs = require('node:fs');
const net = require('node:net');
const dns = require('node:dns').promises;

const tcp = (host, port) =>
  new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 3000 });
    const done = (outcome) => (socket.destroy(), resolve(outcome));
    socket.once('connect', () => done('allowed: TCP connection accepted'));
    socket.once('timeout', () => done('denied: no route (connect timed out)'));
    socket.once('error', (e) =>
      done(
        e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
          ? 'denied: name does not resolve'
          : `denied: ${e.code}`,
      ),
    );
  });

async function probe(p) {
  if (p.kind === 'tcp') return tcp(p.host, p.port);
  if (p.kind === 'resolve')
    return dns.lookup(p.host).then(
      (a) => `allowed: resolves (${a.address})`,
      () => 'denied: name does not resolve',
    );
  if (p.kind === 'read')
    try {
      fs.readFileSync(p.path);
      return 'allowed: readable';
    } catch (e) {
      return `denied: ${e.code}`;
    }
  if (p.kind === 'http')
    return fetch(p.url, {
      method: p.method,
      headers: { 'content-type': 'application/json', ...(p.headers || {}) },
      body: p.body === undefined ? undefined : JSON.stringify(p.body),
      signal: AbortSignal.timeout(5000),
    }).then(
      (r) => `${r.ok ? 'allowed' : 'denied'}: HTTP ${r.status}`,
      (e) => `denied: ${(e.cause && e.cause.code) || e.name}`,
    );
  if (p.kind === 'unwrap') {
    let token;
    try {
      token = fs.readFileSync(p.path, 'utf8').trim();
    } catch (e) {
      return `denied: ${e.code}`;
    }
    return fetch(`${p.vault}/v1/sys/wrapping/unwrap`, {
      method: 'POST',
      headers: { 'x-vault-token': token },
      signal: AbortSignal.timeout(5000),
    }).then(
      (r) => `${r.ok ? 'allowed' : 'denied'}: HTTP ${r.status}`,
      (e) => `denied: ${(e.cause && e.cause.code) || e.name}`,
    );
  }
  if (p.kind === 'scan') {
    // every credential-like file anywhere on this container's filesystem
    const found = [];
    const skip = new Set([
      '/proc',
      '/sys',
      '/dev',
      '/app/node_modules',
      '/usr',
      '/lib',
      '/etc/ssl',
    ]);
    const walk = (dir, depth) => {
      if (depth > 12 || skip.has(dir)) return;
      let entries;
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const path = `${dir === '/' ? '' : dir}/${e.name}`;
        if (e.isDirectory()) walk(path, depth + 1);
        else if (/^(role-id|wrapped-secret-id|.*\.key|.*-token|users\.acl)$/.test(e.name))
          found.push(path);
      }
    };
    walk('/', 0);
    return found.sort().join(' ') || '(none)';
  }
  return `error: unknown probe ${p.kind}`;
}

(async () => {
  const probes = JSON.parse(process.argv[1]);
  const out = [];
  for (const p of probes) out.push(await probe(p));
  process.stdout.write(JSON.stringify(out) + '\n');
})();
