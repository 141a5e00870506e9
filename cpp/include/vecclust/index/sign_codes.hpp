// Sign codes: one bit per dimension of a randomly rotated, centred vector, with the estimator
// and error bound of RaBitQ (Gao & Long, SIGMOD 2024), a second first pass for the index's
// scan that stays tight when the data's variance is spread over hundreds of directions (where
// the 32 projected directions of projected_codes.hpp leave most of each vector unbounded).
//
// With c the training data's mean, R an orthogonal rotation of D = dim rounded up to 64
// dimensions and r = x - c, a vector is stored as the signs b of R r, its norm ||r||, and
// f = ||R r|| sqrt(D) / sum |(R r)_i| >= 1. For a query, u = R (q - c):
//   <r, q - c> ~= ||r|| f <xbar, u>,   xbar = (2 b - 1) / sqrt(D),
// and the error, for a random rotation, is below eps0 ||r|| ||u|| sqrt(f^2 - 1) / sqrt(D - 1)
// but with a probability that falls off like a Gaussian tail in eps0 (RaBitQ's error bound).
// The bound is therefore probable, not rigorous: a scan that uses it (IndexScan, unless the
// search asks for exact results) misses a true neighbour only when its estimate is more than
// kConfidence standard deviations off. The query is rounded to 4-bit levels so that <b, u> is
// four popcounts per 64 dimensions; that rounding is bounded exactly and added to the bound.
//
// The rotation is three rounds of random signs, a Walsh-Hadamard transform on each block of 64
// and a random permutation, all derived from the index seed: D log D work per vector, nothing
// to store, and orthogonal up to float rounding (which kSlack covers).
#pragma once

#include <algorithm>  // std::min, std::max
#include <cmath>      // std::sqrt, std::fabs, std::lround
#include <cstdint>    // std::uint64_t, std::uint32_t
#include <cstring>    // std::memcpy
#include <numeric>    // std::iota
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/base/random.hpp"
#include "vecclust/cpu/isa.hpp"

namespace vecclust {
namespace mt_detail {

// The POPCNT instruction where the level has it (isa.hpp's AVX2 and AVX-512 targets),
// otherwise the bit-parallel count (a libgcc call would cost more than the rest of a bound).
template <isa::Level L>
VECCLUST_ALWAYS_INLINE int popcount64(std::uint64_t x, isa::At<L>) {
#if defined(VECCLUST_ISA_DISPATCH)
    if constexpr (L != isa::Level::baseline) return __builtin_popcountll(x);
#endif
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return static_cast<int>((x * 0x0101010101010101ull) >> 56);
}

// What a stored sign code carries besides its bits.
struct SignFacts {
    float norm;    // ||x - c||
    float ratio;   // f
    float spread;  // sqrt(f^2 - 1)
    float norm2;   // ||x||^2 (ip)
};

// A query prepared for sign codes (per-thread scratch, reused).
struct SignQuery {
    std::vector<float> rotated;         // u
    std::vector<float> work;
    std::vector<std::uint64_t> planes;  // bit b of the rounded coordinates 64 w ... 64 w + 63 at [4 w + b]
    double low = 0.0, step = 0.0;       // u_i ~= low + step * level_i
    double sum = 0.0;                   // sum u_i
    double norm = 0.0;                  // ||u||
    double rounding_sum = 0.0;          // sum e_i, e_i = u_i - (low + step level_i)
    double rounding_norm = 0.0;         // sqrt(sum e_i^2)
    double norm2 = 0.0;                 // ||q||^2
};

class SignQuantizer {
  public:
    static constexpr double kConfidence = 3.0;  // eps0: standard deviations of the estimate
    static constexpr double kSlack = 1e-5;      // relative: float rounding of rotation and sums
    static constexpr int kRounds = 3;
    static constexpr int kQueryBits = 4;  // l2_lower_bounds spells out its four planes

    bool enabled() const { return dim_ > 0; }
    const std::vector<float>& centre() const { return centre_; }
    // Bytes a stored code takes: the bits, then SignFacts, rounded up to whole cache lines.
    size_t line_bytes() const { return enabled() ? line_bytes_for(dim_) : 0; }
    static size_t line_bytes_for(index_t dim) { return (static_cast<size_t>((dim + 63) / 64) * 8 + sizeof(SignFacts) + 63) / 64 * 64; }

    // The centre from up to 65,536 evenly spaced rows of x (n x dim); the rotation from seed.
    void fit(const float* x, index_t n, index_t dim, std::uint64_t seed) {
        const index_t step = std::max<index_t>(1, n / 65536);
        std::vector<double> sums(static_cast<size_t>(dim), 0.0);
        index_t used = 0;
        for (index_t i = 0; i < n; i += step, ++used)
            for (index_t j = 0; j < dim; ++j) sums[static_cast<size_t>(j)] += x[i * dim + j];
        std::vector<float> centre(static_cast<size_t>(dim));
        for (index_t j = 0; j < dim; ++j) centre[static_cast<size_t>(j)] = static_cast<float>(sums[static_cast<size_t>(j)] / static_cast<double>(used));
        restore(std::move(centre), seed);
    }

