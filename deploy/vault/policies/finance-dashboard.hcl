# finance-dashboard (caller): generated from @lpi/access-matrix by `npm run policies:generate`; do not edit.
# tokens for reporting-service, scopes: reports:read
path "identity/oidc/token/finance-dashboard-to-reporting-service" {
  capabilities = ["read"]
}
