// io/fimi_reader.hpp — reading FIMI transaction files (market baskets) in parallel.
//
// Owns: the FIMI text format (one transaction per line, items as non-negative decimal integers
// separated by spaces or tabs), its local parsing kernel, and the collective reader in which every
// rank reads only its own byte range of the file. Lines are owned by the rank whose byte range they
// start in; the result is this rank's transactions in CSR form plus their place in the file.
// Does not own: recoding item ids to dense ranks, support counting or redistributing transactions
// across ranks (algorithms/fim/), and any MPI call (it talks through engine::Communicator only).
//
// Format details: an empty line is an empty transaction; a UTF-8 byte order mark at the start of
// the file is skipped; "\r" is treated as a separator, so CRLF line ends need no special case; a
// missing final newline is fine; an empty file holds no transactions. Within a transaction items
// are sorted ascending and duplicates count once. Anything else in a token (a sign, a decimal
// point, a letter, a value beyond 2^64 - 1) is an InputError naming the file and the 1-based line.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/communicator.hpp"

namespace omniseg::io {

/// Transactions in compressed sparse row form: transaction t holds
/// items[offsets[t]] .. items[offsets[t + 1] - 1], ascending and without duplicates.
struct TransactionCsr {
  std::vector<std::uint64_t> offsets{0};  ///< size() + 1 entries; offsets.front() == 0
  std::vector<std::uint64_t> items;       ///< original item ids, transaction after transaction

  /// Number of transactions.
  [[nodiscard]] std::uint64_t size() const { return offsets.size() - 1; }
  /// Number of (deduplicated) items over all transactions.
  [[nodiscard]] std::uint64_t item_occurrences() const { return items.size(); }
  /// The items of transaction `t` (t < size()).
  [[nodiscard]] std::span<const std::uint64_t> transaction(std::uint64_t t) const {
    return std::span<const std::uint64_t>(items).subspan(offsets[t], offsets[t + 1] - offsets[t]);
  }

  friend bool operator==(const TransactionCsr&, const TransactionCsr&) = default;
};

/// Where a piece of text sits in its file, so that errors can name file and line.
struct TextOrigin {
  std::string_view file_name;           ///< as the user named it
  std::uint64_t first_line_number = 1;  ///< 1-based global line number of the text's first line
};

/// Pure, single-rank kernel: parses whole FIMI lines into `out`, appending one transaction per
/// line (reusing the capacity of `out`). A final "\n" ends the last line and does not start a new
/// one; empty text holds no lines. `text` must not begin with a byte order mark (the reader strips
/// it). Throws InputError "<file>:<line>: '<token>' ..." on the first malformed token.
void parse_fimi_text(std::string_view text, const TextOrigin& origin, TransactionCsr& out);

/// As above, into a fresh CSR.
[[nodiscard]] TransactionCsr parse_fimi_text(std::string_view text, const TextOrigin& origin);

/// This rank's share of a FIMI file read collectively.
struct TransactionShard {
  TransactionCsr local;  ///< the transactions whose lines start in this rank's byte range, in file order
  std::uint64_t first_global_transaction = 0;  ///< global index of local.transaction(0): 0-based line number
  std::uint64_t global_transactions = 0;       ///< transactions over all ranks (= lines in the file)
  std::uint64_t global_item_occurrences = 0;   ///< deduplicated items over all ranks
};

struct FimiReadOptions {
  /// Bytes read at a time past the end of this rank's range while finishing its last line. Tests
  /// make it tiny to run the extension loop; large values waste little (one read per chunk).
  std::uint64_t line_extension_chunk_bytes = std::uint64_t{1} << 16;
};

/// Collective. Reads the FIMI file at `path` (which every rank must see): the file's bytes after
/// any byte order mark are split into size() near-equal ranges and each rank reads and parses only
/// the lines starting in its range (possibly none), plus the tail of its last line. Any failure —
/// a missing or unreadable file, a malformed token on one rank — ends with the same
/// CollectiveError on every rank, whose message names the file (and the global line).
[[nodiscard]] TransactionShard read_fimi_transactions(const engine::Communicator& comm,
                                                      const std::string& path,
                                                      const FimiReadOptions& options = {});

}  // namespace omniseg::io
