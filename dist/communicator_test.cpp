// dist::Communicator under mpirun (subq_dist_tests): tensors of every kind between ranks, the
// gather, and a wait that gives up with the peer named instead of hanging.
#include <catch2/catch.hpp>

#include "dist/communicator.hpp"
#include "tests/testing.hpp"

using namespace subq;
using subq::testing::max_rel_diff;

TEST_CASE("dist: tensors go around a ring of ranks as they were sent", "[dist]") {
  dist::Communicator& comm = dist::Communicator::world();
  const int r = comm.rank(), P = comm.size();
  if (P == 1) {
    CHECK_THROWS_WITH(comm.send(std::vector<Tensor>{Tensor::zeros({1}, DType::F32)}, 1, 0),
                      Catch::Contains("rank 0 cannot send to rank 1: the run has ranks 0 .. 0"));
    return;
  }
  // Rank r's message: an undefined slot, an int64 counter, a float64 (r+1, 3) and a bfloat16.
  const auto message_of = [](int rank) {
    std::mt19937 rng{std::uint32_t(rank)};
    return std::vector<Tensor>{Tensor(), Tensor::from_vector<std::int64_t>({rank, 7}, {2}),
                               testing::random_tensor({rank + 1, 3}, DType::F64, rng, -1, 1),
                               testing::random_tensor({4}, DType::F64, rng, -1, 1).to(DType::BF16)};
  };
  comm.send(message_of(r), (r + 1) % P, 3);
  const std::vector<Tensor> got = comm.receive((r + P - 1) % P, 3);
  const std::vector<Tensor> want = message_of((r + P - 1) % P);
  REQUIRE(got.size() == want.size());
  CHECK(!got[0].defined());
  for (std::size_t i = 1; i < want.size(); ++i) {
    REQUIRE(got[i].dtype() == want[i].dtype());
    CHECK(max_rel_diff(got[i], want[i]) == 0);
  }
  comm.flush();
  CHECK(comm.bytes_sent() > 0);
}

TEST_CASE("dist: every rank gathers every rank's values, of any length", "[dist]") {
  dist::Communicator& comm = dist::Communicator::world();
  std::vector<double> mine(std::size_t(comm.rank()), double(comm.rank()) + 0.5);
  const std::vector<std::vector<double>> all = comm.all_gather(mine);
  REQUIRE(int(all.size()) == comm.size());
  for (int r = 0; r < comm.size(); ++r) CHECK(all[std::size_t(r)] == std::vector<double>(std::size_t(r), r + 0.5));
}

TEST_CASE("dist: a receive whose sender never sends gives up, naming the rank", "[dist]") {
  dist::Communicator& comm = dist::Communicator::world();
  if (comm.size() == 1) return;
  const double timeout = comm.timeout();
  comm.set_timeout(0.3);
  // Rank 0 waits for a message rank 1 does not send, as if rank 1 had failed.
  if (comm.rank() == 0)
    CHECK_THROWS_WITH(comm.receive(1, 9), Catch::Contains("dist: rank 0: no message from rank 1 (tag 9) within 0.3 s"));
  comm.set_timeout(timeout);
  comm.barrier();
  CHECK_THROWS_WITH(comm.set_timeout(0), Catch::Contains("timeout must be > 0 seconds"));
}
