/* Key files: the aggregator's key pair (secret, mode 0600) and public
 * keys for clients, as short text so they can be inspected and copied.
 *
 *   vktrain-keypair-1            vktrain-public-key-1
 *   public_key <64 hex digits>   public_key <64 hex digits>
 *   secret_key <64 hex digits>
 *
 * Files are untrusted input: size bounded, every line exact, and a
 * secret key must give its public key. Buffers that held a secret are
 * wiped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <vktrain/fed.h>

#include "runtime/rt_error.h"
#include "src/io/atomic_file.h"
#include "src/update/tensors.h"

#define KEYPAIR_MAGIC "vktrain-keypair-1"
#define PUBLIC_MAGIC "vktrain-public-key-1"
#define MAX_KEY_FILE 512
#define HEX_KEY (2 * VKT_KX_PUBLIC_KEY_BYTES)

static vkt_status write_key_file(const char *path, const char *text, mode_t mode)
{
    atomic_file af;
    vkt_status st = atomic_file_open(&af, path);
    if (st != VKT_OK)
        return st;
    /* Before any byte of the secret reaches the file. */
    if (fchmod(fileno(af.fp), mode) != 0) {
        int err = errno;
        atomic_file_abort(&af);
        return rt_error(VKT_ERR_IO, "cannot set the mode of '%s': %s", path, strerror(err));
    }
    if (fputs(text, af.fp) == EOF) {
        atomic_file_abort(&af);
        return rt_error(VKT_ERR_IO, "cannot write '%s'", path);
    }
    return atomic_file_commit(&af);
}

vkt_status vkt_keypair_save(const vkt_keypair *kp, const char *path)
{
    if (!kp || !path)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_keypair_save: NULL argument");
    char pk[HEX_KEY + 1], sk[HEX_KEY + 1], text[MAX_KEY_FILE];
    sodium_bin2hex(pk, sizeof pk, kp->public_key, sizeof kp->public_key);
    sodium_bin2hex(sk, sizeof sk, kp->secret_key, sizeof kp->secret_key);
    snprintf(text, sizeof text, KEYPAIR_MAGIC "\npublic_key %s\nsecret_key %s\n", pk, sk);
    vkt_status st = write_key_file(path, text, 0600);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(text, sizeof text);
    return st;
}

vkt_status vkt_public_key_save(const uint8_t public_key[VKT_KX_PUBLIC_KEY_BYTES], const char *path)
{
    if (!public_key || !path)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_public_key_save: NULL argument");
    char pk[HEX_KEY + 1], text[MAX_KEY_FILE];
    sodium_bin2hex(pk, sizeof pk, public_key, VKT_KX_PUBLIC_KEY_BYTES);
    snprintf(text, sizeof text, PUBLIC_MAGIC "\npublic_key %s\n", pk);
    return write_key_file(path, text, 0644);
}

/* Read a whole key file (at most MAX_KEY_FILE - 1 bytes) as a string;
 * *mode gets its permission bits. */
