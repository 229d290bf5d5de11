/*
 * Arithmetic shared by the package's C kernels (kernels/flux.c, kernels/learned.c): exact
 * division by a reciprocal and SLEEF's 1-ulp exp of a non-positive argument, with the
 * inline-function macro they use.  The builder (backends/native/build.py) compiles every kernel with
 * this folder's headers beside it and hashes them into the cache key, so a change here
 * rebuilds both kernels.
 *
 * Every operation below is written out (explicit __builtin_fma where a fused multiply-add
 * is meant), so the results do not depend on the compiler's contraction setting, except the
 * double exp's reduction step, which flux.c compiles with -ffp-contract=off.
 */
#ifndef PM_MATH_H
#define PM_MATH_H

#include <stdint.h>
#include <string.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define NOINLINE static __attribute__((noinline))

enum { G_EXP = 0, G_RATIONAL = 1, G_TUKEY = 2 };

/* ----------------------------------------------------------------- arithmetic ------- */

/* a / b, correctly rounded, from rb = RN(1/b): one multiply and two fused multiply-adds
 * (Markstein) instead of a division. */
ALWAYS_INLINE float div_f32(float a, float b, float rb) {
    float q = a * rb;
    float e = __builtin_fmaf(-q, b, a);
    return __builtin_fmaf(e, rb, q);
}
ALWAYS_INLINE double div_f64(double a, double b, double rb) {
    double q = a * rb;
    double e = __builtin_fma(-q, b, a);
    return __builtin_fma(e, rb, q);
}

/* e^-s for 0 <= s < 80 (SLEEF's 1-ulp expf: Cody-Waite reduction by ln 2, degree-7
 * polynomial); the caller maps s >= 80 to 0, so no result is subnormal. */
ALWAYS_INLINE float exp_neg_f32(float s) {
    const float x = -s;
    /* t = 1.5 * 2^23 + n with n = round(x / ln 2): adding the shifter rounds to an integer,
     * and t's low mantissa bits are n itself (two's complement), so 2^n is bits(t) << 23
     * plus the exponent bias; one fma instead of a multiply, round and convert */
    const float shifter = 12582912.0f;
    const float t = __builtin_fmaf(x, 1.442695040888963407359924681001892137426645954152985934135449406931f,
                                   shifter);
    const float qf = t - shifter;
    float r = __builtin_fmaf(qf, -0.693145751953125f, x);
    r = __builtin_fmaf(qf, -1.428606765330187045e-06f, r);
    float u = 0.000198527617612853646278381f;
    u = __builtin_fmaf(u, r, 0.00139304355252534151077271f);
    u = __builtin_fmaf(u, r, 0.00833336077630519866943359f);
    u = __builtin_fmaf(u, r, 0.0416664853692054748535156f);
    u = __builtin_fmaf(u, r, 0.166666671633720397949219f);
    u = __builtin_fmaf(u, r, 0.5f);
    u = 1.0f + __builtin_fmaf(r * r, u, r);
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits); /* memcpy, not a union: GCC vectorises it */
    bits = (bits << 23) + (127u << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return u * scale;
}

/* e^-s for 0 <= s < 700 (SLEEF's 1-ulp exp: degree-12 polynomial). */
ALWAYS_INLINE double exp_neg_f64(double s) {
    const double x = -s;
    /* as in exp_neg_f32: t's low mantissa bits are n = round(x / ln 2), so 2^n comes from
     * bits(t), not from a double-to-int64 conversion, which AVX2 has no vector form of (GCC
     * left the whole flux loop scalar: float64 ran 10x slower than float32) */
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52 */
    const double t = x * 1.442695040888963407359924681001892137426645954152985934135449406931 + shifter;
    const double qf = t - shifter;
    double r = __builtin_fma(qf, -.69314718055966295651160180568695068359375, x);
    r = __builtin_fma(qf, -.28235290563031577122588448175013436025525412068e-12, r);
    double u = 0.2081276378237164457e-8;
    u = __builtin_fma(u, r, 0.2511210703042288022e-7);
    u = __builtin_fma(u, r, 0.2755762628169491192e-6);
    u = __builtin_fma(u, r, 0.2755723402025388239e-5);
    u = __builtin_fma(u, r, 0.2480158687479686264e-4);
    u = __builtin_fma(u, r, 0.1984126989855865850e-3);
    u = __builtin_fma(u, r, 0.1388888888914497797e-2);
    u = __builtin_fma(u, r, 0.8333333333314938210e-2);
    u = __builtin_fma(u, r, 0.4166666666666602598e-1);
    u = __builtin_fma(u, r, 0.1666666666666669072e+0);
    u = __builtin_fma(u, r, 0.5);
    u = 1.0 + __builtin_fma(r * r, u, r);
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits << 52) + (UINT64_C(1023) << 52);
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return u * scale;
}

#endif /* PM_MATH_H */
