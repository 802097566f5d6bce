#include "algorithms/rules/association_rules.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>

#include "algorithms/rules/rule_kernel.hpp"
#include "engine/distributed_sort.hpp"
#include "engine/errors.hpp"
#include "engine/hash_partition.hpp"

namespace omniseg::rules {
namespace {

using engine::Communicator;
using engine::ReduceOp;
using fim::FrequentItemsets;
using fim::SetList;

/// What the directory knows of an itemset: its support and its index in the canonical list.
/// Support 0 means "not in the list" (a listed itemset has support >= 1).
struct ItemsetFacts {
  std::uint64_t support = 0;
  std::uint64_t index = 0;
};

/// This rank's share of all itemsets, by a hash of their items.
struct SupportDirectory {
  ItemsetTable table;
  std::vector<ItemsetFacts> facts;  ///< by table id
};

/// A rule as the integers it is made of; its items are fetched only once it is known to be kept.
struct RuleRecord {
  std::uint64_t antecedent_index = 0;  ///< canonical index of X among the frequent itemsets
  std::uint64_t consequent_index = 0;  ///< canonical index of Y
  std::uint64_t itemset_support = 0;   ///< sup(X u Y)
  std::uint64_t antecedent_support = 0;
  std::uint64_t consequent_support = 0;
};

/// Canonical order of itemsets is the order of their indices, so rules sort by index pairs.
bool canonical_rule_less(const RuleRecord& a, const RuleRecord& b) {
  if (a.antecedent_index != b.antecedent_index) return a.antecedent_index < b.antecedent_index;
  return a.consequent_index < b.consequent_index;
}

RuleMetrics metrics_of(const RuleRecord& rule, std::uint64_t transactions) {
  return rule_metrics({.itemset = rule.itemset_support,
                       .antecedent = rule.antecedent_support,
                       .consequent = rule.consequent_support,
                       .transactions = transactions});
}

/// Collective. Sends every local itemset, with its support and canonical index, to the rank that
/// owns the hash of its items.
SupportDirectory build_directory(const Communicator& comm, const FrequentItemsets& itemsets) {
  const auto& local = itemsets.local;
  std::vector<std::uint64_t> hashes(local.size());
  for (std::size_t i = 0; i < local.size(); ++i) hashes[i] = itemset_hash(local.sets[i]);
  const auto groups = engine::group_by_destination(
      local.size(), comm.size(), [&](std::uint64_t i) { return engine::owner_of(hashes[i], comm.size()); });
  // Records [size, support, index, items...], owner by owner.
  std::vector<std::uint64_t> send, send_counts(groups.record_counts.size(), 0);
  send.reserve(local.sets.items.size() + 3 * local.size());
  for (const std::uint64_t i : groups.order) {
    const auto set = local.sets[i];
    send_counts[static_cast<std::size_t>(groups.destination[i])] += 3 + set.size();
    send.push_back(set.size());
    send.push_back(local.support[i]);
    send.push_back(itemsets.first_index + i);
    send.insert(send.end(), set.begin(), set.end());
  }
  const auto received = comm.alltoallv(send, send_counts).data;
  SupportDirectory directory;
  for (std::size_t at = 0; at < received.size(); at += 3 + received[at]) {
    const std::span<const fim::ItemId> items(received.data() + at + 3, received[at]);
    const std::uint64_t id = directory.table.insert(items);
    if (id == directory.facts.size()) directory.facts.push_back({received[at + 1], received[at + 2]});
  }
  return directory;
}

/// Collective: one round trip to the directory. Returns the facts of every itemset in `requests`,
/// by request id (support 0 for an itemset the list does not hold).
std::vector<ItemsetFacts> ask_directory(const Communicator& comm, const SupportDirectory& directory,
                                        const ItemsetTable& requests) {
  const auto groups = engine::group_by_destination(requests.size(), comm.size(), [&](std::uint64_t id) {
    return engine::owner_of(requests.hash(id), comm.size());
  });
  std::vector<std::uint64_t> send, send_counts(groups.record_counts.size(), 0);
  for (const std::uint64_t id : groups.order) {
    const auto items = requests[id];
    send_counts[static_cast<std::size_t>(groups.destination[id])] += 1 + items.size();
    send.push_back(items.size());
    send.insert(send.end(), items.begin(), items.end());
  }
  const auto asked = comm.alltoallv(send, send_counts);
  send = {};
  // Answer every request in the order it came, one answer per request, rank by rank.
  std::vector<ItemsetFacts> answers;
  std::vector<std::uint64_t> answer_counts(asked.counts.size(), 0);
  std::size_t at = 0;
  for (std::size_t source = 0; source < asked.counts.size(); ++source) {
    for (const std::size_t end = at + asked.counts[source]; at < end; at += 1 + asked.data[at]) {
      const std::uint64_t id = directory.table.find({asked.data.data() + at + 1, asked.data[at]});
      answers.push_back(id == ItemsetTable::not_found ? ItemsetFacts{} : directory.facts[id]);
      ++answer_counts[source];
    }
  }
  const auto replies = comm.alltoallv(answers, answer_counts).data;
  // Replies come owner by owner, each owner's in the order asked: the order of groups.order.
  std::vector<ItemsetFacts> facts(requests.size());
  for (std::size_t k = 0; k < groups.order.size(); ++k) facts[groups.order[k]] = replies[k];
  return facts;
}

/// Candidate splits of local itemsets that wait for their antecedent's support; the candidates of
/// one itemset are adjacent and in lexicographic order of their consequents.
struct Frontier {
  std::vector<std::uint64_t> itemset;  ///< local index of the itemset split, per candidate
  Consequents consequents;             ///< consequent positions inside that itemset, per candidate

