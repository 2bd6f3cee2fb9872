/* An example of the C SDK: logs in, lists the VMs with their power states,
 * then follows VM events with event.from and prints each one.
 *
 *   xen-list-vms <url> <user> <password> [<event batches> [<timeout s>]]
 *
 * After the list it prints "following events", then waits for up to
 * <event batches> batches that hold events (default 0: none), each wait
 * bounded by <timeout s> (default 30); it stops at the first empty wait. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <xen/api/xen_all.h>

#include "curl-transport.h"

static void print_error(const char *what, const xen_session *s)
{
    fprintf(stderr, "%s failed:", what);
    for (int i = 0; i < s->error_description_count; i++)
        fprintf(stderr, " %s", s->error_description[i]);
    fprintf(stderr, "\n");
}

static int list_vms(xen_session *s)
{
    xen_vm_xen_vm_record_map *all = NULL;
    if (!xen_vm_get_all_records(s, &all)) {
        print_error("VM.get_all_records", s);
        return -1;
    }
    for (size_t i = 0; i < all->size; i++) {
        const xen_vm_record *r = all->contents[i].val;
        if (r->is_a_template)
            continue;
        printf("vm %s %s %s\n", r->uuid, xen_vm_power_state_to_string(r->power_state),
               r->name_label);
    }
    xen_vm_xen_vm_record_map_free(all);
    return 0;
}

static int follow_events(xen_session *s, int batches, double timeout)
{
    xen_string_set *classes = xen_string_set_alloc(1);
    char *token = NULL;
    int r = 0;
    if (!classes)
        return -1;
    classes->contents[0] = strdup("vm");
    /* The first call, from "", only gives the token of the present. */
    xen_event_batch *b = NULL;
    char now[] = "";
    if (!xen_event_from(s, &b, classes, now, 0.0)) {
        print_error("event.from", s);
        xen_string_set_free(classes);
        return -1;
    }
    token = strdup(b->token);
    xen_event_batch_free(b);
    printf("following events\n");
    fflush(stdout);
    for (int n = 0; n < batches;) {
        if (!xen_event_from(s, &b, classes, token, timeout)) {
            print_error("event.from", s);
            r = -1;
            break;
        }
        free(token);
        token = strdup(b->token);
        size_t got = b->events ? b->events->size : 0;
        for (size_t i = 0; i < got; i++) {
            const xen_event_record *e = b->events->contents[i];
            printf("event %s %s %s\n", xen_event_operation_to_string(e->operation), e->XEN_CLAZZ,
                   e->ref);
        }
        fflush(stdout);
        xen_event_batch_free(b);
        if (got == 0)
            break; /* nothing happened within the timeout */
        n++;
    }
    free(token);
    xen_string_set_free(classes);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: %s <url> <user> <password> [<event batches> [<timeout s>]]\n",
                argv[0]);
        return 2;
    }
    int batches = argc > 4 ? atoi(argv[4]) : 0;
    double timeout = argc > 5 ? atof(argv[5]) : 30.0;

    xmlInitParser();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xen_init();
    struct curl_transport *t = curl_transport_new(argv[1], true);
    if (!t) {
        fprintf(stderr, "cannot set up libcurl\n");
        return 1;
    }
    xen_session *s = xen_session_login_with_password(curl_transport_call, t, argv[2], argv[3],
                                                     xen_api_latest_version);
    int r = 1;
    if (!s || !s->ok) {
        if (s)
            print_error("login", s);
    } else {
        printf("api version %s\n", xen_api_version_to_string(s->api_version));
        if (list_vms(s) == 0 && follow_events(s, batches, timeout) == 0)
            r = 0;
    }
    xen_session_logout(s);
    curl_transport_free(t);
    xen_fini();
    curl_global_cleanup();
    xmlCleanupParser();
    return r;
}
