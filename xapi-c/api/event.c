/* Custom messages of class event: event.from on row generations and
 * tombstones, the legacy register/next/unregister, inject and
 * get_current_id (xenapi.md section 5). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/sessions.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"

LOG_MODULE("event");

#define DEFAULT_TIMEOUT (24 * 3600.0)

/* Classes that have events: every table but the secret-bearing ones. */
static bool has_events(int cls)
{
    return (model_classes[cls].flags & CF_DB) && cls != C_session && cls != C_user &&
           cls != C_secret;
}

struct objsub {
    int cls;
    char *ref;
};

struct subscription {
    bool want[C__COUNT];
    struct objsub *objs;
    size_t n_objs;
};

static void subscription_done(struct subscription *s)
{
    for (size_t i = 0; i < s->n_objs; i++)
        free(s->objs[i].ref);
    free(s->objs);
}

static struct api_error *subscription_add(struct subscription *s, const char *entry)
{
    if (streq(entry, "*")) {
        for (int c = 0; c < C__COUNT; c++)
            s->want[c] = has_events(c);
        return NULL;
    }
    const char *slash = strchr(entry, '/');
    char *cname = slash ? xstrndup(entry, (size_t)(slash - entry)) : xstrdup(entry);
    int cls = model_class_by_name(cname, true);
    free(cname);
    if (slash && (slash[1] == '\0'))
        return api_fail(EVENT_SUBSCRIPTION_PARSE_FAILURE, entry);
    /* Unknown classes are ignored, as xapi does. */
    if (cls < 0 || !has_events(cls))
        return NULL;
    if (!slash) {
        s->want[cls] = true;
        return NULL;
    }
    s->objs = xrealloc(s->objs, (s->n_objs + 1) * sizeof(*s->objs));
    s->objs[s->n_objs++] = (struct objsub){cls, xstrdup(slash + 1)};
    return NULL;
}

static struct api_error *subscription_parse(const char *set_text, struct subscription *s)
{
    struct strlist_iter it;
    const char *v;
    struct api_error *e = NULL;
    memset(s, 0, sizeof(*s));
    strlist_iter_init(&it, set_text);
    while (!e && strlist_iter_next(&it, NULL, &v))
        e = subscription_add(s, v);
    strlist_iter_done(&it);
    return e;
}

/* A token is "" or two decimal numbers joined by a comma, as xapi writes
 * them ("%020d,%020d"); the first is the database generation. */
static int parse_token(const char *t, int64_t *ret)
{
    if (!*t) {
        *ret = 0;
        return 0;
    }
    const char *comma = strchr(t, ',');
    if (!comma || comma == t || comma[1] == '\0' || strlen(comma + 1) > 20 || comma - t > 20)
        return -EINVAL;
    for (const char *p = t; *p; p++)
        if (p != comma && (*p < '0' || *p > '9'))
            return -EINVAL;
    errno = 0;
    long long a = strtoll(t, NULL, 10);
    (void)strtoll(comma + 1, NULL, 10);
    if (errno)
        return -EINVAL;
    *ret = a;
    return 0;
}

static void format_token(char out[48], int64_t gen)
{
    snprintf(out, 48, "%020" PRId64 ",%020d", gen, 0);
}

/* Collects the changes a subscription sees since a generation (db lock
 * held); object subscriptions of classes also wanted whole are skipped. */
static size_t collect(const struct subscription *s, int64_t since, struct db_event **ret)
{
    struct db_event *ev;
    size_t n = db_changes_since(since, s->want, NULL, &ev);
    for (size_t i = 0; i < s->n_objs; i++) {
        if (s->want[s->objs[i].cls])
            continue;
        bool one[C__COUNT] = {0};
        struct db_event *more;
        one[s->objs[i].cls] = true;
        size_t m = db_changes_since(since, one, s->objs[i].ref, &more);
        if (m) {
            ev = xrealloc(ev, (n + m) * sizeof(*ev));
            memcpy(ev + n, more, m * sizeof(*ev));
            n += m;
        }
        free(more);
    }
    *ret = ev;
    return n;
}

static const char *const op_names[] = {"add", "mod", "del"};

static void write_event(struct out *o, const struct db_event *e, const char *timestamp)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, e->gen);
    out_struct_begin(o);
    out_member(o, "id");
    out_string(o, id);
    out_member(o, "timestamp");
    out_string(o, timestamp);
    out_member(o, "class");
    out_string(o, model_classes[e->cls].lname);
    out_member(o, "operation");
    out_string(o, op_names[e->op]);
    out_member(o, "ref");
    out_string(o, e->ref);
    if (e->row) {
        out_member(o, "snapshot");
        api_write_record(o, e->row);
    }
    out_struct_end(o);
}

static struct api_error *from(struct call *c)
{
    struct subscription s;
    struct api_error *e;
    int64_t since;
    double timeout = arg_float(c, 3);

    if ((e = subscription_parse(arg_str(c, 1), &s)))
        return e;
    if (parse_token(arg_str(c, 2), &since) < 0) {
        subscription_done(&s);
        return api_fail(EVENT_FROM_TOKEN_PARSE_FAILURE, arg_str(c, 2));
    }
    if (!isfinite(timeout) || timeout < 0)
        timeout = DEFAULT_TIMEOUT;
    double deadline = now_monotonic() + timeout;

