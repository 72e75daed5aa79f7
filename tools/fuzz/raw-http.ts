import { connect as tcp, type Socket } from 'node:net';
import { connect as tls } from 'node:tls';

/** Where an edge listens; `ca` makes it HTTPS (no client certificate: an outsider). */
export interface Target {
  port: number;
  ca?: string;
}

export type RawResult =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string }
  | { kind: 'closed' }
  | { kind: 'timeout' };

const open = (target: Target): Socket =>
  target.ca
    ? tls({ host: '127.0.0.1', port: target.port, ca: target.ca, servername: 'localhost' })
    : tcp({ host: '127.0.0.1', port: target.port });

/** De-chunks a chunked body; garbage yields what could be read. */
function dechunk(raw: string): string {
  let out = '';
  let rest = raw;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

function parse(raw: Buffer): RawResult {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return { kind: 'closed' };
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const rawBody = Buffer.from(text.slice(end + 4), 'latin1').toString('utf8');
  const body = /chunked/i.test(headers['transfer-encoding'] ?? '') ? dechunk(rawBody) : rawBody;
  return { kind: 'response', status: Number(statusLine.split(' ')[1]), headers, body };
}

/**
 * Sends raw bytes (any framing, however broken) and reads until the server closes: every
 * request carries `Connection: close`, so a complete answer ends the connection.
 */
export function rawRequest(target: Target, bytes: Buffer, timeoutMs = 8000): Promise<RawResult> {
  return new Promise((resolve) => {
    const sock = open(target);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (r: RawResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () =>
      finish(chunks.length ? parse(Buffer.concat(chunks)) : { kind: 'closed' }),
    );
    sock.on('end', () => finish(parse(Buffer.concat(chunks))));
    sock.on('close', () => finish(parse(Buffer.concat(chunks))));
    sock.write(bytes);
  });
}

/**
 * Declares a body far over any limit and streams up to `streamBytes` of it while the server
 * keeps reading, then gives up: an edge that bounds what it reads answers (413) or closes
 * early; one that reads on buffers it all. Resolves with the answer (if any) and the bytes
 * the server took.
 */
export function streamOversized(
  target: Target,
  head: string,
  streamBytes: number,
  stallMs = 1500,
): Promise<{ result: RawResult; sent: number }> {
  return new Promise((resolve) => {
    const sock = open(target);
    const chunks: Buffer[] = [];
    const block = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    let done = false;
    let stall: NodeJS.Timeout | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(stall);
      sock.destroy();
      resolve({ result: parse(Buffer.concat(chunks)), sent });
    };
    const pump = () => {
      clearTimeout(stall);
      while (!done && sent < streamBytes) {
        sent += block.length;
        if (!sock.write(block)) {
          // the server stopped reading: if it stays so, it is not reading the body
          stall = setTimeout(finish, stallMs);
          return;
        }
      }
      if (!done) stall = setTimeout(finish, stallMs);
    };
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('drain', pump);
    sock.on('error', finish);
    sock.on('close', finish);
    sock.write(head, pump);
  });
}
