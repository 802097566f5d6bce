#include "algorithms/fim/fp_growth.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <numeric>
#include <vector>

namespace omniseg::fim {
namespace {

using Code = std::uint32_t;    // an item's code inside one (conditional) tree; ascending with rank
using NodeId = std::uint32_t;  // node 0 is the root
constexpr Code kDropped = std::numeric_limits<Code>::max();

/// An FP-tree as flat arrays. Built level by level, its nodes are numbered in depth-first preorder: the tree is a single path exactly when every node's parent is the
/// node before it.
struct FpTree {
  std::vector<Code> item;
  std::vector<std::uint64_t> count;
  std::vector<NodeId> parent;
  std::vector<std::uint32_t> nodes_begin;  // per code, into nodes_by_code (codes + 1 entries)
  std::vector<NodeId> nodes_by_code;       // the nodes of each code, ascending
  std::vector<std::uint64_t> support;      // per code: sum of its nodes' counts
  Code codes = 0;

  [[nodiscard]] std::span<const NodeId> nodes_of(Code code) const {
    return {nodes_by_code.data() + nodes_begin[code], nodes_begin[code + 1] - nodes_begin[code]};
  }
  [[nodiscard]] bool is_single_path() const {
    for (NodeId node = 2; node < parent.size(); ++node) {
      if (parent[node] != node - 1) return false;
    }
    return true;
  }
};

/// Scratch for building trees, reused across calls.
struct BuildBuffers {
  std::vector<std::uint32_t> order;  // path indices, regrouped level by level
  std::vector<std::uint64_t> keys;   // (code << 32 | path index) of one range, sorted
};

/// Adds the subtree of paths order[begin, end), which share their first `depth` codes and end
/// below `parent`: groups them by their code at `depth`, one child per code in ascending order,
/// each child's subtree right after it (so nodes come out in depth-first preorder).
void build_level(FpTree& tree, const SetList<Code>& paths, std::span<const std::uint64_t> weights,
                 BuildBuffers& buffers, std::size_t begin, std::size_t end, std::size_t depth, NodeId parent) {
  auto& order = buffers.order;
  auto& keys = buffers.keys;
  if (end - begin == 1) {  // one path left: the rest of it is a chain
    const auto path = paths[order[begin]];
    const std::uint64_t weight = weights[order[begin]];
    for (std::size_t d = depth; d < path.size(); ++d) {
      tree.item.push_back(path[d]);
      tree.count.push_back(weight);
      tree.parent.push_back(parent);
      parent = static_cast<NodeId>(tree.item.size() - 1);
    }
    return;
  }
  // Sorting one integer key per path is far cheaper than comparing whole paths; the paths often
  // arrive in order already (they are read off a tree in preorder).
  const std::size_t first_key = keys.size();
  for (std::size_t i = begin; i < end; ++i) {
    const auto path = paths[order[i]];
    if (path.size() > depth) keys.push_back(std::uint64_t{path[depth]} << 32 | order[i]);
  }
  const std::size_t last_key = keys.size();
  const auto keys_begin = keys.begin() + static_cast<std::ptrdiff_t>(first_key);
  if (!std::is_sorted(keys_begin, keys.end())) std::sort(keys_begin, keys.end());
  // Paths that end at `parent` are done; the others take order[begin, write) in key order.
  std::size_t write = begin;
  for (std::size_t k = first_key; k < last_key; ++k) order[write++] = static_cast<std::uint32_t>(keys[k]);
  keys.resize(first_key);
  for (std::size_t group = begin; group < write;) {
    const Code code = paths[order[group]][depth];
    std::size_t group_end = group;
    std::uint64_t count = 0;
    while (group_end < write && paths[order[group_end]][depth] == code) count += weights[order[group_end++]];
    const auto node = static_cast<NodeId>(tree.item.size());
    tree.item.push_back(code);
    tree.count.push_back(count);
    tree.parent.push_back(parent);
    build_level(tree, paths, weights, buffers, group, group_end, depth + 1, node);
    group = group_end;
  }
}

/// Builds `tree` over codes [0, codes) from weighted paths, each strictly ascending.
void build_tree(FpTree& tree, const SetList<Code>& paths, std::span<const std::uint64_t> weights, Code codes,
                BuildBuffers& buffers) {
  tree.codes = codes;
  tree.item.assign(1, 0);
  tree.count.assign(1, 0);
  tree.parent.assign(1, 0);
  buffers.order.resize(paths.size());
  std::iota(buffers.order.begin(), buffers.order.end(), 0u);
  buffers.keys.clear();
  build_level(tree, paths, weights, buffers, 0, paths.size(), 0, 0);
  // Group nodes by code (counting sort keeps them ascending within a code).
  tree.nodes_begin.assign(static_cast<std::size_t>(codes) + 1, 0);
  tree.support.assign(codes, 0);
  for (NodeId node = 1; node < tree.item.size(); ++node) {
    ++tree.nodes_begin[tree.item[node] + 1];
    tree.support[tree.item[node]] += tree.count[node];
  }
  std::partial_sum(tree.nodes_begin.begin(), tree.nodes_begin.end(), tree.nodes_begin.begin());
  tree.nodes_by_code.resize(tree.item.size() - 1);
  std::vector<std::uint32_t>& fill = buffers.order;  // reuse: the path order is no longer needed
  fill.assign(tree.nodes_begin.begin(), tree.nodes_begin.end() - 1);
  for (NodeId node = 1; node < tree.item.size(); ++node) tree.nodes_by_code[fill[tree.item[node]]++] = node;
}

class Miner {
 public:
  Miner(const MiningLimits& limits, ItemsetSink& out) : limits_(limits), out_(out) {}

