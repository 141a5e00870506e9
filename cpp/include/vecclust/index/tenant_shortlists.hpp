// The index's tenants and their shortlists: where an access pair goes (insert_pair), how a
// shortlist that overflows is pushed down (split) and small siblings are folded back
// (merge_upwards), and the upkeep of the per-node Bloom filters that guide both.
#pragma once

#include <algorithm>      // std::lower_bound, std::find, std::sort, std::unique, std::max
#include <cstdint>        // std::int64_t, std::uint32_t
#include <string>         // std::string, std::to_string
#include <unordered_map>  // std::unordered_map
#include <vector>         // std::vector

#include "vecclust/index/bloom_filter.hpp"
#include "vecclust/index/clustering_tree.hpp"

namespace vecclust {
namespace mt_detail {

class TenantShortlists : public ClusteringTree {
  protected:
    explicit TenantShortlists(const IndexOptions& options)
        : ClusteringTree(options), n_probes_(BloomFilter::probes_for(options.bloom_fpr)) {}

    std::uint32_t find_tenant(std::int64_t tenant) const {
        auto it = tenant_of_.find(tenant);
        return it == tenant_of_.end() ? kNone : it->second;
    }

    std::uint32_t find_or_create_tenant(std::int64_t tenant) {
        auto it = tenant_of_.find(tenant);
        if (it != tenant_of_.end()) return it->second;
        std::uint32_t t;
        if (!free_tenants_.empty()) {
            t = free_tenants_.back();
            free_tenants_.pop_back();
        } else {
            require(tenants_.size() < kNone - 1, "too many tenants");
            t = static_cast<std::uint32_t>(tenants_.size());
            tenants_.emplace_back();
            shortlists_.emplace_back();
        }
        tenants_[t] = {tenant, 0};
        tenant_of_.emplace(tenant, t);
        return t;
    }

    // The tenant records as read from a file, into the tenant map: a free record is all zeros
    // (release_if_empty() clears it), a live one has its own external id.
    void index_loaded_tenants() {
        for (std::uint32_t t = 0; t < tenants_.size(); ++t) {
            const TenantRecord& record = tenants_[t];
            if (record.size == 0) {
                if (record.external != 0) throw CorruptIndex("corrupt index: free tenant record " + std::to_string(t) + " keeps an id");
            } else if (!tenant_of_.emplace(record.external, t).second) {
                throw CorruptIndex("corrupt index: tenant id " + std::to_string(record.external) + " appears twice");
            }
        }
    }

    // The most members a filter is sized for: refill_filter() gives room for twice its members.
    std::uint64_t max_filter_capacity() const {
        return std::max<std::uint64_t>(mt_detail::kMinFilterCapacity, 2 * static_cast<std::uint64_t>(tenants_.size()));
    }

    // One shortlist as read from a file (the file lists a node's by ascending tenant): of a live
    // tenant, holding live slots.
    void check_loaded_shortlist(std::uint32_t node, std::uint32_t tenant, const std::uint32_t* previous,
                                const std::vector<std::uint32_t>& ids) const {
        const std::string where = "corrupt index: a shortlist at tree node " + std::to_string(node);
        if (tenant >= tenants_.size() || tenants_[tenant].size == 0) throw CorruptIndex(where + " names an unknown tenant");
        if (previous && tenant <= *previous) throw CorruptIndex(where + " is out of tenant order");
        for (std::uint32_t v : ids)
            if (v >= owners_.size() || owners_[v] == kNone) throw CorruptIndex(where + " holds a free vector slot");
    }

    // A tenant that sees no vector is forgotten (its filter bits become harmless false positives).
    void release_if_empty(std::uint32_t t) {
        if (t == kNone || tenants_[t].size > 0) return;
        tenant_of_.erase(tenants_[t].external);
        tenants_[t] = {};
        std::vector<mt_detail::Shortlist>().swap(shortlists_[t]);  // empty already: frees its capacity
        free_tenants_.push_back(t);
    }

    // The first shortlist in [first, last) (a tenant's, in preorder) at a rank >= `rank`.
    template <class It>
    static It first_from_rank(It first, It last, std::uint32_t rank) {
        return std::lower_bound(first, last, rank, [](const mt_detail::Shortlist& s, std::uint32_t r) { return s.rank < r; });
    }

