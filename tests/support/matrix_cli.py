"""What the end-to-end tests of the matrix commands (`omniseg pca`, `omniseg kmeans`) share: running
the command at a rank count, recording failed checks, and the bad-input check (exit code 3, a
message naming the problem, no output file)."""
import os
import subprocess


class MatrixCommandRunner:
    def __init__(self, args, work, command, timeout):
        self.args, self.work, self.failures = args, work, 0
        self.command, self.timeout = command, timeout

    def check(self, condition, what, done=None):
        if not condition:
            self.failures += 1
            print(f"FAIL: {what}" + (f"\n--- stderr ---\n{done.stderr[-3000:]}" if done else ""))
        return condition

    def run(self, ranks, spec, out, *options):
        command = self.args.mpiexec.split() + ["-n", str(ranks), self.args.omniseg, self.command, "--input", spec,
                                               "--output", out, *options]
        return subprocess.run(command, capture_output=True, text=True, timeout=self.timeout)

    def expect_error(self, name, spec, message, *options):
        out = os.path.join(self.work, name + ".h5")
        done = self.run(self.args.ranks[-1], spec, out, *options)
        self.check(done.returncode == 3, f"{name}: exit code {done.returncode}, expected 3", done)
        self.check(message in done.stderr, f"{name}: '{message}' not in stderr", done)
        self.check(not os.path.exists(out), f"{name}: an output file was written despite the error")
        print(f"ok: {name} -> error")
