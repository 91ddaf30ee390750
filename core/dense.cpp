#include "core/dense.hpp"

#include <cmath>
#include <cstring>

#include "core/block_diagonal_pass.hpp"
#include "core/check.hpp"
#include "core/dense_cuda.hpp"
#include "core/dispatch.hpp"
#include "core/eigen_views.hpp"
#include "core/elementwise.hpp"
#include "core/math.hpp"
#include "core/row_pass.hpp"
#include "core/thread_pool.hpp"
#include "core/weight_rows.hpp"

namespace subq {

namespace {

void check_float_any_device(const char* op, const char* name, const Tensor& t) {
  SUBQ_CHECK(t.defined() && t.dim() >= 1, "{}: {} is missing or has no dimensions", op, name);
  SUBQ_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, "{}: {}: expected float32 or float64, found {}", op,
             name, dtype_name(t.dtype()));
}

// The weight formats that linear() and embedding() read without widening them first.
bool is_compact_weight(DType dtype) { return dtype == DType::BF16 || dtype == DType::F16 || is_quantized(dtype); }

void check_cpu(const char* op, const char* name, const Tensor& t) {
  SUBQ_CHECK(!t.defined() || t.device().is_cpu(), "{}: {} on {}: runs on the CPU only", op, name,
             to_string(t.device()));
}

Shape with_last(Shape shape, std::int64_t last) {
  shape.back() = last;
  return shape;
}

// Rows per task: enough work per thread to pay for waking it.
constexpr std::int64_t kMinRowsPerTask = 16;
// With fewer rows, a weight of this many elements and more (256 KiB of float32, past L2's share of
// one core) is split by output features, in runs of whole cache lines of the output.
constexpr std::int64_t kMinSplitWeight = std::int64_t(1) << 16, kMinColumnsPerTask = 64;

template <class T>
Tensor linear_typed(const Tensor& x, const Tensor& weight, const Tensor& bias, ThreadPool& pool) {
  const std::int64_t in = x.size(-1), out = weight.size(0), rows = x.numel() / std::max<std::int64_t>(in, 1);
  const Tensor xc = x.contiguous(), w = weight.to(dtype_of<T>).contiguous();
  const Tensor b = bias.defined() ? bias.to(dtype_of<T>).contiguous() : bias;
  Tensor y = Tensor::empty(with_last(x.shape(), out), dtype_of<T>);
  const Eigen::Map<const RowMatrix<T>> W(w.data<T>(), out, in);
  auto body = [&](std::int64_t begin, std::int64_t end) {
    const Eigen::Map<const RowMatrix<T>> X(xc.data<T>() + begin * in, end - begin, in);
    Eigen::Map<RowMatrix<T>> Y(y.data<T>() + begin * out, end - begin, out);
    Y.noalias() = X * W.transpose();
    if (b.defined()) Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(b.data<T>(), out);
  };
  // Output features [c0, c1) of every row: few rows (a decoding step) split the weight instead.
  auto columns = [&](std::int64_t c0, std::int64_t c1) {
    const Eigen::Map<const RowMatrix<T>> X(xc.data<T>(), rows, in);
    Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>> Y(y.data<T>() + c0, rows, c1 - c0, Eigen::OuterStride<>(out));
    Y.noalias() = X * W.middleRows(c0, c1 - c0).transpose();
    if (b.defined()) Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(b.data<T>() + c0, c1 - c0);
  };
  if (rows >= 2 * kMinRowsPerTask && pool.size() > 1)
    pool.parallel_for((rows + kMinRowsPerTask - 1) / kMinRowsPerTask, [&](std::int64_t begin, std::int64_t end) {
      body(begin * kMinRowsPerTask, std::min(rows, end * kMinRowsPerTask));
    });
  else if (out * in >= kMinSplitWeight && out >= 2 * kMinColumnsPerTask && pool.size() > 1)
    pool.parallel_for((out + kMinColumnsPerTask - 1) / kMinColumnsPerTask, [&](std::int64_t begin, std::int64_t end) {
      columns(begin * kMinColumnsPerTask, std::min(out, end * kMinColumnsPerTask));
    });
  else
    body(0, rows);
  return y;
}

// Rows of x per block of the widened-panel product: X's block stays in cache across the panels.
constexpr std::int64_t kPanelRows = 256;

// x float32 against a weight in a compact format (bfloat16, float16, q8_0, q4_0). Up to
// kMaxDotVectors rows (decoding) dot each weight row in its stored form, so the step reads the
// weights once at their stored size; more rows widen panels of kMinColumnsPerTask weight rows into
// float32 and multiply them by Eigen's GEMM, which the widening costs a 1/kPanelRows share of.
Tensor linear_compact(const Tensor& x, const Tensor& weight, const Tensor& bias, ThreadPool& pool) {
  const std::int64_t in = x.size(-1), out = weight.size(0), rows = x.numel() / std::max<std::int64_t>(in, 1);
  const Tensor xc = x.contiguous(), w = weight.contiguous();
  const Tensor b = bias.defined() ? bias.to(DType::F32).contiguous() : bias;
  Tensor y = Tensor::empty(with_last(x.shape(), out), DType::F32);
  const DType format = w.dtype();
  const auto* rows_of_w = static_cast<const std::byte*>(w.raw_data());
  const std::size_t row_bytes = storage_bytes(format, in);
  const std::int64_t panels = (out + kMinColumnsPerTask - 1) / kMinColumnsPerTask;
  auto features = [&](std::int64_t panel) {
    return std::pair{panel * kMinColumnsPerTask, std::min(out, (panel + 1) * kMinColumnsPerTask)};
  };
  if (rows <= detail::kMaxDotVectors) {
    pool.parallel_for(panels, [&](std::int64_t begin, std::int64_t end) {
      const std::int64_t c0 = features(begin).first, c1 = features(end - 1).second;
      detail::dot_rows(format, rows_of_w + c0 * row_bytes, in, c1 - c0, xc.data<float>(), rows, y.data<float>() + c0,
                       out);
    });
  } else {
    const std::int64_t row_blocks = (rows + kPanelRows - 1) / kPanelRows;
    pool.parallel_for(panels * row_blocks, [&](std::int64_t begin, std::int64_t end) {
      std::vector<float> widened;
      std::int64_t widened_panel = -1;
      for (std::int64_t task = begin; task < end; ++task) {  // panel-major: a panel is widened once per run
        const std::int64_t panel = task / row_blocks, r0 = task % row_blocks * kPanelRows,
                           r1 = std::min(rows, r0 + kPanelRows);
        const auto [c0, c1] = features(panel);
        if (panel != widened_panel) {
          widened.resize(std::size_t((c1 - c0) * in));
          detail::widen_rows(format, rows_of_w + c0 * row_bytes, in, c1 - c0, widened.data());
          widened_panel = panel;
        }
        const Eigen::Map<const RowMatrix<float>> X(xc.data<float>() + r0 * in, r1 - r0, in),
            P(widened.data(), c1 - c0, in);
        Eigen::Map<RowMatrix<float>, 0, Eigen::OuterStride<>> Y(y.data<float>() + r0 * out + c0, r1 - r0, c1 - c0,
                                                                Eigen::OuterStride<>(out));
        Y.noalias() = X * P.transpose();
      }
    });
  }
  if (b.defined())
    Eigen::Map<RowMatrix<float>>(y.data<float>(), rows, out).rowwise() +=
        Eigen::Map<const Eigen::Matrix<float, 1, Eigen::Dynamic>>(b.data<float>(), out);
  return y;
}

template <class T>
Tensor rms_norm_typed(const Tensor& x, const Tensor& weight, double eps, const Tensor& gate) {
  const std::int64_t dim = x.size(-1), rows = x.numel() / std::max<std::int64_t>(dim, 1);
  const Tensor xc = x.contiguous(), w = weight.to(dtype_of<T>).contiguous();
  const Tensor g = gate.defined() ? gate.to(dtype_of<T>).contiguous() : gate;
  Tensor y = Tensor::empty(x.shape(), dtype_of<T>);
  // The pointers once: Tensor::data checks the dtype, which per element cost more than the norm.
  const T *xp = xc.data<T>(), *wp = w.data<T>(), *gp = g.defined() ? g.data<T>() : nullptr;
  T* yp = y.data<T>();
  ThreadPool::global().parallel_for(rows, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      const T* xr = xp + r * dim;
      T* yr = yp + r * dim;
      for (std::int64_t i = 0; i < dim; ++i) yr[i] = gp ? xr[i] * silu(gp[r * dim + i]) : xr[i];
      T sum = 0;
      for (std::int64_t i = 0; i < dim; ++i) sum += yr[i] * yr[i];
      const T scale = T(1) / std::sqrt(sum / T(dim) + T(eps));
      for (std::int64_t i = 0; i < dim; ++i) yr[i] = wp[i] * (yr[i] * scale);
    }
  });
  return y;
}

