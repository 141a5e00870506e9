// A multi-tenant vector index in the style of Curator (Jin et al., "Curator: Efficient Indexing
// for Multi-Tenant Vector Databases", arXiv 2401.07119).
//
// One clustering tree, built by hierarchical k-means, is shared by every tenant. Each tenant's
// access pairs (vector, tenant) are kept in per-node "shortlists": a tenant with few vectors has
// one shortlist at the root; a shortlist at an internal node that grows past split_threshold is
// pushed one level down, so large tenants get shortlists deep in the tree, and sibling
// shortlists that shrink are merged back. Per-node Bloom filters say which tenants may have
// shortlists at or below a node (they decide where a new shortlist goes). A tenant's shortlists
// are kept together, in preorder of their nodes, so those in any subtree are consecutive. A
// search for tenant t walks t's part of the tree (the nodes with shortlists of t at or below
// them) best-first by centroid distance and scans whole shortlists until `budget`
// candidate vectors have been scanned; it only ever scans t's shortlists, so it cannot return a
// vector t may not see. Each vector is stored as a one-cache-line header (a 32-byte code of
// its projection on the data's main directions, projected_codes.hpp, with the bounds that go
// with it and its external id), then the high and the low 16 bits of its floats. A scan reads
// every candidate's header, then the k most promising candidates whole, then the high halves of
// the others the codes cannot rule out, then the low halves of those the high halves cannot
// rule out; each step skips, by a rigorous bound, only vectors that cannot enter the top k, so
// a scan reads about a tenth of the bytes and still returns the exact top k of the vectors it
// scanned.
//
// Invariants (checked by check_invariants()):
//   I1 each access pair (v, t) is in exactly one shortlist, at a node on v's root-to-leaf path;
//   I2 a node's filter contains every tenant with a shortlist at or below it;
//   I3 shortlists at internal nodes hold at most split_threshold ids (leaves are unbounded);
//   I4 per-vector access lists, owners, tenant sizes and the id maps agree with the shortlists;
//   I5 the preorder ranks match the tree and each tenant's shortlists are sorted by them.
// Unlike the reference code, filters are never rebuilt from children alone (a tenant with an
// internal shortlist would vanish), merges treat a sibling with no vectors of t as empty, every
// leaf keeps its shortlists (no unfiltered leaf scans), and grant is idempotent.
//
// Thread safety: searches take a shared lock; every mutation takes an exclusive lock and
// validates all of its input before it changes anything.
#pragma once

#include <algorithm>      // std::sort, std::min_element
#include <cstdint>        // std::int64_t, std::uint32_t
#include <memory>         // std::unique_ptr
#include <mutex>          // std::unique_lock
#include <shared_mutex>   // std::shared_mutex, std::shared_lock
#include <string>         // std::to_string
#include <utility>        // std::pair
#include <vector>         // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/index/index_file.hpp"

namespace vecclust {

// The parts, from the bottom up: index_options.hpp (IndexSettings), vector_storage.hpp,
// clustering_tree.hpp, tenant_shortlists.hpp, index_scan.hpp, index_invariants.hpp and
// index_file.hpp. This class takes the lock and coordinates them.
class MultiTenantIndex : private mt_detail::IndexFile {
  public:
    using Node = mt_detail::TreeNode;
    static constexpr std::uint32_t kNone = mt_detail::kNone;
    using mt_detail::IndexFile::kFormatVersion;
    // "auto" turns sign codes on when the 32 projected directions hold less of the training
    // data's energy than this (sentence embeddings: about 55%; data of latent dimension 32 with
    // light noise: 99%).
    static constexpr double kSignCodesBelowShare = 0.9;

    explicit MultiTenantIndex(const IndexOptions& options) : IndexFile(options) {}

    const IndexOptions& options() const { return options_; }

    // ----------------------------------------------------------------------------------------
    // Building the tree
    // ----------------------------------------------------------------------------------------

    // Hierarchical k-means on x (n x dim): a node with more than split_threshold training points
    // is split into min(branching_factor, 2 * points / split_threshold, points / 8) clusters
    // (at least 2), down to kMaxDepth levels. Each
    // node's k-means runs on a sample of at most 128 points per cluster, seeded from the index
    // seed and the node id; all points are then assigned to the nearest child.
    // control's hook may stop it, leaving the index as it was.
    void train(const float* x, index_t n, Control& control) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        require(n >= 1, "train() needs at least one vector");
        require(n_vectors_ == 0, "train() can only be called on an empty index (this one holds " +
                                     std::to_string(n_vectors_) + " vectors)");
        check_vectors(x, n, "training vector", true);
        const index_t d = options_.dim;
        std::vector<float> data(x, x + n * d);
        if (options_.metric == IndexMetric::cosine)
            for (index_t i = 0; i < n; ++i) normalise(data.data() + i * d);
        {
            ThreadPool pool(control);
            build_tree(data, n, pool);  // the one step that polls control: nothing is changed before it ends
        }
        quantizer_.fit(data.data(), n, d, options_.seed);
        if (options_.sign_codes == SignCodes::automatic)
            options_.sign_codes = d >= 64 && quantizer_.captured_share(data.data(), n) < kSignCodesBelowShare ? SignCodes::on : SignCodes::off;
        if (options_.sign_codes == SignCodes::on) sign_.fit(data.data(), n, d, options_.seed);
        arena_.init(stride_, sign_line_bytes());  // the index holds no vectors yet
        filters_.assign(nodes_.size(), BloomFilter());
        shortlists_.assign(tenants_.size(), {});
        n_shortlists_ = 0;
        stale_filter_entries_ = 0;
        trained_ = true;
    }

