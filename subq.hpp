#pragma once
// subq: state-space and sub-quadratic sequence models. The public API in one include.
#include "core/config.hpp"
#include "core/device.hpp"
#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "core/tensor.hpp"
#include "core/thread_pool.hpp"
#include "scan/linear_recurrence.hpp"
#include "scan/scan_operator.hpp"
#include "ssm/hippo.hpp"
