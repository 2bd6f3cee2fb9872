/* host/dmesg and host/debug_keys (see hostctl.h): parameter checks and the
 * calls of the backend's console_read and debug_keys; and the console ring
 * of the sim backend. */
#include "hypervisor/hostctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hypervisor/backend.h"
#include "hypervisor/methods.h"
#include "lib/util.h"

#define MAX_KEYS 64

void console_ring_init(struct console_ring *r, size_t cap)
{
    pthread_mutex_init(&r->lock, NULL);
    r->buf = xmalloc(cap);
    r->cap = cap;
    r->start = 0;
    r->len = 0;
}

void console_ring_done(struct console_ring *r)
{
    free(r->buf);
    r->buf = NULL;
    pthread_mutex_destroy(&r->lock);
}

static void ring_put(struct console_ring *r, const char *s, size_t n)
{
    if (n >= r->cap) { /* only the tail of a line longer than the ring fits */
        s += n - r->cap;
        n = r->cap;
    }
    for (size_t i = 0; i < n; i++) {
        if (r->len == r->cap) { /* full: the oldest byte goes */
            r->start = (r->start + 1) % r->cap;
            r->len--;
        }
        r->buf[(r->start + r->len) % r->cap] = s[i];
        r->len++;
    }
}

void console_ring_printf(struct console_ring *r, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + 6, sizeof(line) - 7, fmt, ap);
    va_end(ap);
    memcpy(line, "(XEN) ", 6);
    size_t len = 6 + (n < 0 ? 0 : (size_t)n > sizeof(line) - 8 ? sizeof(line) - 8 : (size_t)n);
    line[len++] = '\n';
    pthread_mutex_lock(&r->lock);
    ring_put(r, line, len);
    pthread_mutex_unlock(&r->lock);
}

char *console_ring_read(struct console_ring *r, bool clear)
{
    pthread_mutex_lock(&r->lock);
    char *text = xmalloc(r->len + 1);
    for (size_t i = 0; i < r->len; i++)
        text[i] = r->buf[(r->start + i) % r->cap];
    text[r->len] = '\0';
    if (clear) {
        r->start = 0;
        r->len = 0;
    }
    pthread_mutex_unlock(&r->lock);
    return text;
}

bool hostctl_keys_valid(const char *keys)
{
    size_t n = strlen(keys);
    if (n == 0 || n > MAX_KEYS)
        return false;
    for (size_t i = 0; i < n; i++)
        if (keys[i] < 0x21 || keys[i] > 0x7e)
            return false;
    return true;
}

const struct jsonrpc_param hostctl_p_dmesg[] = {{"clear", JP_BOOL, false}, {0}};
const struct jsonrpc_param hostctl_p_debug_keys[] = {{"keys", JP_STRING, true}, {0}};

struct jsonrpc_error *hostctl_dmesg(json_object *params, json_object **ret_result, void *userdata)
{
    struct backend *b = userdata;
    json_object *v = NULL;
    bool clear = json_object_object_get_ex(params, "clear", &v) && json_object_get_boolean(v);
    char *text = NULL;

    if (!b->ops->console_read)
        return domaind_error_to_jsonrpc(
            dm_fail(DM_ERR_BACKEND_FAILURE, "this backend has no console ring"));
    struct dm_error *e = b->ops->console_read(b, clear, &text);
    if (e)
        return domaind_error_to_jsonrpc(e);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "text", json_object_new_string(text));
    free(text);
    *ret_result = o;
    return NULL;
}

struct jsonrpc_error *hostctl_debug_keys(json_object *params, json_object **ret_result,
                                         void *userdata)
{
    struct backend *b = userdata;
    json_object *v = NULL;
    json_object_object_get_ex(params, "keys", &v);
    const char *keys = json_object_get_string(v);

    if (!hostctl_keys_valid(keys))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS,
                                 "keys: 1 to %d printable characters expected", MAX_KEYS);
    if (!b->ops->debug_keys)
        return domaind_error_to_jsonrpc(
            dm_fail(DM_ERR_BACKEND_FAILURE, "this backend takes no debug keys"));
    struct dm_error *e = b->ops->debug_keys(b, keys);
    if (e)
        return domaind_error_to_jsonrpc(e);
    *ret_result = json_object_new_object();
    return NULL;
}
