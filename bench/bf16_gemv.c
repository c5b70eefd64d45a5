// Hand-written weight-stationary GEMMs for the bf16 storage question (bench/bf16_gemm_peer.py loads this through
// ctypes): Y[n, out] = X[n, in] · W[out, in]ᵀ for small n (KV-cached decoding), with W stored as
//   f32   fp32 weights, fp32 FMA                        (what OpenBLAS sgemm computes, for the same loop shape)
//   bf16w bf16 weights widened in registers, fp32 FMA   ("store bf16, compute fp32": exact products of the stored
//                                                        weights, half the weight bytes)
//   dpbf  bf16 weights and bf16-rounded X, AVX-512 BF16 vdpbf16ps (fp32 accumulate): sbgemm's arithmetic
// Each output row's weights are read once for all n rows of X (X stays in L1/L2), so at n = 1 the time is the
// weight bytes over the memory bandwidth. OpenMP over output rows. A measurement aid, not align4j code.
//   gcc -O3 -march=native -fopenmp -shared -fPIC bench/bf16_gemv.c -o /tmp/libbf16_gemv.so
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

void gemm_f32(const float *W, const float *X, float *Y, int n, int in, int out) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < out; o++) {
        const float *w = W + (long)o * in;
        for (int r = 0; r < n; r++) {
            const float *x = X + (long)r * in;
            __m512 acc = _mm512_setzero_ps();
            int i = 0;
            for (; i + 16 <= in; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), acc);
            float s = hsum(acc);
            for (; i < in; i++) s += w[i] * x[i];
            Y[(long)r * out + o] = s;
        }
    }
}

static inline __m512 widen16(const uint16_t *p) {
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

void gemm_bf16w(const uint16_t *W, const float *X, float *Y, int n, int in, int out) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < out; o++) {
        const uint16_t *w = W + (long)o * in;
        for (int r = 0; r < n; r++) {
            const float *x = X + (long)r * in;
            __m512 acc = _mm512_setzero_ps();
            int i = 0;
            for (; i + 16 <= in; i += 16) acc = _mm512_fmadd_ps(widen16(w + i), _mm512_loadu_ps(x + i), acc);
            float s = hsum(acc);
            for (; i < in; i++) {
                uint32_t b = (uint32_t)w[i] << 16;
                float f;
                memcpy(&f, &b, 4);
                s += f * x[i];
            }
            Y[(long)r * out + o] = s;
        }
    }
}

#ifdef __AVX512BF16__
// Xb: X already rounded to bf16 (as sbgemm takes it); in a multiple of 32.
void gemm_dpbf(const uint16_t *W, const uint16_t *Xb, float *Y, int n, int in, int out) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < out; o++) {
        const uint16_t *w = W + (long)o * in;
        for (int r = 0; r < n; r++) {
            const uint16_t *x = Xb + (long)r * in;
            __m512 acc = _mm512_setzero_ps();
            for (int i = 0; i + 32 <= in; i += 32)
                acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_loadu_si512(w + i), (__m512bh)_mm512_loadu_si512(x + i));
            Y[(long)r * out + o] = hsum(acc);
        }
    }
}
int has_dpbf16(void) { return 1; }
#else
void gemm_dpbf(const uint16_t *W, const uint16_t *Xb, float *Y, int n, int in, int out) {
    (void)W; (void)Xb; (void)Y; (void)n; (void)in; (void)out;
}
int has_dpbf16(void) { return 0; }
#endif
