// algorithms/linalg/blas.hpp — the few BLAS/LAPACK routines omniseg calls, with C++ signatures.
//
// Owns: row-major GEMM on top of Fortran-order dgemm, the LAPACK QR kernels TSQR needs
// (dgeqrt/dtpqrt: blocked Householder with compact-WY T factors), and one BLAS thread per rank.
// Why BLAS and not Eigen's own GEMM: OpenBLAS selects AVX2/AVX-512 kernels at run time, so one
// portable build reaches the machine's dgemm rate; Eigen reaches it only when compiled for the CPU.
// Determinism: a BLAS call's result for one row depends on the call's shape and the row's position
// in it, never on the other rows' values; callers that need bit-identical rows across rank counts
// call it with the same shapes and positions (see algorithms/kmeans/assign.hpp).
#pragma once

#include <cstdint>

namespace omniseg::linalg {

enum class Op : char { none = 'N', transpose = 'T' };

/// Row-major C[m×n] = alpha · op(A) · op(B) + beta · C, leading dimensions in elements.
void gemm_row_major(Op op_a, Op op_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                    const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                    std::int64_t ldc);

/// Column-major QR of A[m×n] (m >= n) in place: R in the upper triangle, Householder vectors below,
/// T [nb×n] the compact-WY factors (LAPACK dgeqrt). Throws on a LAPACK error.
void geqrt(std::int64_t m, std::int64_t n, std::int64_t nb, double* a, std::int64_t lda, double* t,
           std::int64_t ldt);

/// Column-major QR of the stacked [R; B] where R [n×n] is upper triangular and B [m×n] is dense
/// above its last `l` rows, which are upper trapezoidal (LAPACK dtpqrt; l = 0: B dense, l = m = n:
/// B upper triangular): R is overwritten by the new triangle, B by the Householder vectors.
void tpqrt(std::int64_t m, std::int64_t n, std::int64_t nb, double* r, std::int64_t ldr, double* b,
           std::int64_t ldb, double* t, std::int64_t ldt, std::int64_t l = 0);

/// Makes the BLAS single-threaded in this process (one rank per core is the parallelism). A no-op
/// for a BLAS without a thread control we know.
void use_one_blas_thread();

}  // namespace omniseg::linalg
