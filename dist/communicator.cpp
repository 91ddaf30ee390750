#include "dist/communicator.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "core/check.hpp"
#include "core/dtype.hpp"
#include "subq/version.hpp"

#if SUBQ_WITH_MPI
// The C interface only: MPI's deprecated C++ bindings would add a library to link.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace subq::dist {

namespace {

// The largest piece one MPI call moves: MPI counts are ints, so a message of more than 2 GiB
// (a long prefix's keys and values) goes as several.
constexpr std::size_t kPieceBytes = std::size_t(1) << 30;

// MPI guarantees tags up to 32767; the tag space of each logical message is doubled so that its
// size header and its pieces cannot be taken for another message's.
constexpr int kMaxTag = 32767;

double timeout_from_environment() {
  const char* text = std::getenv("SUBQ_DIST_TIMEOUT");
  if (!text || !*text) return 300;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  SUBQ_CHECK(end && *end == '\0' && seconds > 0 && seconds < 1e9,
             "SUBQ_DIST_TIMEOUT={}: expected the seconds an operation may wait for its peers, > 0", text);
  return seconds;
}

// The byte layout of one tensor in a message: defined, dtype, device kind, device index, rank,
// the extents (int64 each), then the elements as stored.
void append(std::vector<std::byte>& out, const void* data, std::size_t n) {
  const auto* p = static_cast<const std::byte*>(data);
  out.insert(out.end(), p, p + n);
}

void append_tensor(std::vector<std::byte>& out, const Tensor& t) {
  const std::uint8_t defined = t.defined() ? 1 : 0;
  append(out, &defined, 1);
  if (!defined) return;
  const Tensor host = t.to(Device::cpu()).contiguous();
  const std::uint8_t header[4] = {std::uint8_t(t.dtype()), std::uint8_t(t.device().kind),
                                  std::uint8_t(t.device().index), std::uint8_t(t.dim())};
  append(out, header, sizeof header);
  for (const std::int64_t extent : t.shape()) append(out, &extent, sizeof extent);
  append(out, host.raw_data(), storage_bytes(t.dtype(), t.numel()));
}

class Reader {
 public:
  Reader(std::span<const std::byte> bytes, int from) : bytes_(bytes), from_(from) {}
  bool done() const { return at_ == bytes_.size(); }
  void read(void* out, std::size_t n) {
    SUBQ_CHECK(n <= bytes_.size() - at_, "dist: the message from rank {} ends inside a tensor ({} bytes short)", from_,
               n - (bytes_.size() - at_));
    std::memcpy(out, bytes_.data() + at_, n);
    at_ += n;
  }
  Tensor tensor() {
    std::uint8_t defined = 0;
    read(&defined, 1);
    if (!defined) return {};
    std::uint8_t header[4];
    read(header, sizeof header);
    SUBQ_CHECK(header[0] <= std::uint8_t(DType::Q4_0) && header[1] <= std::uint8_t(DeviceKind::CUDA),
               "dist: the message from rank {} holds a tensor of unknown dtype {} or device {}", from_, header[0],
               header[1]);
    Shape shape(header[3]);
    std::int64_t numel = 1;
    for (std::int64_t& extent : shape) {
      read(&extent, sizeof extent);
      SUBQ_CHECK(extent >= 0 && (extent == 0 || numel <= std::int64_t(bytes_.size()) / extent),
                 "dist: the message from rank {} holds a tensor of extents {}, more than its {} bytes", from_,
                 to_string(shape), bytes_.size());
      numel *= extent;
    }
    Tensor host = Tensor::empty(shape, DType(header[0]));
    read(host.raw_data(), storage_bytes(host.dtype(), host.numel()));
    const Device device{DeviceKind(header[1]), header[2]};
    return device.is_cuda() ? host.to(device) : host;
  }

 private:
  std::span<const std::byte> bytes_;
  std::size_t at_ = 0;
  int from_;
};

}  // namespace

#if SUBQ_WITH_MPI

namespace {

bool started_by_mpi_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "SLURM_PROCID"})
    if (std::getenv(name)) return true;
  return false;
}

bool mpi_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

