"""Cognito user-pool triggers (Lambda package ``identity``; handler ``identity.post_confirmation.handler``)."""