  void mine_transactions(const RankedTransactions& transactions, const SeedRange& seeds) {
    Frame& top = frame(0);
    Code codes = 0;
    for (const ItemRank rank : transactions.items) codes = std::max(codes, rank + 1);
    const std::vector<std::uint64_t> ones(transactions.size(), 1);
    build_tree(top.tree, transactions, ones, codes, top.buffers);
    top.rank_of_code.resize(codes);
    std::iota(top.rank_of_code.begin(), top.rank_of_code.end(), ItemRank{0});
    if (codes == 0 || seeds.first >= codes) return;
    mine(0, seeds.first, std::min<Code>(seeds.last, codes - 1));
  }

 private:
  /// Everything one recursion depth needs, kept between siblings to reuse memory.
  struct Frame {
    FpTree tree;
    std::vector<ItemRank> rank_of_code;
    BuildBuffers buffers;
    SetList<Code> paths;
    std::vector<std::uint64_t> weights;
    std::vector<std::uint64_t> conditional_support;
    std::vector<Code> new_code;
    std::vector<Code> path;
  };

  Frame& frame(std::size_t depth) {
    while (frames_.size() <= depth) frames_.push_back(std::make_unique<Frame>());
    return *frames_[depth];
  }

  [[nodiscard]] bool may_grow() const { return limits_.max_size == 0 || prefix_.size() < limits_.max_size; }

  // prefix_ holds ranks in descending order (each extension is more frequent).
  void emit(std::uint64_t support) { out_.add(prefix_, support); }

  /// Mines the tree at `depth` for itemsets whose highest code lies in [low, high].
  void mine(std::size_t depth, Code low, Code high) {
    Frame& current = frame(depth);
    if (current.tree.is_single_path()) {
      mine_single_path(current, low, high);
      return;
    }
    for (Code code = high + 1; code-- > low;) {
      const std::uint64_t support = current.tree.support[code];
      if (support < limits_.min_support) continue;
      prefix_.push_back(current.rank_of_code[code]);
      emit(support);
      if (may_grow() && build_conditional(current, code, frame(depth + 1))) {
        mine(depth + 1, 0, frame(depth + 1).tree.codes - 1);
      }
      prefix_.pop_back();
    }
  }

