"""Authentication and authorization: principals, roles, the policy, API tokens and JWTs.

Import the light parts from here; `service.auth.authenticate`, `service.auth.jwt`
and `service.auth.tokens` (the token store) are imported explicitly: they pull in
the database drivers and PyJWT, and the token store imports the principals from here.
"""

from service.auth.errors import AuthenticationError, unauthenticated
from service.auth.policy import Action, can, partnership_filter, refusal, require
from service.auth.principal import Principal, Role, operator_principal, public_principal

__all__ = [
    "Action",
    "AuthenticationError",
    "Principal",
    "Role",
    "can",
    "operator_principal",
    "partnership_filter",
    "public_principal",
    "refusal",
    "require",
    "unauthenticated",
]
