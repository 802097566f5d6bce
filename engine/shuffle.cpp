#include "engine/shuffle.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "engine/mpi_handle.hpp"
#include "engine/resources.hpp"

namespace omniseg::engine {
namespace {

constexpr std::uint64_t kMinimumDefaultBudget = std::uint64_t{1} << 20;

}  // namespace

std::uint64_t default_shuffle_budget(const Communicator& comm) {
  const std::uint64_t per_node = physical_memory_bytes() / 8;
  return std::max(per_node / static_cast<std::uint64_t>(ranks_on_this_node(comm)), kMinimumDefaultBudget);
}

std::uint64_t resolve_shuffle_budget(const Communicator& comm, const ShuffleBudget& budget) {
  return budget.bytes_per_rank > 0 ? budget.bytes_per_rank : default_shuffle_budget(comm);
}

namespace detail {

ShuffleSchedule schedule_shuffle(const Communicator& comm, const SendPlan& plan, std::uint64_t fixed_row_bytes,
                                 const StringColumn* strings, std::uint64_t budget_bytes, const std::string& problem) {
  const auto ranks = static_cast<std::size_t>(comm.size());
  const auto me = static_cast<std::size_t>(comm.rank());
  const bool local_strings = strings != nullptr && !strings->empty();
  const std::uint64_t rows = plan.order.size();
  const std::uint64_t per_row = fixed_row_bytes + (local_strings ? sizeof(std::uint64_t) : 0);
  const auto cost = [&](std::uint64_t id) { return per_row + (local_strings ? strings->length(id) : 0); };
  const std::uint64_t round_limit = std::clamp<std::uint64_t>(budget_bytes, 1, kMaxRoundBytes);

  ShuffleSchedule schedule;
  std::vector<std::uint64_t> bytes_to(ranks, 0), string_bytes_to(ranks, 0);
  const bool plan_fits_strings = !local_strings || std::all_of(plan.order.begin(), plan.order.end(), [&](std::uint64_t id) {
                                   return id < strings->size();
                                 });
  const bool usable = problem.empty() && plan.valid && plan_fits_strings;
  if (usable) {
    for (std::size_t d = 0, at = 0; d < ranks; ++d) {
      for (std::uint64_t i = 0; i < plan.counts[d]; ++i, ++at) {
        const std::uint64_t id = plan.order[at];
        bytes_to[d] += cost(id);
        if (local_strings) string_bytes_to[d] += strings->length(id);
      }
    }
  }
  std::uint64_t total_bytes = 0, bytes_to_others = 0;
  for (std::size_t d = 0; d < ranks; ++d) {
    total_bytes += bytes_to[d];
    if (d != me) bytes_to_others += bytes_to[d];
  }

  // Rounds (rows for other ranks only): each takes from every destination about its share of what
  // is left (so all destinations progress together), then fills what remains of the round; a row
  // larger than a round goes alone.
  std::uint64_t local_rounds = 0;
  if (usable && bytes_to_others > 0) {
    std::vector<std::uint64_t> position(ranks, 0), begin(ranks, 0), left(bytes_to);
    left[me] = 0;
    for (std::size_t d = 1; d < ranks; ++d) begin[d] = begin[d - 1] + plan.counts[d - 1];
    std::vector<std::uint64_t> end(plan.counts);
    end[me] = 0;
    std::uint64_t left_total = bytes_to_others;
    std::vector<std::uint64_t> taken(ranks);
    while (left_total > 0) {
      std::fill(taken.begin(), taken.end(), 0);
      std::uint64_t used = 0;
      const auto take_while = [&](std::size_t d, std::uint64_t limit_for_d) {
        std::uint64_t used_d = 0;
        while (position[d] < end[d]) {
          const std::uint64_t c = cost(plan.order[begin[d] + position[d]]);
          if (used + c > round_limit || used_d + c > limit_for_d) break;
          used += c;
          used_d += c;
          left[d] -= c;
          left_total -= c;
          ++position[d];
          ++taken[d];
        }
      };
      if (bytes_to_others > round_limit) {
        for (std::size_t d = 0; d < ranks; ++d) {
          const double share = static_cast<double>(left[d]) / static_cast<double>(left_total);
          take_while(d, static_cast<std::uint64_t>(share * static_cast<double>(round_limit)));
        }
      }
      for (std::size_t k = 0; k < ranks; ++k) take_while((local_rounds + k) % ranks, round_limit);
      if (used == 0) {  // the next row alone exceeds a round: it goes in a round of its own
        for (std::size_t d = 0; d < ranks; ++d) {
          if (position[d] < end[d]) {
            const std::uint64_t c = cost(plan.order[begin[d] + position[d]]);
            used = c;
            left[d] -= c;
            left_total -= c;
            ++position[d];
            taken[d] = 1;
            break;
          }
        }
      }
      schedule.largest_round_bytes = std::max(schedule.largest_round_bytes, used);
      schedule.round_rows.insert(schedule.round_rows.end(), taken.begin(), taken.end());
      ++local_rounds;
    }
  }

  // One agreement for everything every rank must know alike.
  const std::uint64_t flags[] = {local_rounds, problem.empty() ? 0U : 1U, plan.valid && plan_fits_strings ? 0U : 1U,
                                 local_strings ? 1U : 0U, rows > 0 && !local_strings ? 1U : 0U};
  const std::vector<std::uint64_t> agreed = comm.allreduce(std::span<const std::uint64_t>(flags), ReduceOp::max);
  const bool bad_strings = agreed[3] != 0 && agreed[4] != 0;
  if (agreed[1] != 0 || agreed[2] != 0 || bad_strings) {
    std::string message = "shuffle: invalid input on at least one rank (";
    message += agreed[1] != 0 ? "sizes of destinations/strings and records differ" :
               agreed[2] != 0 ? "a destination outside [0, ranks)" :
                                "rows without strings while other ranks send strings";
    message += ")";
    if (!problem.empty()) message += "; here: " + problem;
    throw std::invalid_argument(message);
  }
  schedule.rounds = agreed[0];
  schedule.has_strings = agreed[3] != 0;
  schedule.round_rows.resize(schedule.rounds * ranks, 0);

  // Incoming rows and string bytes per source, so the receiver sizes its output once.
  std::vector<std::uint64_t> sizes(2 * ranks);
  for (std::size_t d = 0; d < ranks; ++d) {
    sizes[2 * d] = plan.counts[d];
    sizes[2 * d + 1] = string_bytes_to[d];
  }
  const std::vector<std::uint64_t> incoming = comm.alltoall(sizes);
  schedule.incoming_rows.resize(ranks);
  schedule.incoming_bytes.resize(ranks);
  for (std::size_t s = 0; s < ranks; ++s) {
    schedule.incoming_rows[s] = incoming[2 * s];
    schedule.incoming_bytes[s] = incoming[2 * s + 1];
    schedule.rows_in += incoming[2 * s];
    schedule.bytes_in += incoming[2 * s + 1];
  }
  const std::uint64_t received_per_row = fixed_row_bytes + (schedule.has_strings ? sizeof(std::uint64_t) : 0);
  schedule.stats = {.rounds = schedule.rounds,
                    .rows_sent = rows,
                    .rows_received = schedule.rows_in,
                    .bytes_sent = total_bytes,
                    .bytes_received = schedule.rows_in * received_per_row + schedule.bytes_in};
  return schedule;
}

namespace {

/// Tags of the shuffle's point-to-point messages: one per column of a round (the communicator is a
/// private duplicate and every round completes before the next, so they never mix).
constexpr int kShuffleTag = 7100;

int message_count(std::uint64_t bytes) {
  if (bytes > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
    throw std::length_error("shuffle: one message of " + std::to_string(bytes) + " bytes (a single huge row)");
  }
  return static_cast<int>(bytes);
}

/// Copies rows `ids` of every column (and the strings: lengths into offsets[first + 1 ...], bytes at
/// `byte_at`) to their place in the outputs. Returns the string bytes copied.
std::uint64_t place_rows(std::span<const std::uint64_t> ids, std::span<const RawColumn> columns, std::uint64_t first_row,
                         const StringColumn& strings_in, StringColumn* strings_out, std::uint64_t byte_at) {
  for (const RawColumn& column : columns) {
    std::byte* out = column.out + first_row * column.width;
    if (column.width == 8) {
      for (const std::uint64_t id : ids) std::memcpy(out, column.in + id * 8, 8), out += 8;
    } else {
      for (const std::uint64_t id : ids) std::memcpy(out, column.in + id * column.width, column.width), out += column.width;
    }
  }
  if (strings_out == nullptr) return 0;
  const std::span<const std::uint64_t> offsets = strings_in.offsets();
  const char* bytes = strings_in.bytes().data();
  std::uint64_t* lengths = strings_out->fill_offsets().data() + first_row + 1;
  char* write = strings_out->fill_bytes().data() + byte_at;
  const char* const start = write;
  for (const std::uint64_t id : ids) {
    const std::uint64_t length = offsets[id + 1] - offsets[id];
    *lengths++ = length;
    std::memcpy(write, bytes + offsets[id], length);
    write += length;
  }
  return static_cast<std::uint64_t>(write - start);
}

/// Packs rows `ids` into `buffer` column after column, then lengths, then bytes; returns the string bytes.
std::uint64_t pack_rows(std::span<const std::uint64_t> ids, std::span<const RawColumn> columns,
                        const StringColumn* strings, std::byte* buffer) {
  for (const RawColumn& column : columns) {
    if (column.width == 8) {
      for (const std::uint64_t id : ids) std::memcpy(buffer, column.in + id * 8, 8), buffer += 8;
    } else {
      for (const std::uint64_t id : ids) std::memcpy(buffer, column.in + id * column.width, column.width), buffer += column.width;
    }
  }
  if (strings == nullptr) return 0;
  const std::span<const std::uint64_t> offsets = strings->offsets();
  const char* bytes = strings->bytes().data();
  std::byte* lengths = buffer;
  std::byte* write = buffer + ids.size() * sizeof(std::uint64_t);
  const std::byte* const start = write;
  for (const std::uint64_t id : ids) {
    const std::uint64_t length = offsets[id + 1] - offsets[id];
    std::memcpy(lengths, &length, sizeof length);
    lengths += sizeof length;
    std::memcpy(write, bytes + offsets[id], length);
    write += length;
  }
  return static_cast<std::uint64_t>(write - start);
}

}  // namespace

void run_exchange(const Communicator& comm, const SendPlan& plan, const ShuffleSchedule& schedule,
                  std::span<const RawColumn> columns, const StringColumn& strings_in, StringColumn* strings_out) {
  const auto ranks = static_cast<std::size_t>(comm.size());
  const auto me = static_cast<std::size_t>(comm.rank());
  const MPI_Comm raw_comm = mpi_comm(comm);
  const bool strings = strings_out != nullptr;
  const StringColumn* const strings_source = strings && !strings_in.empty() ? &strings_in : nullptr;
  std::uint64_t fixed_row_bytes = 0;
  for (const RawColumn& column : columns) fixed_row_bytes += column.width;

  std::vector<std::uint64_t> row_cursor(ranks), byte_cursor(ranks), plan_at(ranks);
  for (std::size_t s = 0, rows = 0, bytes = 0; s < ranks; ++s) {
    row_cursor[s] = rows;
    byte_cursor[s] = bytes;
    rows += schedule.incoming_rows[s];
    bytes += schedule.incoming_bytes[s];
  }
  for (std::size_t d = 0, at = 0; d < ranks; ++d) {
    plan_at[d] = at;
    at += plan.counts[d];
  }

  // Own rows: straight from the input to their place, no buffer, no message.
  const std::span<const std::uint64_t> own(plan.order.data() + plan_at[me], plan.counts[me]);
  byte_cursor[me] += place_rows(own, columns, row_cursor[me], strings_in, strings ? strings_out : nullptr, byte_cursor[me]);
  row_cursor[me] += own.size();

  std::vector<std::byte> buffer(schedule.largest_round_bytes);
  std::vector<std::uint64_t> sizes(2 * ranks), region(ranks);
  std::vector<MPI_Request> requests;
  for (std::uint64_t round = 0; round < schedule.rounds; ++round) {
    const std::uint64_t* counts = schedule.round_rows.data() + round * ranks;
    std::fill(sizes.begin(), sizes.end(), 0);
    std::uint64_t used = 0;
    for (std::size_t d = 0; d < ranks; ++d) {
      region[d] = used;
      if (d == me || counts[d] == 0) continue;
      const std::span<const std::uint64_t> ids(plan.order.data() + plan_at[d], counts[d]);
      const std::uint64_t string_bytes = pack_rows(ids, columns, strings_source, buffer.data() + used);
      plan_at[d] += counts[d];
      sizes[2 * d] = counts[d];
      sizes[2 * d + 1] = string_bytes;
      used += counts[d] * (fixed_row_bytes + (strings_source != nullptr ? sizeof(std::uint64_t) : 0)) + string_bytes;
    }
    const std::vector<std::uint64_t> incoming = comm.alltoall(sizes);

    requests.clear();
    const auto post = [&](bool receive, void* data, std::uint64_t bytes, int peer, int tag) {
      if (bytes == 0) return;
      MPI_Request request;
      if (receive) {
        check_mpi(MPI_Irecv(data, message_count(bytes), MPI_BYTE, peer, tag, raw_comm, &request), "MPI_Irecv");
      } else {
        check_mpi(MPI_Isend(data, message_count(bytes), MPI_BYTE, peer, tag, raw_comm, &request), "MPI_Isend");
      }
      requests.push_back(request);
    };
    for (std::size_t s = 0; s < ranks; ++s) {
      const std::uint64_t rows = incoming[2 * s], bytes = incoming[2 * s + 1];
      if (s == me || rows == 0) continue;
      int tag = kShuffleTag;
      for (const RawColumn& column : columns) {
        post(true, column.out + row_cursor[s] * column.width, rows * column.width, static_cast<int>(s), tag++);
      }
      if (strings) {
        post(true, strings_out->fill_offsets().data() + row_cursor[s] + 1, rows * sizeof(std::uint64_t), static_cast<int>(s), tag++);
        post(true, strings_out->fill_bytes().data() + byte_cursor[s], bytes, static_cast<int>(s), tag++);
      }
      row_cursor[s] += rows;
      byte_cursor[s] += bytes;
    }
    for (std::size_t d = 0; d < ranks; ++d) {
      const std::uint64_t rows = sizes[2 * d];
      if (d == me || rows == 0) continue;
      std::byte* at = buffer.data() + region[d];
      int tag = kShuffleTag;
      for (const RawColumn& column : columns) {
        post(false, at, rows * column.width, static_cast<int>(d), tag++);
        at += rows * column.width;
      }
      if (strings) {
        post(false, at, rows * sizeof(std::uint64_t), static_cast<int>(d), tag++);
        post(false, at + rows * sizeof(std::uint64_t), sizes[2 * d + 1], static_cast<int>(d), tag++);
      }
    }
    check_mpi(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  }

  if (strings) {
    // Lengths were written at offsets[row + 1]; one running sum turns them into offsets.
    const std::span<std::uint64_t> offsets = strings_out->fill_offsets();
    offsets[0] = 0;
    for (std::size_t i = 1; i < offsets.size(); ++i) offsets[i] += offsets[i - 1];
    if (offsets.back() != strings_out->byte_size()) throw std::logic_error("shuffle: string lengths and bytes disagree");
  }
}

}  // namespace detail
}  // namespace omniseg::engine