// Groups of `size` consecutive elements of each row normalised, then the affine over the row.
template <class T>
Tensor normalise_groups(const Tensor& x, std::int64_t size, const Tensor& weight, const Tensor& bias, double eps) {
  const std::int64_t dim = x.size(-1), groups = x.numel() / std::max<std::int64_t>(size, 1);
  const Tensor xc = x.contiguous(), w = weight.to(dtype_of<T>).contiguous();
  const Tensor b = bias.defined() ? bias.to(dtype_of<T>).contiguous() : bias;
  Tensor y = Tensor::empty(x.shape(), dtype_of<T>);
  for (std::int64_t g = 0; g < groups; ++g) {
    const T* xg = xc.data<T>() + g * size;
    T* yg = y.data<T>() + g * size;
    const std::int64_t first = g * size % dim;  // position of the group in its row
    T mean = 0, var = 0;
    for (std::int64_t i = 0; i < size; ++i) mean += xg[i];
    mean /= T(size);
    for (std::int64_t i = 0; i < size; ++i) var += (xg[i] - mean) * (xg[i] - mean);
    const T scale = T(1) / std::sqrt(var / T(size) + T(eps));
    for (std::int64_t i = 0; i < size; ++i)
      yg[i] = (xg[i] - mean) * scale * w.data<T>()[first + i] + (b.defined() ? b.data<T>()[first + i] : T(0));
  }
  return y;
}

}  // namespace

