// The index's file format: magic, format version, options, tree, code grids, tenants, vectors,
// per-node filters and shortlists, then a checksum of everything before it (index_io.hpp). The
// vectors' codes are derived from the grids and the vectors, and the preorder ranks from the
// tree: both are rebuilt on load.
#pragma once

#include <algorithm>  // std::sort
#include <cstdint>    // std::uint32_t, std::uint64_t
#include <cstring>    // std::memcmp
#include <string>     // std::string, std::to_string
#include <utility>    // std::pair
#include <vector>     // std::vector

#include "vecclust/index/index_invariants.hpp"
#include "vecclust/index/index_io.hpp"

namespace vecclust {
namespace mt_detail {

class IndexFile : public InvariantChecker {
  public:
    // 4 added sign codes (their option and centre); files of version 3 load without them.
    static constexpr std::uint32_t kFormatVersion = 4;
    static constexpr std::uint32_t kOldestVersion = 3;

  protected:
    using InvariantChecker::InvariantChecker;

    void write_to(ByteSink& sink) const {
        Writer w(sink);
        std::vector<float> row(static_cast<size_t>(stride_));
        w.bytes(kMagic, sizeof kMagic);
        w.value<std::uint32_t>(kFormatVersion);
        w.value<std::uint64_t>(static_cast<std::uint64_t>(options_.dim));
        w.value<std::uint32_t>(static_cast<std::uint32_t>(options_.metric));
        w.value<std::uint64_t>(static_cast<std::uint64_t>(options_.branching_factor));
        w.value<std::uint64_t>(static_cast<std::uint64_t>(options_.split_threshold));
        w.value<double>(options_.bloom_fpr);
        w.value<std::uint64_t>(options_.seed);
        w.value<std::uint32_t>(static_cast<std::uint32_t>(options_.sign_codes));
        w.value<std::uint8_t>(trained_ ? 1 : 0);
        const index_t d = options_.dim;

        w.array(nodes_);
        for (std::uint32_t i = 0; i < nodes_.size(); ++i) w.bytes(centroid(i), static_cast<size_t>(d) * sizeof(float));
        w.array(quantizer_.basis());
        w.array(quantizer_.base());
        w.array(quantizer_.step());
        w.array(sign_.centre());

        w.array(tenants_);
        w.array(free_tenants_);

        w.value<std::uint64_t>(owners_.size());
        for (std::uint32_t v = 0; v < owners_.size(); ++v) {
            w.value<std::int64_t>(arena_.label(v));
            w.value<std::uint32_t>(owners_[v]);
            w.value<std::uint32_t>(leaves_[v]);
            w.array(access_[v]);
            arena_.load(v, row.data(), d);
            w.bytes(row.data(), static_cast<size_t>(d) * sizeof(float));
        }
        w.array(free_slots_);

        // The file lists shortlists by node, each node's by tenant.
        std::vector<std::vector<std::pair<std::uint32_t, const std::vector<std::uint32_t>*>>> lists_at(nodes_.size());
        for (std::uint32_t t = 0; t < shortlists_.size(); ++t)
            for (const auto& list : shortlists_[t]) lists_at[list.node].emplace_back(t, &list.ids);
        for (std::uint32_t i = 0; i < nodes_.size(); ++i) {
            const BloomFilter& filter = filters_[i];
            w.value<std::uint32_t>(filter.capacity());
            w.value<std::uint32_t>(filter.count());
            w.value<std::uint32_t>(static_cast<std::uint32_t>(filter.n_probes()));
            w.array(filter.words());
            w.value<std::uint64_t>(lists_at[i].size());
            for (const auto& [tenant, ids] : lists_at[i]) {
                w.value<std::uint32_t>(tenant);
                w.array(*ids);
            }
        }
        w.value<std::uint64_t>(stale_filter_entries_);
        w.finish();
    }

