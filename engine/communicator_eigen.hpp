// engine/communicator_eigen.hpp — collectives over Eigen dense matrices and vectors.
//
// Kept apart from communicator.hpp so that layers without Eigen do not compile it.
#pragma once

#include <Eigen/Core>
#include <span>

#include "engine/communicator.hpp"

namespace omniseg::engine {

template <class Derived>
using PlainOf = Eigen::Matrix<typename Derived::Scalar, Derived::RowsAtCompileTime, Derived::ColsAtCompileTime>;

/// Element-wise reduction of an equally shaped matrix on every rank; every rank gets the result.
template <class Derived>
  requires Reducible<typename Derived::Scalar>
[[nodiscard]] PlainOf<Derived> allreduce(const Communicator& comm, const Eigen::MatrixBase<Derived>& local,
                                         ReduceOp op) {
  PlainOf<Derived> result = local;  // contiguous copy
  allreduce_in_place(comm, result, op);
  return result;
}

/// In-place element-wise reduction of a plain (contiguous) matrix.
template <class Derived>
  requires Reducible<typename Derived::Scalar>
void allreduce_in_place(const Communicator& comm, Eigen::PlainObjectBase<Derived>& matrix, ReduceOp op) {
  std::span<typename Derived::Scalar> data(matrix.data(), static_cast<std::size_t>(matrix.size()));
  comm.allreduce_in_place(data, op);
}

/// Element-wise reduction to `root`; other ranks get an empty (0-sized where dynamic) matrix.
template <class Derived>
  requires Reducible<typename Derived::Scalar>
[[nodiscard]] PlainOf<Derived> reduce(const Communicator& comm, const Eigen::MatrixBase<Derived>& local,
                                      ReduceOp op, int root = 0) {
  const PlainOf<Derived> contiguous = local;
  const auto reduced = comm.reduce(
      std::span<const typename Derived::Scalar>(contiguous.data(), static_cast<std::size_t>(contiguous.size())),
      op, root);
  PlainOf<Derived> result = contiguous;
  if (comm.rank() != root) {
    if constexpr (Derived::RowsAtCompileTime == Eigen::Dynamic || Derived::ColsAtCompileTime == Eigen::Dynamic) {
      result.resize(Derived::RowsAtCompileTime == Eigen::Dynamic ? 0 : Derived::RowsAtCompileTime,
                    Derived::ColsAtCompileTime == Eigen::Dynamic ? 0 : Derived::ColsAtCompileTime);
    }
    return result;
  }
  std::copy(reduced.begin(), reduced.end(), result.data());
  return result;
}

/// Root's matrix, shape included, on every rank.
template <class Derived>
void broadcast(const Communicator& comm, Eigen::PlainObjectBase<Derived>& matrix, int root = 0) {
  std::int64_t shape[2] = {matrix.rows(), matrix.cols()};
  comm.broadcast(std::span<std::int64_t>(shape), root);
  matrix.resize(shape[0], shape[1]);
  comm.broadcast(std::span<typename Derived::Scalar>(matrix.data(), static_cast<std::size_t>(matrix.size())), root);
}

}  // namespace omniseg::engine