// Polls requests until all complete or `seconds` pass; returns whether they completed. Polling
// (not MPI_Waitall) is what lets a wait give up; the sleep grows to 200 us so that an idle rank
// waiting on a slower one does not spin a core the others compute on.
bool wait_all(std::vector<MPI_Request>& requests, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  auto nap = std::chrono::microseconds(1);
  for (;;) {
    int done = 0;
    MPI_Testall(int(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE);
    if (done) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(200));
  }
}

void cancel(std::vector<MPI_Request>& requests) {
  for (MPI_Request& r : requests)
    if (r != MPI_REQUEST_NULL) MPI_Cancel(&r), MPI_Request_free(&r);
}

}  // namespace

struct Communicator::Pending {
  std::uint64_t size;
  std::vector<std::byte> bytes;
  std::vector<MPI_Request> requests;
  int to, tag;
};

Communicator::Communicator() : timeout_seconds_(timeout_from_environment()) {
  if (!started_by_mpi_launcher()) return;
  if (!mpi_running()) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    // Errors come back as return codes, not as MPI's default abort, so they can be reported.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

Communicator::~Communicator() {
  if (!mpi_running()) return;
  try {
    flush();
  } catch (const Error& e) {
    std::fprintf(stderr, "subq: %s\n", e.what());
  }
  MPI_Finalize();
}

void Communicator::send_bytes(std::vector<std::byte> bytes, int to, int tag) {
  auto p = std::make_unique<Pending>(Pending{bytes.size(), std::move(bytes), {}, to, tag});
  p->requests.emplace_back();
  MPI_Isend(&p->size, 1, MPI_UINT64_T, to, 2 * tag, MPI_COMM_WORLD, &p->requests.back());
  for (std::size_t at = 0; at < p->bytes.size(); at += kPieceBytes) {
    p->requests.emplace_back();
    MPI_Isend(p->bytes.data() + at, int(std::min(kPieceBytes, p->bytes.size() - at)), MPI_BYTE, to, 2 * tag + 1,
              MPI_COMM_WORLD, &p->requests.back());
  }
  pending_.push_back(std::move(p));
}

std::vector<std::byte> Communicator::receive_bytes(int from, int tag) {
  std::uint64_t size = 0;
  std::vector<MPI_Request> requests(1);
  MPI_Irecv(&size, 1, MPI_UINT64_T, from, 2 * tag, MPI_COMM_WORLD, requests.data());
  const auto give_up = [&] {
    cancel(requests);
    SUBQ_FAIL(
        "dist: rank {}: no message from rank {} (tag {}) within {} s: did it fail, or take another path? "
        "(SUBQ_DIST_TIMEOUT sets the wait)",
        rank_, from, tag, timeout_seconds_);
  };
  if (!wait_all(requests, timeout_seconds_)) give_up();
  std::vector<std::byte> bytes(size);
  requests.clear();
  for (std::size_t at = 0; at < bytes.size(); at += kPieceBytes) {
    requests.emplace_back();
    MPI_Irecv(bytes.data() + at, int(std::min(kPieceBytes, bytes.size() - at)), MPI_BYTE, from, 2 * tag + 1,
              MPI_COMM_WORLD, &requests.back());
  }
  if (!wait_all(requests, timeout_seconds_)) give_up();
  return bytes;
}

void Communicator::collect_finished_sends() {
  std::erase_if(pending_, [](const std::unique_ptr<Pending>& p) {
    int done = 0;
    MPI_Testall(int(p->requests.size()), p->requests.data(), &done, MPI_STATUSES_IGNORE);
    return done != 0;
  });
}

void Communicator::flush() {
  for (const std::unique_ptr<Pending>& p : pending_)
    SUBQ_CHECK(wait_all(p->requests, timeout_seconds_),
               "dist: rank {}: rank {} has not taken the message sent to it under tag {} within {} s: did it fail, "
               "or take another path? (SUBQ_DIST_TIMEOUT sets the wait)",
               rank_, p->to, p->tag, timeout_seconds_);
  pending_.clear();
}

std::vector<std::vector<double>> Communicator::all_gather(std::span<const double> values) {
  if (size_ == 1) return {std::vector<double>(values.begin(), values.end())};
  const auto wait = [&](MPI_Request& r, const char* what) {
    std::vector<MPI_Request> one{r};
    SUBQ_CHECK(wait_all(one, timeout_seconds_),
               "dist: rank {}: not every rank of {} reached the {} within {} s: did one fail, or take another path? "
               "(SUBQ_DIST_TIMEOUT sets the wait)",
               rank_, size_, what, timeout_seconds_);
  };
  const int count = int(values.size());
  std::vector<int> counts(static_cast<std::size_t>(size_)), offsets(static_cast<std::size_t>(size_));
  MPI_Request r;
  MPI_Iallgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD, &r);
  wait(r, "gather of lengths");
  for (std::size_t i = 1; i < counts.size(); ++i) offsets[i] = offsets[i - 1] + counts[i - 1];
  std::vector<double> all(std::size_t(offsets.back() + counts.back()));
  MPI_Iallgatherv(values.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE,
                  MPI_COMM_WORLD, &r);
  wait(r, "gather of values");
  std::vector<std::vector<double>> by_rank;
  for (std::size_t i = 0; i < counts.size(); ++i)
    by_rank.emplace_back(all.begin() + offsets[i], all.begin() + offsets[i] + counts[i]);
  return by_rank;
}

