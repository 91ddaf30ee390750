// The emulated CUDA runtime, cuBLAS and cuFFT calls (see include/subq_cuda_emulation.hpp).
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <vector>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

#include "cublas_v2.h"
#include "cuda_runtime.h"
#include "cufft.h"

#if !defined(__x86_64__)
#error "the CUDA emulation switches fibers with x86-64 code"
#endif

// Saves the callee-saved registers on the running stack and its stack pointer in *from, then
// resumes the stack `to` (saved the same way, or laid out by initial_stack). swapcontext would do
// the same plus a system call for the signal mask, and ASan's interceptor of it clears the shadow
// of the whole target stack on every switch: together they were most of the emulation's time.
extern "C" void subq_emulation_switch(void** from, void* to);
asm(R"(
  .text
  .globl subq_emulation_switch
  .type subq_emulation_switch, @function
subq_emulation_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size subq_emulation_switch, .-subq_emulation_switch
)");

namespace subq_emulation {

namespace {

cudaError_t pending = cudaSuccess;
constexpr unsigned kMaxThreads = 1024;
constexpr std::size_t kStackBytes = 256 << 10;

// ASan must be told when the stack changes under it. A fiber's stack is reused by the next block's
// thread as it was left: every fiber runs to its end, so the frames it pushed have returned and
// unpoisoned their redzones.
#ifdef __SANITIZE_ADDRESS__
void start_switch(void** fake_stack, const void* bottom, std::size_t size) {
  __sanitizer_start_switch_fiber(fake_stack, bottom, size);
}
void finish_switch(void* fake_stack, const void** bottom, std::size_t* size) {
  __sanitizer_finish_switch_fiber(fake_stack, bottom, size);
}
#else
void start_switch(void**, const void*, std::size_t) {}
void finish_switch(void*, const void**, std::size_t*) {}
#endif

// A new fiber's stack: the first switch to it "returns" into entry (which must never return),
// with the stack aligned as after a call.
void* initial_stack(char* stack, std::size_t bytes, void (*entry)()) {
  void** sp = reinterpret_cast<void**>(reinterpret_cast<std::uintptr_t>(stack + bytes) & ~std::uintptr_t(15));
  *--sp = nullptr;                         // entry's return address
  *--sp = reinterpret_cast<void*>(entry);  // where subq_emulation_switch returns to
  for (int i = 0; i < 6; ++i) *--sp = nullptr;  // rbp, rbx, r12 to r15
  return sp;
}

struct Fiber {
  void* sp = nullptr;
  std::unique_ptr<char[]> stack{new char[kStackBytes]};
  bool done = false;
};

struct Scheduler {
  void* sp = nullptr;
  bool in_fiber = false;  // false: threads run as plain calls, one after another
  bool barrier_seen = false;
  const void* stack_bottom = nullptr;  // the scheduler's own stack, learnt by the first fiber
  std::size_t stack_size = 0;
  std::vector<Fiber> fibers;
  Fiber* running = nullptr;
  const std::function<void()>* body = nullptr;
};
Scheduler scheduler;

void fiber_entry() {
  finish_switch(nullptr, &scheduler.stack_bottom, &scheduler.stack_size);
  (*scheduler.body)();
  scheduler.running->done = true;
  start_switch(nullptr, scheduler.stack_bottom, scheduler.stack_size);  // this fiber ends
  subq_emulation_switch(&scheduler.running->sp, scheduler.sp);
}

// Resumes fiber i until it reaches a barrier or ends.
void resume(Fiber& fiber) {
  scheduler.running = &fiber;
  void* fake_stack = nullptr;
  start_switch(&fake_stack, fiber.stack.get(), kStackBytes);
  subq_emulation_switch(&scheduler.sp, fiber.sp);
  finish_switch(fake_stack, nullptr, nullptr);
}

void run_block(dim3 block, unsigned threads) {
  for (unsigned t = 0; t < threads; ++t) {
    Fiber& f = scheduler.fibers[t];
    f.done = false;
    f.sp = initial_stack(f.stack.get(), kStackBytes, fiber_entry);
  }
  for (unsigned alive = threads; alive > 0;) {
    alive = 0;
    for (unsigned t = 0; t < threads; ++t) {
      Fiber& f = scheduler.fibers[t];
      if (f.done) continue;
      thread_index = dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y));
      resume(f);
      alive += !f.done;
    }
  }
}

}  // namespace

