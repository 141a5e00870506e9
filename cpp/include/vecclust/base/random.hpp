// A small seeded random generator (xoshiro256**) and sampling helpers. Every random choice
// in the core goes through it, with the seed passed in from Python, so a fixed random_state
// gives the same result on every platform and for every thread count.
#pragma once

#include <cstdint>        // std::uint64_t
#include <unordered_map>  // std::unordered_map
#include <vector>         // std::vector

#include "vecclust/base/common.hpp"

namespace vecclust {

inline std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

class Rng {
  public:
    explicit Rng(std::uint64_t seed) {
        for (auto& word : s_) word = splitmix64(seed);
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform integer in [0, bound), without modulo bias (Lemire's method).
    index_t below(index_t bound) {
        const auto range = static_cast<std::uint64_t>(bound);
        std::uint64_t high, low;
        multiply(next(), range, high, low);
        if (low < range) {
            const std::uint64_t threshold = (0 - range) % range;
            while (low < threshold) multiply(next(), range, high, low);
        }
        return static_cast<index_t>(high);
    }

    // Uniform double in [0, 1).
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

    // A derived seed, for handing independent streams to restarts.
    std::uint64_t fork() { return next(); }

  private:
    // The 128-bit product a * b as its high and low 64 bits (MSVC has no 128-bit integer).
    static void multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& high, std::uint64_t& low) {
#if defined(__SIZEOF_INT128__) && !defined(VECCLUST_PORTABLE)
        const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
        high = static_cast<std::uint64_t>(product >> 64);
        low = static_cast<std::uint64_t>(product);
#else
        const std::uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
        const std::uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
        const std::uint64_t middle = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);  // < 3 * 2^32
        high = p11 + (p01 >> 32) + (p10 >> 32) + (middle >> 32);
        low = (middle << 32) | (p00 & 0xffffffffu);
#endif
    }
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
};

// The successive elements of a random permutation of [0, n), drawn one at a time: a partial
// Fisher-Yates shuffle over a virtual identity array, so memory is O(drawn) however large n is.
class LazyShuffle {
  public:
    LazyShuffle(index_t n, Rng& rng) : n_(n), rng_(rng) {}

    index_t next() {
        const index_t j = drawn_ + rng_.below(n_ - drawn_);
        const index_t value = value_at(j);
        moved_[j] = value_at(drawn_);
        ++drawn_;
        return value;
    }

  private:
    index_t value_at(index_t i) const {
        auto it = moved_.find(i);
        return it == moved_.end() ? i : it->second;
    }

    index_t n_, drawn_ = 0;
    Rng& rng_;
    std::unordered_map<index_t, index_t> moved_;
};

// `count` distinct indices from [0, n), in random order.
inline std::vector<index_t> sample_without_replacement(index_t n, index_t count, Rng& rng) {
    LazyShuffle shuffle(n, rng);
    std::vector<index_t> out(static_cast<size_t>(count));
    for (auto& value : out) value = shuffle.next();
    return out;
}

}  // namespace vecclust
