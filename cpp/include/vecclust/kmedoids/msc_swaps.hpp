// The two swap searches that maximise the medoid silhouette directly (Lenssen & Schubert,
// 2022/2024), both on the O(n) all-medoids kernel of msc_state.hpp:
//  - FasterMSC: FasterPAM's eager search (candidates in index order, the first improving swap
//    applied at once);
//  - FastMSC: FastPAM1's best swap per iteration, O(n^2) each. It makes the same swaps as
//    PAMMEDSIL (pammedsil.hpp), k^2 times faster.
// result.loss is sum_o (1 - s(o)); k >= 2 initial medoids.
#pragma once

#include <vector>  // std::vector

#include "vecclust/kmedoids/fasterpam.hpp"
#include "vecclust/kmedoids/msc_state.hpp"
#include "vecclust/kmedoids/pam.hpp"

namespace vecclust {

template <class T, class Source>
KMedoidsResult fastermsc(const Source& source, const std::vector<index_t>& initial, int max_iter, ThreadPool& pool) {
    require(initial.size() >= 2, "the medoid silhouette needs at least 2 medoids");
    return fasterpam<T, Source, MscAssignment<T>>(source, initial, nullptr, max_iter, pool);
}

template <class T, class Source>
KMedoidsResult fastmsc(const Source& source, const std::vector<index_t>& initial, int max_iter, ThreadPool& pool) {
    require(initial.size() >= 2, "the medoid silhouette needs at least 2 medoids");
    return fastpam1<T, Source, MscAssignment<T>>(source, initial, nullptr, max_iter, pool);
}

}  // namespace vecclust
