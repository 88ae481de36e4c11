"""Check accountd's tokens as a service that trusts its JWK set would (issue 12).

    python check_jwks.py JWKS_URL ALGORITHM TOKEN [AUDIENCE]

Prints one JSON object:
- "pyjwt": the claims PyJWT verified with the key PyJWKClient found for the
  token's kid in the published set (or {"error": ...});
- "drf": status and body of a DRF view behind simplejwt configured with
  JWK_URL (fixture_project/jwk_settings.py), called with the token;
- "drf_tampered": the status that view gives the token with one character
  of its signature changed.
"""

import json
import os
import sys
from pathlib import Path

url, algorithm, token = sys.argv[1:4]
audience = sys.argv[4] if len(sys.argv) > 4 else ""

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "fixture_project.jwk_settings"
os.environ["ACCOUNTD_JWK_URL"] = url
os.environ["ALGORITHM"] = algorithm
os.environ["AUDIENCE"] = audience

import django  # noqa: E402

django.setup()

import jwt  # noqa: E402
from django.test import Client  # noqa: E402

out = {}
try:
    key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token)
    out["pyjwt"] = jwt.decode(
        token,
        key.key,
        algorithms=[algorithm],
        audience=audience or None,
        options={"verify_aud": bool(audience)},
    )
except Exception as e:  # the test prints what went wrong
    out["pyjwt"] = {"error": f"{type(e).__name__}: {e}"}

client = Client()
r = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
out["drf"] = {"status": r.status_code, "body": r.json()}
# A character inside the signature (the last one may hold only padding bits).
signed, signature = token.rsplit(".", 1)
i = len(signature) // 2
tampered = f"{signed}.{signature[:i]}{'A' if signature[i] != 'A' else 'B'}{signature[i + 1:]}"
out["drf_tampered"] = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {tampered}").status_code
print(json.dumps(out))
