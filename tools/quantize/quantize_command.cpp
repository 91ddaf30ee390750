#include "tools/quantize/quantize_command.hpp"

#include <fmt/format.h>

#include "core/check.hpp"
#include "lm/language_model.hpp"
#include "tools/load_options.hpp"

namespace subq::tools {

int run_quantize(const QuantizeOptions& o) {
  const std::optional<DType> type = weight_format(o.type);
  SUBQ_CHECK(type.has_value(), "quantize: --type stored would copy the checkpoint unchanged; name a format");
  const std::int64_t bytes = convert_checkpoint(o.model, o.out, *type);
  fmt::print("wrote {}: weight matrices in {}, {:.1f} MB of weights\n", o.out, dtype_name(*type), double(bytes) / 1e6);
  return 0;
}

}  // namespace subq::tools
