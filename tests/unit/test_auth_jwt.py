"""OpenID Connect JWTs: RS256/ES256 with JWKS, HS256 with a secret; what is refused and why; claim mapping."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from service.auth import AuthenticationError, Role
from service.auth.authenticate import authenticate, bearer_from_header, bearer_from_params, principal_for
from service.auth.jwks import JwksCache, KeySource
from service.auth.jwt import JwtSettings, JwtVerifier
from service.settings import Settings

ISSUER = "https://login.example.gov.uk/realms/ledger"
AUDIENCE = "measure-ledger"
SECRET = "a-local-development-secret-of-at-least-32-bytes"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(*keys: tuple[str, Any]) -> dict[str, Any]:
    found = []
    for kid, key in keys:
        algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
        jwk = algorithm.to_jwk(key.public_key(), as_dict=True)
        found.append({**jwk, "kid": kid, "use": "sig"})
    return {"keys": found}


JWKS = jwks(("rsa-1", RSA_KEY), ("ec-1", EC_KEY))


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "c0ffee-1234",
        "email": "alice@stockton.gov.uk",
        "iat": now,
        "exp": now + 300,
        "partnership": "Safer Stockton Partnership",
        "roles": ["submitter", "auditor", "offline_access"],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], algorithm: str = "RS256", key: Any = RSA_KEY, kid: str | None = "rsa-1") -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def forge_hs256(payload: dict[str, Any], secret: bytes) -> str:
    """An HS256 token made by hand: PyJWT itself refuses to use a public key as an HMAC secret."""

    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + b"." + part(json.dumps(payload).encode())
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + part(signature)).decode()


def settings(**changes: Any) -> JwtSettings:
    base: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "https://login.example.gov.uk/jwks"}
    base.update(changes)
    return JwtSettings(**base)


@pytest.fixture
def verify() -> JwtVerifier:
    return JwtVerifier(settings(hs256_secret=SECRET), keys=KeySource.from_dict(JWKS))


async def refused(v: JwtVerifier, token: str) -> str:
    with pytest.raises(AuthenticationError) as e:
        await v.verify(token)
    return e.value.reason


@pytest.mark.parametrize(
    ("algorithm", "key", "kid"), [("RS256", RSA_KEY, "rsa-1"), ("ES256", EC_KEY, "ec-1"), ("HS256", SECRET, None)]
)
async def test_a_valid_token_becomes_a_principal(
    verify: JwtVerifier, algorithm: str, key: Any, kid: str | None
) -> None:
    principal = await verify.verify(sign(claims(), algorithm, key, kid))
    assert principal.name == "c0ffee-1234"
    assert principal.partnership == "Safer Stockton Partnership"
    assert principal.roles == {Role.SUBMITTER, Role.AUDITOR}  # offline_access is not ours
    assert principal.themes is None and principal.measures is None
    assert principal.kind == "jwt"


@pytest.mark.parametrize(
    ("algorithm", "key", "kid"), [("RS256", RSA_KEY, "rsa-1"), ("ES256", EC_KEY, "ec-1"), ("HS256", SECRET, None)]
)
async def test_expired_tokens_are_refused(verify: JwtVerifier, algorithm: str, key: Any, kid: str | None) -> None:
    token = sign(claims(exp=int(time.time()) - 120), algorithm, key, kid)
    assert await refused(verify, token) == "the token has expired"


async def test_expiry_has_a_small_leeway_for_clock_skew(verify: JwtVerifier) -> None:
    leeway = int(verify.settings.leeway_seconds)
    just_expired = sign(claims(exp=int(time.time()) - 5))
    past_the_leeway = sign(claims(exp=int(time.time()) - leeway - 5))
    without_leeway = JwtVerifier(settings(leeway_seconds=0), keys=KeySource.from_dict(JWKS))

    assert (await verify.verify(just_expired)).name == "c0ffee-1234"
    assert await refused(verify, past_the_leeway) == "the token has expired"
    assert await refused(without_leeway, just_expired) == "the token has expired"


@pytest.mark.parametrize(
    ("algorithm", "key", "kid"),
    [
        ("RS256", OTHER_RSA_KEY, "rsa-1"),
        ("ES256", ec.generate_private_key(ec.SECP256R1()), "ec-1"),
        ("HS256", "another-secret-that-is-also-32-bytes-long", None),
    ],
)
async def test_wrongly_signed_tokens_are_refused(
    verify: JwtVerifier, algorithm: str, key: Any, kid: str | None
) -> None:
    assert await refused(verify, sign(claims(), algorithm, key, kid)) == "the token's signature is wrong"


@pytest.mark.parametrize(("algorithm", "key", "kid"), [("RS256", RSA_KEY, "rsa-1"), ("HS256", SECRET, None)])
async def test_wrong_audience_is_refused(verify: JwtVerifier, algorithm: str, key: Any, kid: str | None) -> None:
    token = sign(claims(aud="another-service"), algorithm, key, kid)
    assert await refused(verify, token) == "the token is for another audience"


@pytest.mark.parametrize(("algorithm", "key", "kid"), [("ES256", EC_KEY, "ec-1"), ("HS256", SECRET, None)])
async def test_wrong_issuer_is_refused(verify: JwtVerifier, algorithm: str, key: Any, kid: str | None) -> None:
    token = sign(claims(iss="https://evil.example.com"), algorithm, key, kid)
    assert await refused(verify, token) == "the token is from an untrusted issuer"


@pytest.mark.parametrize("claim", ["exp", "aud", "iss"])
async def test_required_claims(verify: JwtVerifier, claim: str) -> None:
    assert await refused(verify, sign(claims(**{claim: None}))) == f"the token has no {claim!r} claim"


async def test_unknown_key_id_is_refused(verify: JwtVerifier) -> None:
    reason = await refused(verify, sign(claims(), kid="rotated-away"))
    assert reason == "the token is signed with an unknown key (key id 'rotated-away', RS256)"


async def test_algorithm_confusion_is_refused() -> None:
    # HS256 "signed" with the RSA public key, against a server that has no HS256 secret.
    only_jwks = JwtVerifier(settings(), keys=KeySource.from_dict(JWKS))
    pem = RSA_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    forged = forge_hs256(claims(), pem)
    assert await refused(only_jwks, forged) == "the token's algorithm 'HS256' is not accepted here"
    unsigned = jwt.encode(claims(), None, algorithm="none")
    assert await refused(only_jwks, unsigned) == "the token's algorithm 'none' is not accepted here"


async def test_malformed_tokens_are_refused(verify: JwtVerifier) -> None:
    assert await refused(verify, "not.a.jwt") == "the token is not a well-formed JWT"


async def test_claims_map_with_configured_names() -> None:
    v = JwtVerifier(
        settings(
            hs256_secret=SECRET,
            name_claims=("email", "sub"),
            partnership_claim="https://ledger.example/partnership",
            roles_claim="realm_access.roles",
            themes_claim="ledger_themes",
        ),
        keys=KeySource.from_dict(JWKS),
    )
    token = sign(
        claims(
            partnership=None,
            roles=None,
            **{
                "https://ledger.example/partnership": "Hartlepool",
                "realm_access": {"roles": ["Editor", "Approver", "uma_authorization"]},
                "ledger_themes": "H, R",
            },
        ),
        "HS256",
        SECRET,
        None,
    )
    principal = await v.verify(token)
    assert principal.name == "alice@stockton.gov.uk"
    assert principal.partnership == "Hartlepool"
    assert principal.roles == {Role.EDITOR, Role.APPROVER}
    assert principal.themes == {"H", "R"} and principal.measures is None


async def test_a_token_without_partnership_is_refused_unless_it_is_the_all_value(verify: JwtVerifier) -> None:
    token = sign(claims(partnership=None))
    assert await refused(verify, token) == "the token has no 'partnership' claim"
    national = JwtVerifier(settings(all_partnerships_value="*"), keys=KeySource.from_dict(JWKS))
    assert (await national.verify(sign(claims(partnership="*")))).partnership is None


async def test_a_token_without_roles_authenticates_with_none(verify: JwtVerifier) -> None:
    assert (await verify.verify(sign(claims(roles=None)))).roles == frozenset()


async def test_jwks_are_fetched_from_the_configured_url_and_cached() -> None:
    fetched: list[str] = []
    now = [1000.0]

    async def fetch(url: str, timeout: float) -> dict[str, Any]:
        fetched.append(url)
        return JWKS

    cache = JwksCache("https://login.example.gov.uk/jwks", ttl=300, min_refresh=30, fetch=fetch, clock=lambda: now[0])
    v = JwtVerifier(settings(), keys=cache)
    for _ in range(3):
        await v.verify(sign(claims()))
    assert fetched == ["https://login.example.gov.uk/jwks"]
    # Unknown key ids make us look again, but not more than once per min_refresh.
    for _ in range(3):
        await refused(v, sign(claims(), kid="new"))
    assert len(fetched) == 1
    now[0] += 31
    await refused(v, sign(claims(), kid="new"))
    assert len(fetched) == 2
    now[0] += 301
    await v.verify(sign(claims()))
    assert len(fetched) == 3


async def test_jwks_keep_serving_cached_keys_while_the_provider_is_down() -> None:
    up = [True]
    now = [0.0]

    async def fetch(url: str, timeout: float) -> dict[str, Any]:
        if not up[0]:
            raise OSError("connection refused")
        return JWKS

    cache = JwksCache("https://idp.example/jwks", ttl=60, fetch=fetch, clock=lambda: now[0])
    v = JwtVerifier(settings(), keys=cache)
    await v.verify(sign(claims()))
    up[0], now[0] = False, 61.0
    await v.verify(sign(claims()))
    never = JwtVerifier(settings(), keys=JwksCache("https://idp.example/jwks", fetch=fetch))
    assert await refused(never, sign(claims())) == "the identity provider's signing keys are unavailable"


def test_jwks_urls_must_be_https_except_locally() -> None:
    with pytest.raises(ValueError, match="must be https"):
        settings(jwks_url="http://login.example.gov.uk/jwks")
    settings(jwks_url="http://localhost:8080/realms/dev/protocol/openid-connect/certs")


def test_settings_refuse_weak_or_missing_configuration() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        settings(hs256_secret="short")
    with pytest.raises(ValueError, match="JWKS URL, a JWKS file or an HS256 secret"):
        settings(jwks_url=None)
    with pytest.raises(ValueError, match="issuer and an audience"):
        settings(audience="")


def test_settings_from_env(tmp_path: Path) -> None:
    assert Settings.from_env({}).jwt is None
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    s = Settings.from_env(
        {
            "ML_OIDC_ISSUER": ISSUER,
            "ML_OIDC_AUDIENCE": AUDIENCE,
            "ML_OIDC_JWKS_FILE": str(path),
            "ML_OIDC_NAME_CLAIMS": "email, sub",
            "ML_OIDC_ROLES_CLAIM": "groups",
        }
    ).jwt
    assert s is not None and s.name_claims == ("email", "sub") and s.roles_claim == "groups"
    assert JwtVerifier(s).keys is not None


async def test_a_jwks_file_is_a_key_source(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(JWKS))
    v = JwtVerifier(settings(jwks_url=None, jwks_file=path))
    assert (await v.verify(sign(claims(), "ES256", EC_KEY, "ec-1"))).name == "c0ffee-1234"


async def test_authenticate_sends_jwts_to_the_verifier(verify: JwtVerifier) -> None:
    pool: Any = None  # the token store is not consulted for a JWT
    assert (await authenticate(pool, verify, sign(claims()))) is not None
    assert await authenticate(pool, verify, None) is None
    assert await principal_for(pool, verify, None, public_read=True) is not None
    with pytest.raises(AuthenticationError, match="accepts API tokens only"):
        await authenticate(pool, None, sign(claims()))
    with pytest.raises(AuthenticationError, match="neither an API token"):
        await authenticate(pool, verify, "opaque-session-cookie")
    with pytest.raises(AuthenticationError, match="the token has expired"):
        await authenticate(pool, verify, sign(claims(exp=1)))


def test_bearer_extraction() -> None:
    assert bearer_from_header("Bearer abc.def.ghi ") == "abc.def.ghi"
    assert bearer_from_header("bearer  mlt_x_y") == "mlt_x_y"
    assert bearer_from_header("Basic dXNlcg==") is None
    assert bearer_from_header(None) is None
    assert bearer_from_params({"authorization": "Bearer mlt_x_y"}) == "mlt_x_y"
    assert bearer_from_params({"token": "mlt_x_y"}) == "mlt_x_y"
    assert bearer_from_params(None) is None