    // The header of a file: its magic, version and options.
    static IndexOptions read_options(Reader& r, std::uint64_t size, std::uint32_t& version) {
        char magic[sizeof kMagic];
        if (size < sizeof kMagic) throw CorruptIndex("not a vecclust index (too short)");
        r.bytes(magic, sizeof magic);
        if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) throw CorruptIndex("not a vecclust index (bad magic)");
        version = r.value<std::uint32_t>();
        if (version < kOldestVersion || version > kFormatVersion)
            throw CorruptIndex("unsupported index format version " + std::to_string(version) + " (this version reads " +
                               std::to_string(kOldestVersion) + " to " + std::to_string(kFormatVersion) + ")");
        // The constructor's limits (IndexSettings), checked here so that the error names the field.
        IndexOptions options;
        options.dim = static_cast<index_t>(bounded(r.value<std::uint64_t>(), 1, std::uint64_t(1) << 20, "dim"));
        const auto metric = r.value<std::uint32_t>();
        if (metric > 2) throw CorruptIndex("corrupt index: unknown metric code " + std::to_string(metric));
        options.metric = static_cast<IndexMetric>(metric);
        options.branching_factor = static_cast<index_t>(bounded(r.value<std::uint64_t>(), 2, mt_detail::kMaxBranching, "branching_factor"));
        options.split_threshold = static_cast<index_t>(bounded(r.value<std::uint64_t>(), 1, std::uint64_t(1) << 30, "split_threshold"));
        options.bloom_fpr = r.value<double>();
        options.seed = r.value<std::uint64_t>();
        if (!(options.bloom_fpr >= mt_detail::kMinBloomFpr && options.bloom_fpr < 1.0))
            throw CorruptIndex("corrupt index: bloom_fpr outside [2^-64, 1)");
        if (version >= 4) options.sign_codes = static_cast<SignCodes>(bounded(r.value<std::uint32_t>(), 0, 2, "sign_codes"));
        return options;
    }

