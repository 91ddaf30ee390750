// The scan operator across ranks (subq_dist_tests, under mpirun): each rank's incoming state
// against the sequential recurrence over the whole sequence, in float64 to 1e-12.
#include <catch2/catch.hpp>

#include "scan/cross_rank_scan.hpp"
#include "tests/testing.hpp"

using namespace subq;
using subq::testing::max_rel_diff;

namespace {

// The whole sequence, the same on every rank: T steps of a (0.5, 1.05) and b in (-1, 1) over a
// state of `shape`, cut unevenly: rank r's segment has 1 + 3 r steps (rank 0's may be empty).
struct Sequence {
  std::vector<Tensor> a, b;
  std::vector<std::int64_t> begin;  // the ranks' first steps, and the total at the end
};

Sequence sequence(int P, const Shape& shape, bool rank0_empty) {
  Sequence s;
  std::int64_t t = 0;
  for (int r = 0; r < P; ++r) s.begin.push_back(t), t += (r == 0 && rank0_empty) ? 0 : 1 + 3 * r;
  s.begin.push_back(t);
  std::mt19937 rng(11);
  for (std::int64_t i = 0; i < t; ++i) {
    s.a.push_back(testing::random_tensor(shape, DType::F64, rng, 0.5, 1.05));
    s.b.push_back(testing::random_tensor(shape, DType::F64, rng, -1, 1));
  }
  return s;
}

// h after steps [0, end) from zero, and the map of steps [begin, end).
Tensor run(const Sequence& s, std::int64_t begin, std::int64_t end, const Shape& shape, Tensor* decay) {
  Tensor h = Tensor::zeros(shape, DType::F64);
  std::vector<double> product(std::size_t(h.numel()), 1.0);
  for (std::int64_t t = begin; t < end; ++t)
    for (std::int64_t i = 0; i < h.numel(); ++i) {
      h.data<double>()[i] =
          s.a[std::size_t(t)].data<double>()[i] * h.data<double>()[i] + s.b[std::size_t(t)].data<double>()[i];
      product[std::size_t(i)] *= s.a[std::size_t(t)].data<double>()[i];
    }
  if (decay) *decay = Tensor::from_vector(product, shape);
  return h;
}

}  // namespace

TEST_CASE("cross-rank scan: each rank's incoming state is the sequential recurrence's", "[dist][scan]") {
  dist::Communicator& comm = dist::Communicator::world();
  const Shape shape{3, 5};
  for (const bool rank0_empty : {false, true}) {
    INFO("rank 0's segment empty: " << rank0_empty);
    const Sequence s = sequence(comm.size(), shape, rank0_empty);
    const std::int64_t begin = s.begin[std::size_t(comm.rank())], end = s.begin[std::size_t(comm.rank() + 1)];
    Tensor decay;
    const Tensor local = run(s, begin, end, shape, &decay);
    const Tensor incoming = scan::incoming_state(comm, decay, local);
    CHECK(max_rel_diff(incoming, run(s, 0, begin, shape, nullptr)) < 1e-12);
    // float32 operands give float32 states, composed in float64.
    const Tensor incoming32 = scan::incoming_state(comm, decay.to(DType::F32), local.to(DType::F32));
    CHECK(incoming32.dtype() == DType::F32);
    CHECK(max_rel_diff(incoming32, incoming) < 1e-5);
  }
}

TEST_CASE("cross-rank scan: bad operands are named", "[dist][scan]") {
  dist::Communicator& comm = dist::Communicator::world();
  const Tensor a = Tensor::zeros({2}, DType::F64);
  CHECK_THROWS_WITH(scan::incoming_state(comm, a, Tensor::zeros({3}, DType::F64)),
                    Catch::Contains("decay [2] and state [3] differ in shape"));
  CHECK_THROWS_WITH(scan::incoming_state(comm, a.to(DType::I64), a.to(DType::I64)),
                    Catch::Contains("expected float32 or float64"));
}
