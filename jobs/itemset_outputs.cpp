#include "jobs/itemset_outputs.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iterator>
#include <vector>

namespace omniseg::jobs {

namespace {

constexpr std::string_view rules_csv_header = "antecedent,consequent,support_count,support,confidence,lift,leverage";

/// Global CSR offsets of this rank's block of a list sharded in rank order: the local offsets
/// shifted by the items before this rank; the last rank also writes the end, so the dataset has
/// sets + 1 entries (just [0] for an empty list).
template <class T>
std::vector<std::uint64_t> global_offsets(const engine::Communicator& comm, const fim::SetList<T>& local) {
  const std::uint64_t items_before = comm.exclusive_prefix_sum(local.items.size());
  std::vector<std::uint64_t> offsets(local.offsets.begin(), local.offsets.end() - 1);
  if (comm.rank() == comm.size() - 1) offsets.push_back(local.offsets.back());
  for (auto& offset : offsets) offset += items_before;
  return offsets;
}

}  // namespace

void write_itemsets(io::File& file, const engine::Communicator& comm, const fim::FrequentItemsets& mined,
                    std::uint64_t min_support, std::uint32_t max_size) {
  const auto& local = mined.local.sets;
  file.write_vector_rows("/fim/offsets", global_offsets(comm, local));
  file.write_vector_rows("/fim/items", local.items);
  file.write_vector_rows("/fim/support", mined.local.support);
  file.write_root_vector("/fim/by_size", mined.by_size);
  file.write_int_attribute("/fim", "min_support", static_cast<std::int64_t>(min_support));
  file.write_int_attribute("/fim", "max_size", max_size);
  file.write_int_attribute("/fim", "transactions", static_cast<std::int64_t>(mined.transactions));
  file.write_int_attribute("/fim", "itemsets", static_cast<std::int64_t>(mined.total));
  file.write_string_attribute("/fim", "order", "by size, then lexicographic by item id");
}

void write_rules(io::File& file, const engine::Communicator& comm, const rules::AssociationRules& found,
                 const rules::RuleOptions& options) {
  file.write_vector_rows("/rules/antecedent_offsets", global_offsets(comm, found.antecedents));
  file.write_vector_rows("/rules/antecedent_items", found.antecedents.items);
  file.write_vector_rows("/rules/consequent_offsets", global_offsets(comm, found.consequents));
  file.write_vector_rows("/rules/consequent_items", found.consequents.items);
  file.write_vector_rows("/rules/support_count", found.support_count);
  file.write_vector_rows("/rules/support", found.support);
  file.write_vector_rows("/rules/confidence", found.confidence);
  file.write_vector_rows("/rules/lift", found.lift);
  file.write_vector_rows("/rules/leverage", found.leverage);
  file.write_double_attribute("/rules", "min_confidence", options.min_confidence);
  file.write_double_attribute("/rules", "min_lift", options.min_lift);
  file.write_int_attribute("/rules", "top", static_cast<std::int64_t>(options.top));
  file.write_int_attribute("/rules", "rules", static_cast<std::int64_t>(found.total));
  file.write_string_attribute("/rules", "order",
                              "by antecedent (size, then item ids), then by consequent (size, then item ids)");
}

std::string rules_csv_text(const engine::Communicator& comm, const rules::AssociationRules& found) {
  fmt::memory_buffer text;
  if (comm.is_root()) fmt::format_to(std::back_inserter(text), "{}\n", rules_csv_header);
  for (std::size_t i = 0; i < found.size(); ++i) {
    fmt::format_to(std::back_inserter(text), "{},{},{},{},{},{},{}\n", fmt::join(found.antecedents[i], " "),
                   fmt::join(found.consequents[i], " "), found.support_count[i], found.support[i],
                   found.confidence[i], found.lift[i], found.leverage[i]);
  }
  return fmt::to_string(text);
}

}  // namespace omniseg::jobs
