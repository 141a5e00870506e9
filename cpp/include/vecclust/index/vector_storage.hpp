// The index's stored vectors: the arena of one-cache-line headers and split halves, and
// VectorStore, which keeps each slot's code, owner, leaf and access list and the id map.
#pragma once

#include <algorithm>      // std::fill, std::copy
#include <cmath>          // std::sqrt, std::fabs, std::signbit
#include <cstdint>        // std::int64_t, std::uint32_t
#include <cstring>        // std::memcpy
#include <memory>         // std::unique_ptr
#include <new>            // std::align_val_t
#include <string>         // std::to_string
#include <unordered_map>  // std::unordered_map
#include <vector>         // std::vector

#if defined(__linux__)
#include <sys/mman.h>  // mmap, munmap, madvise
#endif

#include "vecclust/index/index_io.hpp"  // CorruptIndex
#include "vecclust/index/index_options.hpp"
#include "vecclust/index/lane_sums.hpp"
#include "vecclust/index/projected_codes.hpp"
#include "vecclust/index/sign_codes.hpp"

namespace vecclust {
namespace mt_detail {

// A zero-filled block of memory. On Linux it is mapped directly, aligned to 2 MiB and marked
// for transparent huge pages: searches read vectors scattered over the whole arena, and with
// 4 KiB pages nearly every one of them would also miss the TLB.
class ZeroedBlock {
  public:
    static constexpr size_t kHugePage = size_t(1) << 21;

    explicit ZeroedBlock(size_t bytes) : bytes_(bytes) {
#if defined(__linux__)
        const size_t mapped = bytes + kHugePage;
        void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        const auto start = reinterpret_cast<std::uintptr_t>(p);
        const std::uintptr_t aligned = (start + kHugePage - 1) & ~(static_cast<std::uintptr_t>(kHugePage) - 1);
        const std::uintptr_t end = start + mapped, aligned_end = aligned + bytes;
        if (aligned > start) munmap(p, aligned - start);
        if (end > aligned_end) munmap(reinterpret_cast<void*>(aligned_end), end - aligned_end);
        data_ = reinterpret_cast<unsigned char*>(aligned);
#if defined(MADV_HUGEPAGE)
        madvise(data_, bytes, MADV_HUGEPAGE);  // a hint: failure only costs speed
#endif
#else
        data_ = static_cast<unsigned char*>(::operator new[](bytes, std::align_val_t(64)));
        std::fill(data_, data_ + bytes, static_cast<unsigned char>(0));
#endif
    }
    ~ZeroedBlock() {
#if defined(__linux__)
        munmap(data_, bytes_);
#else
        ::operator delete[](data_, std::align_val_t(64));
#endif
    }
    ZeroedBlock(const ZeroedBlock&) = delete;
    ZeroedBlock& operator=(const ZeroedBlock&) = delete;

    unsigned char* data() const { return data_; }

