// FastMSC (Lenssen & Schubert, 2022/2024): the best swap of each iteration for the medoid
// silhouette, priced for all k medoids of a candidate in one O(n) pass (msc_state.hpp), so an
// iteration is O(n^2). It makes the same swaps as PAMMEDSIL (pammedsil.hpp), k^2 times faster.
#pragma once

#include <vector>  // std::vector

#include "vecclust/kmedoids/msc_state.hpp"
#include "vecclust/kmedoids/pam.hpp"

namespace vecclust {

// k >= 2 initial medoids; result.loss is sum_o (1 - s(o)).
template <class T, class Source>
KMedoidsResult fastmsc(const Source& source, const std::vector<index_t>& initial, int max_iter, ThreadPool& pool) {
    require(initial.size() >= 2, "the medoid silhouette needs at least 2 medoids");
    return fastpam1<T, Source, MscAssignment<T>>(source, initial, nullptr, max_iter, pool);
}

}  // namespace vecclust
