/*
 * Fused CPU kernel of the learned ("on drugs") step (see backends/native/learned.py).
 *
 * The readable reference is peronamalik.art.engine.LearnedDiffusion.step: one seed step
 * (core.schemes.seed_step), the weighted loss of art/losses.py, autograd back to the
 * operator K, and one torch.optim step.  This file does all of it in one call and one pass
 * over the image, for one float32 image of C channels, H rows, W columns:
 *
 *     L = K * reflect_pad(I)                      (conv2d, G groups: G = 1 "full", G = C
 *                                                  "per-channel"; 3x3 or 5x5)
 *     s = (|L| / kd)^2,  c = g(s)                 (exp, rational, tukey as diffusivity.py;
 *                                                  kd = kappa, or kappa*sqrt(2) for tukey)
 *     or c = 1 / (|grad I|_Scharr / kd + 1)       ("inv", the seed's: kd = kappa^2; the
 *                                                  Scharr derivatives of each channel of the
 *                                                  reflection-padded I, as
 *                                                  schemes.scharr_magnitude; c does not
 *                                                  depend on K)
 *     u = I + (dt L) c,  I' = clamp(u, 0, 1)
 *     loss = scale * (w_f sum (I' - I0)^2 + w_e sum |L| + w_n sum I'^2    (scale 1 or 1/n)
 *                     + w_v sum (L (I' - I0))^2 + w_r sum L + w_m sum (I' L)^2)
 *                                                 (the last three: the seed's video terms;
 *                                                  I0 is then the incoming frame F)
 *
 * and the gradient derived by hand (what autograd computes):
 *
 *     dloss/dI' = scale * (2 w_f (I' - I0) + 2 w_n I' + 2 w_v L^2 (I' - I0) + 2 w_m I' L^2)
 *     dI'/du    = 1 where 0 <= u <= 1 (torch's clamp passes the gradient at the bounds), else 0
 *     du/dL     = dt (c + |L| g'(|L|))            exp: c (1 - 2s); rational: c (1 - 2 s c);
 *                                                  tukey: (1 - s) (0.5 (1 - s) - 2 s) if s <= 1;
 *                                                  inv: c (no dependence on L)
 *     dL        = dloss/dI' dI'/du du/dL + scale w_e sign(L)        (sign(0) = 0, as abs')
 *                 + scale (2 w_v L (I' - I0)^2 + w_r + 2 w_m I'^2 L)  (L's direct part)
 *     dK[o,i,a,b] = sum_p dL[o,p] pad(I)[i, p + (a,b)]
 *
 * then the optimizer step on K with torch's formulas (SGD with momentum, dampening,
 * Nesterov, weight decay, maximize; Adam without amsgrad), in float32 like torch.
 *
 * Layout of the work: the image is cut into bands of 8 rows; a band keeps a ring of ks
 * reflection-padded rows per channel, and for each row computes L (register-blocked: up
 * to 3 output channels x 4 vectors of pixels, each input tap loaded once for all of
 * them), then the pointwise part (exp etc., one vectorised loop), then accumulates dK
 * (register-blocked: up to 3 outputs x up to 13 taps, each dL and tap vector loaded once;
 * float vectors per band, summed into double at the band's end).  Bands run in parallel
 * (pm_pool.h's threads, dynamic schedule); their partial sums are added in band order afterwards, so
 * the result does not depend on the number of threads.  Loss sums: float per row, double
 * per band and after.  Compared with the reference, only the order of the sums differs
 * (conv2d's, autograd's, torch.sum's): the results agree to float32 rounding.
 *
 * Build: gcc -O3 -march=native -pthread -fopenmp-simd -fno-math-errno -fno-trapping-math; no
 * -ffast-math (it would link crtfastmath.o, which sets FTZ/DAZ for the whole process).
 * GCC's vector extensions (one register wide: 16 floats with AVX-512, 8 with AVX, 4
 * otherwise) keep it portable C (GCC or clang).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pm_layout.h" /* pm_entry, PM_INT, PM_SIGNATURE, PM_LAYOUT */
#include "pm_math.h" /* ALWAYS_INLINE, G_*, div_f32, exp_neg_f32 */
#include "pm_pool.h" /* pm_parallel_for: the bands' threads */

#define PM_ABI_VERSION 4

