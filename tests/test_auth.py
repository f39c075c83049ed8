"""voicebot.auth: scrypt password hashes, the role -> permission table, login throttling."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from voicebot.auth import (
    DEFAULT_SCRYPT,
    PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLE_TITLES,
    ROLES,
    LoginThrottle,
    ScryptParams,
    ThrottleSettings,
    allowed,
    hash_params,
    hash_password,
    login_problem,
    normalise_login,
    password_problem,
    roles_with,
    verify_password,
)

CHEAP = ScryptParams(log_n=4, r=8, p=1)
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_hash_round_trip_and_wrong_password() -> None:
    encoded = hash_password("верный пароль 1", CHEAP)
    assert verify_password("верный пароль 1", encoded)
    assert not verify_password("верный пароль 2", encoded)
    assert not verify_password("", encoded)


def test_each_hash_has_its_own_salt() -> None:
    first, second = hash_password("одинаковый", CHEAP), hash_password("одинаковый", CHEAP)
    assert first != second
    assert first.split("$")[2] != second.split("$")[2]
    assert verify_password("одинаковый", first) and verify_password("одинаковый", second)


def test_hash_is_scrypt_with_its_parameters_encoded() -> None:
    encoded = hash_password("пароль-пароль", ScryptParams(log_n=5, r=4, p=2))
    scheme, params, salt_b64, key_b64 = encoded.split("$")
    assert (scheme, params) == ("scrypt", "ln=5,r=4,p=2")
    salt = base64.b64decode(salt_b64 + "=" * (-len(salt_b64) % 4))
    key = base64.b64decode(key_b64 + "=" * (-len(key_b64) % 4))
    assert len(salt) == 16 and len(key) == 32
    # The key is exactly RFC 7914 scrypt of the UTF-8 password with the stored salt and cost.
    expected = hashlib.scrypt("пароль-пароль".encode(), salt=salt, n=32, r=4, p=2, dklen=32)
    assert key == expected
    assert hash_params(encoded) == ScryptParams(log_n=5, r=4, p=2)


def test_default_cost_is_the_owasp_minimum_and_verifies() -> None:
    assert (DEFAULT_SCRYPT.log_n, DEFAULT_SCRYPT.r, DEFAULT_SCRYPT.p) == (17, 8, 1)
    assert DEFAULT_SCRYPT.memory_bytes > 128 * 1024 * 1024  # beyond OpenSSL's 32 MiB default
    encoded = hash_password("операторская смена")
    assert encoded.startswith("scrypt$ln=17,r=8,p=1$")
    assert verify_password("операторская смена", encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain-text-password",
        "bcrypt$ln=4,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "scrypt$ln=4,r=8$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "scrypt$ln=4,r=8,p=1$не-base64$" + "A" * 43,
        "scrypt$ln=4,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA",  # key too short
        "scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,  # 128 TiB of work: refused
    ],
)
def test_malformed_hashes_never_match(encoded: str) -> None:
    assert not verify_password("anything", encoded)
    assert hash_params(encoded) is None


def test_a_tampered_key_does_not_match() -> None:
    encoded = hash_password("пароль-пароль", CHEAP)
    head, key = encoded.rsplit("$", 1)
    flipped = key[:-2] + ("A" if key[-2] != "A" else "B") + key[-1]
    assert not verify_password("пароль-пароль", f"{head}${flipped}")


def test_role_permissions_are_cumulative() -> None:
    assert ROLES == ("operator", "supervisor", "admin")
    assert ROLE_PERMISSIONS["operator"] < ROLE_PERMISSIONS["supervisor"] < ROLE_PERMISSIONS["admin"]
    assert ROLE_PERMISSIONS["admin"] == frozenset(PERMISSIONS)
    assert allowed("operator", "queue.take") and allowed("operator", "callbacks")
    assert not allowed("operator", "calls.all") and not allowed("operator", "users.manage")
    assert allowed("supervisor", "presence.all") and not allowed("supervisor", "users.manage")
    assert allowed("admin", "users.manage")
    assert not allowed("guest", "queue.view")
    assert roles_with("users.manage") == ("admin",)
    assert roles_with("calls.all") == ("supervisor", "admin")
    assert roles_with("reports") == ("supervisor", "admin")
    assert not allowed("operator", "reports")
    assert roles_with("kb.edit") == ("supervisor", "admin")
    assert not allowed("operator", "kb.edit")


def test_role_titles_are_russian() -> None:
    assert dict(ROLE_TITLES) == {
        "operator": "оператор",
        "supervisor": "супервайзер",
        "admin": "администратор",
    }


def test_login_and_password_rules() -> None:
    assert normalise_login("  Ivanova.A ") == "ivanova.a"
    assert login_problem("ivanova.a") is None
    assert login_problem("") is not None
    assert login_problem("иванова") is not None
    assert login_problem(".hidden") is not None
    assert login_problem("a" * 65) is not None
    assert password_problem("корот") == ("пароль слишком короткий: нужно не меньше 8 символов")
    assert password_problem("        ") is not None
    assert password_problem("x" * 2000) is not None
    assert password_problem("длинный пароль") is None


def test_throttle_blocks_a_login_after_failures_until_the_window_passes() -> None:
    throttle = LoginThrottle(ThrottleSettings(max_failures=3, window=timedelta(minutes=10)))
    for minute in range(3):
        assert throttle.retry_after("ivanova", "10.0.0.1", T0 + timedelta(minutes=minute)) is None
        throttle.failed("ivanova", "10.0.0.1", T0 + timedelta(minutes=minute))
    wait = throttle.retry_after("ivanova", "10.0.0.9", T0 + timedelta(minutes=3))
    assert wait == timedelta(minutes=7)  # the first failure leaves the window at 10 min
    assert throttle.retry_after("ivanova", "10.0.0.9", T0 + timedelta(minutes=10)) is None
    assert throttle.retry_after("petrov", "10.0.0.2", T0 + timedelta(minutes=3)) is None


def test_throttle_limits_an_address_trying_many_logins() -> None:
    throttle = LoginThrottle(
        ThrottleSettings(max_failures=2, max_failures_per_address=3, window=timedelta(minutes=10))
    )
    for index, login in enumerate(("a", "b")):
        throttle.failed(login, "10.0.0.1", T0 + timedelta(seconds=index))
    assert throttle.retry_after("d", "10.0.0.1", T0 + timedelta(seconds=5)) is None
    throttle.failed("c", "10.0.0.1", T0 + timedelta(seconds=2))
    assert throttle.retry_after("d", "10.0.0.1", T0 + timedelta(seconds=5)) is not None
    assert throttle.retry_after("d", "10.0.0.2", T0 + timedelta(seconds=5)) is None


def test_throttle_success_clears_the_login_not_the_address() -> None:
    throttle = LoginThrottle(
        ThrottleSettings(max_failures=2, max_failures_per_address=2, window=timedelta(minutes=10))
    )
    throttle.failed("ivanova", "10.0.0.1", T0)
    throttle.succeeded("ivanova")
    throttle.failed("ivanova", "10.0.0.2", T0)
    assert throttle.retry_after("ivanova", "10.0.0.3", T0) is None
    throttle.failed("x", "10.0.0.1", T0)
    assert throttle.retry_after("y", "10.0.0.1", T0) is not None


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(ThrottleSettings(max_failures=2, max_keys=10))
    for index in range(100):
        throttle.failed(f"user{index}", f"10.0.{index}.1", T0)
    assert len(throttle._failures) <= 10