    for (;;) {
        struct db_event *ev;
        db_rdlock();
        int64_t gen = db_generation();
        size_t n = collect(&s, since, &ev);
        if (n > 0 || now_monotonic() >= deadline || api_stopping()) {
            char token[48];
            format_token(token, gen);
            out_struct_begin(c->out);
            out_member(c->out, "events");
            out_array_begin(c->out);
            for (size_t i = 0; i < n; i++)
                write_event(c->out, &ev[i], "0.0");
            out_array_end(c->out);
            out_member(c->out, "valid_ref_counts");
            out_struct_begin(c->out);
            for (int k = 0; k < C__COUNT; k++)
                if (has_events(k)) {
                    out_member(c->out, model_classes[k].lname);
                    out_i4(c->out, (int32_t)db_count(k));
                }
            out_struct_end(c->out);
            out_member(c->out, "token");
            out_string(c->out, token);
            out_struct_end(c->out);
            db_unlock();
            free(ev);
            break;
        }
        db_unlock();
        free(ev);
        if (!session_is_valid(c->session.ref)) {
            subscription_done(&s);
            return api_fail(SESSION_INVALID, c->session.ref);
        }
        db_wait_change(gen, deadline);
        if (!session_is_valid(c->session.ref)) {
            subscription_done(&s);
            return api_fail(SESSION_INVALID, c->session.ref);
        }
    }
    subscription_done(&s);
    return NULL;
}

static struct api_error *reg(struct call *c, bool add)
{
    struct strlist_iter it;
    const char *v;
    const char **list = NULL;
    size_t n = 0;
    strlist_iter_init(&it, arg_str(c, 1));
    while (strlist_iter_next(&it, NULL, &v)) {
        list = xrealloc(list, (n + 1) * sizeof(char *));
        list[n++] = xstrdup(v);
    }
    strlist_iter_done(&it);
    struct api_error *e = session_event_register(c->session.ref, list, n, add);
    for (size_t i = 0; i < n; i++)
        free((char *)list[i]);
    free(list);
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *do_register(struct call *c)
{
    return reg(c, true);
}

static struct api_error *do_unregister(struct call *c)
{
    return reg(c, false);
}

static struct api_error *next(struct call *c)
{
    char **classes;
    size_t n_classes;
    int64_t since;
    struct subscription s = {0};

    if (session_event_state(c->session.ref, &classes, &n_classes, &since) < 0) {
        /* xapi names the session by a hash, not the secret ref. */
        char track[48];
        unsigned h = 2166136261u;
        for (const char *p = c->session.ref; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        snprintf(track, sizeof(track), "trackid=%08x", h);
        return api_fail(SESSION_NOT_REGISTERED, track);
    }
    for (size_t i = 0; i < n_classes; i++) {
        subscription_add(&s, classes[i]);
        free(classes[i]);
    }
    free(classes);

    double deadline = now_monotonic() + DEFAULT_TIMEOUT;
    for (;;) {
        struct db_event *ev;
        db_rdlock();
        int64_t gen = db_generation();
        size_t n = collect(&s, since, &ev);
        if (n > 0) {
            char ts[32];
            snprintf(ts, sizeof(ts), "%.0f.", now_realtime());
            out_array_begin(c->out);
            for (size_t i = 0; i < n; i++)
                write_event(c->out, &ev[i], ts);
            out_array_end(c->out);
            db_unlock();
            free(ev);
            session_event_set_gen(c->session.ref, gen);
            break;
        }
        db_unlock();
        free(ev);
        db_wait_change(gen, deadline);
        if (!session_is_valid(c->session.ref)) {
            subscription_done(&s);
            return api_fail(SESSION_INVALID, c->session.ref);
        }
        if (now_monotonic() >= deadline || api_stopping()) {
            out_array_begin(c->out);
            out_array_end(c->out);
            break;
        }
    }
    subscription_done(&s);
    return NULL;
}

static struct api_error *inject(struct call *c)
{
    int cls = model_class_by_name(arg_str(c, 1), true);
    const char *ref = arg_str(c, 2);
    struct api_error *e = NULL;
    char token[48];

    db_wrlock();
    const struct row *r = cls >= 0 ? db_get(cls, ref) : NULL;
    if (!r)
        e = api_fail(HANDLE_INVALID, cls >= 0 ? model_classes[cls].name : arg_str(c, 1), ref);
    else {
        struct changeset *cs = changeset_new();
        changeset_touch(cs, cls, ref);
        int rc = db_apply(cs);
        changeset_free(cs);
        if (rc < 0)
            e = api_failf(INTERNAL_ERROR, "database: %s", strerror(-rc));
        format_token(token, db_generation());
    }
    db_unlock();
    if (!e)
        out_string(c->out, token);
    return e;
}

static struct api_error *get_current_id(struct call *c)
{
    db_rdlock();
    int64_t g = db_generation();
    db_unlock();
    out_int(c->out, g);
    return NULL;
}

void event_register(void);
void event_register(void)
{
    api_register(M_event_from, from);
    api_register(M_event_next, next);
    api_register(M_event_register, do_register);
    api_register(M_event_unregister, do_unregister);
    api_register(M_event_inject, inject);
    api_register(M_event_get_current_id, get_current_id);
}