int pm_abi_version(void) { return PM_ABI_VERSION; }

enum { OPT_NONE = 0, OPT_SGD = 1, OPT_ADAM = 2 };
/* The seed's Scharr conductance ("inv"), after pm_math.h's G_ kinds: this kernel only. */
enum { G_INV = G_TUKEY + 1 };

/* Indices into the pointer, dimension and parameter arrays of pm_learned_step_f32. */
enum { P_IMAGE, P_TARGET, P_OUT, P_KERNEL, P_GRAD, P_STATE0, P_STATE1, P_STATE2, P_COUNT };
enum { D_C, D_H, D_W, D_KSIZE, D_GROUPS, D_KIND, D_BAND, D_FORWARD, D_COUNT };
enum {
    Q_KD, Q_DT, Q_W_FID, Q_W_EDGE, Q_W_ENERGY, Q_SCALE,
    Q_OPT, Q_LR, Q_WD, Q_MOM, Q_DAMP, Q_NEST, Q_MAX, Q_FIRST,
    Q_W_VFID, Q_W_RESP, Q_W_MOD,
    Q_LOSS, Q_SUM_FID, Q_SUM_EDGE, Q_SUM_ENERGY, Q_SUM_VFID, Q_SUM_RESP, Q_SUM_MOD, Q_COUNT
};
#define NSUM 6 /* loss sums, in the order of the Q_SUM_ entries and of their weights */

/* The layout the loader checks (pm_layout.h): ABI, kinds, optimizers, argument order and
 * the slots of the pointer, dimension and parameter arrays. */
static const pm_entry pm_layout_table[] = {
    PM_INT(PM_ABI_VERSION), PM_INT(G_EXP), PM_INT(G_RATIONAL), PM_INT(G_TUKEY), PM_INT(G_INV),
    PM_INT(OPT_NONE), PM_INT(OPT_SGD), PM_INT(OPT_ADAM),
    PM_SIGNATURE(pm_learned_step_f32, "ptr dims q nthreads"),
    PM_INT(P_IMAGE), PM_INT(P_TARGET), PM_INT(P_OUT), PM_INT(P_KERNEL), PM_INT(P_GRAD),
    PM_INT(P_STATE0), PM_INT(P_STATE1), PM_INT(P_STATE2), PM_INT(P_COUNT),
    PM_INT(D_C), PM_INT(D_H), PM_INT(D_W), PM_INT(D_KSIZE), PM_INT(D_GROUPS), PM_INT(D_KIND),
    PM_INT(D_BAND), PM_INT(D_FORWARD), PM_INT(D_COUNT),
    PM_INT(Q_KD), PM_INT(Q_DT), PM_INT(Q_W_FID), PM_INT(Q_W_EDGE), PM_INT(Q_W_ENERGY),
    PM_INT(Q_SCALE), PM_INT(Q_OPT), PM_INT(Q_LR), PM_INT(Q_WD), PM_INT(Q_MOM), PM_INT(Q_DAMP),
    PM_INT(Q_NEST), PM_INT(Q_MAX), PM_INT(Q_FIRST), PM_INT(Q_W_VFID), PM_INT(Q_W_RESP),
    PM_INT(Q_W_MOD), PM_INT(Q_LOSS), PM_INT(Q_SUM_FID), PM_INT(Q_SUM_EDGE), PM_INT(Q_SUM_ENERGY),
    PM_INT(Q_SUM_VFID), PM_INT(Q_SUM_RESP), PM_INT(Q_SUM_MOD), PM_INT(Q_COUNT),
};
PM_LAYOUT(pm_layout_table)

/* Vectors of the machine's width; block sizes such that a block's accumulators stay in
 * registers (32 vector registers with AVX-512 or on AArch64, 16 elsewhere). */
#if defined(__AVX512F__)
#define VL 16
#define NREG 32
#elif defined(__AVX__)
#define VL 8
#define NREG 16
#elif defined(__aarch64__)
#define VL 4
#define NREG 32
#else
#define VL 4
#define NREG 16
#endif
#define XB (NREG >= 32 ? 4 : 2) /* vectors per forward block */
#define ROW_ALIGN 64            /* floats: L and dL rows are whole forward blocks */
typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4), __may_alias__));

