// Scans a short sequence through the installed library and checks the answer.
#include <subq/subq.hpp>

#include <cstdio>

int main() {
  using namespace subq;
  const Tensor a = Tensor::from_vector(std::vector<float>{0.5f, 0.5f, 0.5f}, {1, 1, 3});
  const Tensor b = Tensor::from_vector(std::vector<float>{1.0f, 1.0f, 1.0f}, {1, 1, 3});
  const auto result = scan::linear_recurrence(a, b);
  const float last = result.h.data<float>()[2];  // 1, 1.5, 1.75
  std::printf("consumer: h = %g %g %g\n", result.h.data<float>()[0], result.h.data<float>()[1], last);
  return last == 1.75f ? 0 : 1;
}
