import type { IncomingMessage } from 'node:http';
import { badRequest, VaultError } from './backend';

/** Vault's DefaultMaxRequestSize */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

/** The JSON body of a request, `{}` when empty (http/logical.go parseJSONRequest). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new VaultError(413, ['request too large']);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    throw badRequest('error parsing JSON');
  }
}
