#pragma once
// The processes of one run and the few collectives subq needs between them: MPI underneath
// (MPI_COMM_WORLD, as mpirun starts it), or one process where the build has no MPI or the
// program was not started by mpirun. Tensors travel through host memory (a CUDA tensor is staged
// to the CPU and comes back onto the receiver's current GPU).
//
// No operation waits forever: each gives up after timeout() seconds (default 300, or the
// SUBQ_DIST_TIMEOUT environment variable) with an Error naming this rank, the peer and what was
// awaited, so that a rank that died or took another path is reported instead of hanging the run.
// After such an error the ranks are out of step: a program ends them all with abort().
//
// Only the thread that first called world() may call into a Communicator (MPI_THREAD_FUNNELED).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "../core/tensor.hpp"

namespace subq::dist {

class Communicator {
 public:
  /// Every process of the run. The first call initialises MPI when the process was started by an
  /// MPI launcher (mpirun, srun); MPI is finalised at exit.
  static Communicator& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// Whether the run has other processes than this one.
  bool distributed() const { return size_ > 1; }
  /// The ranks on this machine (this one included), which share its cores.
  int local_size() const { return local_size_; }

  double timeout() const { return timeout_seconds_; }
  /// Seconds any one operation may wait for its peers (> 0).
  void set_timeout(double seconds);

  /// Sends the tensors (any dtypes, shapes and devices; undefined ones stay undefined) to rank
  /// `to` under `tag` (0 .. 32767). Returns at once: the message is copied and kept until it is
  /// received, so that the sender need not wait for the receiver; flush() waits for that.
  void send(std::span<const Tensor> tensors, int to, int tag);
  /// The tensors rank `from` sent under `tag`, in order, messages of one sender and tag arriving
  /// in the order they were sent.
  std::vector<Tensor> receive(int from, int tag);
  /// Waits until every message this rank sent has been received.
  void flush();

  /// Each rank's `values` (of any length), indexed by rank, on every rank.
  std::vector<std::vector<double>> all_gather(std::span<const double> values);
  /// Waits for every rank to reach this point.
  void barrier();

  /// Bytes of tensor data this rank has sent so far (headers not counted).
  std::int64_t bytes_sent() const { return bytes_sent_; }

  /// Ends every process of the run with `code` (MPI_Abort), so that none waits for this one after
  /// an error; exits this process alone when the run is not distributed.
  [[noreturn]] void abort(int code);

  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator();

 private:
  Communicator();
  struct Pending;

  void check_peer(int peer, const char* what) const;
  void send_bytes(std::vector<std::byte> bytes, int to, int tag);
  std::vector<std::byte> receive_bytes(int from, int tag);
  void collect_finished_sends();

  int rank_ = 0, size_ = 1, local_size_ = 1;
  double timeout_seconds_ = 300;
  std::int64_t bytes_sent_ = 0;
  std::vector<std::unique_ptr<Pending>> pending_;  // sends not yet known to be received
};

}  // namespace subq::dist