ALWAYS_INLINE vf ldu(const float *p) { return *(const vfu *)p; }
ALWAYS_INLINE vf lda(const float *p) { return *(const vf *)p; }
ALWAYS_INLINE void sta(float *p, vf v) { *(vf *)p = v; }
/* x in every lane: x - 0 is x exactly, so this folds to one broadcast ((vf){0} + x would
 * not: -0 + 0 is +0, and a loop over lanes becomes VL inserts) */
ALWAYS_INLINE vf splat(float x) { return x - (vf){0}; }

static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

/* ----------------------------------------------------------------- arithmetic ------- */

/* div_f32 (a / b, correctly rounded, from rb = RN(1/b)) and exp_neg_f32 (e^-s for
 * 0 <= s < 80; the caller maps s >= 80 to 0) come from pm_math.h, shared with flux.c. */

/* ------------------------------------------------------------------ geometry -------- */

typedef struct {
    const float *img, *target;
    float *out;
    int64_t C, H, W, ks, r, G, cin, ntap;  /* ntap = cin*ks*ks taps per output channel */
    int64_t nk;                            /* elements of K: C * ntap */
    int64_t stride;                        /* floats per padded row */
    int64_t lw;                            /* floats per L / dL row (multiple of ROW_ALIGN) */
    int kind;
    float kd, dt, wf2, we, wn2;            /* wf2 = 2 w_f scale, we = w_e scale, wn2 = 2 w_n scale */
    float wv2, wr, wm2;                    /* the video terms': 2 w_v scale, w_r scale, 2 w_m scale */
    int video;                             /* any video term weighted */
    int forward_only;                      /* I' only: no dK, no optimizer step */
    const float *K;
} geom;

typedef struct {
    float *ring;        /* C x ks padded rows */
    float *L, *dL;      /* C rows of lw floats each */
    float *cond;        /* one row of lw floats: the "inv" conductance */
    vf *part;           /* nk float vectors: dK partial sums of the band */
    const float **tap;  /* C*ks*ks row pointers of the current row */
} work;

static int64_t reflect(int64_t i, int64_t n) {
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
}

ALWAYS_INLINE float *ring_row(const geom *g, const work *w, int64_t ch, int64_t y) {
    const int64_t slot = ((y % g->ks) + g->ks) % g->ks;
    return w->ring + (ch * g->ks + slot) * g->stride;
}

/* Padded row y (-r <= y < H + r) of every channel into its ring slot. */
static void load_row(const geom *g, work *w, int64_t y) {
    const int64_t src_y = reflect(y, g->H), W = g->W, r = g->r;
    for (int64_t ch = 0; ch < g->C; ch++) {
        float *dst = ring_row(g, w, ch, y);
        const float *src = g->img + (ch * g->H + src_y) * W;
        memcpy(dst + r, src, (size_t)W * sizeof(float));
        for (int64_t j = 1; j <= r; j++) {
            dst[r - j] = src[j];
            dst[r + W - 1 + j] = src[W - 1 - j];
        }
    }
}

/* ------------------------------------------------------------------- forward -------- */

/* out[o][x .. x+64) = sum_t w[o*nt + t] * tap[t][x .. x+64), o < NO */
ALWAYS_INLINE void fwd_block(const int NO, int64_t nt, const float *const *tap, const float *w,
                             float *const *out, int64_t x) {
    vf acc[3][XB];
    for (int o = 0; o < NO; o++)
        for (int j = 0; j < XB; j++) acc[o][j] = (vf){0};
    for (int64_t t = 0; t < nt; t++) {
        const float *s = tap[t] + x;
        vf v[XB];
        for (int j = 0; j < XB; j++) v[j] = ldu(s + j * VL);
        for (int o = 0; o < NO; o++) {
            const vf k = splat(w[o * nt + t]);
            for (int j = 0; j < XB; j++) acc[o][j] += k * v[j];
        }
    }
    for (int o = 0; o < NO; o++)
        for (int j = 0; j < XB; j++) sta(out[o] + x + j * VL, acc[o][j]);
}

