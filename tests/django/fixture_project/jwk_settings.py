"""A Django service that checks accountd's tokens without holding any secret
(issue 12): simplejwt verifies them against accountd's published JWK set.

    ACCOUNTD_JWK_URL   accountd's /.well-known/jwks.json
    ALGORITHM          EdDSA or RS256 (what ACCOUNTD_JWT_ALGORITHM says)
    AUDIENCE           optional: ACCOUNTD_JWT_AUDIENCE

What a team's settings.py holds to do the same is in accountd's README.
"""

import os

from .settings import *  # noqa: F401,F403 (the fixture project's apps and models)

# Nothing here is stored: the tokens say who the user is.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
ROOT_URLCONF = "fixture_project.jwk_urls"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # No user table lookup: the user is the token's `user_id`.
        "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

SIMPLE_JWT = {
    "ALGORITHM": os.environ["ALGORITHM"],
    "JWK_URL": os.environ["ACCOUNTD_JWK_URL"],
    "AUDIENCE": os.environ.get("AUDIENCE") or None,
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "token_type",
}
