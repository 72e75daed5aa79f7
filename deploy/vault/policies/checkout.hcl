# checkout (caller): generated from @lpi/access-matrix by `npm run policies:generate`; do not edit.
# tokens for payment-service, scopes: payments:create payments:read
path "identity/oidc/token/checkout-to-payment-service" {
  capabilities = ["read"]
}