static void fwd_rows(const int NO, int64_t nt, const float *const *tap, const float *w,
                     float *const *out, int64_t lw) {
    switch (NO) {
    case 1: for (int64_t x = 0; x < lw; x += XB * VL) fwd_block(1, nt, tap, w, out, x); break;
    case 2: for (int64_t x = 0; x < lw; x += XB * VL) fwd_block(2, nt, tap, w, out, x); break;
    default: for (int64_t x = 0; x < lw; x += XB * VL) fwd_block(3, nt, tap, w, out, x); break;
    }
}

/* ----------------------------------------------------------------- pointwise -------- */

/* The "inv" conductance of row y of channel ch: c = 1 / (|grad I|_Scharr / kd + 1), with the
 * Scharr derivatives of the reflection-padded rows y-1 .. y+1 in the ring.  Rounded as
 * schemes.scharr_magnitude rounds them, in its order: the central differences, then their
 * 3, 10, 3 sum across ((3 a + 10 b) + 3 c), squares, sum and sqrt, each product written as
 * __builtin_fmaf(a, b, 0) (the rounded product), so no contraction setting changes them. */
static void inv_row(const geom *g, const work *w, int64_t ch, int64_t y, float *restrict cond) {
    const float *up = ring_row(g, w, ch, y - 1) + g->r - 1; /* up[x] is column x - 1 */
    const float *mid = ring_row(g, w, ch, y) + g->r - 1;
    const float *dn = ring_row(g, w, ch, y + 1) + g->r - 1;
    const float kd = g->kd, rkd = 1.0f / kd;
    #pragma omp simd
    for (int64_t x = 0; x < g->W; x++) {
        const float gx = (__builtin_fmaf(3.0f, up[x] - up[x + 2], 0.0f) + __builtin_fmaf(10.0f, mid[x] - mid[x + 2], 0.0f))
                         + __builtin_fmaf(3.0f, dn[x] - dn[x + 2], 0.0f);
        const float gy = (__builtin_fmaf(3.0f, up[x] - dn[x], 0.0f) + __builtin_fmaf(10.0f, up[x + 1] - dn[x + 1], 0.0f))
                         + __builtin_fmaf(3.0f, up[x + 2] - dn[x + 2], 0.0f);
        const float m = sqrtf(__builtin_fmaf(gx, gx, 0.0f) + __builtin_fmaf(gy, gy, 0.0f));
        cond[x] = 1.0f / (div_f32(m, kd, rkd) + 1.0f);
    }
}

/* One row of one channel: I' into out, dL, and the row's loss sums (cond: the "inv"
 * conductance of the row). */
ALWAYS_INLINE void point_row(const geom *g, const int kind, const int video, const float *restrict L,
                             const float *restrict in, const float *restrict tgt, const float *restrict cond,
                             float *restrict out, float *restrict dL, double *sums) {
    const float kd = g->kd, rkd = 1.0f / kd, dt = g->dt, wf2 = g->wf2, we = g->we, wn2 = g->wn2;
    const float wv2 = g->wv2, wr = g->wr, wm2 = g->wm2;
    float sf = 0.0f, se = 0.0f, sn = 0.0f, sv = 0.0f, sr = 0.0f, sm = 0.0f;
    #pragma omp simd reduction(+ : sf, se, sn, sv, sr, sm)
    for (int64_t x = 0; x < g->W; x++) {
        const float l = L[x];
        const float a = fabsf(l);
        const float q = div_f32(a, kd, rkd); /* = a / kd, as torch divides */
        const float s = q * q;
        float c, dc;
        if (kind == G_EXP) {
            c = s < 80.0f ? exp_neg_f32(s) : 0.0f;
            dc = c * (1.0f - 2.0f * s);
        } else if (kind == G_RATIONAL) {
            c = 1.0f / (1.0f + s);
            dc = c * (1.0f - 2.0f * s * c);
        } else if (kind == G_INV) {
            c = cond[x];
            dc = c;
        } else {
            const float m = 1.0f - s;
            c = s <= 1.0f ? 0.5f * (m * m) : 0.0f;
            dc = s <= 1.0f ? m * (0.5f * m - 2.0f * s) : 0.0f;
        }
        const float u = in[x] + (dt * l) * c;
        /* clamp(u, 0, 1) in the form of x86's max/min (a NaN u stays NaN, as in torch) */
        const float lo = 0.0f > u ? 0.0f : u;
        const float v = 1.0f < lo ? 1.0f : lo;
        out[x] = v;
        const float d = v - tgt[x];
        sf += d * d;
        se += a;
        sn += v * v;
        float gv = wf2 * d + wn2 * v;
        float direct = a > 0.0f ? __builtin_copysignf(we, l) : 0.0f; /* we * sign(l) */
        if (video) {
            const float ld = l * d, vl = v * l; /* L (I' - F), I' L */
            sv += ld * ld;
            sr += l;
            sm += vl * vl;
            gv += wv2 * l * ld + wm2 * l * vl;
            direct += wv2 * d * ld + wr + wm2 * v * vl;
        }
        const float gu = v == u ? gv : 0.0f; /* 0 <= u <= 1 (bounds included, as torch) */
        dL[x] = gu * dt * dc + direct;
    }
    sums[0] += sf;
    sums[1] += se;
    sums[2] += sn;
    sums[3] += sv;
    sums[4] += sr;
    sums[5] += sm;
}

