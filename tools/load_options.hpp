#pragma once
// The options of the subq commands that load a checkpoint: --dtype, the format its weight
// matrices are held in (LoadOptions::weights), and --max-memory, the memory the weights
// (LoadOptions::max_memory) and then the run's forward calls may take.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "core/check.hpp"
#include "core/device.hpp"
#include "core/dtype.hpp"
#include "core/memory.hpp"
#include "lm/language_model.hpp"

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

/// "24G", "512M", "1.5T", "4096" (bytes; K, M, G, T are powers of 1024, an optional "iB" or "B"
/// after them), "none" for no limit, "" for the default (what is available).
inline std::optional<std::int64_t> memory_limit(const std::string& option) {
  if (option.empty()) return std::nullopt;
  if (option == "none") return std::numeric_limits<std::int64_t>::max();
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(option, &used);
  } catch (const std::exception&) {
  }
  std::string unit = option.substr(used);
  if (unit.ends_with("iB"))
    unit.resize(unit.size() - 2);
  else if (unit.ends_with("B"))
    unit.resize(unit.size() - 1);
  const std::size_t power = unit.empty() ? 0 : unit.size() == 1 ? std::string("KMGT").find(unit[0]) + 1 : 0;
  SUBQ_CHECK(std::isfinite(value) && value > 0 && (unit.empty() || power > 0),
             "--max-memory {}: expected a size such as 512M, 24G or 1.5T (K, M, G, T: powers of 1024), or none",
             option);
  return saturated_bytes(value * std::pow(1024.0, double(power)));
}

inline LoadOptions load_options(const std::string& dtype, const std::string& max_memory) {
  return {.weights = weight_format(dtype), .max_memory = memory_limit(max_memory)};
}

/// Refuses a run on the CPU whose forward calls of `tokens` tokens would need more memory than is
/// left to them: --max-memory less the weights held, or by default what is available now (the
/// weights already taken). `what` names the run in the message.
inline void check_run_memory(const LanguageModel& model, Device device, const std::string& what, std::int64_t tokens,
                             const std::string& max_memory) {
  const std::optional<std::int64_t> limit = memory_limit(max_memory);
  if (!device.is_cpu() || limit == std::numeric_limits<std::int64_t>::max()) return;
  const std::int64_t room = limit ? *limit - model.weight_bytes() : available_memory_bytes();
  if (!limit && room <= 0) return;  // nothing known of what is available
  const std::int64_t needed = model.estimate_forward_bytes(tokens);
  SUBQ_CHECK(needed <= room,
             "{}: forward calls of {} tokens need about {}, more than the {} left beside the weights ({}) by {} ({} "
             "available); --max-memory sets the limit, and fewer tokens per call need less",
             what, tokens, format_bytes(double(needed)), format_bytes(double(std::max<std::int64_t>(room, 0))),
             format_bytes(double(model.weight_bytes())),
             limit ? fmt::format("--max-memory {}", max_memory) : std::string("what is available"),
             format_bytes(double(available_memory_bytes())));
}

}  // namespace subq::tools
