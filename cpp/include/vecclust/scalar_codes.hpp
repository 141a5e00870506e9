// 4-bit per-dimension scalar codes, the first pass of the multi-tenant index's scan.
//
// Each dimension j has a grid base_j + c * step_j, c = 0..15, fitted on the training data
// (spanning its 0.1% to 99.9% quantiles: the rare values outside are clipped, which only
// loosens their vector's bound). A vector's code is its nearest grid point per dimension, 32
// bytes per 64 dimensions: byte i of a group holds dimension i in its low nibble and i + 32 in
// its high one. The index stores, with each code, how far the decoded vector may be from the
// exact one, so a scan can skip vectors by a provable bound after reading only the code.
#pragma once

#include <algorithm>  // std::nth_element, std::clamp
#include <cmath>      // std::floor, std::isfinite
#include <cstdint>    // std::uint8_t
#include <cstring>    // std::memset
#include <vector>     // std::vector

#include "vecclust/common.hpp"
#include "vecclust/isa.hpp"

#ifdef VECCLUST_ISA_DISPATCH
#include <immintrin.h>
#endif

namespace vecclust {

class NibbleQuantizer {
  public:
    static constexpr int kLevels = 16;
    static constexpr index_t kGroupDims = 64;  // 32 code bytes
    static constexpr double kClipQuantile = 0.001;

    // Bytes of one padded row's code.
    static size_t code_bytes(index_t stride) { return static_cast<size_t>((stride + kGroupDims - 1) / kGroupDims) * (kGroupDims / 2); }

    // Per-dimension grids from n rows of dim floats (the padding dimensions get base = step = 0).
    void fit(const float* x, index_t n, index_t dim, index_t stride) {
        base_.assign(static_cast<size_t>(stride), 0.0f);
        step_.assign(static_cast<size_t>(stride), 0.0f);
        std::vector<float> column(static_cast<size_t>(n));
        const auto low_rank = static_cast<size_t>(std::floor(kClipQuantile * static_cast<double>(n - 1)));
        const auto high_rank = static_cast<size_t>(n - 1) - low_rank;
        for (index_t j = 0; j < dim; ++j) {
            for (index_t i = 0; i < n; ++i) column[static_cast<size_t>(i)] = x[i * dim + j];
            std::nth_element(column.begin(), column.begin() + static_cast<std::ptrdiff_t>(low_rank), column.end());
            const float low = column[low_rank];
            std::nth_element(column.begin(), column.begin() + static_cast<std::ptrdiff_t>(high_rank), column.end());
            const float high = column[high_rank];
            const float step = static_cast<float>((static_cast<double>(high) - low) / kLevels);
            step_[static_cast<size_t>(j)] = std::isfinite(step) && step > 0.0f ? step : 0.0f;
            base_[static_cast<size_t>(j)] = static_cast<float>(low + 0.5 * static_cast<double>(step_[static_cast<size_t>(j)]));
        }
    }

    // Grids read from a file; false when they are not finite grids of `stride` dimensions.
    bool restore(std::vector<float> base, std::vector<float> step, index_t stride) {
        if (base.size() != static_cast<size_t>(stride) || step.size() != base.size()) return false;
        for (size_t j = 0; j < base.size(); ++j)
            if (!std::isfinite(base[j]) || !std::isfinite(step[j]) || step[j] < 0.0f) return false;
        base_ = std::move(base);
        step_ = std::move(step);
        return true;
    }

    const std::vector<float>& base() const { return base_; }
    const std::vector<float>& step() const { return step_; }

    // The code of a padded row.
    void encode(const float* row, index_t stride, std::uint8_t* code) const {
        std::memset(code, 0, code_bytes(stride));
        for (index_t j = 0; j < stride; ++j) {
            const double step = step_[static_cast<size_t>(j)];
            const double level = step > 0.0 ? std::floor((row[j] - static_cast<double>(base_[static_cast<size_t>(j)])) / step + 0.5) : 0.0;
            const auto c = static_cast<std::uint8_t>(std::clamp(level, 0.0, static_cast<double>(kLevels - 1)));
            code[byte_of(j)] |= static_cast<std::uint8_t>(c << shift_of(j));
        }
    }

    static int level(const std::uint8_t* code, index_t j) { return (code[byte_of(j)] >> shift_of(j)) & 0xf; }

    // The decoded value of dimension j, in double (exact: a float times a 4-bit integer, plus a float).
    double decoded(const std::uint8_t* code, index_t j) const {
        return static_cast<double>(base_[static_cast<size_t>(j)]) + level(code, j) * static_cast<double>(step_[static_cast<size_t>(j)]);
    }

  private:
    static size_t byte_of(index_t j) { return static_cast<size_t>(j / kGroupDims * (kGroupDims / 2) + j % (kGroupDims / 2)); }
    static int shift_of(index_t j) { return j % kGroupDims < kGroupDims / 2 ? 0 : 4; }