/* point_row with the conductance `kind` (and `video`, a constant at each call) specialised. */
ALWAYS_INLINE void point_row_of(const geom *g, const int video, const float *restrict L,
                                const float *restrict in, const float *restrict tgt, const float *restrict cond,
                                float *restrict out, float *restrict dL, double *sums) {
    if (g->kind == G_EXP) point_row(g, G_EXP, video, L, in, tgt, cond, out, dL, sums);
    else if (g->kind == G_RATIONAL) point_row(g, G_RATIONAL, video, L, in, tgt, cond, out, dL, sums);
    else if (g->kind == G_INV) point_row(g, G_INV, video, L, in, tgt, cond, out, dL, sums);
    else point_row(g, G_TUKEY, video, L, in, tgt, cond, out, dL, sums);
}

/* ------------------------------------------------------------------ backward -------- */

/* part[o*pstride + t] += sum_x dl[o][x] * tap[t][x] over the row, o < NO, t < TB */
ALWAYS_INLINE void bwd_block(const int NO, const int TB, const float *const *dl,
                             const float *const *tap, vf *part, int64_t pstride, int64_t xend) {
    vf acc[3][13];
    for (int o = 0; o < NO; o++)
        for (int t = 0; t < TB; t++) acc[o][t] = (vf){0};
    for (int64_t x = 0; x < xend; x += VL) {
        vf d[3];
        for (int o = 0; o < NO; o++) d[o] = lda(dl[o] + x);
        for (int t = 0; t < TB; t++) {
            const vf v = ldu(tap[t] + x);
            for (int o = 0; o < NO; o++) acc[o][t] += d[o] * v;
        }
    }
    for (int o = 0; o < NO; o++)
        for (int t = 0; t < TB; t++) part[o * pstride + t] += acc[o][t];
}

#define BWD_CASE(no, tb) case (no) * 16 + (tb): bwd_block(no, tb, dl, tap, part, pstride, xend); break;
#define BWD_CASES(no) \
    BWD_CASE(no, 1) BWD_CASE(no, 2) BWD_CASE(no, 3) BWD_CASE(no, 4) BWD_CASE(no, 5) \
    BWD_CASE(no, 6) BWD_CASE(no, 7) BWD_CASE(no, 8) BWD_CASE(no, 9) BWD_CASE(no, 10) \
    BWD_CASE(no, 11) BWD_CASE(no, 12) BWD_CASE(no, 13)

static void bwd_dispatch(int NO, int TB, const float *const *dl, const float *const *tap, vf *part,
                         int64_t pstride, int64_t xend) {
    switch (NO * 16 + TB) {
        BWD_CASES(1)
        BWD_CASES(2)
        BWD_CASES(3)
    default: break;
    }
}

/* Most taps per block for NO outputs: NO*TB accumulators, NO + 1 more registers. */
static int max_taps(int NO) {
    const int tb = (NREG - 6) / NO;
    return tb < 1 ? 1 : tb > 13 ? 13 : tb;
}

/* ---------------------------------------------------------------------- band -------- */

