// bench/floor.cpp — the machine's floors for the K-means and PCA benchmarks (bench/kmeans_pca_bench.py).
//
// Owns: the OpenBLAS dgemm rate (a large square product and the shapes K-means and PCA use) and the
// memory bandwidth (STREAM triad, and a pure read: PCA reads its input once), each at every thread
// count asked for. Prints one JSON line on stdout. Does not: use MPI or anything of omniseg, so a
// floor never depends on the code it judges.
//
// Threads: dgemm runs as one call with openblas_set_num_threads(T); the bandwidth kernels run on T
// std::threads, each on a contiguous slice of arrays it touched first. Every figure is the best of
// --repetitions timed runs after one untimed run (the machine is shared; the best run is the one
// least disturbed). Bytes: the triad counts 3 × 8 per element (two loads, one store; no
// write-allocate traffic), the read 8 per element.
//
// First touch: the rate at which one thread gets fresh anonymous memory from the kernel (a page
// fault and a zeroed page per 4 KiB), over --first-touch-mib, the best and the worst of the runs.
// Unlike bandwidth it is not a property of the chip: in a virtual machine a guest page the host has
// not backed (or took back) costs a host fault too, so the worst run can be several times the best.
//
//   omniseg_floor [--threads 1,2] [--repetitions 10] [--array-mib 256] [--square 2000]
//                 [--rows 65536] [--kmeans-d 32] [--kmeans-k 16,256] [--pca-d 64]
//                 [--first-touch-mib 2048]
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/mman.h>

extern "C" {
// Fortran dgemm (gfortran ABI: hidden lengths of the character arguments last).
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc, std::size_t transa_length, std::size_t transb_length);
// OpenBLAS only; weak, so the program still links (and says so) against another BLAS.
void openblas_set_num_threads(int threads) __attribute__((weak));
char* openblas_get_config() __attribute__((weak));
}

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<int> threads{1, 2};
  int repetitions = 10;
  std::int64_t array_mib = 256;  // per array; three arrays for the triad
  int square = 2000;
  int rows = 65536;  // rows of the tall dgemm shapes
  int kmeans_d = 32;
  std::vector<int> kmeans_k{16, 256};
  int pca_d = 64;
  std::int64_t first_touch_mib = 2048;
};

std::vector<int> parse_list(std::string_view text) {
  std::vector<int> values;
  while (!text.empty()) {
    const auto comma = text.find(',');
    values.push_back(std::stoi(std::string(text.substr(0, comma))));
    if (values.back() < 1) throw std::invalid_argument("list values must be >= 1");
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
  }
  if (values.empty()) throw std::invalid_argument("empty list");
  return values;
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::puts("omniseg_floor [--threads 1,2] [--repetitions 10] [--array-mib 256] [--square 2000]\n"
                "              [--rows 65536] [--kmeans-d 32] [--kmeans-k 16,256] [--pca-d 64]\n"
                "              [--first-touch-mib 2048]\n"
                "Prints one JSON line: dgemm GFLOP/s and STREAM triad / read GB/s per thread count,\n"
                "and the best and worst first-touch GB/s of one thread.");
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + std::string(flag));
    const std::string_view value = argv[++i];
    const auto positive = [&](std::int64_t parsed) {
      if (parsed < 1) throw std::invalid_argument(std::string(flag) + " must be >= 1");
      return parsed;
    };
    if (flag == "--threads") options.threads = parse_list(value);
    else if (flag == "--repetitions") options.repetitions = static_cast<int>(positive(std::stoi(std::string(value))));
    else if (flag == "--array-mib") options.array_mib = positive(std::stoll(std::string(value)));
    else if (flag == "--square") options.square = static_cast<int>(positive(std::stoi(std::string(value))));
    else if (flag == "--rows") options.rows = static_cast<int>(positive(std::stoi(std::string(value))));
    else if (flag == "--kmeans-d") options.kmeans_d = static_cast<int>(positive(std::stoi(std::string(value))));
    else if (flag == "--kmeans-k") options.kmeans_k = parse_list(value);
    else if (flag == "--pca-d") options.pca_d = static_cast<int>(positive(std::stoi(std::string(value))));
    else if (flag == "--first-touch-mib") options.first_touch_mib = positive(std::stoll(std::string(value)));
    else throw std::invalid_argument("unknown option " + std::string(flag));
  }
  return options;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Deterministic, cheap fill in [-1, 1): the values do not matter, only that they are not
