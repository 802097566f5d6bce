"""`omniseg run` end to end on generated data, every stage checked against an independent reference:

- the customers and their features are those of `omniseg integrate` on the same config;
- PCA: NumPy's SVD of the standardized features (components up to the sign convention, explained
  variance ratios, and the projections /customers/pca);
- K-means: the result is a fixed point of Lloyd (every customer's segment is its nearest centroid,
  every centroid is the mean of its customers' projections), sizes count the labels, and the
  segments recover the generator's planted latent segments (adjusted Rand index);
- profiles: the per-segment means of the features (original and standardized units) equal NumPy's;
- itemsets and rules: every support is a brute-force count over baskets.dat; every frequent item
  and pair is present; every rule's confidence, lift and leverage follow from brute-force supports,
  pass the thresholds, and every pair rule that passes them is present;
- segments.csv, segment_profiles.csv, rules.csv and every dataset of segmentation.h5 (PCA model and
  projections, K-means centroids and labels included) are the same bytes at every rank count;
- the input accounting adds up; bad configurations end with exit code 3 naming the key."""
import collections
import csv
import itertools
import json
import os
import sys
import tempfile

import h5py
import numpy as np
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import cli_checks  # noqa: E402
from cli_args import parse_cli_test_args  # noqa: E402
from cli_checks import check, run_omniseg  # noqa: E402

def run(args, ranks, *command, timeout=600):
    return run_omniseg(args, ranks, "--log-level", "warn", *command, timeout=timeout)


def sign_fixed(rows):
    """Each row flipped so that its entry of largest magnitude is positive (omniseg's convention)."""
    rows = np.array(rows, dtype=float)
    for r in rows:
        if r[np.argmax(np.abs(r))] < 0:
            r *= -1
    return rows


def check_pca(h5, features):
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    z = (features - mean) / scale
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    q = h5["/pca/components"].shape[0]
    check(np.allclose(h5["/pca/mean"][:], mean, rtol=1e-12, atol=1e-12), "PCA mean differs from NumPy's")
    check(np.allclose(h5["/pca/scale"][:], scale, rtol=1e-10), "PCA scale differs from NumPy's population std")
    ratio = s**2 / np.sum(s**2)
    check(np.allclose(h5["/pca/explained_variance_ratio"][:], ratio[:q], atol=1e-10),
          "explained variance ratios differ from NumPy's SVD", f"{h5['/pca/explained_variance_ratio'][:]} vs {ratio[:q]}")
    # Components are defined up to sign; compare where the singular values are well separated.
    expected = sign_fixed(vt[:q])
    got = h5["/pca/components"][:]
    for i in range(q):
        gap = min(abs(s[i] - s[j]) for j in range(len(s)) if j != i) / s[0]
        if gap > 1e-6:
            check(np.allclose(got[i], expected[i], atol=1e-8), f"PCA component {i} differs from NumPy's")
    check(np.allclose(h5["/customers/pca"][:], z @ got.T, atol=1e-9), "/customers/pca is not Z · componentsᵀ")


def check_kmeans(h5, truth_segments):
    x = h5["/customers/pca"][:]
    labels = h5["/customers/segment"][:]
    centroids = h5["/kmeans/centroids"][:]
    k = centroids.shape[0]
    sizes = np.bincount(labels, minlength=k)
    check(np.array_equal(h5["/segments/size"][:], sizes), "segment sizes do not count the labels")
    check(h5["/kmeans"].attrs["converged"] == 1, "K-means did not converge on the test data")
    distances = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    nearest = distances.min(axis=1)
    own = distances[np.arange(len(x)), labels]
    check(np.all(own <= nearest * (1 + 1e-9) + 1e-12), "a customer's segment is not its nearest centroid",
          f"{np.sum(own > nearest * (1 + 1e-9) + 1e-12)} customers")
    for j in range(k):
        if sizes[j] > 0:
            check(np.allclose(x[labels == j].mean(axis=0), centroids[j], rtol=1e-9, atol=1e-9),
                  f"centroid {j} is not the mean of its customers")
    ari = adjusted_rand_score(truth_segments, labels)
    print(f"adjusted Rand index against the planted segments: {ari:.3f}")
    # Chance gives 0. The planted segments differ in channel mix and category taste, while the
    # heavy-tailed spend and order counts also weigh in the standardized features (and the whales
    # take a segment of their own): 0.30 on this data. A clear margin above chance, not a target.
    check(ari > 0.2, f"segments do not recover the planted ones (adjusted Rand index {ari:.3f})")