static void run_band(const geom *g, work *w, int64_t y0, int64_t y1, double *band_out) {
    const int64_t C = g->C, ks = g->ks, r = g->r, H = g->H, W = g->W;
    const int64_t ntap = g->ntap, cout = C / g->G, lw = g->lw;
    const int64_t xend = round_up(W, VL);
    double sums[NSUM] = {0.0};
    memset(w->part, 0, (size_t)g->nk * sizeof(vf));
    for (int64_t y = y0 - r; y < y0 + r; y++) load_row(g, w, y);
    for (int64_t y = y0; y < y1; y++) {
        load_row(g, w, y + r);
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t a = 0; a < ks; a++) {
                const float *row = ring_row(g, w, ch, y + a - r);
                for (int64_t b = 0; b < ks; b++) w->tap[(ch * ks + a) * ks + b] = row + b;
            }
        for (int64_t grp = 0; grp < g->G; grp++) {
            const float *const *tap = w->tap + grp * ntap;  /* the group's cin input channels */
            for (int64_t o0 = 0; o0 < cout; o0 += 3) {
                const int NO = (int)(cout - o0 < 3 ? cout - o0 : 3);
                const int64_t o = grp * cout + o0;
                float *outs[3] = {w->L + o * lw, w->L + (o + 1) * lw, w->L + (o + 2) * lw};
                fwd_rows(NO, ntap, tap, g->K + o * ntap, outs, lw);
            }
        }
        for (int64_t o = 0; o < C; o++) {
            const int64_t off = (o * H + y) * W;
            float *L = w->L + o * lw, *dL = w->dL + o * lw;
            const float *in = g->img + off, *tgt = g->target + off;
            float *out = g->out + off;
            if (g->kind == G_INV) inv_row(g, w, o, y, w->cond);
            if (g->video) point_row_of(g, 1, L, in, tgt, w->cond, out, dL, sums);
            else point_row_of(g, 0, L, in, tgt, w->cond, out, dL, sums);
        }
        for (int64_t grp = 0; grp < g->G && !g->forward_only; grp++) {
            const float *const *tap = w->tap + grp * ntap;
            for (int64_t o0 = 0; o0 < cout; o0 += 3) {
                const int NO = (int)(cout - o0 < 3 ? cout - o0 : 3);
                const int64_t o = grp * cout + o0;
                const float *dl[3] = {w->dL + o * lw, w->dL + (o + 1) * lw, w->dL + (o + 2) * lw};
                const int64_t nblocks = (ntap + max_taps(NO) - 1) / max_taps(NO);
                const int64_t tb = (ntap + nblocks - 1) / nblocks;
                for (int64_t t0 = 0; t0 < ntap; t0 += tb) {
                    const int TB = (int)(ntap - t0 < tb ? ntap - t0 : tb);
                    bwd_dispatch(NO, TB, dl, tap + t0, w->part + o * ntap + t0, ntap, xend);
                }
            }
        }
    }
    for (int64_t k = 0; k < g->nk; k++) {
        double s = 0.0;
        for (int j = 0; j < VL; j++) s += (double)w->part[k][j];
        band_out[k] = s;
    }
    for (int j = 0; j < NSUM; j++) band_out[g->nk + j] = sums[j];
}

static void *alloc64(size_t bytes) {
    void *p = aligned_alloc(64, round_up((int64_t)bytes, 64));
    if (p) memset(p, 0, round_up((int64_t)bytes, 64));
    return p;
}

static int work_alloc(const geom *g, work *w) {
    w->ring = alloc64((size_t)(g->C * g->ks * g->stride) * sizeof(float));
    w->L = alloc64((size_t)(g->C * g->lw) * sizeof(float));
    w->dL = alloc64((size_t)(g->C * g->lw) * sizeof(float));
    w->cond = alloc64((size_t)g->lw * sizeof(float));
    w->part = alloc64((size_t)g->nk * sizeof(vf));
    w->tap = malloc((size_t)(g->C * g->ks * g->ks) * sizeof(float *));
    return w->ring && w->L && w->dL && w->cond && w->part && w->tap;
}

static void work_free(work *w) {
    free(w->ring);
    free(w->L);
    free(w->dL);
    free(w->cond);
    free(w->part);
    free(w->tap);
}

/* The bands as a pm_pool.h loop: each thread's scratch is a work, index b is band b. */
typedef struct {
    const geom *g;
    int64_t band, nrec;
    double *bands;
} band_job;

static void *band_init(void *ctx) {
    const band_job *job = ctx;
    work *w = malloc(sizeof(work));
    if (w && work_alloc(job->g, w)) return w;
    if (w) work_free(w);
    free(w);
    return NULL;
}

