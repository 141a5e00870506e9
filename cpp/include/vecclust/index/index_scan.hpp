// A search for one query: the best-first walk of the tenant's part of the tree, then the scan
// of the shortlists it reached, which rules vectors out by rigorous bounds from their codes and
// their high halves (projected_codes.hpp, lane_sums.hpp) and returns the exact top k of them.
#pragma once

#include <algorithm>    // std::push_heap, std::pop_heap, std::sort_heap
#include <cmath>        // std::sqrt, std::isfinite
#include <cstdint>      // std::int64_t, std::uint32_t
#include <limits>       // std::numeric_limits
#include <type_traits>  // std::conditional_t
#include <utility>      // std::pair
#include <vector>       // std::vector

#include "vecclust/cpu/isa.hpp"  // VECCLUST_PREFETCH
#include "vecclust/index/lane_sums.hpp"
#include "vecclust/index/projected_codes.hpp"
#include "vecclust/index/tenant_shortlists.hpp"

namespace vecclust {
namespace mt_detail {

struct Hit {
    float distance;
    std::int64_t label;
};
// Ties in distance are broken by the external id, so results never depend on scan order.
inline bool hit_before(const Hit& a, const Hit& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.label < b.label);
}

// The k best hits seen so far, as a max-heap (worst on top).
class TopK {
  public:
    void reset(index_t k) {
        k_ = static_cast<size_t>(k);
        heap_.clear();
    }
    bool accepts(float distance) const { return heap_.size() < k_ || distance <= heap_.front().distance; }
    bool full() const { return heap_.size() >= k_; }
    size_t capacity() const { return k_; }
    float worst() const { return heap_.front().distance; }  // when full
    void offer(const Hit& hit) {
        if (heap_.size() < k_) {
            heap_.push_back(hit);
            std::push_heap(heap_.begin(), heap_.end(), hit_before);
        } else if (hit_before(hit, heap_.front())) {
            std::pop_heap(heap_.begin(), heap_.end(), hit_before);
            heap_.back() = hit;
            std::push_heap(heap_.begin(), heap_.end(), hit_before);
        }
    }
    // Writes the hits in ascending order; the caller has pre-filled the padding.
    void write(float* distances, std::int64_t* labels) {
        std::sort_heap(heap_.begin(), heap_.end(), hit_before);
        for (size_t i = 0; i < heap_.size(); ++i) distances[i] = heap_[i].distance, labels[i] = heap_[i].label;
    }

  private:
    size_t k_ = 0;
    std::vector<Hit> heap_;
};

// Decides from a first-pass sum over a vector's high halves (see lane_sums::from_halves) that its exact
// distance is above the current k-th best, so it need not be read in full. With gamma bounding
// the relative rounding error of one lane sum and the vector's slack s (see
// VectorStore::first_pass_slack), exactly as the real numbers they stand for:
//   l2:     ||q - x|| >= ||q - high(x)|| - ||x - high(x)||, so x is out when
//           sqrt(sum / (1 + gamma)) - s > sqrt(worst / (1 - gamma));
//   ip:     -q.x >= -sum - ||q|| s (Cauchy-Schwarz, s covering both sums' rounding);
//   cosine: the same for 1 - q.x.
// `worst` gets a small relative margin for the rounding of the final 1 - sum, and an absolute
// one for sums in the subnormal range, where each rounding may lose up to half the smallest
// subnormal whatever the size of the result. Only finite sums are judged. The result is the exact top k of every vector scanned, bit for bit.
class FirstPassBound {
  public:
    void reset(IndexMetric metric, double gamma, double underflow, double query_norm) {
        metric_ = metric;
        gamma_ = gamma;
        underflow_ = underflow;
        query_norm_ = query_norm;
        active_ = false;
    }
    // The k-th best distance so far (only ever decreases).
    void tighten(float worst) {
        if (active_ && worst == worst_) return;
        active_ = true;
        worst_ = worst;
        const double limit = static_cast<double>(worst) + std::abs(static_cast<double>(worst)) * 0x1p-20 + underflow_;
        limit_ = metric_ == IndexMetric::l2 ? std::sqrt(std::max(0.0, limit) / (1.0 - gamma_)) : limit;
        lower_limit_ = metric_ == IndexMetric::l2 ? limit_ * limit_ * (1.0 + 1e-12) : limit_;
    }
    bool excludes(float sum, float slack) const {
        if (!active_ || !std::isfinite(sum)) return false;
        switch (metric_) {
            case IndexMetric::l2: {
                const double reach = static_cast<double>(slack) + limit_;
                return static_cast<double>(sum) > reach * reach * (1.0 + gamma_);
            }
            case IndexMetric::ip: return -static_cast<double>(sum) - query_norm_ * slack > limit_;
            case IndexMetric::cosine: return 1.0 - static_cast<double>(sum) - query_norm_ * slack > limit_;
        }
        return false;
    }

