#pragma once
// A fixed pool of CPU threads for data-parallel loops. The calling thread takes part in the work.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace subq {

class ThreadPool {
 public:
  /// threads: how many threads work on a loop, the caller included (at least 1).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  /// Splits [0, n) into at most size() contiguous ranges and runs fn(begin, end) on each,
  /// concurrently; returns when all are done and rethrows the first exception. A call made from
  /// inside a running loop runs serially on the calling thread.
  void parallel_for(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn);

  /// The process-wide pool: SUBQ_NUM_THREADS threads, else one per hardware thread.
  static ThreadPool& global();

 private:
  void worker_loop(int worker);
  void run_part(int part);

  std::vector<std::thread> workers_;
  std::mutex loop_mutex_;  // one loop at a time
  // Threads spin on the atomics a while before sleeping on the condition variables (thread_pool.cpp).
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  const std::function<void(std::int64_t, std::int64_t)>* fn_ = nullptr;
  std::int64_t n_ = 0;
  int parts_ = 0;
  std::atomic<int> pending_ = 0;               // workers yet to finish the loop
  std::atomic<std::uint64_t> generation_ = 0;  // loops started
  std::atomic<bool> stop_ = false;
  std::exception_ptr error_;
};

/// Threads for the global pool from the SUBQ_NUM_THREADS value (nullptr: unset); throws
/// subq::Error on anything but a positive integer.
int threads_from_env(const char* value);

}  // namespace subq