static void band_run(void *ctx, void *scratch, int64_t b) {
    const band_job *job = ctx;
    const int64_t y0 = b * job->band, y1 = y0 + job->band < job->g->H ? y0 + job->band : job->g->H;
    run_band(job->g, scratch, y0, y1, job->bands + b * job->nrec);
}

static void band_fini(void *scratch) {
    work_free(scratch);
    free(scratch);
}

/* ----------------------------------------------------------------- optimizer -------- */

/* torch.optim.SGD's single-tensor step (float32 arithmetic, the same order). */
static void sgd_step(float *p, const float *grad, float *buf, int64_t n, const double *q) {
    const float lr = (float)q[Q_LR], wd = (float)q[Q_WD], mom = (float)q[Q_MOM];
    const float keep = (float)(1.0 - q[Q_DAMP]);
    const int nesterov = q[Q_NEST] != 0.0, maximize = q[Q_MAX] != 0.0, first = q[Q_FIRST] != 0.0;
    for (int64_t j = 0; j < n; j++) {
        float d = maximize ? -grad[j] : grad[j];
        if (q[Q_WD] != 0.0) d = d + wd * p[j];
        if (q[Q_MOM] != 0.0) {
            buf[j] = first ? d : buf[j] * mom + keep * d;
            d = nesterov ? d + mom * buf[j] : buf[j];
        }
        p[j] = p[j] + (-lr) * d;
    }
}

/* torch.optim.Adam's single-tensor step without amsgrad; step is the state's float32 count. */
static void adam_step(float *p, const float *grad, float *m, float *v, float *step, int64_t n,
                      const double *q) {
    const double beta1 = q[Q_MOM], beta2 = q[Q_DAMP];
    const float wd = (float)q[Q_WD], eps = (float)q[Q_NEST];
    const float w1 = (float)(1.0 - beta1), b2 = (float)beta2, w2 = (float)(1.0 - beta2);
    const int maximize = q[Q_MAX] != 0.0;
    *step = *step + 1.0f;
    const double t = (double)*step;
    const double bc1 = 1.0 - pow(beta1, t), bc2 = 1.0 - pow(beta2, t);
    const float step_size = (float)(q[Q_LR] / bc1), bc2_sqrt = (float)pow(bc2, 0.5);
    for (int64_t j = 0; j < n; j++) {
        float d = maximize ? -grad[j] : grad[j];
        if (q[Q_WD] != 0.0) d = d + wd * p[j];
        /* lerp(m, d, w1) as ATen computes it */
        m[j] = fabsf(w1) < 0.5f ? m[j] + w1 * (d - m[j]) : d - (d - m[j]) * (1.0f - w1);
        v[j] = v[j] * b2 + w2 * d * d;
        const float denom = sqrtf(v[j]) / bc2_sqrt + eps;
        p[j] = p[j] + (-step_size) * (m[j] / denom);
    }
}

/* ---------------------------------------------------------------------- entry ------- */

/* One learned step.  ptr: image, target, out (C*H*W float32 each, C-contiguous), K (in/out,
 * C * C/G * ks * ks), grad (out, like K), optimizer state: SGD momentum buffer | Adam
 * exp_avg, exp_avg_sq, step (one float32).  dims: C, H, W, ks, G, kind (G_ or G_INV), band rows (0:
 * default), forward only (1: I' and the loss, K and the optimizer untouched, grad and
 * state unused).  q: parameters (see the Q_ enum); the loss and its six sums are written to
 * q[Q_LOSS ..].  Returns 0, -1 on bad arguments, -2 when out of memory. */
