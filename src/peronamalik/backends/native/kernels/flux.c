/*
 * Fused CPU kernel of the "flux" and "flux8" Perona-Malik schemes (see backends/native/flux.py).
 *
 * The readable reference is peronamalik.core.schemes.flux_step; this file does the same
 * float operations in the same order, so the two agree to rounding: rational and tukey bit
 * for bit, exp up to the last bit of exp itself (SLEEF's 1-ulp algorithm here, MKL's in
 * torch).  That matters: the explicit scheme is forward-backward where |grad| > kappa, and
 * that regime amplifies any difference in rounding -- an innocent d*d*(1/kappa^2) in place
 * of (d/kappa)^2 ends up 2e-5 away from the reference after 100 steps on a photo.
 *
 * For every pair of neighbours (x, y = x + offset) at distance h, once per pair ("face"):
 *     diff = (u_y - u_x) / h,   F = g(|diff|, kappa) * diff / h,
 * x gains F and y loses it; pairs that would cross the border do not exist (zero flux).
 * The update is summed offset by offset, (((F0_out - F0_in) + F1_out) - F1_in) + ..., as
 * flux_step accumulates its padded arrays, then u' = u + dt * update.  Offsets: the axes
 * ("flux"), then in 2-D the diagonals (1, 1) and (1, -1) at h = sqrt(hy^2 + hx^2)
 * ("flux8").  With coupled channels the conductance is g(sqrt(sum_c diff_c^2 + tiny)) and
 * F is per channel.  Divisions are exact (a multiply by the reciprocal plus a Markstein
 * correction, two FMAs); no contraction into FMAs elsewhere (-ffp-contract=off).
 *
 * Layout: (groups, nc, n0, n1, n2), C-contiguous, n2 the contiguous axis; 2-D images come
 * as (H, 1, W), 3-D volumes as (D, H, W).  Axis 0 is "z", axis 1 "y", axis 2 "x" below.
 *
 * Speed: temporal blocking.  A pass applies `depth` steps while streaming once through
 * memory along axis 0: stage t (1..depth) computes slab s (a row in 2-D, a tile of rows in
 * 3-D) of step t from slabs s and s+1 of step t-1, which sit in a ring of three slabs per
 * stage small enough for the L2 cache.  The z-flux between slabs s-1 and s is kept from the
 * previous slab (a rolling buffer), the y-flux from the previous row, the x-fluxes in a row
 * buffer, so each face's flux is computed once per step and shared by both pixels.  Only
 * step 0 is read from memory and only the last step is written.  Work is cut into blocks
 * (bands along axis 0, tiles along axis 1) that also compute a halo of depth-1 slabs/rows
 * (the dependency cone), so blocks are independent and run in parallel (pm_pool.h).  Passes
 * ping-pong between dst and tmp so that the last one lands in dst; src is never written.
 * The loops are plain C that GCC vectorises (16 floats per AVX-512 op, exp inlined).
 *
 * Build: gcc -O3 -march=native -pthread -fopenmp-simd -ffp-contract=off -fno-math-errno
 *        -fno-trapping-math [-mprefer-vector-width=512]; no -ffast-math: it would reorder
 *        the arithmetic above, and GCC 12 links crtfastmath.o into shared objects, which
 *        sets FTZ/DAZ for the whole process when the library loads.
 */
#ifndef PM_REAL /* ---- first inclusion: common part, then the body for float and double */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pm_layout.h" /* pm_entry, PM_INT, PM_SIGNATURE, PM_LAYOUT */
#include "pm_math.h" /* ALWAYS_INLINE, G_*, div_f32/f64, exp_neg_f32/f64 */
#include "pm_pool.h" /* pm_parallel_for: the blocks' threads */

#define PM_ABI_VERSION 5

int pm_abi_version(void) { return PM_ABI_VERSION; }

/* The layout the loader checks (pm_layout.h): ABI, kinds, argument order and array slots. */
static const pm_entry pm_layout_table[] = {
    PM_INT(PM_ABI_VERSION), PM_INT(G_EXP), PM_INT(G_RATIONAL), PM_INT(G_TUKEY),
    PM_SIGNATURE(pm_flux_f32, "src dst tmp shape param kind eight iterations depth band0 tile1 nthreads"),
    PM_SIGNATURE(pm_flux_f64, "src dst tmp shape param kind eight iterations depth band0 tile1 nthreads"),
    {"shape", 0, "groups nc n0 n1 n2"},
    {"param", 0, "kd dt h0 h1 h2 hd"},
};
PM_LAYOUT(pm_layout_table)

/* g from s = (|diff| / kd)^2, with kd = kappa (exp, rational) or kappa*sqrt(2) (tukey),
 * as in core/diffusivity.py. */
