/* Custom messages of class host that the API core can answer: the host's
 * clock and its list of methods. */
#include <stdlib.h>
#include <time.h>

#include "xapi-c/api.h"
#include "lib/util.h"

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

void host_register(void);
void host_register(void)
{
    api_register(M_host_get_servertime, get_servertime);
    api_register(M_host_get_server_localtime, get_server_localtime);
    api_register(M_host_list_methods, list_methods);
}