    // A rigorous lower bound on the vector's distance (l2: the real squared distance; ip and
    // cosine: the computed one, see IndexScan::code_lower_bounds) above the k-th best's
    // rules it out.
    bool excludes_lower(double lower) const { return active_ & (lower > lower_limit_); }

  private:
    IndexMetric metric_ = IndexMetric::l2;
    double gamma_ = 0.0, underflow_ = 0.0, query_norm_ = 0.0, limit_ = 0.0, lower_limit_ = 0.0;
    float worst_ = 0.0f;
    bool active_ = false;
};

// A node waiting in a search's frontier, with the searched tenant's shortlists in its subtree:
// entries first ... last - 1 of the tenant's list of shortlists.
struct FrontierNode {
    float priority;
    std::uint32_t node, first, last;
};

// Per-thread search buffers, reused across the queries of a call.
struct SearchScratch {
    std::vector<float> query;
    std::vector<float> projection;  // the query's, rounded to float (see ProjectedQuantizer)
    ProjectionFacts query_facts;
    double projection_norm = 0.0;  // >= its norm
    std::vector<std::uint32_t> candidates;
    // The scan's passes (see IndexScan::scan_with): a batch's codes and their sums, every
    // candidate's lower bound, the k read first, the positions of the candidates whose bounds
    // passed, and the vectors whose high halves passed, with their sums.
    std::vector<const std::uint8_t*> codes;
    std::vector<double> lower_bounds;
    std::vector<std::pair<double, size_t>> seeds;
    std::vector<std::uint8_t> is_seed;
    std::vector<std::uint32_t> coded;
    std::vector<std::pair<std::uint32_t, float>> finalists, next_finalists;
    std::vector<FrontierNode> frontier;  // min-heap by (priority, node)
    std::vector<FrontierNode> children;
    std::vector<lane_sums::FloatRow> rows;
    std::vector<lane_sums::HighRow> halves;
    std::vector<float> sums;
    TopK top;
    FirstPassBound bound;
    SignQuery sign;         // the query for the sign codes ...
    std::vector<const unsigned char*> sign_lines;
    std::vector<double> sign_bounds;
    bool use_sign = false;  // ... when the index has them and the search may use probable bounds
};

inline bool frontier_after(const FrontierNode& a, const FrontierNode& b) {
    return a.priority > b.priority || (a.priority == b.priority && a.node > b.node);
}

class IndexScan : public TenantShortlists {
  protected:
    using TenantShortlists::TenantShortlists;

