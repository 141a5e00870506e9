// Projected 8-bit codes, the first pass of the multi-tenant index's scan.
//
// Vectors are projected on the kDims directions along which the training data vary most (the
// leading eigenvectors of their uncentred second-moment matrix, found by subspace iteration),
// and each coordinate of the projection is stored as one byte on a per-direction grid fitted on
// the training data (spanning its 0.1% to 99.9% quantiles: rarer values are clipped, which only
// loosens their vector's bound). With the code the index stores how far the decoded projection
// may be from the exact one and bounds on the norm of the vector's part outside the projection,
// so that a scan can rule vectors out by a provable bound after reading one cache line of each.
//
// The basis P (rows = directions, double) is never exactly orthonormal; everything is bounded
// through delta >= ||P P^T - I||, computed from the stored P itself: with Pi the orthogonal
// projector onto P's row space, (1 - delta) ||Pi v||^2 <= ||P v||^2 <= (1 + delta) ||Pi v||^2.
#pragma once

#include <algorithm>  // std::nth_element, std::clamp
#include <cmath>      // std::sqrt, std::nextafter
#include <cstdint>    // std::uint8_t, std::uint64_t
#include <limits>     // std::numeric_limits
#include <utility>    // std::pair
#include <vector>     // std::vector

#include "vecclust/base/common.hpp"
#include "vecclust/cpu/isa.hpp"
#include "vecclust/base/random.hpp"

#ifdef VECCLUST_ISA_DISPATCH
#include <immintrin.h>
#endif

namespace vecclust {

// Outward rounding of a non-negative double to float: up never below, down never above it.
inline float float_up(double value) {
    const auto rounded = static_cast<float>(value);
    return static_cast<double>(rounded) < value ? std::nextafter(rounded, std::numeric_limits<float>::infinity()) : rounded;
}
inline float float_down(double value) {
    if (value >= static_cast<double>(std::numeric_limits<float>::max())) return std::numeric_limits<float>::max();
    const auto rounded = static_cast<float>(value);
    return static_cast<double>(rounded) > value ? std::nextafter(rounded, 0.0f) : rounded;
}

// What the projection tells about one row, all as rigorous bounds on the real numbers.
struct ProjectionFacts {
    double code_error = 0.0;     // >= ||P x - decoded code|| (for a query: ||P q - y||, y its float projection)
    double residual_low = 0.0;   // <= ||(I - Pi) x||
    double residual_high = 0.0;  // >= ||(I - Pi) x||
    double norm = 0.0;           // >= ||x||
};

namespace codes_detail {

// y = P row over the transposed basis (dim x 32), dimension by dimension: each y_c adds its
// terms in the same order at every level (the vectors run across directions), so all agree.
inline void project(const double* transposed, index_t dim, const float* row, double* y) {
    isa::dispatch([&](auto) {
        double sums[32] = {};
        for (index_t j = 0; j < dim; ++j) {
            const double* column = transposed + j * 32;
            const double x = row[j];
            for (int c = 0; c < 32; ++c) sums[c] += column[c] * x;
        }
        for (int c = 0; c < 32; ++c) y[c] = sums[c];
    });
}

}  // namespace codes_detail

class ProjectedQuantizer {
  public:
    static constexpr index_t kDims = 32;  // coded directions: one byte each, 32 bytes a code
    static constexpr int kLevels = 256;
    static constexpr double kClipQuantile = 0.001;
    static constexpr index_t kMaxSample = 16384;  // training rows used for the basis and grids
    static constexpr int kIterations = 40;        // of the subspace iteration

