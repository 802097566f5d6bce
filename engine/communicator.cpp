#include "engine/communicator.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "engine/mpi_handle.hpp"

namespace omniseg::engine {
namespace {

/// Tag for the point-to-point messages that carry collectives too large for one MPI call. The
/// communicator is a private duplicate, so nothing else uses its tags.
constexpr int kLargeCollectiveTag = 7001;
/// Tag of Communicator::send / receive.
constexpr int kPointToPointTag = 7002;

MPI_Datatype mpi_datatype(ScalarKind kind) {
  switch (kind) {
    case ScalarKind::int8: return MPI_INT8_T;
    case ScalarKind::uint8: return MPI_UINT8_T;
    case ScalarKind::int16: return MPI_INT16_T;
    case ScalarKind::uint16: return MPI_UINT16_T;
    case ScalarKind::int32: return MPI_INT32_T;
    case ScalarKind::uint32: return MPI_UINT32_T;
    case ScalarKind::int64: return MPI_INT64_T;
    case ScalarKind::uint64: return MPI_UINT64_T;
    case ScalarKind::float32: return MPI_FLOAT;
    case ScalarKind::float64: return MPI_DOUBLE;
    case ScalarKind::bytes: return MPI_BYTE;
  }
  throw std::logic_error("mpi_datatype: unknown scalar kind");
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return MPI_SUM;
    case ReduceOp::prod: return MPI_PROD;
    case ReduceOp::min: return MPI_MIN;
    case ReduceOp::max: return MPI_MAX;
    case ReduceOp::logical_and: return MPI_LAND;
    case ReduceOp::logical_or: return MPI_LOR;
    case ReduceOp::bit_and: return MPI_BAND;
    case ReduceOp::bit_or: return MPI_BOR;
    case ReduceOp::bit_xor: return MPI_BXOR;
  }
  throw std::logic_error("mpi_op: unknown reduce op");
}

/// What MPI actually moves for a Datatype: scalars travel as themselves, other types as bytes.
struct Wire {
  MPI_Datatype type;
  std::uint64_t unit_bytes;      // bytes per MPI element
  std::uint64_t units_per_item;  // MPI elements per C++ element

  explicit Wire(Datatype t)
      : type(mpi_datatype(t.kind)),
        unit_bytes(t.kind == ScalarKind::bytes ? 1 : t.size_bytes),
        units_per_item(t.kind == ScalarKind::bytes ? t.size_bytes : 1) {}

  [[nodiscard]] std::uint64_t units(std::uint64_t items) const { return items * units_per_item; }
  [[nodiscard]] std::uint64_t bytes(std::uint64_t items) const { return units(items) * unit_bytes; }
};

char* at(void* base, std::uint64_t byte_offset) { return static_cast<char*>(base) + byte_offset; }
const char* at(const void* base, std::uint64_t byte_offset) {
  return static_cast<const char*>(base) + byte_offset;
}

int as_int(std::uint64_t value) { return static_cast<int>(value); }

/// Exclusive prefix sums of `counts` (in MPI units) and their total.
std::vector<std::uint64_t> displacements(std::span<const std::uint64_t> counts, const Wire& wire,
                                         std::uint64_t& total_units) {
  std::vector<std::uint64_t> displs(counts.size());
  total_units = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) {
    displs[r] = total_units;
    total_units += wire.units(counts[r]);
  }
  return displs;
}

/// Counts and displacements as the C ints MPI's v-collectives take (callers checked they fit).
struct IntLayout {
  std::vector<int> counts;
  std::vector<int> displs;
};

IntLayout int_layout(std::span<const std::uint64_t> counts, std::span<const std::uint64_t> displs, const Wire& wire) {
  IntLayout layout{std::vector<int>(counts.size()), std::vector<int>(counts.size())};
  for (std::size_t r = 0; r < counts.size(); ++r) {
    layout.counts[r] = as_int(wire.units(counts[r]));
    layout.displs[r] = as_int(displs[r]);
  }
  return layout;
}

