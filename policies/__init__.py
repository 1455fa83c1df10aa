"""CrossGuard policy pack (pulumi-policy, Python) and its offline runner; see README.md."""
