"""Token verification and the start-up refusal of unsafe key settings."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from api.auth import AuthError, TokenVerifier, issue_token
from api.settings import DEV_JWT_SECRET, ApiSettings, InsecureSettings
from processors.visibility import Viewer

SECRET = "unit-test-secret-" + "x" * 40
NOW = 1_800_000_000


def hs_verifier(**kw) -> TokenVerifier:
    return TokenVerifier("HS256", SECRET, **kw)


def claims(**overrides) -> dict:
    # Valid for a day: the parametrized tokens are built when pytest collects, and `make test` runs the
    # fault suite (over ten minutes) before these tests.
    return {"sub": "u-1", "org": "org-1", "roles": ["nurse"], "exp": int(time.time()) + 86_400} | overrides


def test_a_valid_token_names_the_viewer():
    token = issue_token(SECRET, user_id="u-1", organization_id="org-1", roles=["nurse", "admin"])
    assert hs_verifier().verify(token) == Viewer("u-1", "org-1", frozenset({"nurse", "admin"}))


def test_roles_may_be_absent():
    token = jwt.encode({k: v for k, v in claims().items() if k != "roles"}, SECRET)
    assert hs_verifier().verify(token).roles == frozenset()


@pytest.mark.parametrize(
    "token, reason",
    [
        (jwt.encode(claims(exp=int(time.time()) - 120), SECRET), "expired"),
        (jwt.encode(claims(), "another-secret-" + "y" * 40), "InvalidSignatureError"),
        (jwt.encode(claims(), SECRET, algorithm="HS384"), "InvalidAlgorithmError"),
        (jwt.encode(claims(), None, algorithm="none"), "invalid token"),
        (jwt.encode({k: v for k, v in claims().items() if k != "exp"}, SECRET), "MissingRequiredClaimError"),
        (jwt.encode({k: v for k, v in claims().items() if k != "sub"}, SECRET), "MissingRequiredClaimError"),
        (jwt.encode({k: v for k, v in claims().items() if k != "org"}, SECRET), "'org'"),
        (jwt.encode(claims(org=""), SECRET), "'org'"),
        (jwt.encode(claims(org="o" * 65), SECRET), "'org'"),
        (jwt.encode(claims(roles="nurse"), SECRET), "'roles'"),
        (jwt.encode(claims(roles=["nurse", 7]), SECRET), "'roles'"),
        ("not-a-token", "DecodeError"),
    ],
)
def test_a_bad_token_is_refused_with_a_reason(token, reason):
    with pytest.raises(AuthError, match=reason):
        hs_verifier().verify(token)


def test_a_verified_token_is_remembered_until_it_expires():
    verifier = hs_verifier(leeway_s=0)
    exp = int(time.time()) + 600
    token = jwt.encode(claims(exp=exp), SECRET)
    assert verifier.verify(token).user_id == "u-1"
    assert verifier.verify(token, now=exp - 1).user_id == "u-1"
    with pytest.raises(AuthError, match="expired"):
        verifier.verify(token, now=exp + 1)
    assert token not in verifier._verified  # dropped: from now on it meets the full check again


def test_a_remembered_token_does_not_vouch_for_a_forged_one():
    verifier = hs_verifier()
    good = jwt.encode(claims(), SECRET)
    verifier.verify(good)
    header, payload, signature = good.split(".")
    forged_payload = jwt.encode(claims(sub="u-2"), "another-secret-" + "y" * 40).split(".")[1]
    for forged in (f"{header}.{forged_payload}.{signature}", f"{header}.{payload}.{signature[:-2]}AA"):
        with pytest.raises(AuthError, match="invalid token"):
            verifier.verify(forged)


def test_the_cache_of_verified_tokens_is_bounded(monkeypatch):
    monkeypatch.setattr("api.auth._CACHE_MAX", 3)
    verifier = hs_verifier()
    for user in range(5):
        verifier.verify(jwt.encode(claims(sub=f"u-{user}"), SECRET))
    assert len(verifier._verified) == 3


def test_leeway_absorbs_small_clock_skew():
    token = jwt.encode(claims(exp=int(time.time()) - 10), SECRET)
    assert hs_verifier(leeway_s=30).verify(token).user_id == "u-1"


def test_audience_and_issuer_are_checked_when_configured():
    verifier = hs_verifier(audience="herald-api", issuer="https://idp.example")
    good = jwt.encode(claims(aud="herald-api", iss="https://idp.example"), SECRET)
    assert verifier.verify(good).user_id == "u-1"
    for bad in (
        claims(aud="other", iss="https://idp.example"),
        claims(iss="https://idp.example"),
        claims(aud="herald-api", iss="https://evil.example"),
    ):
        with pytest.raises(AuthError):
            verifier.verify(jwt.encode(bad, SECRET))


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_rs256_with_a_public_key_file(tmp_path, rsa_key):
    (tmp_path / "key.pem").write_text(_pem(rsa_key))
    settings = ApiSettings(env="prod", api_jwt_algorithm="RS256", api_jwt_public_key_file=tmp_path / "key.pem")
    settings.check_secure()
    verifier = TokenVerifier.from_settings(settings)
    assert verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256")).organization_id == "org-1"
    with pytest.raises(AuthError):  # an HS256 token "signed" with the public key: the classic confusion
        verifier.verify(jwt.encode(claims(), "x" * 64, algorithm="HS256"))


def test_rs256_with_a_jwks_file_picks_the_key_by_kid(tmp_path, rsa_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = {
        "keys": [
            json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())) | {"kid": kid, "use": "sig"}
            for kid, k in (("old", other), ("current", rsa_key))
        ]
    }
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    verifier = TokenVerifier.from_settings(
        ApiSettings(env="prod", api_jwt_algorithm="RS256", api_jwt_jwks_file=tmp_path / "jwks.json")
    )
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "current"})
    assert verifier.verify(token).user_id == "u-1"
    for headers in ({"kid": "old"}, {"kid": "unknown"}, {}):
        with pytest.raises(AuthError):
            verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256", headers=headers))


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(env="prod"), "HERALD_API_JWT_SECRET"),
        (dict(env="prod", api_jwt_secret=SecretStr(DEV_JWT_SECRET)), "HERALD_API_JWT_SECRET"),
        (dict(env="prod", api_jwt_secret=SecretStr("short")), "32 characters"),
        (dict(env="prod", api_jwt_algorithm="RS256"), "PUBLIC_KEY_FILE"),
        (dict(env="dev", api_jwt_algorithm="none"), "not supported"),
    ],
)
def test_unsafe_settings_are_refused_at_start_up(settings, message):
    with pytest.raises(InsecureSettings, match=message):
        ApiSettings(**settings).check_secure()


@pytest.mark.parametrize("settings", [dict(env="dev"), dict(env="prod", api_jwt_secret=SecretStr("s" * 32))])
def test_safe_settings_start(settings):
    ApiSettings(**settings).check_secure()


def test_the_environment_defaults_to_prod_and_the_secret_is_masked(monkeypatch):
    monkeypatch.delenv("HERALD_ENV", raising=False)
    monkeypatch.setenv("HERALD_API_JWT_SECRET", "s" * 40)
    settings = ApiSettings()
    assert settings.env == "prod" and "s" * 40 not in repr(settings)
