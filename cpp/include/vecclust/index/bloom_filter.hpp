// A Bloom filter over internal tenant ids, one per node of the multi-tenant index's tree: "may
// this tenant have vectors at or below this node?". No false negatives; false positives only
// cost a wasted node visit. Sizes are powers of two so a probe masks instead of dividing, and a
// tenant's two base hashes are computed once per query and reused at every node.
#pragma once

#include <algorithm>  // std::max
#include <cmath>      // std::ceil, std::log, std::log2
#include <cstdint>    // std::uint32_t, std::uint64_t
#include <vector>     // std::vector

#include "vecclust/base/random.hpp"  // splitmix64

namespace vecclust {

// The double-hashing pair of one tenant: probe i is bit (h1 + i * h2) mod m.
struct TenantHash {
    std::uint64_t h1, h2;
    explicit TenantHash(std::uint32_t tenant) {
        std::uint64_t state = tenant;
        h1 = splitmix64(state);
        h2 = splitmix64(state) | 1;  // odd: visits every bit of a power-of-two table
    }
};

class BloomFilter {
  public:
    // Probes per member for a target false-positive rate: ceil(log2(1 / fpr)).
    static int probes_for(double fpr) { return std::max(1, static_cast<int>(std::ceil(-std::log2(fpr)))); }

    // Empties the filter and sizes it for `capacity` members at `n_probes` probes each: the
    // optimal n_probes / ln 2 bits per member, rounded up to a power of two.
    void reset(std::uint32_t capacity, int n_probes) {
        capacity_ = capacity;
        count_ = 0;
        n_probes_ = static_cast<std::uint8_t>(n_probes);
        words_.clear();
        if (capacity == 0) {
            words_.shrink_to_fit();
            return;
        }
        const double bits = std::ceil(static_cast<double>(capacity) * n_probes / std::log(2.0));
        std::uint64_t n_bits = 64;
        while (static_cast<double>(n_bits) < bits) n_bits *= 2;
        words_.assign(static_cast<size_t>(n_bits / 64), 0);
        words_.shrink_to_fit();
    }

    bool contains(const TenantHash& h) const {
        if (words_.empty()) return false;
        const std::uint64_t mask = (static_cast<std::uint64_t>(words_.size()) << 6) - 1;
        std::uint64_t position = h.h1;
        for (int i = 0; i < n_probes_; ++i, position += h.h2) {
            const std::uint64_t bit = position & mask;
            if (!((words_[bit >> 6] >> (bit & 63)) & 1)) return false;
        }
        return true;
    }

    // Callers grow the filter (reset + re-insert) before it exceeds its capacity.
    void insert(const TenantHash& h) {
        const std::uint64_t mask = (static_cast<std::uint64_t>(words_.size()) << 6) - 1;
        std::uint64_t position = h.h1;
        for (int i = 0; i < n_probes_; ++i, position += h.h2) {
            const std::uint64_t bit = position & mask;
            words_[bit >> 6] |= std::uint64_t(1) << (bit & 63);
        }
        ++count_;
    }

    bool full() const { return count_ >= capacity_; }
    std::uint32_t capacity() const { return capacity_; }
    std::uint32_t count() const { return count_; }
    int n_probes() const { return n_probes_; }
    const std::vector<std::uint64_t>& words() const { return words_; }
    size_t memory_bytes() const { return sizeof(*this) + words_.capacity() * sizeof(std::uint64_t); }

    // For the deserialiser, which has checked that `words` has a power-of-two size (or is empty).
    void restore(std::uint32_t capacity, std::uint32_t count, int n_probes, std::vector<std::uint64_t> words) {
        capacity_ = capacity;
        count_ = count;
        n_probes_ = static_cast<std::uint8_t>(n_probes);
        words_ = std::move(words);
    }

  private:
    std::vector<std::uint64_t> words_;
    std::uint32_t capacity_ = 0;  // members it was sized for
    std::uint32_t count_ = 0;     // members inserted since the last reset
    std::uint8_t n_probes_ = 0;
};

}  // namespace vecclust
