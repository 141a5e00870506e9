// The index's invariant checker (I1-I5, see multitenant_index.hpp): run by check_invariants()
// and on every load, so a crafted file that passes the checksum cannot leave an unsound index.
#pragma once

#include <algorithm>  // std::binary_search, std::count
#include <cstdint>    // std::uint32_t, std::uint64_t
#include <cstring>    // std::memcmp
#include <string>     // std::string, std::to_string
#include <vector>     // std::vector

#include "vecclust/index/index_scan.hpp"

namespace vecclust {
namespace mt_detail {

class InvariantChecker : public IndexScan {
  protected:
    using IndexScan::IndexScan;

    // Throws InvariantViolation naming the first problem.
    void check_invariants_unlocked() const {
        auto fail = [](const std::string& message) { throw InvariantViolation("index invariant violated: " + message); };
        const auto n_slots = static_cast<std::uint32_t>(owners_.size());
        const auto n_nodes = static_cast<std::uint32_t>(nodes_.size());
        const auto n_tenants = static_cast<std::uint32_t>(tenants_.size());
        if (leaves_.size() != n_slots || access_.size() != n_slots) fail("per-vector arrays differ in length");

        // Vectors: id map, owners, access lists, tenant sizes.
        std::vector<std::uint64_t> seen_by(n_tenants, 0);
        std::vector<float> row(static_cast<size_t>(stride_));
        std::uint8_t code[ProjectedQuantizer::kDims];
        index_t alive = 0;
        for (std::uint32_t v = 0; v < n_slots; ++v) {
            if (owners_[v] == kNone) {
                if (!access_[v].empty()) fail("a free slot has an access list");
                if (arena_.label(v) != 0) fail("a free slot keeps an id");
                continue;
            }
            ++alive;
            auto it = slot_of_.find(arena_.label(v));
            if (it == slot_of_.end() || it->second != v) fail("id map does not match vector " + std::to_string(arena_.label(v)));
            if (leaves_[v] >= n_nodes || nodes_[leaves_[v]].n_children != 0) fail("vector is not at a leaf");
            const auto& access = access_[v];
            if (access.empty()) fail("vector " + std::to_string(arena_.label(v)) + " has no tenant");
            for (size_t i = 0; i < access.size(); ++i) {
                if (access[i] >= n_tenants || tenants_[access[i]].size == 0) fail("access list names an unknown tenant");
                if (i > 0 && access[i - 1] >= access[i]) fail("access list not sorted and distinct");
                seen_by[access[i]] += 1;
            }
            if (!std::binary_search(access.begin(), access.end(), owners_[v])) fail("owner cannot see its vector");
            arena_.load(v, row.data(), stride_);
            const mt_detail::CodeBounds bounds = encode(row.data(), code);
            if (std::memcmp(code, arena_.code(v), sizeof code) != 0 || std::memcmp(&bounds, &arena_.bounds(v), sizeof bounds) != 0)
                fail("the code of vector " + std::to_string(arena_.label(v)) + " does not match it");
        }
        if (alive != n_vectors_ || static_cast<size_t>(alive) != slot_of_.size()) fail("vector counts disagree");
        std::vector<char> is_free(n_slots, 0);
        for (std::uint32_t v : free_slots_) {
            if (v >= n_slots || owners_[v] != kNone || is_free[v]) fail("bad free slot list");
            is_free[v] = 1;
        }
        if (free_slots_.size() + static_cast<size_t>(alive) != n_slots) fail("free slot list incomplete");
        size_t live_tenants = 0;
        std::vector<char> tenant_free(n_tenants, 0);
        for (std::uint32_t t : free_tenants_) {
            if (t >= n_tenants || tenants_[t].size != 0 || tenant_free[t]) fail("bad free tenant list");
            tenant_free[t] = 1;
        }
        for (std::uint32_t t = 0; t < n_tenants; ++t) {
            if (tenants_[t].size != seen_by[t]) fail("size of tenant " + std::to_string(tenants_[t].external) + " is wrong");
            if (tenants_[t].size == 0) {
                if (!tenant_free[t]) fail("an empty tenant record is not free");
                continue;
            }
            ++live_tenants;
            auto it = tenant_of_.find(tenants_[t].external);
            if (it == tenant_of_.end() || it->second != t) fail("tenant map disagrees");
        }
        if (live_tenants != tenant_of_.size()) fail("tenant counts disagree");

        // The preorder ranks that order each tenant's shortlists.
        std::vector<std::uint32_t> rank, end;
        preorder_ranks(nodes_, rank, end);
        if (rank != preorder_ || end != subtree_end_) fail("preorder ranks do not match the tree");

        // Shortlists: order, sizes, members, filters on the path (I2, I3), and counts per pair (I1).
        if (shortlists_.size() != n_tenants) fail("shortlists are not kept for every tenant record");
        size_t n_lists = 0;
        std::vector<std::uint64_t> listed_for(n_tenants, 0);
        for (std::uint32_t t = 0; t < n_tenants; ++t) {
            n_lists += shortlists_[t].size();
            if (!shortlists_[t].empty() && tenants_[t].size == 0) fail("shortlist of an unknown tenant");
            for (size_t i = 0; i < shortlists_[t].size(); ++i) {
                const auto& list = shortlists_[t][i];
                const std::uint32_t node = list.node;
                if (node >= n_nodes || list.rank != preorder_[node]) fail("shortlist at an unknown node or with a wrong rank");
                if (i > 0 && shortlists_[t][i - 1].rank >= list.rank) fail("shortlists of a tenant not in preorder");
                if (list.ids.empty()) fail("empty shortlist");
                if (nodes_[node].n_children > 0 && static_cast<index_t>(list.ids.size()) > options_.split_threshold)
                    fail("shortlist over the split threshold at an internal node");
                const TenantHash hash(t);
                for (std::uint32_t a = node; a != kNone; a = nodes_[a].parent)
                    if (!filters_[a].contains(hash)) fail("Bloom filter false negative");
                for (std::uint32_t v : list.ids) {
                    if (v >= n_slots || owners_[v] == kNone) fail("shortlist holds a deleted vector");
                    if (!std::binary_search(access_[v].begin(), access_[v].end(), t)) fail("shortlist holds a vector its tenant cannot see");
                    std::uint32_t a = leaves_[v];
                    while (a != node && a != kNone) a = nodes_[a].parent;
                    if (a != node) fail("shortlist holds a vector outside its subtree");
                }
                listed_for[t] += list.ids.size();
            }
        }
        if (n_lists != n_shortlists_) fail("shortlist count is wrong");
        for (std::uint32_t t = 0; t < n_tenants; ++t)
            if (listed_for[t] != seen_by[t]) fail("tenant " + std::to_string(tenants_[t].external) + " has pairs listed twice or missing");
        // Every pair is on exactly one shortlist of its path (with the counts above, nowhere else).
        for (std::uint32_t v = 0; v < n_slots; ++v) {
            if (owners_[v] == kNone) continue;
            const Path path = path_to(leaves_[v]);
            for (std::uint32_t t : access_[v]) {
                int holders = 0, containing = 0;
                for (int i = 0; i < path.length; ++i) {
                    const auto* list = find_shortlist(path.nodes[i], t);
                    if (!list) continue;
                    ++holders;
                    const auto n_found = std::count(list->ids.begin(), list->ids.end(), v);
                    containing += static_cast<int>(n_found);
                }
                if (holders != 1 || containing != 1)
                    fail("pair (" + std::to_string(arena_.label(v)) + ", " + std::to_string(tenants_[t].external) + ") is on " +
                         std::to_string(containing) + " shortlists of its path");
            }
        }
    }
};

}  // namespace mt_detail
}  // namespace vecclust
