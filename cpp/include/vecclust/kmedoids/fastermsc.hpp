// FasterMSC (Lenssen & Schubert, 2022/2024): k-medoids that maximises the medoid silhouette
// directly, with FasterPAM's eager search (candidates in index order, the first improving swap
// applied at once) and the O(n) all-medoids kernel of msc_state.hpp.
#pragma once

#include <vector>  // std::vector

#include "vecclust/kmedoids/fasterpam.hpp"
#include "vecclust/kmedoids/msc_state.hpp"

namespace vecclust {

// k >= 2 initial medoids; result.loss is sum_o (1 - s(o)).
template <class T, class Source>
KMedoidsResult fastermsc(const Source& source, const std::vector<index_t>& initial, int max_iter, ThreadPool& pool) {
    require(initial.size() >= 2, "the medoid silhouette needs at least 2 medoids");
    return fasterpam<T, Source, MscAssignment<T>>(source, initial, nullptr, max_iter, pool);
}

}  // namespace vecclust
