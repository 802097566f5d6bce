// engine/communicator.hpp — the typed communicator every omniseg layer talks to.
//
// Owns: a private duplicate of an MPI communicator (so omniseg traffic never matches a user's
// messages), and typed collectives over spans of trivially copyable elements that return their
// results by value. Counts are 64-bit everywhere: messages beyond 2^31 elements or bytes are
// split into pieces below `CollectiveLimits::max_elements_per_call`, or carried point-to-point,
// transparently. Does not own: MPI start-up (engine/mpi_environment.hpp), error agreement
// (engine/error_agreement.hpp), Eigen overloads (engine/communicator_eigen.hpp).
//
// This header does not include <mpi.h>: only engine/ .cpp files see MPI.
#pragma once

#include <cstdint>
#include <memory>
#include <ranges>
#include <span>
#include <string>
#include <vector>

#include "engine/datatype.hpp"
#include "engine/exact_sum.hpp"

namespace omniseg::engine {

/// Limits on a single MPI call. The default is MPI's own: counts and displacements are C ints.
/// Tests lower it to drive the large-message paths with small data.
struct CollectiveLimits {
  std::uint64_t max_elements_per_call = 2147483647;  // INT_MAX
};

/// Received data together with how much came from each rank (in elements).
template <class T>
struct ReceivedBlocks {
  std::vector<T> data;                 ///< blocks in rank order
  std::vector<std::uint64_t> counts;   ///< counts[r] = elements that came from rank r
};

class Communicator {
 public:
  /// Collective over all processes: a private duplicate of MPI_COMM_WORLD.
  static Communicator world();

  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator();

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }
  [[nodiscard]] bool is_root() const { return rank_ == 0; }

  /// A new communicator over the same processes with its own message space (collective).
  [[nodiscard]] Communicator duplicate() const;

  [[nodiscard]] const CollectiveLimits& limits() const { return limits_; }
  void set_limits(const CollectiveLimits& limits);

  void barrier() const;

  // ---- broadcast -------------------------------------------------------------------------
  /// Broadcasts `data` (whose size must already be equal on every rank) from `root`.
  template <class T>
    requires Transportable<T>
  void broadcast(std::span<T> data, int root = 0) const {
    broadcast_raw(data.data(), data.size(), datatype_of<T>(), root);
  }
  template <TransportableValue T>
  void broadcast(T& value, int root = 0) const {
    broadcast(std::span<T>(&value, 1), root);
  }
  /// Broadcasts a vector; receivers are resized to the root's size.
  template <Transportable T>
  void broadcast(std::vector<T>& data, int root = 0) const {
    std::uint64_t count = data.size();
    broadcast(count, root);
    data.resize(count);
    broadcast(std::span<T>(data), root);
  }
  void broadcast(std::string& text, int root = 0) const;

  // ---- reductions ------------------------------------------------------------------------
  /// Element-wise reduction of equal-length ranges; every rank gets the result. A sum of
  /// floating-point values depends on the reduction order, hence on the rank count: results that
  /// must not depend on it reduce integers (exact) or values of fixed global blocks.
  template <TransportableRange R>
    requires Reducible<range_element_t<R>>
  [[nodiscard]] std::vector<range_element_t<R>> allreduce(const R& data, ReduceOp op) const {
    using T = range_element_t<R>;
    std::vector<T> result(std::ranges::size(data));
    allreduce_raw(std::ranges::data(data), result.data(), result.size(), datatype_of<T>(), op);
    return result;
  }
  template <Reducible T>
  [[nodiscard]] T allreduce(T value, ReduceOp op) const {
    T result{};
    allreduce_raw(&value, &result, 1, datatype_of<T>(), op);
    return result;
  }
  template <TransportableRange R>
    requires Reducible<range_element_t<R>>
  void allreduce_in_place(R& data, ReduceOp op) const {
    allreduce_raw(nullptr, std::ranges::data(data), std::ranges::size(data),
                  datatype_of<range_element_t<R>>(), op);
  }
  /// Element-wise sum of 128-bit integers (fixed-point images from engine/exact_sum.hpp); every
  /// rank gets the result. Exact, so the same bits on any number of ranks. Overflow wraps.
  void allreduce_exact_sum_in_place(std::span<Int128> data) const;