  /// The tree of the paths above every node of `code`, keeping only codes frequent there.
  /// Returns false when no code is frequent.
  bool build_conditional(const Frame& parent, Code code, Frame& child) {
    const FpTree& tree = parent.tree;
    child.conditional_support.assign(code, 0);
    for (const NodeId node : tree.nodes_of(code)) {
      for (NodeId up = tree.parent[node]; up != 0; up = tree.parent[up]) {
        child.conditional_support[tree.item[up]] += tree.count[node];
      }
    }
    child.new_code.assign(code, kDropped);
    child.rank_of_code.clear();
    for (Code c = 0; c < code; ++c) {
      if (child.conditional_support[c] >= limits_.min_support) {
        child.new_code[c] = static_cast<Code>(child.rank_of_code.size());
        child.rank_of_code.push_back(parent.rank_of_code[c]);
      }
    }
    if (child.rank_of_code.empty()) return false;
    child.paths.clear();
    child.weights.clear();
    for (const NodeId node : tree.nodes_of(code)) {
      child.path.clear();
      for (NodeId up = tree.parent[node]; up != 0; up = tree.parent[up]) {
        if (child.new_code[tree.item[up]] != kDropped) child.path.push_back(child.new_code[tree.item[up]]);
      }
      if (child.path.empty()) continue;
      std::reverse(child.path.begin(), child.path.end());
      child.paths.push_back(child.path);
      child.weights.push_back(tree.count[node]);
    }
    build_tree(child.tree, child.paths, child.weights, static_cast<Code>(child.rank_of_code.size()),
               child.buffers);
    return true;
  }

  /// A single path: an itemset's support is the count of its deepest node, so every subset whose
  /// deepest node is frequent is frequent.
  void mine_single_path(const Frame& current, Code low, Code high) {
    const FpTree& tree = current.tree;
    for (NodeId deepest = 1; deepest < tree.item.size(); ++deepest) {
      const Code code = tree.item[deepest];
      if (tree.count[deepest] < limits_.min_support) break;  // counts only fall along the path
      if (code < low || code > high) continue;
      prefix_.push_back(current.rank_of_code[code]);
      emit(tree.count[deepest]);
      add_subsets_above(current, deepest, tree.count[deepest]);
      prefix_.pop_back();
    }
  }

  /// Emits prefix + any non-empty subset of the nodes above `below` (all with support `support`).
  void add_subsets_above(const Frame& current, NodeId below, std::uint64_t support) {
    if (!may_grow()) return;
    for (NodeId node = below - 1; node >= 1; --node) {
      prefix_.push_back(current.rank_of_code[current.tree.item[node]]);
      emit(support);
      add_subsets_above(current, node, support);
      prefix_.pop_back();
    }
  }

  MiningLimits limits_;
  ItemsetSink& out_;
  std::vector<std::unique_ptr<Frame>> frames_;
  std::vector<ItemRank> prefix_;
};

/// Appends each itemset to a list, ranks ascending.
class ListSink final : public ItemsetSink {
 public:
  explicit ListSink(ItemsetList<ItemRank>& out) : out_(out) {}
  void add(std::span<const ItemRank> descending, std::uint64_t support) override {
    ascending_.assign(descending.rbegin(), descending.rend());
    out_.add(ascending_, support);
  }

 private:
  ItemsetList<ItemRank>& out_;
  std::vector<ItemRank> ascending_;
};

}  // namespace

void fp_growth(const RankedTransactions& transactions, const MiningLimits& limits, const SeedRange& seeds,
               ItemsetSink& out) {
  Miner(limits, out).mine_transactions(transactions, seeds);
}

void fp_growth(const RankedTransactions& transactions, const MiningLimits& limits, const SeedRange& seeds,
               ItemsetList<ItemRank>& out) {
  ListSink sink(out);
  fp_growth(transactions, limits, seeds, sink);
}

}  // namespace omniseg::fim
