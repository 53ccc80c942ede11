"""A small, real OpenID Connect provider for the tests, served over HTTP on 127.0.0.1 in a thread.

It speaks the parts of the protocol a relying party uses: the discovery document, a JWKS with an RSA key,
an authorization endpoint that signs in `provider.user` at once and redirects back with a code (PKCE S256
required), a token endpoint that checks the client's secret, the code, its redirect URI and the PKCE
verifier and issues an RS256 ID token, and a userinfo endpoint. `provider.tamper` bends one thing of the
next ID token (another signing key, issuer, audience, expiry, nonce) so that the tests can show ECC refuses
it; `provider.deny` makes the authorization endpoint answer `access_denied`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server


def _rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


class OidcProvider:
    def __init__(self, client_id: str = "ecc", client_secret: str = "s3cret-of-the-client",
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.key = _rsa_key("key-1")
        # Same key id, another key: only the signature check can tell the two apart.
        self.rogue_key = _rsa_key("key-1")
        self.redirect_uris: set[str] = set()
        self.user: dict = {"sub": "u-1", "preferred_username": "alice", "groups": ["ecc-admins"]}
        self.userinfo_only: dict = {}  # claims the userinfo endpoint adds (not in the ID token)
        self.tamper: dict = {}  # sign_with_rogue, iss, aud, exp_in, nonce: for the next ID token
        self.deny = False
        self.issued_id_tokens = 0
        self._codes: dict[str, dict] = {}
        self._access: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.app = self._build()
        self._server = make_server(host, port, self.app, threaded=True)
        self.port = self._server.server_port
        self.issuer = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> OidcProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    # ---- the protocol --------------------------------------------------------------------------------
    def _build(self) -> Flask:
        app = Flask("oidc-test-provider")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "profile", "email", "groups"],
            })

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize():
            args = request.args
            if args.get("client_id") != self.client_id or args.get("redirect_uri") not in self.redirect_uris:
                return jsonify({"error": "invalid_request", "detail": "unknown client or redirect_uri"}), 400
            back = args["redirect_uri"]
            state = args.get("state", "")
            if args.get("response_type") != "code" or "openid" not in args.get("scope", "").split():
                return redirect(f"{back}?{urlencode({'error': 'invalid_request', 'state': state})}")
            if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
                return redirect(f"{back}?{urlencode({'error': 'invalid_request', 'state': state})}")
            if self.deny:
                return redirect(f"{back}?{urlencode({'error': 'access_denied', 'state': state})}")
            code = secrets.token_urlsafe(24)
            with self._lock:
                self._codes[code] = {"redirect_uri": back, "nonce": args.get("nonce"),
                                     "challenge": args["code_challenge"], "user": dict(self.user),
                                     "at": time.time()}
            return redirect(f"{back}?{urlencode({'code': code, 'state': state})}")

        @app.post("/token")
        def token():
            if not self._client_ok():
                return jsonify({"error": "invalid_client"}), 401
            form = request.form
            with self._lock:
                grant = self._codes.pop(form.get("code", ""), None)  # a code works once
            if form.get("grant_type") != "authorization_code" or grant is None:
                return jsonify({"error": "invalid_grant"}), 400
            if form.get("redirect_uri") != grant["redirect_uri"] or time.time() - grant["at"] > 60:
                return jsonify({"error": "invalid_grant"}), 400
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
            if digest.decode() != grant["challenge"]:
                return jsonify({"error": "invalid_grant", "error_description": "PKCE"}), 400
            access = secrets.token_urlsafe(24)
            with self._lock:
                self._access[access] = grant["user"]
            return jsonify({"access_token": access, "token_type": "Bearer", "expires_in": 300,
                            "id_token": self._id_token(grant)})

        @app.get("/userinfo")
        def userinfo():
            header = request.headers.get("Authorization", "")
            user = self._access.get(header.removeprefix("Bearer ").strip()) if header.startswith("Bearer ") \
                else None
            if user is None:
                return jsonify({"error": "invalid_token"}), 401
            return jsonify({**self.userinfo_only, **user})

        return app

    def _client_ok(self) -> bool:
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            return (auth.username, auth.password) == (self.client_id, self.client_secret)
        return (request.form.get("client_id"), request.form.get("client_secret")) == (self.client_id,
                                                                                      self.client_secret)

    def _id_token(self, grant: dict) -> str:
        now = int(time.time())
        tamper = self.tamper
        claims = {**grant["user"], "iss": tamper.get("iss", self.issuer),
                  "aud": tamper.get("aud", self.client_id), "iat": now,
                  "exp": now + tamper.get("exp_in", 300), "auth_time": now}
        nonce = tamper.get("nonce", grant["nonce"])
        if nonce is not None:
            claims["nonce"] = nonce
        key = self.rogue_key if tamper.get("sign_with_rogue") else self.key
        self.issued_id_tokens += 1
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, key)

    def rotate_key(self) -> None:
        """A new signing key under a new key id, the old one withdrawn from the JWKS (a key rotation)."""
        number = int(self.key.kid.rsplit("-", 1)[1]) + 1
        self.key, self.rogue_key = _rsa_key(f"key-{number}"), _rsa_key(f"key-{number}")


def main() -> None:
    """Run the provider by hand, to try single sign-on against a local ECC:
    python tests/oidc_provider.py --port 8174 --redirect http://127.0.0.1:8164/auth/oidc/callback"""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8174)
    parser.add_argument("--redirect", action="append", required=True, help="an allowed redirect URI")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--groups", default="ecc-admins", help="comma-separated")
    parser.add_argument("--client-secret", default="s3cret-of-the-client")
    args = parser.parse_args()
    provider = OidcProvider(client_secret=args.client_secret, port=args.port)
    provider.redirect_uris.update(args.redirect)
    provider.user = {"sub": f"u-{args.user}", "preferred_username": args.user,
                     "groups": [g for g in args.groups.split(",") if g]}
    print(f"issuer {provider.issuer}  client id {provider.client_id}  secret {provider.client_secret}  "
          f"signs in {args.user} {provider.user['groups']}", flush=True)
    provider.start()._thread.join()


if __name__ == "__main__":
    main()