    const mt_detail::Shortlist* find_shortlist(std::uint32_t node, std::uint32_t t) const {
        const auto& lists = shortlists_[t];
        auto it = first_from_rank(lists.begin(), lists.end(), preorder_[node]);
        return it != lists.end() && it->node == node ? &*it : nullptr;
    }
    std::vector<std::uint32_t>* find_ids(std::uint32_t node, std::uint32_t t) {
        auto* list = const_cast<mt_detail::Shortlist*>(static_cast<const TenantShortlists*>(this)->find_shortlist(node, t));
        return list ? &list->ids : nullptr;
    }
    // The returned ids stay valid until t's next shortlist is created or erased.
    std::vector<std::uint32_t>& create_shortlist(std::uint32_t node, std::uint32_t t) {
        auto& lists = shortlists_[t];
        auto it = first_from_rank(lists.begin(), lists.end(), preorder_[node]);
        n_shortlists_ += 1;
        return lists.insert(it, mt_detail::Shortlist{node, preorder_[node], {}})->ids;
    }
    void erase_shortlist(std::uint32_t node, std::uint32_t t) {
        auto& lists = shortlists_[t];
        lists.erase(first_from_rank(lists.begin(), lists.end(), preorder_[node]));
        n_shortlists_ -= 1;
    }

    // Adds the pair (v, t) to the shortlist of t on v's path; creates one at the first node whose
    // filter rules t out (nothing of t can be below it) or at the leaf.
    void insert_pair(std::uint32_t v, std::uint32_t t) {
        const Path path = path_to(leaves_[v]);
        const TenantHash hash(t);
        for (int i = 0; i < path.length; ++i) {
            const std::uint32_t node = path.nodes[i];
            if (auto* ids = find_ids(node, t)) {
                ids->push_back(v);
                if (nodes_[node].n_children > 0 && static_cast<index_t>(ids->size()) > options_.split_threshold) split(node, t);
                return;
            }
            if (!filters_[node].contains(hash) || i + 1 == path.length) {
                create_shortlist(node, t).push_back(v);
                add_to_filter(node, t, hash);
                return;
            }
        }
    }

    // Pushes t's shortlist at an internal node one level down, then splits children that overflow.
    void split(std::uint32_t node, std::uint32_t t) {
        std::vector<std::uint32_t> ids = std::move(*find_ids(node, t));
        erase_shortlist(node, t);  // the node's filter keeps t: it is now above t's shortlists
        const TenantHash hash(t);
        for (std::uint32_t v : ids) {
            const std::uint32_t child = child_toward(node, leaves_[v]);
            auto* child_ids = find_ids(child, t);
            if (!child_ids) {
                child_ids = &create_shortlist(child, t);
                add_to_filter(child, t, hash);
            }
            child_ids->push_back(v);
        }
        const Node& n = nodes_[node];
        for (std::uint32_t child = n.first_child; child < n.first_child + n.n_children; ++child) {
            const auto* child_ids = find_ids(child, t);
            if (child_ids && nodes_[child].n_children > 0 && static_cast<index_t>(child_ids->size()) > options_.split_threshold)
                split(child, t);
        }
    }

    // Removes the pair (v, t) from the one shortlist that holds it, then merges upwards.
    void erase_pair(std::uint32_t v, std::uint32_t t) {
        const Path path = path_to(leaves_[v]);
        for (int i = 0; i < path.length; ++i) {
            const std::uint32_t node = path.nodes[i];
            auto* ids = find_ids(node, t);
            if (!ids) continue;
            auto it = std::find(ids->begin(), ids->end(), v);
            if (it == ids->end()) break;
            ids->erase(it);  // keeps the order: scans (and so results at a budget) stay reproducible
            if (ids->empty()) {
                erase_shortlist(node, t);
                stale_filter_entries_ += 1;
            }
            if (node != 0) merge_upwards(nodes_[node].parent, t);
            return;
        }
        throw InvariantViolation("access pair not found in any shortlist on its path");
    }