    // exact: rule vectors out by rigorous bounds only (not by the sign codes' probable ones).
    void search_one(const float* query_in, std::uint32_t t, index_t k, index_t budget, bool exact, mt_detail::SearchScratch& s,
                    float* out_distances, std::int64_t* out_ids) const {
        std::fill(out_distances, out_distances + k, std::numeric_limits<float>::infinity());
        std::fill(out_ids, out_ids + k, std::int64_t(-1));
        if (t == kNone || shortlists_[t].empty()) return;
        const std::vector<mt_detail::Shortlist>& lists = shortlists_[t];
        s.query.assign(static_cast<size_t>(stride_), 0.0f);
        std::copy(query_in, query_in + options_.dim, s.query.begin());
        if (options_.metric == IndexMetric::cosine) normalise(s.query.data());
        const float* q = s.query.data();
        double query_norm2 = 0.0;
        for (index_t j = 0; j < options_.dim; ++j) query_norm2 += static_cast<double>(q[j]) * q[j];
        s.bound.reset(options_.metric, sum_rounding_, sum_underflow_, std::sqrt(query_norm2) * (1.0 + 1e-9));
        s.use_sign = !exact && sign_.enabled();
        if (s.use_sign) sign_.prepare(q, query_norm2, s.sign);
        else set_code_query(q, query_norm2, s);
        s.top.reset(k);
        // The walk visits only nodes with shortlists of t at or below them (t's shortlists in a
        // subtree are consecutive in preorder): the nodes the filters admit, less their false
        // positives, which could only add nodes without candidates. So it scans the same vectors.
        s.frontier.clear();
        s.frontier.push_back({0.0f, 0, 0, static_cast<std::uint32_t>(lists.size())});
        s.candidates.clear();
        index_t scanned = 0;
        while (!s.frontier.empty() && scanned < budget) {
            std::pop_heap(s.frontier.begin(), s.frontier.end(), mt_detail::frontier_after);
            const mt_detail::FrontierNode entry = s.frontier.back();
            s.frontier.pop_back();
            if (const mt_detail::Shortlist& list = lists[entry.first]; list.node == entry.node) {
                // Which vectors are scanned depends only on the tree and the list sizes: gather
                // them all, so the scan can fetch them far ahead.
                s.candidates.insert(s.candidates.end(), list.ids.begin(), list.ids.end());
                scanned += static_cast<index_t>(list.ids.size());
                continue;
            }
            // Expand: split t's shortlists below the node by child subtree.
            const Node& n = nodes_[entry.node];
            s.rows.clear();
            s.children.clear();
            auto run = lists.begin() + entry.first;
            const auto last = lists.begin() + entry.last;
            for (std::uint32_t c = n.first_child; c < n.first_child + n.n_children && run != last; ++c) {
                const auto run_end = first_from_rank(run, last, subtree_end_[c]);
                if (run_end == run) continue;
                s.rows.push_back({centroid(c)});
                s.children.push_back({0.0f, c, static_cast<std::uint32_t>(run - lists.begin()), static_cast<std::uint32_t>(run_end - lists.begin())});
                run = run_end;
            }
            const auto n_rows = static_cast<index_t>(s.rows.size());
            s.sums.resize(s.rows.size());
            if (options_.metric == IndexMetric::ip) {
                lane_sums::sums<lane_sums::Dot>(q, s.rows.data(), n_rows, stride_, s.sums.data());
                for (float& sum : s.sums) sum = -sum;
            } else {
                lane_sums::sums<lane_sums::SquaredDiff>(q, s.rows.data(), n_rows, stride_, s.sums.data());
            }
            for (size_t i = 0; i < s.children.size(); ++i) {
                s.children[i].priority = s.sums[i];
                s.frontier.push_back(s.children[i]);
                std::push_heap(s.frontier.begin(), s.frontier.end(), mt_detail::frontier_after);
            }
        }
        scan(q, s.candidates, s);
        s.top.write(out_distances, out_ids);
    }

    // Exact distances from the query to a shortlist's vectors, into the top-k. A first pass
    // reads only the high halves of each vector; the low halves are read only when the bound
    // cannot rule the vector out (see FirstPassBound), so the result is the same.
    void scan(const float* q, const std::vector<std::uint32_t>& ids, mt_detail::SearchScratch& s) const {
        switch (options_.metric) {
            case IndexMetric::l2: return scan_with<IndexMetric::l2>(q, ids, s);
            case IndexMetric::ip: return scan_with<IndexMetric::ip>(q, ids, s);
            case IndexMetric::cosine: return scan_with<IndexMetric::cosine>(q, ids, s);
        }
    }

