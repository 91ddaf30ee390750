#pragma once
// A Hyena operator with random weights at a given width, for the benchmarks: safari's shapes
// (order 2, positional embedding of 3, filter MLP of width 64 with sine activations), written
// to a temporary safetensors file and loaded like a real one.
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "conv/hyena.hpp"
#include "core/safetensors.hpp"

namespace subq::bench {

inline conv::HyenaOperator random_hyena(std::int64_t d_model, std::int64_t l_max) {
  constexpr std::int64_t kEmb = 3, kFilter = 64;
  const std::int64_t D = d_model, inner = 3 * D;
  std::mt19937 rng(7);
  auto uniform = [&](const Shape& shape, double bound) {
    std::uniform_real_distribution<float> u(float(-bound), float(bound));
    Tensor t = Tensor::empty(shape, DType::F32);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
    return t;
  };
  Tensor t = Tensor::empty({1, l_max, 1}, DType::F32);
  for (std::int64_t l = 0; l < l_max; ++l) t.data<float>()[l] = float(l) / float(l_max);
  const std::vector<std::pair<std::string, Tensor>> tensors{
      {"in_proj.weight", uniform({inner, D}, 1 / std::sqrt(double(D)))},
      {"in_proj.bias", uniform({inner}, 0.1)},
      {"short_filter.weight", uniform({inner, 1, 3}, 0.5)},
      {"short_filter.bias", uniform({inner}, 0.1)},
      {"out_proj.weight", uniform({D, D}, 1 / std::sqrt(double(D)))},
      {"out_proj.bias", uniform({D}, 0.1)},
      {"filter_fn.pos_emb.z", uniform({1, l_max, kEmb}, 1)},
      {"filter_fn.pos_emb.t", t},
      {"filter_fn.implicit_filter.0.weight", uniform({kFilter, kEmb}, 0.5)},
      {"filter_fn.implicit_filter.0.bias", uniform({kFilter}, 0.5)},
      {"filter_fn.implicit_filter.1.freq", uniform({1, kFilter}, 1)},
      {"filter_fn.implicit_filter.2.weight", uniform({kFilter, kFilter}, 0.1)},
      {"filter_fn.implicit_filter.2.bias", uniform({kFilter}, 0.1)},
      {"filter_fn.implicit_filter.3.freq", uniform({1, kFilter}, 1)},
      {"filter_fn.implicit_filter.4.weight", uniform({D, kFilter}, 0.1)},
      {"filter_fn.modulation.deltas", uniform({1, 1, D}, 1)},
      {"filter_fn.bias", uniform({D}, 1)}};
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("subq_random_hyena_" + std::to_string(D) + "_" + std::to_string(l_max) + ".safetensors");
  save_safetensors(path, tensors);
  conv::HyenaOperator op = conv::HyenaOperator::load(SafetensorsFile::open(path), {2, l_max});
  std::filesystem::remove(path);
  return op;
}

}  // namespace subq::bench
