// io/omnichannel_generator.hpp — synthetic omnichannel retail data (`omniseg generate`).
//
// Owns: the data model of the generated retailer (customers in K latent segments, their channel
// keys, an item catalog with Zipf-like popularity per category, order lines over three channels,
// whale customers, planted co-purchase itemsets, returns), the dirty rows planted in it (each
// with exactly one problem, hence one expected reject reason of the integration pipeline), the
// CSV text of every file as pure per-row kernels, and the collective driver that writes the
// files (each by all ranks at once, io/ordered_text.hpp), the job configuration and truth.h5.
// Every value is a pure function of (seed, global row index) through engine::CounterRng or a
// bijective mix, never of the rank: the files are byte-identical for any number of ranks.
// Does not own: reading the files back (io/csv_reader.hpp, jobs/), the command line
// (jobs/generate_command.hpp). Schema of every file: docs/formats.md, "Omnichannel input".
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "engine/block_distribution.hpp"
#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"
#include "engine/random.hpp"

namespace omniseg::io {

// ---- options ---------------------------------------------------------------------------------

/// What to generate. Signed counts so that a negative value on the command line is reported as
/// such instead of wrapping around.
struct OmnichannelOptions {
  std::int64_t customers = 20000;    ///< N >= 1
  std::int64_t items = 2000;         ///< M >= 1
  std::int64_t order_lines = 300000; ///< L >= 0: data rows over the three order files together
  std::uint64_t seed = 42;
  double dirty_rate = 0.01;          ///< 0 <= R <= 0.5: planted dirty rows per row of every file
  std::int64_t whales = 2;           ///< 0 <= W <= N
  std::int64_t segments = 5;         ///< 1 <= K <= max_segments
  /// Share of all orders (hence, in expectation, of all order lines) placed by the whales together.
  double whale_order_share = 0.3;
};

inline constexpr std::int64_t max_segments = 20;
/// Customer ids are 1e6 + 4c + {0,1,2}; store keys need ids below 10^12.
inline constexpr std::int64_t max_customers = 100'000'000'000;
inline constexpr std::int64_t max_items = 1'000'000'000;

/// Throws InputError naming the command-line option (e.g. "--dirty-rate must lie in [0, 0.5]").
void check_omnichannel_options(const OmnichannelOptions& options);

// ---- names -------------------------------------------------------------------------------------

enum class Channel : std::uint8_t { web, app, store };
inline constexpr std::size_t channel_count = 3;
inline constexpr std::array<std::string_view, channel_count> channel_names{"web", "app", "store"};

/// The generated CSV files, in the order of truth.h5's /dirty/files.
enum class GeneratedFile : std::uint8_t { customers, identity, items, orders_web, orders_app, orders_store };
inline constexpr std::size_t generated_file_count = 6;
inline constexpr std::array<std::string_view, generated_file_count> generated_file_names{
    "customers.csv", "identity.csv", "items.csv", "orders_web.csv", "orders_app.csv", "orders_store.csv"};
[[nodiscard]] constexpr GeneratedFile order_file_of(Channel channel) {
  return static_cast<GeneratedFile>(static_cast<int>(GeneratedFile::orders_web) + static_cast<int>(channel));
}

/// Why the integration pipeline must reject a planted row: the pipeline's reject reasons, with the
/// same names in the same order (io/reject_log.hpp).
enum class DirtReason : std::uint8_t {
  wrong_column_count, bad_quoting, empty_line, missing_value, bad_number, bad_date, bad_timestamp,
  bad_value, duplicate_key, identity_conflict, unknown_item, unknown_channel_key, unknown_customer,
};
inline constexpr std::size_t dirt_reason_count = 13;
inline constexpr std::array<std::string_view, dirt_reason_count> dirt_reason_names{
    "wrong_column_count", "bad_quoting",  "empty_line",      "missing_value",     "bad_number",
    "bad_date",           "bad_timestamp", "bad_value",      "duplicate_key",     "identity_conflict",
    "unknown_item",       "unknown_channel_key", "unknown_customer"};

/// Expected rejects per (file, reason): the rows planted, plus the clean order lines whose key maps
/// to a customer missing from customers.csv (unknown_customer). Sums exactly across ranks.
struct DirtTally {
  std::array<std::uint64_t, generated_file_count * dirt_reason_count> counts{};
  std::uint64_t identity_conflict_keys = 0;  ///< keys mapped to two customers
  std::uint64_t orphaned_keys = 0;           ///< identity keys whose customer_id is not a customer
  /// Dirty rows planted (orphaned identity rows included; the clean order lines they orphan not).
  std::uint64_t planted_rows = 0;

