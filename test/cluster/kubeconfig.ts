// A KubeConfig for the tests' own API servers: one cluster at `server`, a static bearer token, and the
// server's CA when it speaks TLS (else TLS verification off, for plain http://).
import { KubeConfig } from '@kubernetes/client-node';

export function testKubeConfig(server: string, ca?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      ca === undefined
        ? { name: 'c', server, skipTLSVerify: true }
        : { name: 'c', server, caData: Buffer.from(ca).toString('base64') },
    ],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}
