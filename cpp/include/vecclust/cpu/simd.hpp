// The few vector primitives the hot loops need, in portable SSE2 (every x86-64 CPU has it) with
// a scalar fallback. They only compare and select, so results are bit-identical either way.
#pragma once

#include <cmath>    // std::fabs
#include <cstddef>  // size_t
#include <algorithm>  // std::max
#include <cstdint>  // std::uint32_t, std::int64_t, std::uintptr_t

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define VECCLUST_SSE2 1
#endif
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>  // _BitScanForward
#endif

namespace vecclust::simd {

// Bit t is set when a[t] < b[t], for t in [0, 16).
inline std::uint32_t less_mask16(const float* a, const float* b) {
#ifdef VECCLUST_SSE2
    std::uint32_t mask = 0;
    for (int q = 0; q < 4; ++q)
        mask |= static_cast<std::uint32_t>(_mm_movemask_ps(_mm_cmplt_ps(_mm_loadu_ps(a + 4 * q), _mm_loadu_ps(b + 4 * q))))
                << (4 * q);
    return mask;
#else
    std::uint32_t mask = 0;
    for (int t = 0; t < 16; ++t) mask |= static_cast<std::uint32_t>(a[t] < b[t]) << t;
    return mask;
#endif
}

inline std::uint32_t less_mask16(const double* a, const double* b) {
#ifdef VECCLUST_SSE2
    std::uint32_t mask = 0;
    for (int q = 0; q < 8; ++q)
        mask |= static_cast<std::uint32_t>(_mm_movemask_pd(_mm_cmplt_pd(_mm_loadu_pd(a + 2 * q), _mm_loadu_pd(b + 2 * q))))
                << (2 * q);
    return mask;
#else
    std::uint32_t mask = 0;
    for (int t = 0; t < 16; ++t) mask |= static_cast<std::uint32_t>(a[t] < b[t]) << t;
    return mask;
#endif
}

// One entry x and its mirror y: finite, >= 0, and equal within rtol * max(x, y).
template <class T>
inline bool mirrored_pair_ok(T x, T y, T rtol, T largest, T& largest_seen) {
    largest_seen = std::max(largest_seen, std::max(x, y));
    return x >= T(0) && x <= largest && y >= T(0) && y <= largest && !(std::fabs(x - y) > rtol * (x > y ? x : y));
}

template <class T, size_t kWidth>
inline bool mirrored_block_ok_scalar(const T* d, size_t n, size_t i, size_t j, T rtol, T largest, T& largest_seen) {
    bool ok = true;
    for (size_t r = 0; r < kWidth; ++r)
        for (size_t c = 0; c < kWidth; ++c) ok &= mirrored_pair_ok(d[(i + r) * n + j + c], d[(j + c) * n + i + r], rtol, largest, largest_seen);
    return ok;
}

// Checks the W x W block at (i, j) of a row-major n x n matrix against the mirrored block at
// (j, i): every entry finite, >= 0, and equal to its mirror within rtol * max(a, b). Returns
// false when any entry fails; `largest_seen` grows to the largest entry of the block (meaningful
// when the block passes: the caller needs it to choose the matrix's scale).
inline bool mirrored_block_ok(const float* d, size_t n, size_t i, size_t j, float rtol, float largest, float& largest_seen) {
#ifdef VECCLUST_SSE2
    __m128 a[4], b[4];
    for (size_t r = 0; r < 4; ++r) a[r] = _mm_loadu_ps(d + (i + r) * n + j), b[r] = _mm_loadu_ps(d + (j + r) * n + i);
    _MM_TRANSPOSE4_PS(b[0], b[1], b[2], b[3]);
    const __m128 zero = _mm_setzero_ps(), big = _mm_set1_ps(largest), tol = _mm_set1_ps(rtol);
    const __m128 sign = _mm_set1_ps(-0.0f);
    __m128 ok = _mm_castsi128_ps(_mm_set1_epi32(-1)), seen = zero;
    for (int r = 0; r < 4; ++r) {
        const __m128 x = a[r], y = b[r];
        const __m128 diff = _mm_andnot_ps(sign, _mm_sub_ps(x, y));
        ok = _mm_and_ps(ok, _mm_and_ps(_mm_and_ps(_mm_cmpge_ps(x, zero), _mm_cmple_ps(x, big)),
                                       _mm_and_ps(_mm_cmpge_ps(y, zero), _mm_cmple_ps(y, big))));
        ok = _mm_and_ps(ok, _mm_cmple_ps(diff, _mm_mul_ps(tol, _mm_max_ps(x, y))));
        seen = _mm_max_ps(seen, _mm_max_ps(x, y));
    }
    alignas(16) float lanes[4];
    _mm_store_ps(lanes, seen);
    largest_seen = std::max({largest_seen, lanes[0], lanes[1], lanes[2], lanes[3]});
    return _mm_movemask_ps(ok) == 0xF;
#else
    return mirrored_block_ok_scalar<float, 4>(d, n, i, j, rtol, largest, largest_seen);
#endif
}

inline bool mirrored_block_ok(const double* d, size_t n, size_t i, size_t j, double rtol, double largest, double& largest_seen) {
#ifdef VECCLUST_SSE2
    const __m128d a0 = _mm_loadu_pd(d + i * n + j), a1 = _mm_loadu_pd(d + (i + 1) * n + j);
    const __m128d b0 = _mm_loadu_pd(d + j * n + i), b1 = _mm_loadu_pd(d + (j + 1) * n + i);
    const __m128d t0 = _mm_unpacklo_pd(b0, b1), t1 = _mm_unpackhi_pd(b0, b1);  // rows of the mirror's transpose
    const __m128d zero = _mm_setzero_pd(), big = _mm_set1_pd(largest), tol = _mm_set1_pd(rtol), sign = _mm_set1_pd(-0.0);
    __m128d ok = _mm_castsi128_pd(_mm_set1_epi32(-1)), seen = zero;
    const __m128d xs[2] = {a0, a1}, ys[2] = {t0, t1};
    for (int r = 0; r < 2; ++r) {
        const __m128d x = xs[r], y = ys[r];
        const __m128d diff = _mm_andnot_pd(sign, _mm_sub_pd(x, y));
        ok = _mm_and_pd(ok, _mm_and_pd(_mm_and_pd(_mm_cmpge_pd(x, zero), _mm_cmple_pd(x, big)),
                                       _mm_and_pd(_mm_cmpge_pd(y, zero), _mm_cmple_pd(y, big))));
        ok = _mm_and_pd(ok, _mm_cmple_pd(diff, _mm_mul_pd(tol, _mm_max_pd(x, y))));
        seen = _mm_max_pd(seen, _mm_max_pd(x, y));
    }
    alignas(16) double lanes[2];
    _mm_store_pd(lanes, seen);
    largest_seen = std::max({largest_seen, lanes[0], lanes[1]});
    return _mm_movemask_pd(ok) == 0x3;
#else
    return mirrored_block_ok_scalar<double, 2>(d, n, i, j, rtol, largest, largest_seen);
#endif
}

// Writes the W x W block at (row, col) of `src` (row stride src_stride), transposed, to `dst`
// (row stride dst_stride), with streaming stores when aligned. Call store_fence() after.
inline void copy_transposed_block_to(const float* src, size_t src_stride, size_t row, size_t col, float* dst, size_t dst_stride) {
#ifdef VECCLUST_SSE2
    const float* s = src + row * src_stride + col;
    __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + src_stride);
    __m128 r2 = _mm_loadu_ps(s + 2 * src_stride), r3 = _mm_loadu_ps(s + 3 * src_stride);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    if ((reinterpret_cast<std::uintptr_t>(dst) | (dst_stride * sizeof(float))) % 16 == 0) {
        _mm_stream_ps(dst, r0);
        _mm_stream_ps(dst + dst_stride, r1);
        _mm_stream_ps(dst + 2 * dst_stride, r2);
        _mm_stream_ps(dst + 3 * dst_stride, r3);
        return;
    }
    _mm_storeu_ps(dst, r0);
    _mm_storeu_ps(dst + dst_stride, r1);
    _mm_storeu_ps(dst + 2 * dst_stride, r2);
    _mm_storeu_ps(dst + 3 * dst_stride, r3);
#else
    for (size_t a = 0; a < 4; ++a)
        for (size_t b = 0; b < 4; ++b) dst[b * dst_stride + a] = src[(row + a) * src_stride + col + b];
#endif
}

