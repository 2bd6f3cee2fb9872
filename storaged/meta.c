/* SR metadata: the JSON document on the media and its atomic writes (see
 * meta.h). json-c builds and parses the document; validation happens here
 * once, so the rest of storaged can trust a loaded sr_meta. */
#include "storaged/meta.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/strbuf.h"
#include "storaged/chain.h"

/* 9999-12-31T23:59:59Z, the last time a XenAPI datetime can write. */
#define MAX_DATETIME ((time_t)253402300799)

void sr_meta_init(struct sr_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->name_label = xstrdup("");
    m->name_description = xstrdup("");
    m->content_type = xstrdup("user");
}

void vdi_meta_done(struct vdi_meta *v)
{
    free(v->name_label);
    free(v->name_description);
    free(v->file);
    memset(v, 0, sizeof(*v));
}

void sr_meta_done(struct sr_meta *m)
{
    for (size_t i = 0; i < m->n_vdis; i++)
        vdi_meta_done(&m->vdis[i]);
    free(m->vdis);
    hashmap_done(&m->index);
    free(m->name_label);
    free(m->name_description);
    free(m->content_type);
    memset(m, 0, sizeof(*m));
}

void meta_set_str(char **s, const char *value)
{
    char *n = xstrdup(value);
    free(*s);
    *s = n;
}

bool meta_file_name_ok(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || name[0] == '.' || strchr(name, '/'))
        return false;
    return !(len >= 4 && streq(name + len - 4, ".tmp"));
}

/* Rebuilds the index from vdis[from] on: after they moved. */
static void reindex(struct sr_meta *m, size_t from)
{
    if (!m->index.slots)
        hashmap_init(&m->index);
    for (size_t i = from; i < m->n_vdis; i++)
        hashmap_put(&m->index, m->vdis[i].uuid, (void *)(uintptr_t)(i + 1));
}

struct vdi_meta *sr_meta_find(const struct sr_meta *m, const char *uuid)
{
    if (!m->index.slots)
        return NULL;
    uintptr_t pos = (uintptr_t)hashmap_get(&m->index, uuid);
    return pos ? &m->vdis[pos - 1] : NULL;
}

struct vdi_meta *sr_meta_add(struct sr_meta *m, const char *uuid)
{
    bool grown = false;

    if (m->n_vdis == m->cap_vdis) {
        m->cap_vdis = m->cap_vdis ? 2 * m->cap_vdis : 16;
        m->vdis = xrealloc(m->vdis, m->cap_vdis * sizeof(*m->vdis));
        /* The keys pointed into the old array: the index starts again. */
        hashmap_done(&m->index);
        grown = true;
    }
    struct vdi_meta *v = &m->vdis[m->n_vdis++];
    memset(v, 0, sizeof(*v));
    snprintf(v->uuid, sizeof(v->uuid), "%s", uuid);
    v->name_label = xstrdup("");
    v->name_description = xstrdup("");
    v->file = xasprintf("%s.qcow2", uuid);
    snprintf(v->format, sizeof(v->format), "qcow2");
    snprintf(v->snapshot_time, sizeof(v->snapshot_time), "19700101T00:00:00Z");
    v->managed = true;
    reindex(m, grown ? 0 : m->n_vdis - 1);
    return v;
}

void sr_meta_remove(struct sr_meta *m, const char *uuid)
{
    struct vdi_meta *v = sr_meta_find(m, uuid);

    if (!v)
        return;
    size_t i = (size_t)(v - m->vdis);
    /* Out of the index before the memmove changes what the keys point at. */
    for (size_t j = i; j < m->n_vdis; j++)
        hashmap_remove(&m->index, m->vdis[j].uuid);
    vdi_meta_done(v);
    memmove(&m->vdis[i], &m->vdis[i + 1], (m->n_vdis - i - 1) * sizeof(*v));
    m->n_vdis--;
    reindex(m, i);
}

/* ---- encoding ---- */

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static void add_bool(json_object *o, const char *k, bool v)
{
    json_object_object_add(o, k, json_object_new_boolean(v));
}

