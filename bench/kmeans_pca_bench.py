#!/usr/bin/python3
"""Benchmark of `omniseg kmeans` and `omniseg pca` against scikit-learn and numpy, beside the floors.

K-means: Gaussian blobs 1,000,000 x 32 (16 true clusters), k = 16 and k = 256, 20 Lloyd iterations
from the same initial centres with tol = 0: scikit-learn KMeans(algorithm="lloyd") and "elkan"
(n_init=1) with as many threads as omniseg has ranks (threadpoolctl), and `mpiexec -n P omniseg
kmeans`. PCA: 4,000,000 x 64 with a decaying spectrum: scikit-learn PCA(svd_solver="full"), numpy
(centre, np.linalg.qr(mode="r"), np.linalg.svd of R), and `mpiexec -n P omniseg pca`. Floors from
bench/floor.cpp (`omniseg_floor`): K-means 2 n k d flops per iteration at the machine's large square
dgemm rate; PCA one read of the data at the measured read bandwidth plus 2 n d^2 flops at that rate.
Checks omniseg against scikit-learn (inertia within 1e-9 relative and identical labels except ties;
explained variances within 1e-10 relative). Times are medians of --runs runs; scikit-learn and numpy
are timed on data already in memory, omniseg's `seconds` include reading the HDF5 input.

The data are generated once with fixed seeds and cached in --work-dir (never in the repository).
If an omniseg command is missing or fails, its rows say so and the rest still runs.

    bench/kmeans_pca_bench.py --runs 3                 # full size (about 15 min on 2 idle cores)
    bench/kmeans_pca_bench.py --small --runs 1         # 50,000 / 200,000 rows, seconds
    bench/kmeans_pca_bench.py --generate-only          # only create and cache the data
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20261124
DATA_VERSION = 2  # bump when the generators change: cached files with another version are rebuilt
SIZES = {
    "full": {"blobs_n": 1_000_000, "blobs_d": 32, "true_clusters": 16, "ks": [16, 256],
             "pca_n": 4_000_000, "pca_d": 64},
    "small": {"blobs_n": 50_000, "blobs_d": 32, "true_clusters": 16, "ks": [16, 256],
              "pca_n": 200_000, "pca_d": 64},
}
MAX_ITER = 20
BLOB_STD = 4.0
INERTIA_RTOL = 1e-9
VARIANCE_RTOL = 1e-10
TIE_RTOL = 1e-12  # two squared distances this close (relative) count as a tie in the label check


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- data


def cached(path, attrs):
    """True when `path` exists, is complete and was made with these generator settings."""
    if not os.path.exists(path):
        return False
    try:
        with h5py.File(path, "r") as f:
            return bool(f.attrs.get("complete", False)) and all(
                f.attrs.get(key) == value for key, value in attrs.items())
    except OSError:
        return False


def write_atomically(path, attrs, fill):
    """Writes the file through `fill(h5file)` into a temporary name, marks it complete, renames."""
    temporary = path + ".part"
    with h5py.File(temporary, "w") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        fill(f)
        f.attrs["complete"] = True
    os.replace(temporary, path)


def make_blobs_file(path, size):
    from sklearn.cluster import kmeans_plusplus
    from sklearn.datasets import make_blobs
    n, d = size["blobs_n"], size["blobs_d"]
    attrs = {"generator": "sklearn.make_blobs+kmeans_plusplus", "version": DATA_VERSION, "seed": SEED,
             "n": n, "d": d, "true_clusters": size["true_clusters"], "cluster_std": BLOB_STD}
    if cached(path, attrs):
        return
    start = time.perf_counter()
    # cluster_std 4 in a (-10, 10)^32 box: the blobs overlap at their edges, so Lloyd keeps moving
    # labels for all 20 iterations at k = 16 (with std 1 it converges in 2 and a per-iteration time
    # would mostly be set-up).
    x, _ = make_blobs(n_samples=n, n_features=d, centers=size["true_clusters"], cluster_std=BLOB_STD,
                      center_box=(-10.0, 10.0), shuffle=True, random_state=SEED)
    x = np.ascontiguousarray(x, dtype=np.float64)
    centres = {}
    for k in size["ks"]:
        # Initial centres by k-means++ (fixed seed): fewer empty clusters than k random rows, whose
        # handling is where implementations may legitimately differ.
        centres[k], _ = kmeans_plusplus(x, k, random_state=SEED + k)

    def fill(f):
        f.create_dataset("X", data=x)  # no chunks or filters: contiguous layout
        for k, c in centres.items():
            f.create_dataset(f"C{k}", data=np.ascontiguousarray(c))
    write_atomically(path, attrs, fill)
    log(f"generated {path} ({n} x {d}, k-means++ centres for k = {size['ks']}) in "
        f"{time.perf_counter() - start:.1f} s")


def pca_spectrum(d):
    """Standard deviations of the latent factors: 10 * 0.85^j, a relative gap of 15% between
    neighbours, 4.5 decades from first to last; isotropic noise of 1e-3 on top."""
    return 10.0 * 0.85 ** np.arange(d), 1e-3


def make_pca_file(path, size):
    n, d = size["pca_n"], size["pca_d"]
    attrs = {"generator": "latent-factors", "version": DATA_VERSION, "seed": SEED, "n": n, "d": d}
    if cached(path, attrs):
        return
    start = time.perf_counter()
    rng = np.random.default_rng([SEED, 0])
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))  # a fixed orthogonal mixing matrix
    mean = rng.uniform(-50.0, 50.0, d)  # far from 0, so centring matters
    scales, noise = pca_spectrum(d)
    mixing = scales[:, None] * rotation.T  # X = Z diag(scales) Q^T + mean + noise
    block = 250_000

    def fill(f):
        dataset = f.create_dataset("X", shape=(n, d), dtype="f8")  # contiguous
        for index, first in enumerate(range(0, n, block)):
            rows = min(block, n - first)
            chunk_rng = np.random.default_rng([SEED, 1, index])
            z = chunk_rng.standard_normal((rows, d))
            x = z @ mixing + mean + noise * chunk_rng.standard_normal((rows, d))
            dataset[first:first + rows] = x
    write_atomically(path, attrs, fill)
    log(f"generated {path} ({n} x {d}) in {time.perf_counter() - start:.1f} s")


def read(path, name):
    with h5py.File(path, "r") as f:
        return np.ascontiguousarray(f[name][...])


# ---------------------------------------------------------------------------------------- floors


def floor_binary(args):
    """The omniseg_floor executable: --floor, else build/bench/omniseg_floor, else compiled here."""
    for candidate in [args.floor, os.path.join(REPO, "build", "bench", "omniseg_floor")]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    target = os.path.join(args.work_dir, "omniseg_floor")
    source = os.path.join(REPO, "bench", "floor.cpp")
    if os.access(target, os.X_OK) and os.path.getmtime(target) >= os.path.getmtime(source):
        return target
    command = ["g++", "-std=c++20", "-O2", "-pthread", source, "-o", target, "-lopenblas"]
    log("building the floor:", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        log(f"cannot build omniseg_floor:\n{done.stderr[-2000:]}")
        return None
    return target


def measure_floors(args):
    binary = floor_binary(args)
    if binary is None:
        return None
    command = [binary, "--threads", ",".join(map(str, args.ranks)),
               "--kmeans-k", ",".join(map(str, args.size["ks"])), "--kmeans-d", str(args.size["blobs_d"]),
               "--pca-d", str(args.size["pca_d"])]
    if args.small:
        command += ["--repetitions", "3", "--array-mib", "64", "--square", "1000"]
    log("floor:", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        log(f"omniseg_floor failed:\n{done.stderr[-2000:]}")
        return None
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["command"] = " ".join(command)
    report["by_threads"] = {r["threads"]: r for r in report["results"]}
    return report


def kmeans_floor_s(floors, threads, n, k, d):
    if floors is None or threads not in floors["by_threads"]:
        return None
    return 2.0 * n * k * d / (floors["by_threads"][threads]["dgemm_square_gflops"] * 1e9)


def pca_floor_s(floors, threads, n, d):
    if floors is None or threads not in floors["by_threads"]:
        return None
    r = floors["by_threads"][threads]
    return n * d * 8 / (r["read_gb_s"] * 1e9) + 2.0 * n * d * d / (r["dgemm_square_gflops"] * 1e9)


# --------------------------------------------------------------------------------------- omniseg


def omniseg_commands(binary):
    """The subcommands `omniseg --help` lists (empty when the executable is missing or broken)."""
    if not os.access(binary, os.X_OK):
        return set()
    done = subprocess.run([binary, "--help"], capture_output=True, text=True)
    section = done.stdout.split("Subcommands:", 1)
    return set(re.findall(r"^\s{2}(\w+)\s", section[1], re.M)) if len(section) == 2 else set()


def run_omniseg(args, ranks, arguments):
    """Runs `mpiexec -n ranks omniseg ARGUMENTS`; returns (wall seconds, JSON summary)."""
    command = ["mpiexec", "-n", str(ranks), "--oversubscribe", "--bind-to", "none", args.omniseg,
               "--log-level", "warn"] + arguments
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if len(lines) != 1:
        raise RuntimeError(f"{' '.join(command)}: expected one JSON line on stdout, got {len(lines)}")
    return wall, json.loads(lines[0]), " ".join(command)


def omniseg_cases(args, command_name, available, make_arguments):
    """For each rank count: median wall and summary of --runs runs, or why there is none."""
    results = {}
    for ranks in args.ranks:
        if command_name not in available:
            results[ranks] = {"status": "not available"}
            continue
        output = os.path.join(args.work_dir, f"out-{command_name}-p{ranks}.h5")
        try:
            walls, summaries = [], []
            for _ in range(args.runs):
                wall, summary, command = run_omniseg(args, ranks, make_arguments(output))
                walls.append(wall)
                summaries.append(summary)
            results[ranks] = {"status": "ok", "command": command, "output": output,
                              "wall_s": statistics.median(walls), "summaries": summaries}
        except (RuntimeError, ValueError, KeyError) as error:
            log(f"omniseg {command_name} at {ranks} ranks failed: {error}")
            results[ranks] = {"status": "failed", "error": str(error)}
    return results


def median_key(summaries, key):
    values = [s[key] for s in summaries if isinstance(s.get(key), (int, float))]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------------------- K-means


def sklearn_kmeans(x, centres, algorithm, threads, runs):
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits
    times, model = [], None
    with threadpool_limits(limits=threads):
        for _ in range(runs):
            model = KMeans(n_clusters=len(centres), init=centres, n_init=1, max_iter=MAX_ITER, tol=0.0,
                           algorithm=algorithm)
            start = time.perf_counter()
            model.fit(x)
            times.append(time.perf_counter() - start)
    fit_s = statistics.median(times)
    return {"fit_s": fit_s, "n_iter": int(model.n_iter_), "s_per_iter": fit_s / model.n_iter_,
            "inertia": float(model.inertia_), "labels": model.labels_, "centres": model.cluster_centers_}


def kmeans_agreement(x, reference, output):
    """omniseg's output file against scikit-learn lloyd: inertia, labels (ties excepted), centres."""
    with h5py.File(output, "r") as f:
        labels = f["kmeans/labels"][...].astype(np.int64)
        centroids = f["kmeans/centroids"][...]
        inertia = float(f["kmeans"].attrs["inertia"])
    relative = abs(inertia - reference["inertia"]) / abs(reference["inertia"])
    mismatched = np.flatnonzero(labels != reference["labels"])
    worst_gap = 0.0
    if mismatched.size:
        rows, c = x[mismatched], reference["centres"]
        d_ref = ((rows - c[reference["labels"][mismatched]]) ** 2).sum(axis=1)
        d_ours = ((rows - c[labels[mismatched]]) ** 2).sum(axis=1)
        worst_gap = float((np.abs(d_ref - d_ours) / np.maximum(np.maximum(d_ref, d_ours), 1e-300)).max())
    scale = np.abs(reference["centres"]).max()
    centre_error = float(np.abs(centroids - reference["centres"]).max() / scale) \
        if centroids.shape == reference["centres"].shape else float("inf")
    ok = relative <= INERTIA_RTOL and (mismatched.size == 0 or worst_gap <= TIE_RTOL)
    return {"ok": bool(ok), "inertia_relative_error": relative, "label_mismatches": int(mismatched.size),
            "worst_mismatch_distance_gap": worst_gap, "centroid_max_relative_error": centre_error,
            "labels": labels, "centroids": centroids}