ALWAYS_INLINE float g_f32(float s, const int kind) {
    if (kind == G_EXP) return s < 80.0f ? exp_neg_f32(s) : 0.0f;
    if (kind == G_RATIONAL) return 1.0f / (1.0f + s);
    float r = 1.0f - s;
    return s <= 1.0f ? 0.5f * (r * r) : 0.0f;
}
ALWAYS_INLINE double g_f64(double s, const int kind) {
    if (kind == G_EXP) return s < 700.0 ? exp_neg_f64(s) : 0.0;
    if (kind == G_RATIONAL) return 1.0 / (1.0 + s);
    double r = 1.0 - s;
    return s <= 1.0 ? 0.5 * (r * r) : 0.0;
}

/* A view of one slab (all nc channels): element (c, j, x) at p[c*cs + (j - r0)*n2 + x]. */
typedef struct { float *p; int64_t cs, r0; } view_f32;
typedef struct { double *p; int64_t cs, r0; } view_f64;

#define PM_CAT2(a, b) a##b
#define PM_CAT(a, b) PM_CAT2(a, b)
#define NAME(x) PM_CAT(x, SFX)

#define PM_REAL float
#define real float
#define SFX f32
#define PM_TINY FLT_MIN
#define PM_SQRT sqrtf
#define PM_UNIT_COPY 1
#include __FILE__
#undef PM_REAL
#undef real
#undef SFX
#undef PM_TINY
#undef PM_SQRT
#undef PM_UNIT_COPY

#define PM_REAL double
#define real double
#define SFX f64
#define PM_TINY DBL_MIN
#define PM_SQRT sqrt
#define PM_UNIT_COPY 0
#include __FILE__

#else /* ---- the body, once per precision: `real` is float or double, NAME(x_) is x_f32/x_f64 */

typedef struct {
    int64_t n0, n1, n2, nc;
    real kd, rkd;           /* kappa divisor and its reciprocal */
    real h[3], rh[3];       /* spacing per axis and reciprocals */
    real hd, rhd;           /* "flux8": length of a diagonal, sqrt(h0^2 + h2^2) */
    real dt;
    int eight;              /* "flux8" (2-D, one channel): also the two diagonals */
} NAME(geom_);

ALWAYS_INLINE real *NAME(row_)(NAME(view_) v, int64_t c, int64_t j, int64_t n2) {
    return v.p + c * v.cs + (j - v.r0) * n2;
}

/* The constants of one axis, copied into locals before a loop (loads through gm inside
 * a loop would keep GCC from vectorising it). */
typedef struct { real h, rh, kd, rkd; } NAME(face_);
ALWAYS_INLINE NAME(face_) NAME(face_of_)(const NAME(geom_) *gm, int axis) {
    NAME(face_) f = {gm->h[axis], gm->rh[axis], gm->kd, gm->rkd};
    return f;
}

/* Flux through one face from the difference d = u_y - u_x (single channel). */
ALWAYS_INLINE real NAME(flux_)(real d, const NAME(face_) fc, const int kind, const int unit) {
    real diff = unit ? d : NAME(div_)(d, fc.h, fc.rh);
    real t = NAME(div_)(diff, fc.kd, fc.rkd);
    real f = NAME(g_)(t * t, kind) * diff;
    return unit ? f : NAME(div_)(f, fc.h, fc.rh);
}
/* Conductance of one face from sum_c diff_c^2 (coupled channels). */
ALWAYS_INLINE real NAME(cond_)(real sq, const NAME(face_) fc, const int kind) {
    real t = NAME(div_)(PM_SQRT(sq + PM_TINY), fc.kd, fc.rkd);
    return NAME(g_)(t * t, kind);
}

/* The z-pair of pixel x (value u) with the one below it (pz: next slab, or next row in
 * 2-D): the new flux, kept in fz[x] for the row below, minus the one received from above
 * (fz[x] on entry); the start of the pixel's update.  Inlined, the loops compile to the
 * same code as with these lines written out in each (gcc -O3; with restrict here they
 * would not). */
ALWAYS_INLINE real NAME(zpair_)(const real u, const real *pz, real *fz,
                                const int64_t x, const NAME(face_) f0, const int kind,
                                const int unit) {
    const real fzn = NAME(flux_)(pz[x] - u, f0, kind, unit);
    const real upd = fzn - fz[x];
    fz[x] = fzn;
    return upd;
}

/* One row of one stage, single channel: p is row j of slab s, py row j+1 (3-D), pz row j
 * of slab s+1.  Where a neighbour does not exist the caller passes p itself: the difference
 * is then 0 and so is the flux (g(0) * 0 = +0, the zero the reference pads with).
 * fx: n2+1 reals (x-fluxes, fx[0] = fx[n2] = 0); fy: y-fluxes between rows j-1 and j on
 * entry, j and j+1 on exit; fz likewise between slabs s-1, s and s, s+1. */
