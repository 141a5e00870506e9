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

#include <algorithm>      // std::sort, std::lower_bound
#include <cmath>          // std::sqrt, std::isfinite
#include <cstdint>        // std::int64_t, std::uint32_t
#include <cstring>        // std::memcpy
#include <limits>         // std::numeric_limits
#include <memory>         // std::unique_ptr
#include <mutex>          // std::unique_lock
#include <numeric>        // std::iota
#include <new>            // std::align_val_t
#include <shared_mutex>   // std::shared_mutex, std::shared_lock
#include <stdexcept>      // std::out_of_range
#include <string>         // std::string
#include <type_traits>    // std::conditional_t
#include <unordered_map>  // std::unordered_map
#include <utility>        // std::pair
#include <vector>         // std::vector

#if defined(__linux__)
#include <sys/mman.h>  // mmap, munmap, madvise
#endif

#include "vecclust/index/bloom_filter.hpp"
#include "vecclust/index/index_io.hpp"
#include "vecclust/kmeans/kmeans.hpp"
#include "vecclust/index/lane_sums.hpp"
#include "vecclust/base/parallel.hpp"
#include "vecclust/base/random.hpp"
#include "vecclust/index/projected_codes.hpp"

namespace vecclust {

// l2: squared Euclidean distance. ip: negative inner product (smaller is better).
// cosine: 1 - cosine similarity (vectors and queries are normalised).
enum class IndexMetric : std::uint32_t { l2 = 0, ip = 1, cosine = 2 };

inline IndexMetric parse_index_metric(const std::string& name) {
    if (name == "l2") return IndexMetric::l2;
    if (name == "ip") return IndexMetric::ip;
    if (name == "cosine") return IndexMetric::cosine;
    throw std::invalid_argument("unknown metric '" + name + "' (use 'l2', 'ip' or 'cosine')");
}

inline const char* metric_name(IndexMetric metric) {
    switch (metric) {
        case IndexMetric::l2: return "l2";
        case IndexMetric::ip: return "ip";
        case IndexMetric::cosine: return "cosine";
    }
    return "?";
}

// An external vector id that the index does not hold.
struct UnknownId : std::out_of_range {
    using std::out_of_range::out_of_range;
};

// check_invariants() found an inconsistency (a bug, or a crafted file that passed the checksum).
struct InvariantViolation : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct IndexOptions {
    index_t dim = 0;
    IndexMetric metric = IndexMetric::l2;
    index_t branching_factor = 32;
    index_t split_threshold = 256;
    double bloom_fpr = 0.01;
    std::uint64_t seed = 0;
};

struct IndexMemory {
    size_t vectors = 0, tree = 0, filters = 0, shortlists = 0, access_lists = 0, ids = 0;
    size_t total() const { return vectors + tree + filters + shortlists + access_lists + ids; }
};

namespace mt_detail {

constexpr std::uint32_t kNone = 0xffffffffu;
constexpr int kMaxDepth = 12;                 // levels of the tree, root included
constexpr index_t kMinPointsPerCenter = 8;     // a node is split only into clusters of >= 8 training points
constexpr index_t kTrainPointsPerCenter = 128; // k-means at a node runs on at most 128 * k sampled points
constexpr index_t kKMeansIterations = 20;
constexpr std::uint32_t kMinFilterCapacity = 4;
constexpr index_t kMaxBranching = 4096;

// Rows are padded with zeros to a multiple of 8 floats (32 bytes) so the kernels need no tail.
inline index_t padded_stride(index_t dim) { return (dim + 7) / 8 * 8; }

struct AlignedFree {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;

inline AlignedFloats aligned_zeros(size_t count) {
    auto* p = static_cast<float*>(::operator new[](count * sizeof(float), std::align_val_t(64)));
    std::fill(p, p + count, 0.0f);
    return AlignedFloats(p);
}

struct Hit {
    float distance;
    std::int64_t label;
};
// Ties in distance are broken by the external id, so results never depend on scan order.
inline bool hit_before(const Hit& a, const Hit& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.label < b.label);
}

// The k best hits seen so far, as a max-heap (worst on top).
class TopK {
  public:
    void reset(index_t k) {
        k_ = static_cast<size_t>(k);
        heap_.clear();
    }
    bool accepts(float distance) const { return heap_.size() < k_ || distance <= heap_.front().distance; }
    bool full() const { return heap_.size() >= k_; }
    size_t capacity() const { return k_; }
    float worst() const { return heap_.front().distance; }  // when full
    void offer(const Hit& hit) {
        if (heap_.size() < k_) {
            heap_.push_back(hit);
            std::push_heap(heap_.begin(), heap_.end(), hit_before);
        } else if (hit_before(hit, heap_.front())) {
            std::pop_heap(heap_.begin(), heap_.end(), hit_before);
            heap_.back() = hit;
            std::push_heap(heap_.begin(), heap_.end(), hit_before);
        }
    }
    // Writes the hits in ascending order; the caller has pre-filled the padding.
    void write(float* distances, std::int64_t* labels) {
        std::sort_heap(heap_.begin(), heap_.end(), hit_before);
        for (size_t i = 0; i < heap_.size(); ++i) distances[i] = heap_[i].distance, labels[i] = heap_[i].label;
    }

  private:
    size_t k_ = 0;
    std::vector<Hit> heap_;
};

struct TreeNode {
    std::uint32_t parent = kNone;
    std::uint32_t first_child = 0;  // children have the consecutive ids first_child ...
    std::uint32_t n_children = 0;   // ... first_child + n_children - 1; 0 for a leaf
    std::uint32_t level = 0;
};

// One tenant's shortlist at a node. A tenant's shortlists are kept sorted by their nodes'
// preorder ranks, so those in any subtree are consecutive (see MultiTenantIndex::preorder_).
struct Shortlist {
    std::uint32_t node;
    std::uint32_t rank;              // preorder rank of the node
    std::vector<std::uint32_t> ids;  // internal vector ids (slots)
};

struct TenantRecord {
    std::int64_t external = 0;
    std::uint64_t size = 0;  // vectors it can see; 0 marks a free record
};

// A zero-filled block of memory. On Linux it is mapped directly, aligned to 2 MiB and marked
// for transparent huge pages: searches read vectors scattered over the whole arena, and with
// 4 KiB pages nearly every one of them would also miss the TLB.
class ZeroedBlock {
  public:
    static constexpr size_t kHugePage = size_t(1) << 21;

