"""Authentication and authorization: principals, roles, the policy, API tokens and JWTs.

Import the light parts from here; `service.auth.authenticate` and
`service.auth.jwt` are imported explicitly (they pull in the token store and
PyJWT), which also keeps `service.tokens -> service.auth.principal` free of cycles.
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
