#include "algorithms/linalg/blas.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <limits>
#include <stdexcept>
#include <vector>

extern "C" {
// Fortran interfaces (gfortran ABI: trailing hidden lengths of character arguments).
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc, std::size_t transa_length, std::size_t transb_length);
void dgeqrt_(const int* m, const int* n, const int* nb, double* a, const int* lda, double* t, const int* ldt,
             double* work, int* info);
void dtpqrt_(const int* m, const int* n, const int* l, const int* nb, double* a, const int* lda, double* b,
             const int* ldb, double* t, const int* ldt, double* work, int* info);
// OpenBLAS only; weak, so another BLAS links too (and the call is skipped).
void openblas_set_num_threads(int threads) __attribute__((weak));
}

namespace omniseg::linalg {
namespace {

int as_blas_int(std::int64_t value, const char* what) {
  if (value < 0 || value > std::numeric_limits<int>::max()) {
    throw std::length_error(fmt::format("BLAS argument {} = {} does not fit the 32-bit BLAS interface", what, value));
  }
  return static_cast<int>(value);
}

void check_info(int info, const char* routine) {
  if (info != 0) throw std::runtime_error(fmt::format("LAPACK {} failed: info = {}", routine, info));
}

}  // namespace

void gemm_row_major(Op op_a, Op op_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                    const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                    std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  // Row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ: swap the operands, keep the ops.
  const char transa = static_cast<char>(op_b);
  const char transb = static_cast<char>(op_a);
  const int rows = as_blas_int(n, "n"), columns = as_blas_int(m, "m"), depth = as_blas_int(k, "k");
  const int ld_first = as_blas_int(ldb, "ldb"), ld_second = as_blas_int(lda, "lda"), ld_c = as_blas_int(ldc, "ldc");
  dgemm_(&transa, &transb, &rows, &columns, &depth, &alpha, b, &ld_first, a, &ld_second, &beta, c, &ld_c, 1, 1);
}

void geqrt(std::int64_t m, std::int64_t n, std::int64_t nb, double* a, std::int64_t lda, double* t,
           std::int64_t ldt) {
  const int rows = as_blas_int(m, "m"), columns = as_blas_int(n, "n"), block = as_blas_int(nb, "nb");
  const int ld_a = as_blas_int(lda, "lda"), ld_t = as_blas_int(ldt, "ldt");
  std::vector<double> work(static_cast<std::size_t>(nb * n));
  int info = 0;
  dgeqrt_(&rows, &columns, &block, a, &ld_a, t, &ld_t, work.data(), &info);
  check_info(info, "dgeqrt");
}

void tpqrt(std::int64_t m, std::int64_t n, std::int64_t nb, double* r, std::int64_t ldr, double* b,
           std::int64_t ldb, double* t, std::int64_t ldt, std::int64_t l) {
  const int rows = as_blas_int(m, "m"), columns = as_blas_int(n, "n"), block = as_blas_int(nb, "nb");
  const int ld_r = as_blas_int(ldr, "ldr"), ld_b = as_blas_int(ldb, "ldb"), ld_t = as_blas_int(ldt, "ldt");
  const int pentagonal_rows = as_blas_int(l, "l");
  std::vector<double> work(static_cast<std::size_t>(nb * n));
  int info = 0;
  dtpqrt_(&rows, &columns, &pentagonal_rows, &block, r, &ld_r, b, &ld_b, t, &ld_t, work.data(), &info);
  check_info(info, "dtpqrt");
}

void use_one_blas_thread() {
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(1);
}

}  // namespace omniseg::linalg