    explicit ZeroedBlock(size_t bytes) : bytes_(bytes) {
#if defined(__linux__)
        const size_t mapped = bytes + kHugePage;
        void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        const auto start = reinterpret_cast<std::uintptr_t>(p);
        const std::uintptr_t aligned = (start + kHugePage - 1) & ~(static_cast<std::uintptr_t>(kHugePage) - 1);
        const std::uintptr_t end = start + mapped, aligned_end = aligned + bytes;
        if (aligned > start) munmap(p, aligned - start);
        if (end > aligned_end) munmap(reinterpret_cast<void*>(aligned_end), end - aligned_end);
        data_ = reinterpret_cast<unsigned char*>(aligned);
#if defined(MADV_HUGEPAGE)
        madvise(data_, bytes, MADV_HUGEPAGE);  // a hint: failure only costs speed
#endif
#else
        data_ = static_cast<unsigned char*>(::operator new[](bytes, std::align_val_t(64)));
        std::fill(data_, data_ + bytes, static_cast<unsigned char>(0));
#endif
    }
    ~ZeroedBlock() {
#if defined(__linux__)
        munmap(data_, bytes_);
#else
        ::operator delete[](data_, std::align_val_t(64));
#endif
    }
    ZeroedBlock(const ZeroedBlock&) = delete;
    ZeroedBlock& operator=(const ZeroedBlock&) = delete;

    unsigned char* data() const { return data_; }

  private:
    size_t bytes_;
    unsigned char* data_ = nullptr;
};

// What a scan needs to judge a vector from its code alone (see MultiTenantIndex::store_vector).
// All rounded outwards; see ProjectionFacts.
struct CodeBounds {
    float code_error;     // >= ||P x - decoded code||
    float residual_low;   // <= ||(I - Pi) x||
    float residual_high;  // >= ||(I - Pi) x||
    float norm;           // >= ||x||
    float half_slack;     // how far the high halves' scores may be from the exact ones (see first_pass_slack)
};

// The stored vectors: fixed-size blocks of slots, so growth never moves (or doubles) the data,
// and a slot's address is one shift and one mask away. A slot holds a header (the vector's
// projected code, its CodeBounds and its external id, in one cache line: a scan that reads the
// code has the id at hand, so results need no read elsewhere), then the high 16-bit halves of the
// padded row's floats, then the low halves (see lane_sums::from_halves): the floats' bytes, split so that
// each pass of a scan reads only what it needs.
class VectorArena {
  public:
    void init(index_t stride) {
        stride_ = stride;
        code_bytes_ = static_cast<size_t>(ProjectedQuantizer::kDims);
        label_offset_ = (code_bytes_ + sizeof(CodeBounds) + 7) / 8 * 8;
        header_bytes_ = (label_offset_ + sizeof(std::int64_t) + 63) / 64 * 64;
        slot_bytes_ = header_bytes_ + static_cast<size_t>(stride) * sizeof(float);
        // Blocks of at least 4 MiB (whole huge pages for the common dimensions), 1024+ slots.
        block_shift_ = 10;
        while ((slot_bytes_ << block_shift_) < (size_t(1) << 22)) ++block_shift_;
        blocks_.clear();
    }
    void ensure(index_t n_slots) {
        while (static_cast<index_t>(blocks_.size() << block_shift_) < n_slots)
            blocks_.push_back(std::make_unique<ZeroedBlock>(slot_bytes_ << block_shift_));
    }
    // The slot's code (its header starts with it).
    const std::uint8_t* code(std::uint32_t slot) const {
        const size_t mask = (size_t(1) << block_shift_) - 1;
        return blocks_[slot >> block_shift_]->data() + (slot & mask) * slot_bytes_;
    }
    const CodeBounds& bounds(std::uint32_t slot) const { return *reinterpret_cast<const CodeBounds*>(code(slot) + code_bytes_); }
    // The vector's external id (0 in a free slot).
    std::int64_t label(std::uint32_t slot) const {
        std::int64_t value;
        std::memcpy(&value, code(slot) + label_offset_, sizeof value);
        return value;
    }
    void store_label(std::uint32_t slot, std::int64_t value) {
        std::memcpy(const_cast<std::uint8_t*>(code(slot)) + label_offset_, &value, sizeof value);
    }
    // The high halves of the slot's row, followed by its low halves.
    const std::uint16_t* halves(std::uint32_t slot) const { return reinterpret_cast<const std::uint16_t*>(code(slot) + header_bytes_); }
    size_t header_bytes() const { return header_bytes_; }
    void store_header(std::uint32_t slot, const std::uint8_t* code_in, const CodeBounds& bounds_in) {
        auto* header = const_cast<std::uint8_t*>(code(slot));
        std::copy(code_in, code_in + code_bytes_, header);
        std::memcpy(header + code_bytes_, &bounds_in, sizeof bounds_in);
    }
    void store(std::uint32_t slot, const float* row) {  // row: stride floats
        auto* high = const_cast<std::uint16_t*>(halves(slot));
        for (index_t j = 0; j < stride_; ++j) {
            std::uint32_t bits;
            std::memcpy(&bits, row + j, sizeof bits);
            high[j] = static_cast<std::uint16_t>(bits >> 16);
            high[stride_ + j] = static_cast<std::uint16_t>(bits & 0xffffu);
        }
    }
    void load(std::uint32_t slot, float* row, index_t count) const {  // the first count floats
        const std::uint16_t* high = halves(slot);
        for (index_t j = 0; j < count; ++j) row[j] = lane_sums::from_halves(high[j], high[stride_ + j]);
    }
    void clear(std::uint32_t slot) {
        auto* header = const_cast<std::uint8_t*>(code(slot));
        std::fill(header, header + slot_bytes_, std::uint8_t(0));
    }
    size_t memory_bytes() const { return blocks_.size() * ((slot_bytes_ << block_shift_) + sizeof(ZeroedBlock)); }

