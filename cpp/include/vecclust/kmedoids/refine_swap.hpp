// The swap pass of the refinement on all points: FasterPAM's swap pricing (Schubert &
// Rousseeuw, 2021) with a few candidates per medoid instead of all n points, and no n x n or
// n x k table. Alternating steps only move a medoid within its own cluster; a swap can also
// take a medoid from where two crowd one cluster to where one is missing, which is what keeps
// alternating steps above FasterPAM's loss on overlapping clusters.
//
// Each point keeps its nearest and second-nearest medoid (weighted distances). A batch of
// candidates is priced in one pass over the points, against all k medoids at once, as
// FasterPAM's kernel prices one; per-chunk partial sums over fixed chunks are added in chunk
// order, so the prices do not depend on the thread count. A swap is kept only if it lowers the
// loss (re-summed exactly); each point's two nearest are updated from the new medoid's
// distances, recomputed in full only for the points that lost one of them.
#pragma once

#include <algorithm>  // std::min, std::max, std::sort, std::stable_sort
#include <cstddef>    // std::ptrdiff_t
#include <cstdint>    // std::int32_t, std::uint64_t
#include <limits>     // std::numeric_limits
#include <string>     // std::to_string
#include <utility>    // std::move
#include <vector>     // std::vector

#include "vecclust/base/parallel.hpp"
#include "vecclust/base/random.hpp"
#include "vecclust/cpu/simd.hpp"

namespace vecclust {

struct SwapPassOptions {
    index_t candidates = 8;  // per medoid and round: a seeded sample of its cluster's members
    int max_rounds = 10;
    double tol = 1e-4;       // stop once a round lowers the loss by at most tol x loss
    index_t max_priced = 4096;  // points swaps are priced over (a seeded sample beyond)
};

namespace detail {

// Chunks of the point passes: at most about 64, so the per-chunk partial prices stay small.
inline index_t swap_chunk_size(index_t n) { return std::max<index_t>(1024, (n + 63) / 64); }

template <class T, class Data>
class TwoNearest {
  public:
    static constexpr index_t kBatch = 64;  // candidates priced per pass (one distance block)

    TwoNearest(const Data& data, std::vector<index_t> medoids, const T* weights, ThreadPool& pool)
        : data_(data), weights_(weights), pool_(pool), n_(data.size()), k_(static_cast<index_t>(medoids.size())),
          medoids_(std::move(medoids)), near_i_(static_cast<size_t>(n_)), seco_i_(static_cast<size_t>(n_)),
          near_d_(static_cast<size_t>(n_)), seco_d_(static_cast<size_t>(n_)) {
        const auto all = data_.targets(medoids_);
        pool_.for_chunks(n_, swap_chunk_size(n_), [&](index_t begin, index_t end, index_t) {
            std::vector<T> scratch(static_cast<size_t>(all.scratch_size())), dist(static_cast<size_t>(k_));
            for (index_t o = begin; o < end; ++o) assign(o, all, scratch.data(), dist.data());
        });
    }

    const std::vector<index_t>& medoids() const { return medoids_; }
    index_t label(index_t o) const { return near_i_[static_cast<size_t>(o)]; }

    double loss() const {
        double total = 0.0;
        for (T d : near_d_) total += static_cast<double>(d);
        return total;
    }

    struct Swap {
        double delta = std::numeric_limits<double>::infinity();  // predicted change of the loss
        index_t slot = 0, candidate = -1;
    };

    // Swaps are priced over `priced` points (ascending; all by default): a seeded sample on
    // large data, where a price is then an estimate (every swap is checked on the exact loss).
    void price_over(std::vector<index_t> priced) { priced_ = std::move(priced); }

