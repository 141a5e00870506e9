// The index's clustering tree: hierarchical k-means (build_tree), the greedy descent to a
// vector's leaf, preorder ranks and paths, and the structure check of a loaded tree.
#pragma once

#include <algorithm>  // std::min, std::max, std::copy
#include <cstdint>    // std::uint32_t, std::uint64_t
#include <numeric>    // std::iota
#include <string>     // std::to_string
#include <utility>    // std::move
#include <vector>     // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/base/random.hpp"
#include "vecclust/index/index_io.hpp"
#include "vecclust/index/vector_storage.hpp"
#include "vecclust/kmeans/kmeans.hpp"

namespace vecclust {
namespace mt_detail {

class ClusteringTree : public VectorStore {
  protected:
    using Node = TreeNode;
    using VectorStore::VectorStore;

    // Hierarchical k-means on data (n x dim; normalised already for cosine): see
    // MultiTenantIndex::train.
    void build_tree(const std::vector<float>& data, index_t n, ThreadPool& pool) {
        const index_t d = options_.dim;
        std::vector<Node> nodes(1);
        std::vector<float> centers(static_cast<size_t>(d), 0.0f);  // unpadded; root has the mean
        for (index_t i = 0; i < n; ++i)
            for (index_t j = 0; j < d; ++j) centers[static_cast<size_t>(j)] += data[static_cast<size_t>(i * d + j)] / static_cast<float>(n);

        struct Pending {
            std::uint32_t node;
            std::vector<index_t> points;
        };
        std::vector<Pending> queue;
        queue.push_back({0, std::vector<index_t>(static_cast<size_t>(n))});
        std::iota(queue[0].points.begin(), queue[0].points.end(), index_t(0));
        std::vector<float> gathered;
        for (size_t q = 0; q < queue.size(); ++q) {  // breadth first: ids level by level
            pool.control().poll();
            const std::uint32_t node = queue[q].node;
            std::vector<index_t> points = std::move(queue[q].points);
            const auto n_points = static_cast<index_t>(points.size());
            if (n_points <= options_.split_threshold || nodes[node].level + 1 >= mt_detail::kMaxDepth) continue;
            // Children of about split_threshold / 2 points: leaves then hold shortlists of a
            // useful scan size instead of a few vectors each.
            const index_t by_size = (2 * n_points + options_.split_threshold - 1) / options_.split_threshold;
            const index_t k = std::max<index_t>(2, std::min({options_.branching_factor, by_size, n_points / mt_detail::kMinPointsPerCenter}));
            Rng rng(node_seed(node));
            // k-means on a sample of the node's points
            const index_t n_sample = std::min(n_points, mt_detail::kTrainPointsPerCenter * k);
            std::vector<index_t> sample = n_sample < n_points ? sample_without_replacement(n_points, n_sample, rng) : std::vector<index_t>();
            gather(data, d, points, sample, gathered);
            std::vector<float> init = kmeans_plusplus<float>(gathered.data(), n_sample, d, nullptr, k, rng.fork(), pool);
            KMeansOptions kmeans_options;
            kmeans_options.max_iter = mt_detail::kKMeansIterations;
            KMeansResult<float> fit = kmeans_fit<float>(gathered.data(), n_sample, d, nullptr, std::move(init), k, kmeans_options, pool);
            // every point of the node goes to its nearest centre
            gather(data, d, points, {}, gathered);
            std::vector<index_t> labels(static_cast<size_t>(n_points));
            nearest_centers<float>(gathered.data(), n_points, d, fit.centers.data(), k, labels.data(), nullptr, pool);
            std::vector<std::vector<index_t>> parts(static_cast<size_t>(k));
            for (index_t i = 0; i < n_points; ++i) parts[static_cast<size_t>(labels[static_cast<size_t>(i)])].push_back(points[static_cast<size_t>(i)]);
            bool split = false;
            for (const auto& part : parts) split |= static_cast<index_t>(part.size()) < n_points;
            if (!split) continue;  // identical points: the node stays a leaf
            const auto first = static_cast<std::uint32_t>(nodes.size());
            nodes[node].first_child = first;
            nodes[node].n_children = static_cast<std::uint32_t>(k);
            for (index_t c = 0; c < k; ++c) {
                Node child;
                child.parent = node;
                child.level = nodes[node].level + 1;
                nodes.push_back(child);
                centers.insert(centers.end(), fit.centers.begin() + c * d, fit.centers.begin() + (c + 1) * d);
                queue.push_back({first + static_cast<std::uint32_t>(c), std::move(parts[static_cast<size_t>(c)])});
            }
        }
        nodes_ = std::move(nodes);
        centroid_rows_ = mt_detail::aligned_zeros(nodes_.size() * static_cast<size_t>(stride_));
        for (size_t i = 0; i < nodes_.size(); ++i)
            std::copy(centers.begin() + static_cast<std::ptrdiff_t>(i * d), centers.begin() + static_cast<std::ptrdiff_t>((i + 1) * d),
                      centroid(static_cast<std::uint32_t>(i)));
        rank_nodes();
    }

    std::uint64_t node_seed(std::uint32_t node) const {
        std::uint64_t state = options_.seed ^ (0x9e3779b97f4a7c15ULL * (static_cast<std::uint64_t>(node) + 1));
        return splitmix64(state);
    }

    static void gather(const std::vector<float>& data, index_t d, const std::vector<index_t>& points,
                       const std::vector<index_t>& subset, std::vector<float>& out) {
        const size_t n = subset.empty() ? points.size() : subset.size();
        out.resize(n * static_cast<size_t>(d));
        for (size_t i = 0; i < n; ++i) {
            const index_t p = points[subset.empty() ? i : static_cast<size_t>(subset[i])];
            std::copy(data.begin() + p * d, data.begin() + (p + 1) * d, out.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(d)));
        }
    }