def bench_kmeans(args, available, floors):
    size = args.size
    path = os.path.join(args.data_dir, "blobs.h5")
    x = read(path, "X")
    n, d = x.shape
    cases = []
    for k in size["ks"]:
        centres = read(path, f"C{k}")
        sklearn = {}
        for threads in args.ranks:
            for algorithm in ["lloyd", "elkan"]:
                log(f"kmeans k={k}: scikit-learn {algorithm}, {threads} thread(s)")
                sklearn[(algorithm, threads)] = sklearn_kmeans(x, centres, algorithm, threads, args.runs)
        # The reference for agreement: lloyd on one thread (its multi-threaded sums may differ in
        # the last bits from run to run).
        reference = sklearn[("lloyd", min(args.ranks))]

        def arguments(output, k=k):
            return ["kmeans", "--input", f"{path}:/X", "--k", str(k), "--init-centers", f"{path}:/C{k}",
                    "--max-iter", str(MAX_ITER), "--tol", "0", "--output", output]
        log(f"kmeans k={k}: omniseg")
        ours = omniseg_cases(args, "kmeans", available, arguments)
        first_labels = None
        for ranks, result in ours.items():
            if result["status"] != "ok":
                continue
            try:
                check = kmeans_agreement(x, reference, result["output"])
            except (OSError, KeyError) as error:
                result["agreement"] = {"ok": False, "error": str(error)}
                continue
            labels, centroids = check.pop("labels"), check.pop("centroids")
            if first_labels is None:
                first_labels = (ranks, labels, centroids)
            else:
                check["bitwise_equal_to_ranks"] = first_labels[0]
                check["bitwise_equal"] = bool(np.array_equal(labels, first_labels[1]) and
                                              centroids.tobytes() == first_labels[2].tobytes())
            result["agreement"] = check
        for threads in args.ranks:
            lloyd, elkan = sklearn[("lloyd", threads)], sklearn[("elkan", threads)]
            row = {"k": k, "n": n, "d": d, "ranks_threads": threads,
                   "sklearn_lloyd": {key: lloyd[key] for key in ["fit_s", "n_iter", "s_per_iter", "inertia"]},
                   "sklearn_elkan": {key: elkan[key] for key in ["fit_s", "n_iter", "s_per_iter", "inertia"]},
                   "floor_s_per_iter": kmeans_floor_s(floors, threads, n, k, d)}
            if floors is not None and threads in floors["by_threads"]:
                shape = {e["k"]: e["gflops"] for e in floors["by_threads"][threads]["dgemm_kmeans"]}
                if k in shape:
                    row["floor_at_kmeans_shape_rate_s_per_iter"] = 2.0 * n * k * d / (shape[k] * 1e9)
            result = ours.get(threads, {"status": "not run"})
            row["omniseg"] = {key: value for key, value in result.items() if key != "output"}
            if result["status"] == "ok":
                row["omniseg"]["s_per_iter"] = median_key(result["summaries"], "seconds_per_iter")
                row["omniseg"]["seconds"] = median_key(result["summaries"], "seconds")
                row["omniseg"]["n_iter"] = result["summaries"][-1].get("n_iter")
                row["omniseg"]["inertia"] = result["summaries"][-1].get("inertia")
            cases.append(row)
    return cases