    // The predicted change of the loss over the priced points if candidates[b] (not a medoid)
    // replaces medoid i, at out[b * k + i]; the distributed swap pass sums these over blocks.
    std::vector<double> price_table(const std::vector<index_t>& candidates) const {
        const auto b_count = static_cast<index_t>(candidates.size()), width = k_ + 1;  // k deltas, then the shared gain
        const auto m = static_cast<index_t>(priced_.size());
        const index_t chunk = swap_chunk_size(m), n_chunks = (m + chunk - 1) / chunk;
        std::vector<double> partial(static_cast<size_t>(n_chunks * b_count * width), 0.0);
        pool_.for_chunks(m, chunk, [&](index_t begin, index_t end, index_t c) {
            const index_t count = end - begin;
            const index_t* points = priced_.data() + begin;
            std::vector<T> dist(static_cast<size_t>(b_count * count)), nd(static_cast<size_t>(count)), sd(nd);
            std::vector<std::int32_t> ni(static_cast<size_t>(count));
            for (index_t p = 0; p < count; ++p) {
                const auto o = static_cast<size_t>(points[p]);
                nd[static_cast<size_t>(p)] = near_d_[o], sd[static_cast<size_t>(p)] = seco_d_[o], ni[static_cast<size_t>(p)] = near_i_[o];
            }
            data_.distances_between(points, count, candidates, dist.data());
            double* acc = partial.data() + static_cast<size_t>(c * b_count * width);
            for (index_t b = 0; b < b_count; ++b) {
                T* row = dist.data() + b * count;
                if (weights_)
                    for (index_t p = 0; p < count; ++p) row[p] = weights_[points[p]] * row[p];
                double* delta = acc + b * width;
                // As FasterPAM: o moves to the candidate, or the candidate becomes its second;
                // only points nearer to it than their second medoid count, screened 16 at a time.
                const auto add = [&](index_t p) {
                    const T d = row[p], dn = nd[static_cast<size_t>(p)];
                    delta[k_] += std::min(static_cast<double>(d) - static_cast<double>(dn), 0.0);
                    delta[ni[static_cast<size_t>(p)]] += static_cast<double>(std::max(d, dn)) - static_cast<double>(sd[static_cast<size_t>(p)]);
                };
                index_t p = 0;
                for (; p + 16 <= count; p += 16)
                    for (std::uint32_t mask = simd::less_mask16(row + p, sd.data() + p); mask != 0; mask &= mask - 1) add(p + simd::lowest_bit(mask));
                for (; p < count; ++p)
                    if (row[p] < sd[static_cast<size_t>(p)]) add(p);
            }
        });
        std::vector<double> removal(static_cast<size_t>(k_), 0.0);  // the loss's growth if medoid i goes
        for (index_t o : priced_)
            removal[static_cast<size_t>(near_i_[static_cast<size_t>(o)])] +=
                static_cast<double>(seco_d_[static_cast<size_t>(o)]) - static_cast<double>(near_d_[static_cast<size_t>(o)]);
        std::vector<double> out(static_cast<size_t>(b_count * k_));
        std::vector<double> delta(static_cast<size_t>(width));
        for (index_t b = 0; b < b_count; ++b) {
            std::copy(removal.begin(), removal.end(), delta.begin());
            delta[static_cast<size_t>(k_)] = 0.0;
            for (index_t c = 0; c < n_chunks; ++c)
                for (index_t i = 0; i < width; ++i) delta[static_cast<size_t>(i)] += partial[static_cast<size_t>((c * b_count + b) * width + i)];
            for (index_t i = 0; i < k_; ++i) out[static_cast<size_t>(b * k_ + i)] = delta[static_cast<size_t>(i)] + delta[static_cast<size_t>(k_)];
        }
        return out;
    }

    // The best swap for each of `candidates` (none of them a medoid), against all k medoids.
    std::vector<Swap> price(const std::vector<index_t>& candidates) const {
        const std::vector<double> table = price_table(candidates);
        std::vector<Swap> out(candidates.size());
        for (size_t b = 0; b < candidates.size(); ++b) {
            Swap& best = out[b];
            best.candidate = candidates[b];
            for (index_t i = 0; i < k_; ++i) {
                const double gain = table[b * static_cast<size_t>(k_) + static_cast<size_t>(i)];
                if (gain < best.delta) best.delta = gain, best.slot = i;
            }
        }
        return out;
    }

