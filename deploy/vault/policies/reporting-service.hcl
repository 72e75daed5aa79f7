# reporting-service: generated from @lpi/access-matrix by `npm run policies:generate`; do not edit.
# Fields: client_id, client_secret, client_cert, client_key, redis_password
path "secret/data/reporting-service" {
  capabilities = ["read"]
}

# version polling for rotation (metadata only, no secret values)
path "secret/metadata/reporting-service" {
  capabilities = ["read"]
}

# short-lived PostgreSQL users holding this service's table grants only
# (renewing and looking up their leases is in Vault's default policy)
path "database/creds/reporting-service" {
  capabilities = ["read"]
}
