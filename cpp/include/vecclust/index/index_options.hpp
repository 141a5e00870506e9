// The multi-tenant index's options, metrics, errors and the small records its parts share,
// with IndexSettings: the options checked once and the rounding constants derived from them.
#pragma once

#include <algorithm>  // std::fill, std::max
#include <cmath>      // std::sqrt, std::nextafter
#include <cstdint>    // std::int64_t, std::uint32_t
#include <cstdio>     // std::snprintf
#include <cstring>    // std::memcpy
#include <limits>     // std::numeric_limits
#include <memory>     // std::unique_ptr
#include <new>        // std::align_val_t
#include <stdexcept>  // std::out_of_range
#include <string>     // std::string
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"

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

// Sign codes (sign_codes.hpp) beside the projected ones: auto turns them on at train() when
// dim >= 64 and the 32 projected directions leave too much of the data unbounded.
enum class SignCodes : std::uint32_t { off = 0, on = 1, automatic = 2 };

inline SignCodes parse_sign_codes(const std::string& name) {
    if (name == "off") return SignCodes::off;
    if (name == "on") return SignCodes::on;
    if (name == "auto") return SignCodes::automatic;
    throw std::invalid_argument("unknown sign_codes '" + name + "' (use 'on', 'off' or 'auto')");
}

inline const char* sign_codes_name(SignCodes value) {
    switch (value) {
        case SignCodes::off: return "off";
        case SignCodes::on: return "on";
        case SignCodes::automatic: return "auto";
    }
    return "?";
}

struct IndexOptions {
    index_t dim = 0;
    IndexMetric metric = IndexMetric::l2;
    index_t branching_factor = 32;
    index_t split_threshold = 256;
    double bloom_fpr = 0.01;
    std::uint64_t seed = 0;
    SignCodes sign_codes = SignCodes::off;
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
constexpr double kMinBloomFpr = 0x1p-64;  // 64 probes per member; filters store the count in a byte

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

struct TreeNode {
    std::uint32_t parent = kNone;
    std::uint32_t first_child = 0;  // children have the consecutive ids first_child ...
    std::uint32_t n_children = 0;   // ... first_child + n_children - 1; 0 for a leaf
    std::uint32_t level = 0;
};

// One tenant's shortlist at a node. A tenant's shortlists are kept sorted by their nodes'
// preorder ranks, so those in any subtree are consecutive (see ClusteringTree::preorder_).
struct Shortlist {
    std::uint32_t node;
    std::uint32_t rank;              // preorder rank of the node
    std::vector<std::uint32_t> ids;  // internal vector ids (slots)
};

struct TenantRecord {
    std::int64_t external = 0;
    std::uint64_t size = 0;  // vectors it can see; 0 marks a free record
};

// The options, checked, and what follows from them alone.
class IndexSettings {
  protected:
    explicit IndexSettings(const IndexOptions& options) : options_(options) {
        require(options.dim >= 1 && options.dim <= (index_t(1) << 20), "dim must be in [1, 2^20]");
        require(options.branching_factor >= 2 && options.branching_factor <= mt_detail::kMaxBranching,
                "branching_factor must be in [2, " + std::to_string(mt_detail::kMaxBranching) + "]");
        require(options.split_threshold >= 1 && options.split_threshold <= (index_t(1) << 30),
                "split_threshold must be in [1, 2^30]");
        require(options.bloom_fpr >= mt_detail::kMinBloomFpr && options.bloom_fpr < 1.0, "bloom_fpr must be in [2^-64, 1)");
        stride_ = mt_detail::padded_stride(options.dim);
        // Relative rounding error of a lane sum of stride terms (each rounded up to 3 times),
        // with room to spare: gamma_n = n u / (1 - n u), u = 2^-24.
        const double n_roundings = static_cast<double>(stride_ + 4) * 0x1p-24;
        sum_rounding_ = 1.01 * n_roundings / (1.0 - n_roundings);
        // Absolute error of two such sums (the candidate's and the k-th best's) that underflow:
        // at most 3 stride + 16 roundings each, of half the smallest subnormal at most.
        sum_underflow_ = static_cast<double>(3 * stride_ + 16) * std::numeric_limits<float>::denorm_min();
    }

