// preference_loss.cuh — TODO (stub: returns A4J_ERR_ARGUMENT until implemented)
#pragma once
#include "portability.h"

namespace a4j {

inline int preference_loss(const float* chosen, const float* rejected, const float* ref_chosen, const float* ref_rejected, const float* chosen_len, const float* rejected_len, int64_t B, int32_t type, float beta, float label_smoothing, float gamma, float* dchosen, float* drejected, float* losses, float* rewards_chosen, float* rewards_rejected, float* stats) {
    return 1;
}

}  // namespace a4j