  /// Element-wise reduction to `root`; other ranks get an empty vector.
  template <TransportableRange R>
    requires Reducible<range_element_t<R>>
  [[nodiscard]] std::vector<range_element_t<R>> reduce(const R& data, ReduceOp op, int root = 0) const {
    using T = range_element_t<R>;
    std::vector<T> result(rank_ == root ? std::ranges::size(data) : 0);
    reduce_raw(std::ranges::data(data), result.data(), std::ranges::size(data), datatype_of<T>(), op, root);
    return result;
  }
  /// Reduction of one value to `root`; other ranks get T{}.
  template <Reducible T>
  [[nodiscard]] T reduce(T value, ReduceOp op, int root = 0) const {
    T result{};
    reduce_raw(&value, &result, 1, datatype_of<T>(), op, root);
    return rank_ == root ? result : T{};
  }
  /// True on every rank iff `value` is true on every (any) rank.
  [[nodiscard]] bool all_of(bool value) const;
  [[nodiscard]] bool any_of(bool value) const;

  /// Sum of `value` over the ranks before this one (0 on rank 0): the global offset of this rank's
  /// rows when every rank holds `value` rows.
  [[nodiscard]] std::uint64_t exclusive_prefix_sum(std::uint64_t value) const;

  // ---- gathers ---------------------------------------------------------------------------
  /// One value from every rank, in rank order, on every rank.
  template <TransportableValue T>
  [[nodiscard]] std::vector<T> allgather(const T& value) const {
    std::vector<T> result(static_cast<std::size_t>(size_));
    allgather_raw(&value, result.data(), 1, datatype_of<T>());
    return result;
  }
  /// Equal-length blocks from every rank, concatenated in rank order, on every rank.
  template <TransportableRange R>
  [[nodiscard]] std::vector<range_element_t<R>> allgather(const R& block) const {
    using T = range_element_t<R>;
    std::vector<T> result(std::ranges::size(block) * static_cast<std::size_t>(size_));
    allgather_raw(std::ranges::data(block), result.data(), std::ranges::size(block), datatype_of<T>());
    return result;
  }
  /// Blocks of any length (zero included) from every rank, concatenated in rank order.
  template <TransportableRange R>
  [[nodiscard]] ReceivedBlocks<range_element_t<R>> allgatherv(const R& block) const {
    using T = range_element_t<R>;
    ReceivedBlocks<T> result;
    result.counts = allgather<std::uint64_t>(std::ranges::size(block));
    result.data.resize(sum(result.counts));
    allgatherv_raw(std::ranges::data(block), std::ranges::size(block), result.data.data(),
                   result.counts, datatype_of<T>());
    return result;
  }
  /// Blocks of any length gathered in rank order on `root`; other ranks get empty results.
  template <TransportableRange R>
  [[nodiscard]] ReceivedBlocks<range_element_t<R>> gatherv(const R& block, int root = 0) const {
    using T = range_element_t<R>;
    ReceivedBlocks<T> result;
    // Every rank learns every count, so that all ranks pick the same (small or large) path.
    result.counts = allgather<std::uint64_t>(std::ranges::size(block));
    if (rank_ == root) result.data.resize(sum(result.counts));
    gatherv_raw(std::ranges::data(block), std::ranges::size(block), result.data.data(),
                result.counts, datatype_of<T>(), root);
    if (rank_ != root) result.counts.clear();
    return result;
  }