void block_barrier() {
  if (!scheduler.in_fiber) {
    std::fprintf(stderr, "CUDA emulation: __syncthreads in a block of a launch whose first block had none\n");
    std::abort();
  }
  scheduler.barrier_seen = true;
  Fiber& self = *scheduler.running;
  void* fake_stack = nullptr;
  start_switch(&fake_stack, scheduler.stack_bottom, scheduler.stack_size);
  subq_emulation_switch(&self.sp, scheduler.sp);
  finish_switch(fake_stack, nullptr, nullptr);
}

void launch(dim3 grid, dim3 block, std::size_t, const std::function<void()>& body) {
  const unsigned threads = block.x * block.y * block.z, blocks = grid.x * grid.y * grid.z;
  if (threads == 0 || threads > kMaxThreads || blocks == 0 || grid.y > 65535 || grid.z > 65535) {
    pending = cudaErrorInvalidConfiguration;
    return;
  }
  grid_dim = grid;
  block_dim = block;
  scheduler.body = &body;
  if (scheduler.fibers.size() < threads) scheduler.fibers.resize(threads);
  // The first block runs as fibers; when none of its threads met a barrier, the others run their
  // threads as plain calls, one after another (most kernels are element-wise).
  scheduler.barrier_seen = false;
  for (unsigned b = 0; b < blocks; ++b) {
    block_index = dim3(b % grid.x, b / grid.x % grid.y, b / (grid.x * grid.y));
    if (b == 0 || scheduler.barrier_seen) {
      scheduler.in_fiber = true;
      run_block(block, threads);
      scheduler.in_fiber = false;
      continue;
    }
    for (unsigned t = 0; t < threads; ++t) {
      thread_index = dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y));
      body();
    }
  }
}

}  // namespace subq_emulation

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  std::snprintf(prop->name, sizeof prop->name, "CUDA emulated on the CPU");
  prop->major = 9, prop->minor = 0, prop->multiProcessorCount = 4;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr, int) {
  *value = 4;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaMalloc(void** ptr, std::size_t bytes) {
  *ptr = std::malloc(bytes ? bytes : 1);
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* ptr, int value, std::size_t bytes) {
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaGetLastError() {
  const cudaError_t e = subq_emulation::pending;
  subq_emulation::pending = cudaSuccess;
  return e;
}
const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
  }
  return "unknown error";
}