  std::uint64_t& at(GeneratedFile file, DirtReason reason) {
    return counts[static_cast<std::size_t>(file) * dirt_reason_count + static_cast<std::size_t>(reason)];
  }
  [[nodiscard]] std::uint64_t at(GeneratedFile file, DirtReason reason) const {
    return counts[static_cast<std::size_t>(file) * dirt_reason_count + static_cast<std::size_t>(reason)];
  }
  /// Rows of `file` expected to be rejected, over all reasons.
  [[nodiscard]] std::uint64_t rejected(GeneratedFile file) const;
  void add(const DirtTally& other);
};

// ---- the model -----------------------------------------------------------------------------------

/// The behaviour of one latent segment.
struct SegmentProfile {
  std::string name;
  double population_share = 0;                    ///< relative
  std::array<double, channel_count> channel_mix{};  ///< web, app, store (relative)
  double extra_channel_probability = 0;           ///< each non-primary channel is also a key with this
  double order_rate = 0;                          ///< relative order frequency per customer
  int max_quantity = 1;                           ///< quantities are uniform in 1..max_quantity
  double price_factor = 1;                        ///< unit price = list price x factor x (0.95..1.05)
  double itemset_probability = 0;                 ///< share of this segment's orders with a planted itemset
  double recency_window = 1;                      ///< orders fall in the first share of the order period
  std::vector<double> category_weights;           ///< relative preference per category
};

/// A customer, as a pure function of its index c in [0, N).
struct CustomerProfile {
  std::int64_t id = 0;            ///< 1e6 + 4c + {0,1,2}: increasing and sparse
  std::int32_t segment = 0;
  std::uint8_t channel_mask = 0;  ///< bit c set: a key on channel c (1..3 bits)
  std::uint8_t region = 0;
  std::int32_t signup_days = 0;   ///< days since 1970-01-01
  std::uint64_t name_bits = 0;    ///< picks names and forms of the keys
};

/// One order, a pure function of the global index of its first line.
struct OrderProfile {
  std::uint64_t first_line = 0;
  std::uint64_t lines = 0;          ///< length of the order (1..max_basket_lines)
  std::int64_t order_id = 0;
  std::uint64_t customer = 0;       ///< index c of the buyer
  CustomerProfile buyer;
  Channel channel = Channel::web;
  bool anonymous = false;           ///< store basket without a loyalty card (empty channel_key)
  bool whale = false;
  bool orphaned = false;            ///< its key maps to a customer_id missing from customers.csv
  std::int64_t ts_seconds = 0;      ///< since the epoch, UTC
  std::int32_t itemset = -1;        ///< planted itemset (index), or -1
};

/// A discrete distribution over 0..n-1 sampled in expected constant time: a guide table over the
/// cumulative weights (Chen & Asau) jumps close to the answer, so that a draw costs one or two
/// memory accesses instead of a binary search over a table larger than the cache.
class GuidedDistribution {
 public:
  GuidedDistribution() = default;
  /// `weights` non-negative with a positive sum (an empty list gives an empty distribution).
  explicit GuidedDistribution(const std::vector<double>& weights);
  /// The index i with cdf[i-1] <= u < cdf[i] for u in [0, 1) (cdf normalised to end at 1).
  [[nodiscard]] std::size_t sample(double u) const;
  [[nodiscard]] std::size_t size() const { return cdf_.size(); }

 private:
  std::vector<double> cdf_;
  std::vector<std::uint32_t> guide_;
};

/// The generated retailer: the tables every rank builds alike (segments, catalog, popularity,
/// itemsets, whales) and the pure per-row functions. Cheap to build for M up to millions.
class OmnichannelModel {
 public:
  explicit OmnichannelModel(const OmnichannelOptions& options);

  [[nodiscard]] const OmnichannelOptions& options() const { return options_; }
  [[nodiscard]] std::uint64_t customer_count() const { return customers_; }
  [[nodiscard]] std::uint64_t item_count() const { return items_; }
  [[nodiscard]] std::uint64_t line_count() const { return lines_; }