    void restore(std::vector<float> centre, std::uint64_t seed) {
        dim_ = static_cast<index_t>(centre.size());
        centre_ = std::move(centre);
        padded_ = (dim_ + 63) / 64 * 64;
        words_ = static_cast<size_t>(padded_ / 64);
        inv_root_ = 1.0 / std::sqrt(static_cast<double>(padded_));
        inv_root_less_one_ = 1.0 / std::sqrt(static_cast<double>(padded_ - 1));
        const auto d = static_cast<size_t>(padded_);
        Rng rng(seed ^ 0x5167e5c0de5ull);
        signs_.assign(static_cast<size_t>(kRounds) * d, 1.0f);
        for (float& s : signs_) s = rng.uniform() < 0.5 ? -1.0f : 1.0f;
        permutation_.resize(static_cast<size_t>(kRounds - 1) * d);
        for (int r = 0; r + 1 < kRounds; ++r) {
            auto* p = permutation_.data() + static_cast<size_t>(r) * d;
            std::iota(p, p + d, 0u);
            for (size_t i = d - 1; i > 0; --i) std::swap(p[i], p[static_cast<size_t>(rng.uniform() * static_cast<double>(i + 1)) % (i + 1)]);
        }
    }

    // The code of a row (dim floats, cosine rows normalised) into line (line_bytes()).
    void encode(const float* row, unsigned char* line) const {
        double norm2 = 0.0, offset2 = 0.0;
        for (index_t j = 0; j < dim_; ++j) {
            const double r = static_cast<double>(row[j]) - centre_[static_cast<size_t>(j)];
            offset2 += r * r;
            norm2 += static_cast<double>(row[j]) * row[j];
        }
        thread_local std::vector<float> work, scratch;  // no allocations per vector once warm
        rotate(row, work, scratch);
        std::fill(line, line + line_bytes(), static_cast<unsigned char>(0));
        double abs_sum = 0.0, rotated2 = 0.0;
        for (size_t w = 0; w < words_; ++w) {
            std::uint64_t bits = 0;
            for (size_t i = 0; i < 64; ++i) {
                const double v = work[w * 64 + i];
                abs_sum += std::fabs(v);
                rotated2 += v * v;
                bits |= static_cast<std::uint64_t>(v > 0.0) << i;
            }
            std::memcpy(line + w * 8, &bits, sizeof bits);
        }
        SignFacts facts{static_cast<float>(std::sqrt(offset2)), 1.0f, 0.0f, static_cast<float>(norm2)};
        if (abs_sum > 0.0) {
            const double ratio = std::max(1.0, std::sqrt(rotated2 * static_cast<double>(padded_)) / abs_sum);
            facts.ratio = static_cast<float>(ratio);
            facts.spread = static_cast<float>(std::sqrt(std::max(0.0, ratio * ratio - 1.0)));
        }
        std::memcpy(line + words_ * 8, &facts, sizeof facts);
    }

    void prepare(const float* q, double query_norm2, SignQuery& out) const {
        rotate(q, out.rotated, out.work);
        double low = out.rotated[0], high = low, sum = 0.0, norm2 = 0.0;
        for (float v : out.rotated) {
            low = std::min(low, static_cast<double>(v));
            high = std::max(high, static_cast<double>(v));
            sum += v;
            norm2 += static_cast<double>(v) * v;
        }
        constexpr int kTop = (1 << kQueryBits) - 1;
        out.low = low;
        out.step = high > low ? (high - low) / kTop : 0.0;
        out.sum = sum;
        out.norm = std::sqrt(norm2);
        out.norm2 = query_norm2;
        out.planes.assign(words_ * kQueryBits, 0);
        const double inverse_step = out.step > 0.0 ? 1.0 / out.step : 0.0;
        double rounding_sum = 0.0, rounding2 = 0.0;
        for (index_t i = 0; i < padded_; ++i) {
            const double v = out.rotated[static_cast<size_t>(i)];
            const auto level = static_cast<std::uint64_t>(std::min(static_cast<double>(kTop), (v - low) * inverse_step + 0.5));  // v >= low
            const double e = v - (low + out.step * static_cast<double>(level));
            rounding_sum += e;
            rounding2 += e * e;
            std::uint64_t* word = out.planes.data() + static_cast<size_t>(i / 64) * kQueryBits;
            for (int b = 0; b < kQueryBits; ++b) word[b] |= (level >> b & 1) << (i % 64);
        }
        out.rounding_sum = rounding_sum;
        out.rounding_norm = std::sqrt(rounding2);
    }

