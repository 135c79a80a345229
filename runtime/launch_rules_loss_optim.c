/* Launch rules: losses and optimizers (see launch_rules.h). */
#include "launch_rules.h"

void rules_softmax_ce_fwd(checker *c)
{
    int64_t N = dim(c, 0, "N", 1), C = dim(c, 1, "C", 1);
    frange(c, 0, "smoothing", 0, 1, false);
    arg(c, 0, "logits", ELEMS(c, N, C));
    arg(c, 1, "labels", N);
    arg(c, 2, "probs", ELEMS(c, N, C));
    scalars_arg(c, 3);
}

void rules_softmax_ce_bwd(checker *c)
{
    int64_t N = dim(c, 0, "N", 1), C = dim(c, 1, "C", 1);
    flag(c, 2, "accum");
    dim(c, 3, "mean_over", 0);
    frange(c, 0, "smoothing", 0, 1, false);
    arg(c, 0, "probs", ELEMS(c, N, C));
    arg(c, 1, "labels", N);
    arg(c, 2, "dlogits", ELEMS(c, N, C));
}

void rules_mse_fwd(checker *c)
{
    int64_t n = ELEMS(c, dim(c, 0, "N", 1), dim(c, 1, "D", 1));
    arg(c, 0, "pred", n);
    arg(c, 1, "target", n);
    scalars_arg(c, 2);
}

void rules_mse_bwd(checker *c)
{
    int64_t n = ELEMS(c, dim(c, 0, "N", 1), dim(c, 1, "D", 1));
    flag(c, 2, "accum");
    dim(c, 3, "mean_over", 0);
    arg(c, 0, "pred", n);
    arg(c, 1, "target", n);
    arg(c, 2, "dpred", n);
}

void rules_grad_norm(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    fnonneg(c, 0, "max_norm");
    arg(c, 0, "grads", n);
    scalars_arg(c, 1);
}

/* Ranges as torch.optim checks them. */
void rules_sgd(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    bool momentum = flag(c, 1, "has_momentum");
    bool nesterov = flag(c, 2, "nesterov");
    flag(c, 3, "use_clip");
    fnonneg(c, 0, "momentum");
    fnonneg(c, 1, "dampening");
    fnonneg(c, 2, "weight_decay");
    if (nesterov && !momentum)
        fail(c, "nesterov needs has_momentum");
    arg(c, 0, "param", n);
    arg(c, 1, "grad", n);
    if (momentum)
        arg(c, 2, "momentum_buf", n);
    else
        opt_arg(c, 2, "momentum_buf", n);
    scalars_arg(c, 3);
}

void rules_adamw(checker *c)
{
    int64_t n = dim(c, 0, "count", 0);
    flag(c, 1, "use_clip");
    frange(c, 0, "beta1", 0, 1, true);
    frange(c, 1, "beta2", 0, 1, true);
    fnonneg(c, 2, "eps");
    fnonneg(c, 3, "weight_decay");
    arg(c, 0, "param", n);
    arg(c, 1, "grad", n);
    arg(c, 2, "m", n);
    arg(c, 3, "v", n);
    scalars_arg(c, 4);
}
