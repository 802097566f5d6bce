#include "io/omnichannel_generator.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numbers>
#include <string_view>
#include <system_error>

#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "engine/exact_sum.hpp"
#include "engine/hash_partition.hpp"
#include "io/hdf5.hpp"
#include "io/ordered_text.hpp"

namespace omniseg::io {
namespace {

// ---- the retailer's vocabulary ---------------------------------------------------------------

/// Median list price (cents) of each category: electronics and furniture are where big spenders go.
constexpr std::array<double, 12> category_median_cents{350, 800, 1500, 12000, 2500, 3500,
                                                       4000, 5000, 1800, 1200, 25000, 250};

constexpr std::array<std::string_view, 32> first_names{
    "jane", "john", "maria", "li",   "ahmed", "sofia", "lucas", "emma",  "noah",  "olga",  "raj",
    "chen", "fatima", "pierre", "ines", "kofi", "yuki", "liam", "ana", "omar", "mia", "ivan",
    "zoe",  "hugo", "sara",  "tomas", "lea", "arjun", "nina", "felix", "amara", "jonas"};
constexpr std::array<std::string_view, 32> last_names{
    "smith",  "o'neil", "garcia", "muller", "rossi", "nguyen", "kowalski", "dubois", "silva", "jensen", "okafor",
    "tanaka", "ivanova", "haddad", "murphy", "lopez", "schmidt", "khan", "novak", "berg", "costa", "moreau",
    "kim", "patel", "weber", "ferrari", "larsen", "reyes", "fischer", "santos", "wong", "o'brien"};
constexpr std::array<std::string_view, 4> mail_domains{"example.com", "mail.example", "inbox.example.org",
                                                       "post.example.net"};

/// Texts the pipeline's parsers must refuse, whatever reasonable choices they make.
constexpr std::array<std::string_view, 4> bad_integers{"12a4", "#REF!", "x17", "1O0"};
constexpr std::array<std::string_view, 4> bad_decimals{"1.2.3", "12,50", "$4.99", "abc"};
constexpr std::array<std::string_view, 4> bad_dates{"2023-02-29", "2022-13-01", "31/12/2022", "2021-04-31"};
constexpr std::array<std::string_view, 4> bad_timestamps{"2025-02-30T10:00:00Z", "2025-03-14T25:00:00Z",
                                                         "14/03/2025 12:34", "2025-13-01T08:00:00Z"};
constexpr std::array<std::string_view, 3> unknown_channels{"kiosk", "phone", "fax"};

/// The dirt each file can carry; a keyed draw picks one uniformly.
constexpr std::array customer_dirt_kinds{DirtReason::empty_line,    DirtReason::wrong_column_count,
                                         DirtReason::bad_quoting,   DirtReason::missing_value,
                                         DirtReason::bad_number,    DirtReason::bad_date,
                                         DirtReason::duplicate_key};
constexpr std::array identity_dirt_kinds{DirtReason::empty_line,       DirtReason::wrong_column_count,
                                         DirtReason::bad_quoting,      DirtReason::missing_value,
                                         DirtReason::bad_number,       DirtReason::bad_value,
                                         DirtReason::duplicate_key,    DirtReason::identity_conflict,
                                         DirtReason::unknown_customer};
constexpr std::array item_dirt_kinds{DirtReason::empty_line,  DirtReason::wrong_column_count,
                                     DirtReason::bad_quoting, DirtReason::missing_value,
                                     DirtReason::bad_number,  DirtReason::duplicate_key};
constexpr std::array line_dirt_kinds{DirtReason::empty_line,    DirtReason::wrong_column_count,
                                     DirtReason::bad_quoting,   DirtReason::missing_value,
                                     DirtReason::bad_number,    DirtReason::bad_timestamp,
                                     DirtReason::unknown_item,  DirtReason::unknown_channel_key};

constexpr double anonymous_store_share = 0.15;
constexpr double return_share = 0.02;
constexpr std::int64_t signup_first_day = 17532;  // 2018-01-01
constexpr std::int64_t signup_days_span = 2191;   // through 2023-12-31

// ---- draws -------------------------------------------------------------------------------------

constexpr double to_unit(std::uint64_t bits32) { return static_cast<double>(bits32) * 0x1.0p-32; }
constexpr std::uint64_t high32(std::uint64_t x) { return x >> 32; }
constexpr std::uint64_t low32(std::uint64_t x) { return x & 0xffffffffu; }
/// x in [0, n) from 32 random bits, by multiply-shift (n < 2^32).
constexpr std::uint64_t scaled32(std::uint64_t bits32, std::uint64_t n) { return (bits32 * n) >> 32; }

/// Index into a cumulative table for u in [0, 1) times its total.
std::size_t pick(const std::vector<double>& cdf, double u) {
  const double target = u * cdf.back();
  const auto found = std::upper_bound(cdf.begin(), cdf.end(), target);
  return std::min<std::size_t>(static_cast<std::size_t>(found - cdf.begin()), cdf.size() - 1);
}

// ---- text --------------------------------------------------------------------------------------

struct CivilDate {
  std::int64_t year;
  unsigned month, day;
};

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
constexpr CivilDate civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

/// Whether a CSV field must be quoted: it holds a delimiter, a quote or a line end. A plain loop:
/// find_first_of calls memchr once per character.
constexpr bool needs_quotes(std::string_view value) {
  for (const char c : value) {
    if (c == ',' || c == '"' || c == '\r' || c == '\n') return true;
  }
  return false;
}

/// A row assembled in place and appended to its file at once: no allocation per field.
class RowText {
 public:
  void clear() { end_ = data_.data(); }
  [[nodiscard]] std::string_view view() const { return {data_.data(), static_cast<std::size_t>(end_ - data_.data())}; }

  RowText& raw(std::string_view text) {
    if (text.empty()) return *this;  // an empty view may have no data pointer (memcpy from null)
    std::memcpy(end_, text.data(), text.size());
    end_ += text.size();
    return *this;
  }
  RowText& ch(char c) {
    *end_++ = c;
    return *this;
  }
  RowText& integer(std::int64_t value) {
    end_ = std::to_chars(end_, data_.data() + data_.size(), value).ptr;
    return *this;
  }
  /// A decimal with two places from an amount in cents.
  RowText& cents(std::int64_t amount) {
    if (amount < 0) {
      ch('-');
      amount = -amount;
    }
    integer(amount / 100);
    ch('.');
    two_digits(static_cast<unsigned>(amount % 100));
    return *this;
  }
  RowText& date(std::int64_t days) {
    const CivilDate d = civil_from_days(days);
    four_digits(static_cast<unsigned>(d.year));
    ch('-');
    two_digits(d.month);
    ch('-');
    two_digits(d.day);
    return *this;
  }
  /// ISO 8601 in UTC: 2025-03-14T12:34:56Z.
  RowText& timestamp(std::int64_t seconds) {
    const std::int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
    const auto in_day = static_cast<unsigned>(seconds - days * 86400);
    date(days);
    ch('T');
    two_digits(in_day / 3600);
    ch(':');
    two_digits(in_day / 60 % 60);
    ch(':');
    two_digits(in_day % 60);
    ch('Z');
    return *this;
  }
  /// A CSV field per RFC 4180: quoted, with quotes doubled, when it holds a delimiter, quote or line end.
  RowText& field(std::string_view value) {
    if (!needs_quotes(value)) return raw(value);
    ch('"');
    for (const char c : value) {
      if (c == '"') ch('"');
      ch(c);
    }
    return ch('"');
  }

