#include "algorithms/features/baskets.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "engine/distributed_sort.hpp"

namespace omniseg::features {
namespace {

auto basket_key(const BasketItem& item) { return std::tuple(item.channel, item.order_id); }

/// What every rank tells the others about its sorted block.
struct BlockEnds {
  std::uint32_t has_rows = 0;
  std::uint32_t first_channel = 0;
  std::int64_t first_order = 0;
  std::uint32_t last_channel = 0;
  std::uint32_t pad = 0;
  std::int64_t last_order = 0;
};

}  // namespace

void sort_unique(std::vector<BasketItem>& items) {
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
}

std::string format_baskets(const std::vector<BasketItem>& sorted_items) {
  fmt::memory_buffer text;
  for (std::size_t i = 0; i < sorted_items.size(); ++i) {
    const bool first_of_basket = i == 0 || basket_key(sorted_items[i - 1]) != basket_key(sorted_items[i]);
    if (!first_of_basket) text.push_back(' ');
    fmt::format_to(std::back_inserter(text), "{}", sorted_items[i].item_id);
    const bool last_of_basket = i + 1 == sorted_items.size() || basket_key(sorted_items[i + 1]) != basket_key(sorted_items[i]);
    if (last_of_basket) text.push_back('\n');
  }
  return fmt::to_string(text);
}

BasketText build_baskets(const engine::Communicator& comm, std::vector<BasketItem> items) {
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

}  // namespace omniseg::features
