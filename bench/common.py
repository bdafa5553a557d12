"""What bench/seed creates and bench/run, bench/load and bench/memory sign in with: one place for all."""

import re

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/ccd_bench"
BENCH_PASSWORD = "bench-password-2026"
BENCH_LOGINS = {
    "admin@bench.ccd": "Administrator", "coordinator@bench.ccd": "Coordinator", "analyst@bench.ccd": "Analyst",
    "manager@bench.ccd": "Manager", "leader@bench.ccd": "Leader", "staff@bench.ccd": "Staff",
}
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class SignedInClient:
    """A Flask test client signed in through the real sign-in form."""

    def __init__(self, app, email: str, password: str = BENCH_PASSWORD):
        self.http = app.test_client()
        page = self.http.get("/login").get_data(as_text=True)
        response = self.http.post("/login", data={"email": email, "password": password,
                                                  "csrf_token": CSRF.search(page).group(1)})
        if response.status_code != 302:
            raise SystemExit(f"Could not sign in as {email} (status {response.status_code}); run bench/seed first.")

    def get(self, path: str) -> None:
        response = self.http.get(path)
        body = response.get_data()
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}: {body[:300]!r}")

    def post(self, path: str, data: dict) -> None:
        """Submit the form at ``path`` with ``data`` and the page's own CSRF token."""
        token = CSRF.search(self.http.get(path).get_data(as_text=True)).group(1)
        response = self.http.post(path, data={**data, "csrf_token": token})
        if response.status_code != 200:
            raise SystemExit(f"POST {path} answered {response.status_code}: {response.get_data()[:300]!r}")


def memory_kib(field: str = "VmRSS") -> int:
    """This process's resident memory (``VmRSS``) or its peak so far (``VmHWM``), in KiB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def reset_peak_memory() -> bool:
    """Start this process's peak (``VmHWM``) again from its current size; False where Linux does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True