 private:
  void two_digits(unsigned value) {
    end_[0] = static_cast<char>('0' + value / 10 % 10);
    end_[1] = static_cast<char>('0' + value % 10);
    end_ += 2;
  }
  void four_digits(unsigned value) {
    two_digits(value / 100);
    two_digits(value % 100);
  }

  std::array<char, 2048> data_{};
  char* end_ = data_.data();
};


std::string csv_field(std::string_view value) {
  RowText text;
  text.field(value);
  return std::string(text.view());
}

std::string integer_text(std::int64_t value) { return std::to_string(value); }

std::string cents_text(std::int64_t cents) {
  RowText text;
  text.cents(cents);
  return std::string(text.view());
}

std::string date_text(std::int64_t days) {
  RowText text;
  text.date(days);
  return std::string(text.view());
}

std::string timestamp_text(std::int64_t seconds) {
  RowText text;
  text.timestamp(seconds);
  return std::string(text.view());
}

/// A field that breaks RFC 4180 without changing the parity of quotes: `"value"x` (text after the
/// closing quote). Readers that find record boundaries by counting quotes stay aligned.
std::string badly_quoted(std::string_view value) {
  std::string text = "\"";
  for (const char c : value) {
    if (c == '"') text += '"';
    text += c;
  }
  text += "\"x";
  return text;
}

/// A dirty row: CSV-encoded cells, joined by commas (no cells: an empty line).
using Cells = std::vector<std::string>;

void append_cells(std::string& out, const Cells& cells, std::string_view line_end) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out += ',';
    out += cells[i];
  }
  out += line_end;
}

/// One field too few or one too many: either way the row no longer matches the header.
void break_column_count(Cells& cells, std::uint64_t variant) {
  if ((variant & 1) != 0 && cells.size() > 1) {
    cells.pop_back();
  } else {
    cells.emplace_back("extra");
  }
}

template <class Kinds>
DirtReason dirt_kind(const Kinds& kinds, std::uint64_t bits) {
  return kinds[scaled32(high32(bits), kinds.size())];
}

template <std::size_t N>
std::string_view one_of(const std::array<std::string_view, N>& texts, std::uint64_t variant) {
  return texts[variant % N];
}

// ---- segments ----------------------------------------------------------------------------------

struct Archetype {
  std::string_view name;
  double population_share;
  std::array<double, channel_count> channel_mix;
  double extra_channel_probability;
  double order_rate;
  int max_quantity;
  double price_factor;
  double itemset_probability;
  double recency_window;
  // grocery, household, beauty, electronics, toys, apparel, home, sports, books, pets, furniture, snacks
  std::array<double, 12> category_weights;
};

constexpr std::array<Archetype, 5> archetypes{{
    {"bargain_store_shoppers", 0.25, {0.10, 0.10, 0.80}, 0.20, 1.0, 6, 0.80, 0.10, 1.00,
     {6, 5, 1, 0.3, 1, 1, 1, 0.5, 0.5, 3, 0.2, 5}},
    {"app_first_frequent_buyers", 0.20, {0.15, 0.75, 0.10}, 0.30, 3.0, 2, 0.95, 0.30, 1.00,
     {1, 1, 5, 1, 2, 4, 0.5, 1, 3, 1, 0.3, 5}},
    {"web_big_spenders", 0.15, {0.80, 0.10, 0.10}, 0.30, 1.2, 3, 1.05, 0.15, 1.00,
     {0.5, 1, 1, 6, 2, 2, 4, 3, 1, 0.5, 5, 0.5}},
    {"lapsed_occasional", 0.25, {0.40, 0.20, 0.40}, 0.20, 0.4, 2, 0.90, 0.05, 0.35,
     {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
    {"omnichannel_loyal", 0.15, {0.34, 0.33, 0.33}, 0.90, 2.0, 3, 1.00, 0.25, 1.00,
     {2, 2, 2, 2, 2, 3, 3, 3, 2, 2, 1, 2}},
}};

/// Segment k: archetype k mod 5; later rounds (k >= 5) prefer categories shifted by 2 per round,
/// so that every segment differs from every other.
SegmentProfile segment_profile(std::int64_t k) {
  const Archetype& a = archetypes[static_cast<std::size_t>(k) % archetypes.size()];
  const std::int64_t round = k / static_cast<std::int64_t>(archetypes.size());
  SegmentProfile profile{.name = round == 0 ? std::string(a.name) : fmt::format("{}_{}", a.name, round + 1),
                         .population_share = a.population_share,
                         .channel_mix = a.channel_mix,
                         .extra_channel_probability = a.extra_channel_probability,
                         .order_rate = a.order_rate,
                         .max_quantity = a.max_quantity,
                         .price_factor = a.price_factor,
                         .itemset_probability = a.itemset_probability,
                         .recency_window = a.recency_window,
                         .category_weights = {}};
  const std::size_t categories = a.category_weights.size();
  profile.category_weights.resize(categories);
  for (std::size_t c = 0; c < categories; ++c) {
    profile.category_weights[(c + 2 * static_cast<std::size_t>(round)) % categories] = a.category_weights[c];
  }
  return profile;
}

}  // namespace

// ---- options -----------------------------------------------------------------------------------

void check_omnichannel_options(const OmnichannelOptions& options) {
  if (options.customers < 1 || options.customers > max_customers) {
    throw InputError(fmt::format("--customers must lie in [1, {}], got {}", max_customers, options.customers));
  }
  if (options.items < 1 || options.items > max_items) {
    throw InputError(fmt::format("--items must lie in [1, {}], got {}", max_items, options.items));
  }
  if (options.order_lines < 0) throw InputError(fmt::format("--orders must be >= 0, got {}", options.order_lines));
  if (!(options.dirty_rate >= 0 && options.dirty_rate <= 0.5)) {
    throw InputError(fmt::format("--dirty-rate must lie in [0, 0.5], got {}", options.dirty_rate));
  }
  if (options.whales < 0 || options.whales > options.customers) {
    throw InputError(fmt::format("--whales must lie in [0, --customers = {}], got {}", options.customers, options.whales));
  }
  if (options.segments < 1 || options.segments > max_segments) {
    throw InputError(fmt::format("--segments must lie in [1, {}], got {}", max_segments, options.segments));
  }
  if (!(options.whale_order_share >= 0 && options.whale_order_share <= 1)) {
    throw InputError(fmt::format("the whale order share must lie in [0, 1], got {}", options.whale_order_share));
  }
}

// ---- tallies -----------------------------------------------------------------------------------

std::uint64_t DirtTally::rejected(GeneratedFile file) const {
  std::uint64_t total = 0;
  for (std::size_t r = 0; r < dirt_reason_count; ++r) total += at(file, static_cast<DirtReason>(r));
  return total;
}

void DirtTally::add(const DirtTally& other) {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  identity_conflict_keys += other.identity_conflict_keys;
  orphaned_keys += other.orphaned_keys;
  planted_rows += other.planted_rows;
}

void OrderLineStats::add(const OrderLineStats& other) {
  orders += other.orders;
  whale_lines += other.whale_lines;
  anonymous_lines += other.anonymous_lines;
  return_lines += other.return_lines;
  for (std::size_t c = 0; c < channel_count; ++c) lines_by_channel[c] += other.lines_by_channel[c];
}

// ---- the model ---------------------------------------------------------------------------------

GuidedDistribution::GuidedDistribution(const std::vector<double>& weights) {
  if (weights.empty()) return;
  double total = 0;
  for (const double weight : weights) {
    total += weight;
    cdf_.push_back(total);
  }
  for (double& value : cdf_) value /= total;
  // Exactly 1 from the last positive weight on: every u < 1 finds an index, never a trailing zero weight.
  std::size_t last_positive = weights.size() - 1;
  while (last_positive > 0 && !(weights[last_positive] > 0)) --last_positive;
  std::fill(cdf_.begin() + static_cast<std::ptrdiff_t>(last_positive), cdf_.end(), 1.0);
  // guide_[k] = the first index whose cumulative value exceeds k / n.
  const std::size_t n = cdf_.size();
  guide_.resize(n);
  std::size_t i = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const double threshold = static_cast<double>(k) / static_cast<double>(n);
    while (cdf_[i] <= threshold) ++i;
    guide_[k] = static_cast<std::uint32_t>(i);
  }
}

