"""A small Django project as the teams moving to accountd run them: a custom
user model with extra columns, DRF and djangorestframework-simplejwt with its
token blacklist. The import tests make their fixture with it (make_fixture.py).

The database comes from DJANGO_DATABASE_URL, in accountd's own spelling:
sqlite://PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/NAME.
"""

import os
from urllib.parse import unquote, urlsplit

# The key simplejwt signs with; the import tests give accountd the same one as
# ACCOUNTD_JWT_SECRET. 32 bytes or more, as accountd requires.
SIGNING_KEY = "accountd-import-fixture-signing-key-0123456789abcdef"


def database(url):
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):].split("?", 1)[0]
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DJANGO_DATABASE_URL: expected sqlite:// or postgres://, got {url!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


DATABASES = {"default": database(os.environ.get("DJANGO_DATABASE_URL", "sqlite://django.db"))}

SECRET_KEY = "accountd-import-fixture-django-secret-key"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "fixture_project.urls"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "accounts",
]
AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]

# Every hasher Django ships that issue 9 lists; the first is Django's default.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
}

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SIGNING_KEY,
    "ROTATE_REFRESH_TOKENS": False,
    "BLACKLIST_AFTER_ROTATION": False,
    "UPDATE_LAST_LOGIN": True,
}
