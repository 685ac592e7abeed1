"""JWT bearer tokens: ``sub`` = user id, ``org`` = organization id, ``roles`` = list of role names, ``exp``.

HS256 with a shared secret for local use; RS256/ES256 with a PEM public key or a JWKS file (chosen by
the token's ``kid``) for real deployments. Exactly one algorithm is accepted, the configured one, so a
token cannot pick its own (no ``alg: none``, no RS/HS confusion).

Organization and roles: the JWT names the caller's organization; the directory is the authority for
their roles, care teams and supervisees. The token's roles can only narrow the directory's
(``api.directory.effective_roles``), so a token that claims more than the directory grants gains nothing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from api.settings import HMAC_ALGORITHMS, ApiSettings
from processors.visibility import Viewer

_ID_MAX = 64
_ROLES_MAX = 32
_CACHE_MAX = 10_000
_TIME_CLAIMS = ("exp", "nbf", "iat")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AuthError(Exception):
    """A token is missing, malformed, badly signed, expired or lacks a claim; always a 401."""


@dataclass(frozen=True, slots=True)
class TokenVerifier:
    """Built once at start-up from the settings; ``verify`` is called on every ``/v1`` request."""

    algorithm: str
    key: Any = None
    jwks: jwt.PyJWKSet | None = None
    audience: str | None = None
    issuer: str | None = None
    leeway_s: int = 30
    # token → (caller, exp): a front end sends the same token on every call until it expires; checking
    # its signature once saves ~0.3 ms a request. The key is the whole token, signature included, so
    # only a token that verified before is found; expiry is checked again on every hit.
    _verified: dict[str, tuple[Viewer, float]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> "TokenVerifier":
        """Reads the key material; a missing or unreadable key file raises here, at start-up."""
        alg, key, jwks = settings.api_jwt_algorithm, None, None
        if alg in HMAC_ALGORITHMS:
            key = settings.hmac_secret()
        elif settings.api_jwt_jwks_file:
            jwks = jwt.PyJWKSet.from_json(settings.api_jwt_jwks_file.read_text())
        else:
            assert settings.api_jwt_public_key_file is not None  # ApiSettings refuses an asymmetric key without a file
            key = settings.api_jwt_public_key_file.read_text()
        return cls(alg, key, jwks, settings.api_jwt_audience, settings.api_jwt_issuer, settings.api_jwt_leeway_s)

    def verify(self, token: str, *, now: float | None = None) -> Viewer:
        """The caller a valid token names; AuthError (with a reason safe to return) otherwise."""
        hit = self._verified.get(token)
        if hit is not None:
            if (time.time() if now is None else now) <= hit[1] + self.leeway_s:
                return hit[0]
            del self._verified[token]
            raise AuthError("token expired")
        viewer, exp = self._verify_signed(token)
        if len(self._verified) >= _CACHE_MAX:  # bounded: drop the oldest entry (dicts keep insertion order)
            self._verified.pop(next(iter(self._verified)), None)
        self._verified[token] = (viewer, exp)
        return viewer

    def _verify_signed(self, token: str) -> tuple[Viewer, float]:
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from None
        for name in _TIME_CLAIMS:  # PyJWT accepts "1700000000" as a time; a token that says so is malformed
            if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], (int, float))):
                raise AuthError(f"invalid token: claim {name!r} must be a number")
        return viewer_of(claims), float(claims["exp"])

    def _key_for(self, token: str) -> Any:
        if self.jwks is None:
            return self.key
        kid = jwt.get_unverified_header(token).get("kid")
        for jwk in self.jwks.keys:
            if jwk.key_id == kid:
                return jwk.key
        raise jwt.InvalidKeyError("no key with this kid")


def _text(claims: dict, name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > _ID_MAX or _CONTROL.search(value):
        raise AuthError(f"invalid token: claim {name!r} must be a non-empty string without control characters")
    return value


def viewer_of(claims: dict) -> Viewer:
    """The Viewer of verified claims; ``roles`` may be absent (no roles) but never malformed."""
    roles = claims.get("roles", [])
    if (
        not isinstance(roles, list)
        or len(roles) > _ROLES_MAX
        or not all(isinstance(r, str) and len(r) <= _ID_MAX and not _CONTROL.search(r) for r in roles)
    ):
        raise AuthError("invalid token: claim 'roles' must be a list of strings without control characters")
    return Viewer(_text(claims, "sub"), _text(claims, "org"), frozenset(roles))


def issue_token(
    secret: str,
    *,
    user_id: str,
    organization_id: str,
    roles: list[str] | tuple[str, ...],
    ttl_s: int = 3600,
    algorithm: str = "HS256",
    now: float | None = None,
    **extra: Any,
) -> str:
    """A signed token for ``make demo``, tests and benchmarks (HS*; or pass a PEM private key as ``secret``)."""
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": user_id,
        "org": organization_id,
        "roles": list(roles),
        "iat": issued,
        "exp": issued + ttl_s,
        **extra,
    }
    return jwt.encode(claims, secret, algorithm=algorithm)