std::size_t GuidedDistribution::sample(double u) const {
  const std::size_t n = cdf_.size();
  std::size_t i = guide_[std::min(n - 1, static_cast<std::size_t>(u * static_cast<double>(n)))];
  while (i > 0 && cdf_[i - 1] > u) --i;  // u * n rounded up across a bucket boundary
  while (cdf_[i] <= u) ++i;
  return i;
}

const std::vector<std::string>& OmnichannelModel::category_names() {
  static const std::vector<std::string> names{"grocery", "household",     "beauty", "electronics",
                                              "toys, games", "apparel",   "home & garden", "sports",
                                              "books",   "pets",          "furniture", "snacks"};
  return names;
}

const std::vector<std::string>& OmnichannelModel::region_names() {
  static const std::vector<std::string> names{"North, Coastal", "South", "East", "West", "Central", "Islands"};
  return names;
}

const std::vector<std::string>& OmnichannelModel::brand_names() {
  static const std::vector<std::string> names{
      "Acme",       "The \"Best\" Co, Ltd", "Northwind", "O'Reilly & Sons", "Zenith",      "Smith, Jones & Co",
      "Blue Fox",   "\"Quality\" Goods",    "Evergreen", "Nordic Home",     "Sunrise",     "Maple & Oak"};
  return names;
}

OmnichannelModel::OmnichannelModel(const OmnichannelOptions& options)
    : options_(options),
      customers_(static_cast<std::uint64_t>(std::max<std::int64_t>(options.customers, 0))),
      items_(static_cast<std::uint64_t>(std::max<std::int64_t>(options.items, 0))),
      lines_(static_cast<std::uint64_t>(std::max<std::int64_t>(options.order_lines, 0))) {
  check_omnichannel_options(options);
  // R <= 0.5, so R * 2^64 <= 2^63 fits; R = 0 gives 0 and no draw is below it: truly clean.
  dirt_threshold_ = static_cast<std::uint64_t>(std::ldexp(options.dirty_rate, 64));
  key_salt_ = engine::mix64(options.seed ^ 0x6f6d6e6973656721ULL);

  double cumulative = 0;
  for (std::int64_t k = 0; k < options.segments; ++k) {
    segments_.push_back(segment_profile(k));
    cumulative += segments_.back().population_share;
    segment_cdf_.push_back(cumulative);
    max_order_rate_ = std::max(max_order_rate_, segments_.back().order_rate);
  }

  // The catalog: category, brand, log-normal list price around the category's median, sparse id.
  const std::size_t categories = category_names().size();
  item_ids_.resize(items_);
  item_prices_.resize(items_);
  item_categories_.resize(items_);
  item_brands_.resize(items_);
  items_by_category_.resize(categories);
  const engine::CounterRng item_rng = rng(item_stream);
  for (std::uint64_t j = 0; j < items_; ++j) {
    const auto b = item_rng.bits(j, 0, 0);
    const auto category = static_cast<std::uint32_t>(scaled32(high32(b[0]), categories));
    item_categories_[j] = category;
    item_brands_[j] = static_cast<std::uint32_t>(scaled32(low32(b[0]), brand_names().size()));
    const double u1 = (static_cast<double>(high32(b[1])) + 1.0) * 0x1.0p-32;  // (0, 1]: safe under log
    const double u2 = to_unit(low32(b[1]));
    const double normal = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    item_prices_[j] = std::max<std::int64_t>(49, std::llround(category_median_cents[category] * std::exp(0.6 * normal)));
    item_ids_[j] = 200'000 + 3 * static_cast<std::int64_t>(j) + static_cast<std::int64_t>(b[2] & 1);
    items_by_category_[category].push_back(j);
  }
  // Zipf-like popularity within each category: the r-th item (by index) has weight 1 / (r + 1).
  for (std::size_t c = 0; c < categories; ++c) {
    std::vector<double> weights;
    for (std::size_t r = 0; r < items_by_category_[c].size(); ++r) weights.push_back(1.0 / static_cast<double>(r + 1));
    popularity_by_category_.emplace_back(weights);
  }
  // Each segment's category preference, over the categories that have items.
  for (const SegmentProfile& segment : segments_) {
    std::vector<double> cdf;
    double total = 0;
    for (std::size_t c = 0; c < categories; ++c) {
      total += items_by_category_[c].empty() ? 0.0 : segment.category_weights[c];
      cdf.push_back(total);
    }
    category_cdf_by_segment_.push_back(std::move(cdf));
  }

  // Planted itemsets: distinct items, sizes 2, 3, 4, 2, 3, 4 (those that fit in the catalog).
  const engine::CounterRng itemset_rng = rng(itemset_stream);
  constexpr std::array<std::uint64_t, 6> itemset_sizes{2, 3, 4, 2, 3, 4};
  for (std::size_t t = 0; t < itemset_sizes.size(); ++t) {
    if (itemset_sizes[t] > items_) continue;
    engine::RowDraws draws = itemset_rng.draws(t);
    std::vector<std::uint64_t> itemset;
    while (itemset.size() < itemset_sizes[t]) {
      const std::uint64_t j = draws.below(items_);
      if (std::ranges::find(itemset, j) == itemset.end()) itemset.push_back(j);
    }
    std::ranges::sort(itemset);
    itemsets_.push_back(std::move(itemset));
  }

  // Whales spread evenly over the customers: floor((2j + 1) N / 2W), distinct because N >= W.
  const auto whale_count = static_cast<std::uint64_t>(options.whales);
  for (std::uint64_t j = 0; j < whale_count; ++j) {
    const engine::UInt128 scaled = static_cast<engine::UInt128>(2 * j + 1) * customers_ / (2 * whale_count);
    whales_.push_back(static_cast<std::uint64_t>(scaled));
  }
}