// denormal, zero or NaN (which some kernels would short-cut).
void fill(std::vector<double>& values, std::uint64_t seed) {
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (double& value : values) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    value = static_cast<double>(state >> 11) * 0x1.0p-52 - 1.0;
  }
}

/// Best seconds of `repetitions` timed runs of `call` (after one untimed run). A run repeats the
/// call `inner` times, `inner` chosen so that a run takes at least ~50 ms.
double best_seconds(int repetitions, const std::function<void()>& call, int* inner_out = nullptr) {
  auto start = Clock::now();
  call();
  const double first = std::max(seconds_since(start), 1e-6);
  const int inner = std::clamp(static_cast<int>(0.05 / first), 1, 10000);
  double best = std::numeric_limits<double>::infinity();
  for (int repetition = 0; repetition < repetitions; ++repetition) {
    start = Clock::now();
    for (int i = 0; i < inner; ++i) call();
    best = std::min(best, seconds_since(start) / inner);
  }
  if (inner_out != nullptr) *inner_out = inner;
  return best;
}

struct GemmShape {
  // Column-major C[m×n] = op(A) op(B) with inner dimension k.
  char transa, transb;
  int m, n, k;
};

double dgemm_gflops(const GemmShape& shape, int repetitions) {
  const int a_rows = shape.transa == 'N' ? shape.m : shape.k, a_cols = shape.transa == 'N' ? shape.k : shape.m;
  const int b_rows = shape.transb == 'N' ? shape.k : shape.n, b_cols = shape.transb == 'N' ? shape.n : shape.k;
  std::vector<double> a(static_cast<std::size_t>(a_rows) * a_cols), b(static_cast<std::size_t>(b_rows) * b_cols),
      c(static_cast<std::size_t>(shape.m) * shape.n);
  fill(a, 1);
  fill(b, 2);
  const double alpha = 1.0, beta = 0.0;
  const double seconds = best_seconds(repetitions, [&] {
    dgemm_(&shape.transa, &shape.transb, &shape.m, &shape.n, &shape.k, &alpha, a.data(), &a_rows, b.data(), &b_rows,
           &beta, c.data(), &shape.m, 1, 1);
  });
  return 2.0 * shape.m * shape.n * shape.k / seconds / 1e9;
}

/// Runs `kernel(thread, begin, end)` on `threads` std::threads over [0, n) split in contiguous
/// slices, `repetitions` + 1 times; returns the best wall time of the timed runs (start and end are
/// barriers, so a run lasts until its slowest thread is done).
double best_parallel_seconds(int threads, int repetitions, std::size_t n,
                             const std::function<void(int, std::size_t, std::size_t)>& kernel) {
  std::barrier sync(threads);
  std::vector<double> run_seconds(static_cast<std::size_t>(repetitions) + 1);
  auto body = [&](int thread) {
    const std::size_t begin = n * thread / threads, end = n * (thread + 1) / threads;
    for (std::size_t run = 0; run < run_seconds.size(); ++run) {
      sync.arrive_and_wait();
      const auto start = Clock::now();
      kernel(thread, begin, end);
      sync.arrive_and_wait();
      if (thread == 0) run_seconds[run] = seconds_since(start);
    }
  };
  std::vector<std::jthread> workers;
  for (int thread = 1; thread < threads; ++thread) workers.emplace_back(body, thread);
  body(0);
  workers.clear();  // joins
  return *std::min_element(run_seconds.begin() + 1, run_seconds.end());
}

