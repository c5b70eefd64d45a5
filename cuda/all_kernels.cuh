// all_kernels.cuh — every kernel header, included by both backends (native/align4j.cpp for the CPU,
// cuda/cuda_backend.cu for CUDA). Add a kernel here and in native/kernels.def.
#pragma once
#include "logprobs.cuh"
#include "seq_reduce.cuh"
#include "policy_loss.cuh"
#include "value_loss.cuh"
#include "kl_shaping.cuh"
#include "gae.cuh"
#include "whiten.cuh"
#include "preference_loss.cuh"
#include "reward_loss.cuh"
#include "checks.cuh"
