// gae.cuh — TODO (stub: returns A4J_ERR_ARGUMENT until implemented)
#pragma once
#include "portability.h"

namespace a4j {

inline int gae(const float* rewards, const float* values, const float* mask, int64_t B, int64_t T, float gamma, float lambda, float* advantages, float* returns) {
    return 1;
}

}  // namespace a4j