    // Basis and grids from n rows of dim floats; seed fixes the iteration's start.
    void fit(const float* x, index_t n, index_t dim, std::uint64_t seed) {
        dim_ = dim;
        const index_t step_rows = (n + kMaxSample - 1) / kMaxSample;  // every step_rows-th row
        std::vector<const float*> sample;
        for (index_t i = 0; i < n; i += step_rows) sample.push_back(x + i * dim);
        // Uncentred second moments (the lower triangle, then mirrored).
        const auto d = static_cast<size_t>(dim);
        std::vector<double> moments(d * d, 0.0);
        for (const float* row : sample)
            for (size_t a = 0; a < d; ++a) {
                const double xa = row[a];
                double* out = moments.data() + a * d;
                for (size_t b = 0; b <= a; ++b) out[b] += xa * row[b];
            }
        for (size_t a = 0; a < d; ++a)
            for (size_t b = 0; b < a; ++b) moments[b * d + a] = moments[a * d + b];
        const index_t rank = std::min(kDims, dim);
        auto unit_basis = [&] {  // the first coordinates: exact, for small dim or as a fallback
            basis_.assign(static_cast<size_t>(kDims) * d, 0.0);
            for (index_t c = 0; c < rank; ++c) basis_[static_cast<size_t>(c) * d + static_cast<size_t>(c)] = 1.0;
        };
        unit_basis();
        if (rank < dim) {
            // Iterating with M + shift I (same eigenvectors, positive definite) keeps the rows
            // independent even when the data span fewer than kDims directions.
            double trace = 0.0;
            for (size_t a = 0; a < d; ++a) trace += moments[a * d + a];
            const double shift = trace > 0.0 ? 0.1 * trace / static_cast<double>(d) : 1.0;
            Rng rng(seed);
            for (size_t i = 0; i < static_cast<size_t>(rank) * d; ++i) basis_[i] = rng.uniform() - 0.5;
            orthonormalise(rank);
            std::vector<double> product(static_cast<size_t>(rank) * d);
            for (int iteration = 0; iteration < kIterations; ++iteration) {
                for (index_t c = 0; c < rank; ++c)
                    for (size_t a = 0; a < d; ++a) {
                        double sum = shift * basis_[static_cast<size_t>(c) * d + a];
                        for (size_t b = 0; b < d; ++b) sum += moments[a * d + b] * basis_[static_cast<size_t>(c) * d + b];
                        product[static_cast<size_t>(c) * d + a] = sum;
                    }
                std::copy(product.begin(), product.end(), basis_.begin());
                orthonormalise(rank);
            }
            if (!(distortion(basis_, dim_) < 0.5)) unit_basis();
        }
        // Grids: the projections' quantiles per direction.
        transpose();
        base_.assign(static_cast<size_t>(kDims), 0.0f);
        step_.assign(static_cast<size_t>(kDims), 0.0f);
        std::vector<double> y(static_cast<size_t>(kDims));
        std::vector<std::vector<double>> columns(static_cast<size_t>(rank));
        for (const float* row : sample) {
            project(row, 0.0, y.data());
            for (index_t c = 0; c < rank; ++c) columns[static_cast<size_t>(c)].push_back(y[static_cast<size_t>(c)]);
        }
        for (index_t c = 0; c < rank; ++c) {
            auto& column = columns[static_cast<size_t>(c)];
            const auto low_rank = static_cast<size_t>(kClipQuantile * static_cast<double>(column.size() - 1));
            const size_t high_rank = column.size() - 1 - low_rank;
            std::nth_element(column.begin(), column.begin() + static_cast<std::ptrdiff_t>(low_rank), column.end());
            const double low = column[low_rank];
            std::nth_element(column.begin(), column.begin() + static_cast<std::ptrdiff_t>(high_rank), column.end());
            const auto step = static_cast<float>((column[high_rank] - low) / (kLevels - 1));
            step_[static_cast<size_t>(c)] = std::isfinite(step) && step > 0.0f ? step : 0.0f;
            base_[static_cast<size_t>(c)] = static_cast<float>(low);
        }
        delta_ = distortion(basis_, dim_);
        transpose();
    }

    // Basis and grids read from a file; false when they are not finite, of the right sizes, or
    // the basis is too far from orthonormal to bound anything.
    bool restore(std::vector<double> basis, std::vector<float> base, std::vector<float> step, index_t dim) {
        if (basis.size() != static_cast<size_t>(kDims) * static_cast<size_t>(dim) || base.size() != static_cast<size_t>(kDims) ||
            step.size() != base.size())
            return false;
        for (double value : basis)
            if (!std::isfinite(value)) return false;
        for (size_t c = 0; c < base.size(); ++c)
            if (!std::isfinite(base[c]) || !std::isfinite(step[c]) || step[c] < 0.0f) return false;
        const double delta = distortion(basis, dim);
        if (!(delta < 0.5)) return false;
        dim_ = dim;
        basis_ = std::move(basis);
        base_ = std::move(base);
        step_ = std::move(step);
        delta_ = delta;
        transpose();
        return true;
    }

    const std::vector<double>& basis() const { return basis_; }
    const std::vector<float>& base() const { return base_; }
    const std::vector<float>& step() const { return step_; }