/// Calls `piece(offset_units, count_units)` for consecutive pieces of at most `max_units`.
template <class Piece>
void for_each_piece(std::uint64_t total_units, std::uint64_t max_units, Piece&& piece) {
  for (std::uint64_t offset = 0; offset < total_units; offset += max_units) {
    piece(offset, std::min(max_units, total_units - offset));
  }
}

}  // namespace

void check_mpi(int return_code, const char* call) {
  if (return_code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(return_code, text, &length);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

Communicator::Handle::Handle(MPI_Comm owned) : comm(owned) {
  check_mpi(MPI_Comm_dup(comm, &control), "MPI_Comm_dup");
}

Communicator::Handle::~Handle() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  // After MPI_Finalize the communicators are gone with the library; freeing them is an error.
  if (finalized) return;
  if (control != MPI_COMM_NULL) MPI_Comm_free(&control);
  if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
}

Communicator::Communicator(std::unique_ptr<Handle> handle) : handle_(std::move(handle)) {
  check_mpi(MPI_Comm_rank(handle_->comm, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(handle_->comm, &size_), "MPI_Comm_size");
}

Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;
Communicator::~Communicator() = default;

Communicator Communicator::world() {
  MPI_Comm comm = MPI_COMM_NULL;
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "MPI_Comm_dup");
  return Communicator(std::make_unique<Handle>(comm));
}

Communicator Communicator::duplicate() const {
  MPI_Comm comm = MPI_COMM_NULL;
  check_mpi(MPI_Comm_dup(handle_->comm, &comm), "MPI_Comm_dup");
  Communicator copy(std::make_unique<Handle>(comm));
  copy.limits_ = limits_;
  return copy;
}

void Communicator::set_limits(const CollectiveLimits& limits) {
  if (limits.max_elements_per_call < 1 || limits.max_elements_per_call > 2147483647ULL) {
    throw std::invalid_argument("CollectiveLimits::max_elements_per_call must be in [1, 2^31-1]");
  }
  limits_ = limits;
}

void Communicator::barrier() const { check_mpi(MPI_Barrier(handle_->comm), "MPI_Barrier"); }

void Communicator::broadcast(std::string& text, int root) const {
  std::uint64_t length = text.size();
  broadcast(length, root);
  text.resize(length);
  broadcast(std::span<char>(text.data(), text.size()), root);
}

bool Communicator::all_of(bool value) const {
  return allreduce(static_cast<int>(value), ReduceOp::logical_and) != 0;
}

bool Communicator::any_of(bool value) const {
  return allreduce(static_cast<int>(value), ReduceOp::logical_or) != 0;
}

std::uint64_t Communicator::exclusive_prefix_sum(std::uint64_t value) const {
  std::uint64_t result = 0;
  check_mpi(MPI_Exscan(&value, &result, 1, MPI_UINT64_T, MPI_SUM, handle_->comm), "MPI_Exscan");
  return rank_ == 0 ? 0 : result;  // MPI leaves rank 0's result undefined
}

[[noreturn]] void Communicator::abort(int exit_code) const {
  MPI_Abort(handle_->comm, exit_code);
  std::abort();  // MPI_Abort does not return; this satisfies [[noreturn]] if it ever did
}

std::string Communicator::processor_name() {
  char name[MPI_MAX_PROCESSOR_NAME];
  int length = 0;
  check_mpi(MPI_Get_processor_name(name, &length), "MPI_Get_processor_name");
  return std::string(name, static_cast<std::size_t>(length));
}

std::uint64_t Communicator::sum(std::span<const std::uint64_t> counts) {
  return std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
}

std::uint64_t Communicator::block_length(std::uint64_t total) const {
  if (total % static_cast<std::uint64_t>(size_) != 0) {
    throw std::invalid_argument("alltoall: send size " + std::to_string(total) +
                                " is not a multiple of the communicator size " + std::to_string(size_));
  }
  return total / static_cast<std::uint64_t>(size_);
}

void Communicator::check_send_counts(std::uint64_t send_size,
                                     std::span<const std::uint64_t> send_counts) const {
  if (send_counts.size() != static_cast<std::size_t>(size_)) {
    throw std::invalid_argument("alltoallv: " + std::to_string(send_counts.size()) +
                                " send counts for " + std::to_string(size_) + " ranks");
  }
  if (sum(send_counts) != send_size) {
    throw std::invalid_argument("alltoallv: send counts add up to " + std::to_string(sum(send_counts)) +
                                " but the send buffer holds " + std::to_string(send_size));
  }
}

// ---- raw collectives ------------------------------------------------------------------------
// Each one is a single MPI call when every count and displacement fits the per-call limit, and
// otherwise pieces of at most that size (bcast, reductions) or point-to-point messages in pieces
// (v-collectives, whose displacements are C ints too). All ranks decide from the same numbers, so
// they always take the same path.

void Communicator::broadcast_raw(void* data, std::uint64_t count, Datatype type, int root) const {
  const Wire wire(type);
  for_each_piece(wire.units(count), limits_.max_elements_per_call, [&](std::uint64_t offset, std::uint64_t n) {
    check_mpi(MPI_Bcast(at(data, offset * wire.unit_bytes), as_int(n), wire.type, root, handle_->comm), "MPI_Bcast");
  });
}

namespace {

/// MPI_Op body for Int128 sums: MPI hands over `count` elements of the 16-byte type built below.
void add_int128(void* in, void* inout, int* count, MPI_Datatype*) {
  const auto* from = static_cast<const Int128*>(in);
  auto* into = static_cast<Int128*>(inout);
  for (int i = 0; i < *count; ++i) {
    // Unsigned addition: wraps instead of signed-overflow undefined behaviour.
    into[i] = static_cast<Int128>(static_cast<UInt128>(into[i]) + static_cast<UInt128>(from[i]));
  }
}

}  // namespace

void Communicator::allreduce_exact_sum_in_place(std::span<Int128> data) const {
  // MPI has no 128-bit integer type: a 16-byte contiguous type with a commutative user operation.
  // Created per call and freed at once, so nothing outlives MPI_Finalize.
  MPI_Datatype int128 = MPI_DATATYPE_NULL;
  check_mpi(MPI_Type_contiguous(2, MPI_UINT64_T, &int128), "MPI_Type_contiguous");
  check_mpi(MPI_Type_commit(&int128), "MPI_Type_commit");
  MPI_Op sum = MPI_OP_NULL;
  check_mpi(MPI_Op_create(&add_int128, /*commute=*/1, &sum), "MPI_Op_create");
  for_each_piece(data.size(), limits_.max_elements_per_call, [&](std::uint64_t offset, std::uint64_t n) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data.data() + offset, as_int(n), int128, sum, handle_->comm),
              "MPI_Allreduce");
  });
  MPI_Op_free(&sum);
  MPI_Type_free(&int128);
}

