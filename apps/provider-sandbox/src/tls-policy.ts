import type { SecureContextOptions } from 'node:tls';

/**
 * Both listeners: TLS 1.3, or TLS 1.2 with forward secrecy (ECDHE) and AEAD only. No static-RSA
 * key exchange, no CBC suites (issue 16 item 5). The TLS 1.3 suites are all AEAD with
 * ephemeral key exchange; Node keeps its defaults for them.
 */
export const TLS_POLICY: Pick<SecureContextOptions, 'minVersion' | 'ciphers' | 'honorCipherOrder'> =
  {
    minVersion: 'TLSv1.2',
    ciphers: [
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
      'ECDHE-ECDSA-CHACHA20-POLY1305',
      'ECDHE-RSA-AES128-GCM-SHA256',
      'ECDHE-RSA-AES256-GCM-SHA384',
      'ECDHE-RSA-CHACHA20-POLY1305',
    ].join(':'),
    honorCipherOrder: true,
  };
