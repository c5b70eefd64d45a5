// seq_reduce.cuh — TODO (stub: returns A4J_ERR_ARGUMENT until implemented)
#pragma once
#include "portability.h"

namespace a4j {

inline int seq_reduce_fwd(const float* values, const float* mask, int64_t B, int64_t T, float* sums, float* counts) {
    return 1;
}

inline int seq_reduce_bwd(const float* dsums, const float* mask, int64_t B, int64_t T, float* dvalues) {
    return 1;
}

}  // namespace a4j