void Communicator::send_raw(const void* data, std::uint64_t count, Datatype type, int destination) const {
  const Wire wire(type);
  for_each_piece(wire.units(count), limits_.max_elements_per_call, [&](std::uint64_t offset, std::uint64_t n) {
    check_mpi(MPI_Send(at(data, offset * wire.unit_bytes), as_int(n), wire.type, destination, kPointToPointTag,
                       handle_->comm),
              "MPI_Send");
  });
}

void Communicator::receive_raw(void* data, std::uint64_t count, Datatype type, int source) const {
  const Wire wire(type);
  for_each_piece(wire.units(count), limits_.max_elements_per_call, [&](std::uint64_t offset, std::uint64_t n) {
    check_mpi(MPI_Recv(at(data, offset * wire.unit_bytes), as_int(n), wire.type, source, kPointToPointTag,
                       handle_->comm, MPI_STATUS_IGNORE),
              "MPI_Recv");
  });
}

void Communicator::allreduce_raw(const void* in, void* out, std::uint64_t count, Datatype type,
                                 ReduceOp op) const {
  if (type.kind == ScalarKind::bytes) throw std::logic_error("allreduce: type is not reducible");
  const Wire wire(type);
  for_each_piece(wire.units(count), limits_.max_elements_per_call, [&](std::uint64_t offset, std::uint64_t n) {
    const std::uint64_t byte_offset = offset * wire.unit_bytes;
    const void* send = in == nullptr ? MPI_IN_PLACE : at(in, byte_offset);
    check_mpi(MPI_Allreduce(send, at(out, byte_offset), as_int(n), wire.type, mpi_op(op), handle_->comm),
              "MPI_Allreduce");
  });
}