  private:
    index_t stride_ = 0;
    size_t code_bytes_ = 0, label_offset_ = 0, header_bytes_ = 0, slot_bytes_ = 0;
    int block_shift_ = 10;
    std::vector<std::unique_ptr<ZeroedBlock>> blocks_;
};

// Decides from a first-pass sum over a vector's high halves (see lane_sums::from_halves) that its exact
// distance is above the current k-th best, so it need not be read in full. With gamma bounding
// the relative rounding error of one lane sum and the vector's slack s (see
// MultiTenantIndex::first_pass_slack), exactly as the real numbers they stand for:
//   l2:     ||q - x|| >= ||q - high(x)|| - ||x - high(x)||, so x is out when
//           sqrt(sum / (1 + gamma)) - s > sqrt(worst / (1 - gamma));
//   ip:     -q.x >= -sum - ||q|| s (Cauchy-Schwarz, s covering both sums' rounding);
//   cosine: the same for 1 - q.x.
// `worst` gets a small relative margin for the rounding of the final 1 - sum, and an absolute
// one for sums in the subnormal range, where each rounding may lose up to half the smallest
// subnormal whatever the size of the result. Only finite sums are judged. The result is the exact top k of every vector scanned, bit for bit.
class FirstPassBound {
  public:
    void reset(IndexMetric metric, double gamma, double underflow, double query_norm) {
        metric_ = metric;
        gamma_ = gamma;
        underflow_ = underflow;
        query_norm_ = query_norm;
        active_ = false;
    }
    // The k-th best distance so far (only ever decreases).
    void tighten(float worst) {
        if (active_ && worst == worst_) return;
        active_ = true;
        worst_ = worst;
        const double limit = static_cast<double>(worst) + std::abs(static_cast<double>(worst)) * 0x1p-20 + underflow_;
        limit_ = metric_ == IndexMetric::l2 ? std::sqrt(std::max(0.0, limit) / (1.0 - gamma_)) : limit;
        lower_limit_ = metric_ == IndexMetric::l2 ? limit_ * limit_ * (1.0 + 1e-12) : limit_;
    }
    bool excludes(float sum, float slack) const {
        if (!active_ || !std::isfinite(sum)) return false;
        switch (metric_) {
            case IndexMetric::l2: {
                const double reach = static_cast<double>(slack) + limit_;
                return static_cast<double>(sum) > reach * reach * (1.0 + gamma_);
            }
            case IndexMetric::ip: return -static_cast<double>(sum) - query_norm_ * slack > limit_;
            case IndexMetric::cosine: return 1.0 - static_cast<double>(sum) - query_norm_ * slack > limit_;
        }
        return false;
    }

    // A rigorous lower bound on the vector's distance (l2: the real squared distance; ip and
    // cosine: the computed one, see MultiTenantIndex::code_lower_bounds) above the k-th best's
    // rules it out.
    bool excludes_lower(double lower) const { return active_ & (lower > lower_limit_); }

  private:
    IndexMetric metric_ = IndexMetric::l2;
    double gamma_ = 0.0, underflow_ = 0.0, query_norm_ = 0.0, limit_ = 0.0, lower_limit_ = 0.0;
    float worst_ = 0.0f;
    bool active_ = false;
};

// A node waiting in a search's frontier, with the searched tenant's shortlists in its subtree:
// entries first ... last - 1 of the tenant's list of shortlists.
struct FrontierNode {
    float priority;
    std::uint32_t node, first, last;
};

// Per-thread search buffers, reused across the queries of a call.
struct SearchScratch {
    std::vector<float> query;
    std::vector<float> projection;  // the query's, rounded to float (see ProjectedQuantizer)
    ProjectionFacts query_facts;
    double projection_norm = 0.0;  // >= its norm
    std::vector<std::uint32_t> candidates;
    // The scan's passes (see MultiTenantIndex::scan_with): a batch's codes and their sums, every
    // candidate's lower bound, the k read first, the positions of the candidates whose bounds
    // passed, and the vectors whose high halves passed, with their sums.
    std::vector<const std::uint8_t*> codes;
    std::vector<double> lower_bounds;
    std::vector<std::pair<double, size_t>> seeds;
    std::vector<std::uint8_t> is_seed;
    std::vector<std::uint32_t> coded;
    std::vector<std::pair<std::uint32_t, float>> finalists, next_finalists;
    std::vector<FrontierNode> frontier;  // min-heap by (priority, node)
    std::vector<FrontierNode> children;
    std::vector<lane_sums::FloatRow> rows;
    std::vector<lane_sums::HighRow> halves;
    std::vector<float> sums;
    TopK top;
    FirstPassBound bound;
};

inline bool frontier_after(const FrontierNode& a, const FrontierNode& b) {
    return a.priority > b.priority || (a.priority == b.priority && a.node > b.node);
}

}  // namespace mt_detail

class MultiTenantIndex {
  public:
    using Node = mt_detail::TreeNode;
    static constexpr std::uint32_t kNone = mt_detail::kNone;
    static constexpr std::uint32_t kFormatVersion = 3;

    explicit MultiTenantIndex(const IndexOptions& options) : options_(options) {
        require(options.dim >= 1 && options.dim <= (index_t(1) << 20), "dim must be in [1, 2^20]");
        require(options.branching_factor >= 2 && options.branching_factor <= mt_detail::kMaxBranching,
                "branching_factor must be in [2, " + std::to_string(mt_detail::kMaxBranching) + "]");
        require(options.split_threshold >= 1 && options.split_threshold <= (index_t(1) << 30),
                "split_threshold must be in [1, 2^30]");
        require(options.bloom_fpr > 0.0 && options.bloom_fpr < 1.0, "bloom_fpr must be in (0, 1)");
        stride_ = mt_detail::padded_stride(options.dim);
        // Relative rounding error of a lane sum of stride terms (each rounded up to 3 times),
        // with room to spare: gamma_n = n u / (1 - n u), u = 2^-24.
        const double n_roundings = static_cast<double>(stride_ + 4) * 0x1p-24;
        sum_rounding_ = 1.01 * n_roundings / (1.0 - n_roundings);
        // Absolute error of two such sums (the candidate's and the k-th best's) that underflow:
        // at most 3 stride + 16 roundings each, of half the smallest subnormal at most.
        sum_underflow_ = static_cast<double>(3 * stride_ + 16) * std::numeric_limits<float>::denorm_min();
        n_probes_ = BloomFilter::probes_for(options.bloom_fpr);
        arena_.init(stride_);
    }

    const IndexOptions& options() const { return options_; }

    // ----------------------------------------------------------------------------------------
    // Building the tree
    // ----------------------------------------------------------------------------------------

    // Hierarchical k-means on x (n x dim): a node with more than split_threshold training points
    // is split into min(branching_factor, 2 * points / split_threshold, points / 8) clusters
    // (at least 2), down to kMaxDepth levels. Each
    // node's k-means runs on a sample of at most 128 points per cluster, seeded from the index
    // seed and the node id; all points are then assigned to the nearest child.
    void train(const float* x, index_t n, int n_threads) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        require(n >= 1, "train() needs at least one vector");
        require(n_vectors_ == 0, "train() can only be called on an empty index (this one holds " +
                                     std::to_string(n_vectors_) + " vectors)");
        check_vectors(x, n, "training vector");
        const index_t d = options_.dim;
        std::vector<float> data(x, x + n * d);
        if (options_.metric == IndexMetric::cosine)
            for (index_t i = 0; i < n; ++i) normalise(data.data() + i * d);
        quantizer_.fit(data.data(), n, d, options_.seed);

        Control control(n_threads);
        ThreadPool pool(control);
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

