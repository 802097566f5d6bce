#!/usr/bin/python3
"""`omniseg pca` end to end at 1-4 ranks: accuracy against numpy's LAPACK SVD of the centred
matrix (well- and ill-conditioned), agreement with scikit-learn's PCA(svd_solver="full") with and
without standardisation, every dataset of the model and the projection bit for bit the same at every
rank count (also with chunks of 16 rows, so that many chunks straddle rank boundaries), float32
input, ranks without rows, d = 1, and every bad input of the issue giving exit code 3 and a message
naming the problem."""
import json
import os
import sys
import tempfile

import h5py
import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_args import parse_cli_test_args  # noqa: E402
from matrix_cli import MatrixCommandRunner  # noqa: E402


def spectrum_matrix(n, d, largest, smallest, seed):
    """U diag(s) Vᵀ plus a column offset; U's columns are orthonormal and sum to zero."""
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, d))
    u, _ = np.linalg.qr(g - g.mean(axis=0))
    v, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s = np.geomspace(largest, smallest, d)
    return (u * s) @ v.T + rng.uniform(-50, 50, size=d)


class Runner(MatrixCommandRunner):
    def __init__(self, args, work):
        super().__init__(args, work, "pca", timeout=300)

    def fit(self, name, ranks, spec, components, *options):
        """Runs and returns (summary, model datasets), or None after recording a failure."""
        out = os.path.join(self.work, f"{name}_np{ranks}.h5")
        done = self.run(ranks, spec, out, "--components", str(components), *options)
        self.check(done.returncode == 0, f"{name} at {ranks} ranks: exit code {done.returncode}", done)
        if done.returncode != 0:
            return None
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        self.check(len(lines) == 1, f"{name}: stdout must be exactly one JSON line, got {len(lines)}")
        summary = json.loads(lines[0])
        for key in ("explained_variance", "explained_variance_ratio", "seconds"):
            self.check(key in summary, f"{name}: JSON summary lacks '{key}'")
        with h5py.File(out, "r") as f:
            model = {key: f["/pca/" + key][...] for key in f["/pca"]}
        self.check(np.array_equal(model["explained_variance"], np.array(summary["explained_variance"])),
                   f"{name}: JSON and HDF5 explained variance differ")
        return summary, model

    def expect_accurate(self, name, x, model, standardize=False):
        """The issue's criteria against numpy's LAPACK SVD of the centred (standardised) matrix."""
        centred = x - x.mean(axis=0)
        if standardize:
            deviation = centred.std(axis=0)
            centred = centred / np.where(deviation > 0, deviation, 1.0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        variance = s**2 / (len(x) - 1)
        total = variance.sum()
        got = model["explained_variance"]
        q = len(got)
        determined = variance[:q] >= 1e-6 * variance[0]  # singular value >= 1e-3 sigma_max
        relative = np.abs(got - variance[:q]) / variance[:q]
        self.check(np.all(relative[determined] <= 1e-10),
                   f"{name}: explained variance off by {relative[determined].max():.2e} relative")
        self.check(np.all(np.abs(got - variance[:q])[~determined] <= 1e-12 * total),
                   f"{name}: small explained variances off by more than 1e-12 of the total")
        self.check(np.allclose(model["explained_variance_ratio"], variance[:q] / total, rtol=1e-10, atol=1e-13),
                   f"{name}: explained variance ratio")
        gaps = np.full(q, np.inf)
        sigma = np.sqrt(variance)
        for i in range(q):
            if i > 0:
                gaps[i] = min(gaps[i], (sigma[i - 1] - sigma[i]) / sigma[i])
            if i + 1 < len(sigma):
                gaps[i] = min(gaps[i], (sigma[i] - sigma[i + 1]) / sigma[i])
        for i in np.flatnonzero(determined & (gaps >= 1e-3)):
            a, b = model["components"][i], vt[i]
            angle = min(np.linalg.norm(a - b), np.linalg.norm(a + b))
            self.check(angle <= 1e-9, f"{name}: component {i} is {angle:.2e} rad away from LAPACK's")
            self.check(a[np.argmax(np.abs(a))] > 0, f"{name}: component {i} breaks the sign convention")
        # The projection is the centred data in the components' axes.
        self.check(np.allclose(model["projection"], centred @ model["components"].T, rtol=1e-9,
                               atol=1e-9 * np.abs(centred).max()), f"{name}: projection")

    def expect_same_across_ranks(self, name, models):
        """Bit for bit: the chunk tree does not depend on the rank count."""
        first = models[0]
        for other in models[1:]:
            for key in sorted(first):
                same = key in other and first[key].dtype == other[key].dtype and \
                    first[key].shape == other[key].shape and first[key].tobytes() == other[key].tobytes()
                self.check(same, f"{name}: /pca/{key} is not bitwise the same at every rank count")


def main():
    args = parse_cli_test_args()
    with tempfile.TemporaryDirectory() as work:
        run = Runner(args, work)
        data = os.path.join(work, "data.h5")
        well = spectrum_matrix(3001, 16, 100.0, 1.0, 1)
        ill = spectrum_matrix(4003, 24, 1e4, 1e-4, 2)  # 8 decades
        tiny = spectrum_matrix(3, 2, 4.0, 1.0, 3)  # fewer rows than ranks
        column = np.arange(11.0).reshape(-1, 1) ** 1.5
        with h5py.File(data, "w") as f:
            f["well"], f["ill"], f["tiny"], f["column"] = well, ill, tiny, column
            f["well32"] = well.astype(np.float32)
            f["group/nested"] = well[:100]
            f["vector"] = well[:, 0]
            f["integers"] = np.arange(20).reshape(10, 2)
            f["cube"] = np.zeros((4, 3, 2))
            f["one_row"] = well[:1]
            bad = well[:50].copy()
            bad[37, 5] = np.nan
            f["nan"] = bad
            bad = well[:50].copy()
            bad[41, 2] = np.inf
            f["inf"] = bad

        cases = [("well", well, 16, []), ("ill", ill, 24, []), ("tiny", tiny, 2, []), ("column", column, 1, []),
                 ("standardized", well, 6, ["--standardize"]), ("ill_chunks16", ill, 24, ["--chunk-rows", "16"])]
        for name, x, q, options in cases:
            source = {"standardized": "well", "ill_chunks16": "ill"}.get(name, name)
            models = []
            for ranks in args.ranks:
                fitted = run.fit(name, ranks, f"{data}:/{source}", q, *options)
                if fitted is None:
                    continue
                models.append(fitted[1])
                run.expect_accurate(f"{name} at {ranks} ranks", x, fitted[1], standardize="--standardize" in options)
            if len(models) > 1:
                run.expect_same_across_ranks(name, models)
            print(f"ok: {name} ({len(models)} rank counts)")

        # scikit-learn, the tool users would otherwise run.
        ranks = args.ranks[-1]
        for standardize in (False, True):
            options = ["--standardize"] if standardize else []
            fitted = run.fit(f"sklearn_{standardize}", ranks, f"{data}:/well", 5, *options)
            x = StandardScaler().fit_transform(well) if standardize else well
            reference = PCA(n_components=5, svd_solver="full").fit(x)
            if fitted:
                model = fitted[1]
                run.check(np.allclose(model["explained_variance"], reference.explained_variance_, rtol=1e-10),
                          f"sklearn (standardize={standardize}): explained variance")
                run.check(np.allclose(model["explained_variance_ratio"], reference.explained_variance_ratio_,
                                      rtol=1e-10), f"sklearn (standardize={standardize}): ratio")
                signs = np.sign(np.sum(model["components"] * reference.components_, axis=1))
                run.check(np.allclose(model["components"], reference.components_ * signs[:, None], atol=1e-10),
                          f"sklearn (standardize={standardize}): components")
                run.check(np.allclose(model["projection"], reference.transform(x) * signs, atol=1e-8),
                          f"sklearn (standardize={standardize}): projection")
                if standardize:
                    scaler = StandardScaler().fit(well)
                    run.check(np.allclose(model["scale"], scaler.scale_, rtol=1e-13), "scale against StandardScaler")
                    run.check(np.allclose(model["mean"], scaler.mean_, rtol=1e-13), "mean against StandardScaler")
                print(f"ok: agrees with scikit-learn (standardize={standardize})")

        # float32 input is read as float64: the same model as the float64 copy of those values.
        fitted = run.fit("float32", ranks, f"{data}:/well32", 4)
        if fitted:
            run.expect_accurate("float32", well.astype(np.float32).astype(np.float64), fitted[1])
            print("ok: float32")
        # The page-cache switch changes where the bytes go, never the model.
        default = run.fit("cache_default", ranks, f"{data}:/well", 4)
        through = run.fit("cache_off", ranks, f"{data}:/well", 4, "--bypass-page-cache", "false")
        if default and through:
            run.check(default[1].keys() == through[1].keys()
                      and all(np.array_equal(default[1][key], through[1][key]) for key in default[1]),
                      "--bypass-page-cache false: a different model")
            print("ok: --bypass-page-cache false")
        fitted = run.fit("nested", ranks, f"{data}:/group/nested", 3)
        if fitted:
            run.expect_accurate("nested dataset path", well[:100], fitted[1])

        spec = f"{data}:/well"
        run.expect_error("nan", f"{data}:/nan", "row 37 column 5 is nan", "--components", "2")
        run.expect_error("inf", f"{data}:/inf", "row 41 column 2 is inf", "--components", "2")
        run.expect_error("vector", f"{data}:/vector", "must be a 2-D matrix", "--components", "1")
        run.expect_error("cube", f"{data}:/cube", "must be a 2-D matrix", "--components", "1")
        run.expect_error("integers", f"{data}:/integers", "must hold float32 or float64", "--components", "1")
        run.expect_error("missing_file", os.path.join(work, "absent.h5") + ":/X", "absent.h5", "--components", "1")
        run.expect_error("missing_dataset", f"{data}:/absent", "absent", "--components", "1")
        run.expect_error("no_dataset_in_spec", data, "must name an HDF5 file and a dataset", "--components", "1")
        run.expect_error("zero_components", spec, "--components must lie in [1, min(rows, columns)] = [1, 16]",
                         "--components", "0")
        run.expect_error("too_many_components", spec, "--components must lie in [1, min(rows, columns)] = [1, 16]",
                         "--components", "17")
        run.expect_error("one_row", f"{data}:/one_row", "PCA needs at least 2 rows", "--components", "1")

    if run.failures:
        print(f"{run.failures} check(s) failed")
        return 1
    print("all pca checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
