// Types and small utilities shared by every algorithm in the core.
#pragma once

#include <chrono>      // std::chrono::steady_clock
#include <cstdint>     // std::int64_t
#include <functional>  // std::function
#include <stdexcept>   // std::invalid_argument
#include <string>      // std::string

namespace vecclust {

// Sample indices. 64-bit so that n * n offsets never overflow.
using index_t = std::int64_t;

// Thrown by a Control hook when the user asked to stop (Ctrl-C). The binding turns it back
// into the pending Python exception.
struct Interrupted : std::exception {
    const char* what() const noexcept override { return "interrupted"; }
};

inline void require(bool condition, const std::string& message) {
    if (!condition) throw std::invalid_argument(message);
}

// Run-time controls every long computation receives: the thread count, a hook that is called
// from the calling thread at most every 50 ms to let the user interrupt, and an optional sink
// for progress messages (verbose mode).
class Control {
  public:
    explicit Control(int n_threads = 1, std::function<void()> interrupt_hook = {},
                     std::function<void(const std::string&)> progress = {})
        : n_threads_(n_threads < 1 ? 1 : n_threads), hook_(std::move(interrupt_hook)), progress_(std::move(progress)),
          last_poll_(std::chrono::steady_clock::now()) {}

    int n_threads() const { return n_threads_; }
    bool verbose() const { return static_cast<bool>(progress_); }

    // Call from the calling thread only.
    void report(const std::string& message) {
        if (progress_) progress_(message);
    }

    // Cheap enough to call once per candidate: it reads the clock and only runs the hook
    // (which takes the GIL in the binding) every 50 ms.
    void poll() {
        if (!hook_) return;
        auto now = std::chrono::steady_clock::now();
        if (now - last_poll_ < std::chrono::milliseconds(50)) return;
        last_poll_ = now;
        hook_();
    }

  private:
    int n_threads_;
    std::function<void()> hook_;
    std::function<void(const std::string&)> progress_;
    std::chrono::steady_clock::time_point last_poll_;
};

}  // namespace vecclust
