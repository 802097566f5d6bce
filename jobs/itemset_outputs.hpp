// jobs/itemset_outputs.hpp — how frequent itemsets and association rules are written: the /fim and
// /rules groups of an HDF5 file and the rules CSV. Shared by `omniseg fim` and the segmentation job.
//
// Layouts: docs/rules.md (and docs/formats.md for the segmentation job). Every function is
// collective over the file's communicator; each rank writes its consecutive block of the canonical
// lists, so the files are the same bytes on any number of ranks.
#pragma once

#include <cstdint>
#include <string>

#include "algorithms/fim/pfp.hpp"
#include "algorithms/rules/association_rules.hpp"
#include "engine/communicator.hpp"
#include "io/hdf5.hpp"

namespace omniseg::jobs {

/// /fim/offsets (CSR, itemsets + 1 entries), /fim/items, /fim/support, /fim/by_size and attributes.
void write_itemsets(io::File& file, const engine::Communicator& comm, const fim::FrequentItemsets& mined,
                    std::uint64_t min_support, std::uint32_t max_size);

/// The /rules group: CSR antecedents and consequents plus one column per metric, in canonical order.
void write_rules(io::File& file, const engine::Communicator& comm, const rules::AssociationRules& found,
                 const rules::RuleOptions& options);

/// This rank's lines of the rules CSV (rank 0 adds the header): items space-separated inside a
/// field, metrics in the shortest form that reads back as the same double. Write with
/// io::write_ordered_text.
[[nodiscard]] std::string rules_csv_text(const engine::Communicator& comm, const rules::AssociationRules& found);

}  // namespace omniseg::jobs
