// policy_loss.cuh — TODO (stub: returns A4J_ERR_ARGUMENT until implemented)
#pragma once
#include "portability.h"

namespace a4j {

inline int policy_loss(const float* logp_new, const float* logp_old, const float* adv, const float* mask, int64_t B, int64_t T, float eps_low, float eps_high, float dual_clip, int32_t agg, float* dlogp_new, float* work, float* stats) {
    return 1;
}

}  // namespace a4j