char *sr_meta_to_json(const struct sr_meta *m)
{
    json_object *o = json_object_new_object();
    json_object *vdis = json_object_new_array_ext((int)m->n_vdis);

    add_str(o, "format", SR_META_FORMAT);
    add_str(o, "uuid", m->uuid);
    add_str(o, "type", m->type);
    add_str(o, "name_label", m->name_label);
    add_str(o, "name_description", m->name_description);
    add_str(o, "content_type", m->content_type);
    add_bool(o, "shared", m->shared);
    for (size_t i = 0; i < m->n_vdis; i++) {
        const struct vdi_meta *v = &m->vdis[i];
        json_object *j = json_object_new_object();
        add_str(j, "uuid", v->uuid);
        add_str(j, "name_label", v->name_label);
        add_str(j, "name_description", v->name_description);
        json_object_object_add(j, "virtual_size", json_object_new_int64(v->virtual_size));
        add_str(j, "parent", v->parent);
        add_bool(j, "is_a_snapshot", v->is_a_snapshot);
        add_str(j, "snapshot_of", v->snapshot_of);
        add_str(j, "snapshot_time", v->snapshot_time);
        add_bool(j, "sharable", v->sharable);
        add_bool(j, "read_only", v->read_only);
        add_bool(j, "managed", v->managed);
        add_str(j, "file", v->file);
        add_str(j, "format", v->format);
        json_object_array_add(vdis, j);
    }
    json_object_object_add(o, "vdis", vdis);
    if (m->journal.op[0]) {
        json_object *j = json_object_new_object();
        add_str(j, "op", m->journal.op);
        add_str(j, "vdi", m->journal.vdi);
        add_str(j, "base", m->journal.base);
        add_str(j, "created", m->journal.created);
        json_object_object_add(o, "journal", j);
    } else {
        json_object_object_add(o, "journal", NULL);
    }
    char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

/* ---- decoding ---- */

struct reader {
    char *err; /* the first problem found */
};

static void fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct reader *r, const char *fmt, ...)
{
    va_list ap;

    if (r->err)
        return;
    va_start(ap, fmt);
    if (vasprintf(&r->err, fmt, ap) < 0)
        abort();
    va_end(ap);
}

static json_object *get(struct reader *r, json_object *o, const char *k, json_type t)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, t)) {
        fail(r, "field %s is missing or has the wrong type", k);
        return NULL;
    }
    return v;
}

static const char *get_s(struct reader *r, json_object *o, const char *k)
{
    json_object *v = get(r, o, k, json_type_string);
    return v ? json_object_get_string(v) : "";
}

static bool get_b(struct reader *r, json_object *o, const char *k)
{
    json_object *v = get(r, o, k, json_type_boolean);
    return v ? json_object_get_boolean(v) : false;
}

