#include "algorithms/features/baskets.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <tuple>

#include "algorithms/features/decimal_text.hpp"
#include "engine/distributed_sort.hpp"
#include "engine/radix_sort.hpp"

namespace omniseg::features {
namespace {

auto basket_key(const BasketItem& item) { return std::tuple(item.channel, item.order_id); }

constexpr std::uint64_t shifted_left(std::uint64_t value, int bits) { return bits >= 64 ? 0 : value << bits; }
constexpr std::uint64_t shifted_right(std::uint64_t value, int bits) { return bits >= 64 ? 0 : value >> bits; }
constexpr std::uint64_t low_mask(int bits) { return bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1; }

/// (channel, order_id, item_id) as one 64-bit key whose order is the tuple's, when the global
/// ranges of the three fields fit in 64 bits together (ids in ranges of a few million: they do).
/// Every rank builds the same packing from the same global ranges, so keys compare across ranks.
/// Sorting 8-byte keys by radix is many times faster than comparison sorts of 24-byte items.
class BasketPacking {
 public:
  /// Collective.
  BasketPacking(const engine::Communicator& comm, const std::vector<BasketItem>& items) {
    // One allreduce (max) of the complemented minima and the maxima of the order-preserving images.
    // Plain locals: the six running bounds stay in registers.
    std::uint64_t channel_min = ~std::uint64_t{0}, order_min = ~std::uint64_t{0}, item_min = ~std::uint64_t{0};
    std::uint64_t channel_max = 0, order_max = 0, item_max = 0;
    for (const BasketItem& item : items) {
      const std::array<std::uint64_t, 3> fields = images(item);
      channel_min = std::min(channel_min, fields[0]);
      channel_max = std::max(channel_max, fields[0]);
      order_min = std::min(order_min, fields[1]);
      order_max = std::max(order_max, fields[1]);
      item_min = std::min(item_min, fields[2]);
      item_max = std::max(item_max, fields[2]);
    }
    const std::array<std::uint64_t, 6> bounds{~channel_min, ~order_min, ~item_min, channel_max, order_max, item_max};
    const std::vector<std::uint64_t> global = comm.allreduce(bounds, engine::ReduceOp::max);
    empty_ = ~global[0] > global[3];  // no rank has items
    if (empty_) return;
    int bits[3];
    for (std::size_t f = 0; f < 3; ++f) {
      minimum_[f] = ~global[f];
      bits[f] = static_cast<int>(std::bit_width(global[3 + f] - minimum_[f]));
    }
    fits_ = bits[0] + bits[1] + bits[2] <= 64;
    item_bits_ = bits[2];
    order_shift_ = bits[2];
    channel_shift_ = bits[1] + bits[2];
    // decimal_length grows with the magnitude: the widest item id is at one end of the range.
    item_span_ = global[5] - minimum_[2];
    widest_item_chars_ = std::max(decimal_length(item_id_of_image(minimum_[2])), decimal_length(item_id_of_image(global[5])));
  }

  [[nodiscard]] bool empty() const { return empty_; }
  [[nodiscard]] bool fits() const { return fits_; }

  [[nodiscard]] std::uint64_t key(const BasketItem& item) const {
    const std::array<std::uint64_t, 3> fields = images(item);
    return shifted_left(fields[0] - minimum_[0], channel_shift_) | shifted_left(fields[1] - minimum_[1], order_shift_) |
           (fields[2] - minimum_[2]);
  }
  /// The key of the basket (channel, order_id): keys of one basket share it, and baskets order by it.
  [[nodiscard]] std::uint64_t basket(std::uint64_t key) const { return shifted_right(key, item_bits_); }
  /// The smallest key of a basket.
  [[nodiscard]] std::uint64_t first_key(std::uint64_t basket) const { return shifted_left(basket, item_bits_); }
  /// The item's offset in the global range of ids: the key's low bits.
  [[nodiscard]] std::uint64_t item_offset(std::uint64_t key) const { return key & low_mask(item_bits_); }
  [[nodiscard]] std::int64_t item_id(std::uint64_t key) const { return item_id_of_image(item_offset(key) + minimum_[2]); }
  /// Characters of the longest item id.
  [[nodiscard]] std::size_t widest_item_chars() const { return widest_item_chars_; }
  /// How many item ids the global range holds (at most 2^64 - 1).
  [[nodiscard]] std::uint64_t item_range() const { return item_span_ == ~std::uint64_t{0} ? item_span_ : item_span_ + 1; }

 private:
  static std::array<std::uint64_t, 3> images(const BasketItem& item) {
    return {item.channel, engine::sortable_bits(item.order_id), engine::sortable_bits(item.item_id)};
  }
  static std::int64_t item_id_of_image(std::uint64_t image) {
    return static_cast<std::int64_t>(image ^ (std::uint64_t{1} << 63));
  }

