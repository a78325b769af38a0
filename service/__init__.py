"""The service: Starlette with Strawberry GraphQL, the CLI and their settings."""
