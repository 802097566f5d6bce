#!/usr/bin/python3
"""`omniseg kmeans` end to end: from the same initial centres with tol = 0, the same bytes (labels,
centroids, sizes, inertia) at every rank count and with every pruning mode; agreement with
scikit-learn's KMeans(algorithm="lloyd") (inertia within 1e-9 relative, labels identical except
exact ties, the same n_iter); k-means++ and k-means|| with restarts, the same at every rank count;
a k sweep; the edge cases that must give a correct result (k = 1, identical points, d = 1, fewer
rows than ranks, float32); and every bad input of the issue giving exit code 3 and a message that
names the problem."""
import json
import os
import sys
import tempfile

import h5py
import numpy as np
from sklearn.cluster import KMeans

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_args import parse_cli_test_args  # noqa: E402
from matrix_cli import MatrixCommandRunner  # noqa: E402


def blobs(n, d, centres, seed):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-10, 10, size=(centres, d))
    return means[rng.integers(0, centres, n)] + rng.normal(scale=1.5, size=(n, d))


class Runner(MatrixCommandRunner):
    def __init__(self, args, work):
        super().__init__(args, work, "kmeans", timeout=120)

    def fit(self, name, ranks, spec, *options):
        """Runs and returns (summary, datasets, attributes), or None after recording a failure."""
        out = os.path.join(self.work, f"{name}_np{ranks}.h5")
        done = self.run(ranks, spec, out, *options)
        if not self.check(done.returncode == 0, f"{name} at {ranks} ranks: exit code {done.returncode}", done):
            return None
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        self.check(len(lines) == 1, f"{name}: stdout must be exactly one JSON line, got {len(lines)}")
        summary = json.loads(lines[0])
        for key in ("command", "input", "ranks", "n", "d", "k", "inertia", "n_iter", "seconds", "seconds_per_iter",
                    "converged", "pruning", "phases", "peak_rss_bytes_max_rank"):
            self.check(key in summary, f"{name}: JSON summary lacks '{key}'")
        self.check("iteration 1:" in done.stderr, f"{name}: no per-iteration progress in the log", done)
        with h5py.File(out, "r") as f:
            group = f["/kmeans"]
            data = {key: group[key][...] for key in ("centroids", "labels", "sizes")}
            attributes = dict(group.attrs)
            self.check(group["centroids"].dtype == np.float64 and group["labels"].dtype == np.int32 and
                       group["sizes"].dtype == np.int64, f"{name}: dataset types")
            if "sweep" in group:
                data["sweep"] = {key: group["sweep"][key][...] for key in group["sweep"]}
        k, n = summary["k"], summary["n"]
        self.check(data["centroids"].shape == (k, summary["d"]), f"{name}: centroids shape")
        self.check(data["labels"].shape == (n,), f"{name}: labels shape")
        self.check(np.array_equal(data["sizes"], np.bincount(data["labels"], minlength=k)),
                   f"{name}: sizes do not count the labels")
        self.check(attributes["inertia"] == summary["inertia"] and attributes["n_iter"] == summary["n_iter"],
                   f"{name}: JSON and HDF5 attributes differ")
        return summary, data, attributes


def same_bytes(a, b):
    return all(np.asarray(a[key]).tobytes() == np.asarray(b[key]).tobytes() for key in ("centroids", "labels", "sizes"))


def expect_like_sklearn(run, name, x, init, fitted, max_iter=300):
    summary, data, _ = fitted
    reference = KMeans(n_clusters=len(init), init=init, n_init=1, tol=0, max_iter=max_iter,
                       algorithm="lloyd").fit(x)
    relative = abs(summary["inertia"] - reference.inertia_) / max(reference.inertia_, 1e-300)
    run.check(relative <= 1e-9 or abs(summary["inertia"] - reference.inertia_) <= 1e-12,
              f"{name}: inertia {summary['inertia']} vs scikit-learn {reference.inertia_} ({relative:.1e} relative)")
    run.check(summary["n_iter"] == reference.n_iter_,
              f"{name}: n_iter {summary['n_iter']} vs scikit-learn {reference.n_iter_}")
    differ = np.flatnonzero(data["labels"] != reference.labels_)
    centres = data["centroids"]
    for i in differ:  # allowed only where both centres are equally near
        a = np.sum((x[i] - centres[data["labels"][i]]) ** 2)
        b = np.sum((x[i] - centres[reference.labels_[i]]) ** 2)
        run.check(abs(a - b) <= 1e-12 * max(a, b), f"{name}: row {i} labelled {data['labels'][i]}, scikit-learn "
                                                   f"{reference.labels_[i]}, not a tie ({a} vs {b})")
    scale = max(np.abs(x).max(), 1.0)
    run.check(np.allclose(centres, reference.cluster_centers_, rtol=0, atol=1e-9 * scale),
              f"{name}: centroids differ from scikit-learn's")
    print(f"ok: {name} agrees with scikit-learn (n_iter {summary['n_iter']}, {len(differ)} tied labels)")


