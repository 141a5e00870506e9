// The search shared by FasterPAM and FastCLARANS: candidates are tried one after another in a
// given order, and the first whose best swap lowers the loss is swapped in at once.
//
// Threads evaluate a block of upcoming candidates against the same state; the first improving
// one in order is applied and the candidates after it are evaluated again from the new state.
// Each candidate is always evaluated by the same serial code, so the outcome is identical for
// every thread count.
#pragma once

#include <algorithm>  // std::min
#include <limits>     // std::numeric_limits
#include <vector>     // std::vector

#include "vecclust/kmedoids/init.hpp"
#include "vecclust/kmedoids/state.hpp"
#include "vecclust/base/parallel.hpp"

namespace vecclust {

// State: MedoidAssignment (the total deviation) or MscAssignment (the medoid silhouette).
template <class T, class Source, class State = MedoidAssignment<T>>
class EagerSwapper {
  public:
    using Gain = typename State::SwapGain;

    EagerSwapper(const Source& source, State& state, ThreadPool& pool)
        : source_(source), state_(state), pool_(pool), n_threads_(pool.size()), scratch_(n_threads_, source.size()),
          swap_row_(static_cast<size_t>(source.size())),
          delta_(static_cast<size_t>(n_threads_), std::vector<double>(static_cast<size_t>(state.k()))),
          max_block_(n_threads_ == 1 ? 1 : 16 * n_threads_), block_(n_threads_),
          gains_(static_cast<size_t>(max_block_)) {
        state_.removal_loss(removal_);
    }

    struct Hit {
        index_t position = -1;  // of the first improving candidate, -1 if none
        Gain gain{};
    };

    // Looks at candidate_at(0), candidate_at(1), ... up to position `limit` (exclusive) and
    // returns the first whose swap changes the loss by less than `threshold` (negative).
    // Medoids are skipped. Nothing is applied; call swap() to apply.
    template <class CandidateAt>
    Hit first_improving(index_t limit, CandidateAt&& candidate_at, double threshold) {
        for (index_t begin = 0; begin < limit;) {
            const index_t end = std::min(limit, begin + block_);
            pool_.run(end - begin, [&](index_t t, int thread_id) {
                const index_t j = candidate_at(begin + t);
                gains_[static_cast<size_t>(t)] =
                    state_.is_medoid(j) ? Gain{std::numeric_limits<double>::infinity(), 0}
                                        : state_.evaluate_candidate(source_.row(j, scratch_[thread_id]), removal_,
                                                                    delta_[static_cast<size_t>(thread_id)]);
            });
            for (index_t t = 0; t < end - begin; ++t) {
                if (gains_[static_cast<size_t>(t)].delta < threshold) {
                    block_ = n_threads_;  // after a swap, speculation starts small again
                    return {begin + t, gains_[static_cast<size_t>(t)]};
                }
            }
            block_ = std::min(max_block_, 2 * block_);  // nothing found: speculate further ahead
            begin = end;
        }
        return {};
    }

    void swap(index_t slot, index_t j) {
        state_.swap(slot, j, source_.row(j, swap_row_.data()));
        state_.removal_loss(removal_);
    }

  private:
    const Source& source_;
    State& state_;
    ThreadPool& pool_;
    int n_threads_;
    RowScratch<T> scratch_;
    std::vector<T> swap_row_;
    std::vector<double> removal_;
    std::vector<std::vector<double>> delta_;
    index_t max_block_, block_;
    std::vector<Gain> gains_;
};

}  // namespace vecclust