/* Copies a uuid field; "" is allowed when optional. */
static void get_uuid(struct reader *r, json_object *o, const char *k, bool optional,
                     char out[UUID_STR_LEN])
{
    const char *s = get_s(r, o, k);

    out[0] = '\0';
    if (optional && !*s)
        return;
    if (!uuid_is_valid(s)) {
        fail(r, "field %s is not a uuid", k);
        return;
    }
    for (size_t i = 0; i < UUID_STR_LEN; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
}

static void copy_small(struct reader *r, const char *s, char *out, size_t size, const char *k)
{
    if (strlen(s) >= size)
        fail(r, "field %s is too long", k);
    else
        memcpy(out, s, strlen(s) + 1);
}

static void read_vdi(struct reader *r, json_object *j, struct sr_meta *m)
{
    char uuid[UUID_STR_LEN];

    if (!json_object_is_type(j, json_type_object)) {
        fail(r, "%s", "a VDI entry is not an object");
        return;
    }
    get_uuid(r, j, "uuid", false, uuid);
    if (r->err)
        return;
    if (sr_meta_find(m, uuid)) {
        fail(r, "VDI %s appears twice", uuid);
        return;
    }
    struct vdi_meta *v = sr_meta_add(m, uuid);
    meta_set_str(&v->name_label, get_s(r, j, "name_label"));
    meta_set_str(&v->name_description, get_s(r, j, "name_description"));
    json_object *size = get(r, j, "virtual_size", json_type_int);
    v->virtual_size = size ? json_object_get_int64(size) : 0;
    if (v->virtual_size < 0)
        fail(r, "VDI %s has a negative size", uuid);
    get_uuid(r, j, "parent", true, v->parent);
    v->is_a_snapshot = get_b(r, j, "is_a_snapshot");
    get_uuid(r, j, "snapshot_of", true, v->snapshot_of);
    const char *t = get_s(r, j, "snapshot_time");
    time_t when;
    /* Only the years XenAPI datetimes can write back (four digits, from
     * 1970): the document must survive being written and read again. */
    if (datetime_parse(t, &when) < 0 || when < 0 || when > MAX_DATETIME)
        fail(r, "VDI %s has a bad snapshot_time", uuid);
    else
        datetime_format(when, v->snapshot_time);
    v->sharable = get_b(r, j, "sharable");
    v->read_only = get_b(r, j, "read_only");
    v->managed = get_b(r, j, "managed");
    meta_set_str(&v->file, get_s(r, j, "file"));
    if (!r->err && !meta_file_name_ok(v->file))
        fail(r, "VDI %s has a bad file name", uuid);
    const char *f = get_s(r, j, "format");
    if (!streq(f, "qcow2") && !streq(f, "raw") && !streq(f, "iso"))
        fail(r, "VDI %s has an unknown format", uuid);
    else
        copy_small(r, f, v->format, sizeof(v->format), "format");
}

int sr_meta_from_json(const char *text, struct sr_meta *ret, char **ret_err)
{
    struct reader r = {0};
    struct sr_meta m;
    json_object *o = json_tokener_parse(text);

    sr_meta_init(&m);
    if (!o || !json_object_is_type(o, json_type_object)) {
        fail(&r, "%s", "not a JSON object");
        goto out;
    }
    if (!streq(get_s(&r, o, "format"), SR_META_FORMAT)) {
        fail(&r, "%s", "not a " SR_META_FORMAT " document");
        goto out;
    }
    get_uuid(&r, o, "uuid", false, m.uuid);
    copy_small(&r, get_s(&r, o, "type"), m.type, sizeof(m.type), "type");
    meta_set_str(&m.name_label, get_s(&r, o, "name_label"));
    meta_set_str(&m.name_description, get_s(&r, o, "name_description"));
    meta_set_str(&m.content_type, get_s(&r, o, "content_type"));
    m.shared = get_b(&r, o, "shared");
    json_object *vdis = get(&r, o, "vdis", json_type_array);
    for (size_t i = 0; vdis && !r.err && i < json_object_array_length(vdis); i++)
        read_vdi(&r, json_object_array_get_idx(vdis, i), &m);
    json_object *j = NULL;
    if (json_object_object_get_ex(o, "journal", &j) && j) {
        if (!json_object_is_type(j, json_type_object)) {
            fail(&r, "%s", "the journal is not an object");
        } else {
            const char *op = get_s(&r, j, "op");
            if (!streq(op, "snapshot") && !streq(op, "clone") && !streq(op, "delete") &&
                !streq(op, "coalesce"))
                fail(&r, "unknown journal operation %s", op);
            else
                copy_small(&r, op, m.journal.op, sizeof(m.journal.op), "op");
            get_uuid(&r, j, "vdi", false, m.journal.vdi);
            get_uuid(&r, j, "base", true, m.journal.base);
            get_uuid(&r, j, "created", true, m.journal.created);
        }
    }
    if (!r.err) {
        _cleanup_free_ char *why = NULL;
        if (chain_validate(&m, &why) < 0)
            fail(&r, "%s", why);
    }
out:
    json_object_put(o);
    if (r.err) {
        sr_meta_done(&m);
        if (ret_err)
            *ret_err = r.err;
        else
            free(r.err);
        return -EBADMSG;
    }
    *ret = m;
    return 0;
}

/* ---- files ---- */

int sr_meta_load(const char *root, struct sr_meta *ret, char **ret_err)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", root, SR_META_FILE);
    struct strbuf sb;
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int r = 0;

    if (fd < 0)
        return -errno;
    strbuf_init(&sb, 4096);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        strbuf_add(&sb, buf, (size_t)n);
    }
    close(fd);
    if (r == 0)
        r = sr_meta_from_json(sb.buf, ret, ret_err);
    strbuf_done(&sb);
    return r;
}

static int write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

int sr_meta_save_begin(const char *root, const struct sr_meta *m)
{
    _cleanup_free_ char *tmp = xasprintf("%s/%s.tmp", root, SR_META_FILE);
    _cleanup_free_ char *text = sr_meta_to_json(m);
    int r, fd;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    r = write_all(fd, text, strlen(text));
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

int sr_meta_save_end(const char *root)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", root, SR_META_FILE);
    _cleanup_free_ char *tmp = xasprintf("%s/%s.tmp", root, SR_META_FILE);
    int r = 0, fd;

    fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        r = -errno;
    close(fd);
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) < 0)
            r = -errno;
        close(dfd);
    }
    return r;
}

int sr_meta_save(const char *root, const struct sr_meta *m)
{
    int r = sr_meta_save_begin(root, m);
    return r < 0 ? r : sr_meta_save_end(root);
}
