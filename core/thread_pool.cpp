#include "core/thread_pool.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/check.hpp"

namespace subq {

namespace {
thread_local bool inside_loop = false;  // set on threads running a part of a loop
}

int threads_from_env(const char* value) {
  if (value == nullptr || *value == '\0') return std::max(1u, std::thread::hardware_concurrency());
  const std::string text(value);
  SUBQ_CHECK(text.size() <= 4 && text.find_first_not_of("0123456789") == std::string::npos && std::stoi(text) > 0,
             "SUBQ_NUM_THREADS='{}': expected a positive integer", text);
  return std::stoi(text);
}

ThreadPool::ThreadPool(int threads) {
  SUBQ_CHECK(threads >= 1, "ThreadPool: expected at least 1 thread, found {}", threads);
  for (int w = 1; w < threads; ++w) workers_.emplace_back([this, w] { worker_loop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  start_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(threads_from_env(std::getenv("SUBQ_NUM_THREADS")));
  return pool;
}

void ThreadPool::run_part(int part) {
  const std::int64_t begin = n_ * part / parts_, end = n_ * (part + 1) / parts_;
  if (begin == end) return;
  inside_loop = true;
  try {
    (*fn_)(begin, end);
  } catch (...) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
  inside_loop = false;
}

void ThreadPool::worker_loop(int worker) {
  std::uint64_t seen = 0;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    if (worker < parts_) run_part(worker);
    std::lock_guard lock(mutex_);
    if (--pending_ == 0) done_.notify_one();
  }
}

void ThreadPool::parallel_for(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1 || inside_loop) {
    fn(0, n);
    return;
  }
  std::lock_guard loop(loop_mutex_);
  {
    std::lock_guard lock(mutex_);
    fn_ = &fn;
    n_ = n;
    parts_ = int(std::min<std::int64_t>(n, size()));
    pending_ = int(workers_.size());
    error_ = nullptr;
    ++generation_;
  }
  start_.notify_all();
  run_part(0);
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  if (error_) std::rethrow_exception(error_);
}

}  // namespace subq