bool OmnichannelModel::is_whale(std::uint64_t customer_index) const {
  return std::ranges::binary_search(whales_, customer_index);
}

CustomerProfile OmnichannelModel::customer(std::uint64_t index) const {
  const auto b = rng(customer_stream).bits(index, 0, 0);
  CustomerProfile profile;
  profile.segment = static_cast<std::int32_t>(pick(segment_cdf_, to_unit(high32(b[0]))));
  const SegmentProfile& segment = segments_[static_cast<std::size_t>(profile.segment)];
  // The primary channel by the segment's mix; each other one with the segment's probability.
  const auto& mix = segment.channel_mix;
  double u = to_unit(low32(b[0])) * (mix[0] + mix[1] + mix[2]);
  std::size_t primary = 0;
  while (primary + 1 < channel_count && u >= mix[primary]) u -= mix[primary++];
  profile.channel_mask = static_cast<std::uint8_t>(1u << primary);
  for (std::size_t c = 0; c < channel_count; ++c) {
    const double draw = static_cast<double>((b[1] >> (20 * c)) & 0xfffff) * 0x1.0p-20;
    if (c != primary && draw < segment.extra_channel_probability) profile.channel_mask |= static_cast<std::uint8_t>(1u << c);
  }
  profile.region = static_cast<std::uint8_t>(scaled32(high32(b[2]), region_names().size()));
  profile.signup_days = static_cast<std::int32_t>(signup_first_day + static_cast<std::int64_t>(scaled32(low32(b[2]), signup_days_span)));
  profile.id = 1'000'000 + 4 * static_cast<std::int64_t>(index) + static_cast<std::int64_t>(b[3] % 3);
  profile.name_bits = engine::mix64(b[3]);
  return profile;
}

std::size_t OmnichannelModel::format_channel_key(Channel channel, std::int64_t customer_id, std::uint64_t name_bits,
                                                 char* out) const {
  char* p = out;
  const auto put = [&p](std::string_view text) {
    std::memcpy(p, text.data(), text.size());
    p += text.size();
  };
  const auto put_id = [&p](std::int64_t id) { p = std::to_chars(p, p + 24, id).ptr; };
  switch (channel) {
    case Channel::web: {
      // The id is in every address (names never end in a digit), so different ids give different keys.
      const std::string_view first = first_names[name_bits & 31];
      const std::string_view last = last_names[(name_bits >> 5) & 31];
      const std::string_view domain = mail_domains[(name_bits >> 10) & 3];
      if ((name_bits >> 12) % 40 == 0) {  // a legally quoted local part: "o'neil, j1000004"@example.com
        put("\"");
        put(last);
        put(", ");
        put(first.substr(0, 1));
        put_id(customer_id);
        put("\"@");
      } else {
        put(first);
        put(".");
        put(last);
        put_id(customer_id);
        put("@");
      }
      put(domain);
      break;
    }
    case Channel::app: {
      // mix64 is a bijection of 64-bit words: the first 16 hex digits alone identify the id.
      const std::uint64_t high = engine::mix64(static_cast<std::uint64_t>(customer_id) ^ key_salt_);
      const std::uint64_t low = engine::mix64(high + 0x9e3779b97f4a7c15ULL);
      static constexpr char hex[] = "0123456789abcdef";
      std::array<char, 32> digits{};
      for (int i = 0; i < 16; ++i) {
        digits[static_cast<std::size_t>(i)] = hex[(high >> (60 - 4 * i)) & 15];
        digits[static_cast<std::size_t>(16 + i)] = hex[(low >> (60 - 4 * i)) & 15];
      }
      const std::string_view all(digits.data(), digits.size());
      put(all.substr(0, 8));
      put("-");
      put(all.substr(8, 4));
      put("-");
      put(all.substr(12, 4));
      put("-");
      put(all.substr(16, 4));
      put("-");
      put(all.substr(20, 12));
      break;
    }
    case Channel::store: {
      // An affine map x -> a x + b modulo 10^12 with a coprime to 10 is a permutation of [0, 10^12).
      constexpr std::uint64_t modulus = 1'000'000'000'000ULL;
      constexpr std::uint64_t multiplier = 618'033'988'749;  // ~ 10^12 / golden ratio, coprime to 10
      const auto card = static_cast<std::uint64_t>(
          (static_cast<engine::UInt128>(multiplier) * static_cast<std::uint64_t>(customer_id) + key_salt_ % modulus) %
          modulus);
      put("LC");
      std::uint64_t rest = card;
      for (int i = 11; i >= 0; --i) {
        p[i] = static_cast<char>('0' + rest % 10);
        rest /= 10;
      }
      p += 12;
      break;
    }
  }
  return static_cast<std::size_t>(p - out);
}

OmnichannelModel::IdentityDirt OmnichannelModel::identity_dirt(std::uint64_t customer_index, Channel channel) const {
  const auto b = rng(identity_dirt_stream).bits(customer_index, static_cast<std::uint64_t>(channel), 0);
  IdentityDirt dirt;
  if (b[0] >= dirt_threshold_) return dirt;
  dirt.planted = true;
  dirt.reason = dirt_kind(identity_dirt_kinds, b[1]);
  // A whale's key never loses its customer: that would reject a large share of all lines at once.
  if (dirt.reason == DirtReason::unknown_customer && is_whale(customer_index)) dirt.reason = DirtReason::identity_conflict;
  dirt.variant = b[2];
  return dirt;
}

std::uint64_t OmnichannelModel::item_in_category(std::uint32_t category, double u) const {
  return items_by_category_[category][popularity_by_category_[category].sample(u)];
}

std::uint32_t OmnichannelModel::category_for(std::int32_t segment, double u) const {
  return static_cast<std::uint32_t>(pick(category_cdf_by_segment_[static_cast<std::size_t>(segment)], u));
}

namespace {

/// The 32-bit start draw of a line: one Philox block serves 8 consecutive lines.
class StartDraws {
 public:
  explicit StartDraws(engine::CounterRng rng) : rng_(rng) {}
  std::uint64_t operator()(std::uint64_t line) {
    const std::uint64_t group = line >> 3;
    if (!cached_ || group != group_) {
      block_ = rng_.bits(group, 0, 0);
      group_ = group;
      cached_ = true;
    }
    const std::uint64_t word = block_[(line & 7) >> 1];
    return (line & 1) != 0 ? high32(word) : low32(word);
  }

 private:
  engine::CounterRng rng_;
  std::array<std::uint64_t, 4> block_{};
  std::uint64_t group_ = 0;
  bool cached_ = false;
};

constexpr std::uint64_t natural_start_threshold =
    static_cast<std::uint64_t>(0x1.0p32 / OmnichannelModel::mean_natural_basket_lines);

}  // namespace

bool OmnichannelModel::natural_order_start(std::uint64_t line) const {
  if (line == 0) return true;
  StartDraws draws(rng(order_start_stream));
  return draws(line) < natural_start_threshold;
}

