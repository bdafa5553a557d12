"""How long a failed sign-in takes for an unknown email, a wrong password, an inactive and a locked account.

The answer must not tell them apart (user enumeration by timing). Runs the real sign-in
view with the production password hash (scrypt) against a throwaway SQLite database, or
the database in DATABASE_URL. Throttling is off and the lockout threshold high so every
request reaches the password check.

    .venv/bin/python bench/sign_in_timing.py [rounds]
"""

import os
import re
import secrets
import statistics
import sys
import tempfile
import time

import flask_migrate

from app import create_app
from app.extensions import db

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
PASSWORD = "Bench-sign-in-2026"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def main():
    workdir = tempfile.mkdtemp()
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or f"sqlite:///{workdir}/bench.sqlite3",
        "SECRET_KEY": secrets.token_hex(32), "RATELIMIT_ENABLED": False, "SIGN_IN_LOCKOUT_FAILURES": 10**6,
        "MAIL_OUTBOX_DIR": workdir,
    })
    with app.app_context():
        flask_migrate.upgrade()
        from app.services.accounts import create_or_update_user, ensure_roles
        ensure_roles()
        known = create_or_update_user("known@bench.example", ["Staff"], PASSWORD)
        inactive = create_or_update_user("inactive@bench.example", ["Staff"], PASSWORD)
        inactive.active = False
        locked = create_or_update_user("locked@bench.example", ["Staff"], PASSWORD)
        from datetime import datetime, timedelta, timezone
        from app import security
        from app.services.accounts import record_failed_sign_in
        with app.test_request_context():  # the test client's address, locked out of this account
            record_failed_sign_in(locked.user, datetime.now(timezone.utc), 1, timedelta(days=1),
                                  security.address_pseudonym())
        db.session.commit()
        print(f"password hash: {known.user.password_hash.split('$')[0]}, rounds: {ROUNDS}")

    cases = {
        "unknown email": ("nobody@bench.example", PASSWORD),
        "wrong password": ("known@bench.example", PASSWORD + "x"),
        "inactive account": ("inactive@bench.example", PASSWORD),
        "locked account": ("locked@bench.example", PASSWORD),
    }
    client = app.test_client()
    timings = {name: [] for name in cases}
    for _ in range(ROUNDS):
        for name, (email, password) in cases.items():
            token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
            started = time.perf_counter()
            response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
            timings[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 401, (name, response.status_code)
    for name, values in timings.items():
        print(f"{name:<18} median {statistics.median(values):7.1f} ms   p10 {sorted(values)[len(values) // 10]:7.1f}"
              f"   p90 {sorted(values)[len(values) * 9 // 10]:7.1f}")


if __name__ == "__main__":
    main()
