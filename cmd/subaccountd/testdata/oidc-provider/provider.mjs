// node-oidc-provider 9 as the external issuer of subaccountd: the recipe of the README's
// "An external issuer" section, run for real by cmd/subaccountd/external_issuer_test.go.
//
// What it does for subaccountd:
//   - the client-credentials grant only (no users, no interactions);
//   - the resource indicators feature (RFC 8707): a token request with
//     resource=RESOURCE gets a JWT access token (RS256, typ at+jwt) with
//     aud "subaccounts-api" and only the API scopes the client may have;
//   - extraTokenClaims puts the client's account_id (its own client metadata) in the
//     token as the top-level claim subaccountd reads (AUTH_ACCOUNT_CLAIM=account_id);
//     operator clients have none and are allowed accounts:admin.
//
// Environment (all optional):
//   PORT                 listen port on 127.0.0.1 (default 0: any free port)
//   RESOURCE             the resource indicator of the API (default urn:subaccounts-api)
//   AUDIENCE             the aud of its tokens = subaccountd's OIDC_AUDIENCE (default subaccounts-api)
//   CLIENTS_FILE         JSON array of static clients (client_id, client_secret, scope, account_id)
//   JWKS_FILE            JSON {"keys": [private JWKs]}; the first RS256 key signs, the others
//                        are only published (default: one generated key, lost at exit)
//   REGISTRATION_TOKEN   enables dynamic client registration (POST /reg) with this initial
//                        access token, so tenant clients can be added while it runs
//
// On start it prints one JSON line {"issuer": "http://127.0.0.1:PORT"} on stdout.
//
// It runs in development mode (NODE_ENV unset) over plain http on loopback, and keeps
// clients and tokens in memory: a deployment serves https behind a proxy, sets
// NODE_ENV=production, passes its keys and cookie secrets and uses a persistent adapter.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const RESOURCE = process.env.RESOURCE || 'urn:subaccounts-api';
const AUDIENCE = process.env.AUDIENCE || 'subaccounts-api';

// Every scope of the API. Listing them as the provider's scopes is what makes a client's
// own `scope` metadata an allow-list for them: oidc-provider only refuses
// (invalid_scope) a requested scope that is one of its configured scopes and not in the
// client's list; any other would pass through to the resource server's scope below.
const API_SCOPES = [
  'subaccounts:read', 'subaccounts:write', 'cards:read', 'cards:write',
  'transactions:read', 'transactions:write', 'compliance:read',
  'ledger:read', 'ledger:write', 'audit:read', 'accounts:admin',
];

function readJSON(path, fallback) {
  return path ? JSON.parse(readFileSync(path, 'utf8')) : fallback;
}

function generatedJWKS() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: `k-${Date.now()}`, alg: 'RS256', use: 'sig' }] };
}

const clients = readJSON(process.env.CLIENTS_FILE, []).map((c) => ({
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  ...c,
}));

const server = createServer();
await new Promise((resolve) => { server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: readJSON(process.env.JWKS_FILE, null) ?? generatedJWKS(),
  scopes: API_SCOPES,
  // The tenant's account id is the client's own metadata, set when the client is made.
  extraClientMetadata: {
    properties: ['account_id'],
    validator(ctx, key, value) {
      if (key === 'account_id' && value !== undefined && !/^[0-9a-f-]{36}$/i.test(value)) {
        throw new errors.InvalidClientMetadata('account_id must be a UUID');
      }
    },
  },
  // The claim is top-level in the JWT access token: subaccountd reads AUTH_ACCOUNT_CLAIM
  // from the top level only.
  async extraTokenClaims(ctx, token) {
    const client = ctx.oidc.client ?? await provider.Client.find(token.clientId);
    return client?.account_id ? { account_id: client.account_id } : undefined;
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    registration: {
      enabled: Boolean(process.env.REGISTRATION_TOKEN),
      initialAccessToken: process.env.REGISTRATION_TOKEN || false,
    },
    resourceIndicators: {
      enabled: true,
      // A token request without resource= gets an opaque token subaccountd cannot use:
      // clients must send resource=RESOURCE (subaccountctl --resource).
      defaultResource: async (ctx, client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      async getResourceServerInfo(ctx, resourceIndicator) {
        if (resourceIndicator !== RESOURCE) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: API_SCOPES.join(' '),
          audience: AUDIENCE,
          accessTokenTTL: 10 * 60,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { server.close(); process.exit(0); });
}
