// The multi-tenant index's one summation order for a query against a stored row (squared
// differences or products): lane l adds the terms of dimensions j = l (mod 16) in order, a
// final half block of 8 dimensions goes to lanes 0-7, then a fixed pairwise reduction (lane l
// plus lane l + 8, then l + 4, l + 2, l + 1). Rows are padded with zeros to a multiple of 8
// floats, so no other tail exists.
//
// Written with GCC vector types (arrays elsewhere) and run through isa::dispatch, so the
// baseline, AVX2 and AVX-512 code runs the same IEEE operations per lane (no FMA contraction)
// and gives the same bits. Each lane is a
// chain of dependent additions, so rows are summed four at a time to overlap the chains.
#pragma once

#include <cstdint>  // std::uint16_t, std::uint32_t
#include <cstring>  // std::memcpy

#include "vecclust/base/common.hpp"
#include "vecclust/cpu/isa.hpp"

namespace vecclust::lane_sums {

#ifdef VECCLUST_VECTOR_EXTENSIONS
using Lanes = float __attribute__((vector_size(64)));  // 16 floats
using HalfLanes = float __attribute__((vector_size(32)));
#else
// Without vector types: arrays with the lane-wise operations the kernels use, in the same order.
template <int W>
struct Floats {
    float v[W];
    friend Floats operator+(const Floats& a, const Floats& b) {
        Floats out;
        for (int l = 0; l < W; ++l) out.v[l] = a.v[l] + b.v[l];
        return out;
    }
    friend Floats operator-(const Floats& a, const Floats& b) {
        Floats out;
        for (int l = 0; l < W; ++l) out.v[l] = a.v[l] - b.v[l];
        return out;
    }
    friend Floats operator*(const Floats& a, const Floats& b) {
        Floats out;
        for (int l = 0; l < W; ++l) out.v[l] = a.v[l] * b.v[l];
        return out;
    }
    Floats& operator+=(const Floats& b) { return *this = *this + b; }
};
using Lanes = Floats<16>;
using HalfLanes = Floats<8>;
#endif

// Vectors only ever pass by reference, so no function has a vector ABI that differs between
// the levels (nothing here is left out of line anyway).
#define VECCLUST_LANES_INLINE VECCLUST_ALWAYS_INLINE

// The steps of metric_ops::SquaredDiff and Dot, on vectors of lanes.
struct SquaredDiff {
    template <class V>
    static VECCLUST_LANES_INLINE void step(V& acc, const V& x, const V& q) {
        const V diff = x - q;
        acc += diff * diff;
    }
};
struct Dot {
    template <class V>
    static VECCLUST_LANES_INLINE void step(V& acc, const V& x, const V& q) { acc += x * q; }
};

// A float from its high and low 16 bits: the high half alone is the float with its 16 low
// mantissa bits cleared (a bfloat16 truncation: never larger in magnitude, within 2^-7 of it).
inline float from_halves(std::uint16_t high, std::uint16_t low) {
    const std::uint32_t bits = (static_cast<std::uint32_t>(high) << 16) | low;
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
}

// v = the floats with the 16 (or 8) high halves at `high` and zero low halves; or_low() then
// puts in their low halves. V is Lanes or HalfLanes.
#ifdef VECCLUST_VECTOR_EXTENSIONS
template <class V>
struct SplitVectors {  // the 16-bit halves and the 32-bit patterns of V's floats
    typedef std::uint16_t Halves __attribute__((vector_size(sizeof(V) / 2)));
    typedef std::uint32_t Bits __attribute__((vector_size(sizeof(V))));
};

template <class V>
VECCLUST_LANES_INLINE void load_high(const std::uint16_t* high, V& v) {
    using Split = SplitVectors<V>;
    typename Split::Halves h;
    std::memcpy(&h, high, sizeof h);
    v = reinterpret_cast<V>(__builtin_convertvector(h, typename Split::Bits) << 16);
}
template <class V>
VECCLUST_LANES_INLINE void or_low(const std::uint16_t* low, V& v) {
    using Split = SplitVectors<V>;
    typename Split::Halves h;
    std::memcpy(&h, low, sizeof h);
    v = reinterpret_cast<V>(reinterpret_cast<typename Split::Bits>(v) | __builtin_convertvector(h, typename Split::Bits));
}

// The halves of 16 lanes, and the pairwise sum of 8: (l + 4), (l + 2), (l + 1).
VECCLUST_LANES_INLINE void split(const Lanes& v, HalfLanes& low, HalfLanes& high) {
    low = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
    high = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
}
VECCLUST_LANES_INLINE float pairwise_sum(const HalfLanes& eight) {
    const auto four = __builtin_shufflevector(eight, eight, 0, 1, 2, 3) + __builtin_shufflevector(eight, eight, 4, 5, 6, 7);
    const auto two = __builtin_shufflevector(four, four, 0, 1) + __builtin_shufflevector(four, four, 2, 3);
    return two[0] + two[1];
}
#else
template <int W>
VECCLUST_LANES_INLINE void load_high(const std::uint16_t* high, Floats<W>& v) {
    for (int l = 0; l < W; ++l) v.v[l] = from_halves(high[l], 0);
}
template <int W>
VECCLUST_LANES_INLINE void or_low(const std::uint16_t* low, Floats<W>& v) {
    for (int l = 0; l < W; ++l) {
        std::uint32_t bits;
        std::memcpy(&bits, &v.v[l], sizeof bits);
        bits |= low[l];
        std::memcpy(&v.v[l], &bits, sizeof bits);
    }
}
VECCLUST_LANES_INLINE void split(const Lanes& v, HalfLanes& low, HalfLanes& high) {
    for (int l = 0; l < 8; ++l) low.v[l] = v.v[l], high.v[l] = v.v[l + 8];
}
VECCLUST_LANES_INLINE float pairwise_sum(const HalfLanes& eight) {
    float lanes[8];
    for (int l = 0; l < 8; ++l) lanes[l] = eight.v[l];
    for (int width = 4; width >= 1; width /= 2)
        for (int l = 0; l < width; ++l) lanes[l] += lanes[l + width];
    return lanes[0];
}
#endif

// The row formats: values(j, v) loads the row's values from dimension j on into v.
struct FloatRow {
    const float* row;
    template <class V>
    VECCLUST_LANES_INLINE void values(index_t j, V& v) const { std::memcpy(&v, row + j, sizeof v); }
};
struct HighRow {  // the high halves only (see from_halves)
    const std::uint16_t* high;
    template <class V>
    VECCLUST_LANES_INLINE void values(index_t j, V& v) const { load_high(high + j, v); }
};
struct SplitRow {  // the exact floats: high halves, then the low halves `stride` values later
    const std::uint16_t* high;
    index_t stride;
    template <class V>
    VECCLUST_LANES_INLINE void values(index_t j, V& v) const {
        load_high(high + j, v);
        or_low(high + stride + j, v);
    }
};

// out[r] = the lane sum of query and rows[r], r < R.
template <class Op, int R, class Row>
VECCLUST_LANES_INLINE void sum_rows(const float* query, const Row* rows, index_t stride, float* out) {
    Lanes acc[R] = {};
    index_t j = 0;
    for (; j + 16 <= stride; j += 16) {
        Lanes q, x;
        std::memcpy(&q, query + j, sizeof q);
        for (int r = 0; r < R; ++r) {
            rows[r].values(j, x);
            Op::step(acc[r], q, x);
        }
    }
    for (int r = 0; r < R; ++r) {
        HalfLanes low, high;
        split(acc[r], low, high);
        if (j < stride) {
            HalfLanes q, x;
            std::memcpy(&q, query + j, sizeof q);
            rows[r].values(j, x);
            Op::step(low, q, x);
        }
        out[r] = pairwise_sum(low + high);
    }
}

// out[i] = the lane sum of query and rows[i], for n rows.
template <class Op, class Row>
inline void sums(const float* query, const Row* rows, index_t n, index_t stride, float* out) {
    isa::dispatch([&](auto) {
        index_t i = 0;
        for (; i + 4 <= n; i += 4) sum_rows<Op, 4>(query, rows + i, stride, out + i);
        for (; i < n; ++i) sum_rows<Op, 1>(query, rows + i, stride, out + i);
    });
}

#undef VECCLUST_LANES_INLINE

}  // namespace vecclust::lane_sums
