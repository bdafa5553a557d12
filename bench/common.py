"""What bench/seed creates and bench/run and bench/load sign in with: one place for both."""

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/ccd_bench"
BENCH_PASSWORD = "bench-password-2026"
BENCH_LOGINS = {
    "admin@bench.ccd": "Administrator", "coordinator@bench.ccd": "Coordinator", "analyst@bench.ccd": "Analyst",
    "manager@bench.ccd": "Manager", "leader@bench.ccd": "Leader", "staff@bench.ccd": "Staff",
}
