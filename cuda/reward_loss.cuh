// reward_loss.cuh — TODO (stub: returns A4J_ERR_ARGUMENT until implemented)
#pragma once
#include "portability.h"

namespace a4j {

inline int reward_loss(const float* r_chosen, const float* r_rejected, const float* margin, int64_t B, float center_coef, float* dchosen, float* drejected, float* stats) {
    return 1;
}

}  // namespace a4j