def check_profiles(h5, features):
    labels = h5["/customers/segment"][:]
    k = h5["/segments/size"].shape[0]
    mean = h5["/pca/mean"][:]
    scale = h5["/pca/scale"][:]
    for j in range(k):
        members = features[labels == j]
        if len(members) == 0:
            continue
        expected = members.mean(axis=0)
        check(np.allclose(h5["/segments/centroid"][j], expected, rtol=1e-12, atol=1e-12),
              f"profile means of segment {j} differ from NumPy's")
        check(np.allclose(h5["/segments/centroid_standardized"][j], (expected - mean) / scale, rtol=1e-9, atol=1e-12),
              f"standardized profile of segment {j} differs")
    # The summary datasets: RFM means, channel mix and top categories, from NumPy's means.
    names = [n.decode() for n in h5["/segments/feature_names"][:]]
    member_means = np.array([features[labels == j].mean(axis=0) if np.any(labels == j) else np.zeros(features.shape[1])
                             for j in range(k)])
    for dataset, feature in (("mean_recency_days", "recency_days"), ("mean_frequency", "frequency"),
                             ("mean_monetary", "monetary")):
        check(np.allclose(h5[f"/segments/{dataset}"][:], member_means[:, names.index(feature)], rtol=1e-12),
              f"/segments/{dataset} differs from NumPy's per-segment means of {feature}")
    channels = [c.decode() for c in h5["/segments/channels"][:]]
    check(channels == [n[len("share_"):] for n in names if n.startswith("share_")], "/segments/channels is wrong")
    expected_mix = member_means[:, [names.index("share_" + c) for c in channels]]
    check(np.allclose(h5["/segments/channel_mix"][:], expected_mix, rtol=1e-12), "/segments/channel_mix differs")
    categories = [n for n in names if n.startswith("cat_")]
    for j in range(k):
        shares = [(member_means[j, names.index(c)], -i, c[len("cat_"):]) for i, c in enumerate(categories)]
        expected_top = [name for share, _, name in sorted(shares, reverse=True) if share > 0][:3]
        got = h5["/segments/top_categories"][j].decode()
        check(got == ";".join(expected_top), f"top categories of segment {j}: {got!r}, expected {expected_top}")


def read_baskets(path):
    with open(path) as handle:
        return [frozenset(int(t) for t in line.split()) for line in handle if line.strip()]


