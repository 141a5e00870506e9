// The one run-time choice of instruction set for every vectorised kernel. A kernel is written
// once, as generic code (a plain loop the compiler vectorises, or a template over its vector
// width), and called through isa::dispatch, which runs it inside a function carrying the
// chosen level's target attribute with everything inlined, so each level gets code of its
// natural width. Every level runs the same IEEE operations per lane (no FMA: the build uses
// -ffp-contract=off, and no reduction is reassociated), so all give identical bits; the tests
// lower the limit (set_isa_limit) to check that on one machine, for every kernel at once.
#pragma once

#include <algorithm>    // std::min
#include <atomic>       // std::atomic
#include <type_traits>  // std::integral_constant

namespace vecclust::isa {

enum class Level : int { baseline = 0, avx2 = 1, avx512 = 2 };  // baseline: SSE2 on x86-64, NEON on aarch64

// VECCLUST_PORTABLE builds what a compiler without GCC's extensions gets (MSVC, say): no
// run-time dispatch, no vector types, no builtins; the tests use it to check those fallbacks.
#if defined(__GNUC__) && !defined(VECCLUST_PORTABLE)
#define VECCLUST_VECTOR_EXTENSIONS 1  // GCC vector types (any architecture)
#endif

// Run-time dispatch needs GCC's target attributes and CPU detection, and x86-64; elsewhere
// (aarch64, MSVC) every kernel runs its baseline build.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(VECCLUST_PORTABLE)
#define VECCLUST_ISA_DISPATCH 1
#define VECCLUST_TARGET_AVX2 __attribute__((target("avx2,popcnt")))  // every AVX2 CPU has POPCNT
#define VECCLUST_TARGET_AVX512 __attribute__((target("avx2,popcnt,avx512f,avx512vl,avx512bw,avx512dq")))
#endif

inline Level detected() {
#ifdef VECCLUST_ISA_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq"))
        return Level::avx512;
    if (__builtin_cpu_supports("avx2")) return Level::avx2;
#endif
    return Level::baseline;
}

// The highest level the kernels may use (tests lower it).
inline std::atomic<int>& limit() {
    static std::atomic<int> value{static_cast<int>(Level::avx512)};
    return value;
}

inline Level current() {
    static const Level best = detected();
    return static_cast<Level>(std::min(static_cast<int>(best), limit().load(std::memory_order_relaxed)));
}

template <Level L>
using At = std::integral_constant<Level, L>;

// The widest float vector, in bytes, a kernel written over its width should use at level L.
template <Level L>
constexpr int vector_bytes(At<L>) {
    return L == Level::avx512 ? 64 : L == Level::avx2 ? 32 : 16;
}

#if defined(__GNUC__) && !defined(VECCLUST_PORTABLE)
#define VECCLUST_FLATTEN __attribute__((flatten))
#define VECCLUST_ALWAYS_INLINE inline __attribute__((always_inline))
#define VECCLUST_PREFETCH(address) __builtin_prefetch(address)
#else
#define VECCLUST_FLATTEN
#define VECCLUST_ALWAYS_INLINE inline
#if defined(_M_X64) && !defined(VECCLUST_PORTABLE)
#include <xmmintrin.h>  // _mm_prefetch
#define VECCLUST_PREFETCH(address) _mm_prefetch(reinterpret_cast<const char*>(address), _MM_HINT_T0)
#else
#define VECCLUST_PREFETCH(address) ((void)(address))
#endif
#endif

// Keep kernels passed to dispatch small (loops over arrays): flatten inlines every call in them.
namespace detail {
#ifdef VECCLUST_ISA_DISPATCH
template <class F>
VECCLUST_TARGET_AVX512 VECCLUST_FLATTEN void run_avx512(F& f) {
    f(At<Level::avx512>{});
}
template <class F>
VECCLUST_TARGET_AVX2 VECCLUST_FLATTEN void run_avx2(F& f) {
    f(At<Level::avx2>{});
}
#endif
template <class F>
VECCLUST_FLATTEN void run_baseline(F& f) {
    f(At<Level::baseline>{});
}
}  // namespace detail

// Calls kernel(At<level>{}) compiled for the best level the CPU and the limit allow, at most
// kMax (plain loops gain little from AVX-512 and would only cost build time). The kernel is a
// generic lambda; it and everything it calls are inlined into the per-level function.
template <Level kMax = Level::avx512, class F>
void dispatch(F&& kernel) {
#ifdef VECCLUST_ISA_DISPATCH
    const Level level = std::min(current(), kMax);
    if constexpr (kMax >= Level::avx512)
        if (level == Level::avx512) return detail::run_avx512(kernel);
    if constexpr (kMax >= Level::avx2)
        if (level >= Level::avx2) return detail::run_avx2(kernel);
#endif
    detail::run_baseline(kernel);
}

}  // namespace vecclust::isa
