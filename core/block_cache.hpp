#pragma once
// Internal: freed memory blocks kept by (device, rounded size) and handed out again, for the
// tensors' storage on every device. A fresh block costs more than its use in small steps: a
// cudaMalloc synchronises the device, and fresh host pages fault in one by one (a 4 MiB decoding
// state paid 1024 page faults per token). Sizes are rounded (512 bytes below 1 MiB, 2 MiB
// above) so that similar requests share blocks.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace subq::detail {

class BlockCache {
 public:
  using FreeBlock = void (*)(void* ptr, int device);

  /// free_block returns a block to the system; the cache holds at most max_held bytes. A block
  /// given to a full cache takes the place of the longest kept ones: a loop asks again for the
  /// sizes it has just freed, while what filled the cache may never be asked for again (at L = 16K
  /// a short convolution's 128 MiB output came fresh, 65536 page faults, on every call, because a
  /// benchmark's 256 MiB buffers filled the cache first).
  BlockCache(FreeBlock free_block, std::size_t max_held) : free_block_(free_block), max_held_(max_held) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  static std::size_t rounded(std::size_t bytes) {
    const std::size_t unit = bytes < (1u << 20) ? 512 : (2u << 20);
    return (std::max<std::size_t>(bytes, 1) + unit - 1) / unit * unit;
  }

  /// A kept block of exactly `size` (rounded) bytes, or nullptr.
  void* take(std::size_t size, int device) {
    const std::lock_guard lock(mutex_);
    const auto it = free_.find({device, size});
    if (it == free_.end()) return nullptr;
    void* ptr = it->second.ptr;
    forget(it);
    return ptr;
  }

  void give(void* ptr, std::size_t size, int device) noexcept {
    std::vector<std::pair<void*, int>> evicted;
    {
      const std::lock_guard lock(mutex_);
      if (size <= max_held_) {
        while (held_ + size > max_held_) {
          const auto oldest = by_age_.begin()->second;
          evicted.emplace_back(oldest->second.ptr, oldest->first.first);
          forget(oldest);
        }
        by_age_.emplace(next_age_, free_.emplace(std::pair{device, size}, Kept{ptr, next_age_}));
        ++next_age_;
        held_ += size;
      } else {
        evicted.emplace_back(ptr, device);
      }
    }
    for (const auto& [block, on] : evicted) free_block_(block, on);
  }

  /// Frees every kept block.
  void release() noexcept {
    const std::lock_guard lock(mutex_);
    for (const auto& [key, kept] : free_) free_block_(kept.ptr, key.first);
    free_.clear();
    by_age_.clear();
    held_ = 0;
  }

  /// Bytes kept.
  std::size_t held() const {
    const std::lock_guard lock(mutex_);
    return held_;
  }

 private:
  struct Kept {
    void* ptr;
    std::uint64_t age;  // the order in which blocks were given
  };
  using Blocks = std::multimap<std::pair<int, std::size_t>, Kept>;  // by (device, size)

  void forget(Blocks::iterator it) {
    held_ -= it->first.second;
    by_age_.erase(it->second.age);
    free_.erase(it);
  }

  FreeBlock free_block_;
  std::size_t max_held_;
  std::size_t held_ = 0;
  std::uint64_t next_age_ = 0;
  mutable std::mutex mutex_;
  Blocks free_;
  std::map<std::uint64_t, Blocks::iterator> by_age_;
};

}  // namespace subq::detail