    // The share of the rows' energy (sum of squared norms) that the coded directions hold, over
    // up to kMaxSample evenly spaced rows of x (n x dim): near 1 when the data have a few main
    // directions, about a half for sentence embeddings.
    double captured_share(const float* x, index_t n) const {
        const index_t step_rows = (n + kMaxSample - 1) / kMaxSample;
        double captured = 0.0, total = 0.0;
        double y[kDims];
        for (index_t i = 0; i < n; i += step_rows) {
            const float* row = x + i * dim_;
            double norm2 = 0.0;
            for (index_t j = 0; j < dim_; ++j) norm2 += static_cast<double>(row[j]) * row[j];
            project(row, norm2, y);
            for (double v : y) captured += v * v;
            total += norm2;
        }
        return total > 0.0 ? captured / total : 1.0;
    }

    double delta() const { return delta_; }
    size_t memory_bytes() const {
        return (basis_.capacity() + transposed_.capacity()) * sizeof(double) + (base_.capacity() + step_.capacity()) * sizeof(float);
    }

    // A code's decoded coordinate c, in float arithmetic exactly as the scan computes it.
    float decoded(const std::uint8_t* code, index_t c) const {
        return base_[static_cast<size_t>(c)] + step_[static_cast<size_t>(c)] * static_cast<float>(code[c]);
    }

    // The code of a row (dim floats) and the bounds that go with it.
    ProjectionFacts encode(const float* row, std::uint8_t* code) const {
        double y[kDims];
        double norm2 = 0.0;
        for (index_t j = 0; j < dim_; ++j) norm2 += static_cast<double>(row[j]) * row[j];
        const double error = project(row, norm2, y);
        double gap2 = 0.0;
        for (index_t c = 0; c < kDims; ++c) {
            const double step = step_[static_cast<size_t>(c)];
            const double level = step > 0.0 ? std::nearbyint((y[static_cast<size_t>(c)] - base_[static_cast<size_t>(c)]) / step) : 0.0;
            code[c] = static_cast<std::uint8_t>(std::clamp(level, 0.0, static_cast<double>(kLevels - 1)));
            const double gap = y[static_cast<size_t>(c)] - static_cast<double>(decoded(code, c));
            gap2 += gap * gap;
        }
        return facts(norm2, y, error, std::sqrt(gap2) + error);
    }

    // A query's projection rounded to float (into y, kDims floats) and its bounds; norm2 is
    // its squared norm, summed in double in order.
    ProjectionFacts project_query(const float* row, double norm2, float* y) const {
        double exact[kDims];
        const double error = project(row, norm2, exact);
        double gap2 = 0.0;
        for (index_t c = 0; c < kDims; ++c) {
            y[c] = static_cast<float>(exact[c]);
            const double gap = exact[c] - static_cast<double>(y[c]);
            gap2 += gap * gap;
        }
        return facts(norm2, exact, error, std::sqrt(gap2) + error);
    }

  private:
    // y = P row in double; returns a bound on ||y - P row|| (the real product): each y_c is
    // within gamma sum_j |P_cj x_j| <= gamma ||P_c|| ||x|| of it (Cauchy-Schwarz), and the rows'
    // squared norms sum to at most kDims (1 + delta).
    double project(const float* row, double norm2, double* y) const {
        codes_detail::project(transposed_.data(), dim_, row, y);
        const double gamma = 1.01 * static_cast<double>(dim_ + 2) * 0x1p-53;
        return gamma * std::sqrt(norm2 * kDims * (1.0 + 1e-9) * 2.0) + std::numeric_limits<double>::denorm_min();
    }

    void transpose() {
        const auto d = static_cast<size_t>(dim_);
        transposed_.assign(d * kDims, 0.0);
        for (size_t c = 0; c < static_cast<size_t>(kDims); ++c)
            for (size_t j = 0; j < d; ++j) transposed_[j * kDims + c] = basis_[c * d + j];
    }