# ------------------------------------------------------------------------------------------- PCA


def sklearn_pca(x, q, threads, runs):
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits
    times, model = [], None
    with threadpool_limits(limits=threads):
        for _ in range(runs):
            model = PCA(n_components=q, svd_solver="full")
            start = time.perf_counter()
            model.fit(x)
            times.append(time.perf_counter() - start)
    return {"fit_s": statistics.median(times), "explained_variance": model.explained_variance_.tolist(),
            "components": model.components_}


def numpy_qr_svd(x, threads, runs):
    from threadpoolctl import threadpool_limits
    times = []
    with threadpool_limits(limits=threads):
        for _ in range(runs):
            start = time.perf_counter()
            centred = x - x.mean(axis=0)
            r = np.linalg.qr(centred, mode="r")
            del centred
            _, s, vt = np.linalg.svd(r)
            times.append(time.perf_counter() - start)
    return {"s": statistics.median(times), "explained_variance": (s ** 2 / (x.shape[0] - 1)).tolist(),
            "components": vt}


def relative_errors(ours, reference):
    ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    return np.abs(ours - reference) / np.abs(reference)


def bench_pca(args, available, floors):
    path = os.path.join(args.data_dir, "pca.h5")
    x = read(path, "X")
    n, d = x.shape
    q = args.components
    sklearn, numpy_ = {}, {}
    for threads in args.ranks:
        log(f"pca: scikit-learn PCA(svd_solver='full'), {threads} thread(s)")
        sklearn[threads] = sklearn_pca(x, q, threads, args.runs)
        log(f"pca: numpy QR + SVD, {threads} thread(s)")
        numpy_[threads] = numpy_qr_svd(x, threads, args.runs)
    reference = sklearn[min(args.ranks)]
    numpy_vs_sklearn = float(relative_errors(numpy_[min(args.ranks)]["explained_variance"][:q],
                                             reference["explained_variance"]).max())

    def arguments(output):
        return ["pca", "--input", f"{path}:/X", "--components", str(q), "--output", output]
    log("pca: omniseg")
    ours = omniseg_cases(args, "pca", available, arguments)
    rows = []
    for threads in args.ranks:
        row = {"n": n, "d": d, "components": q, "ranks_threads": threads,
               "sklearn_full_s": sklearn[threads]["fit_s"], "numpy_qr_svd_s": numpy_[threads]["s"],
               "numpy_vs_sklearn_variance_relative_error": numpy_vs_sklearn,
               "floor_s": pca_floor_s(floors, threads, n, d)}
        result = ours.get(threads, {"status": "not run"})
        row["omniseg"] = {key: value for key, value in result.items() if key != "output"}
        if result["status"] == "ok":
            row["omniseg"]["seconds"] = median_key(result["summaries"], "seconds")
            # The fit alone (exact moments, local QR, tree and SVD; the slowest rank of each phase):
            # what scikit-learn's fit() and numpy do on data already in memory.
            fits = sorted(sum(phase["max_s"] for phase in summary["phases"] if phase["phase"].startswith("pca "))
                          for summary in result["summaries"])
            row["omniseg"]["fit_seconds"] = fits[len(fits) // 2]
            variance = result["summaries"][-1].get("explained_variance", [])[:q]
            errors = relative_errors(variance, reference["explained_variance"][:len(variance)])
            agreement = {"variance_relative_error_max": float(errors.max()) if errors.size else None,
                         "components_compared": int(errors.size)}
            try:
                with h5py.File(result["output"], "r") as f:
                    components = f["pca/components"][...]
                cosines = np.abs((components * reference["components"][:components.shape[0]]).sum(axis=1))
                agreement["components_max_1_minus_abs_cos"] = max(0.0, float((1.0 - cosines).max()))
            except (OSError, KeyError, ValueError) as error:
                agreement["components_error"] = str(error)
            agreement["ok"] = bool(errors.size == q and errors.max() <= VARIANCE_RTOL)
            row["omniseg"]["agreement"] = agreement
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------ report


def fmt(value, digits=3):
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def print_kmeans_table(cases):
    print("\n### K-means (seconds per iteration; 20 iterations, tol = 0, same initial centres)\n")
    print("| n x d | k | ranks = threads | omniseg s/iter | omniseg wall s | sklearn lloyd s/iter |"
          " sklearn elkan s/iter | n_iter omniseg / lloyd / elkan | omniseg / best sklearn |"
          " floor s/iter | omniseg / floor | agreement |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|")
    for row in cases:
        ours, lloyd, elkan = row["omniseg"], row["sklearn_lloyd"], row["sklearn_elkan"]
        best = min(lloyd["s_per_iter"], elkan["s_per_iter"])
        if ours["status"] == "ok":
            mine, wall, iters = ours["s_per_iter"], ours["wall_s"], ours.get("n_iter")
            check = ours.get("agreement", {})
            agreement = ("pass" if check.get("ok") else "FAIL") + \
                (f" (rel. inertia {check['inertia_relative_error']:.1e}, "
                 f"{check['label_mismatches']} label diffs)" if "inertia_relative_error" in check else "")
            if "bitwise_equal" in check:
                agreement += f", bitwise = {check['bitwise_equal_to_ranks']} rank: " + \
                    ("yes" if check["bitwise_equal"] else "NO")
            cells = [fmt(mine), fmt(wall), f"{iters} / {lloyd['n_iter']} / {elkan['n_iter']}",
                     fmt(ratio(mine, best), 2)]
            to_floor = ratio(mine, row["floor_s_per_iter"])
            # Triangle-inequality pruning skips distance computations, so it can beat the GEMM floor.
            tail = [fmt(to_floor, 2) + (" (below the GEMM floor)" if to_floor is not None and to_floor < 1 else ""),
                    agreement]
        else:
            cells = [f"omniseg: {ours['status']}", "", f"– / {lloyd['n_iter']} / {elkan['n_iter']}", ""]
            tail = ["", ""]
        print(f"| {row['n']:,} x {row['d']} | {row['k']} | {row['ranks_threads']} | {cells[0]} | {cells[1]} |"
              f" {fmt(lloyd['s_per_iter'])} | {fmt(elkan['s_per_iter'])} | {cells[2]} | {cells[3]} |"
              f" {fmt(row['floor_s_per_iter'])} | {tail[0]} | {tail[1]} |")


def print_pca_table(rows):
    print(f"\n### PCA (seconds; {rows[0]['components']} components)\n")
    print("| n x d | ranks = threads | omniseg fit s | omniseg s (with read, projection, write) | omniseg wall s |"
          " sklearn PCA full s | numpy QR+SVD s | omniseg fit / sklearn | omniseg fit / numpy | floor s |"
          " omniseg fit / floor | agreement |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        ours = row["omniseg"]
        if ours["status"] == "ok":
            mine = ours["fit_seconds"]
            check = ours.get("agreement", {})
            agreement = ("pass" if check.get("ok") else "FAIL") + \
                f" (variance rel. {fmt(check.get('variance_relative_error_max'), 2)}"
            if "components_max_1_minus_abs_cos" in check:
                agreement += f", 1-|cos| {fmt(check['components_max_1_minus_abs_cos'], 2)}"
            agreement += ")"
            cells = [fmt(mine) + " | " + fmt(ours["seconds"]), fmt(ours["wall_s"]), fmt(ratio(mine, row["sklearn_full_s"]), 2),
                     fmt(ratio(mine, row["numpy_qr_svd_s"]), 2), fmt(ratio(mine, row["floor_s"]), 2), agreement]
        else:
            cells = [f"omniseg: {ours['status']} | ", "", "", "", "", ""]
        print(f"| {row['n']:,} x {row['d']} | {row['ranks_threads']} | {cells[0]} | {cells[1]} |"
              f" {fmt(row['sklearn_full_s'])} | {fmt(row['numpy_qr_svd_s'])} | {cells[2]} | {cells[3]} |"
              f" {fmt(row['floor_s'])} | {cells[4]} | {cells[5]} |")


def print_floor_table(floors):
    print("\n### Floors (omniseg_floor; best of its repetitions)\n")
    if floors is None:
        print("floor: not available")
        return
    print(f"`{floors['command']}` — {floors['openblas']}\n")
    print("| threads | dgemm square GFLOP/s | dgemm K-means shape GFLOP/s | dgemm XᵀX shape GFLOP/s |"
          " triad GB/s | read GB/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in floors["results"]:
        shapes = ", ".join(f"k={e['k']}: {e['gflops']:.3g}" for e in r["dgemm_kmeans"])
        print(f"| {r['threads']} | {r['dgemm_square_gflops']:.3g} ({floors['square']}³) | {shapes}"
              f" ({floors['rows']} rows) | {r['dgemm_gram_gflops']:.3g} | {r['triad_gb_s']:.3g} |"
              f" {r['read_gb_s']:.3g} |")


# -------------------------------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--omniseg", default=os.path.join(REPO, "build", "omniseg"))
    parser.add_argument("--floor", help="omniseg_floor executable (default: build/bench/omniseg_floor, "
                        "else compiled into --work-dir with g++)")
    parser.add_argument("--work-dir", default="/tmp/omniseg-bench",
                        help="cached data and omniseg outputs (not in the repository)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2],
                        help="omniseg rank counts; scikit-learn and numpy get as many threads")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--components", type=int, default=8, help="PCA components Q")
    parser.add_argument("--only", choices=["kmeans", "pca"])
    parser.add_argument("--small", action="store_true", help="50,000-row blobs and 200,000-row PCA matrix")
    parser.add_argument("--generate-only", action="store_true", help="create the cached data and stop")
    parser.add_argument("--json", help="also write the JSON results to this file")
    args = parser.parse_args()
    if args.runs < 1 or min(args.ranks) < 1:
        parser.error("--runs and --ranks must be >= 1")
    args.size = SIZES["small" if args.small else "full"]
    args.data_dir = os.path.join(args.work_dir, "small" if args.small else "full")
    if os.path.commonpath([os.path.realpath(args.work_dir), REPO]) == REPO:
        parser.error("--work-dir must be outside the repository")
    os.makedirs(args.data_dir, exist_ok=True)
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")

    if args.only in (None, "kmeans"):
        make_blobs_file(os.path.join(args.data_dir, "blobs.h5"), args.size)
    if args.only in (None, "pca"):
        make_pca_file(os.path.join(args.data_dir, "pca.h5"), args.size)
    if args.generate_only:
        return 0

    import sklearn
    from threadpoolctl import threadpool_info
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('threading_layer', '')})"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    print("command:", " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]))
    print(f"started {started}; load average {os.getloadavg()[0]:.2f}; scikit-learn {sklearn.__version__}, "
          f"numpy {np.__version__}, BLAS {', '.join(blas) or '?'}; data in {args.data_dir}")
    available = omniseg_commands(args.omniseg)
    for name in ["kmeans", "pca"]:
        if args.only in (None, name) and name not in available:
            print(f"omniseg: not available ({args.omniseg} has no '{name}' command)")
    floors = measure_floors(args)
    results = {"command": sys.argv, "started": started, "size": args.size, "runs": args.runs,
               "sklearn": sklearn.__version__, "numpy": np.__version__, "blas": blas,
               "omniseg": args.omniseg, "floors": floors and {k: v for k, v in floors.items() if k != "by_threads"}}
    if args.only in (None, "kmeans"):
        results["kmeans"] = bench_kmeans(args, available, floors)
    if args.only in (None, "pca"):
        results["pca"] = bench_pca(args, available, floors)
    results["load_average_end"] = os.getloadavg()[0]

    print_floor_table(floors)
    if "kmeans" in results:
        print_kmeans_table(results["kmeans"])
    if "pca" in results:
        print_pca_table(results["pca"])
    print("\nsklearn s/iter = fit() time / n_iter_ (includes its input checks and final label pass); "
          "omniseg s/iter = its `seconds_per_iter`; omniseg s = its `seconds` (includes reading HDF5); "
          "wall = the whole mpiexec process. Floors use the square dgemm rate: K-means 2nkd flops per "
          "iteration, PCA 8nd bytes at the read bandwidth + 2nd² flops.")
    text = json.dumps(results, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o))
    print("\nJSON:", text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    # Exit 1 when omniseg ran and failed or disagreed; a missing command is not a failure.
    failed = [r for r in results.get("kmeans", []) + results.get("pca", [])
              if r["omniseg"]["status"] == "failed" or r["omniseg"].get("agreement", {}).get("ok") is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