  std::array<std::uint64_t, 3> minimum_{};
  int item_bits_ = 0, order_shift_ = 0, channel_shift_ = 0;
  std::size_t widest_item_chars_ = 0;
  std::uint64_t item_span_ = 0;  ///< largest item image - smallest
  bool empty_ = true, fits_ = false;
};

/// Merges the sorted runs of `keys` (run r has counts[r] keys) into one sorted run, pairwise;
/// `scratch` is the second buffer.
void merge_runs(std::vector<std::uint64_t>& keys, std::vector<std::uint64_t>& scratch, std::vector<std::uint64_t> counts) {
  std::erase(counts, 0);
  scratch.resize(keys.size());
  while (counts.size() > 1) {
    std::vector<std::uint64_t> merged;
    std::uint64_t begin = 0;
    for (std::size_t r = 0; r < counts.size(); r += 2) {
      const auto first = keys.begin() + static_cast<std::ptrdiff_t>(begin);
      const auto middle = first + static_cast<std::ptrdiff_t>(counts[r]);
      const auto last = r + 1 < counts.size() ? middle + static_cast<std::ptrdiff_t>(counts[r + 1]) : middle;
      std::merge(first, middle, middle, last, scratch.begin() + static_cast<std::ptrdiff_t>(begin));
      merged.push_back(static_cast<std::uint64_t>(last - first));
      begin += merged.back();
    }
    keys.swap(scratch);
    counts = std::move(merged);
  }
}

/// Collective. Moves every basket whole to one rank so that the ranks hold consecutive ranges of
/// baskets in key order: splitters are baskets picked from regular samples of every rank's sorted
/// keys. Returns this rank's keys, sorted and unique.
std::vector<std::uint64_t> distribute_by_basket(const engine::Communicator& comm, const BasketPacking& packing,
                                                std::vector<std::uint64_t> keys, std::vector<std::uint64_t>& scratch) {
  const auto ranks = static_cast<std::size_t>(comm.size());
  const std::size_t wanted = 64 * ranks;  // samples per rank: the ranks' loads differ by about 1/64
  const std::size_t taken = std::min(wanted, keys.size());
  std::vector<std::uint64_t> samples;
  samples.reserve(taken);
  for (std::size_t s = 0; s < taken; ++s) samples.push_back(packing.basket(keys[(2 * s + 1) * keys.size() / (2 * taken)]));
  std::vector<std::uint64_t> all_samples = comm.allgatherv(samples).data;
  std::sort(all_samples.begin(), all_samples.end());  // the same on every rank

  // Rank q gets the baskets in [splitter q, splitter q+1): whole baskets, since all of a basket's
  // keys lie between its first key and the next basket's.
  std::vector<std::uint64_t> send_counts(ranks, 0);
  std::size_t begin = 0;
  for (std::size_t q = 0; q < ranks; ++q) {
    std::size_t end = keys.size();
    if (q + 1 < ranks && !all_samples.empty()) {
      const std::uint64_t first = packing.first_key(all_samples[(q + 1) * all_samples.size() / ranks]);
      end = std::max(begin, static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.end(), first) - keys.begin()));
    }
    send_counts[q] = end - begin;
    begin = end;
  }
  engine::ReceivedBlocks<std::uint64_t> received;
  received.data = std::move(scratch);  // reuse its allocation
  comm.alltoallv(keys, send_counts, received);
  scratch = std::move(keys);
  merge_runs(received.data, scratch, received.counts);
  // Copies of one item from several ranks meet only now.
  received.data.erase(std::unique(received.data.begin(), received.data.end()), received.data.end());
  return std::move(received.data);
}

/// FIMI lines of sorted, unique keys.
BasketText format_keys(const BasketPacking& packing, const std::vector<std::uint64_t>& keys) {
  BasketText result;
  // At most the widest id and a separator per key (ids of a narrow range have one width: exact).
  result.text.resize(keys.size() * (packing.widest_item_chars() + 1) + max_number_chars);
  char* const begin = result.text.data();
  char* out = begin;
  const auto separator = [&](std::size_t i) {
    const bool last_of_basket = i + 1 == keys.size() || packing.basket(keys[i + 1]) != packing.basket(keys[i]);
    result.baskets += last_of_basket ? 1 : 0;
    return last_of_basket ? '\n' : ' ';
  };
  // Ids of a range much smaller than the key count (catalogue ids) are written once into a table of
  // 8-byte words — the text, its length in the top byte — and copied from there.
  const std::uint64_t ids = packing.item_range();
  if (packing.widest_item_chars() <= 7 && ids <= (std::uint64_t{1} << 20) && ids <= keys.size() / 4) {
    std::vector<std::uint64_t> table(ids);
    for (std::uint64_t offset = 0; offset < ids; ++offset) {
      char text[max_number_chars] = {};
      // An offset alone is the key of that item in the first basket.
      const auto length = static_cast<std::uint64_t>(write_decimal(text, packing.item_id(offset)) - text);
      std::uint64_t word = 0;
      std::memcpy(&word, text, 7);
      table[offset] = word | (length << 56);
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::uint64_t word = table[packing.item_offset(keys[i])];
      std::memcpy(out, &word, 8);
      out += word >> 56;
      *out++ = separator(i);
    }
  } else {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      out = write_decimal(out, packing.item_id(keys[i]));
      *out++ = separator(i);
    }
  }
  result.text.resize(static_cast<std::size_t>(out - begin));
  return result;
}