    void set_code_query(const float* q, double query_norm2, mt_detail::SearchScratch& s) const {
        s.projection.resize(static_cast<size_t>(ProjectedQuantizer::kDims));
        s.query_facts = quantizer_.project_query(q, query_norm2, s.projection.data());
        double norm2 = 0.0;
        for (float y : s.projection) norm2 += static_cast<double>(y) * y;
        s.projection_norm = std::sqrt(norm2) * (1.0 + 1e-9);
    }

    // Rigorous lower bounds on the distances of the vectors ids[i], i < n, from their codes,
    // given sums[i], the lane sum over the query's float projection y and the decoded code c
    // (squared differences for l2, products otherwise), within a relative code_rounding_ (and
    // an absolute code_underflow_) of the real one. With the bounds of ProjectionFacts:
    //   l2: ||q - x||^2 = ||Pi (q - x)||^2 + ||(I - Pi)(q - x)||^2, where
    //       ||Pi (q - x)|| >= (||y - c|| - ||P q - y|| - ||P x - c||) / sqrt(1 + delta) and
    //       ||(I - Pi)(q - x)|| >= | ||(I - Pi) q|| - ||(I - Pi) x|| |: a bound on the real squared distance;
    //   ip: q.x = Pi q . Pi x + (I - Pi) q . (I - Pi) x <= y.c + ||P q - y|| ||P x|| + ||y|| ||P x - c||
    //       + delta / (1 - delta) ||P q|| ||P x|| + ||(I - Pi) q|| ||(I - Pi) x||, with
    //       ||P v|| <= sqrt(1 + delta) ||v||; less the rounding of the exact score (gamma ||q|| ||x||),
    //       a bound on the computed distance -q.x; cosine: the same for 1 - q.x.
    // A sum that is not finite gives no bound.
    template <IndexMetric kMetric>
    void code_lower_bounds(const std::uint32_t* ids, const float* sums, size_t n, const mt_detail::SearchScratch& s,
                           double* out) const {
        constexpr double kMargin = 1e-12;  // far above the rounding of the doubles below
        const ProjectionFacts& query = s.query_facts;
        const double delta = quantizer_.delta(), stretch = std::sqrt(1.0 + delta), shrink = 1.0 / stretch;
        for (size_t i = 0; i < n; ++i) {
            const mt_detail::CodeBounds& b = arena_.bounds(ids[i]);
            const double sum = sums[i];
            if (!std::isfinite(sum)) {
                out[i] = -std::numeric_limits<double>::infinity();
                continue;
            }
            if constexpr (kMetric == IndexMetric::l2) {
                const double residual_gap = std::max({0.0, query.residual_low - static_cast<double>(b.residual_high),
                                                      static_cast<double>(b.residual_low) - query.residual_high});
                const double code_distance = std::sqrt(std::max(0.0, sum * (1.0 - code_rounding_) - code_underflow_));
                const double projected = std::max(0.0, code_distance - query.code_error - b.code_error) * shrink;
                out[i] = (projected * projected + residual_gap * residual_gap) * (1.0 - kMargin);
            } else {
                const double x_norm = b.norm, projected_x = stretch * x_norm;
                const double magnitude = s.projection_norm * (projected_x + b.code_error);
                const double upper = sum + code_rounding_ * magnitude + code_underflow_ + query.code_error * projected_x +
                                     s.projection_norm * b.code_error + delta / (1.0 - delta) * (1.0 + delta) * query.norm * x_norm +
                                     query.residual_high * b.residual_high + kMargin * (std::abs(sum) + magnitude + query.norm * x_norm);
                const double score_rounding = query.norm * sum_rounding_ * x_norm;
                out[i] = (kMetric == IndexMetric::ip ? -upper : 1.0 - upper) - score_rounding;
            }
        }
    }