ALWAYS_INLINE void NAME(row1_)(const real *restrict p, const real *restrict py,
                              const real *restrict pz, real *restrict fy,
                              real *restrict fz, real *restrict fx, real *restrict out,
                              const NAME(geom_) *gm, const int kind, const int unit,
                              const int three_d) {
    const int64_t n2 = gm->n2;
    const real dt = gm->dt;
    const NAME(face_) f0 = NAME(face_of_)(gm, 0), f1 = NAME(face_of_)(gm, 1);
    const NAME(face_) f2 = NAME(face_of_)(gm, 2);
    /* x-faces 0 .. n2-2 in whole vectors; the last vector overlaps the one before it
     * (recomputing a few faces) rather than leaving a scalar remainder. */
    enum { VL = 64 / sizeof(real) };
    if (n2 - 1 >= VL) {
        for (int64_t x0 = 0; x0 < n2 - 1; x0 += VL) {
            const int64_t b = x0 + VL <= n2 - 1 ? x0 : n2 - 1 - VL;
            #pragma omp simd
            for (int64_t k = 0; k < VL; k++)
                fx[b + k + 1] = NAME(flux_)(p[b + k + 1] - p[b + k], f2, kind, unit);
        }
    } else {
        for (int64_t x = 0; x < n2 - 1; x++)
            fx[x + 1] = NAME(flux_)(p[x + 1] - p[x], f2, kind, unit);
    }
    #pragma omp simd
    for (int64_t x = 0; x < n2; x++) {
        const real u = p[x];
        real upd = NAME(zpair_)(u, pz, fz, x, f0, kind, unit);
        if (three_d) {
            const real fyn = NAME(flux_)(py[x] - u, f1, kind, unit);
            upd = (upd + fyn) - fy[x];
            fy[x] = fyn;
        }
        upd = (upd + fx[x + 1]) - fx[x];
        out[x] = u + dt * upd;
    }
}

/* One row of one stage of "flux8" (2-D, single channel): as row1_ in 2-D, plus the
 * diagonal pairs (r, x)-(r+1, x+1) ("d") and (r, x)-(r+1, x-1) ("a") at distance hd, summed
 * after the axis pairs in the reference's order.  dnew[x+1] / anew[x+1]: fluxes out of
 * pixel x of this row into the next (0 where the pair does not exist); dprev / aprev: the
 * same for the row above, so pixel x receives dprev[x] (from x-1 above) and aprev[x+2]
 * (from x+1 above).  Both are n2+2 long with zero ends. */
ALWAYS_INLINE void NAME(row8_)(const real *restrict p, const real *restrict pz, int has_next,
                               real *restrict fz, real *restrict fx,
                               const real *restrict dprev, real *restrict dnew,
                               const real *restrict aprev, real *restrict anew,
                               real *restrict out, const NAME(geom_) *gm, const int kind,
                               const int unit) {
    const int64_t n2 = gm->n2;
    const real dt = gm->dt;
    const NAME(face_) f0 = NAME(face_of_)(gm, 0), f2 = NAME(face_of_)(gm, 2);
    const NAME(face_) fd = {gm->hd, gm->rhd, gm->kd, gm->rkd};
    #pragma omp simd
    for (int64_t x = 0; x < n2 - 1; x++)
        fx[x + 1] = NAME(flux_)(p[x + 1] - p[x], f2, kind, unit);
    dnew[0] = 0; dnew[n2] = 0; dnew[n2 + 1] = 0;
    anew[0] = 0; anew[1] = 0; anew[n2 + 1] = 0;
    if (has_next) {
        #pragma omp simd
        for (int64_t x = 0; x < n2 - 1; x++)
            dnew[x + 1] = NAME(flux_)(pz[x + 1] - p[x], fd, kind, 0);
        #pragma omp simd
        for (int64_t x = 1; x < n2; x++)
            anew[x + 1] = NAME(flux_)(pz[x - 1] - p[x], fd, kind, 0);
    } else {
        memset(dnew, 0, (n2 + 2) * sizeof(real));
        memset(anew, 0, (n2 + 2) * sizeof(real));
    }
    #pragma omp simd
    for (int64_t x = 0; x < n2; x++) {
        const real u = p[x];
        real upd = NAME(zpair_)(u, pz, fz, x, f0, kind, unit);
        upd = (upd + fx[x + 1]) - fx[x];
        upd = (upd + dnew[x + 1]) - dprev[x];
        upd = (upd + anew[x + 1]) - aprev[x + 2];
        out[x] = u + dt * upd;
    }
}