inline void copy_transposed_block_to(const double* src, size_t src_stride, size_t row, size_t col, double* dst, size_t dst_stride) {
#ifdef VECCLUST_SSE2
    const double* s = src + row * src_stride + col;
    const __m128d r0 = _mm_loadu_pd(s), r1 = _mm_loadu_pd(s + src_stride);
    if ((reinterpret_cast<std::uintptr_t>(dst) | (dst_stride * sizeof(double))) % 16 == 0) {
        _mm_stream_pd(dst, _mm_unpacklo_pd(r0, r1));
        _mm_stream_pd(dst + dst_stride, _mm_unpackhi_pd(r0, r1));
        return;
    }
    _mm_storeu_pd(dst, _mm_unpacklo_pd(r0, r1));
    _mm_storeu_pd(dst + dst_stride, _mm_unpackhi_pd(r0, r1));
#else
    for (size_t a = 0; a < 2; ++a)
        for (size_t b = 0; b < 2; ++b) dst[b * dst_stride + a] = src[(row + a) * src_stride + col + b];
#endif
}

// Copies `count` values with streaming stores where the destination is aligned.
template <class T>
inline void stream_copy(const T* src, T* dst, std::int64_t count) {
    std::int64_t i = 0;  // not long: 32 bits on Windows
#ifdef VECCLUST_SSE2
    if (reinterpret_cast<std::uintptr_t>(dst) % 16 == 0) {
        if constexpr (sizeof(T) == 4) {
            for (; i + 4 <= count; i += 4) _mm_stream_ps(reinterpret_cast<float*>(dst + i), _mm_loadu_ps(reinterpret_cast<const float*>(src + i)));
        } else {
            for (; i + 2 <= count; i += 2) _mm_stream_pd(reinterpret_cast<double*>(dst + i), _mm_loadu_pd(reinterpret_cast<const double*>(src + i)));
        }
    }
#endif
    for (; i < count; ++i) dst[i] = src[i];
}

// Orders streaming stores before whatever the thread does next.
inline void store_fence() {
#ifdef VECCLUST_SSE2
    _mm_sfence();
#endif
}

template <class T>
constexpr size_t mirrored_block_width() {
    return sizeof(T) == 4 ? 4 : 2;
}

// The index of the lowest set bit of a non-zero mask.
inline int lowest_bit(std::uint32_t mask) {
#if defined(__GNUC__)
    return __builtin_ctz(mask);
#elif defined(_MSC_VER)
    unsigned long index;
    _BitScanForward(&index, mask);
    return static_cast<int>(index);
#else
    int index = 0;
    while (!(mask & 1u)) mask >>= 1, ++index;
    return index;
#endif
}

}  // namespace vecclust::simd