    // The exact loss after replacing medoid `slot` by point j, summed as loss() would then sum
    // it: a point keeps its nearest, or goes to its second if it lost it, unless j is nearer.
    double loss_after(index_t slot, index_t j) const {
        const auto added = data_.targets({j});
        const auto s = static_cast<std::int32_t>(slot);
        std::vector<T> after(static_cast<size_t>(n_));
        pool_.for_chunks(n_, swap_chunk_size(n_), [&](index_t begin, index_t end, index_t) {
            std::vector<T> scratch(static_cast<size_t>(added.scratch_size()));
            for (index_t o = begin; o < end; ++o) {
                const auto u = static_cast<size_t>(o);
                T d;
                added.distances(o, scratch.data(), &d);
                after[u] = std::min(weighted(o, d), near_i_[u] == s ? seco_d_[u] : near_d_[u]);
            }
        });
        double total = 0.0;
        for (T d : after) total += static_cast<double>(d);
        return total;
    }

    // Replaces medoid `slot` by point j.
    void swap(index_t slot, index_t j) {
        medoids_[static_cast<size_t>(slot)] = j;
        const auto added = data_.targets({j});
        const auto all = data_.targets(medoids_);
        const auto s = static_cast<std::int32_t>(slot);
        pool_.for_chunks(n_, swap_chunk_size(n_), [&](index_t begin, index_t end, index_t) {
            std::vector<T> scratch(static_cast<size_t>(std::max(added.scratch_size(), all.scratch_size())));
            std::vector<T> dist(static_cast<size_t>(k_));
            for (index_t o = begin; o < end; ++o) {
                const auto u = static_cast<size_t>(o);
                if (near_i_[u] == s || seco_i_[u] == s || o == j) {
                    assign(o, all, scratch.data(), dist.data());
                    continue;
                }
                T d;
                added.distances(o, scratch.data(), &d);
                d = weighted(o, d);
                if (d < near_d_[u]) {
                    seco_i_[u] = near_i_[u], seco_d_[u] = near_d_[u];
                    near_i_[u] = s, near_d_[u] = d;
                } else if (d < seco_d_[u]) {
                    seco_i_[u] = s, seco_d_[u] = d;
                }
            }
        });
    }

  private:
    T weighted(index_t o, T d) const { return weights_ ? weights_[o] * d : d; }

    // Point o's two nearest medoids from scratch; a medoid is its own nearest.
    template <class Targets>
    void assign(index_t o, const Targets& all, T* scratch, T* dist) {
        all.distances(o, scratch, dist);
        std::int32_t ni = -1, si = -1;
        T nd = std::numeric_limits<T>::infinity(), sd = nd;
        for (index_t i = 0; i < k_; ++i) {
            const T d = weighted(o, dist[i]);
            if (ni < 0 || d < nd || medoids_[static_cast<size_t>(i)] == o) {
                si = ni, sd = nd;
                ni = static_cast<std::int32_t>(i), nd = d;
            } else if (si < 0 || d < sd) {
                si = static_cast<std::int32_t>(i), sd = d;
            }
        }
        const auto u = static_cast<size_t>(o);
        near_i_[u] = ni, near_d_[u] = nd, seco_i_[u] = si, seco_d_[u] = sd;
    }

