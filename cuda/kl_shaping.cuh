// kl_shaping.cuh — TODO (stub: returns A4J_ERR_ARGUMENT until implemented)
#pragma once
#include "portability.h"

namespace a4j {

inline int kl_shaping(const float* logp_old, const float* logp_ref, const float* mask, const float* scores, const int32_t* tokens, int64_t B, int64_t T, float beta, int32_t kl_type, int32_t eos_id, float missing_eos_penalty, float* rewards, float* kl) {
    return 1;
}

}  // namespace a4j
