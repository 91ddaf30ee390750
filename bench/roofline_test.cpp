// The roofline's floor is the largest of its three times and names that ceiling; the counts of
// bench/operator_costs.hpp agree with hand counts at small shapes; the CPU's ceilings measure.
#include <catch2/catch.hpp>
#include <cmath>

#include "bench/operator_costs.hpp"
#include "bench/roofline.hpp"

using namespace subq;

TEST_CASE("roofline floor: the largest of the three times, naming its ceiling", "[bench]") {
  const bench::Ceilings c{10, 100, 1};
  CHECK(bench::roofline_floor({50, 100, 2}, c).bound == "copy");
  CHECK(bench::roofline_floor({50, 100, 2}, c).seconds == 5);
  CHECK(bench::roofline_floor({10, 1000, 2}, c).bound == "gemm");
  CHECK(bench::roofline_floor({10, 100, 7}, c).bound == "exp");
  CHECK(bench::roofline_floor({10, 100, 7}, c).seconds == 7);
  // CUDA's exp rate is not measured: never the binding ceiling.
  CHECK(bench::roofline_floor({10, 100, 1e9}, {10, 100, INFINITY}).bound == "copy");
}

TEST_CASE("operator costs: hand counts at small shapes", "[bench]") {
  // Causal attention, 3 queries, no cache: 1 + 2 + 3 visible pairs; one head of 2.
  const bench::Cost first = bench::costs::attention(3, 0, 1, 2);
  CHECK(first.exps == 6);
  CHECK(first.flops == 4 * 2 * 6);
  CHECK(first.bytes == 4 * 2 * (3 + 3 + 3 + 3));
  // One decoding query after 5 cached keys: 6 visible.
  CHECK(bench::costs::attention(1, 5, 1, 2).exps == 6);
  // SSD: 2 FMAs per state element (N x P per head) and token.
  CHECK(bench::costs::ssd(10, 2, 3, 4).flops == 4.0 * 10 * 2 * 4 * 3);
  // Selective scan: one exp per channel, step and state, three per channel and step.
  CHECK(bench::costs::selective_scan(2, 5, 16).exps == 2 * 5 * 16 + 3 * 2 * 5);
}

TEST_CASE("roofline ceilings: the CPU's three rates measure finite and positive", "[bench]") {
  const bench::Ceilings& c = bench::ceilings(Device::cpu());
  CHECK(std::isfinite(c.copy_bytes));
  CHECK(c.copy_bytes > 1e8);
  CHECK(std::isfinite(c.gemm_flops));
  CHECK(c.gemm_flops > 1e8);
  CHECK(std::isfinite(c.exps));
  CHECK(c.exps > 1e7);
}
