/* im2col and col2im against a direct reference, the adjoint identity
 * between them, and col2im's accum modes. */
#include "kernel_harness.h"

static void ref_im2col(const kh_conv_case *c, const float *x, double *col)
{
    int OH = kh_conv_out(c->H, c->KH, c->SH, c->PH, c->DH), OW = kh_conv_out(c->W, c->KW, c->SW, c->PW, c->DW);
    size_t at = 0;
    for (int b = 0; b < c->batch; b++)
        for (int ch = 0; ch < c->C; ch++)
            for (int kh = 0; kh < c->KH; kh++)
                for (int kw = 0; kw < c->KW; kw++)
                    for (int oh = 0; oh < OH; oh++)
                        for (int ow = 0; ow < OW; ow++, at++) {
                            int ih = oh * c->SH - c->PH + kh * c->DH, iw = ow * c->SW - c->PW + kw * c->DW;
                            bool in = ih >= 0 && ih < c->H && iw >= 0 && iw < c->W;
                            col[at] = in ? x[((b * c->C + ch) * c->H + ih) * c->W + iw] : 0.0;
                        }
}

static const kh_conv_case conv_cases[] = {
    {2, 3, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1},  /* same padding */
    {1, 2, 11, 8, 3, 2, 2, 3, 1, 0, 1, 1}, /* stride != kernel, rectangular */
    {2, 2, 9, 10, 3, 3, 2, 1, 2, 2, 2, 3}, /* dilation, big padding */
    {1, 1, 5, 5, 1, 1, 1, 1, 0, 0, 1, 1},  /* 1x1 */
    {1, 3, 4, 6, 5, 5, 1, 1, 2, 2, 1, 1},  /* kernel larger than half the input */
};

static void conv_sizes(const kh_conv_case *c, size_t *nx, size_t *ncol)
{
    int OH = kh_conv_out(c->H, c->KH, c->SH, c->PH, c->DH), OW = kh_conv_out(c->W, c->KW, c->SW, c->PW, c->DW);
    *nx = (size_t)c->batch * c->C * c->H * c->W;
    *ncol = (size_t)c->batch * c->C * c->KH * c->KW * OH * OW;
}

static void test_im2col_matches_reference(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof conv_cases / sizeof conv_cases[0]; k++) {
        const kh_conv_case *c = &conv_cases[k];
        size_t nx, ncol;
        conv_sizes(c, &nx, &ncol);
        float *x = kh_frand(nx, 10 + k, -1, 1), *col = kh_fzeros(ncol);
        kh_fill_nan(col, ncol);
        double *ref = kh_dzeros(ncol);
        ref_im2col(c, x, ref);
        kh_launch l = kh_make_launch(RT_K_IM2COL);
        kh_conv_params(&l.p, c);
        kh_bind(&l, 0, x, nx);
        kh_bind(&l, 1, col, ncol);
        kh_run(&l);
        kh_expect_close(col, ref, ncol, 0, "im2col");
    }
}

/* col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>. It
 * must also equal the explicit transpose, in both accum modes. */
static void test_col2im_is_adjoint_of_im2col(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof conv_cases / sizeof conv_cases[0]; k++) {
        const kh_conv_case *c = &conv_cases[k];
        size_t nx, ncol;
        conv_sizes(c, &nx, &ncol);
        float *x = kh_frand(nx, 20 + k, -1, 1), *cv = kh_frand(ncol, 30 + k, -1, 1);
        float *col = kh_fzeros(ncol), *dx = kh_fzeros(nx);

        kh_launch fwd = kh_make_launch(RT_K_IM2COL);
        kh_conv_params(&fwd.p, c);
        kh_bind(&fwd, 0, x, nx);
        kh_bind(&fwd, 1, col, ncol);
        kh_run(&fwd);
        kh_launch bwd = kh_make_launch(RT_K_COL2IM);
        kh_conv_params(&bwd.p, c);
        kh_bind(&bwd, 0, cv, ncol);
        kh_bind(&bwd, 1, dx, nx);
        kh_run(&bwd);

        double lhs = 0, rhs = 0;
        for (size_t i = 0; i < ncol; i++)
            lhs += (double)col[i] * cv[i];
        for (size_t i = 0; i < nx; i++)
            rhs += (double)x[i] * dx[i];
        kh_expect_close1(rhs, lhs, 1e-5, "adjoint identity");

        /* Explicit transpose: dx[j] = sum over i with im2col(e_j)[i] = 1. */
        double *ref = kh_dzeros(nx), *unit_col = kh_dzeros(ncol);
        float *unit = kh_fzeros(nx);
        for (size_t j = 0; j < nx; j++) {
            unit[j] = 1;
            ref_im2col(c, unit, unit_col);
            unit[j] = 0;
            for (size_t i = 0; i < ncol; i++)
                ref[j] += unit_col[i] * cv[i];
        }
        kh_check_both_modes(&bwd, 14, 1, nx, ref, 1e-6);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KH_TEST(test_im2col_matches_reference),
        KH_TEST(test_col2im_is_adjoint_of_im2col),
    };
    return cmocka_run_group_tests(tests, kh_group_setup, kh_group_teardown);
}
