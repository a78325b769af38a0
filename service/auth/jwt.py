"""OpenID Connect bearer JWTs for people: verify, then map the claims to a Principal.

RS256 and ES256 tokens are checked with keys from the configured JWKS URL (or
file); HS256 with a shared secret, for local development only. The issuer,
audience and expiry (with a small leeway for clock skew) are always checked.

Claims (names configurable in `JwtSettings`):
- name: the first present of `name_claims` (default `sub`; e.g. `email`);
- partnership: a string; required, except that `all_partnerships_value`, if
  set, grants every partnership (for a national auditor, say);
- roles: a list or a space/comma separated string; names that are not ours
  (identity providers add their own) are ignored;
- themes / measures: optional lists narrowing writes (see policy.py).
A claim name is looked up as given, then as a dotted path (`realm_access.roles`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK
from jwt import exceptions as jwt_errors

from service.auth.errors import AuthenticationError
from service.auth.jwks import JwksCache, KeySource, check_jwks_url
from service.auth.principal import Principal, Role

__all__ = ["AuthenticationError", "JwtSettings", "JwtVerifier"]

ASYMMETRIC = ("RS256", "ES256")
MIN_SECRET_BYTES = 32
_ROLE_NAMES = frozenset(r.value for r in Role)


@dataclass(frozen=True)
class JwtSettings:
    """How to verify JWTs and read their claims; service/settings.py reads them from the ML_OIDC_* variables."""

    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: Path | None = None
    hs256_secret: str | None = None
    leeway_seconds: float = 30.0
    jwks_ttl_seconds: float = 300.0
    jwks_min_refresh_seconds: float = 30.0
    http_timeout_seconds: float = 5.0
    name_claims: tuple[str, ...] = ("sub",)
    partnership_claim: str = "partnership"
    roles_claim: str = "roles"
    themes_claim: str = "themes"
    measures_claim: str = "measures"
    all_partnerships_value: str | None = None

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            raise ValueError("JWT verification needs an issuer and an audience")
        if not (self.jwks_url or self.jwks_file or self.hs256_secret):
            raise ValueError("JWT verification needs a JWKS URL, a JWKS file or an HS256 secret")
        if self.jwks_url:
            check_jwks_url(self.jwks_url)
        if self.hs256_secret is not None and len(self.hs256_secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the HS256 secret must be at least {MIN_SECRET_BYTES} bytes")
        if not self.name_claims:
            raise ValueError("name_claims must name at least one claim")


# PyJWT's failures, as reasons a client can act on.
_REASONS: list[tuple[type[Exception], str]] = [
    (jwt_errors.ExpiredSignatureError, "the token has expired"),
    (jwt_errors.ImmatureSignatureError, "the token is not valid yet"),
    (jwt_errors.InvalidAudienceError, "the token is for another audience"),
    (jwt_errors.InvalidIssuerError, "the token is from an untrusted issuer"),
    (jwt_errors.InvalidSignatureError, "the token's signature is wrong"),
    (jwt_errors.InvalidKeyError, "the token's key is not acceptable"),
]


class JwtVerifier:
    """Verifies bearer JWTs; one per process (it holds the JWKS cache)."""

    def __init__(self, settings: JwtSettings, *, keys: KeySource | None = None) -> None:
        self.settings = settings
        self.keys: KeySource | None = keys
        if keys is None and settings.jwks_url:
            self.keys = JwksCache(
                settings.jwks_url,
                ttl=settings.jwks_ttl_seconds,
                min_refresh=settings.jwks_min_refresh_seconds,
                timeout=settings.http_timeout_seconds,
            )
        elif keys is None and settings.jwks_file:
            self.keys = KeySource.from_file(settings.jwks_file)

    async def verify(self, token: str) -> Principal:
        """The principal a valid token stands for; AuthenticationError with the reason otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt_errors.PyJWTError:
            raise AuthenticationError("the token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        key = await self._key(algorithm, header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[str(algorithm)],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud"], "enforce_minimum_key_length": True},
            )
        except jwt_errors.MissingRequiredClaimError as e:
            raise AuthenticationError(f"the token has no {e.claim!r} claim") from None
        except jwt_errors.PyJWTError as e:
            reason = next((r for kind, r in _REASONS if isinstance(e, kind)), "the token is not valid")
            raise AuthenticationError(reason) from None
        return self.principal(claims)

    async def _key(self, algorithm: object, kid: object) -> PyJWK | str:
        # The algorithm decides the key source, and each source serves only its
        # algorithms: a public key can never be used as an HMAC secret.
        if algorithm == "HS256" and self.settings.hs256_secret:
            return self.settings.hs256_secret
        if algorithm in ASYMMETRIC and self.keys is not None:
            return await self.keys.key(kid if isinstance(kid, str) else None, str(algorithm))
        raise AuthenticationError(f"the token's algorithm {str(algorithm)[:20]!r} is not accepted here")

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        """Map verified claims to a Principal (see the module's doc)."""
        s = self.settings
        name = next((v for c in s.name_claims if isinstance(v := _claim(claims, c), str) and v.strip()), None)
        if name is None:
            raise AuthenticationError(f"the token has no {' or '.join(s.name_claims)} claim to name its holder")
        partnership = _claim(claims, s.partnership_claim)
        if not isinstance(partnership, str) or not partnership.strip():
            raise AuthenticationError(f"the token has no {s.partnership_claim!r} claim")
        everywhere = s.all_partnerships_value is not None and partnership == s.all_partnerships_value
        granted = [r.lower() for r in _strings(claims, s.roles_claim) or []]
        roles = frozenset(Role(r) for r in granted if r in _ROLE_NAMES)
        themes, measures = _strings(claims, s.themes_claim), _strings(claims, s.measures_claim)
        return Principal(
            name=name.strip()[:200],
            partnership=None if everywhere else partnership.strip(),
            roles=roles,
            themes=None if themes is None else frozenset(themes),
            measures=None if measures is None else frozenset(measures),
            kind="jwt",
        )


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _strings(claims: Mapping[str, Any], name: str) -> list[str] | None:
    """A list claim as strings; also a space or comma separated string (as `scope` is)."""
    value = _claim(claims, name)
    if value is None:
        return None
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, list):
        return [str(v).strip() for v in value if isinstance(v, str | int) and str(v).strip()]
    raise AuthenticationError(f"the token's {name!r} claim is neither a list nor a string")