    const Data& data_;
    const T* weights_;
    ThreadPool& pool_;
    index_t n_, k_;
    std::vector<index_t> medoids_, priced_;
    std::vector<std::int32_t> near_i_, seco_i_;
    std::vector<T> near_d_, seco_d_;
};

// This round's candidates: up to `per_medoid` seeded members of each cluster other than its
// medoid, taken cluster by cluster in turn so that every batch reaches across the clusters.
template <class State>
std::vector<index_t> swap_candidates(const State& state, index_t n, index_t per_medoid, Rng& rng) {
    const auto k = static_cast<index_t>(state.medoids().size());
    std::vector<std::vector<index_t>> members(static_cast<size_t>(k));
    for (index_t o = 0; o < n; ++o)
        if (state.medoids()[static_cast<size_t>(state.label(o))] != o) members[static_cast<size_t>(state.label(o))].push_back(o);
    std::vector<std::vector<index_t>> picked(static_cast<size_t>(k));
    for (index_t c = 0; c < k; ++c) {
        const auto& in = members[static_cast<size_t>(c)];
        const auto m = static_cast<index_t>(in.size());
        if (m <= per_medoid) picked[static_cast<size_t>(c)] = in;
        else for (index_t i : sample_without_replacement(m, per_medoid, rng)) picked[static_cast<size_t>(c)].push_back(in[static_cast<size_t>(i)]);
    }
    std::vector<index_t> out;
    for (index_t t = 0; t < per_medoid; ++t)
        for (const auto& p : picked)
            if (t < static_cast<index_t>(p.size())) out.push_back(p[static_cast<size_t>(t)]);
    return out;
}

}  // namespace detail

// Swap rounds from `medoids` (k >= 2), each a refinement step. Each round prices its candidates against the state at
// its start, then applies the swaps in order of predicted gain, skipping any that touches a
// cluster an earlier swap of the round touched (its price is stale) and undoing any that does
// not lower the exact loss. Returns the medoids reached and appends to round_losses (the
// refinement's step losses) the loss after each round that made a swap; `loss` is updated.
template <class T, class Data>
std::vector<index_t> swap_pass(const Data& data, const T* weights, std::vector<index_t> medoids, double& loss,
                               const SwapPassOptions& options, std::uint64_t seed, ThreadPool& pool,
                               std::vector<double>& round_losses) {
    using State = detail::TwoNearest<T, Data>;
    State state(data, std::move(medoids), weights, pool);
    const index_t n = data.size(), k = static_cast<index_t>(state.medoids().size());
    Rng rng(seed);
    std::vector<index_t> priced;
    if (n > options.max_priced) {
        priced = sample_without_replacement(n, options.max_priced, rng);
        std::sort(priced.begin(), priced.end());
    } else {
        for (index_t o = 0; o < n; ++o) priced.push_back(o);
    }
    state.price_over(std::move(priced));
    for (int round = 0; round < options.max_rounds; ++round) {
        const double start = loss;
        const std::vector<index_t> candidates = detail::swap_candidates(state, n, options.candidates, rng);
        std::vector<typename State::Swap> swaps;
        for (size_t first = 0; first < candidates.size(); first += static_cast<size_t>(State::kBatch)) {
            const std::vector<index_t> batch(candidates.begin() + static_cast<std::ptrdiff_t>(first),
                                             candidates.begin() + static_cast<std::ptrdiff_t>(std::min(candidates.size(), first + static_cast<size_t>(State::kBatch))));
            for (const auto& swap : state.price(batch))
                if (swap.delta < -1e-12 * loss) swaps.push_back(swap);  // a gain must beat rounding noise
        }
        std::stable_sort(swaps.begin(), swaps.end(), [](const auto& a, const auto& b) { return a.delta < b.delta; });
        std::vector<char> touched(static_cast<size_t>(k), 0);
        int applied = 0;
        for (const auto& swap : swaps) {
            const index_t home = state.label(swap.candidate);
            if (touched[static_cast<size_t>(swap.slot)] || touched[static_cast<size_t>(home)]) continue;
            const double after = state.loss_after(swap.slot, swap.candidate);
            if (!(after < loss)) continue;  // the predicted gain was stale, or rounding
            state.swap(swap.slot, swap.candidate);
            touched[static_cast<size_t>(swap.slot)] = touched[static_cast<size_t>(home)] = 1;
            loss = after;
            ++applied;
        }
        if (applied == 0) break;
        round_losses.push_back(loss);
        if (pool.control().verbose())
            pool.control().report("refinement step " + std::to_string(round_losses.size()) + ": " + std::to_string(applied) +
                                  " swaps, loss over all points " + std::to_string(loss));
        if (start - loss <= options.tol * loss) break;
    }
    return state.medoids();
}

}  // namespace vecclust
