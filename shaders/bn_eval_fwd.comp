#version 450
// RT_K_BN_EVAL_FWD: y = (x - running_mean) * gamma / sqrt(running_var + eps)
// + beta over x [N, C, HW]; with i[3] (from_batch_stats) args 3 and 4 are
// a training forward's saved mean and inverse std, and y = (x - mean) *
// (gamma * invstd) + beta as bn_train_fwd computed it. Geometry:
// ITEMS(N*C*HW).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Gamma { float gamma[]; };
layout(std430, set = 0, binding = 2) readonly buffer Beta { float beta[]; };
layout(std430, set = 0, binding = 3) readonly buffer RunningMean { float running_mean[]; };
layout(std430, set = 0, binding = 4) readonly buffer RunningVar { float running_var[]; };
layout(std430, set = 0, binding = 5) writeonly buffer Y { float y[]; };

void main()
{
    uint idx = item_index();
    uint C = uint(p.i[1]), HW = uint(p.i[2]);
    if (idx >= uint(p.i[0]) * C * HW)
        return;
    uint c = (idx / HW) % C;
    float g = gamma[arg_offset(1u) + c], v = running_var[arg_offset(4u) + c];
    float scale = p.i[3] != 0 ? g * v : g / sqrt(v + p.f[0]);
    y[arg_offset(5u) + idx] = (x[arg_offset(0u) + idx] - running_mean[arg_offset(3u) + c]) * scale
                              + beta[arg_offset(2u) + c];
}
