# webhook-service: generated from @lpi/access-matrix by `npm run policies:generate`; do not edit.
# Fields: client_id, client_secret, client_cert, client_key, redis_password, webhook_secret
path "secret/data/webhook-service" {
  capabilities = ["read"]
}

# version polling for rotation (metadata only, no secret values)
path "secret/metadata/webhook-service" {
  capabilities = ["read"]
}

# short-lived PostgreSQL users holding this service's table grants only
# (renewing and looking up their leases is in Vault's default policy)
path "database/creds/webhook-service" {
  capabilities = ["read"]
}
