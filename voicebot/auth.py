"""Console authentication, pure: password hashes, roles and their permissions, login throttling.

Passwords are hashed with scrypt (hashlib.scrypt, RFC 7914) and a random 16-byte salt per hash.
The default cost follows the OWASP Password Storage Cheat Sheet's minimum for scrypt (N=2^17,
r=8, p=1: 128 MiB and a few hundred milliseconds per hash). A hash is stored as

    scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<key, base64>

(the layout of passlib's `$scrypt$ln=..,r=..,p=..$salt$key`, with standard unpadded base64; not
claimed compatible with passlib), so verifying reads the parameters from the hash itself and the
cost can be raised later without invalidating stored hashes. Keys are compared in constant time
(hmac.compare_digest).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal, cast, get_args

from voicebot.queue import OperatorStatus, Role

Permission = Literal[
    "queue.view",  # the live queue and the cards of waiting calls
    "queue.take",  # take a waiting call (transferred to one's own extension)
    "calls.own",  # the transcript of and closing one's own calls
    "callbacks",  # the callback list: take, close
    "calls.all",  # every operator's active calls
    "presence.all",  # every operator's presence
    "users.manage",  # create and deactivate console users
    "reports",  # reports and analytics: calls, waits, lost calls, ratings, staffing
    "kb.edit",  # edit the knowledge base's entries, try them, publish a version
]

ROLES: tuple[Role, ...] = get_args(Role)
PERMISSIONS: tuple[Permission, ...] = get_args(Permission)
_OPERATOR: frozenset[Permission] = frozenset({"queue.view", "queue.take", "calls.own", "callbacks"})
_SUPERVISOR: frozenset[Permission] = _OPERATOR | {
    "calls.all",
    "presence.all",
    "reports",
    "kb.edit",
}
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        "operator": _OPERATOR,
        "supervisor": _SUPERVISOR,
        "admin": _SUPERVISOR | {"users.manage"},
    }
)
ROLE_TITLES: Mapping[Role, str] = MappingProxyType(
    {"operator": "оператор", "supervisor": "супервайзер", "admin": "администратор"}
)
STATUS_TITLES: Mapping[OperatorStatus, str] = MappingProxyType(
    {"offline": "не в сети", "available": "на линии", "busy": "разговаривает", "away": "отошёл"}
)

LOGIN_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # hashing a megabyte "password" is a denial of service, not a login


def allowed(role: str, permission: Permission) -> bool:
    """Whether `role` grants `permission` (an unknown role grants nothing)."""
    return role in ROLE_PERMISSIONS and permission in ROLE_PERMISSIONS[cast(Role, role)]


def roles_with(permission: Permission) -> tuple[Role, ...]:
    """The roles that grant `permission`, least privileged first."""
    return tuple(role for role in ROLES if permission in ROLE_PERMISSIONS[role])


def normalise_login(login: str) -> str:
    """The login as stored: stripped and lower-cased."""
    return login.strip().lower()


def login_problem(login: str) -> str | None:
    """Why `login` (normalised) cannot be a login, in Russian; None if it can."""
    if LOGIN_PATTERN.fullmatch(login) is None:
        return (
            "логин: от 1 до 64 символов — латинские буквы, цифры, точка, дефис, подчёркивание; "
            "начинается с буквы или цифры"
        )
    return None


def password_problem(password: str) -> str | None:
    """Why `password` is not acceptable as a new password, in Russian; None if it is."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"пароль слишком короткий: нужно не меньше {MIN_PASSWORD_LENGTH} символов"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"пароль слишком длинный: не больше {MAX_PASSWORD_LENGTH} символов"
    if password.strip() == "":
        return "пароль не может состоять из одних пробелов"
    return None


# --- password hashes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost: N = 2**log_n, block size r, parallelism p; salt and key sizes in bytes."""

    log_n: int = 17
    r: int = 8
    p: int = 1
    salt_bytes: int = 16
    key_bytes: int = 32

    def __post_init__(self) -> None:
        if not 1 <= self.log_n <= MAX_LOG_N or not 1 <= self.r <= 32 or not 1 <= self.p <= 16:
            raise ValueError(f"scrypt parameters out of range: {self}")
        if self.salt_bytes < 16 or not 16 <= self.key_bytes <= 64:
            raise ValueError(f"scrypt salt must be at least 16 bytes, key 16..64: {self}")

    @property
    def memory_bytes(self) -> int:
        """What one hash needs: 128 * r * N for the work array, plus p * 128 * r for B."""
        return 128 * self.r * (1 << self.log_n) + 128 * self.r * self.p


