/* Custom messages of class host that the API core can answer: the host's
 * clock, its list of methods, its free memory as the hypervisor has it now
 * and its memory overhead, its TLS certificate, the hypervisor's console
 * (dmesg, debug keys, through domaind's host/ methods) and the host name,
 * changed live. The host's life (enable, disable, evacuate, reboot, ...)
 * is in host_power.c, its data sources in host_datasources.c.
 *
 * XENIA_HOSTNAME_COMMAND (environment, as main.c's settings) is the
 * command that sets the system's host name, given the name as its last
 * argument (default "hostnamectl set-hostname"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/api/host.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/domains.h"

LOG_MODULE("host");

/* The most bytes of certificate text read from the PEM file. */
#define MAX_PEM (1024 * 1024)

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

static struct api_error *compute_memory_overhead(struct call *c)
{
    const struct row *h = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, arg_str(c, 1), &h);
    if (!e)
        out_int(c->out, strtoll(h->v[FIDX(host, memory_overhead)], NULL, 10));
    db_unlock();
    return e;
}

/* Fails HOST_OFFLINE unless host is this host: another host's console is
 * its own to read (its calls would be forwarded to it). */
static struct api_error *here(const char *host)
{
    const struct row *h = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, host, &h);
    if (!e && !streq(h->ref, xapi_state.host_ref))
        e = api_fail(HOST_OFFLINE, host);
    db_unlock();
    return e;
}

/* The certificate blocks of xapi's PEM file (never its key). */
static struct api_error *get_server_certificate(struct call *c)
{
    struct api_error *e = here(arg_str(c, 1));
    if (e)
        return e;
    FILE *f = fopen(xapi_cfg.tls_pem, "re");
    if (!f)
        return api_failf(INTERNAL_ERROR, "cannot read the server certificate %s: %s",
                         xapi_cfg.tls_pem, strerror(errno));
    char *text = xmalloc(MAX_PEM + 1);
    size_t n = fread(text, 1, MAX_PEM, f);
    fclose(f);
    text[n] = '\0';
    struct strbuf sb;
    strbuf_init(&sb, 2048);
    const char *begin = "-----BEGIN CERTIFICATE-----", *end = "-----END CERTIFICATE-----";
    for (const char *p = strstr(text, begin), *q; p && (q = strstr(p, end)); p = strstr(q, begin)) {
        q += strlen(end);
        strbuf_add(&sb, p, (size_t)(q - p));
        strbuf_addc(&sb, '\n');
    }
    free(text);
    if (sb.len == 0)
        e = api_failf(INTERNAL_ERROR, "no certificate in %s", xapi_cfg.tls_pem);
    else
        out_string(c->out, sb.buf);
    strbuf_done(&sb);
    return e;
}

/* host/dmesg: the hypervisor's console ring, emptied after when clear. */
static struct api_error *read_console(struct call *c, bool clear)
{
    json_object *p, *res = NULL, *text;
    struct api_error *e = here(arg_str(c, 1));
    if (e)
        return e;
    p = json_object_new_object();
    json_object_object_add(p, "clear", json_object_new_boolean(clear));
    e = domains_call("", "host/dmesg", p, 30, &res);
    json_object_put(p);
    if (!e)
        out_string(c->out, json_object_object_get_ex(res, "text", &text)
                               ? json_object_get_string(text)
                               : "");
    json_object_put(res);
    return e;
}

static struct api_error *dmesg(struct call *c)
{
    return read_console(c, false);
}

static struct api_error *dmesg_clear(struct call *c)
{
    return read_console(c, true);
}

/* Xen takes printable characters as debug keys (`xl debug-keys`). */
static bool keys_valid(const char *keys)
{
    size_t n = strlen(keys);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (keys[i] < 0x21 || keys[i] > 0x7e)
            return false;
    return true;
}

static struct api_error *send_debug_keys(struct call *c)
{
    const char *keys = arg_str(c, 2);
    struct api_error *e = here(arg_str(c, 1));
    if (e)
        return e;
    if (!keys_valid(keys))
        return api_fail(INVALID_VALUE, "keys", keys);
    json_object *p = json_object_new_object();
    json_object_object_add(p, "keys", json_object_new_string(keys));
    e = domains_call("", "host/debug_keys", p, 30, NULL);
    json_object_put(p);
    if (!e)
        out_void(c->out);
    return e;
}

/* XCP's check: letters, digits, '-' and '.', no '-' at either end. */
static struct api_error *check_hostname(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return api_fail(HOST_NAME_INVALID, "hostname empty");
    if (n > 255)
        return api_fail(HOST_NAME_INVALID, "hostname is too long");
    bool ok = name[0] != '-' && name[n - 1] != '-';
    for (size_t i = 0; ok && i < n; i++) {
        char ch = name[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || ch == '.';
    }
    return ok ? NULL : api_fail(HOST_NAME_INVALID, "hostname contains invalid characters");
}

static struct api_error *set_hostname_live(struct call *c)
{
    const char *host = arg_str(c, 1), *name = arg_str(c, 2);
    struct api_error *e = here(host);
    if (!e)
        e = check_hostname(name);
    if (e)
        return e;
    const char *cmd = getenv("XENIA_HOSTNAME_COMMAND");
    int r = host_run_command(cmd && *cmd ? cmd : "hostnamectl set-hostname", name);
    if (r != 0)
        return api_failf(INTERNAL_ERROR, "the host name command failed (%d)", r);
    log_notice("host name set to %s", name);
    char *old_label = NULL, *new_label = xasprintf("Control domain on host: %s", name);
    struct changeset *cs = changeset_new();
    db_wrlock();
    const struct row *h = db_get(C_host, host), *vm;
    if (h) {
        old_label = xasprintf("Control domain on host: %s", h->v[FIDX(host, hostname)]);
        changeset_set(cs, C_host, host, FIDX(host, hostname), name);
        /* The control domain keeps the name it was given, unless it is the
         * one made from the host name (as XCP's update_domain_zero_name). */
        size_t it = 0;
        while (db_next(C_VM, &it, &vm))
            if (streq(vm->v[FIDX(VM, is_control_domain)], "true") &&
                streq(vm->v[FIDX(VM, resident_on)], host) &&
                streq(vm->v[FIDX(VM, name_label)], old_label))
                changeset_set(cs, C_VM, vm->ref, FIDX(VM, name_label), new_label);
        e = api_apply(cs);
    } else
        changeset_free(cs);
    db_unlock();
    free(old_label);
    free(new_label);
    if (!e)
        out_void(c->out);
    return e;
}

void host_power_register(void);
void host_datasources_register(void);
void host_register(void);
void host_register(void)
{
    host_power_register();
    host_datasources_register();
    api_register(M_host_compute_memory_overhead, compute_memory_overhead);
    api_register(M_host_get_server_certificate, get_server_certificate);
    api_register(M_host_dmesg, dmesg);
    api_register(M_host_dmesg_clear, dmesg_clear);
    api_register(M_host_send_debug_keys, send_debug_keys);
    api_register(M_host_set_hostname_live, set_hostname_live);
    api_register(M_host_get_servertime, get_servertime);
    api_register(M_host_get_server_localtime, get_server_localtime);
    api_register(M_host_list_methods, list_methods);
    api_register(M_host_compute_free_memory, compute_free_memory);
}
