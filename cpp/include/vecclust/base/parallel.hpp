// A persistent thread pool for one computation. Work is handed out as numbered tasks; callers
// make results independent of the thread count by giving every task a fixed piece of work
// and combining per-task results in task order (never in completion order).
#pragma once

#include <algorithm>           // std::min
#include <atomic>              // std::atomic
#include <chrono>              // std::chrono::steady_clock
#include <condition_variable>  // std::condition_variable
#include <exception>           // std::exception_ptr
#include <mutex>               // std::mutex
#include <stdexcept>           // std::runtime_error
#include <string>              // std::to_string
#include <system_error>        // std::system_error
#include <thread>              // std::thread
#include <vector>              // std::vector

#include "vecclust/base/common.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>  // _mm_pause
#define VECCLUST_CPU_RELAX() _mm_pause()
#else
#define VECCLUST_CPU_RELAX() std::this_thread::yield()
#endif

namespace vecclust {

class ThreadPool {
  public:
    // `control.n_threads()` threads take part: the caller plus n_threads - 1 workers.
    // When the system cannot start a thread (a memory or process limit), the ones already
    // started are stopped and joined before the error is thrown, so nothing is left running.
    explicit ThreadPool(Control& control) : control_(control) {
        const int n_workers = control.n_threads() - 1;
        try {
            workers_.reserve(static_cast<size_t>(n_workers));
            for (int w = 0; w < n_workers; ++w) workers_.emplace_back([this, w] { worker_loop(w + 1); });
        } catch (const std::system_error& error) {
            const size_t started = workers_.size();
            stop_workers();
            throw std::runtime_error("could not start " + std::to_string(n_workers + 1) + " threads (started " +
                                     std::to_string(started + 1) + ": " + error.what() + "); use a smaller n_threads");
        }
    }

    ~ThreadPool() { stop_workers(); }

    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }
    Control& control() { return control_; }

    // Calls task(i, thread_id) for every i in [0, n_tasks), thread_id in [0, size()). The calling
    // thread takes part and polls for interruption between its tasks. The first exception,
    // from any thread, stops the tasks not yet started and is rethrown here.
    //
    // Workers join a job only while it is open; once the caller has claimed the last task it
    // closes the job and waits just for the workers that joined, so a worker that is asleep
    // or descheduled (busy machine) never delays the caller.
    template <class Task>
    void run(index_t n_tasks, Task&& task) {
        if (n_tasks <= 0) return;
        if (workers_.empty() || n_tasks == 1) {
            for (index_t i = 0; i < n_tasks; ++i) {
                task(i, 0);
                control_.poll();
            }
            return;
        }
        job_context_ = &task;
        job_ = [](void* context, index_t i, int thread_id) { (*static_cast<Task*>(context))(i, thread_id); };
        n_tasks_ = n_tasks;
        next_task_.store(0, std::memory_order_relaxed);
        failed_.store(false, std::memory_order_relaxed);
        finished_workers_.store(0, std::memory_order_relaxed);
        error_ = nullptr;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            generation_ += 1;
            state_.store(generation_ << 32, std::memory_order_release);  // open, nobody joined
        }
        if (sleeping_.load(std::memory_order_acquire) > 0) wake_.notify_all();

        try {
            for (;;) {
                if (failed_.load(std::memory_order_relaxed)) break;
                const index_t i = next_task_.fetch_add(1, std::memory_order_relaxed);
                if (i >= n_tasks) break;
                task(i, 0);
                control_.poll();
            }
        } catch (...) {
            record_error(std::current_exception());
        }
        const std::uint64_t closed = state_.fetch_or(kClosed, std::memory_order_acq_rel);
        const auto joined = static_cast<int>(closed & kJoinedMask);
        for (int spins = 0; finished_workers_.load(std::memory_order_acquire) < joined; ++spins) {
            if (spins < 4096) VECCLUST_CPU_RELAX();
            else std::this_thread::yield();
        }
        if (error_) std::rethrow_exception(error_);
    }

    // Calls body(begin, end, chunk) over [0, n) cut into chunks of `chunk_size`. The chunks do
    // not depend on the thread count, so per-chunk partial results combined in chunk order are
    // identical for every thread count.
    template <class Body>
    void for_chunks(index_t n, index_t chunk_size, Body&& body) {
        const index_t n_chunks = (n + chunk_size - 1) / chunk_size;
        run(n_chunks, [&](index_t c, int) { body(c * chunk_size, std::min(n, (c + 1) * chunk_size), c); });
    }

  private:
    void stop_workers() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            shutdown_ = true;
            shutdown_flag_.store(true);
        }
        wake_.notify_all();
        for (auto& worker : workers_) worker.join();
        workers_.clear();
    }

    void record_error(std::exception_ptr error) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!error_) error_ = error;
        failed_.store(true, std::memory_order_relaxed);
    }

    void worker_loop(int thread_id) {
        std::uint64_t seen = 0;
        for (;;) {
            // Spin briefly (the caller usually hands out the next job within microseconds),
            // then sleep so idle workers do not burn a core.
            auto spin_start = std::chrono::steady_clock::now();
            for (int spins = 0; (state_.load(std::memory_order_acquire) >> 32) == seen && !shutdown_flag_.load(); ++spins) {
                VECCLUST_CPU_RELAX();
                if ((spins & 255) == 255 &&
                    std::chrono::steady_clock::now() - spin_start > std::chrono::microseconds(200)) {
                    std::unique_lock<std::mutex> lock(mutex_);
                    sleeping_.fetch_add(1, std::memory_order_acq_rel);
                    wake_.wait(lock, [&] { return (state_.load(std::memory_order_acquire) >> 32) != seen || shutdown_; });
                    sleeping_.fetch_sub(1, std::memory_order_acq_rel);
                    break;
                }
            }
            if (shutdown_flag_.load()) return;
            std::uint64_t current = state_.load(std::memory_order_acquire);
            seen = current >> 32;
            // Join the job unless it is already closed (or replaced by a newer one).
            bool joined = false;
            while ((current >> 32) == seen && !(current & kClosed)) {
                if (state_.compare_exchange_weak(current, current + 1, std::memory_order_acq_rel)) {
                    joined = true;
                    break;
                }
            }
            if (!joined) continue;
            try {
                for (;;) {
                    if (failed_.load(std::memory_order_relaxed)) break;
                    const index_t i = next_task_.fetch_add(1, std::memory_order_relaxed);
                    if (i >= n_tasks_) break;
                    job_(job_context_, i, thread_id);
                }
            } catch (...) {
                record_error(std::current_exception());
            }
            finished_workers_.fetch_add(1, std::memory_order_acq_rel);
        }
    }

    static constexpr std::uint64_t kClosed = std::uint64_t(1) << 31;
    static constexpr std::uint64_t kJoinedMask = kClosed - 1;

    Control& control_;
    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool shutdown_ = false;

    void* job_context_ = nullptr;
    void (*job_)(void*, index_t, int) = nullptr;
    index_t n_tasks_ = 0;

    std::uint64_t generation_ = 0;  // written by the caller only
    // The current job: generation in the high 32 bits, kClosed, and the count of workers that
    // joined in the low bits.
    alignas(64) std::atomic<std::uint64_t> state_{0};
    alignas(64) std::atomic<index_t> next_task_{0};
    alignas(64) std::atomic<int> finished_workers_{0};
    std::atomic<bool> shutdown_flag_{false};
    alignas(64) std::atomic<int> sleeping_{0};
    std::atomic<bool> failed_{false};
    std::mutex error_mutex_;
    std::exception_ptr error_;
};

}  // namespace vecclust
