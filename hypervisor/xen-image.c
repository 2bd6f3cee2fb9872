/* The header of the xen backend's suspend images (see xen-image.h): one
 * line "xenia-xen-image <version> <length>\n", then <length> bytes of JSON
 * {"config": {...}} holding domain/create's parameters. The reader takes
 * exactly the header's bytes, never more, since libxl's stream follows on
 * the same descriptor. */
#include "hypervisor/xen-image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/util.h"

/* The header line's most bytes: the magic, two numbers, blanks, newline. */
#define XEN_IMAGE_MAX_LINE 64

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads exactly len bytes; -EIO at an early end of file. */
static int read_all(int fd, char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int xen_image_write_header(int fd, const struct dm_config *cfg)
{
    json_object *root = json_object_new_object(), *c = json_object_new_object();
    size_t len;
    int r;

    dm_config_to_json(cfg, c);
    json_object_object_add(root, "config", c);
    const char *text = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, &len);
    _cleanup_free_ char *line = xasprintf("%s %d %zu\n", XEN_IMAGE_MAGIC, XEN_IMAGE_VERSION, len);
    if ((r = write_all(fd, line, strlen(line))) == 0)
        r = write_all(fd, text, len);
    json_object_put(root);
    return r;
}

static struct dm_error *not_image(const char *path, const char *why)
{
    return dm_failf(DM_ERR_BACKEND_FAILURE, "%s is not a suspend image of the xen backend: %s",
                    path, why);
}

struct dm_error *xen_image_read_header(int fd, const char *path, struct dm_config *ret)
{
    char line[XEN_IMAGE_MAX_LINE + 1];
    size_t n = 0;
    int r;

    /* A byte at a time up to the newline: nothing past the header may be
     * taken from the descriptor. */
    for (;;) {
        if (n == XEN_IMAGE_MAX_LINE)
            return not_image(path, "no header line");
        if ((r = read_all(fd, line + n, 1)) < 0) {
            if (r == -EIO)
                return not_image(path, "it ends before its header does");
            errno = -r;
            return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot read the image %s: %m", path);
        }
        if (line[n++] == '\n')
            break;
    }
    line[n - 1] = '\0';

    char magic[32], tail;
    int version;
    unsigned long long len;
    if (sscanf(line, "%31s %d %llu%c", magic, &version, &len, &tail) != 3 ||
        !streq(magic, XEN_IMAGE_MAGIC))
        return not_image(path, "no header line");
    if (version != XEN_IMAGE_VERSION)
        return not_image(path, "an unknown version");
    if (len == 0 || len > XEN_IMAGE_MAX_CONFIG)
        return not_image(path, "a configuration of a bad length");

    _cleanup_free_ char *text = xmalloc(len + 1);
    if ((r = read_all(fd, text, len)) < 0) {
        if (r == -EIO)
            return not_image(path, "it ends inside its configuration");
        errno = -r;
        return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot read the image %s: %m", path);
    }
    text[len] = '\0';

    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, text, (int)len), *c;
    bool whole = root && json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!whole || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "config", &c)) {
        json_object_put(root);
        return not_image(path, "its configuration is not valid JSON");
    }
    struct dm_error *e = dm_config_from_json(c, ret);
    json_object_put(root);
    if (e) {
        struct dm_error *bad = not_image(path, e->params[0]);
        dm_error_free(e);
        return bad;
    }
    return NULL;
}