  // ---- all-to-all ------------------------------------------------------------------------
  /// `send` holds size() equal blocks, block r for rank r; returns the blocks received, block r
  /// from rank r.
  template <TransportableRange R>
  [[nodiscard]] std::vector<range_element_t<R>> alltoall(const R& send) const {
    using T = range_element_t<R>;
    std::vector<T> received(std::ranges::size(send));
    alltoall_raw(std::ranges::data(send), received.data(), block_length(received.size()),
                 datatype_of<T>());
    return received;
  }
  /// `send` holds the blocks for ranks 0..P-1 back to back, `send_counts[r]` elements for rank r.
  /// Fills `received` (reusing its capacity) with the blocks from ranks 0..P-1 in rank order.
  template <TransportableRange R>
  void alltoallv(const R& send, std::span<const std::uint64_t> send_counts,
                 ReceivedBlocks<range_element_t<R>>& received) const {
    check_send_counts(std::ranges::size(send), send_counts);
    received.counts = alltoall(send_counts);
    received.data.resize(sum(received.counts));
    alltoallv_raw(std::ranges::data(send), send_counts, received.data.data(), received.counts,
                  datatype_of<range_element_t<R>>());
  }
  template <TransportableRange R>
  [[nodiscard]] ReceivedBlocks<range_element_t<R>> alltoallv(
      const R& send, std::span<const std::uint64_t> send_counts) const {
    ReceivedBlocks<range_element_t<R>> received;
    alltoallv(send, send_counts, received);
    return received;
  }

  // ---- point to point -------------------------------------------------------------------
  // For tree-shaped algorithms (TSQR's reduction of R factors). The receiver must know the count.
  template <TransportableRange R>
  void send(const R& data, int destination) const {
    send_raw(std::ranges::data(data), std::ranges::size(data), datatype_of<range_element_t<R>>(), destination);
  }
  template <class T>
    requires Transportable<T>
  void receive(std::span<T> data, int source) const {
    receive_raw(data.data(), data.size(), datatype_of<T>(), source);
  }

  // ---- misc ------------------------------------------------------------------------------
  /// Ends every process of the job at once with `exit_code`. Only for the last-resort handler in
  /// main(): library code reports failures through error agreement instead.
  [[noreturn]] void abort(int exit_code) const;

  /// Name of the node this process runs on.
  [[nodiscard]] static std::string processor_name();

  /// Opaque handle to the underlying MPI communicator, for engine/ and for the HDF5 MPI-IO
  /// property in io/ (see engine/mpi_handle.hpp).
  struct Handle;
  [[nodiscard]] const Handle& handle() const { return *handle_; }

 private:
  explicit Communicator(std::unique_ptr<Handle> handle);

  static std::uint64_t sum(std::span<const std::uint64_t> counts);
  std::uint64_t block_length(std::uint64_t total) const;
  void check_send_counts(std::uint64_t send_size, std::span<const std::uint64_t> send_counts) const;

  void broadcast_raw(void* data, std::uint64_t count, Datatype type, int root) const;
  void allreduce_raw(const void* in, void* out, std::uint64_t count, Datatype type, ReduceOp op) const;
  void reduce_raw(const void* in, void* out, std::uint64_t count, Datatype type, ReduceOp op, int root) const;
  void allgather_raw(const void* in, void* out, std::uint64_t count, Datatype type) const;
  void allgatherv_raw(const void* in, std::uint64_t count, void* out,
                      std::span<const std::uint64_t> counts, Datatype type) const;
  void gatherv_raw(const void* in, std::uint64_t count, void* out,
                   std::span<const std::uint64_t> counts, Datatype type, int root) const;
  void alltoall_raw(const void* in, void* out, std::uint64_t block, Datatype type) const;
  void alltoallv_raw(const void* in, std::span<const std::uint64_t> send_counts, void* out,
                     std::span<const std::uint64_t> recv_counts, Datatype type) const;
  void send_raw(const void* data, std::uint64_t count, Datatype type, int destination) const;
  void receive_raw(void* data, std::uint64_t count, Datatype type, int source) const;

  std::unique_ptr<Handle> handle_;
  int rank_ = 0;
  int size_ = 1;
  CollectiveLimits limits_;
};

}  // namespace omniseg::engine
