// A Bloom filter over internal tenant ids, one per node of the multi-tenant index's tree: "may
// this tenant have vectors at or below this node?". No false negatives; false positives only
// cost a wasted node visit. Sizes are powers of two so a probe masks instead of dividing, and a
// tenant's two base hashes are computed once per query and reused at every node.
#pragma once

#include <algorithm>  // std::max
#include <cmath>      // std::ceil, std::log, std::log2
#include <cstdint>    // std::uint32_t, std::uint64_t
#include <string>     // std::string, std::to_string
#include <utility>    // std::move
#include <vector>     // std::vector

#include "vecclust/base/random.hpp"       // splitmix64
#include "vecclust/index/index_io.hpp"    // CorruptIndex

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
        words_.assign(static_cast<size_t>(words_for(capacity, n_probes)), 0);
        words_.shrink_to_fit();
    }

    // The 64-bit words of a filter sized for `capacity` members at `n_probes` probes each.
    static std::uint64_t words_for(std::uint32_t capacity, int n_probes) {
        if (capacity == 0) return 0;
        const double bits = std::ceil(static_cast<double>(capacity) * n_probes / std::log(2.0));
        std::uint64_t n_bits = 64;
        while (static_cast<double>(n_bits) < bits) n_bits *= 2;
        return n_bits / 64;
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

    // For the deserialiser: the fields as read from a file, which must be what reset() and
    // insert() can produce in an index whose filters probe `index_probes` times and hold at most
    // `max_capacity` members (a filter whose bit count disagrees with its capacity would make
    // insert() write out of bounds). Throws CorruptIndex naming the field.
    void restore(std::uint32_t capacity, std::uint32_t count, std::uint32_t n_probes, std::vector<std::uint64_t> words,
                 int index_probes, std::uint64_t max_capacity) {
        const auto probes = static_cast<std::uint8_t>(index_probes);  // as reset() stores it
        auto fail = [](const std::string& what) { throw CorruptIndex("corrupt index: a Bloom filter's " + what); };
        if (capacity > max_capacity) fail("capacity " + std::to_string(capacity) + " exceeds " + std::to_string(max_capacity));
        if (count > capacity) fail("count " + std::to_string(count) + " exceeds its capacity " + std::to_string(capacity));
        // An empty filter is either never sized (no probes) or reset to capacity 0.
        if (n_probes != probes && !(capacity == 0 && n_probes == 0))
            fail("probe count " + std::to_string(n_probes) + " does not match bloom_fpr (" + std::to_string(probes) + ")");
        if (words.size() != words_for(capacity, index_probes))
            fail("bit count " + std::to_string(words.size() * 64) + " does not match its capacity " + std::to_string(capacity));
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
