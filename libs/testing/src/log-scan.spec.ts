import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { clientSecretForms, issuedSecretsRecorder } from '@lpi/service-bootstrap';
import { candidateSecrets, scanLogsForIssuedSecrets } from './log-scan';

describe('run-wide log scan for issued secrets', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lpi-scan-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const secret = randomBytes(32).toString('base64url');
  const whsec = `whsec_${randomBytes(32).toString('base64')}`;
  const vaultToken = `hvs.${randomBytes(18).toString('base64url')}`;
  const jwt = [
    Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url'),
    Buffer.from(`{"jti":"${randomBytes(8).toString('hex')}"}`).toString('base64url'),
    randomBytes(64).toString('base64url'),
  ].join('.');

  function setup(lines: string[]) {
    const fingerprints = join(dir, 'issued');
    const record = issuedSecretsRecorder(fingerprints);
    record([...clientSecretForms('payment-service', secret), whsec, vaultToken, jwt]);
    mkdirSync(join(dir, 'logs', 'stack-1'), { recursive: true });
    writeFileSync(join(dir, 'logs', 'stack-1', 'svc.log'), `${lines.join('\n')}\n`);
    return scanLogsForIssuedSecrets(join(dir, 'logs'), fingerprints);
  }

  it('finds each issued secret however it is glued into a line, and only those lines', () => {
    const basic = clientSecretForms('payment-service', secret)[1];
    const result = setup([
      '{"level":30,"msg":"request completed","req":{"url":"/v1/payments"},"responseTime":3}',
      `{"msg":"upstream said","detail":"${secret}"}`,
      `client_secret=${secret}&grant_type=client_credentials`,
      `authorization: Basic ${basic}`,
      `{"secret":"${whsec}"}`,
      `X-Vault-Token:${vaultToken}`,
      `Bearer ${jwt}`,
      `https://api.example/v1?access_token=${jwt}`,
      '2026-11-23T03:44:41.123Z payment pay_0123456789abcdefABCDEF queued',
    ]);
    expect(result.fingerprints).toBe(5);
    expect(result.files).toBe(1);
    expect([...new Set(result.hits.map((h) => h.line))]).toEqual([2, 3, 4, 5, 6, 7, 8]);
  });

  it('reports nothing for clean logs, and never the secret itself', () => {
    const result = setup(['{"msg":"token refreshed","client":"provider","expires_in":900}']);
    expect(result.hits).toEqual([]);
    const noisy = setup([`leak ${secret}`]);
    expect(JSON.stringify(noisy)).not.toContain(secret);
  });

  it('splits runs at separators, with the whole run as a candidate too', () => {
    expect(candidateSecrets('a=abcdefghijklmn:zyxwvutsrqponm')).toEqual(
      expect.arrayContaining([
        'abcdefghijklmn',
        'zyxwvutsrqponm',
        'a=abcdefghijklmn:zyxwvutsrqponm',
      ]),
    );
    expect(candidateSecrets('short words only')).toEqual([]);
  });
});