std::uint64_t OmnichannelModel::order_start_containing(std::uint64_t line) const {
  StartDraws draws(rng(order_start_stream));
  std::uint64_t natural = line;
  while (natural > 0 && draws(natural) >= natural_start_threshold) --natural;
  // Between two natural starts an order is cut every max_basket_lines lines.
  return natural + (line - natural) / max_basket_lines * max_basket_lines;
}

std::uint64_t OmnichannelModel::order_end(std::uint64_t start) const {
  StartDraws draws(rng(order_start_stream));
  std::uint64_t end = start + 1;
  while (end < lines_ && end - start < max_basket_lines && draws(end) >= natural_start_threshold) ++end;
  return end;
}

OrderProfile OmnichannelModel::order(std::uint64_t first_line, std::uint64_t lines) const {
  engine::RowDraws draws = rng(order_stream).draws(first_line);
  OrderProfile order;
  order.first_line = first_line;
  order.lines = lines;
  order.order_id = 100'000'000 + static_cast<std::int64_t>(first_line);
  if (!whales_.empty() && draws.uniform() < options_.whale_order_share) {
    order.customer = whales_[draws.below(whales_.size())];
    order.buyer = customer(order.customer);
  } else {
    // Rejection sampling: a customer is drawn uniformly and kept with probability rate / max rate.
    for (int attempt = 0;; ++attempt) {
      order.customer = draws.below(customers_);
      order.buyer = customer(order.customer);
      const double rate = segments_[static_cast<std::size_t>(order.buyer.segment)].order_rate;
      if (attempt == 63 || draws.uniform() * max_order_rate_ < rate) break;
    }
  }
  order.whale = is_whale(order.customer);
  const std::size_t segment_index = static_cast<std::size_t>(order.buyer.segment);
  const SegmentProfile& segment = segments_[segment_index];

  // The channel: one of the buyer's keys, weighted by the segment's mix.
  double total = 0;
  for (std::size_t c = 0; c < channel_count; ++c) {
    if ((order.buyer.channel_mask >> c) & 1) total += segment.channel_mix[c];
  }
  double u = draws.uniform() * total;
  std::size_t chosen = channel_count;
  for (std::size_t c = 0; c < channel_count; ++c) {
    if (((order.buyer.channel_mask >> c) & 1) == 0) continue;
    chosen = c;
    if (u < segment.channel_mix[c]) break;
    u -= segment.channel_mix[c];
  }
  order.channel = static_cast<Channel>(chosen);
  order.anonymous = order.channel == Channel::store && !order.whale && draws.uniform() < anonymous_store_share;
  if (!order.anonymous) {
    const IdentityDirt dirt = identity_dirt(order.customer, order.channel);
    order.orphaned = dirt.planted && dirt.reason == DirtReason::unknown_customer;
  }
  order.ts_seconds = order_period_start_s +
                     static_cast<std::int64_t>(draws.uniform() * segment.recency_window *
                                               static_cast<double>(order_period_length_s));
  if (!itemsets_.empty() && draws.uniform() < segment.itemset_probability) {
    const std::size_t itemset = draws.uniform() < 0.7 ? segment_index % itemsets_.size() : draws.below(itemsets_.size());
    if (itemsets_[itemset].size() <= lines) order.itemset = static_cast<std::int32_t>(itemset);
  }
  return order;
}

// ---- kernels -----------------------------------------------------------------------------------

std::string file_header(GeneratedFile file) {
  switch (file) {
    case GeneratedFile::customers: return "customer_id,region,signup_date\n";
    case GeneratedFile::identity: return "channel,channel_key,customer_id\n";
    case GeneratedFile::items: return "item_id,category,brand,list_price\n";
    case GeneratedFile::orders_web: return "order_id,channel_key,item_id,quantity,unit_price,ts\n";
    case GeneratedFile::orders_app: return "\xEF\xBB\xBForder_id,channel_key,item_id,quantity,unit_price,ts\n";
    case GeneratedFile::orders_store: return "order_id,channel_key,item_id,quantity,unit_price,ts\r\n";
  }
  return {};
}

void append_customer_rows(const OmnichannelModel& model, engine::RowRange rows, std::string& customers_csv,
                          std::string& identity_csv, DirtTally& tally, RecordCounts& records) {
  const engine::CounterRng dirt_rng = model.rng(OmnichannelModel::customer_dirt_stream);
  const auto& regions = OmnichannelModel::region_names();
  RowText row;
  std::array<char, OmnichannelModel::max_key_bytes> key_buffer{};
  constexpr auto customers_file = GeneratedFile::customers, identity_file = GeneratedFile::identity;
  for (std::uint64_t c = rows.begin; c < rows.end; ++c) {
    const CustomerProfile customer = model.customer(c);
    const std::string_view region = regions[customer.region];
    row.clear();
    row.integer(customer.id).ch(',').field(region).ch(',').date(customer.signup_days).ch('\n');
    customers_csv += row.view();
    ++records[static_cast<std::size_t>(customers_file)];

    const auto dirt = dirt_rng.bits(c, 0, 0);
    if (dirt[0] < model.dirt_threshold()) {
      const DirtReason reason = dirt_kind(customer_dirt_kinds, dirt[1]);
      const std::uint64_t variant = dirt[2];
      // Rows with a format problem carry an id no customer has, so that the problem is their only one.
      Cells cells{integer_text(OmnichannelModel::ghost_customer_id(c)), csv_field(region), date_text(customer.signup_days)};
      switch (reason) {
        case DirtReason::duplicate_key: cells[0] = integer_text(customer.id); break;  // the same row again
        case DirtReason::empty_line: cells.clear(); break;
        case DirtReason::wrong_column_count: break_column_count(cells, variant); break;
        case DirtReason::bad_quoting: cells[1] = badly_quoted(region); break;
        case DirtReason::missing_value: cells[(variant >> 1) & 1 ? 0 : 2].clear(); break;
        case DirtReason::bad_number: cells[0] = csv_field(one_of(bad_integers, variant >> 1)); break;
        case DirtReason::bad_date: cells[2] = csv_field(one_of(bad_dates, variant >> 1)); break;
        default: break;
      }
      append_cells(customers_csv, cells, "\n");
      ++records[static_cast<std::size_t>(customers_file)];
      ++tally.at(customers_file, reason);
      ++tally.planted_rows;
    }

    for (std::size_t ch = 0; ch < channel_count; ++ch) {
      if (((customer.channel_mask >> ch) & 1) == 0) continue;
      const auto channel = static_cast<Channel>(ch);
      const std::string_view key(key_buffer.data(),
                                 model.format_channel_key(channel, customer.id, customer.name_bits, key_buffer.data()));
      const OmnichannelModel::IdentityDirt identity_dirt = model.identity_dirt(c, channel);
      const bool orphaned = identity_dirt.planted && identity_dirt.reason == DirtReason::unknown_customer;
      // An orphaned key points to an id missing from customers.csv: its order lines are unknown_customer.
      const std::int64_t written_id = orphaned ? OmnichannelModel::ghost_customer_id(c) : customer.id;
      row.clear();
      row.raw(channel_names[ch]).ch(',').field(key).ch(',').integer(written_id).ch('\n');
      identity_csv += row.view();
      ++records[static_cast<std::size_t>(identity_file)];
      if (!identity_dirt.planted) continue;
      ++tally.planted_rows;
      if (orphaned) {
        ++tally.orphaned_keys;
        continue;
      }
      const std::uint64_t variant = identity_dirt.variant;
      Cells cells{std::string(channel_names[ch]), csv_field(key), integer_text(customer.id)};
      switch (identity_dirt.reason) {
        case DirtReason::duplicate_key: break;
        case DirtReason::identity_conflict: {
          // A second, higher customer_id: the rule "lowest customer_id wins" keeps the true mapping.
          const std::int64_t other = c + 1 < model.customer_count() ? model.customer(c + 1).id
                                                                     : OmnichannelModel::ghost_customer_id(c);
          cells[2] = integer_text(other);
          ++tally.identity_conflict_keys;
          break;
        }
        case DirtReason::empty_line: cells.clear(); break;
        case DirtReason::wrong_column_count: break_column_count(cells, variant); break;
        case DirtReason::bad_quoting: cells[2] = badly_quoted(cells[2]); break;
        case DirtReason::missing_value: cells[(variant >> 1) % 3].clear(); break;
        case DirtReason::bad_number: cells[2] = csv_field(one_of(bad_integers, variant >> 1)); break;
        case DirtReason::bad_value: cells[0] = std::string(one_of(unknown_channels, variant >> 1)); break;
        default: break;
      }
      append_cells(identity_csv, cells, "\n");
      ++records[static_cast<std::size_t>(identity_file)];
      ++tally.at(identity_file, identity_dirt.reason);
    }
  }
}