Tensor block_diagonal_linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in) {
  constexpr const char* op = "block_diagonal_linear";
  SUBQ_CHECK(weight_in.defined() && weight_in.dim() == 3, "{}: weight: expected (blocks, in, out), found {}", op,
             weight_in.defined() ? to_string(weight_in.shape()) : "nothing");
  const std::int64_t blocks = weight_in.size(0), in = weight_in.size(1), out = weight_in.size(2);
  SUBQ_CHECK(x_in.defined() && x_in.dim() >= 1 && x_in.size(-1) == blocks * in,
             "{}: x: expected (..., {}) for {} blocks of {}, found {}", op, blocks * in, blocks, in,
             x_in.defined() ? to_string(x_in.shape()) : "nothing");
  if (bias_in.defined()) check_shape(op, "bias", bias_in, {blocks * out});
  const Device device = x_in.device();
  check_same_device(op, device, {{"weight", &weight_in}, {"bias", &bias_in}});
  SUBQ_CHECK(x_in.dtype() == DType::F32 || (x_in.dtype() == DType::F64 && device.is_cpu()),
             "{}: x: expected float32 (or float64 on the CPU), found {} on {}", op, dtype_name(x_in.dtype()),
             to_string(device));
  for (const auto& [name, t] : NamedTensors{{"weight", &weight_in}, {"bias", &bias_in}})
    SUBQ_CHECK(!t->defined() || t->dtype() == x_in.dtype(), "{}: {}: expected {} (x's dtype), found {}", op, name,
               dtype_name(x_in.dtype()), dtype_name(t->dtype()));
  Shape shape = x_in.shape();
  shape.back() = blocks * out;
  const std::int64_t rows = blocks * in > 0 ? x_in.numel() / (blocks * in) : 0;
  return dispatch(FloatTypes{}, op, x_in.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
    const Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor{};
    Tensor y = Tensor::empty(shape, dtype_of<T>, device);
    const T* b = bias.defined() ? bias.data<T>() : nullptr;
    if (device.is_cuda()) {
      detail::run_row_pass(
          op, device, detail::BlockDiagonalProduct<T>{x.data<T>(), weight.data<T>(), b, y.data<T>(), blocks, in, out},
          rows * blocks * out);
      return y;
    }
    ThreadPool::global().parallel_for(blocks, [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t block = first; block < last; ++block) {
        const StridedRows<T> X(x.data<T>() + block * in, rows, in, Eigen::OuterStride<>(blocks * in));
        const Eigen::Map<const RowMatrix<T>> W(weight.data<T>() + block * in * out, in, out);
        Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>> Y(y.data<T>() + block * out, rows, out,
                                                            Eigen::OuterStride<>(blocks * out));
        Y.noalias() = X * W;
        if (b) Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(b + block * out, out);
      }
    });
    return y;
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, ThreadPool* pool) {
  check_float_any_device("linear", "x", x);
  SUBQ_CHECK(weight.defined() && weight.dim() == 2 && weight.size(1) == x.size(-1),
             "linear: weight: expected (out, {}), found {}", x.size(-1),
             weight.defined() ? to_string(weight.shape()) : "nothing");
  const bool compact = is_compact_weight(weight.dtype());
  if (!compact) check_float_any_device("linear", "weight", weight);
  SUBQ_CHECK(!compact || x.dtype() == DType::F32, "linear: a {} weight multiplies float32 x, found {}",
             dtype_name(weight.dtype()), dtype_name(x.dtype()));
  if (bias.defined()) check_shape("linear", "bias", bias, {weight.size(0)});
  // On a GPU a prompt's compact weights are widened for cuBLAS's float32 GEMM (issue 16: tensor cores).
  if (x.device().is_cuda())
    return on_cuda("linear", x.device(), [&] {
      return compact ? detail::linear_compact_cuda(x, weight, bias) : detail::linear_cuda(x, weight, bias);
    });
  for (const auto& [name, t] : {std::pair{"x", &x}, std::pair{"weight", &weight}, std::pair{"bias", &bias}})
    check_cpu("linear", name, *t);
  ThreadPool& p = pool ? *pool : ThreadPool::global();
  if (compact) return linear_compact(x, weight, bias, p);
  return dispatch(FloatTypes{}, "linear", x.dtype(),
                  [&](auto zero) { return linear_typed<decltype(zero)>(x, weight, bias, p); });
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps, const Tensor& gate) {
  check_float_any_device("rms_norm", "x", x);
  check_shape("rms_norm", "weight", weight, {x.size(-1)});
  if (gate.defined()) check_shape("rms_norm", "gate", gate, x.shape());
  if (x.device().is_cuda())
    return on_cuda("rms_norm", x.device(), [&] { return detail::rms_norm_cuda(x, weight, eps, gate); });
  for (const auto& [name, t] : {std::pair{"x", &x}, std::pair{"weight", &weight}, std::pair{"gate", &gate}})
    check_cpu("rms_norm", name, *t);
  return dispatch(FloatTypes{}, "rms_norm", x.dtype(),
                  [&](auto zero) { return rms_norm_typed<decltype(zero)>(x, weight, eps, gate); });
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  return group_norm(x, 1, weight, bias, eps);
}

