#!/usr/bin/env python
"""Make the real-Django fixture the import tests start from (issue 9).

    python make_fixture.py DATABASE_URL

DATABASE_URL is sqlite://PATH or postgres://USER@HOST:PORT/NAME (the database
must exist; it should be empty). The script migrates it, creates one user per
password hasher Django ships that accountd verifies, plus one with an unusable
password, logs each in through simplejwt's TokenObtainPairView (real Django,
through its test Client), blacklists one refresh token through
TokenBlacklistView, and prints one JSON object on stdout:

    {"signing_key": "...", "user_table": "accounts_user", "versions": {...},
     "users": [{"id": 1, "username": "...", "password": "...", "hasher": "...",
                "hash": "<as stored>", "refresh": "...", "access": "...",
                "blacklisted": false, "email": "...", "first_name": "...",
                "last_name": "...", "is_active": true,
                "extra": {"phone_number": "...", "user_type": "...",
                          "date_of_birth": "YYYY-MM-DD", "gpa": "3.75"}}, ...]}

The unusable-password user has null tokens (Django refuses its login).
"""

import datetime
import decimal
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# (username, hasher, password, extra columns)
USERS = [
    ("pbkdf2_sha256_user", "pbkdf2_sha256", "correct horse pbkdf2 sha256",
     {"phone_number": "+12025550101", "user_type": "student",
      "date_of_birth": datetime.date(2000, 1, 15), "gpa": decimal.Decimal("3.75")}),
    ("pbkdf2_sha1_user", "pbkdf2_sha1", "correct horse pbkdf2 sha1",
     {"phone_number": "+12025550102", "user_type": "staff",
      "date_of_birth": datetime.date(1985, 6, 30), "gpa": None}),
    ("argon2_user", "argon2", "correct horse argon2 ünïcode",
     {"phone_number": "+12025550103", "user_type": "student",
      "date_of_birth": datetime.date(2001, 12, 31), "gpa": decimal.Decimal("4.00")}),
    ("bcrypt_sha256_user", "bcrypt_sha256", "correct horse bcrypt sha256 " + "x" * 80,
     {"phone_number": "+12025550104", "user_type": "student",
      "date_of_birth": None, "gpa": decimal.Decimal("2.50")}),
    ("bcrypt_user", "bcrypt", "correct horse bcrypt",
     {"phone_number": "+12025550105", "user_type": "staff",
      "date_of_birth": datetime.date(1970, 1, 1), "gpa": None}),
    ("scrypt_user", "scrypt", "correct horse scrypt",
     {"phone_number": "+12025550106", "user_type": "student",
      "date_of_birth": datetime.date(1999, 2, 28), "gpa": decimal.Decimal("0.05")}),
]
UNUSABLE = ("unusable_user", {"phone_number": None, "user_type": "student",
                              "date_of_birth": None, "gpa": None})
# Whose refresh token is blacklisted through TokenBlacklistView.
BLACKLISTED = "bcrypt_user"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixture.py DATABASE_URL")
    os.environ["DJANGO_DATABASE_URL"] = sys.argv[1]
    os.environ["DJANGO_SETTINGS_MODULE"] = "fixture_project.settings"
    sys.path.insert(0, HERE)

    import django
    django.setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings
    from django.utils.module_loading import import_string
    import rest_framework
    import rest_framework_simplejwt

    call_command("migrate", verbosity=0, interactive=False)
    User = get_user_model()
    client = Client()
    hasher_paths = {import_string(p).algorithm: p for p in settings.PASSWORD_HASHERS}

    def post(path, body):
        r = client.post(path, data=json.dumps(body), content_type="application/json")
        return r.status_code, json.loads(r.content or b"null")

    out = []
    for username, hasher, password, extra in USERS:
        user = User(username=username, email=f"{username}@example.com",
                    first_name=username.split("_")[0].title(), last_name="Imported", **extra)
        user.password = make_password(password, hasher=hasher)
        user.save()
        # Logged in with that hasher preferred, so Django's own upgrade on
        # login (to the first PASSWORD_HASHERS entry) leaves the hash as it is.
        with override_settings(PASSWORD_HASHERS=[hasher_paths[hasher]]):
            status, tokens = post("/api/token/", {"username": username, "password": password})
        if status != 200:
            sys.exit(f"login of {username} failed: {status} {tokens}")
        user.refresh_from_db()
        if not user.password.startswith(hasher + "$"):
            sys.exit(f"{username}: Django changed the hash to {user.password.split('$')[0]}")
        blacklisted = username == BLACKLISTED
        if blacklisted:
            status, body = post("/api/token/blacklist/", {"refresh": tokens["refresh"]})
            if status != 200:
                sys.exit(f"blacklisting {username}'s token failed: {status} {body}")
            status, body = post("/api/token/refresh/", {"refresh": tokens["refresh"]})
            if status != 401:
                sys.exit(f"a blacklisted token still refreshes: {status} {body}")
        out.append(described(user, password, hasher, tokens, blacklisted))

    username, extra = UNUSABLE
    user = User(username=username, email="", first_name="", last_name="", **extra)
    user.set_unusable_password()
    user.save()
    status, body = post("/api/token/", {"username": username, "password": ""})
    if status not in (400, 401):
        sys.exit(f"an unusable password logged in: {status} {body}")
    out.append(described(user, None, None, None, False))

    print(json.dumps({
        "signing_key": settings.SIMPLE_JWT["SIGNING_KEY"],
        "user_table": User._meta.db_table,
        "versions": {
            "django": django.get_version(),
            "djangorestframework": rest_framework.VERSION,
            "djangorestframework_simplejwt": rest_framework_simplejwt.__version__
            if hasattr(rest_framework_simplejwt, "__version__") else None,
        },
        "users": out,
    }, indent=1))


def described(user, password, hasher, tokens, blacklisted):
    user.refresh_from_db()
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
        "password": password,
        "hasher": hasher,
        "hash": user.password,
        "refresh": tokens and tokens["refresh"],
        "access": tokens and tokens["access"],
        "blacklisted": blacklisted,
        # As DRF renders them: dates as YYYY-MM-DD, decimals as strings.
        "extra": {
            "phone_number": user.phone_number,
            "user_type": user.user_type,
            "date_of_birth": user.date_of_birth and user.date_of_birth.isoformat(),
            "gpa": None if user.gpa is None else str(user.gpa),
        },
    }


if __name__ == "__main__":
    main()
