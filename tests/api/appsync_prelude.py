"""What AppSync defines for every schema: its scalars and ``@aws_*`` directives.

AppSync provides these itself (https://docs.aws.amazon.com/appsync/latest/devguide/scalars.html,
.../security-authz.html), so app/graphql/schema.graphql must not declare them; tests prepend them so
graphql-core can build and validate the schema.
"""

from __future__ import annotations

from graphql import GraphQLSchema, build_ast_schema, parse, validate_schema

APPSYNC_PRELUDE = """
scalar AWSDate
scalar AWSTime
scalar AWSDateTime
scalar AWSTimestamp
scalar AWSEmail
scalar AWSJSON
scalar AWSURL
scalar AWSPhone
scalar AWSIPAddress
directive @aws_subscribe(mutations: [String!]!) on FIELD_DEFINITION
directive @aws_cognito_user_pools(cognito_groups: [String!]) on OBJECT | FIELD_DEFINITION
directive @aws_iam on OBJECT | FIELD_DEFINITION
directive @aws_api_key on OBJECT | FIELD_DEFINITION
directive @aws_oidc on OBJECT | FIELD_DEFINITION
directive @aws_lambda on OBJECT | FIELD_DEFINITION
directive @aws_auth(cognito_groups: [String!]!) on FIELD_DEFINITION
"""


def build_appsync_schema(text: str) -> GraphQLSchema:
    """The schema AppSync would build from ``text``; an invalid one fails with graphql-core's errors."""
    schema = build_ast_schema(parse(APPSYNC_PRELUDE + text))
    errors = validate_schema(schema)
    assert not errors, [str(e) for e in errors]
    return schema