MAX_LOG_N = 20  # a stored hash asking for more (1 GiB at r=8) is refused rather than computed
DEFAULT_SCRYPT = ScryptParams()
SCHEME = "scrypt"


def hash_password(password: str, params: ScryptParams = DEFAULT_SCRYPT) -> str:
    """The encoded scrypt hash of `password` with a fresh random salt."""
    salt = secrets.token_bytes(params.salt_bytes)
    key = _scrypt(password, salt, params.log_n, params.r, params.p, params.key_bytes)
    return f"{SCHEME}$ln={params.log_n},r={params.r},p={params.p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches the encoded hash; a malformed hash never matches."""
    parsed = _parse(encoded)
    if parsed is None or len(password) > MAX_PASSWORD_LENGTH:
        return False
    log_n, r, p, salt, key = parsed
    candidate = _scrypt(password, salt, log_n, r, p, len(key))
    return hmac.compare_digest(candidate, key)


def hash_params(encoded: str) -> ScryptParams | None:
    """The parameters a hash was made with (None if malformed): to re-hash weaker ones on login."""
    parsed = _parse(encoded)
    if parsed is None:
        return None
    log_n, r, p, salt, key = parsed
    return ScryptParams(log_n, r, p, len(salt), len(key))


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int, dklen: int) -> bytes:
    # OpenSSL refuses work beyond maxmem (its default is 32 MiB): allow what the parameters need.
    maxmem = 128 * r * (1 << log_n) + 128 * r * p + 1024 * 1024
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=1 << log_n, r=r, p=p, maxmem=maxmem, dklen=dklen
    )


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != SCHEME:
        return None
    match = re.fullmatch(r"ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})", parts[1])
    if match is None:
        return None
    log_n, r, p = (int(g) for g in match.groups())
    if not 1 <= log_n <= MAX_LOG_N or not 1 <= r <= 32 or not 1 <= p <= 16:
        return None
    try:
        salt, key = _unb64(parts[2]), _unb64(parts[3])
    except (binascii.Error, ValueError):
        return None
    if len(salt) < 8 or not 16 <= len(key) <= 64:
        return None
    return log_n, r, p, salt, key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


# --- login throttling --------------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottleSettings:
    """At most `max_failures` failed logins per login name, and `max_failures_per_address` per
    client address (offices share one behind NAT: a higher limit), within `window`."""

    max_failures: int = 5
    max_failures_per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    max_keys: int = 10_000  # memory bound: the oldest keys are forgotten first


class LoginThrottle:
    """Counts failed logins per login name and per client address, in memory (one process).

    A key that reached its limit of failures within `window` is refused until its oldest
    counted failure leaves the window. A successful login clears the login's count (not the
    address's: one address guessing many logins stays limited). Times are passed in.
    """

    def __init__(self, settings: ThrottleSettings = ThrottleSettings()) -> None:
        """An empty throttle."""
        self._settings = settings
        self._failures: dict[str, list[datetime]] = {}

    def retry_after(self, login: str, address: str, now: datetime) -> timedelta | None:
        """How long until this login from this address may try again; None: it may now."""
        waits = [self._wait(key, limit, now) for key, limit in self._keys(login, address)]
        return max((w for w in waits if w is not None), default=None)

    def failed(self, login: str, address: str, now: datetime) -> None:
        """Count a failed attempt."""
        for key, limit in self._keys(login, address):
            times = [t for t in self._failures.pop(key, []) if now - t < self._settings.window]
            times.append(now)
            self._failures[key] = times[-limit:]
        while len(self._failures) > self._settings.max_keys:
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, login: str) -> None:
        """Forget the failures of `login`."""
        self._failures.pop(f"login:{login}", None)

    def _wait(self, key: str, limit: int, now: datetime) -> timedelta | None:
        times = [t for t in self._failures.get(key, []) if now - t < self._settings.window]
        if len(times) < limit:
            return None
        return times[-limit] + self._settings.window - now

    def _keys(self, login: str, address: str) -> tuple[tuple[str, int], tuple[str, int]]:
        return (
            (f"login:{login}", self._settings.max_failures),
            (f"addr:{address}", self._settings.max_failures_per_address),
        )
