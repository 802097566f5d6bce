"""What the command-line tests share: counting failed checks (a test reports them all, then
fails), and running omniseg under the test's mpiexec."""
import subprocess

failures = 0


def check(condition, what, detail=""):
    """Counts and prints a failed check; returns the condition so callers can stop early."""
    global failures
    if not condition:
        failures += 1
        print(f"FAIL: {what}" + (f"\n{detail}" if detail else ""))
    return condition


def run_omniseg(args, ranks, *command, timeout=600):
    """`omniseg COMMAND...` on `ranks` ranks (args: parse_cli_test_args' --omniseg and --mpiexec)."""
    full = args.mpiexec.split() + ["-n", str(ranks), args.omniseg, *command]
    return subprocess.run(full, capture_output=True, text=True, timeout=timeout)
