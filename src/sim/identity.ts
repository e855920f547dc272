// The simulated Azure managed-identity endpoint, so `snatguard scan` against `snatguard sim` gets its
// Entra ID token through the SDK's own credential chain (DefaultAzureCredential → ManagedIdentityCredential
// → MSAL's App Service source: IDENTITY_ENDPOINT + IDENTITY_HEADER).
// Source of the shape: "Connect to Azure services in app code" (App Service managed identity, REST protocol,
// api-version 2019-08-01): GET {IDENTITY_ENDPOINT}?resource=…&api-version=2019-08-01 with header
// X-IDENTITY-HEADER; response { access_token, expires_on (seconds since epoch), resource, token_type,
// client_id }. MSAL reads these fields in BaseManagedIdentitySource.getServerTokenResponse.
import { randomBytes } from 'node:crypto';
import type { SimRoutes } from './types.js';

export const IDENTITY_PATH = '/msi/token';

export interface SimIdentity {
  /** The value the client must send as X-IDENTITY-HEADER (IDENTITY_HEADER). */
  header: string;
  routes: SimRoutes;
}

export function identityRoutes(): SimIdentity {
  const header = randomBytes(16).toString('hex');
  const routes: SimRoutes = (req, res, url) => {
    if (url.pathname !== IDENTITY_PATH) return false;
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') {
      json(405, { error: 'invalid_request', error_description: 'GET only' });
      return true;
    }
    if (req.headers['x-identity-header'] !== header) {
      json(401, { error: 'invalid_request', error_description: 'X-IDENTITY-HEADER missing or wrong' });
      return true;
    }
    const resource = url.searchParams.get('resource');
    if (!resource || url.searchParams.get('api-version') !== '2019-08-01') {
      json(400, {
        error: 'invalid_request',
        error_description: 'resource and api-version=2019-08-01 required',
      });
      return true;
    }
    json(200, {
      access_token: `snatguard-sim-${randomBytes(8).toString('hex')}`,
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource,
      token_type: 'Bearer',
      client_id: '00000000-0000-0000-0000-00000000c11e',
    });
    return true;
  };
  return { header, routes };
}