void append_item_rows(const OmnichannelModel& model, engine::RowRange rows, std::string& items_csv, DirtTally& tally,
                      RecordCounts& records) {
  const engine::CounterRng dirt_rng = model.rng(OmnichannelModel::item_dirt_stream);
  const auto& categories = OmnichannelModel::category_names();
  const auto& brands = OmnichannelModel::brand_names();
  const std::uint64_t last = model.item_count() - 1;
  constexpr auto file = GeneratedFile::items;
  RowText row;
  for (std::uint64_t j = rows.begin; j < rows.end; ++j) {
    const std::string_view category = categories[model.item_category(j)];
    const std::string_view brand = brands[model.item_brand(j)];
    row.clear();
    row.integer(model.item_id(j)).ch(',').field(category).ch(',').field(brand).ch(',').cents(model.item_list_price_cents(j));
    if (j != last) row.ch('\n');  // items.csv has no final newline
    items_csv += row.view();
    ++records[static_cast<std::size_t>(file)];

    // Dirty rows follow a row, never the last one: the file must keep ending without a newline.
    const auto dirt = dirt_rng.bits(j, 0, 0);
    if (j == last || dirt[0] >= model.dirt_threshold()) continue;
    const DirtReason reason = dirt_kind(item_dirt_kinds, dirt[1]);
    const std::uint64_t variant = dirt[2];
    Cells cells{integer_text(OmnichannelModel::ghost_item_id(j)), csv_field(category), csv_field(brand),
                cents_text(model.item_list_price_cents(j))};
    switch (reason) {
      case DirtReason::duplicate_key: cells[0] = integer_text(model.item_id(j)); break;
      case DirtReason::empty_line: cells.clear(); break;
      case DirtReason::wrong_column_count: break_column_count(cells, variant); break;
      case DirtReason::bad_quoting: cells[2] = badly_quoted(brand); break;
      case DirtReason::missing_value: cells[(variant >> 1) & 1 ? 0 : 1].clear(); break;
      case DirtReason::bad_number:
        if ((variant >> 1) & 1) {
          cells[0] = csv_field(one_of(bad_integers, variant >> 2));
        } else {
          cells[3] = csv_field(one_of(bad_decimals, variant >> 2));
        }
        break;
      default: break;
    }
    append_cells(items_csv, cells, "\n");
    ++records[static_cast<std::size_t>(file)];
    ++tally.at(file, reason);
    ++tally.planted_rows;
  }
}

