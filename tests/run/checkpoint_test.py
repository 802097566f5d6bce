"""`omniseg run` checkpoints, preemption and faults, each compared with an uninterrupted run:

- with a checkpoint directory the results are those of a run without one, and a rerun resumes every
  stage from its checkpoint;
- SIGUSR1 to ONE rank in the middle of K-means stops every rank with exit code 75 after a checkpoint;
  the rerun (same rank count, and another rank count) resumes mid-K-means and every dataset of
  segmentation.h5 and every CSV equals the uninterrupted run's, bit for bit;
- a corrupt (bytes flipped) or truncated stage checkpoint, and a corrupt newest K-means progress
  file, are reported by name and the previous checkpoint is used; the result is still identical
  (also when PCA is recomputed from the integration checkpoint on another rank count);
- a changed setting invalidates only the stages it affects (the warning names the setting);
- kill -9 of one rank mid-K-means ends the job (no hang) and the rerun resumes from the last
  progress checkpoint, with the identical result;
- a checkpoint write that runs out of space (ulimit -f on the ranks) fails with a clear error, leaves
  no temporary file, and the previous checkpoints survive byte for byte and still resume;
- an input file deleted or truncated while the job runs ends it with exit code 3 and a message
  naming the file (the rejects are read back from the inputs at the end)."""
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import cli_checks  # noqa: E402
from cli_args import parse_cli_test_args  # noqa: E402
from cli_checks import check, run_omniseg  # noqa: E402

CSV_OUTPUTS = ("segments.csv", "segment_profiles.csv", "rules.csv", "rejects.csv")
SLOW_KMEANS = {"OMNISEG_TEST_KMEANS_ITERATION_SLEEP_MS": "150"}


def results(out):
    """Every dataset of segmentation.h5 (as bytes) and every CSV output."""
    found = {}
    with h5py.File(os.path.join(out, "segmentation.h5")) as h5:
        def visit(name, item):
            if isinstance(item, h5py.Dataset):
                found[name] = item[()].tobytes() if item.shape != () else bytes(item[()])
        h5.visititems(visit)
    for name in CSV_OUTPUTS:
        with open(os.path.join(out, name), "rb") as handle:
            found[name] = handle.read()
    return found


def check_same(reference, out, what):
    got = results(out)
    differing = sorted(name for name in reference if reference[name] != got.get(name))
    missing = sorted(set(reference) ^ set(got))
    check(not differing and not missing, f"{what}: results differ from the uninterrupted run",
          f"differing: {differing[:10]}, missing/extra: {missing[:10]}")


