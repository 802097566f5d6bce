// algorithms/features/baskets.hpp — market baskets (one transaction per order) from order lines.
//
// Owns: turning (channel, order, item) triples spread over the ranks into baskets — item ids
// deduplicated and ascending, baskets in the order of (channel index, order id) — as FIMI text
// (one basket per line, items separated by spaces) whose concatenation over the ranks in rank order
// is the same bytes for any number of ranks. Each basket ends up whole on one rank.
// Does not own: which lines count (the caller passes the items bought: quantity > 0) or writing
// the file (io::write_ordered_text).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/communicator.hpp"

namespace omniseg::features {

struct BasketItem {
  std::uint32_t channel = 0;
  std::uint32_t pad = 0;  // zero, so that equal items are equal bytes
  std::int64_t order_id = 0;
  std::int64_t item_id = 0;

  friend auto operator<=>(const BasketItem&, const BasketItem&) = default;
};

/// Kernel: sorts and removes duplicates.
void sort_unique(std::vector<BasketItem>& items);

/// Kernel: FIMI lines of sorted, unique items — one line per (channel, order_id).
[[nodiscard]] std::string format_baskets(const std::vector<BasketItem>& sorted_items);

/// Collective. Sorts every rank's items globally, moves each basket whole onto one rank and returns
/// this rank's FIMI text, plus how many baskets it holds.
struct BasketText {
  std::string text;
  std::uint64_t baskets = 0;
};
[[nodiscard]] BasketText build_baskets(const engine::Communicator& comm, std::vector<BasketItem> items);

}  // namespace omniseg::features
