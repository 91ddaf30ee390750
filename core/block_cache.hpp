#pragma once
// Internal: freed memory blocks kept by (device, rounded size) and handed out again, for the
// tensors' storage on every device. A fresh block costs more than its use in small steps: a
// cudaMalloc synchronises the device, and fresh host pages fault in one by one (a 4 MiB decoding
// state paid 1024 page faults per token). Sizes are rounded (512 bytes below 1 MiB, 2 MiB
// above) so that similar requests share blocks.
#include <algorithm>
#include <cstddef>
#include <map>
#include <mutex>
#include <utility>

namespace subq::detail {

class BlockCache {
 public:
  using FreeBlock = void (*)(void* ptr, int device);

  /// free_block returns a block to the system; the cache holds at most max_held bytes and frees
  /// what a full cache is given.
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
    void* ptr = it->second;
    free_.erase(it);
    held_ -= size;
    return ptr;
  }

  void give(void* ptr, std::size_t size, int device) noexcept {
    {
      const std::lock_guard lock(mutex_);
      if (held_ + size <= max_held_) {
        free_.emplace(std::pair{device, size}, ptr);
        held_ += size;
        return;
      }
    }
    free_block_(ptr, device);
  }

  /// Frees every kept block.
  void release() noexcept {
    const std::lock_guard lock(mutex_);
    for (const auto& [key, ptr] : free_) free_block_(ptr, key.first);
    free_.clear();
    held_ = 0;
  }

 private:
  FreeBlock free_block_;
  std::size_t max_held_;
  std::size_t held_ = 0;
  std::mutex mutex_;
  std::multimap<std::pair<int, std::size_t>, void*> free_;
};

}  // namespace subq::detail
