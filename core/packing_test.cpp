#include <catch2/catch.hpp>

#include "core/packing.hpp"
#include "tests/testing.hpp"

using namespace subq;

TEST_CASE("packing: groups of similar length, padding within a quarter of each", "[core][packed]") {
  using Groups = std::vector<std::vector<std::int64_t>>;
  CHECK(Packing({1, 17, 300}).padded_groups() == Groups{{2}, {1}, {0}});
  CHECK(Packing({1, 17, 300, 280}).padded_groups() == Groups{{2, 3}, {1}, {0}});
  CHECK(Packing({8, 8, 8, 8}).padded_groups() == Groups{{0, 1, 2, 3}});
  // 10, 10, 10 then 5: 35 of 40 steps (1/8 padding) joins; 2 would make 37 of 50 (over 1/4).
  CHECK(Packing({10, 5, 10, 2, 10}).padded_groups() == Groups{{0, 2, 4, 1}, {3}});
  CHECK(Packing({10, 5, 10, 3, 10}).padded_groups() == Groups{{0, 2, 4, 1, 3}});
  CHECK_THROWS_WITH(Packing({}), Catch::Contains("no sequences"));
}

TEST_CASE("packing: padding and unpadding give the packed steps back", "[core][packed]") {
  const Packing packing({3, 1, 2});
  std::vector<float> values;
  for (int i = 0; i < 6 * 2; ++i) values.push_back(float(i + 1));
  const Tensor packed = Tensor::from_vector(values, {1, 6, 2});
  const std::vector<std::int64_t> group = {2, 0};
  const Tensor padded = pad_sequences(packed, packing, group);
  REQUIRE(padded.shape() == Shape{2, 3, 2});
  // Sequence 2 (steps 4, 5) then sequence 0 (steps 0..2); zeros after sequence 2's end.
  const std::vector<float> want = {9, 10, 11, 12, 0, 0, 1, 2, 3, 4, 5, 6};
  CHECK(std::vector<float>(padded.data<float>(), padded.data<float>() + 12) == want);
  const Tensor back = Tensor::zeros({1, 6, 2}, DType::F32);
  unpad_sequences(padded, packing, group, back);
  // Sequence 1's step (3) is not in the group and stays zero.
  const std::vector<float> want_back = {1, 2, 3, 4, 5, 6, 0, 0, 9, 10, 11, 12};
  CHECK(std::vector<float>(back.data<float>(), back.data<float>() + 12) == want_back);
  CHECK_THROWS_WITH(pad_sequences(Tensor::zeros({1, 5, 2}, DType::F32), packing, group),
                    Catch::Contains("expected packed sequences (1, 6, ...), found [1, 5, 2]"));
}
