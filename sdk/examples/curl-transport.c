/* The examples' libcurl transport (curl-transport.h). */
#include "curl-transport.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct curl_transport {
    CURL *curl;
    struct curl_slist *headers;
};

struct sink {
    xen_result_func func;
    void *handle;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *userdata)
{
    struct sink *s = userdata;
    return s->func(ptr, size * n, s->handle) ? size * n : 0;
}

struct curl_transport *curl_transport_new(const char *url, bool insecure)
{
    struct curl_transport *t = calloc(1, sizeof(*t));
    if (!t || !(t->curl = curl_easy_init())) {
        free(t);
        return NULL;
    }
    t->headers = curl_slist_append(NULL, "Content-Type: text/xml");
    curl_easy_setopt(t->curl, CURLOPT_URL, url);
    curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(t->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    if (insecure) {
        curl_easy_setopt(t->curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(t->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return t;
}

void curl_transport_free(struct curl_transport *t)
{
    if (!t)
        return;
    curl_easy_cleanup(t->curl);
    curl_slist_free_all(t->headers);
    free(t);
}

int curl_transport_call(const void *data, size_t len, void *user_handle, void *result_handle,
                        xen_result_func result_func)
{
    struct curl_transport *t = user_handle;
    struct sink s = {result_func, result_handle};
    long status = 0;
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, &s);
    CURLcode rc = curl_easy_perform(t->curl);
    if (rc != CURLE_OK)
        return (int)rc;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    return status == 200 ? 0 : (int)status;
}