    std::vector<float> base_, step_;
};

namespace codes_detail {

// sum_j weights[j] * level_j in exact integer arithmetic (|weights| <= 2^15, levels <= 15 and
// at most 2^20 dimensions keep every partial sum within int64), so every kernel agrees.
inline std::int64_t weighted_levels_generic(const std::int16_t* weights, const std::uint8_t* code, index_t stride) {
    std::int64_t sum = 0;
    for (index_t j = 0; j < stride; ++j) sum += weights[j] * NibbleQuantizer::level(code, j);
    return sum;
}

inline void weighted_levels_generic(const std::int16_t* weights, const std::uint8_t* const* codes, size_t n, index_t stride,
                                    std::int64_t* out) {
    for (size_t i = 0; i < n; ++i) out[i] = weighted_levels_generic(weights, codes[i], stride);
}

#ifdef VECCLUST_ISA_DISPATCH
// 32-bit lanes suffice here: up to 4096 dimensions, the absolute products sum to less than
// 4096 * 2^15 * 15 < 2^31, and so does every partial sum.
VECCLUST_TARGET_AVX512 inline void weighted_levels_avx512(const std::int16_t* weights,
                                                                                  const std::uint8_t* const* codes, size_t n,
                                                                                  index_t stride, std::int64_t* out) {
    if (stride > 4096) return weighted_levels_generic(weights, codes, n, stride, out);
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    for (size_t i = 0; i < n; ++i) {
        __m512i acc = _mm512_setzero_si512();
        for (index_t group = 0; group * NibbleQuantizer::kGroupDims < stride; ++group) {
            const index_t first = group * NibbleQuantizer::kGroupDims;
            const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes[i] + first / 2));
            const __m256i halves[2] = {_mm256_and_si256(bytes, nibble), _mm256_and_si256(_mm256_srli_epi16(bytes, 4), nibble)};
            for (int h = 0; h < 2 && first + 32 * h < stride; ++h) {
                const index_t j = first + 32 * h;  // 32 dimensions, the last block possibly padded
                const __mmask32 valid = j + 32 <= stride ? ~__mmask32(0) : (__mmask32(1) << (stride - j)) - 1;
                const __m512i w = _mm512_maskz_loadu_epi16(valid, weights + j);
                acc = _mm512_add_epi32(acc, _mm512_madd_epi16(w, _mm512_cvtepu8_epi16(halves[h])));
            }
        }
        using Ints = std::int32_t __attribute__((vector_size(64)));
        const auto lanes = reinterpret_cast<Ints>(acc);
        const auto eight = __builtin_shufflevector(lanes, lanes, 0, 1, 2, 3, 4, 5, 6, 7) +
                           __builtin_shufflevector(lanes, lanes, 8, 9, 10, 11, 12, 13, 14, 15);
        const auto four = __builtin_shufflevector(eight, eight, 0, 1, 2, 3) + __builtin_shufflevector(eight, eight, 4, 5, 6, 7);
        out[i] = four[0] + four[1] + four[2] + four[3];
    }
}

VECCLUST_TARGET_AVX2 inline void weighted_levels_avx2(const std::int16_t* weights, const std::uint8_t* const* codes,
                                                                size_t n, index_t stride, std::int64_t* out) {
    if (stride > 4096) return weighted_levels_generic(weights, codes, n, stride, out);
    const __m128i nibble = _mm_set1_epi8(0x0f);
    for (size_t i = 0; i < n; ++i) {
        __m256i acc = _mm256_setzero_si256();
        for (index_t j = 0; j < stride; j += 16) {  // the stride is a multiple of 8: j + 8 <= stride
            const index_t group_first = j / NibbleQuantizer::kGroupDims * NibbleQuantizer::kGroupDims;
            const index_t in_group = j - group_first;  // 0, 16, 32 or 48
            const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes[i] + group_first / 2 + in_group % 32));
            const __m128i levels = in_group < 32 ? _mm_and_si128(bytes, nibble) : _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble);
            __m256i w;
            if (j + 16 <= stride) {
                w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(weights + j));
            } else {
                w = _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(weights + j)));
                w = _mm256_inserti128_si256(w, _mm_setzero_si128(), 1);
            }
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(w, _mm256_cvtepu8_epi16(levels)));
        }
        const __m128i quad = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        const __m128i pair = _mm_add_epi32(quad, _mm_unpackhi_epi64(quad, quad));
        out[i] = _mm_cvtsi128_si32(_mm_add_epi32(pair, _mm_shuffle_epi32(pair, 1)));
    }
}
#endif

}  // namespace codes_detail

// out[i] = sum_j weights[j] * level_j over the padded-row code codes[i], for n codes (weights:
// stride int16), exactly, with the fastest kernel this CPU runs.
inline void weighted_levels(const std::int16_t* weights, const std::uint8_t* const* codes, size_t n, index_t stride,
                            std::int64_t* out) {
#ifdef VECCLUST_ISA_DISPATCH
    const isa::Level level = isa::current();
    if (level == isa::Level::avx512) return codes_detail::weighted_levels_avx512(weights, codes, n, stride, out);
    if (level == isa::Level::avx2) return codes_detail::weighted_levels_avx2(weights, codes, n, stride, out);
#endif
    codes_detail::weighted_levels_generic(weights, codes, n, stride, out);
}

}  // namespace vecclust
