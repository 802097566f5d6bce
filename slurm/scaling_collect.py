#!/usr/bin/python3
"""Collects a slurm/scaling.sh sweep and fits the cost model (usage: scaling_collect.py DIR).

Reads DIR/plan.tsv, every run's summary.json and DIR/doctor.json; writes
  DIR/scaling.csv          kind, ranks, size, customers, repeat, stage, seconds   (every run)
  DIR/scaling_medians.csv  kind, ranks, size, customers, stage, seconds (median), speedup, efficiency
  DIR/model.csv            scenario, stage, ranks, seconds: the MODEL's projection to 1,024 ranks
  DIR/strong_speedup.png, strong_efficiency.png, weak_efficiency.png, model_strong.png (gnuplot)

Stages group the job's phases (summary.json "phases", slowest rank): ingest, joins, features,
pca, kmeans, itemsets, rules, output, and total (the run's wall seconds).

The cost model, per stage, is   t(P) = W / P + S + L(P)   with
  L(P) = n_ar * a * ceil(log2 P)                  allreduces and broadcasts (tree depth)
       + n_a2a * a * (P - 1)                      all-to-all exchanges (one message per peer)
       + n_tree * (a + 8 d^2 / B) * ceil(log2 P)  the TSQR tree (a d x d factor per level)
where a (latency per message or tree step) and B (bytes/s per rank) come from `omniseg doctor`
on the sweep's largest rank count, n_* are the stage's collective calls per run (counted from the
code; the K-means ones scale with its iterations), and W (parallel work) and S (serial part) are
fitted by least squares on the measured strong-scaling medians after subtracting L. It is a model:
it knows nothing of contention, load imbalance, memory bandwidth shared within a node, or network
topology. A second scenario replaces the measured a and B by typical cluster-network values
(2 microseconds, 10 GB/s)."""
import csv
import json
import math
import os
import statistics
import subprocess
import sys

STAGES = {
    "ingest": ("customers", "items", "identity", "read_orders"),
    "joins": ("join_items", "join_identity"),
    "features": ("features", "baskets", "baskets_parse"),
    "pca": ("pca", "pca moments", "pca local qr", "pca tree + svd", "pca projection"),
    "kmeans": ("init", "assign", "update", "inertia", "quality", "profiles"),
    "itemsets": ("fim_item_counts", "fim_shard_exchange", "fim_mine", "fim_canonical_order"),
    "rules": ("rules_directory", "rules_generate", "rules_order", "rules_items"),
    "output": ("write", "checkpoint write", "checkpoint read"),
}
# Collective calls per run, by stage (allreduce-like, all-to-all, TSQR trees), from reading the
# code; K-means adds 3 allreduces per Lloyd iteration and 2 per k-means++ centre.
CALLS = {
    "ingest": (30, 8, 0), "joins": (12, 6, 0), "features": (12, 4, 0), "pca": (4, 1, 1),
    "kmeans": (10, 0, 0), "itemsets": (8, 3, 0), "rules": (8, 4, 0), "output": (20, 0, 0),
}
CLUSTER = {"latency_s": 2e-6, "bandwidth_bytes_per_s": 10e9}


def stage_times(summary):
    phases = {p["phase"]: p["max_s"] for p in summary["phases"]}
    times = {stage: sum(phases.get(name, 0.0) for name in names) for stage, names in STAGES.items()}
    times["total"] = summary["seconds"]
    return times


def latency_terms(stage, ranks, latency, bandwidth, iterations, k, d):
    n_ar, n_a2a, n_tree = CALLS[stage]
    if stage == "kmeans":
        n_ar += 3 * iterations + 2 * k
    depth = math.ceil(math.log2(ranks)) if ranks > 1 else 0
    return (n_ar * latency * depth + n_a2a * latency * (ranks - 1)
            + n_tree * (latency + 8.0 * d * d / bandwidth) * depth)