Tensor group_norm(const Tensor& x, std::int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  check_float_any_device("group_norm", "x", x);
  const std::int64_t dim = x.size(-1);
  SUBQ_CHECK(groups >= 1 && dim % groups == 0, "group_norm: {} groups do not divide {} features", groups, dim);
  check_shape("group_norm", "weight", weight, {dim});
  if (bias.defined()) check_shape("group_norm", "bias", bias, {dim});
  if (x.device().is_cuda())
    return on_cuda("group_norm", x.device(), [&] { return detail::group_norm_cuda(x, groups, weight, bias, eps); });
  for (const auto& [name, t] : {std::pair{"x", &x}, std::pair{"weight", &weight}, std::pair{"bias", &bias}})
    check_cpu("group_norm", name, *t);
  return dispatch(FloatTypes{}, "group_norm", x.dtype(),
                  [&](auto zero) { return normalise_groups<decltype(zero)>(x, dim / groups, weight, bias, eps); });
}

Tensor rotary(const Tensor& x, std::int64_t offset, double base, std::int64_t rotary_dims) {
  check_float_any_device("rotary", "x", x);
  SUBQ_CHECK(x.dim() == 4, "rotary: x: expected (batch, length, heads, d), found {}", to_string(x.shape()));
  const std::int64_t width = x.size(3), dims = rotary_dims > 0 ? rotary_dims : width;
  SUBQ_CHECK(dims % 2 == 0 && dims <= width, "rotary: {} rotary dims of heads of {}: expected an even count, at most d",
             dims, width);
  if (x.device().is_cuda())
    return on_cuda("rotary", x.device(), [&] { return detail::rotary_cuda(x, offset, base, dims); });
  const std::int64_t B = x.size(0), L = x.size(1), H = x.size(2), half = dims / 2;
  Tensor y = x.to(DType::F64).contiguous().clone();
  double* p = y.data<double>();
  for (std::int64_t t = 0; t < L; ++t)
    for (std::int64_t i = 0; i < half; ++i) {
      // As fla and flash-attention do: the angle in float32, from float32 positions and frequencies.
      const float inv_freq = float(1.0 / std::pow(base, double(2 * i) / double(2 * half)));
      const float angle = float(offset + t) * inv_freq;
      const double c = std::cos(angle), s = std::sin(angle);
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t h = 0; h < H; ++h) {
          double* row = p + ((b * L + t) * H + h) * width;
          const double x1 = row[i], x2 = row[i + half];
          row[i] = x1 * c - x2 * s;
          row[i + half] = x1 * s + x2 * c;
        }
    }
  return y.to(x.dtype());
}