    // Probable lower bounds on ||x - q||^2 from the codes at lines[0 .. n) (see the top of the
    // file). The rounding of the query adds sum_i b_i e_i = sum e / 2 + sum (b_i - 1/2) e_i,
    // the latter a sum of terms of random sign after the rotation, within kConfidence of its
    // standard deviation ||e|| / 2.
    void l2_lower_bounds(const unsigned char* const* lines, size_t n, const SignQuery& q, double* out) const {
        // lower = (1 - slack)(||r||^2 + ||u||^2) - 2 ||r|| (f (a ones + b levels + c) + e spread), with
        // <xbar, u> = (2 <b, u> - sum u) / sqrt(D) and <b, u> ~= low ones + step levels + sum e / 2
        // (a, b, c), and the error terms (the rounding's in c, e the estimate's).
        const double a = 2.0 * q.low * inv_root_, b = 2.0 * q.step * inv_root_;
        const double c = (q.rounding_sum - q.sum) * inv_root_ + kConfidence * q.rounding_norm * inv_root_;
        const double e = kConfidence * q.norm * inv_root_less_one_;
        const double query2 = q.norm * q.norm, keep = 1.0 - kSlack;
        const std::uint64_t* planes = q.planes.data();
        const size_t words = words_;
        isa::dispatch<isa::Level::avx2>([&](auto level) {
            for (size_t i = 0; i < n; ++i) {
                const unsigned char* line = lines[i];
                long ones = 0, levels = 0;
                for (size_t w = 0; w < words; ++w) {
                    std::uint64_t bits;
                    std::memcpy(&bits, line + w * 8, sizeof bits);
                    const std::uint64_t* p = planes + w * kQueryBits;
                    ones += popcount64(bits, level);
                    levels += popcount64(bits & p[0], level) + 2 * popcount64(bits & p[1], level) + 4 * popcount64(bits & p[2], level) +
                              8 * popcount64(bits & p[3], level);
                }
                SignFacts facts;
                std::memcpy(&facts, line + words * 8, sizeof facts);
                const double norm = facts.norm;
                const double dot = a * static_cast<double>(ones) + b * static_cast<double>(levels) + c;
                out[i] = keep * (norm * norm + query2) - 2.0 * norm * (facts.ratio * dot + e * facts.spread);
            }
        });
    }

    float norm2(const unsigned char* line) const {
        SignFacts facts;
        std::memcpy(&facts, line + words_ * 8, sizeof facts);
        return facts.norm2;
    }

  private:
    // One step of the Walsh-Hadamard transform of 64 floats (constant H: the compiler unrolls it).
    template <size_t H>
    static VECCLUST_ALWAYS_INLINE void butterflies(float* v) {
        for (size_t i = 0; i < 64; i += 2 * H)
            for (size_t j = i; j < i + H; ++j) {
                const float a = v[j], b = v[j + H];
                v[j] = a + b;
                v[j + H] = a - b;
            }
    }

    // work = R (row - c), padded to D; swap is scratch.
    void rotate(const float* row, std::vector<float>& work, std::vector<float>& swap) const {
        const auto d = static_cast<size_t>(padded_);
        work.assign(d, 0.0f);
        swap.resize(d);
        for (index_t j = 0; j < dim_; ++j) work[static_cast<size_t>(j)] = row[j] - centre_[static_cast<size_t>(j)];
        isa::dispatch<isa::Level::avx2>([&](auto) {
        for (int r = 0; r < kRounds; ++r) {
            const float* s = signs_.data() + static_cast<size_t>(r) * d;
            for (size_t i = 0; i < d; ++i) work[i] *= s[i];
            for (size_t block = 0; block < d; block += 64) {
                float* v = work.data() + block;
                butterflies<1>(v), butterflies<2>(v), butterflies<4>(v), butterflies<8>(v), butterflies<16>(v), butterflies<32>(v);
                for (size_t i = 0; i < 64; ++i) v[i] *= 0.125f;  // 1 / sqrt(64): exact
            }
            if (r + 1 < kRounds) {
                const std::uint32_t* p = permutation_.data() + static_cast<size_t>(r) * d;
                for (size_t i = 0; i < d; ++i) swap[i] = work[p[i]];
                work.swap(swap);
            }
        }
        });
    }

    index_t dim_ = 0, padded_ = 0;
    size_t words_ = 0;
    double inv_root_ = 0.0, inv_root_less_one_ = 0.0;
    std::vector<float> centre_;
    std::vector<float> signs_;
    std::vector<std::uint32_t> permutation_;
};

}  // namespace mt_detail
}  // namespace vecclust