def fit_work_and_serial(points):
    """Least squares of y = W / P + S over (P, y); W, S >= 0."""
    if len(points) == 1:
        return max(points[0][1], 0.0), 0.0
    xs = [1.0 / p for p, _ in points]
    ys = [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    w = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else 0.0
    w = max(w, 0.0)
    s = max(my - w * mx, 0.0)
    return w, s


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def plot(out, name, title, ylabel, data_file, columns, logscale="", extra="", reference=""):
    lines = ", ".join(f"'{data_file}' using 1:{index} with linespoints title '{label}'"
                      for label, index in columns)
    if reference:
        lines += f", {reference} with lines dashtype 2 linecolor rgb 'gray' title 'ideal'"
    gnuplot(f"""set terminal pngcairo size 1000,600 noenhanced
set output '{os.path.join(out, name)}'
set title '{title}'
set xlabel 'ranks'
set ylabel '{ylabel}'
set key outside right
set grid
{logscale}
{extra}
plot {lines}
""")


def main():
    out = sys.argv[1]
    plan = [line.rstrip("\n").split("\t") for line in open(os.path.join(out, "plan.tsv")) if line.strip()]
    sizes = {row[0]: int(row[1]) for row in (line.split("\t") for line in open(os.path.join(out, "sizes.tsv")))}
    rows, missing = [], []
    iterations, k, d = [], 1, 1
    for kind, ranks, size, repeat in plan:
        path = os.path.join(out, "runs", f"{kind}-r{ranks}-{size}-{repeat}", "summary.json")
        if not os.path.exists(path):
            missing.append(path)
            continue
        summary = json.load(open(path))
        for stage, seconds in stage_times(summary).items():
            rows.append({"kind": kind, "ranks": int(ranks), "size": size, "customers": sizes[size],
                         "repeat": int(repeat), "stage": stage, "seconds": seconds})
        if kind == "strong":
            iterations.append(summary["quality"]["kmeans_iterations"])
            k = len(summary["segments"])
            d = len(summary["features"])
    if missing:
        print(f"scaling_collect: {len(missing)} runs have no summary, e.g. {missing[0]}", file=sys.stderr)
    if not rows:
        print("scaling_collect: no runs to collect", file=sys.stderr)
        return 1
    with open(os.path.join(out, "scaling.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    groups = {}
    for row in rows:
        groups.setdefault((row["kind"], row["ranks"], row["size"], row["customers"], row["stage"]), []).append(row["seconds"])
    medians = {key: statistics.median(values) for key, values in groups.items()}
    stages = list(STAGES) + ["total"]
    rank_counts = sorted({key[1] for key in medians})
    base = {(key[0], key[4]): value for key, value in medians.items() if key[1] == rank_counts[0]}
    with open(os.path.join(out, "scaling_medians.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["kind", "ranks", "size", "customers", "stage", "seconds", "speedup", "efficiency"])
        for key in sorted(medians):
            kind, ranks, size, customers, stage = key
            t1, t = base.get((kind, stage), 0.0), medians[key]
            relative = ranks / rank_counts[0]
            if kind == "strong":
                speedup = t1 / t if t > 0 else float("nan")
                efficiency = speedup / relative
            else:  # weak: the work grows with the ranks, so t(1) / t(P) is the efficiency
                efficiency = t1 / t if t > 0 else float("nan")
                speedup = efficiency * relative
            writer.writerow([kind, ranks, size, customers, stage, f"{t:.6f}", f"{speedup:.4f}", f"{efficiency:.4f}"])

    # Plot tables: one row per rank count, one column per stage.
    for kind, measure in (("strong", "speedup"), ("strong", "efficiency"), ("weak", "efficiency")):
        table = os.path.join(out, f"{kind}_{measure}.dat")
        with open(table, "w") as handle:
            handle.write("# ranks " + " ".join(stages) + "\n")
            for ranks in rank_counts:
                values = []
                for stage in stages:
                    key = next((key for key in medians if key[0] == kind and key[1] == ranks and key[4] == stage), None)
                    t, t1 = (medians[key] if key else float("nan")), base.get((kind, stage), float("nan"))
                    ratio = t1 / t if key and t > 0 else float("nan")
                    relative = ranks / rank_counts[0]
                    value = ratio if (measure == "speedup" or kind == "weak") else ratio / relative
                    values.append(f"{value:.4f}")
                handle.write(f"{ranks} " + " ".join(values) + "\n")
        ideal = "ideal(x) = x\n" if measure == "speedup" else "ideal(x) = 1\n"
        plot(out, f"{kind}_{measure}.png", f"omniseg run: {kind} scaling, {measure} per stage (medians)",
             measure, table, [(stage, i + 2) for i, stage in enumerate(stages)],
             extra=ideal + f"set xrange [{rank_counts[0]}:{rank_counts[-1]}]\nset xtics ({', '.join(map(str, rank_counts))})",
             reference="ideal(x)")

    # The model, fitted on the strong-scaling medians, projected to 1,024 ranks.
    doctor = json.load(open(os.path.join(out, "doctor.json")))
    doctor_ranks = max(2, int(doctor.get("ranks", 2)))
    measured = {"latency_s": doctor["allreduce_latency_us"] * 1e-6 / math.ceil(math.log2(doctor_ranks)),
                "bandwidth_bytes_per_s": doctor["alltoall_bandwidth_gb_per_s"] * 1e9}
    mean_iterations = statistics.fmean(iterations) if iterations else 0
    projection_ranks = [2 ** i for i in range(11)]
    model_rows = []
    fitted = {}
    for stage in stages[:-1]:
        points = []
        for (kind, ranks, _size, _customers, name), t in medians.items():
            if kind == "strong" and name == stage:
                lat = latency_terms(stage, ranks, measured["latency_s"], measured["bandwidth_bytes_per_s"],
                                    mean_iterations, k, d)
                points.append((ranks, t - lat))
        fitted[stage] = fit_work_and_serial(sorted(points))
    for scenario, parameters in (("measured", measured), ("cluster", CLUSTER)):
        for ranks in projection_ranks:
            total = 0.0
            for stage in stages[:-1]:
                work, serial = fitted[stage]
                t = work / ranks + serial + latency_terms(stage, ranks, parameters["latency_s"],
                                                          parameters["bandwidth_bytes_per_s"], mean_iterations, k, d)
                total += t
                model_rows.append([scenario, stage, ranks, f"{t:.6f}"])
            model_rows.append([scenario, "total", ranks, f"{total:.6f}"])
    with open(os.path.join(out, "model.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["scenario", "stage", "ranks", "seconds"])
        writer.writerows(model_rows)
    with open(os.path.join(out, "model_fit.json"), "w") as handle:
        json.dump({"measured": measured, "cluster": CLUSTER, "kmeans_iterations": mean_iterations, "k": k,
                   "features": d, "calls": CALLS,
                   "fit": {stage: {"work_s": w, "serial_s": s} for stage, (w, s) in fitted.items()}}, handle, indent=2)
    table = os.path.join(out, "model_strong.dat")
    with open(table, "w") as handle:
        handle.write("# ranks " + " ".join(f"{s}_{stage}" for s in ("measured", "cluster") for stage in stages) + "\n")
        by_key = {(row[0], row[1], row[2]): row[3] for row in model_rows}
        for ranks in projection_ranks:
            handle.write(f"{ranks} " + " ".join(by_key[(s, stage, ranks)] for s in ("measured", "cluster")
                                                for stage in stages) + "\n")
    cluster_columns = [(f"{stage} (cluster a, B)", len(stages) + i + 2) for i, stage in enumerate(stages)]
    plot(out, "model_strong.png", "MODEL, not measured: seconds per stage, strong scaling, "
         f"{sizes[next(key[2] for key in medians if key[0] == 'strong')]} customers",
         "seconds (model)", table, [("total (measured a, B)", len(stages) + 1)] + cluster_columns,
         logscale="set logscale xy", extra="set xrange [1:1024]")
    print(f"scaling_collect: {len(rows)} rows from {len(plan) - len(missing)} runs; plots and model in {out}")
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