// Page-aligned arrays that are not zero-filled on allocation, so that the threads that use a slice
// touch it first.
struct FreeDeleter {
  void operator()(double* p) const { std::free(p); }
};
using Array = std::unique_ptr<double[], FreeDeleter>;
Array allocate(std::size_t n) {
  const std::size_t bytes = (n * sizeof(double) + 4095) / 4096 * 4096;
  auto* p = static_cast<double*>(std::aligned_alloc(4096, bytes));
  if (p == nullptr) throw std::bad_alloc();
  return Array(p);
}

struct Bandwidth {
  double triad_gb_s, read_gb_s;
};

Bandwidth measure_bandwidth(int threads, int repetitions, std::size_t n, int max_threads) {
  Array a = allocate(n), b = allocate(n), c = allocate(n);
  // First touch with the largest thread count's slices (one socket here; it matters on NUMA nodes).
  best_parallel_seconds(max_threads, 0, n, [&](int, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      a[i] = 0.0;
      b[i] = 1.0 + static_cast<double>(i % 7);
      c[i] = 0.5;
    }
  });
  const double scalar = 3.0;
  const double triad = best_parallel_seconds(threads, repetitions, n, [&](int, std::size_t begin, std::size_t end) {
    double* __restrict out = a.get();
    const double* __restrict x = b.get();
    const double* __restrict y = c.get();
    for (std::size_t i = begin; i < end; ++i) out[i] = x[i] + scalar * y[i];
  });
  std::vector<double> sums(static_cast<std::size_t>(threads) * 8);  // a cache line per thread
  const double read = best_parallel_seconds(threads, repetitions, n, [&](int thread, std::size_t begin, std::size_t end) {
    // Eight independent partial sums: the add latency must not bound a memory-bound loop.
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    const double* __restrict x = b.get();
    std::size_t i = begin;
    for (; i + 8 <= end; i += 8) {
      s0 += x[i];
      s1 += x[i + 1];
      s2 += x[i + 2];
      s3 += x[i + 3];
      s4 += x[i + 4];
      s5 += x[i + 5];
      s6 += x[i + 6];
      s7 += x[i + 7];
    }
    for (; i < end; ++i) s0 += x[i];
    sums[static_cast<std::size_t>(thread) * 8] = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  });
  // Check the kernels ran (and keep the compiler from dropping them).
  double total = 0;
  for (int thread = 0; thread < threads; ++thread) total += sums[static_cast<std::size_t>(thread) * 8];
  double expected = 0;
  for (std::size_t i = 0; i < n; ++i) expected += b[i];
  if (a[n / 2] != b[n / 2] + scalar * c[n / 2] || std::abs(total - expected) > 1e-9 * expected) {
    throw std::runtime_error("bandwidth kernels gave wrong results");
  }
  return {.triad_gb_s = 3.0 * 8.0 * static_cast<double>(n) / triad / 1e9,
          .read_gb_s = 8.0 * static_cast<double>(n) / read / 1e9};
}

struct FirstTouch {
  double best_gb_s, worst_gb_s;
};

/// Maps `bytes` of fresh anonymous memory, writes one byte per page, unmaps; `repetitions` times.
FirstTouch measure_first_touch(std::size_t bytes, int repetitions) {
  constexpr std::size_t page = 4096;
  double best = std::numeric_limits<double>::infinity(), worst = 0;
  for (int repetition = 0; repetition < repetitions; ++repetition) {
    const auto start = Clock::now();
    void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    auto* bytes_of = static_cast<volatile char*>(mapped);
    for (std::size_t offset = 0; offset < bytes; offset += page) bytes_of[offset] = 1;
    const double seconds = seconds_since(start);
    ::munmap(mapped, bytes);
    best = std::min(best, seconds);
    worst = std::max(worst, seconds);
  }
  return {.best_gb_s = static_cast<double>(bytes) / best / 1e9, .worst_gb_s = static_cast<double>(bytes) / worst / 1e9};
}