/// What every rank tells the others about its sorted block.
struct BlockEnds {
  std::uint32_t has_rows = 0;
  std::uint32_t first_channel = 0;
  std::int64_t first_order = 0;
  std::uint32_t last_channel = 0;
  std::uint32_t pad = 0;
  std::int64_t last_order = 0;
};

/// Collective. The general path, for ids whose ranges do not pack into 64 bits: a comparison sort
/// of the items over all ranks.
BasketText build_baskets_by_comparison(const engine::Communicator& comm, std::vector<BasketItem> items) {
  sort_unique(items);  // fewer records to sort globally
  std::vector<BasketItem> block = engine::sort_into_blocks(comm, std::move(items), std::less<>());

  // The block distribution may cut a basket between ranks. Rows of a key can only be shared with
  // lower ranks at the start of a block (blocks are sorted and consecutive): that leading run
  // moves to the lowest rank holding the key.
  BlockEnds ends;
  if (!block.empty()) {
    ends = {.has_rows = 1, .first_channel = block.front().channel, .first_order = block.front().order_id,
            .last_channel = block.back().channel, .last_order = block.back().order_id};
  }
  const std::vector<BlockEnds> all_ends = comm.allgather(ends);
  const auto ranks = static_cast<std::size_t>(comm.size());
  std::vector<std::uint64_t> send_counts(ranks, 0);
  std::size_t destination = static_cast<std::size_t>(comm.rank());
  std::size_t leading_run = 0;
  if (!block.empty()) {
    const auto first = basket_key(block.front());
    for (std::size_t q = 0; q < static_cast<std::size_t>(comm.rank()); ++q) {
      if (all_ends[q].has_rows && std::tuple(all_ends[q].last_channel, all_ends[q].last_order) == first) {
        destination = q;
        break;
      }
    }
    while (leading_run < block.size() && basket_key(block[leading_run]) == first) ++leading_run;
  }
  if (destination != static_cast<std::size_t>(comm.rank())) {
    send_counts[destination] = leading_run;
    send_counts[static_cast<std::size_t>(comm.rank())] = block.size() - leading_run;
  } else {
    send_counts[destination] = block.size();
  }
  // The send buffer lists blocks in rank order: a leading run for a lower rank is already first.
  std::vector<BasketItem> mine = comm.alltoallv(block, send_counts).data;
  // Copies of one item from several ranks meet only now.
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());

  BasketText result;
  result.text = format_baskets(mine);
  result.baskets = static_cast<std::uint64_t>(std::count(result.text.begin(), result.text.end(), '\n'));
  return result;
}

}  // namespace

void sort_unique(std::vector<BasketItem>& items) {
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
}

std::string format_baskets(const std::vector<BasketItem>& sorted_items) {
  std::size_t bytes = 0;
  for (const BasketItem& item : sorted_items) bytes += decimal_length(item.item_id) + 1;  // and ' ' or '\n'
  std::string text(bytes + max_number_chars, '\0');  // room for the last number's widest write
  char* out = text.data();
  for (std::size_t i = 0; i < sorted_items.size(); ++i) {
    out = write_decimal(out, sorted_items[i].item_id);
    const bool last_of_basket = i + 1 == sorted_items.size() || basket_key(sorted_items[i + 1]) != basket_key(sorted_items[i]);
    *out++ = last_of_basket ? '\n' : ' ';
  }
  text.resize(bytes);
  return text;
}

BasketText build_baskets(const engine::Communicator& comm, std::vector<BasketItem> items) {
  const BasketPacking packing(comm, items);
  if (packing.empty()) return {};
  if (!packing.fits()) return build_baskets_by_comparison(comm, std::move(items));

  std::vector<std::uint64_t> keys, scratch;
  keys.reserve(items.size());
  for (const BasketItem& item : items) keys.push_back(packing.key(item));
  items = {};
  engine::radix_sort(keys, scratch);
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());  // fewer keys to send
  if (comm.size() > 1) keys = distribute_by_basket(comm, packing, std::move(keys), scratch);
  return format_keys(packing, keys);
}

}  // namespace omniseg::features
