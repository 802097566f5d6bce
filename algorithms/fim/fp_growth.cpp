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

/// An FP-tree as flat arrays. Built from lexicographically sorted paths, its nodes are numbered
/// in depth-first preorder: the tree is a single path exactly when every node's parent is the
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
  std::vector<std::uint32_t> order;
  std::vector<NodeId> stack;
};

/// Builds `tree` over codes [0, codes) from weighted paths, each strictly ascending.
void build_tree(FpTree& tree, const SetList<Code>& paths, std::span<const std::uint64_t> weights, Code codes,
                BuildBuffers& buffers) {
  auto& order = buffers.order;
  order.resize(paths.size());
  std::iota(order.begin(), order.end(), 0u);
  // After sorting, a path shares with any earlier path at most the prefix it shares with the one
  // just before it: insertion needs only the previous path's nodes, never a child search.
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const auto pa = paths[a], pb = paths[b];
    return std::lexicographical_compare(pa.begin(), pa.end(), pb.begin(), pb.end());
  });
  tree.codes = codes;
  tree.item.assign(1, 0);
  tree.count.assign(1, 0);
  tree.parent.assign(1, 0);
  auto& stack = buffers.stack;  // stack[d]: node at depth d on the previous path (stack[0] = root)
  stack.assign(1, 0);
  std::span<const Code> previous;
  for (const std::uint32_t index : order) {
    const auto path = paths[index];
    const std::uint64_t weight = weights[index];
    std::size_t common = 0;
    while (common < previous.size() && common < path.size() && previous[common] == path[common]) ++common;
    stack.resize(common + 1);
    for (std::size_t depth = 1; depth <= common; ++depth) tree.count[stack[depth]] += weight;
    for (std::size_t depth = common; depth < path.size(); ++depth) {
      const auto node = static_cast<NodeId>(tree.item.size());
      tree.item.push_back(path[depth]);
      tree.count.push_back(weight);
      tree.parent.push_back(stack.back());
      stack.push_back(node);
    }
    previous = path;
  }
  // Group nodes by code (counting sort keeps them ascending within a code).
  tree.nodes_begin.assign(static_cast<std::size_t>(codes) + 1, 0);
  tree.support.assign(codes, 0);
  for (NodeId node = 1; node < tree.item.size(); ++node) {
    ++tree.nodes_begin[tree.item[node] + 1];
    tree.support[tree.item[node]] += tree.count[node];
  }
  std::partial_sum(tree.nodes_begin.begin(), tree.nodes_begin.end(), tree.nodes_begin.begin());
  tree.nodes_by_code.resize(tree.item.size() - 1);
  std::vector<std::uint32_t>& fill = buffers.order;  // reuse: the sort order is no longer needed
  fill.assign(tree.nodes_begin.begin(), tree.nodes_begin.end() - 1);
  for (NodeId node = 1; node < tree.item.size(); ++node) tree.nodes_by_code[fill[tree.item[node]]++] = node;
}

class Miner {
 public:
  Miner(const MiningLimits& limits, ItemsetList<ItemRank>& out) : limits_(limits), out_(out) {}

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

  void emit(std::uint64_t support) {
    // prefix_ holds ranks in descending order (each extension is more frequent).
    itemset_.assign(prefix_.rbegin(), prefix_.rend());
    out_.add(itemset_, support);
  }

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
  ItemsetList<ItemRank>& out_;
  std::vector<std::unique_ptr<Frame>> frames_;
  std::vector<ItemRank> prefix_;
  std::vector<ItemRank> itemset_;
};

}  // namespace

void fp_growth(const RankedTransactions& transactions, const MiningLimits& limits, const SeedRange& seeds,
               ItemsetList<ItemRank>& out) {
  Miner(limits, out).mine_transactions(transactions, seeds);
}

}  // namespace omniseg::fim
