// The main of subq_dist_tests, the tests run under mpirun (and as one process): every rank runs
// the same test cases in the same order, the collectives among them; a rank's failure is its own
// report, and the run fails when any rank's does. Only rank 0 prints its passes.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "dist/communicator.hpp"

int main(int argc, char** argv) {
  subq::dist::Communicator& world = subq::dist::Communicator::world();
  Catch::Session session;
  if (const int status = session.applyCommandLine(argc, argv); status != 0) return status;
  if (world.rank() != 0) session.configData().showSuccessfulTests = false;
  const int failed = session.run();
  world.barrier();
  return failed;
}
