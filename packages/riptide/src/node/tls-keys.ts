/**
 * The tls.connect options a client WebSocket passes through unchanged: client.ts accepts them
 * (with the http.request options), and http2-client.ts keys its session pool on them, since they
 * shape the connection a session is.
 */
export const TLS_KEYS = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'crl',
  'ciphers',
  'ecdhCurve',
  'dhparam',
  'honorCipherOrder',
  'minVersion',
  'maxVersion',
  'secureOptions',
  'secureProtocol',
  'secureContext',
  'sessionIdContext',
  'sigalgs',
  'privateKeyEngine',
  'privateKeyIdentifier',
  'clientCertEngine',
  'servername',
  'rejectUnauthorized',
  'checkServerIdentity',
  'ALPNProtocols',
  'session',
  'minDHSize',
  'highWaterMark',
  'pskCallback',
  'enableTrace',
] as const;
