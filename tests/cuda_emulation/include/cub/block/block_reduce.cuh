#pragma once
// Emulated cub::BlockReduce (tests/cuda_emulation): the sum, valid in thread 0 as CUB's is.
#include "../../subq_cuda_emulation.hpp"

namespace cub {

template <class T, int kThreads>
class BlockReduce {
 public:
  struct TempStorage {
    T values[kThreads];
  };
  explicit BlockReduce(TempStorage& storage) : storage_(storage) {}
  T Sum(T x) {
    storage_.values[threadIdx.x] = x;
    __syncthreads();
    T total = T(0);
    if (threadIdx.x == 0)
      for (unsigned i = 0; i < blockDim.x; ++i) total += storage_.values[i];
    __syncthreads();
    return total;
  }

 private:
  TempStorage& storage_;
};

}  // namespace cub