    // Three passes. (1) Every candidate's code, read in a stream, gives a lower bound on its
    // distance. (2) The k candidates with the lowest bounds are read whole: the k-th best is
    // then close to its final value before anything is ruled out. (3) The others in scan
    // order: those their bounds cannot rule out (see FirstPassBound) have their high halves
    // read, and those still not ruled out their low halves. The vectors are scattered, so pass 3 is a pipeline over batches: each
    // step judges a batch's high halves and the exact distances of the batch before, and each
    // step's data was fetched one step ahead.
    template <IndexMetric kMetric>
    void scan_with(const float* q, const std::vector<std::uint32_t>& ids, mt_detail::SearchScratch& s) const {
        using Op = std::conditional_t<kMetric == IndexMetric::l2, lane_sums::SquaredDiff, lane_sums::Dot>;
        constexpr size_t kBatch = 16;
        const size_t n = ids.size();
        const size_t half_bytes = static_cast<size_t>(stride_) * sizeof(std::uint16_t);
        auto fetch = [](const void* p, size_t bytes) {
            for (size_t offset = 0; offset < bytes; offset += 64) VECCLUST_PREFETCH(static_cast<const char*>(p) + offset);
        };
        auto offer_exact = [&](std::uint32_t v) {
            const lane_sums::SplitRow row{arena_.halves(v), stride_};
            float sum;
            lane_sums::sums<Op>(q, &row, 1, stride_, &sum);
            const float distance = kMetric == IndexMetric::l2 ? sum : kMetric == IndexMetric::ip ? -sum : 1.0f - sum;
            if (s.top.accepts(distance)) s.top.offer({distance, arena_.label(v)});
        };
        auto tighten = [&] {
            if (s.top.full()) s.bound.tighten(s.top.worst());
        };

        // (1) Codes, two batches fetched ahead.
        s.lower_bounds.resize(n);
        s.codes.resize(kBatch);
        s.sums.resize(kBatch);
        // What pass 1 reads of a vector: its sign code, or the line with its projected code.
        auto fetch_code = [&](std::uint32_t v) {
            if (s.use_sign) fetch(arena_.sign_line(v), sign_.line_bytes());
            else fetch(arena_.code(v), 64);
        };
        for (size_t i = 0; i < std::min(n, 2 * kBatch); ++i) fetch_code(ids[i]);
        for (size_t begin = 0; begin < n; begin += kBatch) {
            const size_t end = std::min(n, begin + kBatch);
            for (size_t i = end + kBatch; i < std::min(n, end + 2 * kBatch); ++i) fetch_code(ids[i]);
            if (s.use_sign) {  // the sign codes' bound alone: where they are on, it is the tighter one
                std::fill(s.lower_bounds.begin() + static_cast<std::ptrdiff_t>(begin), s.lower_bounds.begin() + static_cast<std::ptrdiff_t>(end),
                          -std::numeric_limits<double>::infinity());
                sign_lower_bounds<kMetric>(ids.data() + begin, end - begin, s, s.lower_bounds.data() + begin);
                continue;
            }
            for (size_t i = begin; i < end; ++i) s.codes[i - begin] = arena_.code(ids[i]);
            code_sums<kMetric == IndexMetric::l2>(s.projection.data(), quantizer_.base().data(), quantizer_.step().data(), s.codes.data(),
                                                  end - begin, s.sums.data());
            code_lower_bounds<kMetric>(ids.data() + begin, s.sums.data(), end - begin, s, s.lower_bounds.data() + begin);
        }

        // (2) The k vectors with the lowest bounds (a max-heap of (bound, position)).
        s.seeds.clear();
        for (size_t i = 0; i < n; ++i) {
            const double key = s.lower_bounds[i];
            if (s.seeds.size() < s.top.capacity()) {
                s.seeds.push_back({key, i});
                std::push_heap(s.seeds.begin(), s.seeds.end());
            } else if (key < s.seeds.front().first) {
                std::pop_heap(s.seeds.begin(), s.seeds.end());
                s.seeds.back() = {key, i};
                std::push_heap(s.seeds.begin(), s.seeds.end());
            }
        }
        s.is_seed.assign(n, 0);
        for (const auto& seed : s.seeds) {
            s.is_seed[seed.second] = 1;
            fetch(arena_.halves(ids[seed.second]), 2 * half_bytes);
        }
        for (const auto& seed : s.seeds) offer_exact(ids[seed.second]);

        // (3) The rest: codes judged against the current k-th best, then high halves, then exact.
        tighten();
        s.coded.clear();
        for (size_t i = 0; i < n; ++i)
            if (!s.is_seed[i] && !s.bound.excludes_lower(s.lower_bounds[i])) s.coded.push_back(static_cast<std::uint32_t>(i));
        for (size_t i = 0; i < std::min(s.coded.size(), kBatch); ++i) fetch(arena_.halves(ids[s.coded[i]]), half_bytes);
        s.finalists.clear();
        for (size_t begin = 0; begin < s.coded.size() || !s.finalists.empty(); begin += kBatch) {
            // High halves of this batch; the next batch's are fetched meanwhile.
            const size_t end = std::min(s.coded.size(), begin + kBatch);
            for (size_t i = end; i < std::min(s.coded.size(), end + kBatch); ++i) fetch(arena_.halves(ids[s.coded[i]]), half_bytes);
            s.next_finalists.clear();
            s.halves.clear();
            for (size_t i = begin; i < end; ++i) {
                tighten();
                const size_t at = s.coded[i];
                if (!s.bound.excludes_lower(s.lower_bounds[at])) s.halves.push_back({arena_.halves(ids[at])});
                else s.coded[i] = mt_detail::kNone;
            }
            s.sums.resize(s.halves.size());
            lane_sums::sums<Op>(q, s.halves.data(), static_cast<index_t>(s.halves.size()), stride_, s.sums.data());
            for (size_t i = begin, h = 0; i < end; ++i) {
                if (s.coded[i] == mt_detail::kNone) continue;
                const std::uint32_t v = ids[s.coded[i]];
                const float sum = s.sums[h++];
                tighten();
                if (s.bound.excludes(sum, arena_.bounds(v).half_slack)) continue;
                s.next_finalists.push_back({v, sum});
                fetch(arena_.halves(v) + stride_, half_bytes);
            }
            // Exact distances of the previous batch's survivors.
            for (const auto& [v, high_sum] : s.finalists) {
                tighten();
                if (!s.bound.excludes(high_sum, arena_.bounds(v).half_slack)) offer_exact(v);
            }
            s.finalists.swap(s.next_finalists);
        }
    }