ALWAYS_INLINE void NAME(rows1_)(NAME(view_) P, const NAME(view_) *N, real *FZ, int64_t fzr0,
                               NAME(view_) O, int64_t lo, int64_t hi, const NAME(geom_) *gm,
                               const int kind, const int unit, real *DG, int64_t s, real *ws) {
    const int64_t n1 = gm->n1, n2 = gm->n2;
    real *fx = ws, *fy = ws + n2 + 1;
    fx[0] = 0; fx[n2] = 0;
    if (n1 == 1) { /* 2-D */
        const real *p = NAME(row_)(P, 0, 0, n2);
        real *fz = FZ + (0 - fzr0) * n2, *out = NAME(row_)(O, 0, 0, n2);
        const real *pz = N ? NAME(row_)(*N, 0, 0, n2) : p;
        if (gm->eight) {
            /* DG: d for even rows, d for odd rows, a for even rows, a for odd rows */
            const int64_t w = n2 + 2, cur = s & 1, prev = cur ^ 1;
            NAME(row8_)(p, pz, N != NULL, fz, fx, DG + prev * w, DG + cur * w,
                        DG + (2 + prev) * w, DG + (2 + cur) * w, out, gm, kind, unit);
        } else {
            NAME(row1_)(p, p, pz, fy, fz, fx, out, gm, kind, unit, 0);
        }
        return;
    }
    if (lo > 0) { /* y-flux between rows lo-1 and lo (both in P by the halo cone) */
        const real *pa = NAME(row_)(P, 0, lo - 1, n2), *pb = NAME(row_)(P, 0, lo, n2);
        const NAME(face_) f1 = NAME(face_of_)(gm, 1);
        #pragma omp simd
        for (int64_t x = 0; x < n2; x++) fy[x] = NAME(flux_)(pb[x] - pa[x], f1, kind, unit);
    } else {
        memset(fy, 0, n2 * sizeof(real));
    }
    for (int64_t j = lo; j < hi; j++) {
        const real *p = NAME(row_)(P, 0, j, n2);
        const real *py = j + 1 < n1 ? NAME(row_)(P, 0, j + 1, n2) : p;
        const real *pz = N ? NAME(row_)(*N, 0, j, n2) : p;
        real *fz = FZ + (j - fzr0) * n2, *out = NAME(row_)(O, 0, j, n2);
        NAME(row1_)(p, py, pz, fy, fz, fx, out, gm, kind, unit, 1);
    }
}

/* d (diffs, per channel, n2 each) -> conductance g (n2) for one set of faces, coupled.
 * diff_c = d_c / h; g = cond(sum_c diff_c^2).  The diffs are replaced by diff_c. */
NOINLINE void NAME(gcoupled_)(real *restrict d, real *restrict g, int64_t len, int64_t stride,
                            int axis, const NAME(geom_) *gm, const int kind, const int unit) {
    const int64_t nc = gm->nc;
    const NAME(face_) fc = NAME(face_of_)(gm, axis);
    for (int64_t c = 0; c < nc; c++) {
        real *dc = d + c * stride;
        if (!unit) {
            #pragma omp simd
            for (int64_t x = 0; x < len; x++) dc[x] = NAME(div_)(dc[x], fc.h, fc.rh);
        }
        if (c == 0) {
            #pragma omp simd
            for (int64_t x = 0; x < len; x++) g[x] = dc[x] * dc[x];
        } else {
            #pragma omp simd
            for (int64_t x = 0; x < len; x++) g[x] = g[x] + dc[x] * dc[x];
        }
    }
    if (kind == G_EXP) {
        #pragma omp simd
        for (int64_t x = 0; x < len; x++) g[x] = NAME(cond_)(g[x], fc, G_EXP);
    } else if (kind == G_RATIONAL) {
        #pragma omp simd
        for (int64_t x = 0; x < len; x++) g[x] = NAME(cond_)(g[x], fc, G_RATIONAL);
    } else {
        #pragma omp simd
        for (int64_t x = 0; x < len; x++) g[x] = NAME(cond_)(g[x], fc, G_TUKEY);
    }
}

/* flux_c = g * diff_c (/ h), in place over the diffs. */
NOINLINE void NAME(fcoupled_)(real *restrict d, const real *restrict g, int64_t len,
                            int64_t stride, int axis, const NAME(geom_) *gm, const int unit) {
    const NAME(face_) fc = NAME(face_of_)(gm, axis);
    for (int64_t c = 0; c < gm->nc; c++) {
        real *dc = d + c * stride;
        #pragma omp simd
        for (int64_t x = 0; x < len; x++) {
            real f = g[x] * dc[x];
            dc[x] = unit ? f : NAME(div_)(f, fc.h, fc.rh);
        }
    }
}

/* Coupled fluxes through the faces between row ja of A and row jb of B (B = A's neighbour
 * along `axis`), every channel, into f (nc rows of n2): B - A, g of the joint magnitude,
 * then g * (B - A) (/ h); g is scratch (n2). */
