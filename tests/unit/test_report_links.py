"""Signed report links: what they grant, and that nothing else opens with them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from service.auth.principal import Principal, Role
from service.auth.report_links import LINK_SECONDS, LinkError, LinkSigner, query_of, view_of

NOW = datetime(2012, 9, 25, 9, 0, tzinfo=UTC)
OFFICER = Principal("officer@stockton.gov.uk", "Safer Stockton Partnership", frozenset({Role.AUDITOR}))


def test_a_link_grants_its_plan_moment_and_principal_until_it_expires() -> None:
    signer, plan = LinkSigner(b"s" * 32), uuid4()
    text = signer.encode(signer.sign(plan, "2012-09-25T09:00:00+00:00", OFFICER, NOW))

    grant = signer.decode(text, NOW + timedelta(seconds=LINK_SECONDS - 1))

    assert (grant.plan_id, grant.view, grant.principal) == (plan, "2012-09-25T09:00:00+00:00", OFFICER)
    assert grant.expires == NOW + timedelta(seconds=LINK_SECONDS)


def test_a_link_to_a_publication_asks_for_that_publication_and_no_moment() -> None:
    signer, publication = LinkSigner(b"s" * 32), uuid4()
    view = view_of(None, publication)
    grant = signer.decode(signer.encode(signer.sign(uuid4(), view, OFFICER, NOW)), NOW)

    assert query_of(grant.view) == {"publication": str(publication)}
    assert query_of(view_of(NOW, None)) == {"asOf": "2012-09-25T09:00:00+00:00"}
    assert query_of(view_of(None, None)) == {}


def test_an_expired_link_is_refused_with_how_to_get_a_new_one() -> None:
    signer = LinkSigner(b"s" * 32)
    text = signer.encode(signer.sign(uuid4(), "", OFFICER, NOW))

    with pytest.raises(LinkError, match="expired.*reportLink"):
        signer.decode(text, NOW + timedelta(seconds=LINK_SECONDS))


def in_signature(text: str) -> str:
    """One character of the signature changed; never the last, whose low bits base64 may ignore."""
    at = text.rindex(".") + 5
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def in_claims(text: str) -> str:
    return text[:3] + ("A" if text[3] != "A" else "B") + text[4:]


@pytest.mark.parametrize("alter", [in_signature, in_claims, lambda t: ""], ids=["signature", "claims", "empty"])
def test_an_altered_link_is_refused(alter: object) -> None:
    signer = LinkSigner(b"s" * 32)
    text = signer.encode(signer.sign(uuid4(), "", OFFICER, NOW))

    with pytest.raises(LinkError, match="not valid"):
        signer.decode(alter(text), NOW)  # type: ignore[operator]


def test_a_link_signed_with_another_secret_is_refused() -> None:
    text = LinkSigner(b"a" * 32).encode(LinkSigner(b"a" * 32).sign(uuid4(), "", OFFICER, NOW))

    with pytest.raises(LinkError, match="another server"):
        LinkSigner(b"b" * 32).decode(text, NOW)
