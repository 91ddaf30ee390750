#pragma once
// The subq commands under mpirun: a command that shares its work among the ranks says so with
// --context-parallel; one that does not is refused rather than run whole on every rank. The
// ranks on one machine split its cores, unless SUBQ_NUM_THREADS says otherwise.
#include <cstdlib>
#include <string>
#include <thread>

#include "core/check.hpp"
#include "dist/communicator.hpp"

namespace subq::tools {

/// The run's communicator for `command`, checked against its --context-parallel flag, with the
/// thread pool sized to this rank's share of the machine. Call before anything uses the pool.
inline dist::Communicator& command_ranks(const char* command, bool context_parallel) {
  dist::Communicator& world = dist::Communicator::world();
  SUBQ_CHECK(context_parallel || !world.distributed(),
             "{}: this is rank {} of the {} that mpirun started: give --context-parallel to share the work among "
             "them (without it every rank would do all of it)",
             command, world.rank(), world.size());
  if (world.distributed() && !std::getenv("SUBQ_NUM_THREADS")) {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const unsigned share = std::max(1u, cores / unsigned(world.local_size()));
    setenv("SUBQ_NUM_THREADS", std::to_string(share).c_str(), 0);
  }
  return world;
}

}  // namespace subq::tools