    void normalise(float* v) const {
        double norm2 = 0.0;
        for (index_t j = 0; j < options_.dim; ++j) norm2 += static_cast<double>(v[j]) * v[j];
        const double inverse = 1.0 / std::sqrt(norm2);
        if (inverse <= std::numeric_limits<float>::max()) {
            const auto inverse_f = static_cast<float>(inverse);
            for (index_t j = 0; j < options_.dim; ++j) v[j] *= inverse_f;
        } else {  // a row of subnormals: the float inverse would overflow
            for (index_t j = 0; j < options_.dim; ++j) v[j] = static_cast<float>(v[j] * inverse);
        }
    }

    // Every row finite and within the range float32 distances can be computed in: with |values|
    // at most largest_magnitude(), no sum of squared differences or products overflows. A batch
    // to store (not queries: small queries against ordinary rows are fine) must also not be so
    // small throughout that its squared differences lose all precision (l2, ip); single tiny
    // rows among others are fine. Cosine takes any finite row but zeros (normalised first).
    void check_vectors(const float* x, index_t n, const char* what, bool stored) const {
        const index_t d = options_.dim;
        const bool cosine = options_.metric == IndexMetric::cosine;  // rows normalised in double first
        const float high = cosine ? std::numeric_limits<float>::max() : largest_magnitude();
        const float low = cosine ? 0.0f : 0x1p-63f;
        std::uint32_t high_bits, batch_largest = 0;
        std::memcpy(&high_bits, &high, sizeof high);
        for (index_t i = 0; i < n; ++i) {
            // On the bits, so that the loop vectorises: the magnitude bits order as |value| does,
            // and all exponent bits set is NaN or infinity.
            std::uint32_t largest = 0;
            for (index_t j = 0; j < d; ++j) {
                std::uint32_t bits;
                std::memcpy(&bits, x + i * d + j, sizeof bits);
                largest = std::max(largest, bits & 0x7fffffffu);
            }
            const std::string row = std::string(what) + " " + std::to_string(i);
            if (largest >= 0x7f800000u) throw std::invalid_argument(row + " contains NaN or infinity");
            if (largest > high_bits)
                throw std::invalid_argument(row + " has a value of magnitude " + short_number(from_bits(largest)) +
                                            ", above " + short_number(high) + ", the largest the index takes at dim=" +
                                            std::to_string(d) + " (its float32 distances would overflow): rescale the vectors");
            if (cosine && largest == 0) throw std::invalid_argument(row + " is all zeros, which has no cosine distance");
            batch_largest = std::max(batch_largest, largest);
        }
        if (stored && batch_largest != 0 && from_bits(batch_largest) < low)
            throw std::invalid_argument(std::string("the largest magnitude of these vectors, ") +
                                        short_number(from_bits(batch_largest)) + ", is below " + short_number(low) +
                                        ", the smallest the index resolves (their float32 distances would underflow): "
                                        "rescale the vectors");
    }

    static float from_bits(std::uint32_t bits) {
        float value;
        std::memcpy(&value, &bits, sizeof value);
        return value;
    }

    // sqrt(FLT_MAX / (8 dim)), rounded down: sums of dim terms (2 m)^2 or m^2, each rounded,
    // stay well below FLT_MAX.
    float largest_magnitude() const {
        const double limit = std::sqrt(static_cast<double>(std::numeric_limits<float>::max()) / (8.0 * static_cast<double>(options_.dim)));
        const auto rounded = static_cast<float>(limit);
        return static_cast<double>(rounded) > limit ? std::nextafter(rounded, 0.0f) : rounded;
    }

    static std::string short_number(double value) {
        char text[32];
        std::snprintf(text, sizeof text, "%.3g", value);
        return text;
    }

    IndexOptions options_;
    index_t stride_ = 0;
    bool trained_ = false;
    double sum_rounding_ = 0.0, sum_underflow_ = 0.0;
};

}  // namespace mt_detail
}  // namespace vecclust