void append_order_lines(const OmnichannelModel& model, engine::RowRange rows,
                        std::array<std::string, channel_count>& orders_csv, DirtTally& tally, OrderLineStats& stats,
                        RecordCounts& records) {
  if (rows.size() == 0) return;
  const engine::CounterRng line_rng = model.rng(OmnichannelModel::line_stream);
  const engine::CounterRng line_dirt_rng = model.rng(OmnichannelModel::line_dirt_stream);
  const auto& segments = model.segments();
  const auto& itemsets = model.itemsets();
  constexpr auto return_threshold = static_cast<std::uint64_t>(return_share * 0x1.0p32);
  std::array<char, OmnichannelModel::max_key_bytes> key_buffer{}, ghost_key_buffer{};
  RowText row, head, tail;  // head: "order_id,key," of the order; tail: ",ts" and the line end

  std::uint64_t start = model.order_start_containing(rows.begin);
  std::uint64_t line = rows.begin;
  while (line < rows.end) {
    const std::uint64_t end = model.order_end(start);
    const OrderProfile order = model.order(start, end - start);
    if (start >= rows.begin) ++stats.orders;
    const SegmentProfile& segment = segments[static_cast<std::size_t>(order.buyer.segment)];
    const auto channel_index = static_cast<std::size_t>(order.channel);
    const GeneratedFile file = order_file_of(order.channel);
    const std::string_view line_end = order.channel == Channel::store ? "\r\n" : "\n";
    std::string& out = orders_csv[channel_index];
    const std::string_view key =
        order.anonymous ? std::string_view()
                        : std::string_view(key_buffer.data(), model.format_channel_key(order.channel, order.buyer.id,
                                                                                       order.buyer.name_bits,
                                                                                       key_buffer.data()));
    head.clear();
    head.integer(order.order_id).ch(',').field(key).ch(',');
    tail.clear();
    tail.ch(',').timestamp(order.ts_seconds).raw(line_end);

    for (const std::uint64_t order_last = std::min(end, rows.end); line < order_last; ++line) {
      const auto b = line_rng.bits(line, 0, 0);
      const std::uint64_t position = line - order.first_line;
      std::uint64_t item = 0;
      if (order.itemset >= 0 && position < itemsets[static_cast<std::size_t>(order.itemset)].size()) {
        item = itemsets[static_cast<std::size_t>(order.itemset)][position];
      } else {
        item = model.item_in_category(model.category_for(order.buyer.segment, to_unit(high32(b[0]))), to_unit(low32(b[0])));
      }
      auto quantity = static_cast<std::int64_t>(1 + scaled32(high32(b[1]), static_cast<std::uint64_t>(segment.max_quantity)));
      const bool is_return = low32(b[1]) < return_threshold;
      if (is_return) quantity = -quantity;
      const double factor = segment.price_factor * (0.95 + 0.1 * to_unit(high32(b[2])));
      const std::int64_t price = std::max<std::int64_t>(
          1, std::llround(static_cast<double>(model.item_list_price_cents(item)) * factor));

      ++records[static_cast<std::size_t>(file)];
      ++stats.lines_by_channel[channel_index];
      if (order.whale) ++stats.whale_lines;
      if (order.anonymous) ++stats.anonymous_lines;
      if (is_return) ++stats.return_lines;

      if (b[3] >= model.dirt_threshold()) {
        row.clear();
        row.raw(head.view()).integer(model.item_id(item)).ch(',').integer(quantity).ch(',').cents(price).raw(tail.view());
        out += row.view();
        if (order.orphaned) ++tally.at(file, DirtReason::unknown_customer);
        continue;
      }

      // A dirty line: exactly one problem.
      DirtReason reason = line_dirt_kinds[scaled32(low32(b[2]), line_dirt_kinds.size())];
      // On an orphaned key an unknown item would be a second problem: plant an unknown key instead.
      if (order.orphaned && reason == DirtReason::unknown_item) reason = DirtReason::unknown_channel_key;
      const auto v = line_dirt_rng.bits(line, 0, 0);
      Cells cells{integer_text(order.order_id), csv_field(key), integer_text(model.item_id(item)),
                  integer_text(quantity), cents_text(price), timestamp_text(order.ts_seconds)};
      switch (reason) {
        case DirtReason::empty_line: cells.clear(); break;
        case DirtReason::wrong_column_count: break_column_count(cells, v[0]); break;
        case DirtReason::bad_quoting: cells[2] = badly_quoted(cells[2]); break;
        case DirtReason::missing_value: {
          constexpr std::array<std::size_t, 5> columns{0, 2, 3, 4, 5};
          cells[columns[v[0] % columns.size()]].clear();
          break;
        }
        case DirtReason::bad_number: {
          constexpr std::array<std::size_t, 4> columns{0, 2, 3, 4};
          const std::size_t column = columns[v[0] % columns.size()];
          cells[column] = csv_field(column == 4 ? one_of(bad_decimals, v[1]) : one_of(bad_integers, v[1]));
          break;
        }
        case DirtReason::bad_timestamp: cells[5] = std::string(one_of(bad_timestamps, v[1])); break;
        case DirtReason::unknown_item:
          cells[2] = integer_text(OmnichannelModel::ghost_item_id(v[1] % 1'000'000'000));
          break;
        case DirtReason::unknown_channel_key: {
          const std::int64_t ghost = OmnichannelModel::ghost_customer_id(v[1] % 1'000'000'000);
          // Its own buffer: `key` (the order's key) points into key_buffer and serves the next lines.
          cells[1] = csv_field(std::string_view(ghost_key_buffer.data(),
                                                model.format_channel_key(order.channel, ghost, engine::mix64(v[2]),
                                                                         ghost_key_buffer.data())));
          break;
        }
        default: break;
      }
      append_cells(out, cells, line_end);
      ++tally.at(file, reason);
      ++tally.planted_rows;
    }
    start = end;
  }
}

std::string job_config_text(std::int64_t segments) {
  std::string text =
      "# omniseg job configuration, written by `omniseg generate` (keys: docs/formats.md)\n"
      "[input.customers]\n"
      "file = \"customers.csv\"\n"
      "columns = { customer_id = \"customer_id\", region = \"region\", signup_date = \"signup_date\" }\n"
      "\n"
      "[input.identity]\n"
      "file = \"identity.csv\"\n"
      "columns = { channel = \"channel\", channel_key = \"channel_key\", customer_id = \"customer_id\" }\n"
      "\n"
      "[input.items]\n"
      "file = \"items.csv\"\n"
      "columns = { item_id = \"item_id\", category = \"category\", brand = \"brand\", list_price = \"list_price\" }\n";
  for (const std::string_view channel : channel_names) {
    text += fmt::format(
        "\n[[input.orders]]\n"
        "channel = \"{0}\"\n"
        "file = \"orders_{0}.csv\"\n"
        "columns = {{ order_id = \"order_id\", channel_key = \"channel_key\", item_id = \"item_id\", "
        "quantity = \"quantity\", unit_price = \"unit_price\", ts = \"ts\" }}\n",
        channel);
  }
  text += fmt::format(
      "\n[features]\n"
      "as_of = \"{}\"        # a date after the last generated timestamp\n"
      "top_categories = 8\n"
      "\n[pca]\n"
      "components = 6        # of the 16 standardized features\n"
      "\n[kmeans]\n"
      "k = {}                 # the generator's latent segments; \"A:B\" sweeps k and keeps the best silhouette\n"
      "seed = 1\n"
      "\n[itemsets]\n"
      "min_support = 0.002   # a fraction of the baskets (>= 1: a basket count)\n"
      "\n[rules]\n"
      "min_confidence = 0.3\n"
      "min_lift = 1.5\n"
      "\n[output]\n"
      "directory = \"out\"\n",
      OmnichannelModel::as_of_date, segments);
  return text;
}

// ---- the driver --------------------------------------------------------------------------------

namespace {

/// Collective: rank 0 creates the directory; a path that cannot be a writable directory is an
/// InputError naming --out on every rank.
void prepare_directory(const engine::Communicator& comm, const std::filesystem::path& directory) {
  engine::collectively(comm, [&] {
    if (!comm.is_root()) return;
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
      throw InputError(fmt::format("--out '{}': cannot create the directory: {}", directory.string(), error.message()));
    }
    if (!std::filesystem::is_directory(directory)) {
      throw InputError(fmt::format("--out '{}' exists and is not a directory", directory.string()));
    }
    if (::access(directory.c_str(), W_OK | X_OK) != 0) {
      throw InputError(fmt::format("--out '{}' is not writable: {}", directory.string(), std::strerror(errno)));
    }
  });
}

/// Room for the text of `rows` rows of about `bytes_per_row` bytes (capped: beyond, it just grows).
void reserve_text(std::string& text, std::uint64_t rows, std::uint64_t bytes_per_row) {
  constexpr std::uint64_t cap = std::uint64_t{1} << 31;
  text.reserve(static_cast<std::size_t>(std::min(cap, rows * bytes_per_row + 64)));
}

void reduce_tally(const engine::Communicator& comm, DirtTally& tally) {
  std::vector<std::uint64_t> values(tally.counts.begin(), tally.counts.end());
  values.push_back(tally.identity_conflict_keys);
  values.push_back(tally.orphaned_keys);
  values.push_back(tally.planted_rows);
  values = comm.allreduce(values, engine::ReduceOp::sum);
  std::copy_n(values.begin(), tally.counts.size(), tally.counts.begin());
  tally.identity_conflict_keys = values[tally.counts.size()];
  tally.orphaned_keys = values[tally.counts.size() + 1];
  tally.planted_rows = values[tally.counts.size() + 2];
}

void reduce_stats(const engine::Communicator& comm, OrderLineStats& stats) {
  std::vector<std::uint64_t> values{stats.orders, stats.whale_lines, stats.anonymous_lines, stats.return_lines};
  values.insert(values.end(), stats.lines_by_channel.begin(), stats.lines_by_channel.end());
  values = comm.allreduce(values, engine::ReduceOp::sum);
  stats.orders = values[0];
  stats.whale_lines = values[1];
  stats.anonymous_lines = values[2];
  stats.return_lines = values[3];
  std::copy_n(values.begin() + 4, channel_count, stats.lines_by_channel.begin());
}

struct TruthColumns {
  std::vector<std::int64_t> customer_ids;
  std::vector<std::int32_t> segments;
  std::vector<std::int32_t> channel_masks;
};

void write_truth(const engine::Communicator& comm, const std::filesystem::path& path, const OmnichannelModel& model,
                 const TruthColumns& columns, const OmnichannelReport& report) {
  const OmnichannelOptions& options = model.options();
  write_file_atomically(comm, path, [&](File& file) {
    file.write_vector_rows("/customers/id", columns.customer_ids);
    file.write_vector_rows("/customers/segment", columns.segments);
    file.write_vector_rows("/customers/channel_mask", columns.channel_masks);

    std::vector<std::string> names;
    std::vector<double> shares, rates;
    for (const auto& segment : model.segments()) {
      names.push_back(segment.name);
      shares.push_back(segment.population_share);
      rates.push_back(segment.order_rate);
    }
    file.write_root_strings("/segments/names", names);
    file.write_root_vector("/segments/population_share", shares);
    file.write_root_vector("/segments/order_rate", rates);

    std::vector<std::int64_t> offsets{0}, items;
    for (const auto& itemset : model.itemsets()) {
      for (const std::uint64_t j : itemset) items.push_back(model.item_id(j));
      offsets.push_back(static_cast<std::int64_t>(items.size()));
    }
    file.write_root_vector("/itemsets/offsets", offsets);
    file.write_root_vector("/itemsets/items", items);

    std::vector<std::int64_t> whale_ids;
    for (const std::uint64_t c : model.whales()) whale_ids.push_back(model.customer(c).id);
    file.write_root_vector("/whales/customer_id", whale_ids);
    file.write_double_attribute("/whales", "order_share", options.whale_order_share);
    file.write_int_attribute("/whales", "lines", static_cast<std::int64_t>(report.orders.whale_lines));

    std::vector<std::int64_t> counts(report.dirt.counts.begin(), report.dirt.counts.end());
    file.write_root_matrix("/dirty/counts", counts, dirt_reason_count);
    const std::vector<std::string> files(generated_file_names.begin(), generated_file_names.end());
    const std::vector<std::string> reasons(dirt_reason_names.begin(), dirt_reason_names.end());
    file.write_root_strings("/dirty/files", files);
    file.write_root_strings("/dirty/reasons", reasons);
    file.write_int_attribute("/dirty", "identity_conflict_keys", static_cast<std::int64_t>(report.dirt.identity_conflict_keys));
    file.write_int_attribute("/dirty", "orphaned_keys", static_cast<std::int64_t>(report.dirt.orphaned_keys));
    file.write_int_attribute("/dirty", "planted_rows", static_cast<std::int64_t>(report.dirt.planted_rows));

    std::vector<std::int64_t> rows(report.rows.begin(), report.rows.end());
    file.write_root_vector("/files/rows", rows);
    file.write_root_strings("/files/names", files);

    file.write_int_attribute("/", "seed", static_cast<std::int64_t>(options.seed));
    file.write_int_attribute("/", "customers", options.customers);
    file.write_int_attribute("/", "items", options.items);
    file.write_int_attribute("/", "order_lines", options.order_lines);
    file.write_int_attribute("/", "orders", static_cast<std::int64_t>(report.orders.orders));
    file.write_double_attribute("/", "dirty_rate", options.dirty_rate);
    file.write_int_attribute("/", "whales", options.whales);
    file.write_int_attribute("/", "segments", options.segments);
    file.write_string_attribute("/", "as_of", OmnichannelModel::as_of_date);
  });
}

}  // namespace

OmnichannelReport generate_omnichannel(const engine::Communicator& comm, const OmnichannelOptions& options,
                                       const std::filesystem::path& directory, engine::PhaseTimers& timers) {
  check_omnichannel_options(options);
  prepare_directory(comm, directory);
  const OmnichannelModel model(options);
  const int rank = comm.rank();
  const auto path_of = [&](GeneratedFile file) {
    return (directory / generated_file_names[static_cast<std::size_t>(file)]).string();
  };
  const auto header_if_root = [&](GeneratedFile file) { return comm.is_root() ? file_header(file) : std::string(); };

  OmnichannelReport report;
  RecordCounts records{};
  TruthColumns truth;
  {
    auto phase = timers.phase("customers");
    const engine::RowRange rows = engine::BlockDistribution(model.customer_count(), comm.size()).range(rank);
    std::string customers = header_if_root(GeneratedFile::customers);
    std::string identity = header_if_root(GeneratedFile::identity);
    reserve_text(customers, rows.size(), 40);
    reserve_text(identity, rows.size(), 100);
    append_customer_rows(model, rows, customers, identity, report.dirt, records);
    for (std::uint64_t c = rows.begin; c < rows.end; ++c) {
      const CustomerProfile customer = model.customer(c);
      truth.customer_ids.push_back(customer.id);
      truth.segments.push_back(customer.segment);
      truth.channel_masks.push_back(customer.channel_mask);
    }
    write_ordered_text(comm, path_of(GeneratedFile::customers), customers);
    write_ordered_text(comm, path_of(GeneratedFile::identity), identity);
  }
  {
    auto phase = timers.phase("items");
    const engine::RowRange rows = engine::BlockDistribution(model.item_count(), comm.size()).range(rank);
    std::string items = header_if_root(GeneratedFile::items);
    reserve_text(items, rows.size(), 48);
    append_item_rows(model, rows, items, report.dirt, records);
    write_ordered_text(comm, path_of(GeneratedFile::items), items);
  }
  {
    auto phase = timers.phase("orders");
    const engine::RowRange rows = engine::BlockDistribution(model.line_count(), comm.size()).range(rank);
    std::array<std::string, channel_count> orders;
    for (std::size_t c = 0; c < channel_count; ++c) {
      orders[c] = header_if_root(order_file_of(static_cast<Channel>(c)));
      // Each channel could take any share of the lines: reserve for all of them (untouched pages cost nothing).
      reserve_text(orders[c], rows.size(), 80);
    }
    append_order_lines(model, rows, orders, report.dirt, report.orders, records);
    for (std::size_t c = 0; c < channel_count; ++c) {
      write_ordered_text(comm, path_of(order_file_of(static_cast<Channel>(c))), orders[c]);
      orders[c] = std::string();  // give the memory back before the next file
    }
  }
  {
    auto phase = timers.phase("truth");
    write_ordered_text(comm, (directory / "job.toml").string(), comm.is_root() ? job_config_text(model.options().segments) : std::string());
    reduce_tally(comm, report.dirt);
    reduce_stats(comm, report.orders);
    const auto rows = comm.allreduce(std::vector<std::uint64_t>(records.begin(), records.end()), engine::ReduceOp::sum);
    std::copy(rows.begin(), rows.end(), report.rows.begin());
    write_truth(comm, directory / "truth.h5", model, truth, report);
  }
  return report;
}

}  // namespace omniseg::io