ALWAYS_INLINE void NAME(cfaces_)(NAME(view_) A, int64_t ja, NAME(view_) B, int64_t jb, real *f, real *g,
                                 int axis, const NAME(geom_) *gm, const int kind, const int unit) {
    const int64_t n2 = gm->n2;
    for (int64_t c = 0; c < gm->nc; c++) {
        const real *pa = NAME(row_)(A, c, ja, n2), *pb = NAME(row_)(B, c, jb, n2);
        #pragma omp simd
        for (int64_t x = 0; x < n2; x++) f[c * n2 + x] = pb[x] - pa[x];
    }
    NAME(gcoupled_)(f, g, n2, n2, axis, gm, kind, unit);
    NAME(fcoupled_)(f, g, n2, n2, axis, gm, unit);
}

/* One slab of one stage with nc coupled channels (phased loops over L1-resident rows).
 * ws: g (n2) + fx (nc*(n2+1)) + fyn (nc*n2) + fzn (nc*n2) + fy (nc*n2). */
NOINLINE void NAME(rowsc_)(NAME(view_) P, const NAME(view_) *N, real *FZ, int64_t fzr0,
                               int64_t fzcs, NAME(view_) O, int64_t lo, int64_t hi,
                               const NAME(geom_) *gm, const int kind, const int unit,
                               real *ws) {
    const int64_t n1 = gm->n1, n2 = gm->n2, nc = gm->nc;
    const int three_d = n1 > 1;
    real *g = ws, *fx = g + n2, *fyn = fx + nc * (n2 + 1), *fzn = fyn + nc * n2;
    real *fy = fzn + nc * n2;
    const real dt = gm->dt;
    if (three_d && lo > 0) {
        NAME(cfaces_)(P, lo - 1, P, lo, fy, g, 1, gm, kind, unit);
    } else {
        memset(fy, 0, nc * n2 * sizeof(real));
    }
    for (int64_t j = lo; j < hi; j++) {
        const int has_y = three_d && j + 1 < n1;
        /* x faces: fx[c*(n2+1) + x + 1] */
        for (int64_t c = 0; c < nc; c++) {
            const real *p = NAME(row_)(P, c, j, n2);
            real *f = fx + c * (n2 + 1);
            f[0] = 0; f[n2] = 0;
            #pragma omp simd
            for (int64_t x = 0; x < n2 - 1; x++) f[x + 1] = p[x + 1] - p[x];
        }
        NAME(gcoupled_)(fx + 1, g, n2 - 1, n2 + 1, 2, gm, kind, unit);
        NAME(fcoupled_)(fx + 1, g, n2 - 1, n2 + 1, 2, gm, unit);
        if (has_y) {
            NAME(cfaces_)(P, j, P, j + 1, fyn, g, 1, gm, kind, unit);
        } else {
            memset(fyn, 0, nc * n2 * sizeof(real));
        }
        if (N) {
            NAME(cfaces_)(P, j, *N, j, fzn, g, 0, gm, kind, unit);
        } else {
            memset(fzn, 0, nc * n2 * sizeof(real));
        }
        for (int64_t c = 0; c < nc; c++) {
            const real *p = NAME(row_)(P, c, j, n2);
            real *out = NAME(row_)(O, c, j, n2), *fz = FZ + c * fzcs + (j - fzr0) * n2;
            const real *f = fx + c * (n2 + 1), *zn = fzn + c * n2, *yn = fyn + c * n2;
            real *yo = fy + c * n2;
            #pragma omp simd
            for (int64_t x = 0; x < n2; x++) {
                real upd = zn[x] - fz[x];
                fz[x] = zn[x];
                if (three_d) { upd = (upd + yn[x]) - yo[x]; yo[x] = yn[x]; }
                upd = (upd + f[x + 1]) - f[x];
                out[x] = p[x] + dt * upd;
            }
        }
    }
}

/* FZ = z-fluxes between slabs A (s-1) and B (s) over rows [lo, hi).  Once per block and
 * stage, so one generic copy (runtime kind, the division by h always done: same bits). */
