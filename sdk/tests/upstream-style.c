/* A program in the style of XenServer's own C SDK examples, written from
 * the SDK's documented API: its own curl call function, the XEN_CLAZZ
 * member, record_opt fields, VM sets and the error idiom. It must build
 * against this SDK with no change; run, it prints each VM with its
 * resident host and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libxml/parser.h>

#include <xen/api/xen_all.h>

static char *url;

typedef struct {
    xen_result_func func;
    void *handle;
} xen_comms;

static size_t write_func(void *ptr, size_t size, size_t nmemb, xen_comms *comms)
{
    size_t n = size * nmemb;
    return comms->func(ptr, n, comms->handle) ? n : 0;
}

static int call_func(const void *data, size_t len, void *user_handle, void *result_handle,
                     xen_result_func result_func)
{
    (void)user_handle;
    CURL *curl = curl_easy_init();
    if (!curl)
        return -1;
    xen_comms comms = {.func = result_func, .handle = result_handle};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_func);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &comms);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
    CURLcode result = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    return result;
}

static void print_error(xen_session *session)
{
    fprintf(stderr, "Error: ");
    for (int i = 0; i < session->error_description_count; i++)
        fprintf(stderr, "%s ", session->error_description[i]);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "Usage: %s <url> <username> <password>\n", argv[0]);
        return 1;
    }
    url = argv[1];
    xmlInitParser();
    xen_init();
    curl_global_init(CURL_GLOBAL_ALL);

    xen_session *session =
        xen_session_login_with_password(call_func, NULL, argv[2], argv[3], xen_api_latest_version);
    if (!session->ok) {
        print_error(session);
        xen_session_logout(session);
        return 1;
    }
    struct xen_vm_set *vms;
    if (!xen_vm_get_all(session, &vms)) {
        print_error(session);
        xen_session_logout(session);
        return 1;
    }
    for (size_t i = 0; i < vms->size; i++) {
        xen_vm_record *record;
        if (!xen_vm_get_record(session, &record, vms->contents[i])) {
            print_error(session);
            xen_session_clear_error(session);
            continue;
        }
        char *resident = NULL;
        if (record->resident_on && !record->resident_on->is_record)
            resident = record->resident_on->u.handle;
        printf("%s\t%s\t%s\t%d\n", record->uuid, xen_vm_power_state_to_string(record->power_state),
               resident ? resident : "-", (int)record->is_a_template);
        xen_vm_record_free(record);
    }
    xen_vm_set_free(vms);

    struct xen_string_set *classes = xen_string_set_alloc(1);
    classes->contents[0] = strdup("*");
    struct xen_event_batch *batch;
    char token[] = "";
    if (xen_event_from(session, &batch, classes, token, 0.0)) {
        printf("token %s events %zu\n", batch->token, batch->events->size);
        if (batch->events->size > 0)
            printf("first event class %s\n", batch->events->contents[0]->XEN_CLAZZ);
        xen_event_batch_free(batch);
    } else {
        print_error(session);
    }
    xen_string_set_free(classes);
    int ok = session->ok;
    xen_session_logout(session);
    curl_global_cleanup();
    xen_fini();
    xmlCleanupParser();
    return ok ? 0 : 1;
}