  private:
    size_t bytes_;
    unsigned char* data_ = nullptr;
};

// No NaN or infinity among the n floats at x (on the bits: all exponent bits set).
inline bool all_finite(const float* x, index_t n) {
    std::uint32_t not_finite = 0;
    for (index_t j = 0; j < n; ++j) {
        std::uint32_t bits;
        std::memcpy(&bits, x + j, sizeof bits);
        not_finite |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    return !not_finite;
}

// What a scan needs to judge a vector from its code alone (see VectorStore::store_vector).
// All rounded outwards; see ProjectionFacts.
struct CodeBounds {
    float code_error;     // >= ||P x - decoded code||
    float residual_low;   // <= ||(I - Pi) x||
    float residual_high;  // >= ||(I - Pi) x||
    float norm;           // >= ||x||
    float half_slack;     // how far the high halves' scores may be from the exact ones (see first_pass_slack)
};

// The stored vectors: fixed-size blocks of slots, so growth never moves (or doubles) the data,
// and a slot's address is one shift and one mask away. A slot holds a header (the vector's
// projected code, its CodeBounds and its external id, in one cache line: a scan that reads the
// code has the id at hand, so results need no read elsewhere), then the high 16-bit halves of the
// padded row's floats, then the low halves (see lane_sums::from_halves): the floats' bytes, split so that
// each pass of a scan reads only what it needs.
class VectorArena {
  public:
    // sign_bytes: the sign code's line(s), after the first line, or 0 (see SignQuantizer).
    void init(index_t stride, size_t sign_bytes) {
        stride_ = stride;
        code_bytes_ = static_cast<size_t>(ProjectedQuantizer::kDims);
        label_offset_ = (code_bytes_ + sizeof(CodeBounds) + 7) / 8 * 8;
        sign_offset_ = (label_offset_ + sizeof(std::int64_t) + 63) / 64 * 64;
        header_bytes_ = sign_offset_ + sign_bytes;
        slot_bytes_ = header_bytes_ + static_cast<size_t>(stride) * sizeof(float);
        // Blocks of at least 4 MiB (whole huge pages for the common dimensions), 1024+ slots.
        block_shift_ = 10;
        while ((slot_bytes_ << block_shift_) < (size_t(1) << 22)) ++block_shift_;
        blocks_.clear();
    }
    void ensure(index_t n_slots) {
        while (static_cast<index_t>(blocks_.size() << block_shift_) < n_slots)
            blocks_.push_back(std::make_unique<ZeroedBlock>(slot_bytes_ << block_shift_));
    }
    // The slot's code (its header starts with it).
    const std::uint8_t* code(std::uint32_t slot) const {
        const size_t mask = (size_t(1) << block_shift_) - 1;
        return blocks_[slot >> block_shift_]->data() + (slot & mask) * slot_bytes_;
    }
    const CodeBounds& bounds(std::uint32_t slot) const { return *reinterpret_cast<const CodeBounds*>(code(slot) + code_bytes_); }
    // The vector's external id (0 in a free slot).
    std::int64_t label(std::uint32_t slot) const {
        std::int64_t value;
        std::memcpy(&value, code(slot) + label_offset_, sizeof value);
        return value;
    }
    void store_label(std::uint32_t slot, std::int64_t value) {
        std::memcpy(const_cast<std::uint8_t*>(code(slot)) + label_offset_, &value, sizeof value);
    }
    const unsigned char* sign_line(std::uint32_t slot) const { return code(slot) + sign_offset_; }
    // The high halves of the slot's row, followed by its low halves.
    const std::uint16_t* halves(std::uint32_t slot) const { return reinterpret_cast<const std::uint16_t*>(code(slot) + header_bytes_); }
    void store_header(std::uint32_t slot, const std::uint8_t* code_in, const CodeBounds& bounds_in) {
        auto* header = const_cast<std::uint8_t*>(code(slot));
        std::copy(code_in, code_in + code_bytes_, header);
        std::memcpy(header + code_bytes_, &bounds_in, sizeof bounds_in);
    }
    void store(std::uint32_t slot, const float* row) {  // row: stride floats
        auto* high = const_cast<std::uint16_t*>(halves(slot));
        for (index_t j = 0; j < stride_; ++j) {
            std::uint32_t bits;
            std::memcpy(&bits, row + j, sizeof bits);
            high[j] = static_cast<std::uint16_t>(bits >> 16);
            high[stride_ + j] = static_cast<std::uint16_t>(bits & 0xffffu);
        }
    }
    void load(std::uint32_t slot, float* row, index_t count) const {  // the first count floats
        const std::uint16_t* high = halves(slot);
        for (index_t j = 0; j < count; ++j) row[j] = lane_sums::from_halves(high[j], high[stride_ + j]);
    }
    void clear(std::uint32_t slot) {
        auto* header = const_cast<std::uint8_t*>(code(slot));
        std::fill(header, header + slot_bytes_, std::uint8_t(0));
    }
    size_t memory_bytes() const { return blocks_.size() * ((slot_bytes_ << block_shift_) + sizeof(ZeroedBlock)); }

  private:
    index_t stride_ = 0;
    size_t code_bytes_ = 0, label_offset_ = 0, sign_offset_ = 0, header_bytes_ = 0, slot_bytes_ = 0;
    int block_shift_ = 10;
    std::vector<std::unique_ptr<ZeroedBlock>> blocks_;
};

// The vectors by internal slot, with their codes, owners, leaves and access lists.
class VectorStore : public IndexSettings {
  protected:
    explicit VectorStore(const IndexOptions& options) : IndexSettings(options) { arena_.init(stride_, sign_line_bytes()); }

    // The arena's room for sign codes: none unless they are on (train() resolves "auto").
    size_t sign_line_bytes() const {
        return options_.sign_codes == SignCodes::on ? SignQuantizer::line_bytes_for(options_.dim) : 0;
    }

    // Stores a padded row (normalised already for cosine) in slot v, with its codes and bounds.
    void store_vector(std::uint32_t v, const float* row) {
        std::uint8_t code[ProjectedQuantizer::kDims];
        const mt_detail::CodeBounds bounds = encode(row, code);
        arena_.store(v, row);
        arena_.store_header(v, code, bounds);
        if (sign_.enabled()) sign_.encode(row, const_cast<unsigned char*>(arena_.sign_line(v)));
    }

    // The row's code and what a scan needs to judge the row from it (see code_lower_bounds).
    mt_detail::CodeBounds encode(const float* row, std::uint8_t* code) const {
        const ProjectionFacts f = quantizer_.encode(row, code);
        return {float_up(f.code_error), float_down(f.residual_low), float_up(f.residual_high), float_up(f.norm), first_pass_slack(row)};
    }

    // How far a first pass over the high halves can undercut the vector's exact score (see
    // FirstPassBound), rounded up: l2: r = ||x - high(x)||; ip and cosine: r plus the rounding
    // of both lane sums, gamma ||x|| each (|high(x)_j| <= |x_j|).
    float first_pass_slack(const float* row) const {
        double residual2 = 0.0, norm2 = 0.0;
        for (index_t j = 0; j < stride_; ++j) {
            std::uint32_t bits;
            std::memcpy(&bits, row + j, sizeof bits);
            const double x = row[j], high = lane_sums::from_halves(static_cast<std::uint16_t>(bits >> 16), 0);
            residual2 += (x - high) * (x - high);
            norm2 += x * x;
        }
        double slack = std::sqrt(residual2);
        if (options_.metric != IndexMetric::l2) slack += 2.0 * sum_rounding_ * std::sqrt(norm2);
        return float_up(slack * (1.0 + 1e-9));
    }

    // A slot as read from a file, before it is stored: a free slot is all zeros (free_slot()
    // clears it); a live one has an id >= 0 (add() refuses others) and a finite row of norm 1
    // for cosine (add() normalises). Throws CorruptIndex naming the field.
    void check_loaded_slot(std::uint32_t v, std::int64_t label, bool live, std::uint32_t leaf, const std::vector<std::uint32_t>& access,
                           const float* row) const {
        auto fail = [v](const std::string& what) { throw CorruptIndex("corrupt index: vector slot " + std::to_string(v) + " " + what); };
        const index_t d = options_.dim;
        if (!live) {
            if (label != 0 || leaf != 0 || !access.empty()) fail("is free but has an id, a leaf or an access list");
            for (index_t j = 0; j < d; ++j)
                if (row[j] != 0.0f || std::signbit(row[j])) fail("is free but holds a vector");
            return;
        }
        if (label < 0) fail("has the negative id " + std::to_string(label));
        if (!all_finite(row, d)) fail("(id " + std::to_string(label) + ") has a NaN or infinite coordinate");
        // add() refuses rows whose distances would overflow; a file must not smuggle one in.
        if (options_.metric != IndexMetric::cosine)
            for (index_t j = 0; j < d; ++j)
                if (std::fabs(row[j]) > largest_magnitude())
                    fail("(id " + std::to_string(label) + ") has a value above " + short_number(largest_magnitude()) +
                         ", the largest the index takes at dim=" + std::to_string(d));
        if (options_.metric == IndexMetric::cosine) {
            double norm2 = 0.0;
            for (index_t j = 0; j < d; ++j) norm2 += static_cast<double>(row[j]) * row[j];
            if (!(std::fabs(norm2 - 1.0) <= 1e-4)) fail("(id " + std::to_string(label) + ") is not normalised, as cosine stores vectors");
        }
    }

    std::uint32_t slot_or_throw(std::int64_t id) const {
        auto it = slot_of_.find(id);
        if (it == slot_of_.end()) throw UnknownId("id " + std::to_string(id) + " is not in the index");
        return it->second;
    }

    std::vector<std::uint32_t> slots_of(const std::int64_t* ids, index_t n) const {
        std::vector<std::uint32_t> slots(static_cast<size_t>(n));
        for (index_t i = 0; i < n; ++i) slots[static_cast<size_t>(i)] = slot_or_throw(ids[i]);
        return slots;
    }

    std::uint32_t allocate_slot() {
        if (!free_slots_.empty()) {
            const std::uint32_t v = free_slots_.back();
            free_slots_.pop_back();
            return v;
        }
        const auto v = static_cast<std::uint32_t>(owners_.size());
        arena_.ensure(static_cast<index_t>(v) + 1);
        owners_.push_back(kNone);
        leaves_.push_back(0);
        access_.emplace_back();
        return v;
    }

    // The slot's data is zeroed so a saved index never carries deleted vectors.
    void free_slot(std::uint32_t v) {
        slot_of_.erase(arena_.label(v));
        arena_.clear(v);
        owners_[v] = kNone;
        leaves_[v] = 0;
        std::vector<std::uint32_t>().swap(access_[v]);
        free_slots_.push_back(v);
        n_vectors_ -= 1;
    }

    VectorArena arena_;
    ProjectedQuantizer quantizer_;  // the basis and grids of the vectors' codes, fitted by train()
    SignQuantizer sign_;            // the centre and rotation of the sign codes, when they are on
    std::vector<std::uint32_t> owners_;  // kNone marks a free slot
    std::vector<std::uint32_t> leaves_;
    std::vector<std::vector<std::uint32_t>> access_;  // sorted internal tenant ids
    std::vector<std::uint32_t> free_slots_;
    std::unordered_map<std::int64_t, std::uint32_t> slot_of_;
    index_t n_vectors_ = 0;
};

}  // namespace mt_detail
}  // namespace vecclust