  [[nodiscard]] const std::vector<SegmentProfile>& segments() const { return segments_; }
  [[nodiscard]] static const std::vector<std::string>& category_names();
  [[nodiscard]] static const std::vector<std::string>& region_names();
  [[nodiscard]] static const std::vector<std::string>& brand_names();

  // -- customers and keys --
  [[nodiscard]] CustomerProfile customer(std::uint64_t index) const;
  /// An id that no customer has (1e6 + 4x + 3): for orphaned keys and rows that must not match.
  [[nodiscard]] static std::int64_t ghost_customer_id(std::uint64_t x) { return 1'000'000 + 4 * static_cast<std::int64_t>(x) + 3; }
  /// Writes the channel key of `customer_id` on `channel` (raw text, not CSV-escaped) to `out`
  /// (at least max_key_bytes) and returns its length. Injective in the id for each channel: web
  /// keys are e-mail addresses (a few with a quoted local part holding a comma and quotes), app
  /// keys uuid-like hex from a bijective 64-bit mix, store keys "LC" + 12 digits of an affine
  /// permutation modulo 10^12.
  std::size_t format_channel_key(Channel channel, std::int64_t customer_id, std::uint64_t name_bits, char* out) const;
  static constexpr std::size_t max_key_bytes = 96;
  /// The index of whale j (0 <= j < W), spread evenly over [0, N).
  [[nodiscard]] const std::vector<std::uint64_t>& whales() const { return whales_; }
  [[nodiscard]] bool is_whale(std::uint64_t customer_index) const;

  /// Whether the identity row of (customer, channel) is followed by a dirty row or replaced by an
  /// orphaned one (reason unknown_customer), and which: a keyed draw. planted = false when clean.
  struct IdentityDirt {
    bool planted = false;
    DirtReason reason = DirtReason::empty_line;
    std::uint64_t variant = 0;  ///< picks the form of the dirt
  };
  [[nodiscard]] IdentityDirt identity_dirt(std::uint64_t customer_index, Channel channel) const;