std::string json_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse(argc, argv);
    if (openblas_set_num_threads == nullptr) {
      std::fputs("omniseg_floor: not linked against OpenBLAS; cannot set BLAS threads\n", stderr);
      return 1;
    }
    const std::size_t array_elements = static_cast<std::size_t>(options.array_mib) * (1 << 20) / sizeof(double);
    const int max_threads = *std::max_element(options.threads.begin(), options.threads.end());
    std::string json = "{\"tool\":\"omniseg_floor\",\"openblas\":\"";
    json += openblas_get_config != nullptr ? openblas_get_config() : "?";
    json += "\",\"hardware_threads\":" + std::to_string(std::thread::hardware_concurrency());
    json += ",\"repetitions\":" + std::to_string(options.repetitions);
    json += ",\"array_bytes\":" + std::to_string(array_elements * sizeof(double));
    json += ",\"square\":" + std::to_string(options.square);
    json += ",\"rows\":" + std::to_string(options.rows) + ",\"results\":[";
    for (std::size_t t = 0; t < options.threads.size(); ++t) {
      const int threads = options.threads[t];
      openblas_set_num_threads(threads);
      const int dgemm_repetitions = std::max(3, options.repetitions / 2);
      const double square =
          dgemm_gflops({'N', 'N', options.square, options.square, options.square}, dgemm_repetitions);
      // K-means distances: row-major D[rows×k] = X[rows×d] · Cᵀ, i.e. column-major
      // Dᵀ[k×rows] = C[k×d] · Xᵀ with C and X stored row-major (how omniseg calls it).
      std::string kmeans = "[";
      for (std::size_t i = 0; i < options.kmeans_k.size(); ++i) {
        const int k = options.kmeans_k[i];
        const double rate = dgemm_gflops({'T', 'N', k, options.rows, options.kmeans_d}, dgemm_repetitions);
        if (i > 0) kmeans += ",";
        kmeans += "{\"k\":" + std::to_string(k);
        kmeans += ",\"d\":" + std::to_string(options.kmeans_d);
        kmeans += ",\"gflops\":" + json_number(rate) + "}";
      }
      kmeans += "]";
      // PCA-like: the Gram shape XᵀX of a tall block [rows×d] (2·rows·d² flops, as the QR's updates).
      const double gram = dgemm_gflops({'N', 'T', options.pca_d, options.pca_d, options.rows}, dgemm_repetitions);
      const Bandwidth bandwidth = measure_bandwidth(threads, options.repetitions, array_elements, max_threads);
      if (t > 0) json += ",";
      json += "{\"threads\":" + std::to_string(threads);
      json += ",\"dgemm_square_gflops\":" + json_number(square);
      json += ",\"dgemm_kmeans\":" + kmeans;
      json += ",\"dgemm_gram_gflops\":" + json_number(gram);
      json += ",\"gram_d\":" + std::to_string(options.pca_d);
      json += ",\"triad_gb_s\":" + json_number(bandwidth.triad_gb_s);
      json += ",\"read_gb_s\":" + json_number(bandwidth.read_gb_s) + "}";
    }
    json += "]";
    const FirstTouch touch =
        measure_first_touch(static_cast<std::size_t>(options.first_touch_mib) << 20, options.repetitions);
    json += ",\"first_touch_bytes\":" + std::to_string(static_cast<std::size_t>(options.first_touch_mib) << 20);
    json += ",\"first_touch_best_gb_s\":" + json_number(touch.best_gb_s);
    json += ",\"first_touch_worst_gb_s\":" + json_number(touch.worst_gb_s) + "}";
    std::puts(json.c_str());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "omniseg_floor: %s\n", error.what());
    return 1;
  }
}
