#pragma once
// Conformance cases: a folder with meta.json and io.safetensors (and, for layers and models,
// model.safetensors and config.json) holding golden inputs and outputs made by the upstream
// reference implementations. A family's runner (<family>/*_conformance.cpp) computes its outputs;
// the comparison is numpy's allclose, |out - ref| <= atol + rtol*|ref|, with no NaN. The runners
// are found by key in tools/check/registry.cpp.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "core/safetensors.hpp"

namespace subq::check {

struct Case {
  std::filesystem::path dir;
  std::string name;  // "<parent folder>/<case folder>", e.g. "scan/linear_recurrence_0"
  std::string kind;  // op, layer or model
  std::string key;   // the op (op and layer cases) or arch (model cases) that selects the runner
  JsonConfig meta;
  SafetensorsFile io;
  double rtol, atol;
  /// The format a model case's weight matrices are held in (subq check --dtype; LoadOptions):
  /// float32, or a compact format compared at weight_format_tolerance's wider tolerance.
  DType weights = DType::F32;
};

/// The allclose tolerance (rtol = atol) that a model case's logits are held to, at least, with
/// its weight matrices in `weights`: 32 times the format's relative rounding (2^-9 for bfloat16,
/// 2^-12 for float16, half a step, 1/254 and 1/16 of a block's largest, for q8_0 and q4_0), for
/// errors measured at 12 to 20 of them on every model case (README, "Weight formats"). 0 for
/// float32. q4_0's is wide (2): on the fixtures' random weights 4 bits move logits by up to 1.5.
double weight_format_tolerance(DType weights);

/// The case's input `name` from io.safetensors, on device.
Tensor input(const Case& c, const std::string& name, Device device);
/// The same, or an undefined tensor when the case has no such input (an optional operand).
Tensor optional_input(const Case& c, const std::string& name, Device device);

/// Reads meta.json and io.safetensors of a case folder.
Case load_case(const std::filesystem::path& dir);

/// Named outputs to compare with the tensors of the same name in io.safetensors. A complex
/// output "x" is compared with "x_real" and "x_imag".
using Outputs = std::vector<std::pair<std::string, Tensor>>;
using Runner = Outputs (*)(const Case&, Device);

struct Comparison {
  bool pass = false;
  double max_abs_err = 0;
  double worst_ratio = 0;  // max |out-ref| / (atol + rtol*|ref|); pass needs <= 1
  std::string worst;       // the output holding the worst element, with its index
};

/// Compares outputs with the case's expected tensors; a shape mismatch or a missing expected
/// tensor is an Error, a NaN fails.
Comparison compare(const Case& c, const Outputs& outputs);

/// Case folders under path, sorted: path itself when it holds meta.json.
std::vector<std::filesystem::path> find_cases(const std::filesystem::path& path);

}  // namespace subq::check