NOINLINE void NAME(zflux_)(NAME(view_) A, NAME(view_) B, real *FZ, int64_t fzr0,
                               int64_t fzcs, int64_t lo, int64_t hi, const NAME(geom_) *gm,
                               const int kind, real *DG, int64_t s, real *ws) {
    const int64_t n2 = gm->n2, nc = gm->nc;
    if (gm->eight) { /* the diagonal fluxes out of row s-1 (A) into row s (B) */
        const real *pa = NAME(row_)(A, 0, 0, n2), *pb = NAME(row_)(B, 0, 0, n2);
        const int64_t w = n2 + 2, prev = (s & 1) ^ 1;
        real *d = DG + prev * w, *a = DG + (2 + prev) * w;
        const NAME(face_) fd = {gm->hd, gm->rhd, gm->kd, gm->rkd};
        memset(d, 0, w * sizeof(real));
        memset(a, 0, w * sizeof(real));
        for (int64_t x = 0; x < n2; x++) {
            const real dd = x + 1 < n2 ? pb[x + 1] - pa[x] : 0, da = x > 0 ? pb[x - 1] - pa[x] : 0;
            real fdd, fda;
            if (kind == G_EXP) { fdd = NAME(flux_)(dd, fd, G_EXP, 0); fda = NAME(flux_)(da, fd, G_EXP, 0); }
            else if (kind == G_RATIONAL) { fdd = NAME(flux_)(dd, fd, G_RATIONAL, 0); fda = NAME(flux_)(da, fd, G_RATIONAL, 0); }
            else { fdd = NAME(flux_)(dd, fd, G_TUKEY, 0); fda = NAME(flux_)(da, fd, G_TUKEY, 0); }
            if (x + 1 < n2) d[x + 1] = fdd;
            if (x > 0) a[x + 1] = fda;
        }
    }
    for (int64_t j = lo; j < hi; j++) {
        if (nc == 1) {
            const real *pa = NAME(row_)(A, 0, j, n2), *pb = NAME(row_)(B, 0, j, n2);
            real *fz = FZ + (j - fzr0) * n2;
            const NAME(face_) f0 = NAME(face_of_)(gm, 0);
            for (int64_t x = 0; x < n2; x++) {
                const real d = pb[x] - pa[x];
                fz[x] = kind == G_EXP ? NAME(flux_)(d, f0, G_EXP, 0)
                        : kind == G_RATIONAL ? NAME(flux_)(d, f0, G_RATIONAL, 0)
                        : NAME(flux_)(d, f0, G_TUKEY, 0);
            }
            continue;
        }
        real *d = ws + n2;
        for (int64_t c = 0; c < nc; c++) {
            const real *pa = NAME(row_)(A, c, j, n2), *pb = NAME(row_)(B, c, j, n2);
            for (int64_t x = 0; x < n2; x++) d[c * n2 + x] = pb[x] - pa[x];
        }
        NAME(gcoupled_)(d, ws, n2, n2, 0, gm, kind, 0);
        NAME(fcoupled_)(d, ws, n2, n2, 0, gm, 0);
        for (int64_t c = 0; c < nc; c++)
            memcpy(FZ + c * fzcs + (j - fzr0) * n2, d + c * n2, n2 * sizeof(real));
    }
}

/* One pass of `depth` steps over one block [a0, a1) x [b0, b1) of group `grp`. */
ALWAYS_INLINE void NAME(block_)(const real *src, real *dst, int64_t grp, int64_t a0,
                               int64_t a1, int64_t b0, int64_t b1, int depth,
                               const NAME(geom_) *gm, const int kind, const int unit,
                               real *work) {
    const int64_t n0 = gm->n0, n1 = gm->n1, n2 = gm->n2, nc = gm->nc;
    const int T = depth;
    const int64_t L0 = b0 - T > 0 ? b0 - T : 0, H0 = b1 + T < n1 ? b1 + T : n1;
    const int64_t ext = H0 - L0, slab = nc * ext * n2, vol = n0 * n1 * n2;
    const real *gsrc = src + grp * nc * vol;
    real *gdst = dst + grp * nc * vol;
    /* work: per stage an FZ slab, per stage but the last a ring of 3 slabs, per stage the
     * flux8 diagonal rows (4 of n2+2, only with gm->eight), then row buffers */
    real *fzs = work, *ring = work + (int64_t)T * slab;
    real *dgs = ring + (int64_t)(T - 1) * 3 * slab;
    real *ws = dgs + (gm->eight ? (int64_t)T * 4 * (n2 + 2) : 0);
    int64_t lo[65], hi[65], A[65], B[65];
    for (int t = 0; t <= T; t++) {
        const int64_t m = T - t;
        lo[t] = b0 - m > 0 ? b0 - m : 0; hi[t] = b1 + m < n1 ? b1 + m : n1;
        A[t] = a0 - m > 0 ? a0 - m : 0; B[t] = a1 + m < n0 ? a1 + m : n0;
    }
    for (int64_t i = A[0]; i < B[T] + T; i++) {
        for (int t = 1; t <= T; t++) {
            const int64_t s = i - t;
            if (s < A[t] || s >= B[t]) continue;
            NAME(view_) P, N, O, Q;
            if (t == 1) { /* step 0: the source itself */
                P.p = (real *)gsrc + s * n1 * n2 + L0 * n2; P.cs = vol; P.r0 = L0;
                N = P; N.p = P.p + n1 * n2;
                Q = P; Q.p = P.p - n1 * n2;
            } else {
                real *rb = ring + (int64_t)(t - 2) * 3 * slab;
                P.p = rb + (s % 3) * slab; P.cs = ext * n2; P.r0 = L0;
                N = P; N.p = rb + ((s + 1) % 3) * slab;
                Q = P; Q.p = rb + ((s + 2) % 3) * slab; /* slab s-1 */
            }
            if (t == T) {
                O.p = gdst + s * n1 * n2 + L0 * n2; O.cs = vol; O.r0 = L0;
            } else {
                O.p = ring + (int64_t)(t - 1) * 3 * slab + (s % 3) * slab;
                O.cs = ext * n2; O.r0 = L0;
            }
            real *FZ = fzs + (int64_t)(t - 1) * slab;
            real *DG = gm->eight ? dgs + (int64_t)(t - 1) * 4 * (n2 + 2) : NULL;
            if (s == A[t]) {
                if (s > 0) {
                    NAME(zflux_)(Q, P, FZ, L0, ext * n2, lo[t], hi[t], gm, kind, DG, s, ws);
                } else {
                    memset(FZ, 0, slab * sizeof(real));
                    if (DG) memset(DG, 0, 4 * (n2 + 2) * sizeof(real));
                }
            }
            const NAME(view_) *np = s + 1 < n0 ? &N : NULL;
            if (nc == 1) NAME(rows1_)(P, np, FZ, L0, O, lo[t], hi[t], gm, kind, unit, DG, s, ws);
            else NAME(rowsc_)(P, np, FZ, L0, ext * n2, O, lo[t], hi[t], gm, kind, unit, ws);
        }
    }
}

