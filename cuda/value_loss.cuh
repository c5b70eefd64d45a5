// value_loss.cuh — TODO (stub: returns A4J_ERR_ARGUMENT until implemented)
#pragma once
#include "portability.h"

namespace a4j {

inline int value_loss(const float* values, const float* values_old, const float* returns, const float* mask, int64_t B, int64_t T, float eps_v, int32_t agg, float* dvalues, float* work, float* stats) {
    return 1;
}

}  // namespace a4j