int pm_learned_step_f32(void *const *ptr, const int64_t *dims, double *q, int nthreads) {
    geom g;
    g.C = dims[D_C]; g.H = dims[D_H]; g.W = dims[D_W]; g.ks = dims[D_KSIZE]; g.G = dims[D_GROUPS];
    g.kind = (int)dims[D_KIND];
    if (g.C < 1 || g.G < 1 || g.C % g.G || (g.ks != 3 && g.ks != 5)) return -1;
    if (g.kind < G_EXP || g.kind > G_INV) return -1;
    g.r = g.ks / 2;
    if (g.H <= g.r || g.W <= g.r) return -1; /* reflection padding needs pad < size */
    g.cin = g.C / g.G;
    g.ntap = g.cin * g.ks * g.ks;
    g.nk = g.C * g.ntap;
    g.lw = round_up(g.W, ROW_ALIGN);
    g.stride = round_up(g.lw + 2 * g.r, VL);
    g.img = ptr[P_IMAGE]; g.target = ptr[P_TARGET]; g.out = ptr[P_OUT]; g.K = ptr[P_KERNEL];
    if (!g.img || !g.target || !g.out || !g.K || g.out == g.img || !(q[Q_KD] > 0)) return -1;
    g.forward_only = dims[D_FORWARD] != 0;
    const int opt = g.forward_only ? OPT_NONE : (int)q[Q_OPT];
    if (opt == OPT_SGD && q[Q_MOM] != 0.0 && !ptr[P_STATE0]) return -1;
    if (opt == OPT_ADAM && (!ptr[P_STATE0] || !ptr[P_STATE1] || !ptr[P_STATE2])) return -1;
    if (opt < OPT_NONE || opt > OPT_ADAM) return -1;
    const double scale = q[Q_SCALE];
    g.kd = (float)q[Q_KD]; g.dt = (float)q[Q_DT];
    g.wf2 = (float)(2.0 * q[Q_W_FID] * scale);
    g.we = (float)(q[Q_W_EDGE] * scale);
    g.wn2 = (float)(2.0 * q[Q_W_ENERGY] * scale);
    g.wv2 = (float)(2.0 * q[Q_W_VFID] * scale);
    g.wr = (float)(q[Q_W_RESP] * scale);
    g.wm2 = (float)(2.0 * q[Q_W_MOD] * scale);
    g.video = q[Q_W_VFID] != 0.0 || q[Q_W_RESP] != 0.0 || q[Q_W_MOD] != 0.0;

    int64_t band = dims[D_BAND] > 0 ? dims[D_BAND] : 8;
    const int64_t nb = (g.H + band - 1) / band;
    const int64_t nrec = g.nk + NSUM;
    double *bands = malloc((size_t)(nb * nrec) * sizeof(double));
    double *dk = malloc((size_t)g.nk * sizeof(double));
    if (!bands || !dk) {
        free(bands);
        free(dk);
        return -2;
    }
    band_job job = {&g, band, nrec, bands};
    const pm_loop loop = {band_init, band_run, band_fini, &job};
    if (pm_parallel_for(&loop, nb, nthreads) != 0) {
        free(bands);
        free(dk);
        return -2;
    }
    double sums[NSUM] = {0.0};
    for (int64_t k = 0; k < g.nk; k++) dk[k] = 0.0;
    for (int64_t b = 0; b < nb; b++) {
        const double *rec = bands + b * nrec;
        for (int64_t k = 0; k < g.nk; k++) dk[k] += rec[k];
        for (int j = 0; j < NSUM; j++) sums[j] += rec[g.nk + j];
    }
    /* the reference skips terms of weight 0 */
    const double weight[NSUM] = {q[Q_W_FID], q[Q_W_EDGE], q[Q_W_ENERGY], q[Q_W_VFID], q[Q_W_RESP], q[Q_W_MOD]};
    double loss = 0.0;
    for (int j = 0; j < NSUM; j++) {
        if (weight[j] != 0.0) loss += weight[j] * (scale * sums[j]);
        q[Q_SUM_FID + j] = sums[j];
    }
    q[Q_LOSS] = loss;
    if (g.forward_only) {
        free(bands);
        free(dk);
        return 0;
    }

    float *grad = ptr[P_GRAD];
    float *gr = grad ? grad : malloc((size_t)g.nk * sizeof(float));
    if (!gr) {
        free(bands);
        free(dk);
        return -2;
    }
    for (int64_t k = 0; k < g.nk; k++) gr[k] = (float)dk[k];
    float *K = ptr[P_KERNEL];
    if (opt == OPT_SGD) sgd_step(K, gr, ptr[P_STATE0], g.nk, q);
    else if (opt == OPT_ADAM) adam_step(K, gr, ptr[P_STATE0], ptr[P_STATE1], ptr[P_STATE2], g.nk, q);
    if (!grad) free(gr);
    free(bands);
    free(dk);
    return 0;
}