static int64_t NAME(work_size_)(const NAME(geom_) *gm, int depth, int64_t tile1) {
    const int64_t ext = tile1 + 2 * (int64_t)depth < gm->n1 ? tile1 + 2 * depth : gm->n1;
    const int64_t slab = gm->nc * ext * gm->n2;
    return (int64_t)depth * slab + (int64_t)(depth - 1) * 3 * slab
           + (gm->eight ? (int64_t)depth * 4 * (gm->n2 + 2) : 0)
           + (5 * gm->nc + 3) * (gm->n2 + 1) + 64;
}

/* The specialised copies of a block, one function each (smaller functions build faster). */
#define PM_BLOCK_COPY(NAME_, K, U)                                                           \
    NOINLINE void NAME(NAME_)(const real *src, real *dst, int64_t grp, int64_t a0, int64_t a1,  \
                              int64_t b0, int64_t b1, int depth, const NAME(geom_) *gm,       \
                              real *work) {                                                   \
        NAME(block_)(src, dst, grp, a0, a1, b0, b1, depth, gm, K, U, work);                  \
    }
PM_BLOCK_COPY(block_exp_, G_EXP, 0)
PM_BLOCK_COPY(block_rational_, G_RATIONAL, 0)
PM_BLOCK_COPY(block_tukey_, G_TUKEY, 0)
#if PM_UNIT_COPY
PM_BLOCK_COPY(block_exp_unit_, G_EXP, 1)
PM_BLOCK_COPY(block_rational_unit_, G_RATIONAL, 1)
PM_BLOCK_COPY(block_tukey_unit_, G_TUKEY, 1)
#endif
#undef PM_BLOCK_COPY

/* One block, dispatched to a copy of the loops specialised for kind (and unit spacing).
 * (The dispatch sits in the block: the pool calls pass_run_ through a pointer, so
 * constants passed to pass_ would not reach the loops.)
 * Unit spacing skips 3 divisions by h = 1 per face (exact either way: the generic copy
 * gives the same bits); only float gets that copy, to keep the build short. */
static void NAME(block_any_)(const real *src, real *dst, int64_t grp, int64_t a0, int64_t a1,
                             int64_t b0, int64_t b1, int depth, const NAME(geom_) *gm,
                             int kind, int unit, real *work) {
#define PM_ARGS src, dst, grp, a0, a1, b0, b1, depth, gm, work
#if PM_UNIT_COPY
    if (unit) {
        if (kind == G_EXP) NAME(block_exp_unit_)(PM_ARGS);
        else if (kind == G_RATIONAL) NAME(block_rational_unit_)(PM_ARGS);
        else NAME(block_tukey_unit_)(PM_ARGS);
        return;
    }
#endif
    (void)unit;
    if (kind == G_EXP) NAME(block_exp_)(PM_ARGS);
    else if (kind == G_RATIONAL) NAME(block_rational_)(PM_ARGS);
    else NAME(block_tukey_)(PM_ARGS);
#undef PM_ARGS
}

/* One pass as a pm_pool.h loop: each thread's scratch is its work buffer, index w is block w. */
typedef struct {
    const real *src;
    real *dst;
    const NAME(geom_) *gm;
    int64_t nb0, nb1, band0, tile1, nwork;
    int depth, kind, unit;
} NAME(pass_job_);