    // Folds the children's shortlists of t into `node` while they hold at most half the split
    // threshold together (the hysteresis avoids split/merge thrashing). A child without a
    // shortlist counts as empty only if its filter proves t absent below it.
    void merge_upwards(std::uint32_t node, std::uint32_t t) {
        const TenantHash hash(t);
        const index_t limit = std::max<index_t>(1, options_.split_threshold / 2);
        for (;;) {
            const Node& n = nodes_[node];
            index_t total = 0;
            bool any = false;
            for (std::uint32_t child = n.first_child; child < n.first_child + n.n_children; ++child) {
                if (const auto* ids = find_ids(child, t)) {
                    total += static_cast<index_t>(ids->size());
                    any = true;
                } else if (filters_[child].contains(hash)) {
                    return;  // t may have shortlists deeper down
                }
            }
            if (!any || total > limit) return;
            std::vector<std::uint32_t> merged;
            merged.reserve(static_cast<size_t>(total));
            for (std::uint32_t child = n.first_child; child < n.first_child + n.n_children; ++child) {
                if (auto* ids = find_ids(child, t)) {
                    merged.insert(merged.end(), ids->begin(), ids->end());
                    erase_shortlist(child, t);
                    stale_filter_entries_ += 1;
                }
            }
            create_shortlist(node, t) = std::move(merged);  // the node's filter already holds t
            if (node == 0) return;
            node = nodes_[node].parent;
        }
    }

    // ---------------------------------------------------------------------------- filters

    // Tenants with a shortlist at or below `node`, sorted.
    std::vector<std::uint32_t> tenants_below(std::uint32_t node) const {
        std::vector<std::uint32_t> out;
        for (std::uint32_t t = 0; t < shortlists_.size(); ++t) {
            const auto& lists = shortlists_[t];
            auto it = first_from_rank(lists.begin(), lists.end(), preorder_[node]);
            if (it != lists.end() && it->rank < subtree_end_[node]) out.push_back(t);
        }
        return out;
    }

    void refill_filter(std::uint32_t node, const std::vector<std::uint32_t>& members) {
        const auto capacity = std::max<std::uint32_t>(mt_detail::kMinFilterCapacity, static_cast<std::uint32_t>(2 * members.size()));
        filters_[node].reset(members.empty() ? 0 : capacity, n_probes_);
        for (std::uint32_t t : members) filters_[node].insert(TenantHash(t));
    }

    // Filters start empty and double (rebuilt exactly from the shortlists below) when full,
    // which keeps each near its target false-positive rate whatever the node's tenant count.
    void add_to_filter(std::uint32_t node, std::uint32_t t, const TenantHash& hash) {
        BloomFilter& filter = filters_[node];
        if (filter.contains(hash)) return;
        if (!filter.full()) {
            filter.insert(hash);
            return;
        }
        std::vector<std::uint32_t> members = tenants_below(node);
        if (!std::binary_search(members.begin(), members.end(), t)) members.insert(std::lower_bound(members.begin(), members.end(), t), t);
        refill_filter(node, members);
    }

    // Filters are insert-only, so removals leave stale members (extra node visits, blocked
    // merges). Once stale entries reach half the live shortlists, all filters are rebuilt
    // exactly, bottom-up (children have larger ids than their parent).
    void maybe_rebuild_filters() {
        if (stale_filter_entries_ < 64 + n_shortlists_ / 2) return;
        std::vector<std::vector<std::uint32_t>> below(nodes_.size());
        for (std::uint32_t t = 0; t < shortlists_.size(); ++t)
            for (const auto& list : shortlists_[t]) below[list.node].push_back(t);
        for (std::uint32_t node = static_cast<std::uint32_t>(nodes_.size()); node-- > 0;) {
            auto& members = below[node];
            const Node& n = nodes_[node];
            for (std::uint32_t c = n.first_child; c < n.first_child + n.n_children; ++c) {
                members.insert(members.end(), below[c].begin(), below[c].end());
                std::vector<std::uint32_t>().swap(below[c]);
            }
            std::sort(members.begin(), members.end());
            members.erase(std::unique(members.begin(), members.end()), members.end());
            refill_filter(node, members);
        }
        stale_filter_entries_ = 0;
    }

    int n_probes_ = 1;
    std::vector<BloomFilter> filters_;
    std::vector<std::vector<mt_detail::Shortlist>> shortlists_;  // per tenant, by preorder rank
    size_t n_shortlists_ = 0;
    std::uint64_t stale_filter_entries_ = 0;

    // Tenants, by internal id.
    std::vector<TenantRecord> tenants_;
    std::vector<std::uint32_t> free_tenants_;
    std::unordered_map<std::int64_t, std::uint32_t> tenant_of_;
};

}  // namespace mt_detail
}  // namespace vecclust