    // Bounds from a row's squared norm, its projection y (within `error` of P row) and a bound `gap` on the
    // distance from P row to its code: ||Pi x||^2 lies within ||P x||^2 / (1 +- delta), and
    // ||(I - Pi) x||^2 = ||x||^2 - ||Pi x||^2. Every double result gets a relative margin far
    // above its rounding error.
    ProjectionFacts facts(double norm2, const double* y, double error, double gap) const {
        constexpr double kMargin = 1e-9;
        double projected2 = 0.0;
        for (index_t c = 0; c < kDims; ++c) projected2 += y[c] * y[c];
        const double projected = std::sqrt(projected2);
        const double low = std::max(0.0, projected * (1.0 - kMargin) - error), high = projected * (1.0 + kMargin) + error;
        ProjectionFacts f;
        f.code_error = gap * (1.0 + kMargin);
        f.residual_low = std::sqrt(std::max(0.0, norm2 * (1.0 - kMargin) - high * high / (1.0 - delta_))) * (1.0 - kMargin);
        f.residual_high = std::sqrt(std::max(0.0, norm2 * (1.0 + kMargin) - low * low / (1.0 + delta_))) * (1.0 + kMargin);
        f.norm = std::sqrt(norm2) * (1.0 + kMargin);
        return f;
    }

    // Modified Gram-Schmidt, twice, on the first `rank` rows of the basis.
    void orthonormalise(index_t rank) {
        const auto d = static_cast<size_t>(dim_);
        for (int pass = 0; pass < 2; ++pass)
            for (size_t c = 0; c < static_cast<size_t>(rank); ++c) {
                double* row = basis_.data() + c * d;
                for (size_t e = 0; e < c; ++e) {
                    const double* other = basis_.data() + e * d;
                    double dot = 0.0;
                    for (size_t j = 0; j < d; ++j) dot += row[j] * other[j];
                    for (size_t j = 0; j < d; ++j) row[j] -= dot * other[j];
                }
                double norm2 = 0.0;
                for (size_t j = 0; j < d; ++j) norm2 += row[j] * row[j];
                const double norm = std::sqrt(norm2);
                for (size_t j = 0; j < d; ++j) row[j] = norm > 0.0 ? row[j] / norm : (j == c ? 1.0 : 0.0);
            }
    }

    // A bound on ||P P^T - I|| over the basis' non-zero rows: twice the computed Frobenius
    // norm, plus far more than the rounding of computing it.
    static double distortion(const std::vector<double>& basis, index_t dim) {
        const auto d = static_cast<size_t>(dim);
        std::vector<size_t> used;
        for (size_t c = 0; c < static_cast<size_t>(kDims); ++c) {
            bool nonzero = false;
            for (size_t j = 0; j < d; ++j) nonzero |= basis[c * d + j] != 0.0;
            if (nonzero) used.push_back(c);
        }
        double frobenius2 = 0.0;
        for (size_t a : used)
            for (size_t b : used) {
                double dot = 0.0;
                for (size_t j = 0; j < d; ++j) dot += basis[a * d + j] * basis[b * d + j];
                const double off = dot - (a == b ? 1.0 : 0.0);
                frobenius2 += off * off;
            }
        return 2.0 * std::sqrt(frobenius2) + 1e-10;
    }

    index_t dim_ = 0;
    std::vector<double> basis_;       // kDims x dim, rows beyond min(kDims, dim) zero
    std::vector<double> transposed_;  // dim x kDims
    std::vector<float> base_, step_;  // per direction: decoded = base + step * level
    double delta_ = 0.0;
};

namespace codes_detail {

// One direction's term of a code sum: the squared difference or the product of the query's
// coordinate and the code's decoded one (computed as ProjectedQuantizer::decoded does).
template <bool kSquared>
inline float code_term(float query, float base, float step, std::uint8_t level) {
    const float decoded = base + step * static_cast<float>(level);
    if constexpr (kSquared) {
        const float diff = decoded - query;
        return diff * diff;
    } else {
        return decoded * query;
    }
}

// The one summation order of every level: lane l of 16 adds the terms of directions l and
// l + 16, then lanes are added pairwise (l + 8, l + 4, l + 2, l + 1), so all give the same bits.
template <bool kSquared>
inline void code_sums_generic(const float* query, const float* base, const float* step, const std::uint8_t* const* codes,
                              size_t n, float* out) {
    for (size_t i = 0; i < n; ++i) {
        float lanes[16];
        for (int l = 0; l < 16; ++l)
            lanes[l] = code_term<kSquared>(query[l], base[l], step[l], codes[i][l]) +
                       code_term<kSquared>(query[l + 16], base[l + 16], step[l + 16], codes[i][l + 16]);
        for (int width = 8; width >= 1; width /= 2)
            for (int l = 0; l < width; ++l) lanes[l] += lanes[l + width];
        out[i] = lanes[0];
    }
}

#ifdef VECCLUST_ISA_DISPATCH
// Eight lanes' pairwise sum: (l + 4), (l + 2), (l + 1).
VECCLUST_TARGET_AVX2 inline float add_eight(__m256 eight) {
    const __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
    const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps(two, two, 1)));
}