  [[nodiscard]] std::size_t size() const { return itemset.size(); }
  [[nodiscard]] bool empty() const { return itemset.empty(); }
  void add(std::uint64_t local_itemset, const Consequents& grown) {
    for (std::size_t c = 0; c < grown.size(); ++c) {
      itemset.push_back(local_itemset);
      consequents.push_back(grown[c]);
    }
  }
  void clear() {
    itemset.clear();
    consequents.clear();
  }
};

/// Rules that passed the confidence threshold and wait for their consequent's support.
struct AwaitingRules {
  std::vector<std::uint64_t> itemset;  ///< local index of X u Y
  Consequents consequents;             ///< positions of Y inside X u Y
  std::vector<ItemsetFacts> antecedent;

  [[nodiscard]] bool empty() const { return itemset.empty(); }
  void clear() {
    itemset.clear();
    consequents.clear();
    antecedent.clear();
  }
};

struct GenerationCounts {
  std::uint64_t candidates = 0;
  std::uint64_t confident = 0;
  std::uint64_t rounds = 0;
};

/// Collective. The rules of this rank's itemsets that pass the confidence and lift thresholds,
/// found level by level of consequent size with one directory round trip per level.
std::vector<RuleRecord> find_rules(const Communicator& comm, const FrequentItemsets& itemsets,
                                   const SupportDirectory& directory, const RuleOptions& options,
                                   GenerationCounts& counts) {
  const auto& local = itemsets.local;
  std::vector<RuleRecord> rules;
  Frontier frontier, next_frontier;
  AwaitingRules awaiting;
  std::uint64_t next_itemset = 0;  // the next local itemset whose rules have not been started
  // Starts itemsets while the frontier has room: bounds a round's memory, not its correctness.
  auto start_itemsets = [&] {
    while (next_itemset < local.size() && frontier.size() < options.max_candidates_per_round) {
      const std::size_t size = local.sets[next_itemset].size();
      if (size >= 2) frontier.add(next_itemset, first_level_consequents(size));
      ++next_itemset;
    }
  };
  ItemsetTable requests;
  std::vector<std::uint64_t> frontier_request, awaiting_request;
  std::vector<fim::ItemId> antecedent, consequent;
  Consequents confident_here;
  start_itemsets();
  while (comm.any_of(!frontier.empty() || !awaiting.empty() || next_itemset < local.size())) {
    ++counts.rounds;
    // One round asks for the consequents of last round's confident rules and the antecedents of
    // this round's candidates; an itemset asked for twice is sent once.
    requests.clear();
    awaiting_request.resize(awaiting.itemset.size());
    for (std::size_t r = 0; r < awaiting.itemset.size(); ++r) {
      split_itemset(local.sets[awaiting.itemset[r]], awaiting.consequents[r], antecedent, consequent);
      awaiting_request[r] = requests.insert(consequent);
    }
    frontier_request.resize(frontier.size());
    for (std::size_t c = 0; c < frontier.size(); ++c) {
      split_itemset(local.sets[frontier.itemset[c]], frontier.consequents[c], antecedent, consequent);
      frontier_request[c] = requests.insert(antecedent);
    }
    const auto facts = ask_directory(comm, directory, requests);
    const auto missing =
        std::find_if(facts.begin(), facts.end(), [](const ItemsetFacts& f) { return f.support == 0; });
    if (comm.any_of(missing != facts.end())) {  // every rank throws, so none waits in a collective
      if (missing == facts.end()) {
        throw Error(
            "association rules: another rank found a subset of a frequent itemset missing from the "
            "itemset list (the list must hold every subset of every itemset)");
      }
      throw Error(
          fmt::format("association rules: the itemset {{{}}} is a subset of a frequent itemset but missing "
                      "from the itemset list (the list must hold every subset of every itemset)",
                      fmt::join(requests[static_cast<std::uint64_t>(missing - facts.begin())], " ")));
    }

    for (std::size_t r = 0; r < awaiting.itemset.size(); ++r) {
      const ItemsetFacts& consequent_facts = facts[awaiting_request[r]];
      const RuleRecord rule{.antecedent_index = awaiting.antecedent[r].index,
                            .consequent_index = consequent_facts.index,
                            .itemset_support = local.support[awaiting.itemset[r]],
                            .antecedent_support = awaiting.antecedent[r].support,
                            .consequent_support = consequent_facts.support};
      if (metrics_of(rule, itemsets.transactions).lift >= options.min_lift) rules.push_back(rule);
    }
    awaiting.clear();

    // Confident consequents move on to the next round (for Y's support) and grow by one item;
    // the others are dropped with every consequent that contains them.
    next_frontier.clear();
    for (std::size_t run_begin = 0, run_end = 0; run_begin < frontier.size(); run_begin = run_end) {
      const std::uint64_t itemset = frontier.itemset[run_begin];
      const std::uint64_t itemset_support = local.support[itemset];
      confident_here.clear();
      for (run_end = run_begin; run_end < frontier.size() && frontier.itemset[run_end] == itemset;
           ++run_end) {
        const ItemsetFacts& antecedent_facts = facts[frontier_request[run_end]];
        ++counts.candidates;
        if (rule_confidence(itemset_support, antecedent_facts.support) < options.min_confidence) continue;
        confident_here.push_back(frontier.consequents[run_end]);
        awaiting.itemset.push_back(itemset);
        awaiting.consequents.push_back(frontier.consequents[run_end]);
        awaiting.antecedent.push_back(antecedent_facts);
        ++counts.confident;
      }
      const std::size_t consequent_size = frontier.consequents[run_begin].size();
      if (!confident_here.empty() && consequent_size + 1 < local.sets[itemset].size()) {
        next_frontier.add(itemset, next_level_consequents(confident_here));
      }
    }
    std::swap(frontier, next_frontier);
    start_itemsets();
  }
  return rules;
}

/// Collective: keeps the `top` rules of highest lift over all ranks (ties: canonical order).
std::vector<RuleRecord> keep_top_by_lift(const Communicator& comm, std::vector<RuleRecord> rules,
                                         std::uint64_t top, std::uint64_t transactions) {
  const auto by_lift = [transactions](const RuleRecord& a, const RuleRecord& b) {
    const double lift_a = metrics_of(a, transactions).lift, lift_b = metrics_of(b, transactions).lift;
    if (lift_a != lift_b) return lift_a > lift_b;
    return canonical_rule_less(a, b);
  };
  rules = engine::sort_into_blocks(comm, std::move(rules), by_lift);
  const std::uint64_t first = comm.exclusive_prefix_sum(rules.size());
  rules.resize(std::min<std::uint64_t>(rules.size(), top > first ? top - first : 0));
  return rules;
}

/// Collective. The items of the itemsets with canonical indices `indices` (ascending, distinct),
/// fetched from the ranks whose blocks hold them; in the order of `indices`.
SetList<fim::ItemId> fetch_itemsets(const Communicator& comm, const FrequentItemsets& itemsets,
                                    const std::vector<std::uint64_t>& indices) {
  const auto firsts = comm.allgather(itemsets.first_index);
  // Blocks are consecutive in rank order, so ascending indices are already grouped by holder; the
  // holder of i is the last rank whose block starts at or before i (empty blocks start where the
  // next one does).
  std::vector<std::uint64_t> send_counts(firsts.size(), 0);
  for (const std::uint64_t index : indices) {
    const auto holder = std::upper_bound(firsts.begin(), firsts.end(), index) - firsts.begin() - 1;
    ++send_counts[static_cast<std::size_t>(holder)];
  }
  const auto asked = comm.alltoallv(indices, send_counts);
  std::vector<std::uint64_t> answers, answer_counts(asked.counts.size(), 0);
  std::size_t at = 0;
  for (std::size_t source = 0; source < asked.counts.size(); ++source) {
    for (const std::size_t end = at + asked.counts[source]; at < end; ++at) {
      const auto set = itemsets.local.sets[asked.data[at] - itemsets.first_index];
      answers.push_back(set.size());
      answers.insert(answers.end(), set.begin(), set.end());
      answer_counts[source] += 1 + set.size();
    }
  }
  const auto replies = comm.alltoallv(answers, answer_counts).data;
  SetList<fim::ItemId> fetched;
  for (std::size_t reply = 0; reply < replies.size(); reply += 1 + replies[reply]) {
    fetched.push_back({replies.data() + reply + 1, replies[reply]});
  }
  return fetched;
}

/// Collective: the rules' items and metrics, column by column. Takes `rules` in canonical order (and
/// frees them on return).
AssociationRules materialise(const Communicator& comm, const FrequentItemsets& itemsets,
                             std::vector<RuleRecord> rules) {
  // Antecedent indices ascend in canonical order, so they are made unique in one pass; only the
  // consequent indices need a sort.
  std::vector<std::uint64_t> antecedents, consequents;
  consequents.reserve(rules.size());
  for (const RuleRecord& rule : rules) {
    if (antecedents.empty() || antecedents.back() != rule.antecedent_index) {
      antecedents.push_back(rule.antecedent_index);
    }
    consequents.push_back(rule.consequent_index);
  }
  std::sort(consequents.begin(), consequents.end());
  consequents.erase(std::unique(consequents.begin(), consequents.end()), consequents.end());
  std::vector<std::uint64_t> needed;
  needed.reserve(antecedents.size() + consequents.size());
  std::set_union(antecedents.begin(), antecedents.end(), consequents.begin(), consequents.end(),
                 std::back_inserter(needed));
  antecedents = {};
  consequents = {};
  const auto fetched = fetch_itemsets(comm, itemsets, needed);

  AssociationRules result;
  result.antecedents.offsets.reserve(rules.size() + 1);
  result.consequents.offsets.reserve(rules.size() + 1);
  result.support_count.reserve(rules.size());
  for (auto* column : {&result.support, &result.confidence, &result.lift, &result.leverage}) {
    column->reserve(rules.size());
  }
  auto antecedent_at = needed.begin();  // moves forward only, like the antecedent indices
  for (const RuleRecord& rule : rules) {
    antecedent_at = std::lower_bound(antecedent_at, needed.end(), rule.antecedent_index);
    const auto consequent_at = std::lower_bound(needed.begin(), needed.end(), rule.consequent_index);
    result.antecedents.push_back(fetched[static_cast<std::size_t>(antecedent_at - needed.begin())]);
    result.consequents.push_back(fetched[static_cast<std::size_t>(consequent_at - needed.begin())]);
    const RuleMetrics metrics = metrics_of(rule, itemsets.transactions);
    result.support_count.push_back(rule.itemset_support);
    result.support.push_back(metrics.support);
    result.confidence.push_back(metrics.confidence);
    result.lift.push_back(metrics.lift);
    result.leverage.push_back(metrics.leverage);
  }
  return result;
}

}  // namespace

void check_rule_options(const RuleOptions& options) {
  if (!(options.min_confidence > 0 && options.min_confidence <= 1)) {
    throw InputError(fmt::format("minimum confidence must lie in (0, 1], got {}", options.min_confidence));
  }
  if (!(options.min_lift >= 0) || !std::isfinite(options.min_lift)) {
    throw InputError(
        fmt::format("minimum lift must be a finite number >= 0 (0: no filter), got {}", options.min_lift));
  }
  if (options.max_candidates_per_round == 0) throw InputError("max_candidates_per_round must be >= 1");
}

AssociationRules generate_rules(const Communicator& comm, const FrequentItemsets& itemsets,
                                const RuleOptions& options, engine::PhaseTimers& timers) {
  check_rule_options(options);
  SupportDirectory directory;
  {
    auto phase = timers.phase("rules_directory");
    directory = build_directory(comm, itemsets);
  }
  std::vector<RuleRecord> rules;
  GenerationCounts counts;
  {
    auto phase = timers.phase("rules_generate");
    rules = find_rules(comm, itemsets, directory, options, counts);
    directory = {};
  }
  {
    auto phase = timers.phase("rules_order");
    const std::uint64_t found = comm.allreduce(static_cast<std::uint64_t>(rules.size()), ReduceOp::sum);
    if (options.top > 0 && found > options.top) {
      rules = keep_top_by_lift(comm, std::move(rules), options.top, itemsets.transactions);
    }
    rules = engine::sort_into_blocks(comm, std::move(rules), canonical_rule_less);
  }
  AssociationRules result;
  {
    auto phase = timers.phase("rules_items");
    result = materialise(comm, itemsets, std::move(rules));
  }
  const auto local_count = static_cast<std::uint64_t>(result.size());
  result.first_index = comm.exclusive_prefix_sum(local_count);
  result.total = comm.allreduce(local_count, ReduceOp::sum);
  result.candidates = comm.allreduce(counts.candidates, ReduceOp::sum);
  result.confident = comm.allreduce(counts.confident, ReduceOp::sum);
  result.lookup_rounds = counts.rounds;
  return result;
}

}  // namespace omniseg::rules
