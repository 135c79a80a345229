/* Codec settings: validation and the tools' text form. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "codec.h"
#include "encoder_internal.h"
#include "runtime/rt_error.h"

/* Cap on the noise's standard deviation (clip x noise), far below
 * FLT_MAX, so that noisy values stay finite. */
#define MAX_NOISE_SCALE 1e30

vkt_status upd_codec_check(const vkt_update_codec *c)
{
    if (!(c->topk_fraction >= 0.0f && c->topk_fraction <= 1.0f))
        return rt_error(VKT_ERR_INVALID_ARG, "update codec: topk_fraction %g outside [0, 1]", (double)c->topk_fraction);
    if (c->int8_block < 0 || c->int8_block > UPD_MAX_BLOCK)
        return rt_error(VKT_ERR_INVALID_ARG, "update codec: int8_block %d outside 0..%d", c->int8_block, UPD_MAX_BLOCK);
    if (c->zstd_level < 0 || c->zstd_level > ZSTD_maxCLevel())
        return rt_error(VKT_ERR_INVALID_ARG, "update codec: zstd_level %d outside 0..%d", c->zstd_level,
                        ZSTD_maxCLevel());
    if (!(isfinite(c->dp_clip) && c->dp_clip >= 0.0f))
        return rt_error(VKT_ERR_INVALID_ARG, "update codec: dp_clip %g must be finite and >= 0", (double)c->dp_clip);
    if (!(isfinite(c->dp_noise) && c->dp_noise >= 0.0f))
        return rt_error(VKT_ERR_INVALID_ARG, "update codec: dp_noise %g must be finite and >= 0", (double)c->dp_noise);
    if (c->dp_clip == 0.0f && c->dp_noise != 0.0f)
        return rt_error(VKT_ERR_INVALID_ARG, "update codec: dp_noise needs dp_clip > 0");
    if ((double)c->dp_clip * (double)c->dp_noise > MAX_NOISE_SCALE)
        return rt_error(VKT_ERR_INVALID_ARG, "update codec: dp_clip x dp_noise over %g", MAX_NOISE_SCALE);
    return VKT_OK;
}

static bool parse_float(const char *s, float *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v))
        return false;
    *out = (float)v;
    return true;
}

static bool parse_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 0 || v > 1 << 30)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_item(char *item, vkt_update_codec *c, bool *dense)
{
    char *eq = strchr(item, '=');
    char *value = eq ? eq + 1 : NULL;
    if (eq)
        *eq = '\0';
    if (strcmp(item, "dense") == 0 && !value)
        return *dense = true;
    if (strcmp(item, "ef") == 0 && !value)
        return c->error_feedback = true;
    if (!value)
        return false;
    if (strcmp(item, "topk") == 0)
        return parse_float(value, &c->topk_fraction) && c->topk_fraction > 0.0f && c->topk_fraction < 1.0f;
    if (strcmp(item, "topkmin") == 0) {
        int n;
        bool ok = parse_int(value, &n) && n > 0;
        c->topk_min_numel = (uint32_t)n;
        return ok;
    }
    if (strcmp(item, "int8") == 0)
        return parse_int(value, &c->int8_block) && c->int8_block > 0;
    if (strcmp(item, "zstd") == 0)
        return parse_int(value, &c->zstd_level) && c->zstd_level > 0;
    if (strcmp(item, "dp") == 0) {
        char *colon = strchr(value, ':');
        if (!colon)
            return false;
        *colon = '\0';
        return parse_float(value, &c->dp_clip) && parse_float(colon + 1, &c->dp_noise) && c->dp_clip > 0.0f;
    }
    return false;
}

vkt_status vkt_update_codec_parse(const char *text, vkt_update_codec *out)
{
    if (!text || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_update_codec_parse: NULL argument");
    char *copy = strdup(text);
    if (!copy)
        return rt_error(VKT_ERR_NO_MEMORY, "vkt_update_codec_parse: out of memory");
    vkt_update_codec c = {0};
    bool dense = false, ok = true;
    int items = 0;
    /* Split on commas by hand: an empty item (",," or a trailing comma)
     * is an error, where strtok would skip it. */
    for (char *item = copy; ok;) {
        items++;
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        ok = parse_item(item, &c, &dense);
        if (!comma)
            break;
        item = comma + 1;
    }
    free(copy);
    if (!ok || (dense && items != 1))
        return rt_error(VKT_ERR_INVALID_ARG,
                        "update codec '%s': expected items topk=FRAC, int8=BLOCK, zstd=LEVEL, ef, dp=CLIP:NOISE, "
                        "or dense alone",
                        text);
    vkt_status st = upd_codec_check(&c);
    if (st == VKT_OK)
        *out = c;
    return st;
}
