// whiten.cuh — TODO (stub: returns A4J_ERR_ARGUMENT until implemented)
#pragma once
#include "portability.h"

namespace a4j {

inline int whiten(const float* x, const float* mask, int64_t B, int64_t T, int32_t shift_mean, float* out, double* work, float* stats) {
    return 1;
}

}  // namespace a4j
