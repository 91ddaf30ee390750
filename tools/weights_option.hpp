#pragma once
// The --dtype option of the subq commands that load a checkpoint: the format its weight matrices
// are held in (LoadOptions::weights).
#include <optional>
#include <string>

#include "core/check.hpp"
#include "core/dtype.hpp"

namespace subq::tools {

/// "f32", "bf16", "f16", "q8_0", "q4_0" (or the long names float32, bfloat16, float16), or
/// "stored": each matrix as the checkpoint stores it.
inline std::optional<DType> weight_format(const std::string& option) {
  for (const DType d : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0})
    if (option == dtype_name(d)) return d;
  if (option == "f32") return DType::F32;
  if (option == "bf16") return DType::BF16;
  if (option == "f16") return DType::F16;
  SUBQ_CHECK(option == "stored", "--dtype {}: expected f32, bf16, f16, q8_0, q4_0 or stored", option);
  return std::nullopt;
}

}  // namespace subq::tools
