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
#include <thread>              // std::thread
#include <vector>              // std::vector

#include "vecclust/common.hpp"

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
    explicit ThreadPool(Control& control) : control_(control) {
        const int n_workers = control.n_threads() - 1;
        workers_.reserve(static_cast<size_t>(n_workers));
        for (int w = 0; w < n_workers; ++w) workers_.emplace_back([this, w] { worker_loop(w + 1); });
    }

    ~ThreadPool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            shutdown_ = true;
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        for (auto& worker : workers_) worker.join();
    }

    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }
    Control& control() { return control_; }

    // Calls task(i, thread_id) for every i in [0, n_tasks), thread_id in [0, size()). The calling
    // thread takes part and polls for interruption between its tasks. The first exception,
    // from any thread, stops the tasks not yet started and is rethrown here.
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
        error_ = nullptr;
        busy_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            generation_.fetch_add(1, std::memory_order_release);
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
        while (busy_workers_.load(std::memory_order_acquire) > 0) VECCLUST_CPU_RELAX();
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
    void record_error(std::exception_ptr error) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!error_) error_ = error;
        failed_.store(true, std::memory_order_relaxed);
    }

    void worker_loop(int thread_id) {
        std::uint64_t seen = 0;
        for (;;) {
            // Spin briefly (the caller usually hands out the next batch within microseconds),
            // then sleep so idle workers do not burn a core.
            auto spin_start = std::chrono::steady_clock::now();
            for (int spins = 0; generation_.load(std::memory_order_acquire) == seen; ++spins) {
                VECCLUST_CPU_RELAX();
                if ((spins & 255) == 255 &&
                    std::chrono::steady_clock::now() - spin_start > std::chrono::microseconds(200)) {
                    std::unique_lock<std::mutex> lock(mutex_);
                    sleeping_.fetch_add(1, std::memory_order_acq_rel);
                    wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
                    sleeping_.fetch_sub(1, std::memory_order_acq_rel);
                    break;
                }
            }
            seen = generation_.load(std::memory_order_acquire);
            if (shutdown_) return;
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
            busy_workers_.fetch_sub(1, std::memory_order_acq_rel);
        }
    }

    Control& control_;
    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool shutdown_ = false;

    void* job_context_ = nullptr;
    void (*job_)(void*, index_t, int) = nullptr;
    index_t n_tasks_ = 0;

    alignas(64) std::atomic<std::uint64_t> generation_{0};
    alignas(64) std::atomic<index_t> next_task_{0};
    alignas(64) std::atomic<int> busy_workers_{0};
    alignas(64) std::atomic<int> sleeping_{0};
    std::atomic<bool> failed_{false};
    std::mutex error_mutex_;
    std::exception_ptr error_;
};

}  // namespace vecclust