  // -- items --
  [[nodiscard]] std::int64_t item_id(std::uint64_t j) const { return item_ids_[j]; }
  [[nodiscard]] std::uint32_t item_category(std::uint64_t j) const { return item_categories_[j]; }
  [[nodiscard]] std::int64_t item_list_price_cents(std::uint64_t j) const { return item_prices_[j]; }
  [[nodiscard]] std::uint32_t item_brand(std::uint64_t j) const { return item_brands_[j]; }
  /// An id that no item has (200000 + 3x + 2).
  [[nodiscard]] static std::int64_t ghost_item_id(std::uint64_t x) { return 200'000 + 3 * static_cast<std::int64_t>(x) + 2; }
  /// Item index for a uniform `u` in [0, 1) within category `category` (Zipf-like popularity).
  [[nodiscard]] std::uint64_t item_in_category(std::uint32_t category, double u) const;
  /// Category for a uniform `u` by the segment's preferences (categories without items excluded).
  [[nodiscard]] std::uint32_t category_for(std::int32_t segment, double u) const;

  /// The planted co-purchase itemsets (item indices), sizes 2..4.
  [[nodiscard]] const std::vector<std::vector<std::uint64_t>>& itemsets() const { return itemsets_; }

  // -- orders --
  static constexpr std::uint64_t max_basket_lines = 12;
  static constexpr double mean_natural_basket_lines = 4.0;
  /// Line 0 and lines whose keyed draw says so start an order.
  [[nodiscard]] bool natural_order_start(std::uint64_t line) const;
  /// The first line of the order holding `line`: scans back to the previous natural start, then
  /// applies the cap of max_basket_lines.
  [[nodiscard]] std::uint64_t order_start_containing(std::uint64_t line) const;
  /// One past the last line of the order starting at `start`.
  [[nodiscard]] std::uint64_t order_end(std::uint64_t start) const;
  [[nodiscard]] OrderProfile order(std::uint64_t first_line, std::uint64_t lines) const;

  /// The first second of the order period and its length; features.as_of lies after it.
  static constexpr std::int64_t order_period_start_s = 1704067200;  // 2024-01-01T00:00:00Z
  static constexpr std::int64_t order_period_length_s = 731LL * 86400;  // through 2025-12-31
  static constexpr std::string_view as_of_date = "2026-01-01";

  /// Streams of the counter-based generator: one per purpose.
  enum Stream : std::uint64_t {
    customer_stream = 1, item_stream, itemset_stream, order_start_stream, order_stream, line_stream,
    customer_dirt_stream, identity_dirt_stream, item_dirt_stream, line_dirt_stream,
  };
  [[nodiscard]] engine::CounterRng rng(Stream stream) const { return {options_.seed, stream}; }

  /// Threshold on a 64-bit draw below which a row is dirty (0 when dirty_rate is 0).
  [[nodiscard]] std::uint64_t dirt_threshold() const { return dirt_threshold_; }

 private:
  OmnichannelOptions options_;
  std::uint64_t customers_, items_, lines_;
  std::uint64_t dirt_threshold_ = 0;
  std::uint64_t key_salt_ = 0;
  std::vector<SegmentProfile> segments_;
  std::vector<double> segment_cdf_;
  double max_order_rate_ = 1;
  std::vector<std::vector<double>> category_cdf_by_segment_;
  std::vector<std::int64_t> item_ids_, item_prices_;
  std::vector<std::uint32_t> item_categories_, item_brands_;
  std::vector<std::vector<std::uint64_t>> items_by_category_;
  std::vector<GuidedDistribution> popularity_by_category_;
  std::vector<std::vector<std::uint64_t>> itemsets_;
  std::vector<std::uint64_t> whales_;
};

// ---- pure per-row kernels ------------------------------------------------------------------------
// Each appends the CSV records of global rows [rows.begin, rows.end) without a header: the text of
// [a, b) followed by that of [b, c) is the text of [a, c), so ranks that own consecutive blocks
// concatenate to the same bytes as one rank. Planted dirty rows are counted in `tally`.

/// The header line of a file (with the UTF-8 BOM of orders_app.csv and the CRLF of orders_store.csv).
[[nodiscard]] std::string file_header(GeneratedFile file);

/// Data records appended per file (dirty ones included), indexed by GeneratedFile.
using RecordCounts = std::array<std::uint64_t, generated_file_count>;

/// customers.csv and identity.csv rows of customers [rows.begin, rows.end).
void append_customer_rows(const OmnichannelModel& model, engine::RowRange rows, std::string& customers_csv,
                          std::string& identity_csv, DirtTally& tally, RecordCounts& records);
/// items.csv rows of items [rows.begin, rows.end); the file's last row has no line end.
void append_item_rows(const OmnichannelModel& model, engine::RowRange rows, std::string& items_csv, DirtTally& tally,
                      RecordCounts& records);

/// What the order lines of a block hold, for the summary.
struct OrderLineStats {
  std::uint64_t orders = 0;          ///< orders whose first line is in the block
  std::uint64_t whale_lines = 0;
  std::uint64_t anonymous_lines = 0;
  std::uint64_t return_lines = 0;
  std::array<std::uint64_t, channel_count> lines_by_channel{};
  void add(const OrderLineStats& other);
};
/// Order lines [rows.begin, rows.end) (global indices over all channels), each appended to the
/// text of its channel's file (`orders_csv[channel]`).
void append_order_lines(const OmnichannelModel& model, engine::RowRange rows,
                        std::array<std::string, channel_count>& orders_csv, DirtTally& tally, OrderLineStats& stats,
                        RecordCounts& records);

/// The job configuration that makes `omniseg integrate|run --config DIR/job.toml` read these files;
/// K-means looks for the model's `segments`.
[[nodiscard]] std::string job_config_text(std::int64_t segments);

// ---- the collective driver -----------------------------------------------------------------------

struct OmnichannelReport {
  RecordCounts rows{};                                     ///< data records per file (dirty ones included)
  DirtTally dirt;                                          ///< over all ranks
  OrderLineStats orders;                                   ///< over all ranks
};

/// Collective. Writes customers.csv, identity.csv, items.csv, orders_{web,app,store}.csv, job.toml
/// and truth.h5 into `directory` (created if missing). Phases are timed in `timers`. A directory
/// that cannot be created or written is an error on every rank.
OmnichannelReport generate_omnichannel(const engine::Communicator& comm, const OmnichannelOptions& options,
                                       const std::filesystem::path& directory, engine::PhaseTimers& timers);

}  // namespace omniseg::io