static void *NAME(pass_init_)(void *ctx) {
    const NAME(pass_job_) *job = ctx;
    return aligned_alloc(64, ((job->nwork * sizeof(real) + 63) / 64) * 64);
}

static void NAME(pass_run_)(void *ctx, void *work, int64_t w) {
    const NAME(pass_job_) *job = ctx;
    const NAME(geom_) *gm = job->gm;
    const int64_t nb0 = job->nb0, nb1 = job->nb1, band0 = job->band0, tile1 = job->tile1;
    const int64_t grp = w / (nb0 * nb1), r = w % (nb0 * nb1);
    const int64_t a0 = (r / nb1) * band0, b0 = (r % nb1) * tile1;
    const int64_t a1 = a0 + band0 < gm->n0 ? a0 + band0 : gm->n0;
    const int64_t b1 = b0 + tile1 < gm->n1 ? b0 + tile1 : gm->n1;
    NAME(block_any_)(job->src, job->dst, grp, a0, a1, b0, b1, job->depth, gm, job->kind, job->unit, work);
}

static void NAME(pass_fini_)(void *work) { free(work); }

static void NAME(pass_)(const real *src, real *dst, int64_t groups, int depth, int64_t band0,
                        int64_t tile1, const NAME(geom_) *gm, int kind, int unit,
                        int nthreads, int *failed) {
    const int64_t nb0 = (gm->n0 + band0 - 1) / band0, nb1 = (gm->n1 + tile1 - 1) / tile1;
    NAME(pass_job_) job = {src, dst, gm, nb0, nb1, band0, tile1, NAME(work_size_)(gm, depth, tile1),
                           depth, kind, unit};
    const pm_loop loop = {NAME(pass_init_), NAME(pass_run_), NAME(pass_fini_), &job};
    if (pm_parallel_for(&loop, groups * nb0 * nb1, nthreads) != 0) *failed = 1;
}

/* shape: groups, nc, n0, n1, n2.  param: kappa divisor (kappa, or kappa*sqrt(2) for
 * tukey), dt, h0, h1, h2, hd (rounded to the array's precision here, as torch rounds a
 * Python float); eight: "flux8" (needs n1 == 1 and nc == 1: 2-D, one channel per group).
 * Runs `iterations` steps from src into dst; tmp (same size) is needed when iterations >
 * depth, else may be NULL.  src is never written (it may equal dst only when iterations
 * is 0).  Returns 0, -1 on bad arguments, -2 when out of memory. */
int NAME(pm_flux_)(const real *src, real *dst, real *tmp, const int64_t *shape,
                  const double *param, int kind, int eight, int iterations, int depth,
                  int64_t band0, int64_t tile1, int nthreads) {
    NAME(geom_) gm;
    const int64_t groups = shape[0];
    gm.nc = shape[1]; gm.n0 = shape[2]; gm.n1 = shape[3]; gm.n2 = shape[4];
    gm.kd = (real)param[0]; gm.rkd = (real)1 / gm.kd; gm.dt = (real)param[1];
    int unit = 1;
    for (int k = 0; k < 3; k++) {
        gm.h[k] = (real)param[2 + k]; gm.rh[k] = (real)1 / gm.h[k];
        if (gm.h[k] != (real)1) unit = 0;
    }
    gm.hd = (real)param[5]; gm.rhd = (real)1 / gm.hd;
    gm.eight = eight != 0;
    if (gm.eight && (gm.n1 != 1 || gm.nc != 1 || !(gm.hd > 0))) return -1;
    if (groups < 1 || gm.nc < 1 || gm.n0 < 1 || gm.n1 < 1 || gm.n2 < 1) return -1;
    if (kind < 0 || kind > 2 || iterations < 0 || depth < 1 || depth > 64) return -1;
    if (band0 < 1 || tile1 < 1 || nthreads < 1 || !(gm.kd > 0)) return -1;
    const int64_t total = groups * gm.nc * gm.n0 * gm.n1 * gm.n2;
    if (iterations == 0) {
        if (dst != src) memcpy(dst, src, total * sizeof(real));
        return 0;
    }
    const int passes = (iterations + depth - 1) / depth;
    if ((passes > 1 && !tmp) || dst == src) return -1;
    int failed = 0, done = 0;
    const real *from = src;
    for (int p = 0; p < passes && !failed; p++) {
        real *to = ((passes - 1 - p) % 2 == 0) ? dst : tmp;
        const int d = iterations - done < depth ? iterations - done : depth;
        NAME(pass_)(from, to, groups, d, band0, tile1, &gm, kind, unit, nthreads, &failed);
        done += d;
        from = to;
    }
    return failed ? -2 : 0;
}
#endif