def check_itemsets_and_rules(h5, baskets, config_rules):
    n = len(baskets)
    min_support = int(h5["/fim"].attrs["min_support"])
    offsets = h5["/fim/offsets"][:]
    items = h5["/fim/items"][:]
    support = h5["/fim/support"][:]
    itemsets = {frozenset(int(i) for i in items[offsets[t]:offsets[t + 1]]): int(support[t]) for t in range(len(support))}
    check(len(itemsets) == len(support), "an itemset is reported twice")
    counts = collections.Counter()
    pair_counts = collections.Counter()
    for basket in baskets:
        counts.update(basket)
        pair_counts.update(frozenset(p) for p in itertools.combinations(sorted(basket), 2))
    frequent_items = {i for i, c in counts.items() if c >= min_support}
    frequent_pairs = {p for p, c in pair_counts.items() if c >= min_support}
    reported_items = {next(iter(s)) for s in itemsets if len(s) == 1}
    check(reported_items == frequent_items, "frequent items differ from a brute-force count",
          f"{len(reported_items)} reported, {len(frequent_items)} expected")
    check({s for s in itemsets if len(s) == 2} == frequent_pairs, "frequent pairs differ from a brute-force count")

    def brute_support(s):
        if len(s) == 1:
            return counts[next(iter(s))]
        if len(s) == 2:
            return pair_counts[s]
        return sum(1 for b in baskets if s <= b)

    wrong = [s for s, c in itemsets.items() if brute_support(s) != c]
    check(not wrong, f"{len(wrong)} itemset supports differ from a brute-force count")
    print(f"{n} baskets, {len(itemsets)} itemsets (min support {min_support})")

    def read_csr(name):
        o = h5[f"/rules/{name}_offsets"][:]
        v = h5[f"/rules/{name}_items"][:]
        return [frozenset(int(i) for i in v[o[t]:o[t + 1]]) for t in range(len(o) - 1)]

    antecedents, consequents = read_csr("antecedent"), read_csr("consequent")
    confidence, lift, leverage = h5["/rules/confidence"][:], h5["/rules/lift"][:], h5["/rules/leverage"][:]
    rules = set()
    for i, (x, y) in enumerate(zip(antecedents, consequents)):
        both = brute_support(x | y)
        conf = both / brute_support(x)
        expected_lift = conf / (brute_support(y) / n)
        check(abs(confidence[i] - conf) <= 1e-12 and abs(lift[i] - expected_lift) <= 1e-9 * expected_lift,
              f"rule {sorted(x)} -> {sorted(y)}: metrics differ from brute-force supports")
        check(abs(leverage[i] - (both / n - brute_support(x) / n * brute_support(y) / n)) <= 1e-12,
              f"rule {sorted(x)} -> {sorted(y)}: leverage differs")
        check(conf >= config_rules["min_confidence"] - 1e-12 and expected_lift >= config_rules["min_lift"] - 1e-9,
              f"rule {sorted(x)} -> {sorted(y)} fails the thresholds")
        rules.add((x, y))
    # Every rule between two frequent items that passes the thresholds is there.
    for pair in frequent_pairs:
        for a in pair:
            x, y = frozenset([a]), pair - {a}
            conf = pair_counts[pair] / counts[a]
            if conf >= config_rules["min_confidence"] and conf / (counts[next(iter(y))] / n) >= config_rules["min_lift"]:
                check((x, y) in rules, f"rule {sorted(x)} -> {sorted(y)} is missing")
    print(f"{len(rules)} rules checked")
    return len(rules)