    bool trained() const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        return trained_;
    }

    // ----------------------------------------------------------------------------------------
    // Mutations. Each validates all of its input first, so a failing call changes nothing.
    // ----------------------------------------------------------------------------------------

    void add(const float* x, index_t n, const std::int64_t* ids, std::int64_t tenant, Control& control) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        require(trained_, "add() before train(): train the index on representative vectors first");
        check_vectors(x, n, "vector", true);
        std::vector<std::int64_t> sorted(ids, ids + n);
        std::sort(sorted.begin(), sorted.end());
        for (index_t i = 1; i < n; ++i)
            require(sorted[static_cast<size_t>(i)] != sorted[static_cast<size_t>(i - 1)],
                    "duplicate id " + std::to_string(sorted[static_cast<size_t>(i)]) + " in one add() call");
        for (index_t i = 0; i < n; ++i) {
            require(ids[i] >= 0, "ids must be >= 0 (-1 marks a missing result), got " + std::to_string(ids[i]));
            require(!slot_of_.count(ids[i]), "id " + std::to_string(ids[i]) + " is already in the index");
        }
        require(static_cast<std::uint64_t>(n_vectors_) + static_cast<std::uint64_t>(n) < kNone, "too many vectors for one index");

        // The leaf of every new vector, in parallel (read-only work).
        const index_t d = options_.dim;
        std::vector<float> rows(static_cast<size_t>(n * stride_), 0.0f);
        std::vector<std::uint32_t> leaves(static_cast<size_t>(n));
        constexpr index_t kChunk = 256;
        auto find_leaves = [&](index_t begin, index_t end, index_t) {
            std::vector<float> sums;
            for (index_t i = begin; i < end; ++i) {
                float* row = rows.data() + i * stride_;
                std::copy(x + i * d, x + (i + 1) * d, row);
                if (options_.metric == IndexMetric::cosine) normalise(row);
                leaves[static_cast<size_t>(i)] = leaf_of(row, sums);
            }
        };
        if (n <= kChunk) {  // one chunk: no pool
            find_leaves(0, n, 0);
        } else {
            ThreadPool pool(control);
            pool.for_chunks(n, kChunk, find_leaves);
        }

        const std::uint32_t owner = find_or_create_tenant(tenant);
        for (index_t i = 0; i < n; ++i) {
            const std::uint32_t v = allocate_slot();
            store_vector(v, rows.data() + i * stride_);
            arena_.store_label(v, ids[i]);
            owners_[v] = owner;
            leaves_[v] = leaves[static_cast<size_t>(i)];
            access_[v].assign(1, owner);
            slot_of_.emplace(ids[i], v);
            insert_pair(v, owner);
            tenants_[owner].size += 1;
        }
        n_vectors_ += n;
        release_if_empty(owner);
    }

    void grant(const std::int64_t* ids, index_t n, std::int64_t tenant) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        const std::vector<std::uint32_t> slots = slots_of(ids, n);
        const std::uint32_t t = find_or_create_tenant(tenant);
        for (std::uint32_t v : slots) {
            auto& access = access_[v];
            auto it = std::lower_bound(access.begin(), access.end(), t);
            if (it != access.end() && *it == t) continue;  // already granted
            access.insert(it, t);
            insert_pair(v, t);
            tenants_[t].size += 1;
        }
        release_if_empty(t);
    }

    void revoke(const std::int64_t* ids, index_t n, std::int64_t tenant) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        const std::vector<std::uint32_t> slots = slots_of(ids, n);
        const std::uint32_t t = find_tenant(tenant);
        if (t == kNone) return;  // the tenant sees nothing: nothing to revoke
        for (index_t i = 0; i < n; ++i)
            if (owners_[slots[static_cast<size_t>(i)]] == t)
                throw std::invalid_argument("cannot revoke the access of tenant " + std::to_string(tenant) + " to id " +
                                            std::to_string(ids[i]) + ": it is the owner (use remove() to delete the vector)");
        for (std::uint32_t v : slots) {
            auto& access = access_[v];
            auto it = std::lower_bound(access.begin(), access.end(), t);
            if (it == access.end() || *it != t) continue;  // not granted
            access.erase(it);
            erase_pair(v, t);
            tenants_[t].size -= 1;
        }
        release_if_empty(t);
        maybe_rebuild_filters();
    }

    void remove(const std::int64_t* ids, index_t n) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        const std::vector<std::uint32_t> slots = slots_of(ids, n);
        for (std::uint32_t v : slots) {
            if (owners_[v] == kNone) continue;  // listed twice
            for (std::uint32_t t : access_[v]) {
                erase_pair(v, t);
                tenants_[t].size -= 1;
                release_if_empty(t);
            }
            free_slot(v);
        }
        maybe_rebuild_filters();
    }

    // Revokes all access of `tenant`; deletes the vectors no other tenant can see. A vector it
    // owned that others still see passes to the one of them with the smallest tenant id.
    // Returns the number of vectors deleted.
    index_t remove_tenant(std::int64_t tenant) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        const std::uint32_t t = find_tenant(tenant);
        if (t == kNone) return 0;
        std::vector<std::uint32_t> orphans;
        for (const auto& list : shortlists_[t]) {
            for (std::uint32_t v : list.ids) {
                auto& access = access_[v];
                access.erase(std::lower_bound(access.begin(), access.end(), t));
                if (access.empty()) {
                    orphans.push_back(v);
                } else if (owners_[v] == t) {
                    owners_[v] = *std::min_element(access.begin(), access.end(), [&](std::uint32_t a, std::uint32_t b) {
                        return tenants_[a].external < tenants_[b].external;
                    });
                }
            }
            stale_filter_entries_ += 1;
        }
        n_shortlists_ -= shortlists_[t].size();
        shortlists_[t].clear();
        tenants_[t].size = 0;
        release_if_empty(t);
        for (std::uint32_t v : orphans) free_slot(v);
        maybe_rebuild_filters();
        return static_cast<index_t>(orphans.size());
    }

    // ----------------------------------------------------------------------------------------
    // Search
    // ----------------------------------------------------------------------------------------

    // The k nearest vectors that each query's tenant may see: queries is m x dim; tenants holds
    // one tenant for all queries (n_tenants == 1) or one per query. Writes m x k distances and
    // external ids, padded with +inf / -1. budget >= the tenant's size gives exact results.
    void search(const float* queries, index_t m, const std::int64_t* tenants, index_t n_tenants, index_t k, index_t budget, bool exact,
                float* out_distances, std::int64_t* out_ids, Control& control) const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        require(trained_, "search() before train(): the index is empty and untrained");
        require(k >= 1, "k must be >= 1");  // the outputs hold k per query
        require(n_tenants == 1 || n_tenants == m, "give one tenant, or one tenant per query");
        check_vectors(queries, m, "query", false);
        std::uint32_t one_tenant = kNone;
        std::vector<std::uint32_t> many;
        if (n_tenants == 1) {
            one_tenant = find_tenant(tenants[0]);
        } else {
            many.resize(static_cast<size_t>(n_tenants));
            for (index_t i = 0; i < n_tenants; ++i) many[static_cast<size_t>(i)] = find_tenant(tenants[i]);
        }
        const std::uint32_t* internal = n_tenants == 1 ? &one_tenant : many.data();

        const index_t n_tasks = search_tasks(m);
        auto run_task = [&](index_t task) {
            thread_local mt_detail::SearchScratch scratch;  // no allocations per query once warm
            for (index_t i = task * kQueriesPerTask; i < std::min(m, (task + 1) * kQueriesPerTask); ++i)
                search_one(queries + i * options_.dim, internal[n_tenants == 1 ? 0 : i], k, budget, exact, scratch,
                           out_distances + i * k, out_ids + i * k);
        };
        if (control.n_threads() <= 1 || n_tasks <= 1) {  // the common single-query call: no pool at all
            for (index_t task = 0; task < n_tasks; ++task) {
                run_task(task);
                control.poll();
            }
            return;
        }
        ThreadPool pool(control);  // polls control between the tasks it runs on this thread
        pool.run(n_tasks, [&](index_t task, int) { run_task(task); });
    }

    // A batch search of m queries runs in this many tasks of kQueriesPerTask queries: no use
    // for more threads.
    static constexpr index_t kQueriesPerTask = 8;
    static index_t search_tasks(index_t m) { return (m + kQueriesPerTask - 1) / kQueriesPerTask; }

    // ----------------------------------------------------------------------------------------
    // Introspection
    // ----------------------------------------------------------------------------------------

    index_t size() const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        return n_vectors_;
    }

    index_t n_nodes() const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        return static_cast<index_t>(nodes_.size());
    }

    std::vector<std::int64_t> tenant_ids() const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        std::vector<std::int64_t> out;
        out.reserve(tenant_of_.size());
        for (const auto& entry : tenant_of_) out.push_back(entry.first);
        std::sort(out.begin(), out.end());
        return out;
    }

    index_t tenant_size(std::int64_t tenant) const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        const std::uint32_t t = find_tenant(tenant);
        return t == kNone ? 0 : static_cast<index_t>(tenants_[t].size);
    }

    // Tenants that may see the vector with external id `id`, in ascending order; its owner.
    std::pair<std::vector<std::int64_t>, std::int64_t> access_of(std::int64_t id) const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        const std::uint32_t v = slot_or_throw(id);
        std::vector<std::int64_t> out;
        for (std::uint32_t t : access_[v]) out.push_back(tenants_[t].external);
        std::sort(out.begin(), out.end());
        return {out, tenants_[owners_[v]].external};
    }

    // The shortlists of `tenant` in the order a search keeps them (for tests): their nodes and
    // the external ids they list, in scan order.
    std::vector<std::pair<std::uint32_t, std::vector<std::int64_t>>> shortlists_of(std::int64_t tenant) const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        std::vector<std::pair<std::uint32_t, std::vector<std::int64_t>>> out;
        const std::uint32_t t = find_tenant(tenant);
        if (t == kNone) return out;
        for (const auto& list : shortlists_[t]) {
            out.emplace_back(list.node, std::vector<std::int64_t>());
            for (std::uint32_t v : list.ids) out.back().second.push_back(arena_.label(v));
        }
        return out;
    }

    // Node id of every level-order node and its level, parent and centroid (for tests): the
    // tree is fully described by parents and the unpadded centroids.
    std::pair<std::vector<std::uint32_t>, std::vector<float>> tree_description() const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        std::vector<std::uint32_t> parents;
        std::vector<float> centers;
        for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
            parents.push_back(nodes_[i].parent);
            centers.insert(centers.end(), centroid(i), centroid(i) + options_.dim);
        }
        return {parents, centers};
    }

    IndexMemory memory_usage() const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        IndexMemory m;
        m.vectors = arena_.memory_bytes();
        m.tree = nodes_.capacity() * sizeof(Node) + nodes_.size() * static_cast<size_t>(stride_) * sizeof(float) +
                 (preorder_.capacity() + subtree_end_.capacity()) * sizeof(std::uint32_t) +
                 quantizer_.memory_bytes();
        for (const auto& filter : filters_) m.filters += filter.memory_bytes();
        m.shortlists = shortlists_.capacity() * sizeof(shortlists_[0]);
        for (const auto& tenant_lists : shortlists_) {
            m.shortlists += tenant_lists.capacity() * sizeof(mt_detail::Shortlist);
            for (const auto& list : tenant_lists) m.shortlists += list.ids.capacity() * sizeof(std::uint32_t);
        }
        m.access_lists = access_.capacity() * sizeof(access_[0]) + owners_.capacity() * sizeof(std::uint32_t) +
                         leaves_.capacity() * sizeof(std::uint32_t);
        for (const auto& access : access_) m.access_lists += access.capacity() * sizeof(std::uint32_t);
        m.access_lists += tenants_.capacity() * sizeof(mt_detail::TenantRecord) + hash_map_bytes(tenant_of_);
        m.ids = free_slots_.capacity() * sizeof(std::uint32_t) + hash_map_bytes(slot_of_);
        return m;
    }

    // Checks I1-I5 (see the top of this file); throws InvariantViolation naming the first problem.
    void check_invariants() const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        check_invariants_unlocked();
    }

    // ----------------------------------------------------------------------------------------
    // Serialisation (see index_file.hpp)
    // ----------------------------------------------------------------------------------------

    void save(ByteSink& sink) const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        write_to(sink);
    }

    // Reads what save() wrote. Every count is bounded by the bytes left, every id is range
    // checked, the checksum must match, and the result must pass check_invariants(); anything
    // else raises CorruptIndex.
    static std::unique_ptr<MultiTenantIndex> load(ByteSource& source, std::uint64_t size) {
        Reader r(source, size);
        std::uint32_t version = 0;
        const IndexOptions options = read_options(r, size, version);
        auto index = std::make_unique<MultiTenantIndex>(options);
        index->read_body(r, version);
        return index;
    }

  private:
    template <class Map>
    static size_t hash_map_bytes(const Map& map) {
        // libstdc++-style node map: one pointer per bucket, one node (next pointer + value,
        // padded to 8 bytes, plus the cached hash) per element.
        return map.bucket_count() * sizeof(void*) + map.size() * (sizeof(void*) + sizeof(typename Map::value_type) + sizeof(size_t));
    }

    mutable std::shared_mutex mutex_;
};

}  // namespace vecclust