static vkt_status read_key_file(const char *path, char *buf, mode_t *mode)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return rt_error(VKT_ERR_IO, "cannot open key file '%s': %s", path, strerror(errno));
    struct stat st = {0};
    vkt_status status = VKT_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        status = rt_error(VKT_ERR_FORMAT, "key file '%s' is not a regular file", path);
    else if (st.st_size >= MAX_KEY_FILE)
        status = rt_error(VKT_ERR_FORMAT, "key file '%s' is too large (%lld bytes) to be a key file", path,
                          (long long)st.st_size);
    size_t got = 0;
    while (status == VKT_OK && got < MAX_KEY_FILE - 1) {
        ssize_t n = read(fd, buf + got, MAX_KEY_FILE - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            status = rt_error(VKT_ERR_IO, "cannot read key file '%s': %s", path, strerror(errno));
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    if (status == VKT_OK && strlen(buf) != got)
        status = rt_error(VKT_ERR_FORMAT, "key file '%s' holds a NUL byte", path);
    *mode = st.st_mode & 07777;
    return status;
}

/* "<label> <64 hex>\n" at *p into key; advances *p. */
static bool parse_key_line(const char **p, const char *label, uint8_t key[VKT_KX_PUBLIC_KEY_BYTES])
{
    size_t n = strlen(label);
    if (strncmp(*p, label, n) != 0 || (*p)[n] != ' ')
        return false;
    const char *hex = *p + n + 1;
    size_t len = 0;
    if (sodium_hex2bin(key, VKT_KX_PUBLIC_KEY_BYTES, hex, HEX_KEY, NULL, &len, NULL) != 0 ||
        len != VKT_KX_PUBLIC_KEY_BYTES || hex[HEX_KEY] != '\n')
        return false;
    *p = hex + HEX_KEY + 1;
    return true;
}

static bool parse_magic(const char **p, const char *magic)
{
    size_t n = strlen(magic);
    if (strncmp(*p, magic, n) != 0 || (*p)[n] != '\n')
        return false;
    *p += n + 1;
    return true;
}

static vkt_status parse_keypair(const char *path, const char *text, vkt_keypair *kp)
{
    const char *p = text;
    if (!parse_magic(&p, KEYPAIR_MAGIC) || !parse_key_line(&p, "public_key", kp->public_key) ||
        !parse_key_line(&p, "secret_key", kp->secret_key) || *p != '\0')
        return rt_error(VKT_ERR_FORMAT, "'%s' is not a vktrain key-pair file (" KEYPAIR_MAGIC ")", path);
    uint8_t derived[VKT_KX_PUBLIC_KEY_BYTES];
    if (crypto_scalarmult_base(derived, kp->secret_key) != 0 ||
        sodium_memcmp(derived, kp->public_key, sizeof derived) != 0)
        return rt_error(VKT_ERR_FORMAT, "key file '%s': the secret key does not belong to the public key", path);
    return VKT_OK;
}

vkt_status vkt_keypair_load(const char *path, vkt_keypair *out)
{
    if (!path || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_keypair_load: NULL argument");
    vkt_status st = upd_sodium_init();
    if (st != VKT_OK)
        return st;
    char text[MAX_KEY_FILE];
    mode_t mode = 0;
    vkt_keypair kp;
    st = read_key_file(path, text, &mode);
    if (st == VKT_OK)
        st = parse_keypair(path, text, &kp);
    if (st == VKT_OK && (mode & 077))
        st = rt_error(VKT_ERR_STATE, "key file '%s' may be read by others (mode %04o); chmod 600 it", path,
                      (unsigned)mode);
    if (st == VKT_OK)
        *out = kp;
    sodium_memzero(text, sizeof text);
    sodium_memzero(&kp, sizeof kp);
    return st;
}

vkt_status vkt_public_key_load(const char *path, uint8_t out[VKT_KX_PUBLIC_KEY_BYTES])
{
    if (!path || !out)
        return rt_error(VKT_ERR_INVALID_ARG, "vkt_public_key_load: NULL argument");
    char text[MAX_KEY_FILE];
    mode_t mode = 0;
    vkt_status st = read_key_file(path, text, &mode);
    if (st == VKT_OK && strncmp(text, KEYPAIR_MAGIC "\n", sizeof KEYPAIR_MAGIC) == 0) {
        vkt_keypair kp;
        st = upd_sodium_init();
        if (st == VKT_OK)
            st = parse_keypair(path, text, &kp);
        if (st == VKT_OK)
            memcpy(out, kp.public_key, VKT_KX_PUBLIC_KEY_BYTES);
        sodium_memzero(&kp, sizeof kp);
    } else if (st == VKT_OK) {
        const char *p = text;
        uint8_t pk[VKT_KX_PUBLIC_KEY_BYTES];
        if (!parse_magic(&p, PUBLIC_MAGIC) || !parse_key_line(&p, "public_key", pk) || *p != '\0')
            st = rt_error(VKT_ERR_FORMAT, "'%s' is not a vktrain public-key file (" PUBLIC_MAGIC ")", path);
        else
            memcpy(out, pk, VKT_KX_PUBLIC_KEY_BYTES);
    }
    sodium_memzero(text, sizeof text);
    return st;
}
