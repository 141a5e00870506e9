// Run-time choice of the instruction set for hand-vectorised kernels. Such a kernel is one
// template over its vector width, instantiated once per level inside a function carrying that
// level's target attribute, so each level works on registers of its natural width (a 64-byte
// vector in SSE code would be split and spilled). Every level runs the same IEEE operations per
// lane (no FMA: the build uses -ffp-contract=off), so all give identical bits; the tests lower
// the limit to check that on one machine.
#pragma once

#include <algorithm>  // std::min
#include <atomic>     // std::atomic

namespace vecclust::isa {

enum class Level : int { baseline = 0, avx2 = 1, avx512 = 2 };  // baseline: SSE2 on x86-64

#if defined(__GNUC__) && defined(__x86_64__)
#define VECCLUST_ISA_DISPATCH 1
#define VECCLUST_TARGET_AVX2 __attribute__((target("avx2")))
#define VECCLUST_TARGET_AVX512 __attribute__((target("avx2,avx512f,avx512vl,avx512bw,avx512dq")))
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

}  // namespace vecclust::isa