    // The rest, into this index (just built from read_options' options). Every field is
    // checked against the others before it is used, by the part that owns it, and the whole
    // must then pass the invariant checker: a crafted file with a valid checksum raises
    // CorruptIndex naming the field instead of leaving an index that later crashes.
    void read_body(Reader& r, std::uint32_t version) {
        const auto trained = r.value<std::uint8_t>();
        if (trained > 1) throw CorruptIndex("corrupt index: the trained flag is " + std::to_string(trained) + ", not 0 or 1");
        trained_ = trained == 1;
        if (trained_ && options_.sign_codes == SignCodes::automatic)
            throw CorruptIndex("corrupt index: a trained index with sign_codes still 'auto'");
        const index_t d = options_.dim;

        nodes_ = r.array<Node>(kNone);
        const auto n_nodes = static_cast<std::uint32_t>(nodes_.size());
        if (trained_ != (n_nodes > 0)) throw CorruptIndex("corrupt index: tree does not match the trained flag");
        if (r.remaining() / (static_cast<std::uint64_t>(d) * sizeof(float)) < n_nodes) throw CorruptIndex("the index data is truncated");
        centroid_rows_ = mt_detail::aligned_zeros(static_cast<size_t>(n_nodes) * static_cast<size_t>(stride_));
        for (std::uint32_t i = 0; i < n_nodes; ++i) r.bytes(centroid(i), static_cast<size_t>(d) * sizeof(float));
        check_tree();
        check_centroids();
        rank_nodes();
        constexpr auto kCodeDims = static_cast<std::uint64_t>(ProjectedQuantizer::kDims);
        std::vector<double> basis = r.array<double>(kCodeDims * static_cast<std::uint64_t>(d));
        std::vector<float> base = r.array<float>(kCodeDims);
        std::vector<float> step = r.array<float>(kCodeDims);
        if (trained_ ? !quantizer_.restore(std::move(basis), std::move(base), std::move(step), d)
                       : !(basis.empty() && base.empty() && step.empty()))
            throw CorruptIndex("corrupt index: bad code grids (sizes, finiteness or basis)");
        std::vector<float> centre = version >= 4 ? r.array<float>(static_cast<std::uint64_t>(d)) : std::vector<float>();
        const bool signed_codes = trained_ && options_.sign_codes == SignCodes::on;
        bool centre_ok = centre.size() == (signed_codes ? static_cast<size_t>(d) : 0);
        for (float c : centre) centre_ok = centre_ok && std::fabs(c) <= largest_magnitude();  // also false for NaN
        if (!centre_ok) throw CorruptIndex("corrupt index: bad sign-code centre (size, finiteness or magnitude)");
        if (signed_codes) sign_.restore(std::move(centre), options_.seed);

        tenants_ = r.array<mt_detail::TenantRecord>(kNone - 1);
        free_tenants_ = r.array<std::uint32_t>(tenants_.size());
        index_loaded_tenants();

        const std::uint64_t min_slot_bytes = 8 + 4 + 4 + 8 + static_cast<std::uint64_t>(d) * sizeof(float);
        const std::uint64_t n_slots = r.count(min_slot_bytes, kNone - 1);
        if (n_slots > 0 && !trained_) throw CorruptIndex("corrupt index: vectors in an untrained index");
        owners_.resize(static_cast<size_t>(n_slots));
        leaves_.resize(static_cast<size_t>(n_slots));
        access_.resize(static_cast<size_t>(n_slots));
        arena_.ensure(static_cast<index_t>(n_slots));
        std::vector<float> row(static_cast<size_t>(stride_), 0.0f);  // the padding stays zero
        for (std::uint32_t v = 0; v < n_slots; ++v) {
            const auto label = r.value<std::int64_t>();
            owners_[v] = r.value<std::uint32_t>();
            leaves_[v] = r.value<std::uint32_t>();
            access_[v] = r.array<std::uint32_t>(tenants_.size());
            r.bytes(row.data(), static_cast<size_t>(d) * sizeof(float));
            const bool live = owners_[v] != kNone;
            check_loaded_slot(v, label, live, leaves_[v], access_[v], row.data());
            if (!live) continue;  // the arena's slot is zero already
            if (leaves_[v] >= n_nodes || nodes_[leaves_[v]].n_children != 0) throw CorruptIndex("corrupt index: bad leaf of a vector");
            if (!slot_of_.emplace(label, v).second) throw CorruptIndex("corrupt index: vector id " + std::to_string(label) + " appears twice");
            store_vector(v, row.data());
            arena_.store_label(v, label);
            n_vectors_ += 1;
        }
        free_slots_ = r.array<std::uint32_t>(n_slots);

        filters_.resize(n_nodes);
        shortlists_.resize(tenants_.size());
        for (std::uint32_t i = 0; i < n_nodes; ++i) {
            const auto capacity = r.value<std::uint32_t>();
            const auto count = r.value<std::uint32_t>();
            const auto n_probes = r.value<std::uint32_t>();
            std::vector<std::uint64_t> words = r.array<std::uint64_t>();
            filters_[i].restore(capacity, count, n_probes, std::move(words), n_probes_, max_filter_capacity());
            const std::uint64_t n_lists = r.count(4 + 8, tenants_.size());
            std::uint32_t previous = 0;
            for (std::uint64_t j = 0; j < n_lists; ++j) {
                const auto tenant = r.value<std::uint32_t>();
                std::vector<std::uint32_t> ids = r.array<std::uint32_t>(n_slots);
                check_loaded_shortlist(i, tenant, j > 0 ? &previous : nullptr, ids);
                previous = tenant;
                shortlists_[tenant].push_back({i, preorder_[i], std::move(ids)});
            }
            n_shortlists_ += n_lists;
        }
        for (auto& lists : shortlists_)
            std::sort(lists.begin(), lists.end(), [](const mt_detail::Shortlist& a, const mt_detail::Shortlist& b) { return a.rank < b.rank; });
        stale_filter_entries_ = r.value<std::uint64_t>();
        r.finish();
        try {
            check_invariants_unlocked();
        } catch (const InvariantViolation& e) {
            throw CorruptIndex(std::string("corrupt index: ") + e.what());
        }
    }

  private:
    static constexpr char kMagic[8] = {'V', 'C', 'M', 'T', 'I', 'D', 'X', '\x01'};

    static std::uint64_t bounded(std::uint64_t value, std::uint64_t low, std::uint64_t high, const char* what) {
        if (value < low || value > high)
            throw CorruptIndex(std::string("corrupt index: ") + what + " " + std::to_string(value) + " outside [" + std::to_string(low) + ", " +
                               std::to_string(high) + "]");
        return value;
    }
};

}  // namespace mt_detail
}  // namespace vecclust
