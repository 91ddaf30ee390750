#include "conformance/case.hpp"

#include <algorithm>
#include <cmath>

#include "core/check.hpp"

namespace subq::check {

Tensor input(const Case& c, const std::string& name, Device device) { return c.io.get(name).to(device); }

Tensor optional_input(const Case& c, const std::string& name, Device device) {
  return c.io.contains(name) ? input(c, name, device) : Tensor{};
}

Case load_case(const std::filesystem::path& dir) {
  JsonConfig meta = JsonConfig::load(dir / "meta.json");
  const std::string kind = meta.get_string("kind");
  const std::string key = meta.has("op") ? meta.get_string("op") : meta.get_string("arch");
  std::string name = (dir.parent_path().filename() / dir.filename()).generic_string();
  return Case{dir,  std::move(name), kind, key, meta, SafetensorsFile::open(dir / "io.safetensors"),
              meta.get_double("rtol"), meta.get_double("atol")};
}

std::vector<std::filesystem::path> find_cases(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  SUBQ_CHECK(fs::exists(path), "{}: no such file or folder", path.string());
  if (fs::exists(path / "meta.json")) return {path};
  std::vector<fs::path> cases;
  if (fs::is_directory(path))
    for (const auto& entry : fs::recursive_directory_iterator(path))
      if (entry.is_directory() && fs::exists(entry.path() / "meta.json")) cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  return cases;
}

// 32 of the format's relative rounding units u: the model cases' worst errors are 12 to 20 u in
// every format (bf16 0.028, f16 0.0030, q8_0 0.076, q4_0 1.07 at allclose's rtol = atol = 1).
double weight_format_tolerance(DType weights) {
  constexpr double kUnits = 32;
  switch (weights) {
    case DType::F32: return 0;
    case DType::BF16: return kUnits * 0x1p-9;  // 8 significant bits: half an ulp
    case DType::F16: return kUnits * 0x1p-12;  // 11 bits
    case DType::Q8_0: return kUnits / 254;     // half a step of max |x| / 127
    case DType::Q4_0: return kUnits / 16;      // half a step of max |x| / 8
    default: SUBQ_FAIL("conformance: {} is not a weight format", dtype_name(weights));
  }
}

namespace {

void compare_one(const Case& c, const std::string& name, const Tensor& out, Comparison& result) {
  const Tensor ref = c.io.get(name, DType::F64);
  SUBQ_CHECK(out.shape() == ref.shape(), "{}: output '{}': expected shape {}, found {}", c.name, name,
             to_string(ref.shape()), to_string(out.shape()));
  const Tensor got = out.to(Device::cpu()).to(DType::F64).contiguous();
  const Tensor want = ref.contiguous();
  const double* r = want.data<double>();
  const double* o = got.data<double>();
  const double format_tolerance = weight_format_tolerance(c.weights);
  const double rtol = std::max(c.rtol, format_tolerance), atol = std::max(c.atol, format_tolerance);
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    const double err = std::abs(o[i] - r[i]);
    const double ratio = std::isnan(o[i]) ? INFINITY : err / (atol + rtol * std::abs(r[i]));
    result.max_abs_err = std::max(result.max_abs_err, std::isnan(err) ? INFINITY : err);
    if (ratio > result.worst_ratio || result.worst.empty()) {
      result.worst_ratio = std::max(result.worst_ratio, ratio);
      result.worst = fmt::format("{}[{}]", name, i);
    }
  }
}

}  // namespace

Comparison compare(const Case& c, const Outputs& outputs) {
  SUBQ_CHECK(!outputs.empty(), "{}: the runner produced no output", c.name);
  Comparison result;
  for (const auto& [name, out] : outputs) {
    if (is_complex(out.dtype())) {
      const Tensor parts = out.to(Device::cpu()).to(DType::C128).contiguous();
      Tensor re = Tensor::empty(out.shape(), DType::F64), im = Tensor::empty(out.shape(), DType::F64);
      const complex128* z = parts.data<complex128>();
      for (std::int64_t i = 0; i < out.numel(); ++i) re.data<double>()[i] = z[i].re, im.data<double>()[i] = z[i].im;
      compare_one(c, name + "_real", re, result);
      compare_one(c, name + "_imag", im, result);
    } else {
      compare_one(c, name, out, result);
    }
  }
  result.pass = result.worst_ratio <= 1.0;
  return result;
}

}  // namespace subq::check
