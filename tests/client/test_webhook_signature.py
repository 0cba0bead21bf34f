"""verify_webhook against signatures computed here, independently of the client."""

from __future__ import annotations

import hashlib
import hmac

from concord_client import sign_webhook, verify_webhook

SECRET = "whsec_0123456789abcdef"
BODY = b'{"event":"batch.completed","project_id":7,"batch_id":3,"delivery_id":11}'
NOW = 1_760_000_000


def signed(body: bytes = BODY, *, secret: str = SECRET, t: int = NOW) -> str:
    digest = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def test_a_genuine_delivery_verifies():
    assert verify_webhook(SECRET, BODY, signed(), now=NOW)
    assert verify_webhook(SECRET, BODY, signed(t=NOW - 299), now=NOW)
    assert sign_webhook(SECRET, BODY, NOW) == signed()


def test_a_changed_body_or_another_secret_fails():
    assert not verify_webhook(SECRET, BODY.replace(b"7", b"8"), signed(), now=NOW)
    assert not verify_webhook("whsec_another_secret_000", BODY, signed(), now=NOW)
    # Re-serialised JSON is not the body that was signed.
    assert not verify_webhook(SECRET, BODY.replace(b",", b", "), signed(), now=NOW)


def test_stale_and_future_timestamps_fail():
    assert not verify_webhook(SECRET, BODY, signed(t=NOW - 301), now=NOW)
    assert not verify_webhook(SECRET, BODY, signed(t=NOW + 301), now=NOW)
    assert verify_webhook(SECRET, BODY, signed(t=NOW - 3000), now=NOW, tolerance_seconds=3600)


def test_malformed_headers_fail_without_raising():
    digest = signed().split("v1=")[1]
    for header in ("", None, "garbage", f"v1={digest}", f"t={NOW}", f"t=soon,v1={digest}",
                   f"t={NOW},v1={digest[:-2]}", f"t={NOW},v0={digest}", f"t={NOW},v1=zz{digest[2:]}"):
        assert not verify_webhook(SECRET, BODY, header, now=NOW), header


def test_any_of_several_signatures_may_match_during_a_key_rotation():
    old = signed(secret="whsec_old_secret_0000000").split("v1=")[1]
    new = signed().split("v1=")[1]
    assert verify_webhook(SECRET, BODY, f"t={NOW},v1={old},v1={new}", now=NOW)
    assert not verify_webhook(SECRET, BODY, f"t={NOW},v1={old}", now=NOW)