def rank_pids(launcher):
    """The omniseg processes started by the mpiexec process `launcher` (its descendants)."""
    children, names = {}, {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = open(stat).read()
        except OSError:
            continue
        pid = int(text.split(" ", 1)[0])
        name = text[text.index("(") + 1:text.rindex(")")]
        parent = int(text[text.rindex(")") + 2:].split()[1])
        children.setdefault(parent, []).append(pid)
        names[pid] = name
    found, todo = [], [launcher]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            if names.get(child) == "omniseg":
                found.append(child)
    return sorted(found)


def run_and_interrupt(args, ranks, command, trigger, action, env_extra, timeout=120):
    """Starts `omniseg COMMAND` on `ranks` ranks at log level info; once a line containing
    `trigger` appears on stderr, calls action(rank pids). Returns (exit code, stderr text)."""
    env = dict(os.environ, **env_extra)
    full = args.mpiexec.split() + ["-n", str(ranks), args.omniseg, *command]
    process = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines, fired = [], False
    deadline = time.monotonic() + timeout
    for line in process.stderr:
        lines.append(line)
        if not fired and trigger in line:
            fired = True
            action(rank_pids(process.pid))
        if time.monotonic() > deadline:
            break
    try:
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        lines.append("TEST: the job hung and was killed\n")
    check(fired, f"the trigger '{trigger}' never appeared (the job ended first)", "".join(lines)[-2000:])
    return process.returncode, "".join(lines)


def signal_last_rank(signal_number):
    def action(pids):
        if check(len(pids) >= 1, "no rank processes found under mpiexec"):
            os.kill(pids[-1], signal_number)
    return action


def file_digests(directory):
    return {name: hashlib.sha256(open(os.path.join(directory, name), "rb").read()).hexdigest()
            for name in sorted(os.listdir(directory))}


def flip_bytes_in_dataset(path, dataset):
    """Corrupts the middle of a contiguous dataset's stored bytes."""
    with h5py.File(path, "r") as h5:
        offset = h5[dataset].id.get_offset()
        size = h5[dataset].id.get_storage_size()
    with open(path, "r+b") as handle:
        handle.seek(offset + size // 2)
        data = handle.read(8)
        handle.seek(offset + size // 2)
        handle.write(bytes(b ^ 0x5A for b in data))


def main():
    args = parse_cli_test_args(__doc__)
    with tempfile.TemporaryDirectory(prefix="omniseg-checkpoint-") as tmp:
        data = os.path.join(tmp, "data")
        done = run_omniseg(args, 2, "--log-level", "warn", "generate", "--out", data, "--customers", "3000",
                           "--items", "300", "--orders", "60000", "--seed", "5", "--dirty-rate", "0.01")
        if not check(done.returncode == 0, "generate failed", done.stderr[-3000:]):
            return 1
        # K-means progress every 3 iterations (the config key; the directory comes from --checkpoint-dir).
        config = os.path.join(data, "job.toml")
        with open(config, "a") as handle:
            # Datasets from 64 KiB a rank bypass the page cache, so this small job's features do.
            handle.write("\n[checkpoint]\nkmeans_interval = 3\nbypass_page_cache_min_kib = 64\n")

        def run(ranks, out, checkpoints=None, extra_env=None, limit_file_kib=None):
            command = ["run", "--config", config, "--output", os.path.join(tmp, out)]
            if checkpoints:
                command += ["--checkpoint-dir", os.path.join(tmp, checkpoints)]
            env = dict(os.environ, **(extra_env or {}))
            full = args.mpiexec.split() + ["-n", str(ranks)]
            if limit_file_kib:
                # Only the ranks get the limit: mpiexec itself needs to write its session files.
                full += ["sh", "-c", f'ulimit -f {limit_file_kib}; exec "$0" "$@"']
            full += [args.omniseg, *command]
            return subprocess.run(full, capture_output=True, text=True, timeout=600, env=env)

        done = run(2, "reference")
        if not check(done.returncode == 0, "the uninterrupted run failed", done.stderr[-3000:]):
            return 1
        reference = results(os.path.join(tmp, "reference"))

        # 1. Checkpointing changes nothing; a rerun resumes every stage.
        done = run(2, "with-checkpoints", "full")
        check(done.returncode == 0, "the run with checkpoints failed", done.stderr[-3000:])
        check_same(reference, os.path.join(tmp, "with-checkpoints"), "with checkpoints")
        names = sorted(os.listdir(os.path.join(tmp, "full")))
        check(names == ["1-integrate.h5", "2-itemsets.h5", "3-rules.h5", "4-pca.h5", "5-kmeans.h5"],
              "the checkpoint directory does not hold one file per stage", str(names))
        with h5py.File(os.path.join(tmp, "full", "4-pca.h5")) as h5:
            check(h5.attrs["complete"] == 1 and h5.attrs["stage"] == b"pca" and h5.attrs["ranks"] == 2
                  and b"pca = components" in h5.attrs["fingerprint"]
                  and all("checksum" in h5[name].attrs for name in ("pca/components", "pca/mean")),
                  "4-pca.h5 lacks its attributes (complete, stage, ranks, fingerprint, checksums)")
        done = run(3, "resumed-all", "full")
        check(done.returncode == 0 and done.stderr.count("checkpoints: resumed") == 5,
              "a rerun on a finished checkpoint directory did not resume all five stages", done.stderr[-3000:])
        check_same(reference, os.path.join(tmp, "resumed-all"), "all stages resumed on 3 ranks")

        # 2. Preemption: SIGUSR1 to one rank mid-K-means; resume on the same and on another rank count.
        for resume_ranks in (2, 3):
            directory = f"preempted{resume_ranks}"
            code, log = run_and_interrupt(
                args, 2, ["run", "--config", config, "--output", os.path.join(tmp, directory + "-out"),
                          "--checkpoint-dir", os.path.join(tmp, directory)],
                "iteration 4:", signal_last_rank(signal.SIGUSR1), SLOW_KMEANS)
            check(code == 75 and "stopped by SIGUSR1 after K-means iteration" in log,
                  "SIGUSR1 mid-K-means did not stop the job with exit code 75", log[-2000:])
            files = sorted(os.listdir(os.path.join(tmp, directory)))
            progress = [name for name in files if name.startswith("kmeans-progress-")]
            check(1 <= len(progress) <= 2 and "5-kmeans.h5" not in files and not any(".tmp" in f for f in files),
                  "after the stop: expected one or two K-means progress files and no K-means result", str(files))
            if resume_ranks == 3:
                saved = os.path.join(tmp, "preempted-copy")
                shutil.copytree(os.path.join(tmp, directory), saved)
            done = run(resume_ranks, directory + "-resumed", directory)
            check(done.returncode == 0 and "resumed kmeans progress" in done.stderr,
                  f"the rerun on {resume_ranks} ranks did not resume K-means", done.stderr[-3000:])
            check_same(reference, os.path.join(tmp, directory + "-resumed"),
                       f"preempted on 2 ranks, resumed on {resume_ranks}")

        # 2b. k = 64: K-means runs Yinyang's group bounds, whose progress files hold the centre groups
        # and one lower bound per row and group; preempted on 2 ranks, resumed on 3 (re-sharded).
        config64 = os.path.join(data, "job64.toml")
        with open(config) as source, open(config64, "w") as target:
            target.write(re.sub(r"(?m)^k = \S+", "k = 64", source.read()))
        done = run_omniseg(args, 2, "run", "--config", config64, "--output", os.path.join(tmp, "reference64"))
        if check(done.returncode == 0, "the uninterrupted k = 64 run failed", done.stderr[-3000:]):
            reference64 = results(os.path.join(tmp, "reference64"))
            code, log = run_and_interrupt(
                args, 2, ["run", "--config", config64, "--output", os.path.join(tmp, "yinyang-out"),
                          "--checkpoint-dir", os.path.join(tmp, "yinyang")],
                "iteration 4:", signal_last_rank(signal.SIGUSR1), SLOW_KMEANS)
            check(code == 75 and "yinyang (" in log, "k = 64 did not run Yinyang until SIGUSR1 stopped it", log[-2000:])
            progress = sorted(name for name in os.listdir(os.path.join(tmp, "yinyang"))
                              if name.startswith("kmeans-progress-"))
            if check(progress, "no K-means progress file at k = 64"):
                with h5py.File(os.path.join(tmp, "yinyang", progress[-1])) as h5:
                    groups = h5["lloyd/centre_groups"][:]
                    bounds_shape = h5["lloyd/lower_bounds"].shape
                    check(groups.shape == (64,) and bounds_shape == (len(h5["lloyd/labels"]), groups.max() + 1)
                          and groups.max() >= 1,
                          "the k = 64 progress file lacks the centre groups or the rows x groups lower bounds")
            done = run_omniseg(args, 3, "run", "--config", config64, "--output", os.path.join(tmp, "yinyang-resumed"),
                               "--checkpoint-dir", os.path.join(tmp, "yinyang"))
            check(done.returncode == 0 and "resumed kmeans progress" in done.stderr,
                  "the k = 64 rerun on 3 ranks did not resume K-means", done.stderr[-3000:])
            check_same(reference64, os.path.join(tmp, "yinyang-resumed"), "k = 64 preempted on 2 ranks, resumed on 3")

        # 3. The newest progress file corrupt: reported, the older one resumes.
        progress = sorted(name for name in os.listdir(saved) if name.startswith("kmeans-progress-"))
        if check(len(progress) == 2, "expected two progress files to test the fallback", str(progress)):
            flip_bytes_in_dataset(os.path.join(saved, progress[-1]), "lloyd/labels")
            done = run(2, "fallback", "preempted-copy")
            check(done.returncode == 0 and f"cannot use {os.path.join(tmp, 'preempted-copy', progress[-1])}" in done.stderr
                  and "checksum" in done.stderr and f"resumed kmeans progress from "
                  f"{os.path.join(tmp, 'preempted-copy', progress[0])}" in done.stderr,
                  "a corrupt newest progress file was not reported and passed over", done.stderr[-3000:])
            check_same(reference, os.path.join(tmp, "fallback"), "resumed from the older progress file")

        # 4. A corrupt PCA checkpoint and a truncated integration checkpoint: reported, recomputed.
        corrupt = os.path.join(tmp, "corrupt")
        shutil.copytree(os.path.join(tmp, "full"), corrupt)
        flip_bytes_in_dataset(os.path.join(corrupt, "4-pca.h5"), "pca/components")
        done = run(3, "after-corrupt", "corrupt")  # PCA recomputed on another rank count: still the same bits
        check(done.returncode == 0 and "4-pca.h5" in done.stderr and "does not match its checksum" in done.stderr
              and "resumed integrate" in done.stderr and "resumed pca" not in done.stderr,
              "a corrupt 4-pca.h5 was not reported and recomputed from the integration checkpoint", done.stderr[-3000:])
        check_same(reference, os.path.join(tmp, "after-corrupt"), "after a corrupt PCA checkpoint, on 3 ranks")
        truncated = os.path.join(corrupt, "1-integrate.h5")
        os.truncate(truncated, os.path.getsize(truncated) // 2)
        done = run(2, "after-truncate", "corrupt")
        check(done.returncode == 0 and "cannot use" in done.stderr and "1-integrate.h5" in done.stderr
              and "resumed" not in done.stderr,
              "a truncated 1-integrate.h5 was not reported and everything recomputed", done.stderr[-3000:])
        check_same(reference, os.path.join(tmp, "after-truncate"), "after a truncated integration checkpoint")

        # 5. A changed rule threshold recomputes the rules only: integration, itemsets, PCA and K-means
        #    are kept (the rules' chain does not feed the customers').
        changed = os.path.join(data, "changed.toml")
        text = open(config).read().replace("min_confidence = 0.3", "min_confidence = 0.35")
        check(text != open(config).read(), "the generated config has no rules.min_confidence = 0.3 to change")
        with open(changed, "w") as handle:
            handle.write(text)
        shutil.copytree(os.path.join(tmp, "full"), os.path.join(tmp, "changed"))
        changed_run = run_omniseg(args, 2, "run", "--config", changed, "--output", os.path.join(tmp, "changed-out"),
                                  "--checkpoint-dir", os.path.join(tmp, "changed"))
        resumed = [stage for stage in ("integrate", "itemsets", "rules", "pca", "kmeans")
                   if f"checkpoints: resumed {stage} from" in changed_run.stderr]
        check(changed_run.returncode == 0 and resumed == ["integrate", "itemsets", "pca", "kmeans"]
              and "3-rules.h5" in changed_run.stderr and "rules = min_confidence" in changed_run.stderr,
              "a changed rule threshold did not keep the other four stages and recompute the rules, naming the "
              f"setting (resumed: {resumed})", changed_run.stderr[-3000:])

        # 6. kill -9 of one rank mid-K-means: the job ends, the rerun resumes from the last progress file.
        code, log = run_and_interrupt(
            args, 2, ["run", "--config", config, "--output", os.path.join(tmp, "killed-out"),
                      "--checkpoint-dir", os.path.join(tmp, "killed")],
            "kmeans-progress-000000003.h5", signal_last_rank(signal.SIGKILL), SLOW_KMEANS)
        check(code != 0 and "TEST: the job hung" not in log, "kill -9 of one rank did not end the job", log[-2000:])
        done = run(2, "killed-resumed", "killed")
        check(done.returncode == 0 and "resumed kmeans progress" in done.stderr,
              "the rerun after kill -9 did not resume K-means", done.stderr[-3000:])
        check_same(reference, os.path.join(tmp, "killed-resumed"), "after kill -9 of one rank")

        # 7. The disk fills during a checkpoint: clear error, nothing left behind, old checkpoints intact.
        before = file_digests(os.path.join(tmp, "full"))
        items = os.path.join(data, "items.csv")
        stamp = os.stat(items)
        os.utime(items, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))  # integration must run again
        # The first checkpoint written (the itemsets, ~10 KiB) does not fit.
        smallest_kib = min(os.path.getsize(os.path.join(tmp, "full", name)) for name in os.listdir(os.path.join(tmp, "full"))) // 1024
        done = run(2, "full-disk", "full", limit_file_kib=max(2, smallest_kib // 2))
        os.utime(items, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        check(done.returncode == 1 and "2-itemsets.h5.tmp" in done.stderr and "failed" in done.stderr
              and "Segmentation fault" not in done.stderr,
              "a checkpoint write beyond the file size limit did not fail cleanly", done.stderr[-3000:])
        after = file_digests(os.path.join(tmp, "full"))
        check(after == before, "the previous checkpoints changed (or a temporary file was left) after the failed write",
              f"before {sorted(before)}, after {sorted(after)}, changed "
              f"{sorted(name for name in before if before[name] != after.get(name))}")
        done = run(2, "after-full-disk", "full")
        check(done.returncode == 0 and done.stderr.count("checkpoints: resumed") == 5,
              "the surviving checkpoints did not resume", done.stderr[-3000:])
        check_same(reference, os.path.join(tmp, "after-full-disk"), "resumed after a failed checkpoint write")

        # 7b. The same in the middle of the integration checkpoint's features, which each rank writes
        #     itself around the page cache: every rank stops with the same clear error.
        with h5py.File(os.path.join(tmp, "full", "1-integrate.h5")) as h5:
            features = h5["customers/features"].id
            middle_kib = (features.get_offset() + features.get_storage_size() // 2) // 1024
        shutil.copytree(os.path.join(tmp, "full"), os.path.join(tmp, "full-features"))
        os.utime(items, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 2_000_000_000))  # integration must run again
        done = run(2, "full-features-out", "full-features", limit_file_kib=middle_kib)
        os.utime(items, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        left = sorted(os.listdir(os.path.join(tmp, "full-features")))
        check(done.returncode != 0 and "1-integrate.h5.tmp" in done.stderr
              and "writing rows around the page cache failed on rank" in done.stderr
              and "File too large" in done.stderr and "Segmentation fault" not in done.stderr
              and not any(".tmp" in name for name in left),
              "a file size limit in the middle of the features did not fail cleanly (or left a temporary file)",
              f"exit {done.returncode}, files {left}: " + done.stderr[-3000:])

        # 8. An input deleted or truncated mid-run (during K-means): exit 3, the file named.
        for damage in ("deleted", "truncated"):
            copy = os.path.join(tmp, f"data-{damage}")
            shutil.copytree(data, copy)
            web = os.path.join(copy, "orders_web.csv")

            def damage_input(_pids, web=web, damage=damage):
                if damage == "deleted":
                    os.remove(web)
                else:
                    os.truncate(web, os.path.getsize(web) // 3)
            code, log = run_and_interrupt(
                args, 2, ["run", "--config", os.path.join(copy, "job.toml"), "--output", os.path.join(tmp, f"{damage}-out")],
                "iteration 2:", damage_input, SLOW_KMEANS)
            check(code == 3 and "orders_web.csv" in log.split("iteration 2:")[-1] and "TEST: the job hung" not in log,
                  f"an input file {damage} mid-run did not end the job with exit code 3 naming it", log[-2000:])
    print("checkpoint test: " + ("ok" if cli_checks.failures == 0 else f"{cli_checks.failures} failures"))
    return 0 if cli_checks.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