template <bool kSquared>
VECCLUST_TARGET_AVX2 inline __m256 code_terms_avx2(__m256 query, __m256 base, __m256 step, const std::uint8_t* levels) {
    const __m256 level = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(levels))));
    const __m256 decoded = _mm256_add_ps(base, _mm256_mul_ps(step, level));
    if constexpr (kSquared) {
        const __m256 diff = _mm256_sub_ps(decoded, query);
        return _mm256_mul_ps(diff, diff);
    } else {
        return _mm256_mul_ps(decoded, query);
    }
}

template <bool kSquared>
VECCLUST_TARGET_AVX2 inline void code_sums_avx2(const float* query, const float* base, const float* step,
                                                const std::uint8_t* const* codes, size_t n, float* out) {
    __m256 q[4], b[4], s[4];  // directions 0-7, 8-15, 16-23, 24-31
    for (int part = 0; part < 4; ++part) {
        q[part] = _mm256_loadu_ps(query + 8 * part);
        b[part] = _mm256_loadu_ps(base + 8 * part);
        s[part] = _mm256_loadu_ps(step + 8 * part);
    }
    for (size_t i = 0; i < n; ++i) {
        __m256 t[4];
        for (int part = 0; part < 4; ++part) t[part] = code_terms_avx2<kSquared>(q[part], b[part], s[part], codes[i] + 8 * part);
        const __m256 low = _mm256_add_ps(t[0], t[2]), high = _mm256_add_ps(t[1], t[3]);  // lanes 0-7 and 8-15
        out[i] = add_eight(_mm256_add_ps(low, high));
    }
}

template <bool kSquared>
VECCLUST_TARGET_AVX512 inline void code_sums_avx512(const float* query, const float* base, const float* step,
                                                    const std::uint8_t* const* codes, size_t n, float* out) {
    __m512 q[2], b[2], s[2];  // directions 0-15 and 16-31
    for (int part = 0; part < 2; ++part) {
        q[part] = _mm512_loadu_ps(query + 16 * part);
        b[part] = _mm512_loadu_ps(base + 16 * part);
        s[part] = _mm512_loadu_ps(step + 16 * part);
    }
    for (size_t i = 0; i < n; ++i) {
        __m512 t[2];
        for (int part = 0; part < 2; ++part) {
            const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes[i] + 16 * part));
            const __m512 decoded = _mm512_add_ps(b[part], _mm512_mul_ps(s[part], _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes))));
            if constexpr (kSquared) {
                const __m512 diff = _mm512_sub_ps(decoded, q[part]);
                t[part] = _mm512_mul_ps(diff, diff);
            } else {
                t[part] = _mm512_mul_ps(decoded, q[part]);
            }
        }
        const __m512 lanes = _mm512_add_ps(t[0], t[1]);
        out[i] = add_eight(_mm256_add_ps(_mm512_castps512_ps256(lanes), _mm512_extractf32x8_ps(lanes, 1)));
    }
}
#endif

}  // namespace codes_detail

// out[i] = the sum over the kDims directions of (decoded - query)^2 (kSquared) or decoded * query,
// for the codes codes[i], i < n; query, base and step hold kDims floats.
template <bool kSquared>
inline void code_sums(const float* query, const float* base, const float* step, const std::uint8_t* const* codes, size_t n,
                      float* out) {
    static_assert(ProjectedQuantizer::kDims == 32, "the kernels are written for 32 directions");
    isa::dispatch([&](auto at) {
#ifdef VECCLUST_ISA_DISPATCH
        constexpr isa::Level level = decltype(at)::value;
#else
        (void)at;
#endif
#ifdef VECCLUST_ISA_DISPATCH
        if constexpr (level == isa::Level::avx512) return codes_detail::code_sums_avx512<kSquared>(query, base, step, codes, n, out);
        if constexpr (level == isa::Level::avx2) return codes_detail::code_sums_avx2<kSquared>(query, base, step, codes, n, out);
#endif
        codes_detail::code_sums_generic<kSquared>(query, base, step, codes, n, out);
    });
}

}  // namespace vecclust