void Communicator::barrier() {
  if (size_ == 1) return;
  std::vector<MPI_Request> r(1);
  MPI_Ibarrier(MPI_COMM_WORLD, r.data());
  SUBQ_CHECK(wait_all(r, timeout_seconds_),
             "dist: rank {}: not every rank of {} reached the barrier within {} s: did one fail, or take another "
             "path? (SUBQ_DIST_TIMEOUT sets the wait)",
             rank_, size_, timeout_seconds_);
}

void Communicator::abort(int code) {
  std::fflush(stdout), std::fflush(stderr);
  if (mpi_running() && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

#else  // one process: there is no peer to send to or receive from

struct Communicator::Pending {};

Communicator::Communicator() : timeout_seconds_(timeout_from_environment()) {}
Communicator::~Communicator() = default;
void Communicator::send_bytes(std::vector<std::byte>, int, int) {}
std::vector<std::byte> Communicator::receive_bytes(int, int) { return {}; }
void Communicator::collect_finished_sends() {}
void Communicator::flush() {}
std::vector<std::vector<double>> Communicator::all_gather(std::span<const double> values) {
  return {std::vector<double>(values.begin(), values.end())};
}
void Communicator::barrier() {}
void Communicator::abort(int code) {
  std::fflush(stdout), std::fflush(stderr);
  std::_Exit(code);
}

#endif

Communicator& Communicator::world() {
  static Communicator world;
  return world;
}

void Communicator::set_timeout(double seconds) {
  SUBQ_CHECK(seconds > 0 && seconds < 1e9, "dist: timeout must be > 0 seconds, found {}", seconds);
  timeout_seconds_ = seconds;
}

void Communicator::check_peer(int peer, const char* what) const {
  SUBQ_CHECK(peer >= 0 && peer < size_ && peer != rank_, "dist: rank {} cannot {} rank {}: the run has ranks 0 .. {}",
             rank_, what, peer, size_ - 1);
}

void Communicator::send(std::span<const Tensor> tensors, int to, int tag) {
  check_peer(to, "send to");
  SUBQ_CHECK(tag >= 0 && 2 * tag + 1 <= kMaxTag, "dist: tag {} is outside 0 .. {}", tag, (kMaxTag - 1) / 2);
  std::vector<std::byte> bytes;
  for (const Tensor& t : tensors) {
    append_tensor(bytes, t);
    if (t.defined()) bytes_sent_ += std::int64_t(storage_bytes(t.dtype(), t.numel()));
  }
  collect_finished_sends();
  send_bytes(std::move(bytes), to, tag);
}

std::vector<Tensor> Communicator::receive(int from, int tag) {
  check_peer(from, "receive from");
  SUBQ_CHECK(tag >= 0 && 2 * tag + 1 <= kMaxTag, "dist: tag {} is outside 0 .. {}", tag, (kMaxTag - 1) / 2);
  const std::vector<std::byte> bytes = receive_bytes(from, tag);
  Reader reader(bytes, from);
  std::vector<Tensor> tensors;
  while (!reader.done()) tensors.push_back(reader.tensor());
  return tensors;
}

}  // namespace subq::dist