Tensor scale(const Tensor& x, double factor) {
  if (x.defined() && is_compact_weight(x.dtype())) return scale(x.to(DType::F32), factor).to(x.dtype());
  check_float_any_device("scale", "x", x);
  if (x.device().is_cuda()) return on_cuda("scale", x.device(), [&] { return detail::scale_cuda(x, factor); });
  Tensor y = x.contiguous().clone();
  dispatch(FloatTypes{}, "scale", y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* p = y.data<T>();
    for (std::int64_t i = 0; i < y.numel(); ++i) p[i] = T(double(p[i]) * factor);
  });
  return y;
}

void add_into(const Tensor& h, const Tensor& update) {
  check_float_any_device("add_into", "h", h);
  check_shape("add_into", "update", update, h.shape());
  SUBQ_CHECK(h.is_contiguous() && update.dtype() == h.dtype(), "add_into: h must be contiguous and update of its dtype");
  if (h.device().is_cuda()) return on_cuda("add_into", h.device(), [&] { return detail::add_into_cuda(h, update); });
  check_cpu("add_into", "update", update);
  const Tensor u = update.contiguous();
  dispatch(FloatTypes{}, "add_into", h.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* hp = h.data<T>();
    const T* up = u.data<T>();
    for (std::int64_t i = 0; i < h.numel(); ++i) hp[i] += up[i];
  });
}

Tensor embedding(const Tensor& table, const Tensor& ids) {
  const bool compact = table.defined() && is_compact_weight(table.dtype());
  if (!compact) check_float_any_device("embedding", "table", table);
  SUBQ_CHECK(table.dim() == 2, "embedding: table: expected (vocab, dim), found {}", to_string(table.shape()));
  SUBQ_CHECK(ids.defined() && ids.dtype() == DType::I64 && ids.device().is_cpu(),
             "embedding: ids: expected int64 on the CPU");
  const std::int64_t vocab = table.size(0), dim = table.size(1);
  const Tensor i = ids.contiguous();
  for (std::int64_t k = 0; k < i.numel(); ++k) {
    const std::int64_t id = i.data<std::int64_t>()[k];
    SUBQ_CHECK(id >= 0 && id < vocab, "embedding: id {} at position {} is outside the vocabulary [0, {})", id, k, vocab);
  }
  if (table.device().is_cuda())
    return on_cuda("embedding", table.device(), [&] {
      return compact ? detail::embedding_compact_cuda(table, i) : detail::embedding_cuda(table, i);
    });
  const Tensor t = table.contiguous();
  Shape shape = ids.shape();
  shape.push_back(dim);
  if (compact) {  // rows widened to float32 as they are looked up
    Tensor y = Tensor::empty(shape, DType::F32);
    const std::size_t row_bytes = storage_bytes(t.dtype(), dim);
    for (std::int64_t k = 0; k < i.numel(); ++k)
      detail::widen_rows(t.dtype(), static_cast<const std::byte*>(t.raw_data()) + i.data<std::int64_t>()[k] * row_bytes,
                         dim, 1, y.data<float>() + k * dim);
    return y;
  }
  Tensor y = Tensor::empty(shape, table.dtype());
  const std::size_t row_bytes = std::size_t(dim) * dtype_size(table.dtype());
  for (std::int64_t k = 0; k < i.numel(); ++k) {
    const std::int64_t id = i.data<std::int64_t>()[k];
    std::memcpy(static_cast<char*>(y.raw_data()) + k * row_bytes, static_cast<const char*>(t.raw_data()) + id * row_bytes,
                row_bytes);
  }
  return y;
}

Tensor swiglu(const Tensor& x, const SwiGlu& mlp) {
  return linear(swish_product(linear(x, mlp.gate), linear(x, mlp.up)), mlp.down);
}

}  // namespace subq