// ---- cuBLAS: C (m, n) = alpha op(A) op(B) + beta C, column-major.
cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = reinterpret_cast<cublasHandle_t>(1);
  return CUBLAS_STATUS_SUCCESS;
}
const char* cublasGetStatusString(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_INVALID_VALUE";
}
template <class T>
cublasStatus_t gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, T alpha, const T* A, int lda,
                    const T* B, int ldb, T beta, T* C, int ldc) {
  if (lda < (ta == CUBLAS_OP_N ? m : k) || ldb < (tb == CUBLAS_OP_N ? k : n) || ldc < m) return CUBLAS_STATUS_INVALID_VALUE;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      T sum = 0;
      for (int l = 0; l < k; ++l) {
        const T a = ta == CUBLAS_OP_N ? A[i + std::int64_t(l) * lda] : A[l + std::int64_t(i) * lda];
        const T b = tb == CUBLAS_OP_N ? B[l + std::int64_t(j) * ldb] : B[j + std::int64_t(l) * ldb];
        sum += a * b;
      }
      T& c = C[i + std::int64_t(j) * ldc];
      c = alpha * sum + (beta == T(0) ? T(0) : beta * c);
    }
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  return gemm(ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
}
cublasStatus_t cublasDgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double* alpha, const double* A, int lda, const double* B, int ldb, const double* beta,
                           double* C, int ldc) {
  return gemm(ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
}

// ---- cuFFT: rank-1 batched real transforms with the advanced layout.
namespace {
struct FftPlan {
  long long n = 0, istride = 1, idist = 0, ostride = 1, odist = 0, batch = 0;
  cufftType type{};
  bool made = false;
};
std::mutex fft_mutex;
std::map<int, FftPlan> fft_plans;
int next_plan = 0;  // the first handle is 0, as cuFFT's may be

FftPlan* plan_of(cufftHandle h) {
  std::lock_guard lock(fft_mutex);
  auto it = fft_plans.find(h);
  return it == fft_plans.end() || !it->second.made ? nullptr : &it->second;
}

// Forward: X[k] = sum_j x[j] e^{-2 pi i jk/n}, k <= n/2. Inverse (unnormalised): x[j] from the
// Hermitian extension of X, the edge bins' imaginary parts ignored.
template <class Real, class Cx>
cufftResult forward(const FftPlan& p, const Real* in, Cx* out) {
  const long long bins = p.n / 2 + 1;
  std::vector<std::complex<double>> row(bins);
  for (long long b = 0; b < p.batch; ++b) {
    for (long long k = 0; k < bins; ++k) {
      std::complex<double> s = 0;
      for (long long j = 0; j < p.n; ++j)
        s += double(in[b * p.idist + j * p.istride]) * std::polar(1.0, -2 * M_PI * double(j * k % p.n) / double(p.n));
      row[k] = s;
    }
    for (long long k = 0; k < bins; ++k) out[b * p.odist + k * p.ostride] = {decltype(Cx::x)(row[k].real()), decltype(Cx::x)(row[k].imag())};
  }
  return CUFFT_SUCCESS;
}
template <class Cx, class Real>
cufftResult inverse(const FftPlan& p, const Cx* in, Real* out) {
  const long long bins = p.n / 2 + 1;
  std::vector<double> row(p.n);
  for (long long b = 0; b < p.batch; ++b) {
    for (long long j = 0; j < p.n; ++j) {
      double s = 0;
      for (long long k = 0; k < bins; ++k) {
        const Cx c = in[b * p.idist + k * p.istride];
        const bool edge = k == 0 || 2 * k == p.n;
        const std::complex<double> term = std::complex<double>(c.x, edge ? 0.0 : c.y) *
                                          std::polar(1.0, 2 * M_PI * double(j * k % p.n) / double(p.n));
        s += (edge ? 1.0 : 2.0) * term.real();
      }
      row[j] = s;
    }
    for (long long j = 0; j < p.n; ++j) out[b * p.odist + j * p.ostride] = Real(row[j]);
  }
  return CUFFT_SUCCESS;
}
template <class F>
cufftResult run(cufftHandle h, cufftType type, F f) {
  const FftPlan* p = plan_of(h);
  if (!p) return CUFFT_INVALID_PLAN;
  if (p->type != type) return CUFFT_INVALID_VALUE;
  return f(*p);
}
}  // namespace

cufftResult cufftCreate(cufftHandle* plan) {
  std::lock_guard lock(fft_mutex);
  *plan = next_plan++;
  fft_plans[*plan] = {};
  return CUFFT_SUCCESS;
}
cufftResult cufftDestroy(cufftHandle plan) {
  std::lock_guard lock(fft_mutex);
  return fft_plans.erase(plan) ? CUFFT_SUCCESS : CUFFT_INVALID_PLAN;
}
cufftResult cufftMakePlanMany64(cufftHandle plan, int rank, long long* n, long long* inembed, long long istride,
                                long long idist, long long* onembed, long long ostride, long long odist, cufftType type,
                                long long batch, std::size_t* work_size) {
  std::lock_guard lock(fft_mutex);
  auto it = fft_plans.find(plan);
  if (it == fft_plans.end()) return CUFFT_INVALID_PLAN;
  if (rank != 1 || n[0] < 1 || batch < 1) return CUFFT_INVALID_VALUE;
  const long long bins = n[0] / 2 + 1;
  const bool forward = type == CUFFT_R2C || type == CUFFT_D2Z;
  // Without embeds the data are packed; with them, distances are the caller's.
  FftPlan& p = it->second;
  p = {n[0], inembed ? istride : 1, inembed ? idist : (forward ? n[0] : bins), onembed ? ostride : 1,
       onembed ? odist : (forward ? bins : n[0]), batch, type, true};
  *work_size = 0;
  return CUFFT_SUCCESS;
}
cufftResult cufftExecR2C(cufftHandle h, float* in, cufftComplex* out) {
  return run(h, CUFFT_R2C, [&](const FftPlan& p) { return forward(p, in, out); });
}
cufftResult cufftExecD2Z(cufftHandle h, double* in, cufftDoubleComplex* out) {
  return run(h, CUFFT_D2Z, [&](const FftPlan& p) { return forward(p, in, out); });
}
cufftResult cufftExecC2R(cufftHandle h, cufftComplex* in, float* out) {
  return run(h, CUFFT_C2R, [&](const FftPlan& p) { return inverse(p, in, out); });
}
cufftResult cufftExecZ2D(cufftHandle h, cufftDoubleComplex* in, double* out) {
  return run(h, CUFFT_Z2D, [&](const FftPlan& p) { return inverse(p, in, out); });
}