def main():
    args = parse_cli_test_args()
    with tempfile.TemporaryDirectory() as work:
        run = Runner(args, work)
        data = os.path.join(work, "data.h5")
        rng = np.random.default_rng(2024)
        x = blobs(20000, 8, 12, 1)
        init = x[rng.choice(len(x), 12, replace=False)]
        many = x[rng.choice(len(x), 80, replace=False)]  # k = 80: automatic pruning takes Yinyang
        column = blobs(1001, 1, 4, 2)
        tiny = blobs(3, 2, 2, 3)
        same = np.tile([[1.5, -2.25, 4.0]], (50, 1))
        with h5py.File(data, "w") as f:
            f["X"], f["C"], f["column"], f["tiny"], f["same"] = x, init, column, tiny, same
            f["C80"] = many
            f["X32"] = x[:3000].astype(np.float32)
            f["C32"] = init.astype(np.float32).astype(np.float64)
            f["group/nested"] = x[:500]
            f["wide_C"] = np.zeros((12, 9))
            f["vector"] = x[:, 0]
            f["cube"] = np.zeros((4, 3, 2))
            f["integers"] = np.arange(20).reshape(10, 2)
            bad = x[:60].copy()
            bad[37, 5] = np.nan
            f["nan"] = bad
            bad = x[:60].copy()
            bad[41, 2] = -np.inf
            f["inf"] = bad
            bad = x[:60].copy()
            bad[3, 1] = 1e200
            f["huge"] = bad
        spec = f"{data}:/X"
        fixed = ["--k", "12", "--init-centers", f"{data}:/C", "--tol", "0"]

        # The same bytes at every rank count (20000 rows: not divisible by 3).
        fits = {}
        for ranks in args.ranks:
            fitted = run.fit("blobs", ranks, spec, *fixed)
            if fitted:
                fits[ranks] = fitted
        first = fits.get(args.ranks[0])
        for ranks, fitted in fits.items():
            run.check(same_bytes(fitted[1], first[1]), f"blobs: {ranks} ranks differ from {args.ranks[0]} in bytes")
            run.check(fitted[2]["inertia"] == first[2]["inertia"] and fitted[0]["n_iter"] == first[0]["n_iter"],
                      f"blobs: inertia or n_iter differ at {ranks} ranks")
        print(f"ok: blobs identical at ranks {sorted(fits)}")
        if first:
            expect_like_sklearn(run, "blobs", x, init, first)
        # Every pruning mode gives the same bytes.
        for pruning in ("none", "hamerly", "yinyang"):
            fitted = run.fit(f"pruning_{pruning}", args.ranks[-1], spec, *fixed, "--pruning", pruning)
            if fitted and first:
                run.check(same_bytes(fitted[1], first[1]), f"--pruning {pruning} differs from auto")
                run.check(fitted[0]["pruning"]["mode"] == pruning, f"--pruning {pruning}: JSON says otherwise")
        if first:
            run.check(first[0]["pruning"]["hamerly_iterations"] > 0, "auto pruning never used Hamerly on blobs")
            run.check(first[0]["pruning"]["yinyang_iterations"] == 0, "auto pruning used Yinyang at k = 12")
        # k = 80: Yinyang's group bounds (automatic from 64 centres), the same bytes at every rank
        # count and as plain Lloyd, and scikit-learn's answer.
        many_fits = {}
        for ranks in args.ranks:
            fitted = run.fit("yinyang_blobs", ranks, spec, "--k", "80", "--init-centers", f"{data}:/C80", "--tol", "0")
            if fitted:
                many_fits[ranks] = fitted
        many_first = many_fits.get(args.ranks[0])
        for ranks, fitted in many_fits.items():
            run.check(same_bytes(fitted[1], many_first[1]),
                      f"k = 80: {ranks} ranks differ from {args.ranks[0]} in bytes")
        if many_first:
            run.check(many_first[0]["pruning"]["yinyang_iterations"] > 0, "auto pruning never used Yinyang at k = 80")
            plain = run.fit("yinyang_plain", args.ranks[-1], spec, "--k", "80", "--init-centers", f"{data}:/C80",
                            "--tol", "0", "--pruning", "none")
            if plain:
                run.check(same_bytes(plain[1], many_first[1]), "k = 80: Yinyang differs from plain Lloyd")
            expect_like_sklearn(run, "yinyang_blobs", x, many, many_first)
        print(f"ok: k = 80 (Yinyang) identical at ranks {sorted(many_fits)}")
        # A positive tolerance stops earlier, as an absolute bound on every centre's shift.
        fitted = run.fit("tolerance", args.ranks[-1], spec, "--k", "12", "--init-centers", f"{data}:/C", "--tol", "0.1")
        if fitted and first:
            run.check(fitted[0]["n_iter"] < first[0]["n_iter"] and fitted[0]["converged"], "--tol 0.1 did not stop early")

        # Random starts: the same at every rank count; restarts keep the lowest inertia (restart 0
        # is the single run's start, so two restarts can only do as well or better).
        for method, tag in (("k-means++", "plus_plus"), ("k-means||", "parallel")):
            options = ["--k", "12", "--init", method, "--seed", "7"]
            results = [run.fit(f"init_{tag}", ranks, spec, *options, "--n-init", "2")
                       for ranks in (args.ranks[0], args.ranks[-1])]
            single = run.fit(f"init_{tag}_single", args.ranks[-1], spec, *options)
            if all(results) and single:
                run.check(same_bytes(results[0][1], results[1][1]), f"--init {method}: differs across rank counts")
                run.check(results[0][0]["inertia"] <= single[0]["inertia"],
                          f"--init {method}: two restarts did worse than the first alone")
                reference = KMeans(n_clusters=12, n_init=4, random_state=0, algorithm="lloyd").fit(x).inertia_
                run.check(results[0][0]["inertia"] <= 2 * reference,
                          f"--init {method}: inertia {results[0][0]['inertia']} far above scikit-learn's {reference}")
                print(f"ok: --init {method} (inertia {results[0][0]['inertia']:.6g}, scikit-learn {reference:.6g})")

        # A sweep: per-k scores, the documented pick, and the picked k's clustering in /kmeans.
        fitted = run.fit("sweep", args.ranks[-1], spec, "--k", "10:13", "--seed", "3")
        if fitted:
            summary, found, _ = fitted
            sweep = summary.get("sweep", [])
            run.check([point["k"] for point in sweep] == [10, 11, 12, 13], "sweep: wrong k values")
            best = max(sweep, key=lambda point: (point["silhouette"], -point["k"]))
            run.check(summary["k"] == best["k"], f"sweep picked k {summary['k']}, the highest silhouette is at {best['k']}")
            run.check(list(found["sweep"]["k"]) == [10, 11, 12, 13] and
                      np.allclose(found["sweep"]["silhouette"], [p["silhouette"] for p in sweep]),
                      "sweep: /kmeans/sweep does not match the JSON")
            print(f"ok: sweep picked k = {summary['k']}")

        # Edge cases with a correct result.
        fitted = run.fit("k1", args.ranks[-1], spec, "--k", "1")
        if fitted:
            mean = x.mean(axis=0)
            run.check(np.allclose(fitted[1]["centroids"][0], mean, rtol=0, atol=1e-12), "k = 1: centroid is not the mean")
            run.check(np.isclose(fitted[0]["inertia"], ((x - mean) ** 2).sum(), rtol=1e-12), "k = 1: inertia")
        fitted = run.fit("same", args.ranks[-1], f"{data}:/same", "--k", "3")
        if fitted:
            run.check(fitted[0]["inertia"] == 0 and np.all(fitted[1]["centroids"] == same[0]),
                      "identical points: inertia must be 0 and every centroid the point")
        column_init = column[[0, 250, 500, 750]]
        with h5py.File(data, "a") as f:
            f["column_C"], f["tiny_C"] = column_init, tiny[:2]
        for name, values, centres in (("column", column, column_init), ("tiny", tiny, tiny[:2])):
            results = [run.fit(name, ranks, f"{data}:/{name}", "--k", str(len(centres)), "--init-centers",
                               f"{data}:/{name}_C", "--tol", "0") for ranks in args.ranks]
            if all(results):
                expect_like_sklearn(run, name, values, centres, results[0])
                run.check(all(same_bytes(r[1], results[0][1]) for r in results), f"{name}: differs across rank counts")
        fitted = run.fit("float32", args.ranks[-1], f"{data}:/X32", "--k", "12", "--init-centers", f"{data}:/C32",
                         "--tol", "0")
        if fitted:
            expect_like_sklearn(run, "float32", x[:3000].astype(np.float32).astype(np.float64),
                                init.astype(np.float32).astype(np.float64), fitted)
        run.fit("nested", args.ranks[-1], f"{data}:/group/nested", "--k", "3")

        # Bad input: exit code 3 and a message naming the problem.
        run.expect_error("nan", f"{data}:/nan", "row 37 column 5 is nan", "--k", "3")
        run.expect_error("inf", f"{data}:/inf", "row 41 column 2 is -inf", "--k", "3")
        run.expect_error("huge", f"{data}:/huge", "values up to 1e+150 in magnitude are supported", "--k", "3")
        run.expect_error("k_above_n", f"{data}:/tiny", "--k 4 exceeds the 3 points", "--k", "4")
        run.expect_error("k_zero", spec, "--k must be >= 1", "--k", "0")
        run.expect_error("k_negative", spec, "--k must be >= 1", "--k", "-2")
        run.expect_error("k_text", spec, "--k must be a positive integer K or a range A:B", "--k", "many")
        run.expect_error("k_backwards", spec, "--k range A:B needs A <= B", "--k", "9:4")
        run.expect_error("vector", f"{data}:/vector", "must be a 2-D matrix", "--k", "2")
        run.expect_error("cube", f"{data}:/cube", "must be a 2-D matrix", "--k", "2")
        run.expect_error("integers", f"{data}:/integers", "must hold float32 or float64", "--k", "2")
        run.expect_error("missing_file", os.path.join(work, "absent.h5") + ":/X", "absent.h5", "--k", "2")
        run.expect_error("missing_dataset", f"{data}:/absent", "no dataset '/absent'", "--k", "2")
        run.expect_error("no_dataset_in_spec", data, "must name an HDF5 file and a dataset", "--k", "2")
        run.expect_error("centres_rows", spec, "--init-centers", "--k", "11", "--init-centers", f"{data}:/C")
        run.expect_error("centres_columns", spec, "is 12 × 9, but --k 12 on the 20000 × 8 input needs 12 × 8",
                         "--k", "12", "--init-centers", f"{data}:/wide_C")
        run.expect_error("centres_missing", spec, "no dataset '/absent'", "--k", "12", "--init-centers",
                         f"{data}:/absent")
        run.expect_error("centres_restarts", spec, "--n-init 2 needs random initialisation", "--k", "12",
                         "--init-centers", f"{data}:/C", "--n-init", "2")
        run.expect_error("init_name", spec, "--init must be k-means++ or k-means||", "--k", "2", "--init", "random")
        run.expect_error("tol", spec, "--tol must be a finite number >= 0", "--k", "2", "--tol", "-1")
        run.expect_error("max_iter", spec, "--max-iter must be >= 1", "--k", "2", "--max-iter", "0")
        run.expect_error("n_init", spec, "--n-init must be >= 1", "--k", "2", "--n-init", "0")
        run.expect_error("pruning", spec, "--pruning must be auto, hamerly, yinyang or none", "--k", "2",
                         "--pruning", "elkan")

    if run.failures:
        print(f"{run.failures} check(s) failed")
        return 1
    print("all kmeans checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