    // Raises the bounds out[i] of the vectors ids[i], i < n, to the probable ones of their sign
    // codes (sign_codes.hpp): ip and cosine from the bound on ||x - q||^2, as
    // -q.x = (||x - q||^2 - ||x||^2 - ||q||^2) / 2 and, for unit vectors, 1 - q.x = ||x - q||^2 / 2.
    template <IndexMetric kMetric>
    void sign_lower_bounds(const std::uint32_t* ids, size_t n, mt_detail::SearchScratch& s, double* out) const {
        s.sign_lines.resize(n);
        s.sign_bounds.resize(n);
        for (size_t i = 0; i < n; ++i) s.sign_lines[i] = arena_.sign_line(ids[i]);
        sign_.l2_lower_bounds(s.sign_lines.data(), n, s.sign, s.sign_bounds.data());
        for (size_t i = 0; i < n; ++i) {
            double bound = s.sign_bounds[i];
            if constexpr (kMetric == IndexMetric::ip) bound = 0.5 * (bound - sign_.norm2(s.sign_lines[i]) - s.sign.norm2);
            else if constexpr (kMetric == IndexMetric::cosine) bound *= 0.5;
            out[i] = std::max(out[i], bound);
        }
    }

    // The same for a lane sum over a code (kDims terms, each decoded value computed exactly as stored).
    static constexpr double kCodeRoundings = (ProjectedQuantizer::kDims + 4) * 0x1p-24;
    static constexpr double code_rounding_ = 1.01 * kCodeRoundings / (1.0 - kCodeRoundings);
    static constexpr double code_underflow_ = (3 * ProjectedQuantizer::kDims + 16) * 0x1p-149;
};

}  // namespace mt_detail
}  // namespace vecclust