void Communicator::reduce_raw(const void* in, void* out, std::uint64_t count, Datatype type,
                              ReduceOp op, int root) const {
  if (type.kind == ScalarKind::bytes) throw std::logic_error("reduce: type is not reducible");
  const Wire wire(type);
  for_each_piece(wire.units(count), limits_.max_elements_per_call, [&](std::uint64_t offset, std::uint64_t n) {
    const std::uint64_t byte_offset = offset * wire.unit_bytes;
    void* receive = rank_ == root ? at(out, byte_offset) : nullptr;
    check_mpi(MPI_Reduce(at(in, byte_offset), receive, as_int(n), wire.type, mpi_op(op), root, handle_->comm),
              "MPI_Reduce");
  });
}

void Communicator::allgather_raw(const void* in, void* out, std::uint64_t count, Datatype type) const {
  const Wire wire(type);
  if (wire.units(count) * static_cast<std::uint64_t>(size_) <= limits_.max_elements_per_call) {
    check_mpi(MPI_Allgather(in, as_int(wire.units(count)), wire.type, out, as_int(wire.units(count)),
                            wire.type, handle_->comm),
              "MPI_Allgather");
    return;
  }
  const std::vector<std::uint64_t> counts(static_cast<std::size_t>(size_), count);
  allgatherv_raw(in, count, out, counts, type);
}

void Communicator::allgatherv_raw(const void* in, std::uint64_t count, void* out,
                                  std::span<const std::uint64_t> counts, Datatype type) const {
  const Wire wire(type);
  std::uint64_t total_units = 0;
  const auto displs = displacements(counts, wire, total_units);
  if (total_units <= limits_.max_elements_per_call) {
    const auto layout = int_layout(counts, displs, wire);
    check_mpi(MPI_Allgatherv(in, as_int(wire.units(count)), wire.type, out, layout.counts.data(),
                             layout.displs.data(), wire.type, handle_->comm),
              "MPI_Allgatherv");
    return;
  }
  // Large: each rank's block reaches everyone by a (piecewise) broadcast from that rank.
  if (count > 0) std::memcpy(at(out, displs[static_cast<std::size_t>(rank_)] * wire.unit_bytes), in, wire.bytes(count));
  for (int root = 0; root < size_; ++root) {
    const auto r = static_cast<std::size_t>(root);
    broadcast_raw(at(out, displs[r] * wire.unit_bytes), counts[r], type, root);
  }
}

void Communicator::gatherv_raw(const void* in, std::uint64_t count, void* out,
                               std::span<const std::uint64_t> counts, Datatype type, int root) const {
  const Wire wire(type);
  std::uint64_t total_units = 0;
  const auto displs = displacements(counts, wire, total_units);
  if (total_units <= limits_.max_elements_per_call) {
    const auto layout = int_layout(counts, displs, wire);
    check_mpi(MPI_Gatherv(in, as_int(wire.units(count)), wire.type, out, layout.counts.data(),
                          layout.displs.data(), wire.type, root, handle_->comm),
              "MPI_Gatherv");
    return;
  }
  // Large: point-to-point in pieces; the root receives from ranks in order.
  const std::uint64_t max_units = limits_.max_elements_per_call;
  if (rank_ != root) {
    for_each_piece(wire.units(count), max_units, [&](std::uint64_t offset, std::uint64_t n) {
      check_mpi(MPI_Send(at(in, offset * wire.unit_bytes), as_int(n), wire.type, root, kLargeCollectiveTag,
                         handle_->comm),
                "MPI_Send");
    });
    return;
  }
  for (int source = 0; source < size_; ++source) {
    const auto r = static_cast<std::size_t>(source);
    char* block = at(out, displs[r] * wire.unit_bytes);
    if (source == root) {
      if (count > 0) std::memcpy(block, in, wire.bytes(count));
      continue;
    }
    for_each_piece(wire.units(counts[r]), max_units, [&](std::uint64_t offset, std::uint64_t n) {
      check_mpi(MPI_Recv(block + offset * wire.unit_bytes, as_int(n), wire.type, source, kLargeCollectiveTag,
                         handle_->comm, MPI_STATUS_IGNORE),
                "MPI_Recv");
    });
  }
}