    void add(const float* x, index_t n, const std::int64_t* ids, std::int64_t tenant, int n_threads) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        require(trained_, "add() before train(): train the index on representative vectors first");
        check_vectors(x, n, "vector");
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
        Control control(n < 256 ? 1 : n_threads);
        ThreadPool pool(control);
        pool.for_chunks(n, 256, [&](index_t begin, index_t end, index_t) {
            std::vector<float> sums;
            for (index_t i = begin; i < end; ++i) {
                float* row = rows.data() + i * stride_;
                std::copy(x + i * d, x + (i + 1) * d, row);
                if (options_.metric == IndexMetric::cosine) normalise(row);
                leaves[static_cast<size_t>(i)] = leaf_of(row, sums);
            }
        });

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
    void search(const float* queries, index_t m, const std::int64_t* tenants, index_t n_tenants, index_t k, index_t budget,
                float* out_distances, std::int64_t* out_ids, int n_threads) const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
        require(trained_, "search() before train(): the index is empty and untrained");
        require(k >= 1, "k must be >= 1");
        require(budget >= 1, "budget must be >= 1");
        require(n_tenants == 1 || n_tenants == m, "give one tenant, or one tenant per query");
        check_vectors(queries, m, "query");
        std::uint32_t one_tenant = kNone;
        std::vector<std::uint32_t> many;
        if (n_tenants == 1) {
            one_tenant = find_tenant(tenants[0]);
        } else {
            many.resize(static_cast<size_t>(n_tenants));
            for (index_t i = 0; i < n_tenants; ++i) many[static_cast<size_t>(i)] = find_tenant(tenants[i]);
        }
        const std::uint32_t* internal = n_tenants == 1 ? &one_tenant : many.data();

        constexpr index_t kQueriesPerTask = 8;
        const index_t n_tasks = (m + kQueriesPerTask - 1) / kQueriesPerTask;
        auto run_task = [&](index_t task) {
            thread_local mt_detail::SearchScratch scratch;  // no allocations per query once warm
            for (index_t i = task * kQueriesPerTask; i < std::min(m, (task + 1) * kQueriesPerTask); ++i)
                search_one(queries + i * options_.dim, internal[n_tenants == 1 ? 0 : i], k, budget, scratch,
                           out_distances + i * k, out_ids + i * k);
        };
        if (n_threads <= 1 || n_tasks <= 1) {  // the common single-query call: no pool at all
            for (index_t task = 0; task < n_tasks; ++task) run_task(task);
            return;
        }
        Control control(static_cast<int>(std::min<index_t>(n_threads, n_tasks)));
        ThreadPool pool(control);
        pool.run(n_tasks, [&](index_t task, int) { run_task(task); });
    }

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
    // Serialisation: magic, format version, options, tree, code grids, tenants, vectors,
    // per-node filters and shortlists, then a checksum of everything before it. (The vectors'
    // codes are derived from the grids and the vectors, and the preorder ranks from the tree: both
    // are rebuilt on load.)
    // ----------------------------------------------------------------------------------------

    void save(ByteSink& sink) const {
        std::shared_lock<std::shared_mutex> lock(mutex_);
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
        w.value<std::uint8_t>(trained_ ? 1 : 0);
        const index_t d = options_.dim;

        w.array(nodes_);
        for (std::uint32_t i = 0; i < nodes_.size(); ++i) w.bytes(centroid(i), static_cast<size_t>(d) * sizeof(float));
        w.array(quantizer_.basis());
        w.array(quantizer_.base());
        w.array(quantizer_.step());

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

    // Reads what save() wrote. Every count is bounded by the bytes left, every id is range
    // checked, the checksum must match, and the result must pass check_invariants(); anything
    // else raises CorruptIndex.
    static std::unique_ptr<MultiTenantIndex> load(ByteSource& source, std::uint64_t size) {
        Reader r(source, size);
        char magic[sizeof kMagic];
        if (size < sizeof kMagic) throw CorruptIndex("not a vecclust index (too short)");
        r.bytes(magic, sizeof magic);
        if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) throw CorruptIndex("not a vecclust index (bad magic)");
        const auto version = r.value<std::uint32_t>();
        if (version != kFormatVersion)
            throw CorruptIndex("unsupported index format version " + std::to_string(version) + " (this version reads " +
                               std::to_string(kFormatVersion) + ")");
        IndexOptions options;
        options.dim = static_cast<index_t>(bounded(r.value<std::uint64_t>(), std::uint64_t(1) << 20, "dim"));
        const auto metric = r.value<std::uint32_t>();
        if (metric > 2) throw CorruptIndex("corrupt index: unknown metric code");
        options.metric = static_cast<IndexMetric>(metric);
        options.branching_factor = static_cast<index_t>(bounded(r.value<std::uint64_t>(), mt_detail::kMaxBranching, "branching factor"));
        options.split_threshold = static_cast<index_t>(bounded(r.value<std::uint64_t>(), std::uint64_t(1) << 30, "split threshold"));
        options.bloom_fpr = r.value<double>();
        options.seed = r.value<std::uint64_t>();
        if (!(options.bloom_fpr > 0.0 && options.bloom_fpr < 1.0) || options.dim < 1 || options.branching_factor < 2 ||
            options.split_threshold < 1)
            throw CorruptIndex("corrupt index: invalid options");
        auto index = std::make_unique<MultiTenantIndex>(options);
        MultiTenantIndex& x = *index;
        x.trained_ = r.value<std::uint8_t>() != 0;
        const index_t d = options.dim;

        x.nodes_ = r.array<Node>(kNone);
        const auto n_nodes = static_cast<std::uint32_t>(x.nodes_.size());
        if (x.trained_ != (n_nodes > 0)) throw CorruptIndex("corrupt index: tree does not match the trained flag");
        if (r.remaining() / (static_cast<std::uint64_t>(d) * sizeof(float)) < n_nodes) throw CorruptIndex("the index data is truncated");
        x.centroid_rows_ = mt_detail::aligned_zeros(static_cast<size_t>(n_nodes) * static_cast<size_t>(x.stride_));
        for (std::uint32_t i = 0; i < n_nodes; ++i) r.bytes(x.centroid(i), static_cast<size_t>(d) * sizeof(float));
        x.check_tree();
        x.rank_nodes();
        constexpr auto kCodeDims = static_cast<std::uint64_t>(ProjectedQuantizer::kDims);
        std::vector<double> basis = r.array<double>(kCodeDims * static_cast<std::uint64_t>(d));
        std::vector<float> base = r.array<float>(kCodeDims);
        std::vector<float> step = r.array<float>(kCodeDims);
        if (x.trained_ ? !x.quantizer_.restore(std::move(basis), std::move(base), std::move(step), d)
                       : !(basis.empty() && base.empty() && step.empty()))
            throw CorruptIndex("corrupt index: bad code grids");

        x.tenants_ = r.array<mt_detail::TenantRecord>(kNone);
        x.free_tenants_ = r.array<std::uint32_t>(x.tenants_.size());
        for (std::uint32_t t = 0; t < x.tenants_.size(); ++t)
            if (x.tenants_[t].size > 0 && !x.tenant_of_.emplace(x.tenants_[t].external, t).second)
                throw CorruptIndex("corrupt index: a tenant id appears twice");

        const std::uint64_t min_slot_bytes = 8 + 4 + 4 + 8 + static_cast<std::uint64_t>(d) * sizeof(float);
        const std::uint64_t n_slots = r.count(min_slot_bytes, kNone - 1);
        if (n_slots > 0 && !x.trained_) throw CorruptIndex("corrupt index: vectors in an untrained index");
        x.owners_.resize(static_cast<size_t>(n_slots));
        x.leaves_.resize(static_cast<size_t>(n_slots));
        x.access_.resize(static_cast<size_t>(n_slots));
        x.arena_.ensure(static_cast<index_t>(n_slots));
        std::vector<float> row(static_cast<size_t>(x.stride_), 0.0f);  // the padding stays zero
        for (std::uint32_t v = 0; v < n_slots; ++v) {
            const auto label = r.value<std::int64_t>();
            x.owners_[v] = r.value<std::uint32_t>();
            x.leaves_[v] = r.value<std::uint32_t>();
            x.access_[v] = r.array<std::uint32_t>(x.tenants_.size());
            r.bytes(row.data(), static_cast<size_t>(d) * sizeof(float));
            x.store_vector(v, row.data());
            x.arena_.store_label(v, label);
            if (x.owners_[v] == kNone) continue;
            if (x.leaves_[v] >= n_nodes || x.nodes_[x.leaves_[v]].n_children != 0) throw CorruptIndex("corrupt index: bad leaf of a vector");
            if (!x.slot_of_.emplace(label, v).second) throw CorruptIndex("corrupt index: a vector id appears twice");
            x.n_vectors_ += 1;
        }
        x.free_slots_ = r.array<std::uint32_t>(n_slots);

        x.filters_.resize(n_nodes);
        x.shortlists_.resize(x.tenants_.size());
        for (std::uint32_t i = 0; i < n_nodes; ++i) {
            const auto capacity = r.value<std::uint32_t>();
            const auto count = r.value<std::uint32_t>();
            const auto n_probes = r.value<std::uint32_t>();
            std::vector<std::uint64_t> words = r.array<std::uint64_t>();
            const bool power_of_two = (words.size() & (words.size() - 1)) == 0;
            if (!power_of_two || n_probes > 64 || (!words.empty() && n_probes == 0) || count > capacity)
                throw CorruptIndex("corrupt index: bad Bloom filter");
            x.filters_[i].restore(capacity, count, static_cast<int>(n_probes), std::move(words));
            const std::uint64_t n_lists = r.count(4 + 8, x.tenants_.size());
            for (std::uint64_t j = 0, previous = 0; j < n_lists; ++j) {
                const auto tenant = r.value<std::uint32_t>();
                std::vector<std::uint32_t> ids = r.array<std::uint32_t>(n_slots);
                if (tenant >= x.tenants_.size()) throw CorruptIndex("corrupt index: bad tenant in a shortlist");
                if (j > 0 && tenant <= previous) throw CorruptIndex("corrupt index: shortlists out of order");
                previous = tenant;
                auto& lists = x.shortlists_[tenant];
                for (std::uint32_t v : ids)
                    if (v >= n_slots || x.owners_[v] == kNone) throw CorruptIndex("corrupt index: a shortlist holds a deleted vector");
                lists.push_back({i, x.preorder_[i], std::move(ids)});
            }
            x.n_shortlists_ += n_lists;
        }
        for (auto& lists : x.shortlists_)
            std::sort(lists.begin(), lists.end(), [](const mt_detail::Shortlist& a, const mt_detail::Shortlist& b) { return a.rank < b.rank; });
        x.stale_filter_entries_ = r.value<std::uint64_t>();
        r.finish();
        try {
            x.check_invariants_unlocked();
        } catch (const InvariantViolation& e) {
            throw CorruptIndex(std::string("corrupt index: ") + e.what());
        }
        return index;
    }

