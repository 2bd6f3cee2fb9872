/* Custom messages of class host that the API core can answer: the host's
 * clock, its list of methods, and its free memory as the hypervisor has
 * it now. */
#include <stdlib.h>
#include <time.h>

#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/domains.h"

static struct api_error *get_servertime(struct call *c)
{
    char when[DATETIME_LEN];
    datetime_format(time(NULL), when);
    out_datetime(c->out, when);
    return NULL;
}

static struct api_error *get_server_localtime(struct call *c)
{
    char when[32];
    struct tm tm;
    time_t now = time(NULL);
    localtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y%m%dT%H:%M:%S", &tm);
    out_datetime(c->out, when);
    return NULL;
}

static struct api_error *list_methods(struct call *c)
{
    size_t n;
    const char *const *names = api_method_names(&n);
    out_array_begin(c->out);
    for (size_t i = 0; i < n; i++)
        out_string(c->out, names[i]);
    out_array_end(c->out);
    return NULL;
}

/* The memory a new domain could have now: domaind's answer, not the
 * metrics row, which trails it. */
static struct api_error *compute_free_memory(struct call *c)
{
    const struct row *h = NULL;
    json_object *info = NULL, *v;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, arg_str(c, 1), &h);
    bool here = !e && streq(h->ref, xapi_state.host_ref);
    db_unlock();
    if (!e && !here)
        e = api_fail(HOST_OFFLINE, arg_str(c, 1));
    if (!e)
        e = domains_call("", "host/info", NULL, 30, &info);
    if (!e)
        out_int(c->out,
                json_object_object_get_ex(info, "free_memory", &v) ? json_object_get_int64(v) : 0);
    json_object_put(info);
    return e;
}

void host_register(void);
void host_register(void)
{
    api_register(M_host_get_servertime, get_servertime);
    api_register(M_host_get_server_localtime, get_server_localtime);
    api_register(M_host_list_methods, list_methods);
    api_register(M_host_compute_free_memory, compute_free_memory);
}