def main():
    args = parse_cli_test_args(__doc__)
    with tempfile.TemporaryDirectory(prefix="omniseg-run-") as tmp:
        data = os.path.join(tmp, "data")
        done = run(args, 2, "generate", "--out", data, "--customers", "2000", "--items", "300", "--orders", "40000",
                   "--seed", "11", "--dirty-rate", "0.01")
        if not check(done.returncode == 0, "generate failed", done.stderr[-3000:]):
            return 1
        config = os.path.join(data, "job.toml")
        done = run(args, 2, "integrate", "--config", config, "--output", os.path.join(tmp, "integrated"))
        if not check(done.returncode == 0, "integrate failed", done.stderr[-3000:]):
            return 1
        with h5py.File(os.path.join(tmp, "integrated", "features.h5")) as f:
            ids = f["/customers/id"][:]
            features = f["/features/matrix"][:]
        with h5py.File(os.path.join(data, "truth.h5")) as f:
            truth = dict(zip(f["/customers/id"][:], f["/customers/segment"][:]))
        baskets = read_baskets(os.path.join(tmp, "integrated", "baskets.dat"))
        import tomllib
        with open(config, "rb") as handle:
            job = tomllib.load(handle)

        outputs = {}
        for ranks in args.ranks:
            out = os.path.join(tmp, f"run{ranks}")
            done = run(args, ranks, "run", "--config", config, "--output", out)
            if not check(done.returncode == 0, f"run at {ranks} ranks failed", done.stderr[-3000:]):
                continue
            line = json.loads(done.stdout.strip().splitlines()[-1])
            check(line["command"] == "run" and line["ranks"] == ranks, "the JSON line does not describe the run")
            check("segment 0:" in done.stderr and "top rules by lift" in done.stderr,
                  "the human summary (segments, top rules) is missing", done.stderr[-2000:])
            with h5py.File(os.path.join(out, "segmentation.h5")) as h5:
                check(np.array_equal(h5["/customers/id"][:], ids), f"{ranks} ranks: customers differ from integrate's")
                check(h5.attrs["ranks"] == ranks, "the ranks attribute is wrong")
                for key in ("config", "omniseg_version", "started", "finished"):
                    check(key in h5.attrs, f"segmentation.h5 lacks the attribute {key}")
                if ranks == args.ranks[0]:
                    check_pca(h5, features)
                    check_kmeans(h5, np.array([truth[i] for i in ids]))
                    check_profiles(h5, features)
                    rules = check_itemsets_and_rules(h5, baskets, job["rules"])
                    check(rules > 0, "no rules on data with planted co-purchases")
            summary = json.load(open(os.path.join(out, "summary.json")))
            for name, file in summary["accounting"].items():
                if isinstance(file, dict):
                    check(file["read"] == file["joined"] + file["anonymous"] + sum(file["rejected"].values()),
                          f"accounting of {name} does not add up")
            with open(os.path.join(out, "segments.csv")) as handle:
                rows = list(csv.reader(handle))
            check(rows[0] == ["customer_id", "segment"] and len(rows) == len(ids) + 1, "segments.csv has the wrong shape")
            outputs[ranks] = {name: open(os.path.join(out, name), "rb").read()
                              for name in ("segments.csv", "segment_profiles.csv", "rules.csv")}
            with h5py.File(os.path.join(out, "segmentation.h5")) as h5:
                datasets = []
                h5.visititems(lambda name, item: datasets.append(name) if isinstance(item, h5py.Dataset) else None)
                for name in datasets:
                    outputs[ranks]["segmentation.h5:/" + name] = h5[name][...].tobytes()
        first = args.ranks[0]
        for ranks, files in outputs.items():
            for name, content in files.items():
                check(content == outputs[first][name], f"{name} differs between {first} and {ranks} ranks")

        # Bad configurations: exit code 3 and the key named.
        for bad, key in (("[kmeans]\nk = 0\n", "kmeans.k"), ("[pca]\ncomponents = 99\n", "pca.components"),
                         ("[rules]\nmin_confidence = 2\n", "rules.min_confidence"),
                         ("[kmeans]\nflavour = 1\n", "kmeans.flavour"),
                         # more memory than any machine has: an error before any work
                         ("[engine]\nmemory_budget_mb = 1000000000\n", "engine.memory_budget_mb")):
            text = open(config).read()
            section = bad.split("\n")[0]
            # Drop the generated section so that the bad one is the only one.
            lines, skip = [], False
            for line in text.splitlines():
                if line.startswith("["):
                    skip = line == section
                if not skip:
                    lines.append(line)
            bad_config = os.path.join(data, "bad.toml")
            with open(bad_config, "w") as handle:
                handle.write("\n".join(lines) + "\n" + bad)
            done = run(args, 2, "run", "--config", bad_config, "--output", os.path.join(tmp, "bad"))
            check(done.returncode == 3 and key in done.stderr, f"bad config ({bad.strip()}) not reported with exit code 3 "
                  f"naming {key}", f"exit {done.returncode}: {done.stderr[-1500:]}")
    print("run job test: " + ("ok" if cli_checks.failures == 0 else f"{cli_checks.failures} failures"))
    return 0 if cli_checks.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