  private:
    static constexpr char kMagic[8] = {'V', 'C', 'M', 'T', 'I', 'D', 'X', '\x01'};

    // ---------------------------------------------------------------------------- helpers

    static std::uint64_t bounded(std::uint64_t value, std::uint64_t limit, const char* what) {
        if (value > limit) throw CorruptIndex(std::string("corrupt index: ") + what + " out of range");
        return value;
    }

    template <class Map>
    static size_t hash_map_bytes(const Map& map) {
        // libstdc++-style node map: one pointer per bucket, one node (next pointer + value,
        // padded to 8 bytes, plus the cached hash) per element.
        return map.bucket_count() * sizeof(void*) + map.size() * (sizeof(void*) + sizeof(typename Map::value_type) + sizeof(size_t));
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

    void normalise(float* v) const {
        double norm2 = 0.0;
        for (index_t j = 0; j < options_.dim; ++j) norm2 += static_cast<double>(v[j]) * v[j];
        const auto inverse = static_cast<float>(1.0 / std::sqrt(norm2));
        for (index_t j = 0; j < options_.dim; ++j) v[j] *= inverse;
    }

    // Finite values (and, for cosine, a non-zero norm) in every row.
    void check_vectors(const float* x, index_t n, const char* what) const {
        const index_t d = options_.dim;
        for (index_t i = 0; i < n; ++i) {
            // On the bits, so that the loop vectorises: all exponent bits set is NaN or infinity.
            std::uint32_t not_finite = 0, any_nonzero = 0;
            for (index_t j = 0; j < d; ++j) {
                std::uint32_t bits;
                std::memcpy(&bits, x + i * d + j, sizeof bits);
                not_finite |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
                any_nonzero |= bits & 0x7fffffffu;
            }
            if (not_finite)
                throw std::invalid_argument(std::string(what) + " " + std::to_string(i) + " contains NaN or infinity");
            if (options_.metric == IndexMetric::cosine && !any_nonzero)
                throw std::invalid_argument(std::string(what) + " " + std::to_string(i) + " is all zeros, which has no cosine distance");
        }
    }

    // Stores a padded row (normalised already for cosine) in slot v, with its code and bounds.
    void store_vector(std::uint32_t v, const float* row) {
        std::uint8_t code[ProjectedQuantizer::kDims];
        const mt_detail::CodeBounds bounds = encode(row, code);
        arena_.store(v, row);
        arena_.store_header(v, code, bounds);
    }

    // The row's code and what a scan needs to judge the row from it (see code_lower_bounds).
    mt_detail::CodeBounds encode(const float* row, std::uint8_t* code) const {
        const ProjectionFacts f = quantizer_.encode(row, code);
        return {float_up(f.code_error), float_down(f.residual_low), float_up(f.residual_high), float_up(f.norm), first_pass_slack(row)};
    }

    // How far a first pass over the high halves can undercut the vector's exact score (see
    // FirstPassBound), rounded up: l2: r = ||x - high(x)||; ip and cosine: r plus the rounding
    // of both lane sums, gamma ||x|| each (|high(x)_j| <= |x_j|).
    float first_pass_slack(const float* row) const {
        double residual2 = 0.0, norm2 = 0.0;
        for (index_t j = 0; j < stride_; ++j) {
            std::uint32_t bits;
            std::memcpy(&bits, row + j, sizeof bits);
            const double x = row[j], high = lane_sums::from_halves(static_cast<std::uint16_t>(bits >> 16), 0);
            residual2 += (x - high) * (x - high);
            norm2 += x * x;
        }
        double slack = std::sqrt(residual2);
        if (options_.metric != IndexMetric::l2) slack += 2.0 * sum_rounding_ * std::sqrt(norm2);
        return float_up(slack * (1.0 + 1e-9));
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

    // ------------------------------------------------------------------ tenants and slots

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

    // A tenant that sees no vector is forgotten (its filter bits become harmless false positives).
    void release_if_empty(std::uint32_t t) {
        if (t == kNone || tenants_[t].size > 0) return;
        tenant_of_.erase(tenants_[t].external);
        tenants_[t] = {};
        std::vector<mt_detail::Shortlist>().swap(shortlists_[t]);  // empty already: frees its capacity
        free_tenants_.push_back(t);
    }

    std::uint32_t slot_or_throw(std::int64_t id) const {
        auto it = slot_of_.find(id);
        if (it == slot_of_.end()) throw UnknownId("id " + std::to_string(id) + " is not in the index");
        return it->second;
    }

    std::vector<std::uint32_t> slots_of(const std::int64_t* ids, index_t n) const {
        std::vector<std::uint32_t> slots(static_cast<size_t>(n));
        for (index_t i = 0; i < n; ++i) slots[static_cast<size_t>(i)] = slot_or_throw(ids[i]);
        return slots;
    }

    std::uint32_t allocate_slot() {
        if (!free_slots_.empty()) {
            const std::uint32_t v = free_slots_.back();
            free_slots_.pop_back();
            return v;
        }
        const auto v = static_cast<std::uint32_t>(owners_.size());
        arena_.ensure(static_cast<index_t>(v) + 1);
        owners_.push_back(kNone);
        leaves_.push_back(0);
        access_.emplace_back();
        return v;
    }

    // The slot's data is zeroed so a saved index never carries deleted vectors.
    void free_slot(std::uint32_t v) {
        slot_of_.erase(arena_.label(v));
        arena_.clear(v);
        owners_[v] = kNone;
        leaves_[v] = 0;
        std::vector<std::uint32_t>().swap(access_[v]);
        free_slots_.push_back(v);
        n_vectors_ -= 1;
    }

    // ------------------------------------------------------------------------- shortlists

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
        auto* list = const_cast<mt_detail::Shortlist*>(static_cast<const MultiTenantIndex*>(this)->find_shortlist(node, t));
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

    // ----------------------------------------------------------------------------- search

    void search_one(const float* query_in, std::uint32_t t, index_t k, index_t budget, mt_detail::SearchScratch& s,
                    float* out_distances, std::int64_t* out_ids) const {
        std::fill(out_distances, out_distances + k, std::numeric_limits<float>::infinity());
        std::fill(out_ids, out_ids + k, std::int64_t(-1));
        if (t == kNone || shortlists_[t].empty()) return;
        const std::vector<mt_detail::Shortlist>& lists = shortlists_[t];
        s.query.assign(static_cast<size_t>(stride_), 0.0f);
        std::copy(query_in, query_in + options_.dim, s.query.begin());
        if (options_.metric == IndexMetric::cosine) normalise(s.query.data());
        const float* q = s.query.data();
        double query_norm2 = 0.0;
        for (index_t j = 0; j < options_.dim; ++j) query_norm2 += static_cast<double>(q[j]) * q[j];
        s.bound.reset(options_.metric, sum_rounding_, sum_underflow_, std::sqrt(query_norm2) * (1.0 + 1e-9));
        set_code_query(q, query_norm2, s);
        s.top.reset(k);
        // The walk visits only nodes with shortlists of t at or below them (t's shortlists in a
        // subtree are consecutive in preorder): the nodes the filters admit, less their false
        // positives, which could only add nodes without candidates. So it scans the same vectors.
        s.frontier.clear();
        s.frontier.push_back({0.0f, 0, 0, static_cast<std::uint32_t>(lists.size())});
        s.candidates.clear();
        index_t scanned = 0;
        while (!s.frontier.empty() && scanned < budget) {
            std::pop_heap(s.frontier.begin(), s.frontier.end(), mt_detail::frontier_after);
            const mt_detail::FrontierNode entry = s.frontier.back();
            s.frontier.pop_back();
            if (const mt_detail::Shortlist& list = lists[entry.first]; list.node == entry.node) {
                // Which vectors are scanned depends only on the tree and the list sizes: gather
                // them all, so the scan can fetch them far ahead.
                s.candidates.insert(s.candidates.end(), list.ids.begin(), list.ids.end());
                scanned += static_cast<index_t>(list.ids.size());
                continue;
            }
            // Expand: split t's shortlists below the node by child subtree.
            const Node& n = nodes_[entry.node];
            s.rows.clear();
            s.children.clear();
            auto run = lists.begin() + entry.first;
            const auto last = lists.begin() + entry.last;
            for (std::uint32_t c = n.first_child; c < n.first_child + n.n_children && run != last; ++c) {
                const auto run_end = first_from_rank(run, last, subtree_end_[c]);
                if (run_end == run) continue;
                s.rows.push_back({centroid(c)});
                s.children.push_back({0.0f, c, static_cast<std::uint32_t>(run - lists.begin()), static_cast<std::uint32_t>(run_end - lists.begin())});
                run = run_end;
            }
            const auto n_rows = static_cast<index_t>(s.rows.size());
            s.sums.resize(s.rows.size());
            if (options_.metric == IndexMetric::ip) {
                lane_sums::sums<lane_sums::Dot>(q, s.rows.data(), n_rows, stride_, s.sums.data());
                for (float& sum : s.sums) sum = -sum;
            } else {
                lane_sums::sums<lane_sums::SquaredDiff>(q, s.rows.data(), n_rows, stride_, s.sums.data());
            }
            for (size_t i = 0; i < s.children.size(); ++i) {
                s.children[i].priority = s.sums[i];
                s.frontier.push_back(s.children[i]);
                std::push_heap(s.frontier.begin(), s.frontier.end(), mt_detail::frontier_after);
            }
        }
        scan(q, s.candidates, s);
        s.top.write(out_distances, out_ids);
    }

    // Exact distances from the query to a shortlist's vectors, into the top-k. A first pass
    // reads only the high halves of each vector; the low halves are read only when the bound
    // cannot rule the vector out (see FirstPassBound), so the result is the same.
    void scan(const float* q, const std::vector<std::uint32_t>& ids, mt_detail::SearchScratch& s) const {
        switch (options_.metric) {
            case IndexMetric::l2: return scan_with<IndexMetric::l2>(q, ids, s);
            case IndexMetric::ip: return scan_with<IndexMetric::ip>(q, ids, s);
            case IndexMetric::cosine: return scan_with<IndexMetric::cosine>(q, ids, s);
        }
    }

    void set_code_query(const float* q, double query_norm2, mt_detail::SearchScratch& s) const {
        s.projection.resize(static_cast<size_t>(ProjectedQuantizer::kDims));
        s.query_facts = quantizer_.project_query(q, query_norm2, s.projection.data());
        double norm2 = 0.0;
        for (float y : s.projection) norm2 += static_cast<double>(y) * y;
        s.projection_norm = std::sqrt(norm2) * (1.0 + 1e-9);
    }

    // Rigorous lower bounds on the distances of the vectors ids[i], i < n, from their codes,
    // given sums[i], the lane sum over the query's float projection y and the decoded code c
    // (squared differences for l2, products otherwise), within a relative code_rounding_ (and
    // an absolute code_underflow_) of the real one. With the bounds of ProjectionFacts:
    //   l2: ||q - x||^2 = ||Pi (q - x)||^2 + ||(I - Pi)(q - x)||^2, where
    //       ||Pi (q - x)|| >= (||y - c|| - ||P q - y|| - ||P x - c||) / sqrt(1 + delta) and
    //       ||(I - Pi)(q - x)|| >= | ||(I - Pi) q|| - ||(I - Pi) x|| |: a bound on the real squared distance;
    //   ip: q.x = Pi q . Pi x + (I - Pi) q . (I - Pi) x <= y.c + ||P q - y|| ||P x|| + ||y|| ||P x - c||
    //       + delta / (1 - delta) ||P q|| ||P x|| + ||(I - Pi) q|| ||(I - Pi) x||, with
    //       ||P v|| <= sqrt(1 + delta) ||v||; less the rounding of the exact score (gamma ||q|| ||x||),
    //       a bound on the computed distance -q.x; cosine: the same for 1 - q.x.
    // A sum that is not finite gives no bound.
    template <IndexMetric kMetric>
    void code_lower_bounds(const std::uint32_t* ids, const float* sums, size_t n, const mt_detail::SearchScratch& s,
                           double* out) const {
        constexpr double kMargin = 1e-12;  // far above the rounding of the doubles below
        const ProjectionFacts& query = s.query_facts;
        const double delta = quantizer_.delta(), stretch = std::sqrt(1.0 + delta), shrink = 1.0 / stretch;
        for (size_t i = 0; i < n; ++i) {
            const mt_detail::CodeBounds& b = arena_.bounds(ids[i]);
            const double sum = sums[i];
            if (!std::isfinite(sum)) {
                out[i] = -std::numeric_limits<double>::infinity();
                continue;
            }
            if constexpr (kMetric == IndexMetric::l2) {
                const double residual_gap = std::max({0.0, query.residual_low - static_cast<double>(b.residual_high),
                                                      static_cast<double>(b.residual_low) - query.residual_high});
                const double code_distance = std::sqrt(std::max(0.0, sum * (1.0 - code_rounding_) - code_underflow_));
                const double projected = std::max(0.0, code_distance - query.code_error - b.code_error) * shrink;
                out[i] = (projected * projected + residual_gap * residual_gap) * (1.0 - kMargin);
            } else {
                const double x_norm = b.norm, projected_x = stretch * x_norm;
                const double magnitude = s.projection_norm * (projected_x + b.code_error);
                const double upper = sum + code_rounding_ * magnitude + code_underflow_ + query.code_error * projected_x +
                                     s.projection_norm * b.code_error + delta / (1.0 - delta) * (1.0 + delta) * query.norm * x_norm +
                                     query.residual_high * b.residual_high + kMargin * (std::abs(sum) + magnitude + query.norm * x_norm);
                const double score_rounding = query.norm * sum_rounding_ * x_norm;
                out[i] = (kMetric == IndexMetric::ip ? -upper : 1.0 - upper) - score_rounding;
            }
        }
    }

    // Three passes. (1) Every candidate's code, read in a stream, gives a lower bound on its
    // distance. (2) The k candidates with the lowest bounds are read whole: the k-th best is
    // then close to its final value before anything is ruled out. (3) The others in scan
    // order: those their bounds cannot rule out (see FirstPassBound) have their high halves
    // read, and those still not ruled out their low halves. The vectors are scattered, so pass 3 is a pipeline over batches: each
    // step judges a batch's high halves and the exact distances of the batch before, and each
    // step's data was fetched one step ahead.
    template <IndexMetric kMetric>
    void scan_with(const float* q, const std::vector<std::uint32_t>& ids, mt_detail::SearchScratch& s) const {
        using Op = std::conditional_t<kMetric == IndexMetric::l2, lane_sums::SquaredDiff, lane_sums::Dot>;
        constexpr size_t kBatch = 16;
        const size_t n = ids.size();
        const size_t header_bytes = arena_.header_bytes();
        const size_t half_bytes = static_cast<size_t>(stride_) * sizeof(std::uint16_t);
        auto fetch = [](const void* p, size_t bytes) {
            for (size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(static_cast<const char*>(p) + offset);
        };
        auto offer_exact = [&](std::uint32_t v) {
            const lane_sums::SplitRow row{arena_.halves(v), stride_};
            float sum;
            lane_sums::sums<Op>(q, &row, 1, stride_, &sum);
            const float distance = kMetric == IndexMetric::l2 ? sum : kMetric == IndexMetric::ip ? -sum : 1.0f - sum;
            if (s.top.accepts(distance)) s.top.offer({distance, arena_.label(v)});
        };
        auto tighten = [&] {
            if (s.top.full()) s.bound.tighten(s.top.worst());
        };

        // (1) Codes, two batches fetched ahead.
        s.lower_bounds.resize(n);
        s.codes.resize(kBatch);
        s.sums.resize(kBatch);
        for (size_t i = 0; i < std::min(n, 2 * kBatch); ++i) fetch(arena_.code(ids[i]), header_bytes);
        for (size_t begin = 0; begin < n; begin += kBatch) {
            const size_t end = std::min(n, begin + kBatch);
            for (size_t i = end + kBatch; i < std::min(n, end + 2 * kBatch); ++i) fetch(arena_.code(ids[i]), header_bytes);
            for (size_t i = begin; i < end; ++i) s.codes[i - begin] = arena_.code(ids[i]);
            code_sums<kMetric == IndexMetric::l2>(s.projection.data(), quantizer_.base().data(), quantizer_.step().data(), s.codes.data(),
                                                  end - begin, s.sums.data());
            code_lower_bounds<kMetric>(ids.data() + begin, s.sums.data(), end - begin, s, s.lower_bounds.data() + begin);
        }

        // (2) The k vectors with the lowest bounds (a max-heap of (bound, position)).
        s.seeds.clear();
        for (size_t i = 0; i < n; ++i) {
            const double key = s.lower_bounds[i];
            if (s.seeds.size() < s.top.capacity()) {
                s.seeds.push_back({key, i});
                std::push_heap(s.seeds.begin(), s.seeds.end());
            } else if (key < s.seeds.front().first) {
                std::pop_heap(s.seeds.begin(), s.seeds.end());
                s.seeds.back() = {key, i};
                std::push_heap(s.seeds.begin(), s.seeds.end());
            }
        }
        s.is_seed.assign(n, 0);
        for (const auto& seed : s.seeds) {
            s.is_seed[seed.second] = 1;
            fetch(arena_.halves(ids[seed.second]), 2 * half_bytes);
        }
        for (const auto& seed : s.seeds) offer_exact(ids[seed.second]);

        // (3) The rest: codes judged against the current k-th best, then high halves, then exact.
        tighten();
        s.coded.clear();
        for (size_t i = 0; i < n; ++i)
            if (!s.is_seed[i] && !s.bound.excludes_lower(s.lower_bounds[i])) s.coded.push_back(static_cast<std::uint32_t>(i));
        for (size_t i = 0; i < std::min(s.coded.size(), kBatch); ++i) fetch(arena_.halves(ids[s.coded[i]]), half_bytes);
        s.finalists.clear();
        for (size_t begin = 0; begin < s.coded.size() || !s.finalists.empty(); begin += kBatch) {
            // High halves of this batch; the next batch's are fetched meanwhile.
            const size_t end = std::min(s.coded.size(), begin + kBatch);
            for (size_t i = end; i < std::min(s.coded.size(), end + kBatch); ++i) fetch(arena_.halves(ids[s.coded[i]]), half_bytes);
            s.next_finalists.clear();
            s.halves.clear();
            for (size_t i = begin; i < end; ++i) {
                tighten();
                const size_t at = s.coded[i];
                if (!s.bound.excludes_lower(s.lower_bounds[at])) s.halves.push_back({arena_.halves(ids[at])});
                else s.coded[i] = mt_detail::kNone;
            }
            s.sums.resize(s.halves.size());
            lane_sums::sums<Op>(q, s.halves.data(), static_cast<index_t>(s.halves.size()), stride_, s.sums.data());
            for (size_t i = begin, h = 0; i < end; ++i) {
                if (s.coded[i] == mt_detail::kNone) continue;
                const std::uint32_t v = ids[s.coded[i]];
                const float sum = s.sums[h++];
                tighten();
                if (s.bound.excludes(sum, arena_.bounds(v).half_slack)) continue;
                s.next_finalists.push_back({v, sum});
                fetch(arena_.halves(v) + stride_, half_bytes);
            }
            // Exact distances of the previous batch's survivors.
            for (const auto& [v, high_sum] : s.finalists) {
                tighten();
                if (!s.bound.excludes(high_sum, arena_.bounds(v).half_slack)) offer_exact(v);
            }
            s.finalists.swap(s.next_finalists);
        }
    }

    // ------------------------------------------------------------------------- validation

    // Structure of a loaded tree: children ranges in bounds, parent links and levels agree.
    void check_tree() const {
        const auto n_nodes = static_cast<std::uint64_t>(nodes_.size());
        if (n_nodes == 0) return;
        if (nodes_[0].parent != kNone || nodes_[0].level != 0) throw CorruptIndex("corrupt index: bad root");
        std::uint64_t expected_next = 1;  // children are allocated level by level, in parent order
        for (std::uint32_t i = 0; i < n_nodes; ++i) {
            const Node& n = nodes_[i];
            if (n.n_children == 0) continue;
            if (n.first_child != expected_next || n.n_children > mt_detail::kMaxBranching ||
                static_cast<std::uint64_t>(n.first_child) + n.n_children > n_nodes || n.level + 1 >= mt_detail::kMaxDepth)
                throw CorruptIndex("corrupt index: bad tree structure");
            expected_next += n.n_children;
            for (std::uint32_t c = n.first_child; c < n.first_child + n.n_children; ++c)
                if (nodes_[c].parent != i || nodes_[c].level != n.level + 1) throw CorruptIndex("corrupt index: bad tree links");
        }
        if (expected_next != n_nodes) throw CorruptIndex("corrupt index: unreachable tree nodes");
    }

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

    IndexOptions options_;
    index_t stride_ = 0;
    int n_probes_ = 1;
    bool trained_ = false;

    // The tree: nodes level by level, each node's children consecutive; padded centroids.
    std::vector<Node> nodes_;
    mt_detail::AlignedFloats centroid_rows_;
    std::vector<BloomFilter> filters_;
    std::vector<std::uint32_t> preorder_, subtree_end_;  // see preorder_ranks
    std::vector<std::vector<mt_detail::Shortlist>> shortlists_;  // per tenant, by preorder rank
    size_t n_shortlists_ = 0;
    std::uint64_t stale_filter_entries_ = 0;

    // Vectors, by internal slot.
    mt_detail::VectorArena arena_;
    ProjectedQuantizer quantizer_;  // the basis and grids of the vectors' codes, fitted by train()
    double sum_rounding_ = 0.0, sum_underflow_ = 0.0;
    // The same for a lane sum over a code (kDims terms, each decoded value computed exactly as stored).
    static constexpr double kCodeRoundings = (ProjectedQuantizer::kDims + 4) * 0x1p-24;
    static constexpr double code_rounding_ = 1.01 * kCodeRoundings / (1.0 - kCodeRoundings);
    static constexpr double code_underflow_ = (3 * ProjectedQuantizer::kDims + 16) * 0x1p-149;
    std::vector<std::uint32_t> owners_;  // kNone marks a free slot
    std::vector<std::uint32_t> leaves_;
    std::vector<std::vector<std::uint32_t>> access_;  // sorted internal tenant ids
    std::vector<std::uint32_t> free_slots_;
    std::unordered_map<std::int64_t, std::uint32_t> slot_of_;
    index_t n_vectors_ = 0;

    // Tenants, by internal id.
    std::vector<mt_detail::TenantRecord> tenants_;
    std::vector<std::uint32_t> free_tenants_;
    std::unordered_map<std::int64_t, std::uint32_t> tenant_of_;

    mutable std::shared_mutex mutex_;
};

}  // namespace vecclust
