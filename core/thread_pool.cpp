#include "core/thread_pool.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include "core/check.hpp"

namespace subq {

namespace {

thread_local bool inside_loop = false;  // set on threads running a part of a loop

// How long a thread spins before it sleeps, waiting for a loop to start or to finish. A decoding
// step runs some hundred short loops a few microseconds apart, and waking a sleeping thread costs
// tens of microseconds on a virtual machine (about a tenth of a 130M model's decoding time went to
// it); spinning much longer than those gaps would only keep a core busy.
constexpr auto kSpin = std::chrono::microseconds(100);

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until ready() or kSpin has passed; returns ready().
template <class Ready>
bool spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  do {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
  } while (std::chrono::steady_clock::now() < until);
  return ready();
}

}  // namespace

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
    stop_.store(true);
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
    const auto started = [&] {
      return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
    };
    if (!spin_until(started)) {
      std::unique_lock lock(mutex_);
      start_.wait(lock, started);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    if (worker < parts_) run_part(worker);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mutex_);  // a caller asleep on done_ checked pending_ under it
      done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1 || inside_loop) {
    fn(0, n);
    return;
  }
  std::lock_guard loop(loop_mutex_);
  fn_ = &fn;
  n_ = n;
  parts_ = int(std::min<std::int64_t>(n, size()));
  error_ = nullptr;
  pending_.store(int(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);  // a worker asleep on start_ checked generation_ under it
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_.notify_all();
  run_part(0);
  const auto finished = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(finished)) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, finished);
  }
  std::lock_guard lock(mutex_);
  if (error_) std::rethrow_exception(error_);
}

}  // namespace subq