void Communicator::alltoall_raw(const void* in, void* out, std::uint64_t block, Datatype type) const {
  const Wire wire(type);
  if (wire.units(block) * static_cast<std::uint64_t>(size_) <= limits_.max_elements_per_call) {
    check_mpi(MPI_Alltoall(in, as_int(wire.units(block)), wire.type, out, as_int(wire.units(block)),
                           wire.type, handle_->comm),
              "MPI_Alltoall");
    return;
  }
  const std::vector<std::uint64_t> counts(static_cast<std::size_t>(size_), block);
  alltoallv_raw(in, counts, out, counts, type);
}

void Communicator::alltoallv_raw(const void* in, std::span<const std::uint64_t> send_counts, void* out,
                                 std::span<const std::uint64_t> recv_counts, Datatype type) const {
  const Wire wire(type);
  std::uint64_t send_units = 0, recv_units = 0;
  const auto send_displs = displacements(send_counts, wire, send_units);
  const auto recv_displs = displacements(recv_counts, wire, recv_units);
  const std::uint64_t max_units = limits_.max_elements_per_call;
  // Each rank sees only its own totals, so the choice of path is agreed.
  const bool large = any_of(send_units > max_units || recv_units > max_units);
  if (!large) {
    const auto send = int_layout(send_counts, send_displs, wire);
    const auto recv = int_layout(recv_counts, recv_displs, wire);
    check_mpi(MPI_Alltoallv(in, send.counts.data(), send.displs.data(), wire.type, out, recv.counts.data(),
                            recv.displs.data(), wire.type, handle_->comm),
              "MPI_Alltoallv");
    return;
  }
  // Large: non-blocking point-to-point in pieces. Pieces between one pair of ranks travel on one
  // tag and MPI does not reorder them, so each piece lands where its receive was posted.
  std::vector<MPI_Request> requests;
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    const auto r = static_cast<std::size_t>(peer);
    char* block = at(out, recv_displs[r] * wire.unit_bytes);
    for_each_piece(wire.units(recv_counts[r]), max_units, [&](std::uint64_t offset, std::uint64_t n) {
      MPI_Request& request = requests.emplace_back();
      check_mpi(MPI_Irecv(block + offset * wire.unit_bytes, as_int(n), wire.type, peer, kLargeCollectiveTag,
                          handle_->comm, &request),
                "MPI_Irecv");
    });
  }
  for (int peer = 0; peer < size_; ++peer) {
    if (peer == rank_) continue;
    const auto r = static_cast<std::size_t>(peer);
    const char* block = at(in, send_displs[r] * wire.unit_bytes);
    for_each_piece(wire.units(send_counts[r]), max_units, [&](std::uint64_t offset, std::uint64_t n) {
      MPI_Request& request = requests.emplace_back();
      check_mpi(MPI_Isend(block + offset * wire.unit_bytes, as_int(n), wire.type, peer, kLargeCollectiveTag,
                          handle_->comm, &request),
                "MPI_Isend");
    });
  }
  const auto self = static_cast<std::size_t>(rank_);
  if (send_counts[self] > 0) {
    std::memcpy(at(out, recv_displs[self] * wire.unit_bytes), at(in, send_displs[self] * wire.unit_bytes),
                wire.bytes(send_counts[self]));
  }
  check_mpi(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
}

}  // namespace omniseg::engine
