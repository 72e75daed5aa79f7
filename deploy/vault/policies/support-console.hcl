# support-console (caller): generated from @lpi/access-matrix by `npm run policies:generate`; do not edit.
# tokens for payment-service, scopes: payments:read
path "identity/oidc/token/support-console-to-payment-service" {
  capabilities = ["read"]
}

# tokens for refund-service, scopes: refunds:create refunds:read
path "identity/oidc/token/support-console-to-refund-service" {
  capabilities = ["read"]
}