    float* centroid(std::uint32_t node) { return centroid_rows_.get() + static_cast<size_t>(node) * static_cast<size_t>(stride_); }
    const float* centroid(std::uint32_t node) const {
        return centroid_rows_.get() + static_cast<size_t>(node) * static_cast<size_t>(stride_);
    }

    // Greedy descent by squared L2 distance to the children's centroids (first on ties).
    std::uint32_t leaf_of(const float* row, std::vector<float>& sums) const {
        std::uint32_t node = 0;
        std::vector<lane_sums::FloatRow> rows;
        while (nodes_[node].n_children > 0) {
            const Node& n = nodes_[node];
            rows.resize(n.n_children);
            sums.resize(n.n_children);
            for (std::uint32_t c = 0; c < n.n_children; ++c) rows[c] = {centroid(n.first_child + c)};
            lane_sums::sums<lane_sums::SquaredDiff>(row, rows.data(), n.n_children, stride_, sums.data());
            std::uint32_t best = 0;
            for (std::uint32_t c = 1; c < n.n_children; ++c)
                if (sums[c] < sums[best]) best = c;
            node = n.first_child + best;
        }
        return node;
    }

    // Ranks the nodes in preorder (children in id order), so a subtree's nodes have the
    // consecutive ranks preorder_[node] ... subtree_end_[node] - 1.
    static void preorder_ranks(const std::vector<Node>& nodes, std::vector<std::uint32_t>& rank, std::vector<std::uint32_t>& end) {
        rank.assign(nodes.size(), 0);
        end.assign(nodes.size(), 0);
        std::uint32_t next = 0;
        std::vector<std::uint32_t> stack;
        if (!nodes.empty()) stack.push_back(0);
        while (!stack.empty()) {
            const std::uint32_t node = stack.back();
            stack.pop_back();
            rank[node] = next++;
            const Node& n = nodes[node];
            for (std::uint32_t c = n.first_child + n.n_children; c-- > n.first_child;) stack.push_back(c);
        }
        for (auto node = static_cast<std::uint32_t>(nodes.size()); node-- > 0;) {  // children after their parent
            const Node& n = nodes[node];
            end[node] = n.n_children == 0 ? rank[node] + 1 : end[n.first_child + n.n_children - 1];
        }
    }
    void rank_nodes() { preorder_ranks(nodes_, preorder_, subtree_end_); }

    // Root-first path to `leaf`.
    struct Path {
        std::uint32_t nodes[mt_detail::kMaxDepth];
        int length = 0;
    };
    Path path_to(std::uint32_t leaf) const {
        Path path;
        path.length = static_cast<int>(nodes_[leaf].level) + 1;
        for (std::uint32_t node = leaf, i = nodes_[leaf].level + 1; i-- > 0; node = nodes_[node].parent) path.nodes[i] = node;
        return path;
    }

    // The child of `node` on the way to `leaf` (a descendant of it).
    std::uint32_t child_toward(std::uint32_t node, std::uint32_t leaf) const {
        while (nodes_[leaf].parent != node) leaf = nodes_[leaf].parent;
        return leaf;
    }

    // Structure of a loaded tree: children ranges in bounds, parent links and levels agree, and
    // each node has what build_tree gives it (a leaf no child range, an internal node 2 to
    // branching_factor children).
    void check_tree() const {
        const auto n_nodes = static_cast<std::uint64_t>(nodes_.size());
        if (n_nodes == 0) return;
        if (nodes_[0].parent != kNone || nodes_[0].level != 0) throw CorruptIndex("corrupt index: bad root");
        std::uint64_t expected_next = 1;  // children are allocated level by level, in parent order
        for (std::uint32_t i = 0; i < n_nodes; ++i) {
            const Node& n = nodes_[i];
            if (n.n_children == 0) {
                if (n.first_child != 0) throw CorruptIndex("corrupt index: tree node " + std::to_string(i) + " is a leaf with a first child");
                continue;
            }
            if (n.n_children < 2 || n.n_children > static_cast<std::uint64_t>(options_.branching_factor))
                throw CorruptIndex("corrupt index: tree node " + std::to_string(i) + " has " + std::to_string(n.n_children) +
                                   " children, outside [2, branching_factor]");
            if (n.first_child != expected_next || static_cast<std::uint64_t>(n.first_child) + n.n_children > n_nodes ||
                n.level + 1 >= mt_detail::kMaxDepth)
                throw CorruptIndex("corrupt index: bad tree structure");
            expected_next += n.n_children;
            for (std::uint32_t c = n.first_child; c < n.first_child + n.n_children; ++c)
                if (nodes_[c].parent != i || nodes_[c].level != n.level + 1) throw CorruptIndex("corrupt index: bad tree links");
        }
        if (expected_next != n_nodes) throw CorruptIndex("corrupt index: unreachable tree nodes");
    }

    // Centroids of a loaded tree: finite (a NaN would make every descent pick the first child
    // and every distance bound meaningless).
    void check_centroids() const {
        for (std::uint32_t i = 0; i < nodes_.size(); ++i)
            if (!all_finite(centroid(i), options_.dim))
                throw CorruptIndex("corrupt index: the centroid of tree node " + std::to_string(i) + " is not finite");
    }

    // The tree: nodes level by level, each node's children consecutive; padded centroids.
    std::vector<Node> nodes_;
    AlignedFloats centroid_rows_;
    std::vector<std::uint32_t> preorder_, subtree_end_;  // see preorder_ranks
};

}  // namespace mt_detail
}  // namespace vecclust
